// The kop::Client contract, run against both transports: kop::local in process (LocalClient),
// and the REST transport over HTTPS (generated CA, bearer token, configured through the
// kubeconfig the front writes) to kop::local's HTTP front, and — when KOP_TEST_KUBECONFIG names
// one — a real kube-apiserver (skipped, saying so, otherwise). Each case asserts what a
// kube-apiserver does, so the same case passes for all three.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <set>

#include "kop/client/config.h"
#include "kop/client/errors.h"
#include "kop/client/rest_client.h"
#include "kop/client/retry.h"
#include "kop/local/http_front.h"
#include "kop/local/local_client.h"

namespace kop::client {
namespace {

using ::testing::HasSubstr;

struct Transport {
  std::string name;
  std::shared_ptr<local::Store> store;
  std::unique_ptr<local::HttpFront> front;
  std::shared_ptr<Client> client;
};

// "local", "rest" (to kop::local's HTTP front) or "real" (the API server named by
// KOP_TEST_KUBECONFIG; empty client when unset).
Transport make_transport(const std::string& kind, local::StoreOptions store_options = {}) {
  Transport t;
  t.name = kind;
  RestClientOptions o;
  o.max_retries = 1;
  o.initial_backoff = absl::Milliseconds(10);
  if (kind == "real") {
    const char* path = std::getenv("KOP_TEST_KUBECONFIG");
    if (!path || !*path) return t;
    auto cfg = load_kubeconfig({.paths = {path}});
    EXPECT_TRUE(cfg.ok()) << cfg.status();
    if (!cfg.ok()) return t;
    cfg->qps = 0;
    auto rc = RestClient::create(*cfg, o);
    EXPECT_TRUE(rc.ok()) << rc.status();
    if (rc.ok()) t.client = *rc;
    return t;
  }
  t.store = std::make_shared<local::Store>(store_options);
  if (kind == "local") {
    t.client = std::make_shared<local::LocalClient>(t.store);
    return t;
  }
  t.front = std::make_unique<local::HttpFront>(
      t.store, local::HttpFrontOptions{.listen = "127.0.0.1:0", .tls = true, .token = "s3cret"});
  auto started = t.front->start();
  EXPECT_TRUE(started.ok()) << started;
  auto cfg = parse_kubeconfig(t.front->kubeconfig(), "/nonexistent/kubeconfig");
  EXPECT_TRUE(cfg.ok()) << cfg.status();
  cfg->qps = 0;
  auto rc = RestClient::create(*cfg, o);
  EXPECT_TRUE(rc.ok()) << rc.status();
  t.client = *rc;
  return t;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> n{0};
  return prefix + "-" + std::to_string(absl::ToUnixMillis(absl::Now()) % 100000000) + "-" +
         std::to_string(n++);
}

api::Object namespace_object(const std::string& name) {
  return *api::Object::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" +
                             name + R"("}})");
}

// Each case works in a namespace of its own (a real server keeps what earlier runs left).
class Contract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    t_ = make_transport(GetParam());
    if (!t_.client) GTEST_SKIP() << "KOP_TEST_KUBECONFIG is not set: no real API server to test";
    ns_ = unique_name("kop-contract");
    auto created =
        c().create(ResourceRef{"", "v1", "namespaces", "", "", ""}, namespace_object(ns_));
    ASSERT_TRUE(created.ok()) << created.status();
    cms_ = ResourceRef{"", "v1", "configmaps", "", ns_, ""};
  }
  void TearDown() override {
    if (t_.client && !ns_.empty())
      (void)c().remove(ResourceRef{"", "v1", "namespaces", "", "", ns_});
  }
  Client& c() { return *t_.client; }
  Transport t_;
  std::string ns_;
  ResourceRef cms_;
};

api::Object config_map(const std::string& name, const std::string& value,
                       const std::string& app = "web") {
  auto o = api::Object::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" +
                              name + R"(","labels":{"app":")" + app + R"("}},"data":{"k":")" +
                              value + R"("}})");
  return *std::move(o);
}

