// The REST transport against a scripted fake API server: paths, queries, headers, bodies,
// errors, retries, watch streaming and cancellation, TLS (CA, client certificates,
// tls-server-name), rate limiting and metrics.
#include "kop/client/rest_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fake_api_server.h"
#include "kop/client/errors.h"

namespace kop::client {
namespace {

using testing::FakeApiServer;
using ::testing::HasSubstr;
using testing::Reply;
using testing::Request;
using testing::testdata;

const ResourceRef kPods{"", "v1", "pods", "", "default", ""};
const ResourceRef kIngresses{"networking.k8s.io", "v1", "ingresses", "", "web", ""};

std::string msg(const absl::Status& s) {
  return std::string(s.message());
}

Config plain_config(const FakeApiServer& s) {
  Config c;
  c.server = s.url();
  c.bearer_token = "t0ken";
  c.qps = 0;  // tests measure the limiter on purpose only
  return c;
}

RestClientOptions fast_retries() {
  RestClientOptions o;
  o.initial_backoff = absl::Milliseconds(10);
  o.max_backoff = absl::Milliseconds(50);
  return o;
}

std::shared_ptr<RestClient> make(const Config& c, RestClientOptions o = fast_retries()) {
  auto r = RestClient::create(c, std::move(o));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : nullptr;
}

Reply json(int code, std::string body) {
  Reply r;
  r.code = code;
  r.body = std::move(body);
  return r;
}

const char* kPod =
    R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","resourceVersion":"7"}})";

TEST(RestClient, GetPathsHeadersAndDecoding) {
  FakeApiServer server([](const Request&) { return json(200, kPod); });
  auto c = make(plain_config(server));
  auto pod = c->get(kPods.named("p"));
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ((*pod)->name(), "p");
  EXPECT_EQ((*pod)->resource_version(), "7");
  ASSERT_TRUE(c->get(kIngresses.named("web"), {.resource_version = "0"}).ok());
  // Cluster-scoped built-in resource: the namespace is ignored.
  ASSERT_TRUE(c->get(ResourceRef{"", "v1", "namespaces", "", "ignored", "kube-system"}).ok());
  ASSERT_TRUE(c->get_status(kIngresses.named("web")).ok());
  // Custom resource, cluster-scoped (no namespace given).
  ASSERT_TRUE(c->get(ResourceRef{"example.com", "v1alpha1", "widgets", "", "", "w"}).ok());

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/api/v1/namespaces/default/pods/p");
  EXPECT_EQ(reqs[0].header("accept"), "application/json");
  EXPECT_EQ(reqs[0].header("user-agent"), "kop/0.1.0");
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer t0ken");
  EXPECT_EQ(reqs[1].target,
            "/apis/networking.k8s.io/v1/namespaces/web/ingresses/web?resourceVersion=0");
  EXPECT_EQ(reqs[2].target, "/api/v1/namespaces/kube-system");
  EXPECT_EQ(reqs[3].target, "/apis/networking.k8s.io/v1/namespaces/web/ingresses/web/status");
  EXPECT_EQ(reqs[4].target, "/apis/example.com/v1alpha1/widgets/w");
}

TEST(RestClient, ListQueryAndItemTypes) {
  FakeApiServer server([](const Request&) {
    return json(200, R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42",
      "continue":"c2","remainingItemCount":3},"items":[{"metadata":{"name":"a"}},
      {"metadata":{"name":"b"}}]})");
  });
  auto c = make(plain_config(server));
  auto list = c->list(kPods, {.label_selector = "app in (web, api),tier!=db",
                              .field_selector = "status.phase=Running",
                              .limit = 2,
                              .continue_token = "c1",
                              .resource_version = "40",
                              .resource_version_match = ResourceVersionMatch::kNotOlderThan,
                              .timeout_seconds = 5});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->resource_version, "42");
  EXPECT_EQ(list->continue_token, "c2");
  EXPECT_EQ(list->remaining_item_count, 3);
  EXPECT_EQ(list->kind, "PodList");
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[1]->name(), "b");
  EXPECT_EQ(list->items[1]->api_version(), "v1");  // filled in from the list
  EXPECT_EQ(list->items[1]->kind(), "Pod");
  auto all = c->list(kPods.in(""));
  ASSERT_TRUE(all.ok());
  auto reqs = server.requests();
  EXPECT_EQ(reqs[0].path, "/api/v1/namespaces/default/pods");
  EXPECT_EQ(reqs[0].raw_query,
            "continue=c1&fieldSelector=status.phase%3DRunning&labelSelector=app+in+%28web%2C+api%29"
            "%2Ctier%21%3Ddb&limit=2&resourceVersion=40&resourceVersionMatch=NotOlderThan&"
            "timeoutSeconds=5");
  EXPECT_EQ(reqs[0].query.at("labelSelector"), "app in (web, api),tier!=db");
  EXPECT_EQ(reqs[1].target, "/api/v1/pods");  // all namespaces
  EXPECT_FALSE(c->list(kPods.named("x")).ok());
}

