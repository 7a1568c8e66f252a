// GRPCRoute (kop/ingress/gateway_api.h): method and header matches as the proxy routes them,
// backends forced to HTTP/2 (h2c), weights, ReferenceGrants, filters, request mirrors (HTTP/2
// too) on rules and on a rule's only backendRef, bad input that only drops its own rule, listener
// kinds, and the rule between HTTPRoutes and GRPCRoutes on one hostname.
#include <gtest/gtest.h>

#include "gateway_test_util.h"
#include "kop/ingress/gateway_api.h"
#include "kop/ingress/render.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::ingress::gateway {
namespace {

using gwtest::compile_front_door;
using gwtest::cond;
using gwtest::gateway;
using gwtest::kClass;
using gwtest::listener;
using gwtest::parent;
using gwtest::route;
using gwtest::route_of_kind;
using gwtest::run;
using testing::service_yaml;

std::string grpc_route(std::string_view ns, std::string_view name, std::string_view spec,
                       std::string_view created = "2026-01-01T00:00:00Z") {
  return route_of_kind("GRPCRoute", ns, name, spec, created);
}

const char* const kHttp = "  - {name: http, port: 8080, protocol: HTTP}\n";
const char* const kSvc = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho";

std::string call(const testing::Compiled& c, std::string_view host, const std::string& path,
                 const std::vector<std::pair<std::string, std::string>>& h = {}) {
  return testing::route_of(c, "http", host, path, h);
}

TEST(GRPCRoute, MethodAndHeaderMatchesThroughTheProxy) {
  std::string svc = kSvc;
  Result r =
      run(std::string(kClass) + gateway("infra", "gw", kHttp) + service_yaml("infra", "v1", 1, 1) +
          service_yaml("infra", "v2", 1, 2) + service_yaml("infra", "v3", 1, 3) +
          grpc_route("infra", "methods",
                     "  parentRefs: [{name: gw}]\n"
                     "  rules:\n"
                     "  - matches: [{method: {service: " +
                         svc +
                         ", method: Echo}}]\n"
                         "    backendRefs: [{name: v1, port: 80}]\n"
                         "  - matches: [{method: {service: " +
                         svc +
                         ", method: EchoTwo}}]\n"
                         "    backendRefs: [{name: v2, port: 80}]\n"
                         "  - matches: [{method: {service: other.Svc}}]\n"
                         "    backendRefs: [{name: v3, port: 80}]\n"
                         "  - matches: [{method: {method: Anywhere}}]\n"
                         "    backendRefs: [{name: v3, port: 80}]\n"
                         "  - matches: [{method: {type: RegularExpression, service: "
                         "\"re\\\\.[a-z]+\", method: \"Get.*\"}}]\n"
                         "    backendRefs: [{name: v2, port: 80}]\n"
                         "  - matches: [{headers: [{name: Version, value: two}]}]\n"
                         "    backendRefs: [{name: v2, port: 80}]\n"));
  ASSERT_EQ(r.front_doors.size(), 1u) << describe(r);
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table);
  EXPECT_EQ(call(c, "any.host", "/" + svc + "/Echo"), "infra/v1/80/h2c");
  EXPECT_EQ(call(c, "any.host", "/" + svc + "/EchoTwo"), "infra/v2/80/h2c");
  EXPECT_EQ(call(c, "any.host", "/" + svc + "/EchoThree"), "404");  // gRPC: UNIMPLEMENTED
  EXPECT_EQ(call(c, "any.host", "/other.Svc/Whatever"), "infra/v3/80/h2c");
  EXPECT_EQ(call(c, "any.host", "/other.SvcX/Whatever"), "404");
  EXPECT_EQ(call(c, "any.host", "/some.Svc/Anywhere"), "infra/v3/80/h2c");
  EXPECT_EQ(call(c, "any.host", "/re.abc/GetThing"), "infra/v2/80/h2c");
  EXPECT_EQ(call(c, "any.host", "/re.ABC/GetThing"), "404");
  EXPECT_EQ(call(c, "any.host", "/x.Y/Z", {{"version", "two"}}), "infra/v2/80/h2c");
  // Every backend of a GRPCRoute speaks HTTP/2 with prior knowledge.
  for (const proxy::ClusterConfig& cc : c.config.clusters)
    EXPECT_EQ(cc.protocol, proxy::UpstreamProtocol::kH2c) << cc.name;
  EXPECT_EQ(cond(parent(r, "methods").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "methods").conditions, "ResolvedRefs"), "True ResolvedRefs");
  EXPECT_EQ(listener(r, "gw", "http").attached_routes, 1);
  std::vector<RouteGroupKind> kinds = listener(r, "gw", "http").supported_kinds;
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), RouteGroupKind{std::string(kGroup), "GRPCRoute"}),
            kinds.end());
}

