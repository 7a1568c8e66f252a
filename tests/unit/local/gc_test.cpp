// Garbage collection by ownerReferences: background, foreground and orphan propagation, owners
// that are gone, several owners; namespace deletion.
#include <gtest/gtest.h>

#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

class Gc : public ::testing::Test {
 protected:
  Store s;
  ResourceTypePtr cm = type(s, "", "v1", "configmaps");
  ObjectPtr make(const std::string& name, const std::string& owners = "[]",
                 const std::string& fins = "[]") {
    auto r = s.create(*cm, "default",
                      J(R"({"metadata":{"name":")" + name + R"(","ownerReferences":)" + owners +
                        R"(,"finalizers":)" + fins + "}}"));
    EXPECT_TRUE(r.ok()) << api(r.status()).message;
    return r.ok() ? *r : nullptr;
  }
  std::string ref(const ObjectPtr& o, bool block = false) {
    return R"({"apiVersion":"v1","kind":"ConfigMap","name":")" + std::string(meta(o, "name")) +
           R"(","uid":")" + std::string(meta(o, "uid")) + R"(")" +
           (block ? R"(,"blockOwnerDeletion":true)" : "") + "}";
  }
  bool exists(std::string_view name) { return s.get(*cm, "default", name).ok(); }
};

TEST_F(Gc, BackgroundDeletesDependents) {
  auto owner = make("owner");
  make("child", "[" + ref(owner) + "]");
  auto grandchild_owner = s.get(*cm, "default", "child");
  make("grandchild", "[" + ref(*grandchild_owner) + "]");
  ASSERT_TRUE(s.remove(*cm, "default", "owner").ok());
  EXPECT_FALSE(exists("owner"));
  EXPECT_FALSE(exists("child"));
  EXPECT_FALSE(exists("grandchild"));
}

TEST_F(Gc, DependentWithAnotherLiveOwnerLosesOnlyTheDanglingReference) {
  auto a = make("a");
  auto b = make("b");
  make("shared", "[" + ref(a) + "," + ref(b) + "]");
  ASSERT_TRUE(s.remove(*cm, "default", "a").ok());
  auto sh = s.get(*cm, "default", "shared");
  ASSERT_TRUE(sh.ok());
  const JsonValue* refs = json::path((*sh)->doc(), {"metadata", "ownerReferences"});
  ASSERT_TRUE(refs && refs->Size() == 1);
  EXPECT_EQ(json::string_or_empty(&((*refs)[0]), "name"), "b");
}

TEST_F(Gc, DanglingOwnerAtCreateIsCollected) {
  make(
      "orphaned",
      R"([{"apiVersion":"v1","kind":"ConfigMap","name":"ghost","uid":"00000000-0000-4000-8000-000000000000"}])");
  EXPECT_FALSE(exists("orphaned"));
  // An owner of a kind the store does not know is left alone.
  make("unknown-kind", R"([{"apiVersion":"example.com/v1","kind":"Nope","name":"x","uid":"u"}])");
  EXPECT_TRUE(exists("unknown-kind"));
}

TEST_F(Gc, ForegroundWaitsForBlockingDependents) {
  auto owner = make("owner");
  make("blocker", "[" + ref(owner, true) + "]", R"(["example.com/hold"])");
  make("plain", "[" + ref(owner) + "]");
  WatchOptions wo;
  wo.resource_version = std::to_string(s.current_resource_version());
  auto w = s.watch(*cm, "default", wo);
  DeleteOptions o;
  o.propagation_policy = client::PropagationPolicy::kForeground;
  auto d = s.remove(*cm, "default", "owner", o);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->removed);
  EXPECT_EQ(json::to_json(*json::path(d->object->doc(), {"metadata", "finalizers"})),
            R"(["foregroundDeletion"])");
  EXPECT_FALSE(meta(d->object, "deletionTimestamp").empty());
  // Dependents are being deleted; the owner stays while the blocking one is there.
  EXPECT_FALSE(exists("plain"));
  auto blocker = s.get(*cm, "default", "blocker");
  ASSERT_TRUE(blocker.ok());
  EXPECT_FALSE(meta(*blocker, "deletionTimestamp").empty());
  EXPECT_TRUE(exists("owner"));
  ASSERT_TRUE(s.patch(*cm, "default", "blocker", PatchType::kJsonMerge,
                      R"({"metadata":{"finalizers":null}})")
                  .ok());
  EXPECT_FALSE(exists("blocker"));
  EXPECT_FALSE(exists("owner"));
  // The owner's last event is DELETED.
  std::optional<WatchEvent> last;
  while (auto e = next(*w, 50)) {
    if (meta(e->object, "name") == "owner") last = e;
  }
  ASSERT_TRUE(last);
  EXPECT_EQ(last->type, WatchEvent::Type::kDeleted);
}

TEST_F(Gc, OrphanRemovesReferences) {
  auto owner = make("owner");
  make("child", "[" + ref(owner) + "]");
  DeleteOptions o;
  o.propagation_policy = client::PropagationPolicy::kOrphan;
  auto d = s.remove(*cm, "default", "owner", o);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(exists("owner"));
  auto child = s.get(*cm, "default", "child");
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(json::path((*child)->doc(), {"metadata", "ownerReferences"}), nullptr);
}

TEST_F(Gc, OrphanWaitsForOtherFinalizers) {
  auto owner = make("owner", "[]", R"(["example.com/keep"])");
  make("child", "[" + ref(owner) + "]");
  DeleteOptions o;
  o.propagation_policy = client::PropagationPolicy::kOrphan;
  ASSERT_TRUE(s.remove(*cm, "default", "owner", o).ok());
  auto got = s.get(*cm, "default", "owner");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(json::to_json(*json::path((*got)->doc(), {"metadata", "finalizers"})),
            R"(["example.com/keep"])");
  EXPECT_EQ(json::path((*s.get(*cm, "default", "child"))->doc(), {"metadata", "ownerReferences"}),
            nullptr);
}

TEST_F(Gc, NamespaceDeletionRemovesContentThenNamespace) {
  auto ns = type(s, "", "v1", "namespaces");
  ASSERT_TRUE(s.create(*ns, "", J(R"({"metadata":{"name":"team"}})")).ok());
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(s.create(*cm, "team", configmap("c" + std::to_string(i), "team")).ok());
  auto sec = type(s, "", "v1", "secrets");
  ASSERT_TRUE(s.create(*sec, "team", J(R"({"metadata":{"name":"s"}})")).ok());
  WatchOptions wo;
  wo.resource_version = std::to_string(s.current_resource_version());
  auto w = s.watch(*ns, "", wo);
  auto d = s.remove(*ns, "", "team");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(json::path_string(d->object->doc(), {"status", "phase"}), "Terminating");
  EXPECT_FALSE(s.get(*ns, "", "team").ok());
  EXPECT_TRUE(s.list(*cm, "team")->items.empty());
  EXPECT_TRUE(s.list(*sec, "team")->items.empty());
  auto e1 = next(*w);
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->type, WatchEvent::Type::kModified);
  EXPECT_EQ(json::path_string(e1->object->doc(), {"status", "phase"}), "Terminating");
  std::optional<WatchEvent> last;
  while (auto e = next(*w, 50)) last = e;
  ASSERT_TRUE(last);
  EXPECT_EQ(last->type, WatchEvent::Type::kDeleted);
}

}  // namespace
}  // namespace kop::local
