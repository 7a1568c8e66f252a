// Store core: create/get/update semantics, resourceVersion, uid, generation, status subresource,
// namespaces, no-op updates.
#include <gtest/gtest.h>

#include <set>

#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

// kop::local reads request bodies with libkop's exact number reader: "0e300" is 0 (RapidJSON's
// full-precision flag, used here before, read it as -2.2e-75) and a double survives its dump.
TEST(Json, ReadsNumbersExactly) {
  EXPECT_EQ(json::to_json(J(R"({"z":0e300,"w":0.000e-300})")), R"({"z":0.0,"w":0.0})");
  EXPECT_EQ(json::to_json(J(R"({"n":34028236692093846346})")), R"({"n":34028236692093847000.0})");
  EXPECT_EQ(json::to_json(J(R"({"i":-2147483649,"u":18446744073709551615})")),
            R"({"i":-2147483649,"u":18446744073709551615})");
  std::string error;
  EXPECT_FALSE(json::parse(R"({"n":1e400})", &error).has_value());
  EXPECT_EQ(error, "Number too big to be stored in double. at offset 5");
}

TEST(Store, StartsLikeANewCluster) {
  Store s;
  auto ns = type(s, "", "v1", "namespaces");
  for (auto n : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    auto r = s.get(*ns, "", n);
    ASSERT_TRUE(r.ok()) << n;
    EXPECT_EQ(json::path_string((*r)->doc(), {"status", "phase"}), "Active");
    EXPECT_EQ(json::path_string((*r)->doc(), {"spec", "finalizers"}).size(), 0u);
    EXPECT_EQ(json::to_json(*json::path((*r)->doc(), {"spec", "finalizers"})), R"(["kubernetes"])");
  }
}

TEST(Store, CreateFillsSystemFields) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  uint64_t before = s.current_resource_version();
  auto r = s.create(*cm, "default", configmap("a"));
  ASSERT_TRUE(r.ok()) << api(r.status()).message;
  const auto& o = *r;
  EXPECT_EQ(rv(o), std::to_string(before + 1));
  std::string uid(meta(o, "uid"));
  ASSERT_EQ(uid.size(), 36u);
  EXPECT_EQ(uid[14], '4');  // v4
  EXPECT_TRUE(uid[19] == '8' || uid[19] == '9' || uid[19] == 'a' || uid[19] == 'b');
  std::string ts(meta(o, "creationTimestamp"));
  ASSERT_EQ(ts.size(), 20u) << ts;  // 2026-01-02T03:04:05Z
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(meta(o, "namespace"), "default");
  EXPECT_EQ(json::string_or_empty(&(o->doc()), "kind"), "ConfigMap");
  // ConfigMaps do not track generation (the API server leaves it unset).
  EXPECT_EQ(json::path(o->doc(), {"metadata", "generation"}), nullptr);

  auto g = s.get(*cm, "default", "a");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(S(*g), S(o));
}

TEST(Store, ResourceVersionIsGlobalAndMonotonic) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto sec = type(s, "", "v1", "secrets");
  std::set<uint64_t> seen;
  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    auto a = s.create(*cm, "default", configmap("c" + std::to_string(i)));
    auto b =
        s.create(*sec, "default", J(R"({"metadata":{"name":"s)" + std::to_string(i) + R"("}})"));
    ASSERT_TRUE(a.ok() && b.ok());
    uint64_t ra = std::stoull(std::string(rv(*a))), rb = std::stoull(std::string(rv(*b)));
    EXPECT_GT(ra, last);
    EXPECT_GT(rb, ra);
    last = rb;
  }
}

TEST(Store, AlreadyExistsAndNotFound) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  ASSERT_TRUE(s.create(*cm, "default", configmap("a")).ok());
  auto dup = s.create(*cm, "default", configmap("a"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(api(dup.status()).code, 409);
  EXPECT_EQ(api(dup.status()).reason, "AlreadyExists");
  EXPECT_EQ(api(dup.status()).message, R"(configmaps "a" already exists)");
  auto nf = s.get(*cm, "default", "zz");
  ASSERT_FALSE(nf.ok());
  EXPECT_EQ(api(nf.status()).code, 404);
  EXPECT_EQ(api(nf.status()).message, R"(configmaps "zz" not found)");
  EXPECT_EQ(
      client::to_json(api(nf.status())),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"zz\" not found","reason":"NotFound","details":{"name":"zz","kind":"configmaps"},"code":404})");
  auto ing = type(s, "networking.k8s.io", "v1", "ingresses");
  auto nf2 = s.get(*ing, "default", "x");
  EXPECT_EQ(api(nf2.status()).message, R"(ingresses.networking.k8s.io "x" not found)");
  EXPECT_EQ(api(nf2.status()).details->group, "networking.k8s.io");
}

