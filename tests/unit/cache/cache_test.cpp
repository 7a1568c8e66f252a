#include "kop/cache/cache.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "fake_client.h"
#include "kop/client/errors.h"
#include "test_util.h"

namespace kop::cache {
namespace {

using testing::eventually;
using testing::FakeClient;
using testing::FakeWatch;
using testing::make_object;
using testing::page;

const api::GroupVersionKind kConfigMap{"", "v1", "ConfigMap"};
const api::GroupVersionKind kSecret{"", "v1", "Secret"};

// A fake API: a fixed set of ConfigMaps in namespaces a, b, c; watches stay open and silent.
void serve_configmaps(FakeClient& fc) {
  fc.wait_ = absl::Milliseconds(1);
  fc.set_list_fn([](const client::ResourceRef& ref,
                    const client::ListOptions&) -> absl::StatusOr<client::ObjectList> {
    if (ref.kind != "ConfigMap") return client::not_found("", "secrets", "");
    std::vector<api::ObjectPtr> items;
    for (std::string ns : {"a", "b", "c"}) {
      if (!ref.namespace_.empty() && ref.namespace_ != ns) continue;
      items.push_back(make_object(ns, "web", "1", {{"app", "web"}}));
      items.push_back(make_object(ns, "db", "2", {{"app", "db"}}));
    }
    return page(std::move(items), "10");
  });
  fc.set_watch_fn([](const client::ResourceRef&,
                     const client::WatchOptions&) -> absl::StatusOr<std::shared_ptr<FakeWatch>> {
    return std::make_shared<FakeWatch>();
  });
}

CacheOptions options(FakeClock* clock) {
  CacheOptions o;
  o.reflector.clock = clock;
  return o;
}

std::vector<std::string> keys(const std::vector<api::ObjectPtr>& objs) {
  std::vector<std::string> out;
  for (const auto& o : objs) out.push_back(o->key());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Cache, OneSharedInformerPerKindAndReadsFromIt) {
  FakeClient fc;
  FakeClock clock;
  serve_configmaps(fc);
  Cache cache(fc, options(&clock));
  auto i1 = cache.get_informer(kConfigMap);
  auto i2 = cache.get_informer(kConfigMap);
  ASSERT_TRUE(i1.ok() && i2.ok());
  EXPECT_EQ(i1->get(), i2->get());
  cache.start();
  ASSERT_TRUE(cache.wait_for_cache_sync(absl::Seconds(5)).ok());
  EXPECT_EQ(fc.list_calls().size(), 1u);
  EXPECT_EQ(fc.list_refs()[0].kind, "ConfigMap");
  EXPECT_EQ(fc.list_refs()[0].resource, "");  // the client's RESTMapper maps it

  auto got = cache.get(kConfigMap, "a", "web");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->key(), "a/web");
  auto missing = cache.get(kConfigMap, "a", "nope");
  EXPECT_TRUE(client::is_not_found(missing.status())) << missing.status();

  auto all = cache.list(kConfigMap);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 6u);
  CacheListOptions in_b;
  in_b.namespace_ = "b";
  EXPECT_EQ(keys(*cache.list(kConfigMap, in_b)), (std::vector<std::string>{"b/db", "b/web"}));
  CacheListOptions web;
  web.match_labels = {{"app", "web"}};
  EXPECT_EQ(keys(*cache.list(kConfigMap, web)),
            (std::vector<std::string>{"a/web", "b/web", "c/web"}));
  CacheListOptions not_web;
  not_web.namespace_ = "c";
  not_web.label_selector = *api::LabelSelector::parse("app notin (web)");
  EXPECT_EQ(keys(*cache.list(kConfigMap, not_web)), (std::vector<std::string>{"c/db"}));
}

TEST(Cache, ReadingAnUnwatchedKindIsAnErrorNotANewWatch) {
  FakeClient fc;
  FakeClock clock;
  serve_configmaps(fc);
  Cache cache(fc, options(&clock));
  cache.start();
  auto got = cache.get(kSecret, "a", "x");
  EXPECT_TRUE(absl::IsFailedPrecondition(got.status())) << got.status();
  EXPECT_NE(got.status().message().find("/v1, Kind=Secret"), absl::string_view::npos);
  EXPECT_TRUE(absl::IsFailedPrecondition(cache.list(kSecret).status()));
  EXPECT_EQ(cache.find_informer(kSecret), nullptr);
  EXPECT_TRUE(fc.list_calls().empty());
}

TEST(Cache, ReadStartsInformerWhenAskedTo) {
  FakeClient fc;
  FakeClock clock;
  serve_configmaps(fc);
  CacheOptions o = options(&clock);
  o.read_starts_informer = true;
  Cache cache(fc, o);
  cache.start();
  auto got = cache.get(kConfigMap, "c", "db");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_NE(cache.find_informer(kConfigMap), nullptr);
}

TEST(Cache, InformerCreatedAfterStartStartsAtOnce) {
  FakeClient fc;
  FakeClock clock;
  serve_configmaps(fc);
  Cache cache(fc, options(&clock));
  cache.start();
  auto inf = cache.get_informer(kConfigMap);
  ASSERT_TRUE(inf.ok());
  ASSERT_TRUE((*inf)->wait_for_sync(absl::Seconds(5)).ok());
  EXPECT_TRUE(cache.has_synced());
}