TEST_P(Contract, CreateGetAlreadyExistsNotFound) {
  auto created = c().create(cms_, config_map("a", "1"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE((*created)->resource_version().empty());
  EXPECT_FALSE((*created)->uid().empty());
  EXPECT_EQ((*created)->namespace_(), ns_);
  auto got = c().get(cms_.named("a"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->get_string("/data/k"), "1");
  EXPECT_EQ((*got)->kind(), "ConfigMap");
  auto again = c().create(cms_, config_map("a", "2"));
  EXPECT_TRUE(is_already_exists(again.status())) << again.status();
  EXPECT_EQ(std::string(again.status().message()), "configmaps \"a\" already exists");
  auto missing = c().get(cms_.named("nope"));
  EXPECT_TRUE(is_not_found(missing.status()));
  EXPECT_EQ(std::string(missing.status().message()), "configmaps \"nope\" not found");
  auto no_ns = c().create(cms_.in("no-such-namespace"), config_map("b", "1"));
  EXPECT_TRUE(is_not_found(no_ns.status())) << no_ns.status();
  EXPECT_EQ(std::string(no_ns.status().message()), "namespaces \"no-such-namespace\" not found");
}

TEST_P(Contract, ConflictOnStaleUpdateAndRetryOnConflict) {
  auto created = c().create(cms_, config_map("a", "1"));
  ASSERT_TRUE(created.ok()) << created.status();
  api::Object first = **created;
  first.set_label("step", "1");
  ASSERT_TRUE(c().update(cms_, first).ok());
  api::Object stale = **created;  // the old resourceVersion
  stale.set_label("step", "stale");
  auto conflict = c().update(cms_, stale);
  EXPECT_TRUE(is_conflict(conflict.status())) << conflict.status();
  EXPECT_THAT(std::string(conflict.status().message()),
              HasSubstr("Operation cannot be fulfilled on configmaps \"a\""));
  int attempts = 0;
  absl::Status st = retry_on_conflict(kDefaultRetry, [&]() -> absl::Status {
    ++attempts;
    // The first attempt uses the stale copy; the retries read the latest.
    api::Object obj = **created;
    if (attempts > 1) {
      auto latest = c().get(cms_.named("a"));
      if (!latest.ok()) return latest.status();
      obj = **latest;
    }
    obj.set_label("step", "2");
    return c().update(cms_, obj).status();
  });
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ((*c().get(cms_.named("a")))->label("step"), "2");
}

TEST_P(Contract, ListSelectorsAndPages) {
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(
        c().create(cms_, config_map("cm" + std::to_string(i), "v", i % 2 ? "odd" : "even")).ok());
  auto even = c().list(cms_, {.label_selector = "app=even"});
  ASSERT_TRUE(even.ok()) << even.status();
  EXPECT_EQ(even->items.size(), 3u);
  for (const auto& item : even->items) {
    EXPECT_EQ(item->kind(), "ConfigMap");
    EXPECT_EQ(item->api_version(), "v1");
  }
  auto by_name = c().list(cms_, {.field_selector = "metadata.name=cm3"});
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  ASSERT_EQ(by_name->items.size(), 1u);
  std::set<std::string> names;
  std::string token;
  int pages = 0;
  do {
    auto page = c().list(cms_, {.limit = 2, .continue_token = token});
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->items.size(), 2u);
    for (const auto& item : page->items) names.insert(std::string(item->name()));
    token = page->continue_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.size(), 5u);
  auto all_ns = c().list(cms_.in(""), {.label_selector = "app in (even,odd)"});
  ASSERT_TRUE(all_ns.ok());
  EXPECT_GE(all_ns->items.size(), 5u);
}

TEST_P(Contract, WatchFromAListResourceVersion) {
  auto list = c().list(cms_);
  ASSERT_TRUE(list.ok()) << list.status();
  auto ws = c().watch(cms_, {.resource_version = list->resource_version});
  ASSERT_TRUE(ws.ok()) << ws.status();
  auto created = c().create(cms_, config_map("w", "1"));
  ASSERT_TRUE(created.ok());
  api::Object changed = **created;
  changed.set_label("x", "y");
  ASSERT_TRUE(c().update(cms_, changed).ok());
  ASSERT_TRUE(c().remove(cms_.named("w")).ok());
  std::vector<WatchEvent::Type> types;
  while (types.size() < 3) {
    auto ev = (*ws)->next();
    ASSERT_TRUE(ev.ok()) << ev.status();
    ASSERT_TRUE(ev->has_value());
    EXPECT_EQ((*ev)->object->name(), "w");
    types.push_back((*ev)->type);
  }
  EXPECT_EQ(types,
            (std::vector<WatchEvent::Type>{WatchEvent::Type::kAdded, WatchEvent::Type::kModified,
                                           WatchEvent::Type::kDeleted}));
  (*ws)->cancel();
  auto end = (*ws)->next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
}

TEST_P(Contract, WatchFromATooOldVersionIsGone) {
  // A real server keeps history until etcd is compacted (every 5 min by default). On a server
  // started with a short history (KOP_TEST_SHORT_HISTORY=1: --watch-cache-sizes=configmaps#0
  // --etcd-compaction-interval=2s, docs/real-apiserver.md) the old version is gone in seconds.
  const bool real = GetParam() == "real";
  const char* short_history = std::getenv("KOP_TEST_SHORT_HISTORY");
  if (real && !(short_history && std::string(short_history) == "1"))
    GTEST_SKIP() << "needs a real server with a short history (KOP_TEST_SHORT_HISTORY=1)";
  Transport t = make_transport(GetParam(), local::StoreOptions{.history_size = 3});
  t.client->create(ResourceRef{"", "v1", "namespaces", "", "", ""}, namespace_object(ns_))
      .IgnoreError();
  auto first = t.client->create(cms_, config_map("old", "0"));
  ASSERT_TRUE(first.ok());
  std::string old_rv(first.value()->resource_version());
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(t.client->create(cms_, config_map("n" + std::to_string(i), "v")).ok());
  if (real) absl::SleepFor(absl::Seconds(6));  // two compactions past old_rv
  auto ws = t.client->watch(cms_, {.resource_version = old_rv});
  if (!ws.ok()) {
    EXPECT_TRUE(is_gone(ws.status())) << ws.status();
    return;
  }
  auto ev = (*ws)->next();
  ASSERT_TRUE(ev.ok()) << ev.status();
  ASSERT_TRUE(ev->has_value());
  EXPECT_EQ((*ev)->type, WatchEvent::Type::kError);
  EXPECT_TRUE(is_gone((*ev)->error)) << (*ev)->error;
}

TEST_P(Contract, PatchesAndApply) {
  ASSERT_TRUE(c().create(cms_, config_map("p", "1")).ok());
  auto merged = c().patch(cms_.named("p"), PatchType::kJsonMerge, R"({"data":{"k":"2"}})");
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ((*merged)->get_string("/data/k"), "2");
  auto json_patch = c().patch(cms_.named("p"), PatchType::kJsonPatch,
                              R"([{"op":"add","path":"/data/j","value":"3"}])");
  ASSERT_TRUE(json_patch.ok()) << json_patch.status();
  EXPECT_EQ((*json_patch)->get_string("/data/j"), "3");
  auto applied = c().patch(
      cms_.named("q"), PatchType::kApply,
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"q"},"data":{"a":"b"}})",
      {.field_manager = "kop-test"});
  ASSERT_TRUE(applied.ok()) << applied.status();  // apply creates
  EXPECT_EQ((*applied)->get_string("/data/a"), "b");
  EXPECT_TRUE((*applied)->has_managed_fields());
}