TEST(RestClient, WritesSendBodiesOptionsAndContentTypes) {
  FakeApiServer server([](const Request& r) {
    if (r.method == "DELETE" && r.path.ends_with("/gone"))
      return json(200, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success",
                          "details":{"name":"gone","kind":"pods"}})");
    if (r.method == "DELETE")
      return json(200, R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
                          "deletionTimestamp":"2026-01-01T00:00:00Z","finalizers":["x"]}})");
    return json(r.method == "POST" ? 201 : 200, kPod);
  });
  auto c = make(plain_config(server));
  auto pod = api::Object::parse(kPod);
  ASSERT_TRUE(pod.ok());
  ASSERT_TRUE(c->create(kPods, *pod, {.field_manager = "kop", .dry_run = true}).ok());
  ASSERT_TRUE(c->update(kPods, *pod).ok());  // name from the object
  ASSERT_TRUE(c->update_status(kPods.named("p"), *pod, {.field_manager = "st"}).ok());
  ASSERT_TRUE(
      c->patch(kPods.named("p"), PatchType::kJsonMerge, R"({"metadata":{"labels":{"a":"b"}}})")
          .ok());
  ASSERT_TRUE(
      c->patch(kPods.named("p"), PatchType::kJsonPatch, R"([{"op":"remove","path":"/x"}])").ok());
  ASSERT_TRUE(c->patch(kPods.named("p"), PatchType::kStrategicMerge, "{}").ok());
  ASSERT_TRUE(c->patch(kPods.named("p"), PatchType::kApply, "apiVersion: v1\nkind: Pod\n",
                       {.field_manager = "kop-ingress", .force = true})
                  .ok());
  ASSERT_TRUE(c->patch_status(kPods.named("p"), PatchType::kJsonMerge, "{}").ok());
  auto gone = c->remove(kPods.named("gone"), {.propagation_policy = PropagationPolicy::kForeground,
                                              .precondition_uid = "u-1",
                                              .precondition_resource_version = "9",
                                              .grace_period_seconds = 0});
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(*gone, nullptr);
  auto pending = c->remove(kPods.named("p"));
  ASSERT_TRUE(pending.ok());
  ASSERT_NE(*pending, nullptr);
  EXPECT_TRUE((*pending)->is_being_deleted());
  // Refused before sending.
  EXPECT_FALSE(c->patch(kPods.named("p"), PatchType::kApply, "{}").ok());  // no field manager
  EXPECT_FALSE(c->patch(kPods.named("p"), PatchType::kJsonMerge, "{}", {.force = true}).ok());

  auto r = server.requests();
  ASSERT_EQ(r.size(), 10u);
  EXPECT_EQ(r[0].method, "POST");
  EXPECT_EQ(r[0].target, "/api/v1/namespaces/default/pods?dryRun=All&fieldManager=kop");
  EXPECT_EQ(r[0].header("content-type"), "application/json");
  EXPECT_EQ(*api::Object::parse(r[0].body), *pod);
  EXPECT_EQ(r[1].method, "PUT");
  EXPECT_EQ(r[1].target, "/api/v1/namespaces/default/pods/p");
  EXPECT_EQ(r[2].target, "/api/v1/namespaces/default/pods/p/status?fieldManager=st");
  EXPECT_EQ(r[3].method, "PATCH");
  EXPECT_EQ(r[3].header("content-type"), "application/merge-patch+json");
  EXPECT_EQ(r[3].body, R"({"metadata":{"labels":{"a":"b"}}})");
  EXPECT_EQ(r[4].header("content-type"), "application/json-patch+json");
  EXPECT_EQ(r[5].header("content-type"), "application/strategic-merge-patch+json");
  EXPECT_EQ(r[6].header("content-type"), "application/apply-patch+yaml");
  EXPECT_EQ(r[6].target, "/api/v1/namespaces/default/pods/p?fieldManager=kop-ingress&force=true");
  EXPECT_EQ(r[7].target, "/api/v1/namespaces/default/pods/p/status");
  EXPECT_EQ(r[8].method, "DELETE");
  EXPECT_EQ(r[8].target, "/api/v1/namespaces/default/pods/gone");
  EXPECT_EQ(
      r[8].body,
      R"({"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0,)"
      R"("preconditions":{"uid":"u-1","resourceVersion":"9"},"propagationPolicy":"Foreground"})");
}