TEST(Cache, PerKindNamespacesAndSelectors) {
  FakeClient fc;
  FakeClock clock;
  serve_configmaps(fc);
  CacheOptions o = options(&clock);
  ByObject by;
  by.namespaces = std::vector<std::string>{"c", "a"};
  by.label_selector = "app in (web,db)";
  by.field_selector = "metadata.name!=x";
  o.by_object[kConfigMap] = by;
  Cache cache(fc, o);
  ASSERT_TRUE(cache.get_informer(kConfigMap).ok());
  cache.start();
  ASSERT_TRUE(cache.wait_for_cache_sync(absl::Seconds(5)).ok());
  auto refs = fc.list_refs();
  ASSERT_EQ(refs.size(), 2u);  // one list per namespace
  std::vector<std::string> ns = {refs[0].namespace_, refs[1].namespace_};
  std::sort(ns.begin(), ns.end());
  EXPECT_EQ(ns, (std::vector<std::string>{"a", "c"}));
  for (const auto& call : fc.list_calls()) {
    EXPECT_EQ(call.label_selector, "app in (web,db)");
    EXPECT_EQ(call.field_selector, "metadata.name!=x");
  }
  EXPECT_EQ(keys(*cache.list(kConfigMap)),
            (std::vector<std::string>{"a/db", "a/web", "c/db", "c/web"}));
  auto in_b = cache.get(kConfigMap, "b", "web");
  EXPECT_TRUE(absl::IsFailedPrecondition(in_b.status())) << in_b.status();
  CacheListOptions lb;
  lb.namespace_ = "b";
  EXPECT_TRUE(absl::IsFailedPrecondition(cache.list(kConfigMap, lb).status()));
  EXPECT_TRUE(cache.get(kConfigMap, "c", "db").ok());
}

TEST(Cache, IndexFieldAndListByIndex) {
  FakeClient fc;
  FakeClock clock;
  serve_configmaps(fc);
  Cache cache(fc, options(&clock));
  ASSERT_TRUE(cache
                  .index_field(kConfigMap, "app",
                               [](const api::Object& o) -> std::vector<std::string> {
                                 if (auto v = o.label("app")) return {std::string(*v)};
                                 return {};
                               })
                  .ok());
  cache.start();
  ASSERT_TRUE(cache.wait_for_cache_sync(absl::Seconds(5)).ok());
  CacheListOptions by_app;
  by_app.index = std::make_pair(std::string("app"), std::string("db"));
  EXPECT_EQ(keys(*cache.list(kConfigMap, by_app)),
            (std::vector<std::string>{"a/db", "b/db", "c/db"}));
  by_app.namespace_ = "b";
  EXPECT_EQ(keys(*cache.list(kConfigMap, by_app)), (std::vector<std::string>{"b/db"}));
  CacheListOptions bad;
  bad.index = std::make_pair(std::string("nope"), std::string("x"));
  EXPECT_TRUE(absl::IsNotFound(cache.list(kConfigMap, bad).status()));
}

TEST(Cache, WaitForCacheSyncNamesEachUnsyncedKindAndItsError) {
  FakeClient fc;
  FakeClock clock;
  serve_configmaps(fc);  // secrets answer 404
  Cache cache(fc, options(&clock));
  ASSERT_TRUE(cache.get_informer(kConfigMap).ok());
  ASSERT_TRUE(cache.get_informer(kSecret).ok());
  cache.start();
  auto inf = cache.find_informer(kSecret);
  ASSERT_TRUE(eventually([&] { return inf->statuses()[0].errors > 0; }));
  absl::Status st = cache.wait_for_cache_sync(absl::Milliseconds(100));
  EXPECT_TRUE(absl::IsDeadlineExceeded(st));
  EXPECT_NE(st.message().find("list /v1, Kind=Secret"), absl::string_view::npos) << st;
  EXPECT_EQ(st.message().find("ConfigMap"), absl::string_view::npos) << st;
  auto states = cache.states();
  ASSERT_EQ(states.size(), 2u);
  for (const auto& s : states) {
    if (s.gvk == kSecret) {
      EXPECT_FALSE(s.synced);
      EXPECT_TRUE(client::is_not_found(s.last_error));
    } else {
      EXPECT_TRUE(s.synced);
    }
  }
}

TEST(Cache, ClusterScopedKindIgnoresNamespaces) {
  FakeClient fc;
  FakeClock clock;
  fc.wait_ = absl::Milliseconds(1);
  fc.set_list_fn([](const client::ResourceRef& ref,
                    const client::ListOptions&) -> absl::StatusOr<client::ObjectList> {
    EXPECT_EQ(ref.namespace_, "");
    return page({make_object("", "node-1", "1")}, "5");
  });
  fc.set_watch_fn([](const client::ResourceRef&,
                     const client::WatchOptions&) -> absl::StatusOr<std::shared_ptr<FakeWatch>> {
    return std::make_shared<FakeWatch>();
  });
  CacheOptions o = options(&clock);
  o.default_namespaces = {"a", "b"};
  Cache cache(fc, o);
  const api::GroupVersionKind node{"", "v1", "Node"};
  ASSERT_TRUE(cache.get_informer(node).ok());
  cache.start();
  ASSERT_TRUE(cache.wait_for_cache_sync(absl::Seconds(5)).ok());
  EXPECT_EQ(fc.list_calls().size(), 1u);
  EXPECT_TRUE(cache.get(node, "", "node-1").ok());
}

}  // namespace
}  // namespace kop::cache
