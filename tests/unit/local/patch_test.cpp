// Patches: JSON merge patch, JSON patch, strategic merge patch (built-in merge keys and
// directives), server-side apply with managedFields and conflicts.
#include <gtest/gtest.h>

#include "patch.h"
#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

std::string dump(const absl::StatusOr<JsonDoc>& r) {
  return r.ok() ? json::to_json(*r) : "ERR " + api(r.status()).message;
}

TEST(MergePatch, Rfc7386) {
  auto orig = J(R"({"a":"b","c":{"d":"e","f":"g"},"l":[1,2]})");
  EXPECT_EQ(dump(patch::merge(orig, R"({"a":"z","c":{"f":null},"l":[3]})")),
            R"({"a":"z","c":{"d":"e"},"l":[3]})");
  EXPECT_EQ(dump(patch::merge(orig, R"({"n":{"x":{"y":null,"z":1}}})")),
            R"({"a":"b","c":{"d":"e","f":"g"},"l":[1,2],"n":{"x":{"z":1}}})");
  EXPECT_FALSE(patch::merge(orig, "{bad").ok());
}

TEST(JsonPatch, Rfc6902) {
  auto orig = J(R"({"a":{"b":[1,2,3]},"c":"d"})");
  EXPECT_EQ(dump(patch::json_patch(orig, R"([{"op":"add","path":"/a/b/1","value":9}])")),
            R"({"a":{"b":[1,9,2,3]},"c":"d"})");
  EXPECT_EQ(dump(patch::json_patch(orig, R"([{"op":"add","path":"/a/b/-","value":4}])")),
            R"({"a":{"b":[1,2,3,4]},"c":"d"})");
  EXPECT_EQ(
      dump(patch::json_patch(
          orig, R"([{"op":"remove","path":"/a/b/0"},{"op":"replace","path":"/c","value":"e"}])")),
      R"({"a":{"b":[2,3]},"c":"e"})");
  EXPECT_EQ(dump(patch::json_patch(orig, R"([{"op":"move","from":"/c","path":"/e"}])")),
            R"({"a":{"b":[1,2,3]},"e":"d"})");
  EXPECT_EQ(dump(patch::json_patch(orig, R"([{"op":"copy","from":"/c","path":"/a/x"}])")),
            R"({"a":{"b":[1,2,3],"x":"d"},"c":"d"})");
  EXPECT_EQ(dump(patch::json_patch(J(R"({"a~b":{"c/d":1}})"),
                                   R"([{"op":"replace","path":"/a~0b/c~1d","value":2}])")),
            R"({"a~b":{"c/d":2}})");
  auto t = patch::json_patch(orig, R"([{"op":"test","path":"/c","value":"x"}])");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(api(t.status()).code, 422);
  EXPECT_TRUE(patch::json_patch(orig, R"([{"op":"test","path":"/c","value":"d"}])").ok());
  EXPECT_EQ(api(patch::json_patch(orig, R"([{"op":"remove","path":"/zz"}])").status()).code, 422);
  EXPECT_EQ(api(patch::json_patch(orig, R"({"op":"add"})").status()).code, 400);
}

class Smp : public ::testing::Test {
 protected:
  Store s;
  std::string smp(std::string_view resource, std::string_view group, std::string_view orig,
                  std::string_view p) {
    auto t = s.registry().by_resource(group, "v1", resource);
    return dump(patch::strategic(*t, J(orig), p));
  }
};

