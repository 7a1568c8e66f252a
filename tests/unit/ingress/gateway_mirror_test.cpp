// HTTPRoute RequestMirror into the proxy's route mirrors: one or several backendRefs, percent
// and fraction as the share per million, a backendRef that cannot be used reported in
// ResolvedRefs while the rule is served without it, a bad share refusing the rule; on one of a
// rule's backendRefs, the mirrors of that weighted entry only.
#include <gtest/gtest.h>

#include "gateway_test_util.h"
#include "kop/ingress/gateway_api.h"
#include "test_util.h"

namespace kop::ingress::gateway {
namespace {

using gwtest::cond;
using gwtest::gateway;
using gwtest::kClass;
using gwtest::parent;
using gwtest::route;
using gwtest::run;
using gwtest::served_route;
using testing::service_yaml;

// The proxy's mirrors of the route serving `path` (a failed compile fails the test).
std::vector<proxy::MirrorPolicy> mirrors_of(const Result& r, std::string_view path,
                                            std::string* main_cluster = nullptr) {
  testing::Compiled keep;
  const proxy::Route* route = served_route(r, path, keep);
  if (route == nullptr) return {};
  if (main_cluster) *main_cluster = route->config->forward.clusters.at(0).cluster;
  return route->config->forward.mirrors;
}

std::string objects(std::string_view rules) {
  return std::string(kClass) +
         gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
         service_yaml("infra", "v1", 1, 1) + service_yaml("infra", "v2", 1, 1) +
         service_yaml("infra", "v3", 1, 1) + service_yaml("other", "v4", 1, 1) +
         route("infra", "mirror", "  parentRefs: [{name: gw}]\n  rules:\n" + std::string(rules));
}

TEST(HTTPRouteMirror, OneOrSeveralMirrorsWithTheirShare) {
  Result r = run(objects(
      "  - matches: [{path: {value: /all}}]\n"
      "    filters:\n"
      "    - {type: RequestMirror, requestMirror: {backendRef: {name: v2, port: 80}}}\n"
      "    - {type: RequestMirror, requestMirror: {backendRef: {name: v3, port: 80}, percent: "
      "20}}\n"
      "    backendRefs: [{name: v1, port: 80}]\n"
      "  - matches: [{path: {value: /fraction}}]\n"
      "    filters:\n"
      "    - {type: RequestMirror, requestMirror: {backendRef: {name: v2, port: 80}, fraction: "
      "{numerator: 25, denominator: 50}}}\n"
      "    backendRefs: [{name: v1, port: 80}]\n"));
  std::string main;
  auto all = mirrors_of(r, "/all", &main);
  ASSERT_EQ(all.size(), 2U) << describe(r);
  EXPECT_NE(all[0].cluster, main);
  EXPECT_NE(all[0].cluster, all[1].cluster);
  EXPECT_NE(all[0].cluster.find("v2"), std::string::npos) << all[0].cluster;
  EXPECT_EQ(all[0].per_million, 1000000U);
  EXPECT_NE(all[1].cluster.find("v3"), std::string::npos) << all[1].cluster;
  EXPECT_EQ(all[1].per_million, 200000U);
  auto fraction = mirrors_of(r, "/fraction");
  ASSERT_EQ(fraction.size(), 1U);
  EXPECT_EQ(fraction[0].per_million, 500000U);
  EXPECT_EQ(cond(parent(r, "mirror").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "mirror").conditions, "ResolvedRefs"), "True ResolvedRefs");
}

TEST(HTTPRouteMirror, AnUnusableMirrorIsLeftOutAndReported) {
  Result r = run(objects(
      "  - matches: [{path: {value: /m}}]\n"
      "    filters:\n"
      "    - {type: RequestMirror, requestMirror: {backendRef: {name: v4, namespace: other, "
      "port: 80}}}\n"
      "    - {type: RequestMirror, requestMirror: {backendRef: {name: v2, port: 80}}}\n"
      "    backendRefs: [{name: v1, port: 80}]\n"));
  auto m = mirrors_of(r, "/m");
  ASSERT_EQ(m.size(), 1U);  // no ReferenceGrant for other/v4: only v2 is mirrored
  EXPECT_NE(m[0].cluster.find("v2"), std::string::npos);
  EXPECT_EQ(cond(parent(r, "mirror").conditions, "ResolvedRefs"), "False RefNotPermitted");
  EXPECT_NE(gwtest::find(parent(r, "mirror").conditions, "ResolvedRefs")
                ->message.find("filters[0].requestMirror.backendRef"),
            std::string::npos);
}

TEST(HTTPRouteMirror, OnOneOfSeveralBackendRefsOnlyThatEntryIsCopied) {
  Result r = run(objects(
      "  - matches: [{path: {value: /split}}]\n"
      "    backendRefs:\n"
      "    - {name: v1, port: 80, filters: [{type: RequestMirror, requestMirror: {backendRef: "
      "{name: v3, port: 80}, percent: 50}}]}\n"
      "    - {name: v2, port: 80}\n"));
  testing::Compiled keep;
  const proxy::Route* route = served_route(r, "/split", keep);
  ASSERT_NE(route, nullptr) << describe(r);
  const proxy::ForwardAction& f = route->config->forward;
  EXPECT_TRUE(f.mirrors.empty());  // not the rule's: only the requests sent to v1 are copied
  ASSERT_EQ(f.clusters.size(), 2U);
  EXPECT_NE(f.clusters[0].cluster.find("v1"), std::string::npos) << f.clusters[0].cluster;
  ASSERT_EQ(f.clusters[0].mirrors.size(), 1U);
  EXPECT_NE(f.clusters[0].mirrors[0].cluster.find("v3"), std::string::npos);
  EXPECT_EQ(f.clusters[0].mirrors[0].per_million, 500000U);
  EXPECT_TRUE(f.clusters[1].mirrors.empty());
  ASSERT_EQ(route->clusters.size(), 2U);  // compiled per entry
  EXPECT_EQ(route->clusters[0].mirrors.size(), 1U);
  EXPECT_TRUE(route->clusters[1].mirrors.empty());
  EXPECT_EQ(cond(parent(r, "mirror").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "mirror").conditions, "ResolvedRefs"), "True ResolvedRefs");
}

TEST(HTTPRouteMirror, ABadShareRefusesTheRule) {
  for (const char* share :
       {"percent: 101", "fraction: {numerator: 3, denominator: 2}",
        "fraction: {numerator: 1, denominator: 0}", "percent: 5, fraction: {numerator: 1}"}) {
    Result r = run(objects(std::string("  - matches: [{path: {value: /m}}]\n"
                                       "    filters:\n"
                                       "    - {type: RequestMirror, requestMirror: {backendRef: "
                                       "{name: v2, port: 80}, ") +
                           share + "}}\n    backendRefs: [{name: v1, port: 80}]\n"));
    EXPECT_EQ(cond(parent(r, "mirror").conditions, "Accepted"), "False UnsupportedValue")
        << share << "\n"
        << describe(r);
  }
}

}  // namespace
}  // namespace kop::ingress::gateway
