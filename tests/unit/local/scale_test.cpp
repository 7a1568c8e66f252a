// The scale subresource over REST: Deployment's and a CRD's (subresources.scale), read, replaced
// and patched as kubectl scale does, validated, guarded by resourceVersion, and in discovery.
#include <gtest/gtest.h>

#include "rest.h"
#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

class Scale : public ::testing::Test {
 protected:
  rest::Response call(std::string method, std::string target, std::string body = {},
                      std::string content_type = "application/json") {
    rest::Request r{std::move(method), std::move(target), {}, std::move(body)};
    if (!r.body.empty()) r.headers["content-type"] = std::move(content_type);
    return rest::handle(store, opts, r);
  }
  void SetUp() override {
    ASSERT_EQ(call("POST", "/apis/apps/v1/namespaces/default/deployments", R"({
      "metadata":{"name":"web"},
      "spec":{"selector":{"matchLabels":{"app":"web"},
                          "matchExpressions":[{"key":"tier","operator":"In","values":["a"]}]},
              "template":{"metadata":{"labels":{"app":"web","tier":"a"}},
                          "spec":{"containers":[{"name":"c","image":"nginx"}]}}}})")
                  .status,
              201);
  }
  static constexpr const char* kScale = "/apis/apps/v1/namespaces/default/deployments/web/scale";
  Store store;
  rest::Options opts{"", "127.0.0.1:6443"};
};

TEST_F(Scale, DeploymentScaleIsAViewOfTheObject) {
  auto g = call("GET", kScale);
  ASSERT_EQ(g.status, 200) << g.body;
  JsonDoc s = J(g.body);
  EXPECT_EQ(json::path_string(s, {"kind"}), "Scale");
  EXPECT_EQ(json::path_string(s, {"apiVersion"}), "autoscaling/v1");
  EXPECT_EQ(json::to_json(*json::path(s, {"spec"})), R"({"replicas":1})");
  EXPECT_EQ(json::to_json(*json::path(s, {"status"})),
            R"x({"replicas":0,"selector":"app=web,tier in (a)"})x");
  auto d = J(call("GET", "/apis/apps/v1/namespaces/default/deployments/web").body);
  EXPECT_EQ(json::path_string(s, {"metadata", "resourceVersion"}),
            json::path_string(d, {"metadata", "resourceVersion"}));
  EXPECT_EQ(json::path_string(s, {"metadata", "uid"}), json::path_string(d, {"metadata", "uid"}));
}

TEST_F(Scale, PatchAndReplaceWriteOnlyTheReplicas) {
  // kubectl scale: a merge patch of the Scale.
  auto p = call("PATCH", kScale, R"({"spec":{"replicas":3}})", "application/merge-patch+json");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(json::to_json(*json::path(J(p.body), {"spec", "replicas"})), "3");
  auto d = J(call("GET", "/apis/apps/v1/namespaces/default/deployments/web").body);
  EXPECT_EQ(json::to_json(*json::path(d, {"spec", "replicas"})), "3");
  EXPECT_EQ(json::to_json(*json::path(d, {"metadata", "generation"})), "2");
  // PUT with the current resourceVersion, then with a stale one: 409.
  std::string rv(json::path_string(J(p.body), {"metadata", "resourceVersion"}));
  auto put = call("PUT", kScale,
                  R"({"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web",
                      "resourceVersion":")" +
                      rv + R"("},"spec":{"replicas":0}})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(json::to_json(*json::path(J(put.body), {"spec", "replicas"})), "0");
  auto stale = call(
      "PUT", kScale,
      R"({"metadata":{"name":"web","resourceVersion":")" + rv + R"("},"spec":{"replicas":5}})");
  EXPECT_EQ(stale.status, 409) << stale.body;
  // A JSON patch works on the Scale too.
  auto jp = call("PATCH", kScale, R"([{"op":"replace","path":"/spec/replicas","value":2}])",
                 "application/json-patch+json");
  ASSERT_EQ(jp.status, 200) << jp.body;
  EXPECT_EQ(json::to_json(*json::path(J(jp.body), {"spec", "replicas"})), "2");
}

TEST_F(Scale, InvalidReplicasAre422AndNothingChanges) {
  auto bad = call("PATCH", kScale, R"({"spec":{"replicas":-1}})", "application/merge-patch+json");
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(
      json::path_string(J(bad.body), {"message"}),
      R"(Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0)");
  EXPECT_EQ(
      call("PATCH", kScale, R"({"spec":{"replicas":"x"}})", "application/merge-patch+json").status,
      422);
  auto d = J(call("GET", "/apis/apps/v1/namespaces/default/deployments/web").body);
  EXPECT_EQ(json::to_json(*json::path(d, {"spec", "replicas"})), "1");
  EXPECT_EQ(call("GET", "/apis/apps/v1/namespaces/default/deployments/nope/scale").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/configmaps/web/scale").status, 404);
  EXPECT_EQ(call("DELETE", kScale).status, 405);
}

TEST_F(Scale, CustomResourceWithScaleSubresource) {
  ASSERT_EQ(call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", R"({
    "metadata":{"name":"pools.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"pools","singular":"pool","kind":"Pool"},
      "versions":[{"name":"v1","served":true,"storage":true,
        "subresources":{"status":{},"scale":{"specReplicasPath":".spec.size",
          "statusReplicasPath":".status.ready","labelSelectorPath":".status.selector"}},
        "schema":{"openAPIV3Schema":{"type":"object","properties":{
          "spec":{"type":"object","properties":{"size":{"type":"integer"}}},
          "status":{"type":"object","properties":{"ready":{"type":"integer"},
                                                  "selector":{"type":"string"}}}}}}}]}})")
                .status,
            201);
  ASSERT_EQ(call("POST", "/apis/example.com/v1/namespaces/default/pools",
                 R"({"apiVersion":"example.com/v1","kind":"Pool","metadata":{"name":"p"},
                     "spec":{"size":2}})")
                .status,
            201);
  ASSERT_EQ(call("PATCH", "/apis/example.com/v1/namespaces/default/pools/p/status",
                 R"({"status":{"ready":1,"selector":"app=p"}})", "application/merge-patch+json")
                .status,
            200);
  auto g = call("GET", "/apis/example.com/v1/namespaces/default/pools/p/scale");
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(json::to_json(*json::path(J(g.body), {"spec"})), R"({"replicas":2})");
  EXPECT_EQ(json::to_json(*json::path(J(g.body), {"status"})),
            R"({"replicas":1,"selector":"app=p"})");
  auto p = call("PATCH", "/apis/example.com/v1/namespaces/default/pools/p/scale",
                R"({"spec":{"replicas":5}})", "application/merge-patch+json");
  ASSERT_EQ(p.status, 200) << p.body;
  auto obj = J(call("GET", "/apis/example.com/v1/namespaces/default/pools/p").body);
  EXPECT_EQ(json::to_json(*json::path(obj, {"spec", "size"})), "5");
  // Discovery lists pools/scale as autoscaling/v1 Scale, as kubectl's scale client looks it up.
  auto disc = J(call("GET", "/apis/example.com/v1").body);
  bool listed = false;
  for (auto& r : disc["resources"].GetArray()) {
    if (json::string_or_empty(&r, "name") != "pools/scale") continue;
    listed = true;
    EXPECT_EQ(json::string_or_empty(&r, "group"), "autoscaling");
    EXPECT_EQ(json::string_or_empty(&r, "kind"), "Scale");
  }
  EXPECT_TRUE(listed);
}

}  // namespace
}  // namespace kop::local