TEST_F(Smp, ContainersMergeByName) {
  std::string dep =
      R"({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1","env":[{"name":"X","value":"1"}],"ports":[{"containerPort":80}]},{"name":"b","image":"b:1"}]}}}})";
  EXPECT_EQ(
      smp("deployments", "apps", dep,
          R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"b:2"}]}}}})"),
      R"({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1","env":[{"name":"X","value":"1"}],"ports":[{"containerPort":80}]},{"name":"b","image":"b:2"}]}}}})");
  // env by name, ports by containerPort; new elements come before the untouched ones, as
  // strategicpatch's mergeSortedSlice orders them (checked against kube-apiserver v1.20).
  EXPECT_EQ(
      smp("deployments", "apps", dep,
          R"({"spec":{"template":{"spec":{"containers":[{"name":"a","env":[{"name":"Y","value":"2"}],"ports":[{"containerPort":443}]}]}}}})"),
      R"({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1","env":[{"name":"Y","value":"2"},{"name":"X","value":"1"}],"ports":[{"containerPort":443},{"containerPort":80}]},{"name":"b","image":"b:1"}]}}}})");
  // $patch: delete removes one element; $patch: replace replaces the list.
  EXPECT_EQ(
      smp("deployments", "apps", dep,
          R"({"spec":{"template":{"spec":{"containers":[{"name":"a","$patch":"delete"}]}}}})"),
      R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"b:1"}]}}}})");
  EXPECT_EQ(
      smp("deployments", "apps", dep,
          R"({"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"c","image":"c"}]}}}})"),
      R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"c"}]}}}})");
  // $setElementOrder reorders.
  EXPECT_EQ(
      smp("deployments", "apps", dep,
          R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}}}})"),
      R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"b:1"},{"name":"a","image":"a:1","env":[{"name":"X","value":"1"}],"ports":[{"containerPort":80}]}]}}}})");
}

TEST_F(Smp, ServicePortsByPortAndAtomicIngressRules) {
  EXPECT_EQ(
      smp("services", "",
          R"({"spec":{"ports":[{"port":80,"name":"http"},{"port":443,"name":"https"}]}})",
          R"({"spec":{"ports":[{"port":443,"targetPort":8443}]}})"),
      R"({"spec":{"ports":[{"port":80,"name":"http"},{"port":443,"name":"https","targetPort":8443}]}})");
  EXPECT_EQ(
      smp("ingresses", "networking.k8s.io", R"({"spec":{"rules":[{"host":"a"},{"host":"b"}]}})",
          R"({"spec":{"rules":[{"host":"c"}]}})"),
      R"({"spec":{"rules":[{"host":"c"}]}})");
}

TEST_F(Smp, FinalizersAreASetAndDirectives) {
  EXPECT_EQ(smp("configmaps", "", R"({"metadata":{"finalizers":["a","b"]}})",
                R"({"metadata":{"finalizers":["b","c"]}})"),
            R"({"metadata":{"finalizers":["a","b","c"]}})");
  EXPECT_EQ(smp("configmaps", "", R"({"metadata":{"finalizers":["a","b"]}})",
                R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}})"),
            R"({"metadata":{"finalizers":["b"]}})");
  EXPECT_EQ(smp("deployments", "apps",
                R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})",
                R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})"),
            R"({"spec":{"strategy":{"type":"Recreate"}}})");
  EXPECT_EQ(smp("configmaps", "", R"({"data":{"a":"1","b":"2"}})",
                R"({"data":{"$patch":"replace","c":"3"}})"),
            R"({"data":{"c":"3"}})");
  EXPECT_EQ(smp("configmaps", "", R"({"data":{"a":"1","b":"2"}})", R"({"data":{"a":null}})"),
            R"({"data":{"b":"2"}})");
}