TEST(RestClient, ErrorsKeepTheStatus) {
  FakeApiServer server([](const Request& r) {
    if (r.path.ends_with("/missing"))
      return json(404, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"pods \"missing\" not found","reason":"NotFound","details":{"name":"missing",
        "kind":"pods"},"code":404})");
    if (r.method == "PUT")
      return json(409, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"Operation cannot be fulfilled on pods \"p\": the object has been modified",
        "reason":"Conflict","details":{"name":"p","kind":"pods"},"code":409})");
    if (r.method == "POST")
      return json(422, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"Ingress.networking.k8s.io \"web\" is invalid: spec.rules[0].http.paths[0].pathType: Required value",
        "reason":"Invalid","details":{"name":"web","group":"networking.k8s.io","kind":"Ingress",
        "causes":[{"reason":"FieldValueRequired","message":"Required value",
        "field":"spec.rules[0].http.paths[0].pathType"}]},"code":422})");
    if (r.query.count("watch") == 0 && r.query.count("resourceVersion"))
      return json(410, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"The provided continue parameter is too old","reason":"Expired","code":410})");
    Reply forbidden = json(403, "forbidden by a proxy");
    forbidden.content_type = "text/plain";
    return forbidden;
  });
  auto c = make(plain_config(server));
  auto nf = c->get(kPods.named("missing"));
  EXPECT_TRUE(is_not_found(nf.status()));
  EXPECT_EQ(msg(nf.status()), "pods \"missing\" not found");
  auto pod = api::Object::parse(kPod);
  auto cf = c->update(kPods, *pod);
  EXPECT_TRUE(is_conflict(cf.status()));
  auto inv = c->create(kIngresses, *pod);
  EXPECT_TRUE(is_invalid(inv.status()));
  ASSERT_EQ(causes_of(inv.status()).size(), 1u);
  EXPECT_EQ(causes_of(inv.status())[0].field, "spec.rules[0].http.paths[0].pathType");
  auto expired = c->list(
      kPods, {.resource_version = "1", .resource_version_match = ResourceVersionMatch::kExact});
  EXPECT_TRUE(is_gone(expired.status()));
  EXPECT_TRUE(is_resource_expired(expired.status()));
  auto fb = c->get(kPods.named("x"));
  EXPECT_TRUE(is_forbidden(fb.status()));
  EXPECT_EQ(msg(fb.status()), "forbidden by a proxy");
  EXPECT_EQ(server.request_count(), 5u);  // none of these is retried
}