TEST(GRPCRoute, BackendsWeightsAndReferenceGrants) {
  std::string objs = std::string(kClass) + gateway("infra", "gw", kHttp) +
                     service_yaml("infra", "v1", 1, 1) + service_yaml("apps", "v2", 1, 2) +
                     grpc_route("infra", "weights",
                                "  parentRefs: [{name: gw}]\n"
                                "  rules:\n"
                                "  - matches: [{method: {service: a.A}}]\n"
                                "    backendRefs: [{name: v1, port: 80, weight: 70},"
                                " {name: v2, namespace: apps, port: 80, weight: 30}]\n"
                                "  - matches: [{method: {service: b.B}}]\n"
                                "    backendRefs: [{name: gone, port: 80}]\n");
  Result r = run(objs);
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table);
  // No ReferenceGrant: the cross-namespace share is answered by the proxy.
  EXPECT_EQ(call(c, "h", "/a.A/M"), "infra/v1/80/h2c,503");  // that share: UNAVAILABLE
  EXPECT_EQ(call(c, "h", "/b.B/M"), "503");  // all backends invalid: gRPC UNAVAILABLE
  EXPECT_EQ(cond(parent(r, "weights").conditions, "ResolvedRefs"), "False RefNotPermitted");
  EXPECT_EQ(cond(parent(r, "weights").conditions, "Accepted"), "True Accepted");

  Result granted = run(objs + R"(---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: grpc-to-apps, namespace: apps}
spec:
  from: [{group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: infra}]
  to: [{group: "", kind: Service}]
)");
  c = compile_front_door(granted);
  ASSERT_TRUE(c.table);
  EXPECT_EQ(call(c, "h", "/a.A/M"), "infra/v1/80/h2c,apps/v2/80/h2c");
  EXPECT_EQ(cond(parent(granted, "weights").conditions, "ResolvedRefs"), "False BackendNotFound");

  // A grant for HTTPRoutes does not let a GRPCRoute through.
  Result http_only = run(objs + R"(---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: http-to-apps, namespace: apps}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}]
  to: [{group: "", kind: Service}]
)");
  EXPECT_EQ(cond(parent(http_only, "weights").conditions, "ResolvedRefs"), "False RefNotPermitted");
}

