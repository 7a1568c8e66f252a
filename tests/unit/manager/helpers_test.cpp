// Reconciler helpers against kop::local: finalizers, controller references, create_or_update,
// create_or_patch (merge patch of the difference) and status conditions.
#include "kop/manager/helpers.h"

#include <gtest/gtest.h>

#include "kop/client/errors.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"

namespace kop::manager {
namespace {

struct Env {
  std::shared_ptr<local::Store> store = std::make_shared<local::Store>();
  local::LocalClient client{store};
  api::Object cm(std::string name) {
    api::Object o("v1", "ConfigMap");
    o.set_namespace("default");
    o.set_name(name);
    return o;
  }
};

TEST(Helpers, FinalizersAddAndRemove) {
  Env env;
  auto created = env.client.create(client::ResourceRef::of(env.cm("a")), env.cm("a"));
  ASSERT_TRUE(created.ok());
  auto added = add_finalizer(env.client, **created, "example.com/cleanup");
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_TRUE((*added)->has_finalizer("example.com/cleanup"));
  auto again = add_finalizer(env.client, **added, "example.com/cleanup");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->resource_version(), (*added)->resource_version());  // no write
  auto removed = remove_finalizer(env.client, **added, "example.com/cleanup");
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE((*removed)->has_finalizer("example.com/cleanup"));
  // A stale copy conflicts (the helpers write with the resourceVersion read).
  api::Object stale(**added);
  stale.add_finalizer("other");
  auto conflict = env.client.update(client::ResourceRef::of(stale), stale);
  EXPECT_TRUE(client::is_conflict(conflict.status())) << conflict.status();
}

TEST(Helpers, SetControllerReference) {
  Env env;
  api::Object owner("examples.kop.dev/v1alpha1", "Website");
  owner.set_namespace("default");
  owner.set_name("site");
  api::Object child = env.cm("child");
  EXPECT_FALSE(set_controller_reference(owner, child).ok());  // no uid
  owner.set_uid("u-1");
  ASSERT_TRUE(set_controller_reference(owner, child).ok());
  ASSERT_TRUE(set_controller_reference(owner, child).ok());  // idempotent
  auto refs = child.owner_references();
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_TRUE(refs[0].is_controller());
  EXPECT_EQ(refs[0].block_owner_deletion, true);
  EXPECT_EQ(refs[0].uid, "u-1");
  api::Object other(owner);
  other.set_name("other");
  EXPECT_EQ(set_controller_reference(other, child).code(), absl::StatusCode::kAlreadyExists);
  api::Object elsewhere(owner);
  elsewhere.set_namespace("kube-system");
  EXPECT_FALSE(set_controller_reference(elsewhere, child).ok());
}

TEST(Helpers, CreateOrUpdate) {
  Env env;
  auto set_data = [](std::string v) {
    return [v](api::Object& o) { return o.set_string("/data/k", v); };
  };
  api::Object o = env.cm("cu");
  auto r = create_or_update(env.client, o, set_data("1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, OperationResult::kCreated);
  api::Object o2 = env.cm("cu");
  r = create_or_update(env.client, o2, set_data("1"));
  EXPECT_EQ(*r, OperationResult::kUnchanged);
  r = create_or_update(env.client, o2, set_data("2"));
  EXPECT_EQ(*r, OperationResult::kUpdated);
  EXPECT_EQ(o2.get_string("/data/k"), "2");
}

TEST(Helpers, CreateOrPatchSendsOnlyTheDifference) {
  Env env;
  api::Object o = env.cm("cp");
  auto r = create_or_patch(env.client, o, [](api::Object& x) {
    x.set_label("a", "1");
    return x.set_string("/data/k", "1");
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, OperationResult::kCreated);
  api::Object o2 = env.cm("cp");
  r = create_or_patch(env.client, o2, [](api::Object& x) {
    x.remove_label("a");
    return x.set_string("/data/j", "2");
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, OperationResult::kUpdated);
  EXPECT_EQ(o2.get_string("/data/k"), "1");
  EXPECT_EQ(o2.get_string("/data/j"), "2");
  EXPECT_FALSE(o2.has_label("a"));
  auto from = api::Object::parse(R"({"a":1,"b":{"c":2,"d":3},"e":[1]})");
  auto to = api::Object::parse(R"({"a":1,"b":{"c":5},"e":[1,2],"f":"x"})");
  EXPECT_EQ(merge_patch(from->doc(), to->doc()), R"({"b":{"c":5,"d":null},"e":[1,2],"f":"x"})");
}

}  // namespace
}  // namespace kop::manager