TEST(RestClient, IdempotentVerbsRetryOn429HonouringRetryAfterAnd5xx) {
  std::atomic<int> calls{0}, flaky{0};
  FakeApiServer server([&](const Request& r) {
    int n = calls++;
    if (r.path.ends_with("/throttled") && n == 0) {
      Reply slow = json(429, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"Too many requests, please try again later.","reason":"TooManyRequests",
        "details":{"causes":[{"reason":"UnexpectedServerResponse"}]},"code":429})");
      slow.headers.emplace_back("Retry-After", "1");
      return slow;
    }
    if (r.path.ends_with("/flaky") && flaky++ == 0) return json(500, "oops");
    if (r.path.ends_with("/broken")) return json(503, "down");
    if (r.method == "POST") return json(500, "oops");
    return json(200, kPod);
  });
  auto c = make(plain_config(server));
  absl::Time start = absl::Now();
  auto a = c->get(kPods.named("throttled"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(950));  // waited Retry-After
  EXPECT_EQ(calls.load(), 2);
  auto b = c->get(kPods.named("flaky"));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(calls.load(), 4);
  auto pod = api::Object::parse(kPod);
  auto w = c->create(kPods, *pod);  // writes are never retried
  EXPECT_TRUE(is_internal(w.status()));
  EXPECT_EQ(calls.load(), 5);
  RestClientOptions two = fast_retries();
  two.max_retries = 2;
  auto c2 = make(plain_config(server), two);
  auto broken = c2->get(kPods.named("broken"));
  EXPECT_TRUE(is_service_unavailable(broken.status()));
  EXPECT_EQ(calls.load(), 8);  // 1 + 2 retries
}

TEST(RestClient, ConnectionFailureIsUnavailableWithoutPayload) {
  int port;
  {
    FakeApiServer gone([](const Request&) { return json(200, "{}"); });
    port = gone.port();
  }
  Config cfg;
  cfg.server = "http://127.0.0.1:" + std::to_string(port);
  RestClientOptions o = fast_retries();
  o.max_retries = 1;
  auto c = make(cfg, o);
  auto r = c->get(kPods.named("p"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(is_api_error(r.status()));
  EXPECT_THAT(msg(r.status()), HasSubstr("/api/v1/namespaces/default/pods/p"));
}

TEST(RestClient, UnauthorizedRefreshesTokenFileOnce) {
  std::string dir = ::testing::TempDir() + "/kop-rest-401";
  std::filesystem::create_directories(dir);
  std::string tf = dir + "/token";
  std::ofstream(tf) << "old";
  FakeApiServer server([](const Request& r) {
    if (r.header("authorization") != "Bearer new")
      return json(401, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"Unauthorized","reason":"Unauthorized","code":401})");
    return json(200, kPod);
  });
  Config cfg = plain_config(server);
  cfg.bearer_token.clear();
  cfg.bearer_token_file = tf;
  auto c = make(cfg);
  auto first = c->get(kPods.named("p"));
  EXPECT_TRUE(is_unauthorized(first.status()));  // re-read gave "old" again: still 401
  std::ofstream(tf) << "new";
  auto second = c->get(kPods.named("p"));  // within the refresh minute, but a 401 forces it
  ASSERT_TRUE(second.ok()) << second.status();
}

std::string event(const char* type, const std::string& name, const std::string& rv) {
  return std::string(R"({"type":")") + type +
         R"(","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
         R"(","resourceVersion":")" + rv + R"("}}})" + "\n";
}