TEST(GRPCRoute, FiltersAndBadInputDropOnlyTheirRule) {
  Result r =
      run(std::string(kClass) + gateway("infra", "gw", kHttp) + service_yaml("infra", "v1", 1, 1) +
          grpc_route("infra", "mixed",
                     "  parentRefs: [{name: gw}]\n"
                     "  rules:\n"
                     "  - matches: [{method: {service: ok.Svc}}]\n"
                     "    filters:\n"
                     "    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: "
                     "X-Env, value: prod}], remove: [x-debug]}}\n"
                     "    - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: "
                     "X-Served-By, value: kop}]}}\n"
                     "    backendRefs: [{name: v1, port: 80}]\n"
                     "  - matches: [{method: {service: \"not/valid\"}}]\n"
                     "    backendRefs: [{name: v1, port: 80}]\n"
                     "  - matches: [{method: {type: Exact}}]\n"
                     "    backendRefs: [{name: v1, port: 80}]\n"
                     "  - matches: [{method: {service: m.M}}]\n"
                     "    backendRefs:\n"
                     "    - {name: v1, port: 80, filters: [{type: RequestMirror, requestMirror: "
                     "{backendRef: {name: v1, port: 80}}}]}\n"
                     "    - {name: v1, port: 80}\n"
                     "  - matches: [{headers: [{type: Prefix, name: a, value: b}]}]\n"
                     "    backendRefs: [{name: v1, port: 80}]\n") +
          grpc_route("infra", "all-bad",
                     "  parentRefs: [{name: gw}]\n"
                     "  rules:\n"
                     "  - matches: [{method: {type: RegularExpression, service: \"(\"}}]\n"
                     "    backendRefs: [{name: v1, port: 80}]\n"));
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table);
  EXPECT_EQ(call(c, "h", "/ok.Svc/Do"), "infra/v1/80/h2c");
  // A mirror on one of two backendRefs: served (both entries).
  EXPECT_EQ(call(c, "h", "/m.M/Do"), "infra/v1/80/h2c,infra/v1/80/h2c");
  bool set = false, added = false;
  for (const proxy::VirtualHostConfig& vh : c.config.virtual_hosts)
    for (const auto& rc : vh.routes) {
      for (const auto& h : rc.request_headers->set) set |= h.name == "x-env" && h.value == "prod";
      for (const auto& h : rc.response_headers->add)
        added |= h.name == "x-served-by" && h.value == "kop";
    }
  EXPECT_TRUE(set && added) << proxy::to_json(c.config);
  EXPECT_EQ(cond(parent(r, "mixed").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "mixed").conditions, "PartiallyInvalid"), "True UnsupportedValue");
  EXPECT_EQ(cond(parent(r, "all-bad").conditions, "Accepted"), "False UnsupportedValue");
  std::string fields;
  for (const Event& e : r.events)
    if (e.object.kind == "GRPCRoute") fields += e.field + ";";
  EXPECT_NE(fields.find("spec.rules[1].matches[0].method.service;"), std::string::npos) << fields;
  EXPECT_NE(fields.find("spec.rules[2].matches[0].method;"), std::string::npos) << fields;
  // A mirror on one of several backendRefs copies the calls sent there (gateway_mirror_test).
  EXPECT_EQ(fields.find("spec.rules[3]"), std::string::npos) << fields;
  EXPECT_NE(fields.find("spec.rules[4].matches[0].headers[0].type;"), std::string::npos) << fields;
  EXPECT_NE(fields.find("spec.rules[0].matches[0].method.service;"), std::string::npos) << fields;
}