TEST(Apply, CreateUpdateOwnershipAndConflicts) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  PatchOptions o;
  o.field_manager = "alice";
  auto c = s.patch(*cm, "default", "a", PatchType::kApply,
                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    app: "
                   "x\ndata:\n  one: \"1\"\n  two: \"2\"\n",
                   o);
  ASSERT_TRUE(c.ok()) << api(c.status()).message;
  const JsonValue* mf = json::path((*c)->doc(), {"metadata", "managedFields"});
  ASSERT_TRUE(mf && mf->IsArray() && mf->Size() == 1);
  EXPECT_EQ(json::string_or_empty(&((*mf)[0]), "manager"), "alice");
  EXPECT_EQ(json::string_or_empty(&((*mf)[0]), "operation"), "Apply");
  EXPECT_EQ(
      json::to_json(*json::find((*mf)[0], "fieldsV1")),
      R"({"f:data":{"f:one":{},"f:two":{}},"f:metadata":{"f:labels":{"f:app":{}}}})");  // as v1.20
                                                                                        // records
                                                                                        // it
  // Same manager, fewer fields: the dropped field is removed.
  auto u = s.patch(
      *cm, "default", "a", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"one":"1"}})", o);
  ASSERT_TRUE(u.ok()) << api(u.status()).message;
  EXPECT_EQ(json::to_json(*json::find((*u)->doc(), "data")), R"({"one":"1"})");
  EXPECT_EQ(json::path((*u)->doc(), {"metadata", "labels", "app"}), nullptr);
  // Another manager changing alice's field conflicts...
  PatchOptions b;
  b.field_manager = "bob";
  auto conflict = s.patch(
      *cm, "default", "a", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"one":"X"}})", b);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(api(conflict.status()).code, 409);
  EXPECT_EQ(api(conflict.status()).message,
            R"(Apply failed with 1 conflict: conflict with "alice": .data.one)");
  ASSERT_EQ(api(conflict.status()).details->causes.size(), 1u);
  EXPECT_EQ(api(conflict.status()).details->causes[0].type, "FieldManagerConflict");
  EXPECT_EQ(api(conflict.status()).details->causes[0].field, ".data.one");
  // ... the same value is shared ownership, no conflict ...
  auto shared = s.patch(
      *cm, "default", "a", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"one":"1"}})", b);
  ASSERT_TRUE(shared.ok()) << api(shared.status()).message;
  // ... and force takes it over.
  b.force = true;
  auto forced = s.patch(
      *cm, "default", "a", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"one":"X"}})", b);
  ASSERT_TRUE(forced.ok()) << api(forced.status()).message;
  EXPECT_EQ(json::path_string((*forced)->doc(), {"data", "one"}), "X");
  // An Update by another manager takes the fields it changed; apply then conflicts with it.
  UpdateOptions w;
  w.field_manager = "kubectl-edit";
  auto cur = s.get(*cm, "default", "a");
  JsonDoc d = json::clone((*cur)->doc());
  json::set_string(*json::find(d, "data"), "one", "E", d.GetAllocator());
  ASSERT_TRUE(s.update(*cm, "default", "a", std::move(d), w).ok());
  b.force = false;
  auto c2 = s.patch(
      *cm, "default", "a", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"one":"B"}})", b);
  ASSERT_FALSE(c2.ok());
  EXPECT_EQ(api(c2.status()).message.substr(0, 64),
            R"(Apply failed with 1 conflict: conflict with "kubectl-edit" using)");
  // An Update that creates a map owns the map itself too (".").
  auto created = s.create(*cm, "default",
                          J(R"({"metadata":{"name":"u","labels":{"a":"b"}},"data":{"k":"v"}})"),
                          {w.field_manager, w.dry_run});
  ASSERT_TRUE(created.ok());
  const JsonValue* cmf = json::path((*created)->doc(), {"metadata", "managedFields"});
  ASSERT_TRUE(cmf && cmf->Size() == 1);
  EXPECT_EQ(json::to_json(*json::find((*cmf)[0], "fieldsV1")),
            R"({"f:data":{".":{},"f:k":{}},"f:metadata":{"f:labels":{".":{},"f:a":{}}}})");
  // Apply needs a field manager.
  PatchOptions none;
  EXPECT_EQ(api(s.patch(*cm, "default", "a", PatchType::kApply, "{}", none).status()).code, 400);
}

