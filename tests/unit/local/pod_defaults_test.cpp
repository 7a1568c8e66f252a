// What kube-apiserver adds to a created Pod, which kop-local now adds too (found by
// tests/unit/local/kubectl_compare_real.sh and proto_compare_real.py against v1.20):
// SetDefaults_Pod (requests from limits, enableServiceLinks), the default admission plugins
// (ServiceAccount, Priority, DefaultTolerationSeconds) and the QoS class.
#include <gtest/gtest.h>

#include "rest.h"
#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

class PodDefaults : public ::testing::Test {
 protected:
  JsonDoc create(std::string_view body) {
    auto r = rest::handle(store, opts,
                          {"POST",
                           "/api/v1/namespaces/default/pods",
                           {{"content-type", "application/json"}},
                           std::string(body)});
    EXPECT_EQ(r.status, 201) << r.body;
    return J(r.body);
  }
  Store store;
  rest::Options opts{"", "127.0.0.1:6443"};
};

TEST_F(PodDefaults, AsKubeApiserverWritesThem) {
  JsonDoc p = create(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"c",
      "image":"busybox","resources":{"limits":{"cpu":"500m","memory":"64Mi"}}}]}})");
  const JsonValue& spec = p["spec"];
  EXPECT_EQ(
      json::to_json(spec["containers"][0]["resources"]),
      R"({"limits":{"cpu":"500m","memory":"64Mi"},"requests":{"cpu":"500m","memory":"64Mi"}})");
  EXPECT_EQ(json::to_json(spec["enableServiceLinks"]), "true");
  EXPECT_EQ(json::path_string(spec, {"serviceAccountName"}), "default");
  EXPECT_EQ(json::path_string(spec, {"serviceAccount"}), "default");
  EXPECT_EQ(json::to_json(spec["priority"]), "0");
  EXPECT_EQ(json::path_string(spec, {"preemptionPolicy"}), "PreemptLowerPriority");
  EXPECT_EQ(
      json::to_json(spec["tolerations"]),
      R"([{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},)"
      R"({"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}])");
  EXPECT_EQ(json::path_string(p, {"status", "qosClass"}), "Guaranteed");
}

TEST_F(PodDefaults, WhatThePodSaysIsKept) {
  JsonDoc p = create(R"({"metadata":{"name":"q"},"spec":{"serviceAccountName":"robot",
      "enableServiceLinks":false,"tolerations":[{"key":"node.kubernetes.io/unreachable",
      "operator":"Exists","effect":"NoExecute","tolerationSeconds":5}],
      "containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"100m"}}}]}})");
  const JsonValue& spec = p["spec"];
  EXPECT_EQ(json::path_string(spec, {"serviceAccountName"}), "robot");
  EXPECT_EQ(json::path_string(spec, {"serviceAccount"}), "robot");
  EXPECT_EQ(json::to_json(spec["enableServiceLinks"]), "false");
  // The pod's own unreachable toleration stays; only not-ready is added.
  ASSERT_EQ(spec["tolerations"].Size(), 2u);
  EXPECT_EQ(json::to_json(spec["tolerations"][0]["tolerationSeconds"]), "5");
  EXPECT_EQ(json::path_string(spec["tolerations"][1], {"key"}), "node.kubernetes.io/not-ready");
  EXPECT_EQ(json::path_string(p, {"status", "qosClass"}), "Burstable");
  JsonDoc b =
      create(R"({"metadata":{"name":"b"},"spec":{"containers":[{"name":"c","image":"x"}]}})");
  EXPECT_EQ(json::path_string(b, {"status", "qosClass"}), "BestEffort");
}

}  // namespace
}  // namespace kop::local