TEST(RestClient, WatchStreamsChunkedEvents) {
  FakeApiServer server([](const Request&) {
    Reply w;
    w.chunked = true;
    std::string a = event("ADDED", "a", "1"), m = event("MODIFIED", "a", "2");
    std::string both =
        event("DELETED", "a", "3") +
        R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"4"}}})"
        "\n";
    std::string err =
        R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},)"
        R"j("status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}})j"
        "\n";
    // An event split over chunks, two events in one chunk, a blank line.
    w.chunks = {a, m.substr(0, 10), m.substr(10), both, "\n", err};
    w.chunk_delay = absl::Milliseconds(5);
    return w;
  });
  auto c = make(plain_config(server));
  auto ws = c->watch(kPods.named("a"), {.label_selector = "app=web",
                                        .resource_version = "1",
                                        .allow_watch_bookmarks = true,
                                        .timeout_seconds = 30});
  ASSERT_TRUE(ws.ok()) << ws.status();
  std::vector<WatchEvent> events;
  for (;;) {
    auto ev = (*ws)->next();
    ASSERT_TRUE(ev.ok()) << ev.status();
    if (!ev->has_value()) break;
    events.push_back(**ev);
  }
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kAdded);
  EXPECT_EQ(events[0].object->name(), "a");
  EXPECT_EQ(events[1].type, WatchEvent::Type::kModified);
  EXPECT_EQ(events[1].object->resource_version(), "2");
  EXPECT_EQ(events[2].type, WatchEvent::Type::kDeleted);
  EXPECT_EQ(events[3].type, WatchEvent::Type::kBookmark);
  EXPECT_EQ(events[3].object->resource_version(), "4");
  EXPECT_EQ(events[4].type, WatchEvent::Type::kError);
  EXPECT_TRUE(is_gone(events[4].error));
  EXPECT_EQ(msg(events[4].error), "too old resource version: 1 (5)");
  EXPECT_EQ(events[4].object->kind(), "Status");
  // After the end: nullopt again.
  auto again = (*ws)->next();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  auto req = server.requests().at(0);
  EXPECT_EQ(req.path, "/api/v1/namespaces/default/pods");
  EXPECT_EQ(req.raw_query,
            "allowWatchBookmarks=true&fieldSelector=metadata.name%3Da&labelSelector=app%3Dweb&"
            "resourceVersion=1&timeoutSeconds=30&watch=true");
}

TEST(RestClient, WatchCancelFromAnotherThreadEndsNext) {
  FakeApiServer server([](const Request&) {
    Reply w;
    w.chunked = true;
    w.chunks = {event("ADDED", "a", "1")};
    w.hold_open = true;
    return w;
  });
  auto c = make(plain_config(server));
  auto ws = c->watch(kPods);
  ASSERT_TRUE(ws.ok()) << ws.status();
  auto first = (*ws)->next();
  ASSERT_TRUE(first.ok() && first->has_value());
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(100));
    (*ws)->cancel();
  });
  absl::Time start = absl::Now();
  auto end = (*ws)->next();  // blocks until the cancel
  canceller.join();
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_FALSE(end->has_value());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(RestClient, WatchRefusedReturnsTheError) {
  FakeApiServer server([](const Request&) {
    return json(410, R"j({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
      "message":"too old resource version: 1 (9)","reason":"Expired","code":410})j");
  });
  auto c = make(plain_config(server));
  auto ws = c->watch(kPods, {.resource_version = "1"});
  EXPECT_TRUE(is_gone(ws.status()));
}

testing::TlsFiles server_tls(bool require_client_cert) {
  return {testdata("server.pem"), testdata("server-key.pem"),
          require_client_cert ? testdata("ca.pem") : ""};
}