TEST(Apply, ListMapsMergeByKeyAndNoOpApplyWritesNothing) {
  Store s;
  auto svc = type(s, "", "v1", "services");
  PatchOptions a;
  a.field_manager = "a";
  auto r = s.patch(
      *svc, "default", "web", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":80,"name":"http"}]}})",
      a);
  ASSERT_TRUE(r.ok()) << api(r.status()).message;
  PatchOptions b;
  b.field_manager = "b";
  auto r2 = s.patch(
      *svc, "default", "web", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":443,"name":"https"}]}})",
      b);
  ASSERT_TRUE(r2.ok()) << api(r2.status()).message;
  const JsonValue* ports = json::path((*r2)->doc(), {"spec", "ports"});
  ASSERT_TRUE(ports && ports->Size() == 2) << S(*r2);
  uint64_t before = s.current_resource_version();
  auto r3 = s.patch(
      *svc, "default", "web", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":443,"name":"https"}]}})",
      b);
  ASSERT_TRUE(r3.ok()) << client::to_json(api(r3.status()));
  EXPECT_EQ(s.current_resource_version(), before);
}

TEST(Apply, ListMapItemNoLongerAppliedGoesWhole) {
  // kubectl apply --server-side of a Service with two ports, then with one: the API server drops
  // the whole item (before, its key field went first and a keyless, invalid item stayed).
  Store s;
  auto svc = type(s, "", "v1", "services");
  PatchOptions a;
  a.field_manager = "a";
  auto two = s.patch(
      *svc, "default", "web", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":80,"name":"http","targetPort":8080},{"port":443,"name":"https","targetPort":8443}]}})",
      a);
  ASSERT_TRUE(two.ok()) << api(two.status()).message;
  auto one = s.patch(
      *svc, "default", "web", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":80,"name":"http","targetPort":8080}]}})",
      a);
  ASSERT_TRUE(one.ok()) << api(one.status()).message;
  const JsonValue* ports = json::path((*one)->doc(), {"spec", "ports"});
  ASSERT_TRUE(ports && ports->Size() == 1) << S(*one);
  EXPECT_EQ(json::path_string((*ports)[0], {"name"}), "http");
  std::string fields = json::to_json(*json::path((*one)->doc(), {"metadata", "managedFields"}));
  EXPECT_EQ(fields.find("443"), std::string::npos) << fields;

  // An item another manager also owns stays, with its key; only this manager's fields go.
  PatchOptions b;
  b.field_manager = "b";
  ASSERT_TRUE(
      s.patch(
           *svc, "default", "web", PatchType::kApply,
           R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":80,"name":"http"}]}})",
           b)
          .ok());
  auto none = s.patch(
      *svc, "default", "web", PatchType::kApply,
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":81,"name":"other"}]}})",
      a);
  ASSERT_TRUE(none.ok()) << api(none.status()).message;
  ports = json::path((*none)->doc(), {"spec", "ports"});
  ASSERT_TRUE(ports && ports->Size() == 2) << S(*none);
  EXPECT_EQ(json::path_string((*ports)[0], {"name"}), "http") << S(*none);
  const JsonValue* target = json::find((*ports)[0], "targetPort");
  EXPECT_TRUE(target == nullptr || !target->IsInt() || target->GetInt() != 8080) << S(*none);
}

TEST(Patch, StrategicThroughTheStore) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  ASSERT_TRUE(s.create(*cm, "default", configmap("a")).ok());
  auto r = s.patch(*cm, "default", "a", PatchType::kStrategicMerge,
                   R"({"metadata":{"labels":{"x":"y"}},"data":{"k":null,"n":"m"}})");
  ASSERT_TRUE(r.ok()) << api(r.status()).message;
  EXPECT_EQ(json::to_json(*json::find((*r)->doc(), "data")), R"({"n":"m"})");
  // A patch carrying a stale resourceVersion conflicts.
  auto c = s.patch(*cm, "default", "a", PatchType::kJsonMerge,
                   R"({"metadata":{"resourceVersion":"1"},"data":{"z":"z"}})");
  EXPECT_EQ(api(c.status()).code, 409);
  EXPECT_EQ(api(s.patch(*cm, "default", "zz", PatchType::kJsonMerge, "{}").status()).code, 404);
}

}  // namespace
}  // namespace kop::local