TEST_P(Contract, DeleteWithPreconditions) {
  auto created = c().create(cms_, config_map("d", "1"));
  ASSERT_TRUE(created.ok());
  auto wrong = c().remove(cms_.named("d"), {.precondition_uid = "not-the-uid"});
  EXPECT_TRUE(is_conflict(wrong.status())) << wrong.status();
  auto ok = c().remove(cms_.named("d"), {.propagation_policy = PropagationPolicy::kBackground,
                                         .precondition_uid = std::string((*created)->uid())});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(is_not_found(c().get(cms_.named("d")).status()));
  EXPECT_TRUE(is_not_found(c().remove(cms_.named("d")).status()));
}

TEST_P(Contract, InvalidNamesTheField) {
  auto bad = c().create(cms_, config_map("Bad_Name", "1"));
  EXPECT_TRUE(is_invalid(bad.status())) << bad.status();
  auto causes = causes_of(bad.status());
  ASSERT_FALSE(causes.empty());
  EXPECT_EQ(causes[0].field, "metadata.name");
}

TEST_P(Contract, ClusterScopedAndByKind) {
  std::string name = unique_name("kop-team");
  api::Object ns = namespace_object(name);
  auto created = c().create(ResourceRef::of(ns), ns);
  ASSERT_TRUE(created.ok()) << created.status();
  auto got = c().get(ResourceRef{"", "v1", "namespaces", "", "", name});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->name(), name);
  auto ing = api::Object::parse(R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
    "metadata":{"name":"web","namespace":")" +
                                ns_ + R"("},"spec":{"defaultBackend":{"service":
    {"name":"web","port":{"number":80}}}}})");
  ASSERT_TRUE(ing.ok());
  auto made = c().create(ResourceRef::of(*ing), *ing);  // kind -> ingresses via the mapper
  ASSERT_TRUE(made.ok()) << made.status();
  auto by_kind = c().get(ResourceRef{"networking.k8s.io", "v1", "", "Ingress", ns_, "web"});
  ASSERT_TRUE(by_kind.ok()) << by_kind.status();
  EXPECT_EQ((*by_kind)->name(), "web");
  (void)c().remove(ResourceRef{"", "v1", "namespaces", "", "", name});
}

INSTANTIATE_TEST_SUITE_P(Transports, Contract, ::testing::Values("local", "rest", "real"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kop::client
