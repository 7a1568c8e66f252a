// LocalClient: kop::Client over the in-process store; errors carry the API Status.
#include <gtest/gtest.h>

#include <thread>

#include "kop/api/object.h"
#include "kop/client/errors.h"
#include "kop/local/local_client.h"
#include "test_util.h"

namespace kop::local {
namespace {

using client::ResourceRef;

api::Object obj(std::string_view json) {
  return api::Object::parse(json).value();
}

class LocalClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<Store> store = std::make_shared<Store>();
  LocalClient c{store};
  ResourceRef cms{"", "v1", "configmaps", {}, "default", {}};
};

TEST_F(LocalClientTest, CrudAndErrors) {
  auto created = c.create(
      cms,
      obj(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"x":"1"}})"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)->namespace_(), "default");
  EXPECT_FALSE((*created)->uid().empty());
  auto dup = c.create(cms, obj(R"({"metadata":{"name":"a"}})"));
  EXPECT_TRUE(client::is_already_exists(dup.status()));
  auto got = c.get(cms.named("a"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, *created);  // the same shared object
  EXPECT_TRUE(client::is_not_found(c.get(cms.named("b")).status()));
  auto nf = client::api_status(c.get(cms.named("b")).status());
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->message, R"(configmaps "b" not found)");

  api::Object stale = **created;
  api::Object mod = **created;
  ASSERT_TRUE(mod.set_string("/data/x", "2").ok());
  auto upd = c.update(cms.named("a"), mod);
  ASSERT_TRUE(upd.ok()) << upd.status();
  ASSERT_TRUE(stale.set_string("/data/x", "3").ok());
  auto conflict = c.update(cms.named("a"), stale);
  EXPECT_TRUE(client::is_conflict(conflict.status()));

  auto p = c.patch(cms.named("a"), client::PatchType::kJsonMerge, R"({"data":{"y":"z"}})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->get_string("/data/y").value_or(""), "z");

  auto del = c.remove(cms.named("a"));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(*del, nullptr);  // Success Status for configmaps
  EXPECT_TRUE(client::is_not_found(c.remove(cms.named("a")).status()));
}

TEST_F(LocalClientTest, ByKindAndUnknownResource) {
  ResourceRef by_kind{"", "v1", "", "ConfigMap", "default", {}};
  ASSERT_TRUE(c.create(by_kind, obj(R"({"metadata":{"name":"k"}})")).ok());
  auto l = c.list(by_kind);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->kind, "ConfigMapList");
  EXPECT_EQ(l->api_version, "v1");
  ASSERT_EQ(l->items.size(), 1u);
  ResourceRef bad{"example.com", "v1", "widgets", {}, "default", {}};
  EXPECT_TRUE(client::is_not_found(c.list(bad).status()));
}

TEST_F(LocalClientTest, ListThenWatchFromItsVersion) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        c.create(cms, obj(R"({"metadata":{"name":"c)" + std::to_string(i) + R"("}})")).ok());
  }
  client::ListOptions lo;
  lo.limit = 2;
  auto p1 = c.list(cms, lo);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->items.size(), 2u);
  EXPECT_EQ(p1->remaining_item_count.value_or(-1), 1);
  lo.continue_token = p1->continue_token;
  auto p2 = c.list(cms, lo);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->items.size(), 1u);

  client::WatchOptions wo;
  wo.resource_version = p1->resource_version;
  auto w = c.watch(cms, wo);
  ASSERT_TRUE(w.ok());
  // The stream is the store's own Watch: next() blocks on it until a write wakes it, no polling.
  EXPECT_NE(dynamic_cast<Watch*>(w->get()), nullptr);
  std::thread writer([&] {
    (void)c.patch(cms.named("c1"), client::PatchType::kJsonMerge, R"({"data":{"a":"b"}})");
  });
  auto ev = (*w)->next();
  ASSERT_TRUE(ev.ok());
  ASSERT_TRUE(ev->has_value());
  EXPECT_EQ((*ev)->type, client::WatchEvent::Type::kModified);
  EXPECT_EQ((*ev)->object->name(), "c1");
  writer.join();
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    (*w)->cancel();
  });
  auto end = (*w)->next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  canceller.join();
}

TEST_F(LocalClientTest, WatchGoneIsAnErrorEvent) {
  store->faults().fail("watch", 410);
  auto w = c.watch(cms);
  ASSERT_TRUE(w.ok());
  auto ev = (*w)->next();
  ASSERT_TRUE(ev.ok() && ev->has_value());
  EXPECT_EQ((*ev)->type, client::WatchEvent::Type::kError);
  EXPECT_TRUE(client::is_gone((*ev)->error));
  auto after = (*w)->next();
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
}

TEST_F(LocalClientTest, WatchOneObjectByName) {
  ASSERT_TRUE(c.create(cms, obj(R"({"metadata":{"name":"x"}})")).ok());
  ASSERT_TRUE(c.create(cms, obj(R"({"metadata":{"name":"y"}})")).ok());
  auto w = c.watch(cms.named("y"));
  ASSERT_TRUE(w.ok());
  auto ev = (*w)->next();
  ASSERT_TRUE(ev.ok() && ev->has_value());
  EXPECT_EQ((*ev)->object->name(), "y");
}

TEST_F(LocalClientTest, StatusSubresourceAndDeleteReturningObject) {
  ResourceRef pods{"", "v1", "pods", {}, "default", {}};
  auto p = c.create(
      pods, obj(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}})"));
  ASSERT_TRUE(p.ok()) << p.status();
  auto st = c.patch_status(pods.named("p"), client::PatchType::kJsonMerge,
                           R"({"status":{"phase":"Running"}})");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ((*st)->get_string("/status/phase").value_or(""), "Running");
  auto gs = c.get_status(pods.named("p"));
  ASSERT_TRUE(gs.ok());
  auto d = c.remove(pods.named("p"));
  ASSERT_TRUE(d.ok());
  ASSERT_NE(*d, nullptr);  // pods answer DELETE with the object
  EXPECT_EQ((*d)->name(), "p");
  EXPECT_TRUE(client::is_not_found(c.get_status(cms.named("x")).status()));
}

}  // namespace
}  // namespace kop::local
