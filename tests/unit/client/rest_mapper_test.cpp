// RESTMapper from discovery (cached, refreshed on a miss, built-in fallback), the token bucket
// and retry_on_conflict.
#include "kop/client/rest_mapper.h"

#include <gtest/gtest.h>

#include <atomic>

#include "fake_api_server.h"
#include "kop/client/errors.h"
#include "kop/client/rate_limiter.h"
#include "kop/client/rest_client.h"
#include "kop/client/retry.h"

namespace kop::client {
namespace {

using testing::FakeApiServer;
using testing::Reply;
using testing::Request;

Reply json(int code, std::string body) {
  Reply r;
  r.code = code;
  r.body = std::move(body);
  return r;
}

// A discovery server; the Widget CRD appears once `crd_installed` is set.
Reply discovery(const Request& r, bool crd_installed) {
  if (r.path == "/api") return json(200, R"({"kind":"APIVersions","versions":["v1"]})");
  if (r.path == "/api/v1")
    return json(200, R"({"kind":"APIResourceList","groupVersion":"v1","resources":[
      {"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get"]},
      {"name":"pods/status","namespaced":true,"kind":"Pod","verbs":["get"]},
      {"name":"namespaces","namespaced":false,"kind":"Namespace","verbs":["get"]}]})");
  if (r.path == "/apis") {
    std::string groups =
        R"({"name":"networking.k8s.io","versions":[{"groupVersion":"networking.k8s.io/v1","version":"v1"}],
      "preferredVersion":{"groupVersion":"networking.k8s.io/v1","version":"v1"}})";
    if (crd_installed)
      groups +=
          R"(,{"name":"example.com","versions":[{"groupVersion":"example.com/v1","version":"v1"},
        {"groupVersion":"example.com/v1beta1","version":"v1beta1"}],
        "preferredVersion":{"groupVersion":"example.com/v1","version":"v1"}})";
    return json(200, R"({"kind":"APIGroupList","apiVersion":"v1","groups":[)" + groups + "]}");
  }
  if (r.path == "/apis/networking.k8s.io/v1")
    return json(200,
                R"({"kind":"APIResourceList","groupVersion":"networking.k8s.io/v1","resources":[
      {"name":"ingresses","namespaced":true,"kind":"Ingress"},
      {"name":"ingressclasses","namespaced":false,"kind":"IngressClass"}]})");
  if (r.path == "/apis/example.com/v1" && crd_installed)
    return json(200, R"({"kind":"APIResourceList","groupVersion":"example.com/v1","resources":[
      {"name":"widgets","namespaced":false,"kind":"Widget"}]})");
  if (r.path.starts_with("/apis/example.com/v1/widgets/"))
    return json(200, R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}})");
  if (r.path.starts_with("/apis/networking.k8s.io/v1/namespaces/"))
    return json(
        200, R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"}})");
  return json(404, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
    "message":"the server could not find the requested resource","reason":"NotFound","code":404})");
}