TEST(Store, GenerateName) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto r = s.create(*cm, "default", J(R"({"metadata":{"generateName":"web-"}})"));
  ASSERT_TRUE(r.ok()) << api(r.status()).message;
  std::string name(meta(*r, "name"));
  EXPECT_EQ(name.size(), 9u);
  EXPECT_EQ(name.substr(0, 4), "web-");
  auto none = s.create(*cm, "default", J(R"({"metadata":{}})"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(api(none.status()).code, 422);
  EXPECT_EQ(
      api(none.status()).message,
      R"(ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required)");
}

TEST(Store, MissingAndTerminatingNamespace) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto ns = type(s, "", "v1", "namespaces");
  auto r = s.create(*cm, "nope", configmap("a", "nope"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api(r.status()).code, 404);
  EXPECT_EQ(api(r.status()).message, R"(namespaces "nope" not found)");
  EXPECT_EQ(api(r.status()).details->kind, "namespaces");

  ASSERT_TRUE(s.create(*ns, "", J(R"({"metadata":{"name":"t"}})")).ok());
  // A finalizer on the content keeps the namespace terminating.
  ASSERT_TRUE(
      s.create(*cm, "t", J(R"({"metadata":{"name":"held","finalizers":["example.com/x"]}})")).ok());
  auto d = s.remove(*ns, "", "t");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->removed);
  auto got = s.get(*ns, "", "t");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(json::path_string((*got)->doc(), {"status", "phase"}), "Terminating");
  auto refused = s.create(*cm, "t", configmap("b", "t"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(api(refused.status()).code, 403);
  EXPECT_EQ(
      api(refused.status()).message,
      R"(configmaps "b" is forbidden: unable to create new content in namespace t because it is being terminated)");
  ASSERT_EQ(api(refused.status()).details->causes.size(), 1u);
  EXPECT_EQ(api(refused.status()).details->causes[0].type, "NamespaceTerminating");
  EXPECT_EQ(api(refused.status()).details->causes[0].field, "metadata.namespace");
  // Removing the finalizer lets the content and then the namespace go.
  auto held = s.get(*cm, "t", "held");
  ASSERT_TRUE(held.ok());
  EXPECT_FALSE(meta(*held, "deletionTimestamp").empty());
  ASSERT_TRUE(
      s.patch(*cm, "t", "held", PatchType::kJsonMerge, R"({"metadata":{"finalizers":null}})").ok());
  EXPECT_FALSE(s.get(*cm, "t", "held").ok());
  EXPECT_FALSE(s.get(*ns, "", "t").ok());
}

// As the API server's Namespace defaulting: every Namespace is labelled
// kubernetes.io/metadata.name=<its name>, and an update cannot drop or change that label
// (Gateway API listeners select namespaces by it; upstream GatewayWithAttachedRoutes).
TEST(Store, NamespacesAreLabelledWithTheirName) {
  Store s;
  auto ns = type(s, "", "v1", "namespaces");
  auto label = [&](std::string_view name) {
    auto got = s.get(*ns, "", name);
    return got.ok() ? std::string(json::path_string(
                          (*got)->doc(), {"metadata", "labels", "kubernetes.io/metadata.name"}))
                    : std::string("missing");
  };
  EXPECT_EQ(label("default"), "default");
  ASSERT_TRUE(s.create(*ns, "", J(R"({"metadata":{"name":"t","labels":{"team":"a"}}})")).ok());
  EXPECT_EQ(label("t"), "t");
  ASSERT_TRUE(
      s.update(*ns, "", "t",
               J(R"({"metadata":{"name":"t","labels":{"kubernetes.io/metadata.name":"x"}}})"))
          .ok());
  EXPECT_EQ(label("t"), "t");
  ASSERT_TRUE(s.update(*ns, "", "t", J(R"({"metadata":{"name":"t"}})")).ok());
  EXPECT_EQ(label("t"), "t");
}

TEST(Store, ImmortalNamespaces) {
  Store s;
  auto ns = type(s, "", "v1", "namespaces");
  auto r = s.remove(*ns, "", "default");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api(r.status()).code, 403);
  EXPECT_EQ(api(r.status()).message,
            R"(namespaces "default" is forbidden: this namespace may not be deleted)");
}

TEST(Store, OptimisticConcurrency) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto a = s.create(*cm, "default", configmap("a"));
  ASSERT_TRUE(a.ok());
  JsonDoc d = json::clone((*a)->doc());
  json::set_string(*json::find(d, "data"), "k", "v2", d.GetAllocator());
  JsonDoc stale = json::clone(d);
  auto u = s.update(*cm, "default", "a", std::move(d));
  ASSERT_TRUE(u.ok()) << api(u.status()).message;
  EXPECT_NE(rv(*u), rv(*a));
  auto c = s.update(*cm, "default", "a", std::move(stale));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(api(c.status()).code, 409);
  EXPECT_EQ(api(c.status()).reason, "Conflict");
  EXPECT_EQ(
      api(c.status()).message,
      R"(Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your changes to the latest version and try again)");
  // Without a resourceVersion the update is unconditional.
  auto unc = s.update(*cm, "default", "a", J(R"({"metadata":{"name":"a"},"data":{"k":"v3"}})"));
  ASSERT_TRUE(unc.ok()) << api(unc.status()).message;
  EXPECT_EQ(json::path_string((*unc)->doc(), {"data", "k"}), "v3");
  EXPECT_EQ(meta(*unc, "uid"), meta(*a, "uid"));
  EXPECT_EQ(meta(*unc, "creationTimestamp"), meta(*a, "creationTimestamp"));
  // Update of a missing object is NotFound.
  auto nf = s.update(*cm, "default", "zz", J(R"({"metadata":{"name":"zz"}})"));
  EXPECT_EQ(api(nf.status()).code, 404);
  // Name mismatch is a bad request.
  auto bad = s.update(*cm, "default", "a", J(R"({"metadata":{"name":"b"}})"));
  EXPECT_EQ(api(bad.status()).code, 400);
  EXPECT_EQ(api(bad.status()).message,
            "the name of the object (b) does not match the name on the URL (a)");
}