TEST(GRPCRoute, RequestMirrorsOnTheRuleAndOnItsOnlyBackendRefSpeakHttp2) {
  Result r = run(
      std::string(kClass) + gateway("infra", "gw", kHttp) + service_yaml("infra", "v1", 1, 1) +
      service_yaml("infra", "m1", 1, 1) + service_yaml("infra", "m2", 1, 1) +
      grpc_route("infra", "mirrored",
                 "  parentRefs: [{name: gw}]\n"
                 "  rules:\n"
                 "  - matches: [{method: {service: a.A}}]\n"
                 "    filters:\n"
                 "    - {type: RequestMirror, requestMirror: {backendRef: {name: m1, port: 80}}}\n"
                 "    - {type: RequestMirror, requestMirror: {backendRef: {name: m2, port: 80}, "
                 "percent: 30}}\n"
                 "    backendRefs: [{name: v1, port: 80}]\n"
                 "  - matches: [{method: {service: b.B}}]\n"
                 "    backendRefs:\n"
                 "    - {name: v1, port: 80, filters: [{type: RequestMirror, requestMirror: "
                 "{backendRef: {name: m2, port: 80}, fraction: {numerator: 1, denominator: 4}}}]}\n"
                 "  - matches: [{method: {service: c.C}}]\n"
                 "    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: gone, "
                 "port: 80}}}]\n"
                 "    backendRefs: [{name: v1, port: 80}]\n"));
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table);
  auto mirrors = [&](std::string_view path) {
    std::string out;
    const proxy::VirtualHost* vh = c.table->find_virtual_host("http", "h");
    proxy::RequestView req;
    req.method = "POST";
    req.path = path;
    const proxy::Route* route = vh ? c.table->match(*vh, req) : nullptr;
    if (route == nullptr) return std::string("no route");
    for (const proxy::MirrorPolicy& m : route->config->forward.mirrors) {
      std::string cluster = m.cluster;
      // Every mirror cluster is HTTP/2, like the rule's backends.
      for (const proxy::ClusterConfig& cc : c.config.clusters)
        if (cc.name == m.cluster && cc.protocol == proxy::UpstreamProtocol::kH2c)
          cluster += "(h2c)";
      out += cluster + " " + std::to_string(m.per_million) + ";";
    }
    return out;
  };
  EXPECT_EQ(mirrors("/a.A/Call"), "infra/m1/80/h2c(h2c) 1000000;infra/m2/80/h2c(h2c) 300000;")
      << describe(r);
  EXPECT_EQ(mirrors("/b.B/Call"), "infra/m2/80/h2c(h2c) 250000;");
  // A mirror whose Service does not exist: the rule is served without it, ResolvedRefs says so.
  EXPECT_EQ(mirrors("/c.C/Call"), "");
  EXPECT_EQ(call(c, "h", "/c.C/Call"), "infra/v1/80/h2c");
  EXPECT_EQ(cond(parent(r, "mirrored").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "mirrored").conditions, "ResolvedRefs"), "False BackendNotFound");
}

TEST(GRPCRoute, ListenerKindsHostnamesAndSections) {
  Result r = run(std::string(kClass) +
                 gateway("infra", "gw",
                         "  - {name: http-only, port: 80, protocol: HTTP, hostname: a.example, "
                         "allowedRoutes: {kinds: [{kind: HTTPRoute}]}}\n"
                         "  - {name: grpc, port: 80, protocol: HTTP, hostname: \"*.example\", "
                         "allowedRoutes: {kinds: [{kind: GRPCRoute}]}}\n") +
                 service_yaml("infra", "v1", 1, 1) +
                 grpc_route("infra", "to-http-only",
                            "  parentRefs: [{name: gw, sectionName: http-only}]\n"
                            "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n") +
                 grpc_route("infra", "to-grpc",
                            "  parentRefs: [{name: gw, sectionName: grpc}]\n"
                            "  hostnames: [b.example, c.other]\n"
                            "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n") +
                 grpc_route("infra", "no-host",
                            "  parentRefs: [{name: gw, sectionName: grpc}]\n"
                            "  hostnames: [c.other]\n"
                            "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n"));
  EXPECT_EQ(cond(parent(r, "to-http-only").conditions, "Accepted"), "False NotAllowedByListeners");
  EXPECT_EQ(cond(parent(r, "to-grpc").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "no-host").conditions, "Accepted"), "False NoMatchingListenerHostname");
  EXPECT_EQ(listener(r, "gw", "grpc").attached_routes, 1);
  EXPECT_EQ(listener(r, "gw", "http-only").attached_routes, 0);
  std::vector<RouteGroupKind> kinds = listener(r, "gw", "grpc").supported_kinds;
  ASSERT_EQ(kinds.size(), 1u);
  EXPECT_EQ(kinds[0].kind, "GRPCRoute");
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table);
  EXPECT_EQ(call(c, "b.example", "/s.S/M"), "infra/v1/80/h2c");
  EXPECT_EQ(call(c, "c.other", "/s.S/M"), "404");
}