std::shared_ptr<RestClient> client_for(const FakeApiServer& s) {
  Config c;
  c.server = s.url();
  c.qps = 0;
  RestClientOptions o;
  o.max_retries = 0;
  auto r = RestClient::create(c, o);
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

TEST(RestMapper, DiscoveryMapsKindsAndCaches) {
  FakeApiServer server([](const Request& r) { return discovery(r, false); });
  auto c = client_for(server);
  auto& m = c->mapper();
  auto ing = m.mapping({"networking.k8s.io", "v1", "Ingress"});
  ASSERT_TRUE(ing.ok()) << ing.status();
  EXPECT_EQ(ing->resource.resource, "ingresses");
  EXPECT_TRUE(ing->namespaced);
  auto cls = m.mapping({"networking.k8s.io", "", "IngressClass"});  // preferred version
  ASSERT_TRUE(cls.ok()) << cls.status();
  EXPECT_EQ(cls->resource,
            (api::GroupVersionResource{"networking.k8s.io", "v1", "ingressclasses"}));
  EXPECT_FALSE(cls->namespaced);
  auto ns = m.mapping({"", "v1", "Namespace"});
  ASSERT_TRUE(ns.ok());
  EXPECT_FALSE(ns->namespaced);
  size_t before = server.request_count();
  ASSERT_TRUE(m.mapping({"networking.k8s.io", "v1", "Ingress"}).ok());
  ASSERT_TRUE(m.mapping({"", "v1", "Pod"}).ok());
  EXPECT_EQ(server.request_count(), before);  // served from the cache

  // By kind through the client: the path comes from the mapping (cluster-scoped: no namespace).
  auto got = c->get(ResourceRef{"networking.k8s.io", "v1", "", "Ingress", "web", "i"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(server.requests().back().path, "/apis/networking.k8s.io/v1/namespaces/web/ingresses/i");
  auto p = c->path_of(ResourceRef{"networking.k8s.io", "v1", "", "IngressClass", "ignored", "x"});
  EXPECT_EQ(*p, "/apis/networking.k8s.io/v1/ingressclasses/x");
  // The ref of an object in hand.
  auto obj = api::Object::parse(
      R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i","namespace":"web"}})");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(*c->path_of(ResourceRef::of(*obj)),
            "/apis/networking.k8s.io/v1/namespaces/web/ingresses/i");
}

TEST(RestMapper, MissRefreshesDiscovery) {
  std::atomic<bool> installed{false};
  FakeApiServer server([&](const Request& r) { return discovery(r, installed.load()); });
  auto c = client_for(server);
  auto before = c->mapper().mapping({"example.com", "v1", "Widget"});
  EXPECT_EQ(before.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(before.status().message()),
            "no matches for kind \"Widget\" in version \"example.com/v1\"");
  installed = true;  // the CRD is installed meanwhile
  auto after = c->mapper().mapping({"example.com", "", "Widget"});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->resource, (api::GroupVersionResource{"example.com", "v1", "widgets"}));
  EXPECT_FALSE(after->namespaced);
  auto w = c->get(ResourceRef{"example.com", "v1", "", "Widget", "", "w"});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(server.requests().back().path, "/apis/example.com/v1/widgets/w");
}

TEST(RestMapper, FallsBackToBuiltinsWhenDiscoveryIsUnreachable) {
  int fetches = 0;
  DiscoveryRestMapper m([&](std::string_view) -> absl::StatusOr<std::string> {
    ++fetches;
    return absl::UnavailableError("connection refused");
  });
  auto svc = m.mapping({"", "v1", "Service"});
  ASSERT_TRUE(svc.ok()) << svc.status();
  EXPECT_EQ(svc->resource.resource, "services");
  EXPECT_TRUE(svc->namespaced);
  auto es = m.mapping({"discovery.k8s.io", "", "EndpointSlice"});
  ASSERT_TRUE(es.ok()) << es.status();
  EXPECT_EQ(es->resource.version, "v1");
  EXPECT_GT(fetches, 0);
  EXPECT_FALSE(m.mapping({"example.com", "v1", "Widget"}).ok());  // custom kinds need discovery
}

TEST(TokenBucket, BurstThenRate) {
  TokenBucket b(10, 3);
  EXPECT_TRUE(b.try_take());
  EXPECT_TRUE(b.try_take());
  EXPECT_TRUE(b.try_take());
  EXPECT_FALSE(b.try_take());
  absl::Duration waited = b.take();
  EXPECT_GT(waited, absl::Milliseconds(50));
  EXPECT_LE(waited, absl::Milliseconds(110));
  TokenBucket off(0, 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(off.take(), absl::ZeroDuration());
  EXPECT_EQ(TokenBucket().qps(), 5.0);
  EXPECT_EQ(TokenBucket().burst(), 10);
}

TEST(Retry, RetryOnConflict) {
  int calls = 0;
  absl::Status st = retry_on_conflict(kDefaultRetry, [&] {
    return ++calls < 3 ? conflict("", "pods", "p", "the object has been modified")
                       : absl::OkStatus();
  });
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(calls, 3);
  calls = 0;
  st = retry_on_conflict(kDefaultRetry, [&] {
    ++calls;
    return not_found("", "pods", "p");
  });
  EXPECT_TRUE(is_not_found(st));
  EXPECT_EQ(calls, 1);
  calls = 0;
  st = retry_on_conflict(kDefaultRetry, [&] {
    ++calls;
    return conflict("", "pods", "p", "x");
  });
  EXPECT_TRUE(is_conflict(st));
  EXPECT_EQ(calls, 5);  // DefaultRetry: 5 steps
  EXPECT_GE(backoff_delay(kDefaultBackoff, 3), absl::Milliseconds(250));
}

}  // namespace
}  // namespace kop::client