TEST(Store, NoOpUpdateWritesNothing) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto a = s.create(*cm, "default", configmap("a"));
  ASSERT_TRUE(a.ok());
  uint64_t before = s.current_resource_version();
  auto u = s.update(*cm, "default", "a", json::clone((*a)->doc()));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(rv(*u), rv(*a));
  EXPECT_EQ(s.current_resource_version(), before);
  auto p = s.patch(*cm, "default", "a", PatchType::kJsonMerge, R"({"data":{"k":"v"}})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(rv(*p), rv(*a));
}

TEST(Store, GenerationBumpsOnSpecChangeOnly) {
  Store s;
  auto dep = type(s, "apps", "v1", "deployments");
  auto a = s.create(
      *dep, "default",
      J(R"({"metadata":{"name":"d"},"spec":{"replicas":1,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}})"));
  ASSERT_TRUE(a.ok()) << api(a.status()).message;
  EXPECT_EQ(json::path((*a)->doc(), {"metadata", "generation"})->GetInt64(), 1);
  auto l =
      s.patch(*dep, "default", "d", PatchType::kJsonMerge, R"({"metadata":{"labels":{"x":"y"}}})");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(json::path((*l)->doc(), {"metadata", "generation"})->GetInt64(), 1);
  auto st =
      s.patch_status(*dep, "default", "d", PatchType::kJsonMerge, R"({"status":{"replicas":3}})");
  ASSERT_TRUE(st.ok()) << api(st.status()).message;
  EXPECT_EQ(json::path((*st)->doc(), {"metadata", "generation"})->GetInt64(), 1);
  auto sp = s.patch(*dep, "default", "d", PatchType::kJsonMerge, R"({"spec":{"replicas":2}})");
  ASSERT_TRUE(sp.ok());
  EXPECT_EQ(json::path((*sp)->doc(), {"metadata", "generation"})->GetInt64(), 2);
}

TEST(Store, StatusSubresourceSeparation) {
  Store s;
  auto ing = type(s, "networking.k8s.io", "v1", "ingresses");
  auto a = s.create(
      *ing, "default",
      J(R"({"metadata":{"name":"i"},"spec":{"defaultBackend":{"service":{"name":"s","port":{"number":80}}}},"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}})"));
  ASSERT_TRUE(a.ok()) << api(a.status()).message;
  // Status is cleared on create.
  EXPECT_EQ(json::to_json(*json::find((*a)->doc(), "status")), R"({"loadBalancer":{}})");
  // A main-resource write ignores status.
  auto m = s.patch(*ing, "default", "i", PatchType::kJsonMerge,
                   R"({"status":{"loadBalancer":{"ingress":[{"ip":"9.9.9.9"}]}}})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(json::to_json(*json::find((*m)->doc(), "status")), R"({"loadBalancer":{}})");
  // A status write changes only status.
  auto st = s.patch_status(
      *ing, "default", "i", PatchType::kJsonMerge,
      R"({"spec":{"defaultBackend":null},"metadata":{"labels":{"x":"y"}},"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}})");
  ASSERT_TRUE(st.ok()) << api(st.status()).message;
  EXPECT_EQ(json::to_json(*json::find((*st)->doc(), "status")),
            R"({"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}})");
  EXPECT_NE(json::path((*st)->doc(), {"spec", "defaultBackend"}), nullptr);
  EXPECT_EQ(json::path((*st)->doc(), {"metadata", "labels"}), nullptr);
  // Kinds without the subresource have no /status.
  auto cm = type(s, "", "v1", "configmaps");
  EXPECT_EQ(api(s.update_status(*cm, "default", "x", J("{}")).status()).code, 404);
}