// GRPCRoute spec.hostnames: of an HTTPRoute and a GRPCRoute on one listener whose hostnames
// intersect, only the older is accepted there (then namespace/name); apart, both are.
TEST(GRPCRoute, HttpRouteAndGrpcRouteOnOneHostnameOlderWins) {
  std::string base = std::string(kClass) + gateway("infra", "gw", kHttp) +
                     service_yaml("infra", "v1", 1, 1) + service_yaml("infra", "v2", 1, 2);
  std::string http_spec =
      "  parentRefs: [{name: gw}]\n  hostnames: [shared.example]\n"
      "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n";
  std::string grpc_spec =
      "  parentRefs: [{name: gw}]\n  hostnames: [\"*.example\"]\n"
      "  rules: [{backendRefs: [{name: v2, port: 80}]}]\n";
  Result grpc_older = run(base + route("infra", "web", http_spec, "2026-02-01T00:00:00Z") +
                          grpc_route("infra", "rpc", grpc_spec, "2026-01-01T00:00:00Z"));
  EXPECT_EQ(cond(parent(grpc_older, "rpc").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(grpc_older, "web").conditions, "Accepted"), "False HostnameConflict");
  EXPECT_EQ(listener(grpc_older, "gw", "http").attached_routes, 1);
  testing::Compiled c = compile_front_door(grpc_older);
  ASSERT_TRUE(c.table);
  EXPECT_EQ(call(c, "shared.example", "/s.S/M"), "infra/v2/80/h2c");

  Result http_older = run(base + route("infra", "web", http_spec, "2026-01-01T00:00:00Z") +
                          grpc_route("infra", "rpc", grpc_spec, "2026-02-01T00:00:00Z"));
  EXPECT_EQ(cond(parent(http_older, "web").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(http_older, "rpc").conditions, "Accepted"), "False HostnameConflict");
  c = compile_front_door(http_older);
  ASSERT_TRUE(c.table);
  EXPECT_EQ(call(c, "shared.example", "/s.S/M"), "infra/v1/80");
  EXPECT_EQ(call(c, "other.example", "/s.S/M"), "404");

  // Same age: namespace/name decides ("infra/a-web" before "infra/b-rpc").
  Result tie =
      run(base + route("infra", "a-web", http_spec) + grpc_route("infra", "b-rpc", grpc_spec));
  EXPECT_EQ(cond(parent(tie, "a-web").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(tie, "b-rpc").conditions, "Accepted"), "False HostnameConflict");

  // A route that lost a listener does not take it from a younger one: the GRPCRoute loses to
  // the older HTTPRoute, so the youngest HTTPRoute (whose hostnames meet only the GRPCRoute's)
  // is served.
  Result chain = run(base + route("infra", "old-web", http_spec, "2026-01-01T00:00:00Z") +
                     grpc_route("infra", "rpc", grpc_spec, "2026-02-01T00:00:00Z") +
                     route("infra", "young-web",
                           "  parentRefs: [{name: gw}]\n  hostnames: [other.example]\n"
                           "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n",
                           "2026-03-01T00:00:00Z"));
  EXPECT_EQ(cond(parent(chain, "old-web").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(chain, "rpc").conditions, "Accepted"), "False HostnameConflict");
  EXPECT_EQ(cond(parent(chain, "young-web").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(listener(chain, "gw", "http").attached_routes, 2);

  // Hostnames that do not meet: both served.
  Result apart = run(base + route("infra", "web", http_spec) +
                     grpc_route("infra", "rpc",
                                "  parentRefs: [{name: gw}]\n  hostnames: [grpc.example]\n"
                                "  rules: [{backendRefs: [{name: v2, port: 80}]}]\n"));
  EXPECT_EQ(cond(parent(apart, "web").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(apart, "rpc").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(listener(apart, "gw", "http").attached_routes, 2);
}

}  // namespace
}  // namespace kop::ingress::gateway