TEST(RestClient, TlsVerifiesAgainstTheConfiguredCa) {
  auto tls = server_tls(false);
  FakeApiServer server([](const Request&) { return json(200, kPod); }, &tls);
  RestClientOptions once = fast_retries();
  once.max_retries = 0;
  Config cfg = plain_config(server);
  cfg.ca_pem = testdata("ca.pem");
  auto ok = make(cfg, once)->get(kPods.named("p"));
  ASSERT_TRUE(ok.ok()) << ok.status();

  cfg.ca_pem = testdata("other-ca.pem");
  auto wrong_ca = make(cfg, once)->get(kPods.named("p"));
  EXPECT_EQ(wrong_ca.status().code(), absl::StatusCode::kUnavailable);

  cfg.ca_pem.clear();  // the system store does not know the test CA
  EXPECT_FALSE(make(cfg, once)->get(kPods.named("p")).ok());

  cfg.insecure_skip_tls_verify = true;
  EXPECT_TRUE(make(cfg, once)->get(kPods.named("p")).ok());

  // tls-server-name: the certificate names kop.test, not wrong.test.
  cfg.insecure_skip_tls_verify = false;
  cfg.ca_pem = testdata("ca.pem");
  cfg.tls_server_name = "kop.test";
  auto named = make(cfg, once)->get(kPods.named("p"));
  EXPECT_TRUE(named.ok()) << named.status();
  cfg.tls_server_name = "wrong.test";
  EXPECT_FALSE(make(cfg, once)->get(kPods.named("p")).ok());

  cfg.ca_pem = "not a certificate";
  auto bad = RestClient::create(cfg);
  EXPECT_THAT(msg(bad.status()), HasSubstr("no PEM certificate found"));
}

TEST(RestClient, TlsClientCertificate) {
  auto tls = server_tls(true);
  FakeApiServer server([](const Request&) { return json(200, kPod); }, &tls);
  RestClientOptions once = fast_retries();
  once.max_retries = 0;
  Config cfg = plain_config(server);
  cfg.ca_pem = testdata("ca.pem");
  EXPECT_FALSE(make(cfg, once)->get(kPods.named("p")).ok());  // no certificate: refused
  cfg.client_cert_pem = testdata("client.pem");
  cfg.client_key_pem = testdata("client-key.pem");
  auto ok = make(cfg, once)->get(kPods.named("p"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  auto reqs = server.requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_THAT(reqs.back().client_cert_subject, HasSubstr("CN=kop-test-client"));
  // A key that does not match the certificate is refused up front.
  cfg.client_key_pem = testdata("server-key.pem");
  EXPECT_THAT(msg(RestClient::create(cfg).status()), HasSubstr("does not match"));
}

TEST(RestClient, ClientSideRateLimit) {
  FakeApiServer server([](const Request&) { return json(200, kPod); });
  Config cfg = plain_config(server);
  cfg.qps = 20;
  cfg.burst = 2;
  auto c = make(cfg);
  absl::Time start = absl::Now();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(c->get(kPods.named("p")).ok());
  // 2 from the burst, then 4 at 20/s: at least ~200 ms.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(180));
  cfg.qps = 0;  // off
  auto fast = make(cfg);
  start = absl::Now();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(fast->get(kPods.named("p")).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(RestClient, Metrics) {
  FakeApiServer server([](const Request& r) {
    return r.path.ends_with("/missing") ? json(404, "") : json(200, kPod);
  });
  auto c = make(plain_config(server));
  ASSERT_TRUE(c->get(kPods.named("p")).ok());
  ASSERT_TRUE(c->get(kPods.named("p")).ok());
  EXPECT_FALSE(c->get(kPods.named("missing")).ok());
  RestMetrics m = c->metrics();
  std::string host = "127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ((m.requests_total[{"200", "GET", host}]), 2u);
  EXPECT_EQ((m.requests_total[{"404", "GET", host}]), 1u);
  EXPECT_EQ((m.request_duration[{"GET", host}].first), 3u);
  // Exported with client-go's names.
  std::string text = metrics::default_registry().expose();
  EXPECT_THAT(text, HasSubstr("rest_client_requests_total{code=\"404\",method=\"GET\",host=\"" +
                              host + "\"} 1"));
  EXPECT_THAT(text, HasSubstr("rest_client_request_duration_seconds_count{verb=\"GET\",host=\"" +
                              host + "\"} 3"));
}

}  // namespace
}  // namespace kop::client