TEST(Store, ResourceVersionMustNotBeSetOnCreate) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto r = s.create(*cm, "default", J(R"({"metadata":{"name":"a","resourceVersion":"5"}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api(r.status()).code, 500);
  EXPECT_EQ(api(r.status()).message,
            "Internal error occurred: resourceVersion should not be set on objects to be created");
}

TEST(Store, TypeMismatchIsBadRequest) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto r =
      s.create(*cm, "default", J(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api(r.status()).code, 400);
}

TEST(Store, FinalizersKeepObjectUntilEmptied) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  ASSERT_TRUE(
      s.create(*cm, "default",
               J(R"({"metadata":{"name":"f","finalizers":["example.com/a","example.com/b"]}})"))
          .ok());
  auto d = s.remove(*cm, "default", "f");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->removed);
  EXPECT_FALSE(meta(d->object, "deletionTimestamp").empty());
  EXPECT_EQ(json::path(d->object->doc(), {"metadata", "deletionGracePeriodSeconds"})->GetInt64(),
            0);
  // New finalizers cannot be added while deleting.
  auto add =
      s.patch(*cm, "default", "f", PatchType::kJsonMerge,
              R"({"metadata":{"finalizers":["example.com/a","example.com/b","example.com/c"]}})");
  ASSERT_FALSE(add.ok());
  EXPECT_EQ(api(add.status()).code, 422);
  EXPECT_EQ(
      api(add.status()).details->causes[0].message,
      R"(Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/c"})");
  ASSERT_TRUE(s.patch(*cm, "default", "f", PatchType::kJsonPatch,
                      R"([{"op":"remove","path":"/metadata/finalizers/0"}])")
                  .ok());
  EXPECT_TRUE(s.get(*cm, "default", "f").ok());
  ASSERT_TRUE(s.patch(*cm, "default", "f", PatchType::kJsonPatch,
                      R"([{"op":"remove","path":"/metadata/finalizers"}])")
                  .ok());
  EXPECT_EQ(api(s.get(*cm, "default", "f").status()).code, 404);
}

TEST(Store, DeletePreconditions) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto a = s.create(*cm, "default", configmap("a"));
  DeleteOptions o;
  o.precondition_uid = "nope";
  auto r = s.remove(*cm, "default", "a", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api(r.status()).code, 409);
  o.precondition_uid = std::string(meta(*a, "uid"));
  o.precondition_resource_version = std::string(rv(*a));
  auto ok = s.remove(*cm, "default", "a", o);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->removed);
}

TEST(Store, GetWithResourceVersion) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  ASSERT_TRUE(s.create(*cm, "default", configmap("a")).ok());
  GetOptions o;
  o.resource_version = "0";
  EXPECT_TRUE(s.get(*cm, "default", "a", o).ok());
  o.resource_version = std::to_string(s.current_resource_version() + 100);
  auto r = s.get(*cm, "default", "a", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api(r.status()).code, 504);
  EXPECT_EQ(api(r.status()).details->causes[0].type, "ResourceVersionTooLarge");
}

TEST(Store, DryRunStoresNothing) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  uint64_t before = s.current_resource_version();
  CreateOptions o;
  o.dry_run = true;
  auto r = s.create(*cm, "default", configmap("a"), o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(s.current_resource_version(), before);
  EXPECT_FALSE(s.get(*cm, "default", "a").ok());
}

TEST(Store, ConcurrentWritersGetDistinctVersions) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  std::vector<std::thread> ts;
  ts.reserve(4);
  std::mutex mu;
  std::set<std::string> rvs;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r =
            s.create(*cm, "default", configmap("t" + std::to_string(t) + "-" + std::to_string(i)));
        ASSERT_TRUE(r.ok());
        std::lock_guard<std::mutex> l(mu);
        rvs.insert(std::string(rv(*r)));
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(rvs.size(), 200u);
}

}  // namespace
}  // namespace kop::local
