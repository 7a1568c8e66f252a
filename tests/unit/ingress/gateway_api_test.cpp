// Gateway API translation (kop/ingress/gateway_api.h): GatewayClass acceptance, Gateway
// listeners (protocols, TLS, allowedRoutes, conflicts), one front door per Gateway, HTTPRoute
// attachment (sectionName, port, namespaces, hostnames), rules into model routes with the
// spec's precedence, and the status each decision sets.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "gateway_test_util.h"
#include "kop/ingress/gateway_api.h"
#include "kop/proxy/cors.h"
#include "test_util.h"

namespace kop::ingress::gateway {
namespace {

using gwtest::compile_front_door;
using gwtest::cond;
using gwtest::find;
using gwtest::gateway;
using gwtest::gw_status;
using gwtest::input;
using gwtest::kClass;
using gwtest::listener;
using gwtest::parent;
using gwtest::route;
using gwtest::run;
using testing::service_yaml;
using testing::snapshot_of;
using testing::tls_secret_yaml;

TEST(GatewayClass, OursAcceptedOthersUntouchedParametersRefInvalid) {
  Result r = run(std::string(kClass) + R"(---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: theirs}
spec: {controllerName: example.com/other}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: with-params, generation: 4}
spec:
  controllerName: kop.dev/gateway-controller
  parametersRef: {group: example.com, kind: Config, name: tuned}
)" + gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
                 R"(---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: on-params, namespace: infra}
spec:
  gatewayClassName: with-params
  listeners: [{name: http, port: 80, protocol: HTTP}]
)");
  ASSERT_EQ(r.class_statuses.size(), 2u) << describe(r);
  EXPECT_EQ(r.class_statuses[0].name, "kop");
  EXPECT_EQ(cond(r.class_statuses[0].conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(r.class_statuses[0].conditions, "SupportedVersion"), "True SupportedVersion");
  EXPECT_EQ(find(r.class_statuses[0].conditions, "Accepted")->observed_generation, 1);
  EXPECT_EQ(r.class_statuses[1].name, "with-params");
  EXPECT_EQ(cond(r.class_statuses[1].conditions, "Accepted"), "False InvalidParameters");
  EXPECT_EQ(find(r.class_statuses[1].conditions, "Accepted")->observed_generation, 4);
  // Only the Gateway of the accepted class is ours.
  ASSERT_EQ(r.gateway_statuses.size(), 1u) << describe(r);
  EXPECT_EQ(r.gateway_statuses[0].gateway.name, "gw");
}

// A Gateway's infrastructure.parametersRef names parameters kop-ingress cannot honour: the
// Gateway is not accepted (upstream GatewayInvalidParametersRef) and gets no front door.
TEST(Gateway, InfrastructureParametersRefIsInvalidParameters) {
  Result r = run(
      std::string(kClass) +
          gateway("infra", "plain", "  - {name: http, port: 80, protocol: HTTP}\n") +
          gateway("infra", "with-params",
                  "  - {name: http, port: 80, protocol: HTTP}\n"
                  "  infrastructure:\n"
                  "    parametersRef: {group: invalid.io, kind: InvalidParameters, "
                  "name: invalid}\n"),
      Options{.addresses = {{"infra/plain", {"127.0.1.1"}}, {"infra/with-params", {"127.0.1.2"}}}});
  EXPECT_EQ(cond(gw_status(r, "plain").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(gw_status(r, "with-params").conditions, "Accepted"), "False InvalidParameters");
  EXPECT_NE(find(gw_status(r, "with-params").conditions, "Accepted")
                ->message.find("spec.infrastructure.parametersRef"),
            std::string::npos);
  EXPECT_EQ(find(gw_status(r, "with-params").conditions, "Accepted")->observed_generation, 2);
  EXPECT_EQ(cond(gw_status(r, "with-params").conditions, "Programmed"), "False Invalid");
  EXPECT_EQ(cond(listener(r, "with-params", "http").conditions, "Programmed"), "False Invalid");
  ASSERT_EQ(r.front_doors.size(), 1u) << describe(r);
  EXPECT_EQ(r.front_doors[0].gateway.name, "plain");
  bool event = false;
  for (const auto& e : r.events) event = event || e.reason == "InvalidParameters";
  EXPECT_TRUE(event);
}

TEST(Gateway, TwoGatewaysOnPort80AreSeparateFrontDoors) {
  Result r = run(std::string(kClass) +
                     gateway("infra", "one", "  - {name: http, port: 80, protocol: HTTP}\n") +
                     gateway("infra", "two", "  - {name: http, port: 80, protocol: HTTP}\n") +
                     service_yaml("infra", "v1", 1, 1) + service_yaml("infra", "v2", 1, 2) +
                     route("infra", "to-one",
                           "  parentRefs: [{name: one}]\n"
                           "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n") +
                     route("infra", "to-two",
                           "  parentRefs: [{name: two}]\n"
                           "  rules: [{backendRefs: [{name: v2, port: 80}]}]\n"),
                 Options{.addresses = {{"infra/one", {"127.0.1.1"}}}});
  EXPECT_EQ(describe(r).substr(0, describe(r).find("GatewayClass")),
            "front door infra/one :80 HTTP\n"
            "  host *\n"
            "    prefix / -> infra/v1/80*1  (infra/to-one spec.rules[0])\n"
            "front door infra/two :80 HTTP\n"
            "  host *\n"
            "    prefix / -> infra/v2/80*1  (infra/to-two spec.rules[0])\n");
  EXPECT_EQ(cond(gw_status(r, "one").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(gw_status(r, "one").conditions, "Programmed"), "True Programmed");
  EXPECT_EQ(gw_status(r, "one").addresses, std::vector<std::string>{"127.0.1.1"});
  EXPECT_EQ(cond(gw_status(r, "two").conditions, "Programmed"), "False AddressNotAssigned");
  EXPECT_EQ(listener(r, "one", "http").attached_routes, 1);
  EXPECT_EQ(cond(listener(r, "one", "http").conditions, "Programmed"), "True Programmed");
  EXPECT_EQ(cond(parent(r, "to-one").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "to-one").conditions, "ResolvedRefs"), "True ResolvedRefs");
  EXPECT_EQ(find(parent(r, "to-one").conditions, "Accepted")->observed_generation, 3);
  EXPECT_EQ(r.clusters.size(), 2u);
}

TEST(Gateway, ListenerProtocolsKindsAndConflicts) {
  Result r = run(std::string(kClass) +
                 gateway("infra", "mixed",
                         "  - {name: http, port: 80, protocol: HTTP}\n"
                         "  - {name: odd, port: 1111, protocol: INVALID}\n"
                         "  - name: kinds\n    port: 81\n    protocol: HTTP\n"
                         "    allowedRoutes: {kinds: [{kind: HTTPRoute}, {kind: TCPRoute}]}\n"
                         "  - name: nokinds\n    port: 82\n    protocol: HTTP\n"
                         "    allowedRoutes: {kinds: [{kind: UDPRoute}]}\n"
                         "  - {name: dup-a, port: 83, protocol: HTTP, hostname: a.example.com}\n"
                         "  - {name: dup-b, port: 83, protocol: HTTP, hostname: A.example.com}\n"
                         "  - {name: plain, port: 84, protocol: HTTP}\n"
                         "  - name: secure\n    port: 84\n    protocol: HTTPS\n"
                         "    tls: {certificateRefs: [{name: cert}]}\n") +
                 gateway("infra", "only-bad", "  - {name: odd, port: 1111, protocol: UDP}\n") +
                 tls_secret_yaml("infra", "cert", "example"));
  EXPECT_EQ(cond(listener(r, "mixed", "http").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(listener(r, "mixed", "http").supported_kinds,
            (std::vector<RouteGroupKind>{{"gateway.networking.k8s.io", "HTTPRoute"},
                                         {"gateway.networking.k8s.io", "GRPCRoute"}}));
  EXPECT_EQ(cond(listener(r, "mixed", "odd").conditions, "Accepted"), "False UnsupportedProtocol");
  EXPECT_TRUE(listener(r, "mixed", "odd").supported_kinds.empty());
  EXPECT_EQ(cond(listener(r, "mixed", "kinds").conditions, "ResolvedRefs"),
            "False InvalidRouteKinds");
  EXPECT_EQ(listener(r, "mixed", "kinds").supported_kinds.size(), 1u);
  EXPECT_EQ(cond(listener(r, "mixed", "nokinds").conditions, "ResolvedRefs"),
            "False InvalidRouteKinds");
  EXPECT_TRUE(listener(r, "mixed", "nokinds").supported_kinds.empty());
  EXPECT_EQ(cond(listener(r, "mixed", "dup-a").conditions, "Conflicted"), "True HostnameConflict");
  EXPECT_EQ(cond(listener(r, "mixed", "dup-b").conditions, "Conflicted"), "True HostnameConflict");
  EXPECT_EQ(cond(listener(r, "mixed", "dup-b").conditions, "Programmed"), "False Invalid");
  EXPECT_EQ(cond(listener(r, "mixed", "plain").conditions, "Conflicted"), "True ProtocolConflict");
  EXPECT_EQ(cond(listener(r, "mixed", "secure").conditions, "Conflicted"), "True ProtocolConflict");
  EXPECT_EQ(cond(listener(r, "mixed", "http").conditions, "Conflicted"), "False NoConflicts");
  // Some listeners cannot be served: still accepted, with the reason.
  EXPECT_EQ(cond(gw_status(r, "mixed").conditions, "Accepted"), "True ListenersNotValid");
  EXPECT_EQ(cond(gw_status(r, "only-bad").conditions, "Accepted"), "False ListenersNotValid");
  EXPECT_EQ(cond(gw_status(r, "only-bad").conditions, "Programmed"), "False Invalid");
  // Front doors only for served listeners: ports 80, 81, 82 (the conflicted 83 and 84 are not).
  std::vector<uint16_t> ports;
  ports.reserve(r.front_doors.size());
  for (const FrontDoor& d : r.front_doors) ports.push_back(d.port);
  EXPECT_EQ(ports, (std::vector<uint16_t>{80, 81, 82})) << describe(r);
  ASSERT_FALSE(r.events.empty());
}

TEST(Gateway, CertificateRefsAndReferenceGrants) {
  std::string https =
      "  - name: own\n    port: 443\n    protocol: HTTPS\n"
      "    tls: {certificateRefs: [{name: cert}]}\n"
      "  - name: missing\n    port: 443\n    protocol: HTTPS\n"
      "    hostname: missing.example.com\n"
      "    tls: {certificateRefs: [{name: nope}]}\n"
      "  - name: foreign\n    port: 443\n    protocol: HTTPS\n"
      "    hostname: foreign.example.com\n"
      "    tls: {certificateRefs: [{name: cert, namespace: certs}]}\n"
      "  - name: kind\n    port: 443\n    protocol: HTTPS\n"
      "    hostname: kind.example.com\n"
      "    tls: {certificateRefs: [{name: cert, kind: ConfigMap}]}\n";
  std::string objs = std::string(kClass) + gateway("infra", "gw", https) +
                     tls_secret_yaml("infra", "cert", "example") +
                     tls_secret_yaml("certs", "cert", "other");
  Result r = run(objs);
  EXPECT_EQ(cond(listener(r, "gw", "own").conditions, "ResolvedRefs"), "True ResolvedRefs");
  EXPECT_EQ(cond(listener(r, "gw", "missing").conditions, "ResolvedRefs"),
            "False InvalidCertificateRef");
  EXPECT_EQ(cond(listener(r, "gw", "foreign").conditions, "ResolvedRefs"), "False RefNotPermitted");
  EXPECT_EQ(cond(listener(r, "gw", "kind").conditions, "ResolvedRefs"),
            "False InvalidCertificateRef");
  EXPECT_EQ(cond(listener(r, "gw", "foreign").conditions, "Programmed"), "False Invalid");
  // A grant in the Secret's namespace for Gateways of infra lets the foreign one through.
  Result granted = run(objs + R"(---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: gateways-read-certs, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}]
  to: [{group: "", kind: Secret}]
)");
  EXPECT_EQ(cond(listener(granted, "gw", "foreign").conditions, "ResolvedRefs"),
            "True ResolvedRefs");
  EXPECT_EQ(cond(listener(granted, "gw", "foreign").conditions, "Programmed"), "True Programmed");
  // A grant for another kind (HTTPRoute) or in the wrong namespace does not.
  Result wrong = run(objs + R"(---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: routes-only, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}]
  to: [{group: "", kind: Secret}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: misplaced, namespace: infra}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}]
  to: [{group: "", kind: Secret}]
)");
  EXPECT_EQ(cond(listener(wrong, "gw", "foreign").conditions, "ResolvedRefs"),
            "False RefNotPermitted");
}

TEST(Gateway, RoutesAttachToAListenerWhoseCertificateDoesNotResolve) {
  // Upstream GatewayWithAttachedRoutes: attachment depends on allowedRoutes and parentRefs only,
  // so the route counts in attachedRoutes; the listener is still not served.
  Result r = run(std::string(kClass) +
                 gateway("infra", "gw",
                         "  - name: tls\n    port: 443\n    protocol: HTTPS\n"
                         "    tls: {certificateRefs: [{name: does-not-exist}]}\n") +
                 route("infra", "r",
                       "  parentRefs: [{name: gw, sectionName: tls}]\n"
                       "  rules: [{backendRefs: [{name: does-not-exist, port: 8080}]}]\n"));
  EXPECT_EQ(listener(r, "gw", "tls").attached_routes, 1);
  EXPECT_EQ(cond(listener(r, "gw", "tls").conditions, "ResolvedRefs"),
            "False InvalidCertificateRef");
  EXPECT_EQ(cond(listener(r, "gw", "tls").conditions, "Programmed"), "False Invalid");
  EXPECT_EQ(cond(parent(r, "r").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "r").conditions, "ResolvedRefs"), "False BackendNotFound");
  EXPECT_TRUE(r.front_doors.empty());  // nothing is served without a certificate
  // A Gateway refused as a whole (here: an infrastructure parametersRef) admits no route.
  Result refused = run(std::string(kClass) +
                       gateway("infra", "gw",
                               "  - {name: http, port: 80, protocol: HTTP}\n"
                               "  infrastructure:\n"
                               "    parametersRef: {group: invalid.io, kind: Params, name: p}\n") +
                       route("infra", "r",
                             "  parentRefs: [{name: gw}]\n"
                             "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n"));
  EXPECT_EQ(listener(refused, "gw", "http").attached_routes, 0);
  EXPECT_EQ(cond(parent(refused, "r").conditions, "Accepted"), "False NoMatchingParent");
}

TEST(HTTPRoute, AttachmentSectionPortNamespacesAndHostnames) {
  std::string objs =
      std::string(kClass) + R"(---
apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {shared: "yes"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
)" +
      gateway("infra", "gw",
              "  - {name: same, port: 80, protocol: HTTP, hostname: \"*.example.com\"}\n"
              "  - name: all\n    port: 8080\n    protocol: HTTP\n"
              "    allowedRoutes: {namespaces: {from: All}}\n"
              "  - name: selected\n    port: 8081\n    protocol: HTTP\n"
              "    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {shared: "
              "\"yes\"}}}}\n") +
      service_yaml("infra", "web") + service_yaml("team-a", "web") + service_yaml("team-b", "web");
  auto to = [](std::string_view ns, std::string_view name, std::string_view parents,
               std::string_view hostnames = "[]") {
    return route(ns, name,
                 std::string("  parentRefs: ") + std::string(parents) +
                     "\n  hostnames: " + std::string(hostnames) +
                     "\n  rules: [{backendRefs: [{name: web, port: 80}]}]\n");
  };
  Result r =
      run(objs + to("infra", "same-ns", "[{name: gw, sectionName: same}]", "[a.example.com]") +
          to("team-a", "from-a", "[{name: gw, namespace: infra}]") +
          to("team-b", "from-b", "[{name: gw, namespace: infra, sectionName: selected}]") +
          to("infra", "no-section", "[{name: gw, sectionName: nope}]") +
          to("team-a", "by-port", "[{name: gw, namespace: infra, port: 8081}]") +
          to("infra", "bad-host", "[{name: gw, sectionName: same}]", "[other.org]") +
          to("infra", "theirs", "[{name: not-ours}]"));
  EXPECT_EQ(cond(parent(r, "same-ns").conditions, "Accepted"), "True Accepted");
  // team-a may use "all" (From All) and "selected" (its label), not "same".
  EXPECT_EQ(cond(parent(r, "from-a").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "from-b").conditions, "Accepted"), "False NotAllowedByListeners");
  EXPECT_EQ(cond(parent(r, "no-section").conditions, "Accepted"), "False NoMatchingParent");
  EXPECT_EQ(cond(parent(r, "by-port").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "bad-host").conditions, "Accepted"), "False NoMatchingListenerHostname");
  // A route of another controller's Gateway gets no status from us.
  EXPECT_TRUE(std::none_of(r.route_statuses.begin(), r.route_statuses.end(),
                           [](const RouteStatus& s) { return s.route.name == "theirs"; }));
  EXPECT_EQ(listener(r, "gw", "same").attached_routes, 1);      // same-ns
  EXPECT_EQ(listener(r, "gw", "all").attached_routes, 1);       // from-a
  EXPECT_EQ(listener(r, "gw", "selected").attached_routes, 2);  // from-a, by-port
  std::string d = describe(r);
  EXPECT_NE(d.find("front door infra/gw :80 HTTP\n  host a.example.com\n"), std::string::npos) << d;
}

// Servers before Kubernetes 1.21 do not label Namespaces with kubernetes.io/metadata.name: a
// listener selecting namespaces by that label still selects them (found running the upstream
// conformance suite against the real API server tool, v1.20).
TEST(Gateway, NamespacesAreSelectableByNameWhereTheServerDoesNotLabelThem) {
  Result r = run(std::string(kClass) +
                 "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n"
                 "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team-b, labels: "
                 "{kubernetes.io/metadata.name: team-b}}\n" +
                 gateway("infra", "gw",
                         "  - name: http\n    port: 80\n    protocol: HTTP\n"
                         "    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: "
                         "{kubernetes.io/metadata.name: team-a}}}}\n") +
                 service_yaml("team-a", "web") + service_yaml("team-b", "web") +
                 route("team-a", "from-a",
                       "  parentRefs: [{name: gw, namespace: infra}]\n"
                       "  rules: [{backendRefs: [{name: web, port: 80}]}]\n") +
                 route("team-b", "from-b",
                       "  parentRefs: [{name: gw, namespace: infra}]\n"
                       "  rules: [{backendRefs: [{name: web, port: 80}]}]\n"));
  EXPECT_EQ(cond(parent(r, "from-a").conditions, "Accepted"), "True Accepted") << describe(r);
  EXPECT_EQ(cond(parent(r, "from-b").conditions, "Accepted"), "False NotAllowedByListeners");
  EXPECT_EQ(listener(r, "gw", "http").attached_routes, 1);
}

// A request is matched against the rules of every hostname covering its host, the most specific
// first: foo.example.com's own rules, then *.example.com's, then those without hostname.
TEST(HTTPRoute, HostsInheritTheRulesOfCoveringHostnames) {
  Result r = run(std::string(kClass) +
                 gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
                 service_yaml("infra", "exact", 1, 1) + service_yaml("infra", "wild", 1, 2) +
                 service_yaml("infra", "any", 1, 3) +
                 route("infra", "exact",
                       "  parentRefs: [{name: gw}]\n  hostnames: [foo.example.com]\n"
                       "  rules: [{matches: [{path: {value: /foo}}], backendRefs: [{name: exact, "
                       "port: 80}]}]\n") +
                 route("infra", "wild",
                       "  parentRefs: [{name: gw}]\n  hostnames: [\"*.example.com\"]\n"
                       "  rules: [{matches: [{path: {value: /foo}}, {path: {value: /w}}], "
                       "backendRefs: [{name: wild, port: 80}]}]\n") +
                 route("infra", "any",
                       "  parentRefs: [{name: gw}]\n"
                       "  rules: [{backendRefs: [{name: any, port: 80}]}]\n"));
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table) << proxy::to_json(c.config);
  auto at = [&](std::string_view host, std::string_view path) {
    return testing::route_of(c, "http", host, path);
  };
  EXPECT_EQ(at("foo.example.com", "/foo"), "infra/exact/80");
  EXPECT_EQ(at("foo.example.com", "/w"), "infra/wild/80");
  EXPECT_EQ(at("foo.example.com", "/other"), "infra/any/80");
  EXPECT_EQ(at("bar.example.com", "/foo"), "infra/wild/80");
  EXPECT_EQ(at("bar.example.com", "/other"), "infra/any/80");
  EXPECT_EQ(at("example.org", "/foo"), "infra/any/80");
}

TEST(HostnameIntersection, WildcardsCoverOneOrMoreLabels) {
  auto is = [](std::string_view l, std::string_view r) {
    return intersect_hostnames(l, r).value_or("none");
  };
  EXPECT_EQ(is("", ""), "*");
  EXPECT_EQ(is("", "a.example.com"), "a.example.com");
  EXPECT_EQ(is("*.example.com", ""), "*.example.com");
  EXPECT_EQ(is("*.example.com", "a.example.com"), "a.example.com");
  EXPECT_EQ(is("*.example.com", "a.b.example.com"), "a.b.example.com");
  EXPECT_EQ(is("*.example.com", "example.com"), "none");
  EXPECT_EQ(is("a.example.com", "*.example.com"), "a.example.com");
  EXPECT_EQ(is("*.example.com", "*.b.example.com"), "*.b.example.com");
  EXPECT_EQ(is("*.b.example.com", "*.example.com"), "*.b.example.com");
  EXPECT_EQ(is("a.example.com", "b.example.com"), "none");
  EXPECT_EQ(is("*.example.com", "*.example.org"), "none");
}

TEST(HTTPRoute, RulesPrecedenceBackendsFiltersAndStatus) {
  std::string objs = std::string(kClass) +
                     gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
                     service_yaml("infra", "v1", 1, 1) + service_yaml("infra", "v2", 1, 2) +
                     service_yaml("apps", "app", 1, 3);
  Result r = run(
      objs +
      route("infra", "newer",
            "  parentRefs: [{name: gw}]\n"
            "  rules:\n"
            "  - matches: [{path: {type: PathPrefix, value: /api/}}]\n"
            "    backendRefs: [{name: v2, port: 80}]\n",
            "2026-02-01T00:00:00Z") +
      route("infra", "older",
            "  parentRefs: [{name: gw}]\n"
            "  rules:\n"
            "  - matches:\n"
            "    - path: {type: PathPrefix, value: /api}\n"
            "    - path: {type: PathPrefix, value: /api}\n"
            "      headers: [{name: X-Canary, value: \"1\"}]\n"
            "    backendRefs: [{name: v1, port: 80, weight: 3}, {name: v2, port: 80, weight: 1},\n"
            "                  {name: v2, port: 80, weight: 0}]\n"
            "    filters:\n"
            "    - type: RequestHeaderModifier\n"
            "      requestHeaderModifier: {set: [{name: X-Shop, value: a}], remove: [X-Debug]}\n"
            "    - type: ResponseHeaderModifier\n"
            "      responseHeaderModifier: {set: [{name: Cache-Control, value: no-store}]}\n"
            "    - type: URLRewrite\n"
            "      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}\n"
            "    timeouts: {request: 10s, backendRequest: 500ms}\n"
            "  - matches: [{path: {type: RegularExpression, value: \"/item/[0-9]+\"}}]\n"
            "    backendRefs: [{name: missing, port: 80}]\n"
            "  - matches: [{path: {type: Exact, value: /api/health}}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n",
            "2026-01-01T00:00:00Z") +
      route("infra", "refs",
            "  parentRefs: [{name: gw}]\n"
            "  hostnames: [refs.example.com]\n"
            "  rules:\n"
            "  - matches: [{path: {value: /foreign}}]\n"
            "    backendRefs: [{name: app, namespace: apps, port: 80}]\n"
            "  - matches: [{path: {value: /kind}}]\n"
            "    backendRefs: [{name: bucket, kind: Bucket, group: storage.example.com}]\n"
            "  - matches: [{path: {value: /extension}}]\n"
            "    filters: [{type: ExtensionRef, extensionRef: {group: x.example.com, kind: F, "
            "name: f}}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"));
  EXPECT_EQ(describe(r).substr(0, describe(r).find("GatewayClass")),
            "front door infra/gw :80 HTTP\n"
            "  host *\n"
            "    exact /api/health -> infra/v1/80*1  (infra/older spec.rules[2].matches[0])\n"
            "    regex /item/[0-9]+ -> 500  (infra/older spec.rules[1].matches[0])\n"
            "    prefix /api [x-canary=1] -> infra/v1/80*3 infra/v2/80*1 rewrite=/v2 "
            "timeout=10000ms backend-timeout=500ms req-set x-shop=a req-remove x-debug resp-set "
            "cache-control=no-store  (infra/older spec.rules[0].matches[1])\n"
            "    prefix /api -> infra/v1/80*3 infra/v2/80*1 rewrite=/v2 timeout=10000ms "
            "backend-timeout=500ms req-set x-shop=a req-remove x-debug resp-set "
            "cache-control=no-store  (infra/older spec.rules[0].matches[0])\n"
            "  host refs.example.com\n"
            "    prefix /foreign -> 500  (infra/refs spec.rules[0].matches[0])\n"
            "    prefix /kind -> 500  (infra/refs spec.rules[1].matches[0])\n"
            // refs.example.com also carries the rules without hostname, after its own.
            "    exact /api/health -> infra/v1/80*1  (infra/older spec.rules[2].matches[0])\n"
            "    regex /item/[0-9]+ -> 500  (infra/older spec.rules[1].matches[0])\n"
            "    prefix /api [x-canary=1] -> infra/v1/80*3 infra/v2/80*1 rewrite=/v2 "
            "timeout=10000ms backend-timeout=500ms req-set x-shop=a req-remove x-debug resp-set "
            "cache-control=no-store  (infra/older spec.rules[0].matches[1])\n"
            "    prefix /api -> infra/v1/80*3 infra/v2/80*1 rewrite=/v2 timeout=10000ms "
            "backend-timeout=500ms req-set x-shop=a req-remove x-debug resp-set "
            "cache-control=no-store  (infra/older spec.rules[0].matches[0])\n");
  // "newer" repeats /api (trailing slash ignored) and loses to "older".
  EXPECT_EQ(cond(parent(r, "newer").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "older").conditions, "ResolvedRefs"), "False BackendNotFound");
  EXPECT_EQ(cond(parent(r, "refs").conditions, "ResolvedRefs"), "False RefNotPermitted");
  EXPECT_EQ(cond(parent(r, "refs").conditions, "PartiallyInvalid"), "True UnsupportedValue");
  EXPECT_NE(find(parent(r, "refs").conditions, "PartiallyInvalid")->message.find("ExtensionRef"),
            std::string::npos);
  // With a ReferenceGrant in "apps" the foreign backend resolves.
  Result granted = run(objs +
                       route("infra", "refs",
                             "  parentRefs: [{name: gw}]\n"
                             "  rules: [{backendRefs: [{name: app, namespace: apps, port: "
                             "80}]}]\n") +
                       R"(---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: infra-routes, namespace: apps}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}]
  to: [{group: "", kind: Service, name: app}]
)");
  EXPECT_EQ(cond(parent(granted, "refs").conditions, "ResolvedRefs"), "True ResolvedRefs");
  EXPECT_NE(describe(granted).find("prefix / -> apps/app/80*1"), std::string::npos)
      << describe(granted);
  // A route whose every rule is unsupported is not accepted.
  Result none = run(objs + route("infra", "extension-only",
                                 "  parentRefs: [{name: gw}]\n"
                                 "  rules: [{filters: [{type: ExtensionRef, extensionRef: "
                                 "{group: example.com, kind: Filter, name: f}}]}]\n"));
  EXPECT_EQ(cond(parent(none, "extension-only").conditions, "Accepted"), "False UnsupportedValue");
  EXPECT_EQ(listener(none, "gw", "http").attached_routes, 0);
}

// Rules with redirects, header regex matches, header add and no usable backend (500), as the
// proxy serves them: the front door's hosts rendered and compiled by the proxy's RouteTable.
TEST(HTTPRoute, RedirectsRegexHeadersAndAddThroughTheProxy) {
  Result r = run(
      std::string(kClass) +
      gateway("infra", "gw",
              "  - {name: http, port: 8080, protocol: HTTP, hostname: shop.example.com}\n") +
      service_yaml("infra", "v1", 1, 1) +
      route("infra", "mix",
            "  parentRefs: [{name: gw}]\n"
            "  rules:\n"
            "  - matches: [{path: {value: /old}}]\n"
            "    filters: [{type: RequestRedirect, requestRedirect: {path: {type: "
            "ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 301}}]\n"
            "  - matches: [{path: {type: Exact, value: /secure}}]\n"
            "    filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]\n"
            "  - matches: [{path: {type: Exact, value: /moved}}]\n"
            "    filters: [{type: RequestRedirect, requestRedirect: {hostname: other.example.com, "
            "path: {type: ReplaceFullPath, replaceFullPath: /here}, statusCode: 308}}]\n"
            "  - matches: [{headers: [{type: RegularExpression, name: x-version, value: "
            "\"v[0-9]+\"}]}]\n"
            "    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: "
            "X-Via, value: kop}]}}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"
            "  - backendRefs: [{name: v1, port: 80, weight: 0}, {name: gone, port: 80}]\n"));
  ASSERT_EQ(r.front_doors.size(), 1u) << describe(r);
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table) << proxy::to_json(c.config);
  auto at = [&](std::string_view path,
                const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return testing::route_of(c, "http", "shop.example.com", path, h);
  };
  EXPECT_EQ(at("/old/page"), "301 http://shop.example.com:8080/new/page");
  EXPECT_EQ(at("/secure"), "302 https://shop.example.com/secure");
  EXPECT_EQ(at("/moved"), "308 http://other.example.com:8080/here");
  EXPECT_EQ(at("/any", {{"x-version", "v12"}}), "infra/v1/80");
  EXPECT_EQ(at("/any", {{"x-version", "beta"}}), "500");
  bool added = false;
  for (const proxy::VirtualHostConfig& vh : c.config.virtual_hosts)
    for (const auto& rc : vh.routes)
      for (const auto& a : rc.request_headers->add) added |= a.name == "x-via" && a.value == "kop";
  EXPECT_TRUE(added) << proxy::to_json(c.config);
  EXPECT_EQ(cond(parent(r, "mix").conditions, "Accepted"), "True Accepted");
}

// Input the proxy would refuse in a whole config (or that is plain malformed) only drops its own
// rule: the front door still compiles with the proxy's RouteTable and serves the other rules.
TEST(HTTPRoute, BadInputDropsOnlyItsRule) {
  Result r = run(
      std::string(kClass) +
      gateway("infra", "gw",
              "  - {name: http, port: 80, protocol: HTTP}\n  - 7\n  - {name: x, port: abc}\n") +
      service_yaml("infra", "v1", 1, 1) +
      route("infra", "bad",
            "  parentRefs: [{name: gw, sectionName: http}, 12, {name: [1]}]\n"
            "  hostnames: [5, BAD.Example.com, \"bad host\"]\n"
            "  rules:\n"
            "  - matches: [{path: {value: /crlf}}]\n"
            "    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-a, "
            "value: \"a\\r\\nInjected: 1\"}]}}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"
            "  - matches: [{path: {value: /heavy}}]\n"
            "    backendRefs: [{name: v1, port: 80, weight: 2000000}]\n"
            "  - matches: [{path: {value: /badname}, headers: [{name: \"a b\", value: x}]}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"
            "  - matches: [{path: {value: /redirect}}]\n"
            "    filters: [{type: RequestRedirect, requestRedirect: {hostname: \"10.0.0.1\"}}]\n"
            "  - matches: [{path: {value: /slow}}]\n"
            "    timeouts: {request: 1s, backendRequest: 5s}\n"
            "    backendRefs: [{name: v1, port: 80}]\n"
            "  - matches: [{path: {value: nope}}, 3]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"
            "  - \"not a rule\"\n"
            "  - matches: [{path: {value: /good}}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"));
  EXPECT_EQ(cond(listener(r, "gw", "http").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(gw_status(r, "gw").conditions, "Accepted"), "True ListenersNotValid");
  ASSERT_EQ(r.front_doors.size(), 1u) << describe(r);
  const RouteParentStatus& p = parent(r, "bad");
  EXPECT_EQ(cond(p.conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(p.conditions, "PartiallyInvalid"), "True UnsupportedValue");
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table) << proxy::to_json(c.config);
  for (std::string_view path : {"/crlf", "/heavy", "/badname", "/redirect", "/slow"})
    EXPECT_EQ(testing::route_of(c, "http", "bad.example.com", path), "404") << path;
  EXPECT_EQ(testing::route_of(c, "http", "bad.example.com", "/good"), "infra/v1/80");
  // A route whose every hostname is invalid attaches nowhere (not to every host).
  Result none = run(std::string(kClass) +
                    gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
                    route("infra", "only-bad-hosts",
                          "  parentRefs: [{name: gw}]\n  hostnames: [\"a b\"]\n"
                          "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n"));
  EXPECT_EQ(cond(parent(none, "only-bad-hosts").conditions, "Accepted"),
            "False NoMatchingListenerHostname");
  EXPECT_TRUE(none.front_doors.at(0).virtual_hosts.empty()) << describe(none);
  std::set<std::string> fields;
  for (const Event& e : r.events)
    if (e.reason == "UnsupportedValue") fields.insert(e.field);
  EXPECT_EQ(fields, (std::set<std::string>{
                        "spec.rules[0].filters[0].requestHeaderModifier.set[0].value",
                        "spec.rules[1].backendRefs[0].weight",
                        "spec.rules[2].matches[0].headers[0].name",
                        "spec.rules[3].filters[0].requestRedirect.hostname",
                        "spec.rules[4].timeouts.backendRequest",
                        "spec.rules[5].matches[0].path.value",
                        "spec.rules[6]",
                        "spec.hostnames[0]",
                        "spec.hostnames[2]",
                    }))
      << describe(r);
}

// The request a compiled front door serves: the backend Service name ("v1"), a direct
// response's status, or "404".
std::string served(const testing::Compiled& c, std::string_view method, std::string_view target,
                   std::vector<proxy::HeaderField> headers = {}) {
  if (!c.table) return "no table";
  proxy::RequestView req;
  req.method = method;
  size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string_view::npos) req.query = target.substr(q + 1);
  req.host = "example.com";
  req.headers = headers;
  const proxy::VirtualHost* vh = c.table->find_virtual_host("http", req.host);
  const proxy::Route* r = vh != nullptr ? c.table->match(*vh, req) : nullptr;
  if (r == nullptr) return "404";
  if (r->action == proxy::ActionType::kDirectResponse)
    return std::to_string(r->config->direct_response->status);
  std::string name = c.table->cluster(r->clusters.at(0).cluster).name;  // "ns/svc/port"
  return name.substr(name.find('/') + 1, name.rfind('/') - name.find('/') - 1);
}

// HTTPRouteMethodMatching and HTTPRouteQueryParamMatching (the upstream rules and requests),
// translated, rendered and matched by the proxy's RouteTable: the spec's precedence (path,
// method, headers, query parameters) holds across rules.
TEST(HTTPRoute, MethodAndQueryParamMatchingThroughTheProxy) {
  std::string objs = std::string(kClass) +
                     gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
                     service_yaml("infra", "v1", 1, 1) + service_yaml("infra", "v2", 1, 2) +
                     service_yaml("infra", "v3", 1, 3);
  auto rule = [](std::string_view matches, std::string_view backend) {
    return "  - matches: " + std::string(matches) +
           "\n    backendRefs: [{name: " + std::string(backend) + ", port: 80}]\n";
  };
  Result m = run(
      objs + route("infra", "method",
                   "  parentRefs: [{name: gw}]\n  rules:\n" + rule("[{method: POST}]", "v1") +
                       rule("[{method: GET}]", "v2") +
                       rule("[{path: {value: /path1}, method: GET}]", "v1") +
                       rule("[{headers: [{name: version, value: one}], method: PUT}]", "v2") +
                       rule("[{path: {value: /path2}, headers: [{name: version, "
                            "value: two}], method: POST}]",
                            "v3") +
                       rule("[{path: {value: /path3}, method: PATCH}, {path: {value: "
                            "/path4}, headers: [{name: version, value: three}], "
                            "method: DELETE}]",
                            "v1") +
                       rule("[{path: {value: /path5}}]", "v1") + rule("[{method: PATCH}]", "v2") +
                       rule("[{headers: [{name: version, value: four}]}]", "v3")));
  EXPECT_EQ(cond(parent(m, "method").conditions, "Accepted"), "True Accepted") << describe(m);
  testing::Compiled mc = compile_front_door(m);
  EXPECT_EQ(served(mc, "POST", "/"), "v1");
  EXPECT_EQ(served(mc, "GET", "/"), "v2");
  EXPECT_EQ(served(mc, "HEAD", "/"), "404");
  EXPECT_EQ(served(mc, "GET", "/path1"), "v1");
  EXPECT_EQ(served(mc, "PUT", "/", {{"version", "one"}}), "v2");
  EXPECT_EQ(served(mc, "POST", "/path2", {{"version", "two"}}), "v3");
  EXPECT_EQ(served(mc, "PATCH", "/path3"), "v1");
  EXPECT_EQ(served(mc, "DELETE", "/path4", {{"version", "three"}}), "v1");
  EXPECT_EQ(served(mc, "PUT", "/"), "404");
  EXPECT_EQ(served(mc, "DELETE", "/path4"), "404");
  EXPECT_EQ(served(mc, "PATCH", "/path5"), "v1");
  EXPECT_EQ(served(mc, "PATCH", "/", {{"version", "four"}}), "v2");

  auto qp = [](std::string_view name, std::string_view value) {
    return "{name: " + std::string(name) + ", value: " + std::string(value) + "}";
  };
  Result q = run(
      objs +
      route("infra", "query",
            "  parentRefs: [{name: gw}]\n  rules:\n" +
                rule("[{queryParams: [" + qp("animal", "whale") + "]}]", "v1") +
                rule("[{queryParams: [" + qp("animal", "dolphin") + "]}]", "v2") +
                rule("[{queryParams: [" + qp("animal", "dolphin") + ", " + qp("color", "blue") +
                         "]}, {queryParams: [" + qp("ANIMAL", "Whale") + "]}]",
                     "v3") +
                rule("[{path: {value: /path1}, queryParams: [" + qp("animal", "whale") + "]}]",
                     "v1") +
                rule("[{headers: [{name: version, value: one}], queryParams: [" +
                         qp("animal", "whale") + "]}]",
                     "v2") +
                rule("[{path: {value: /path2}, headers: [{name: version, value: two}], "
                     "queryParams: [" +
                         qp("animal", "whale") + "]}]",
                     "v3") +
                rule("[{path: {value: /path3}, queryParams: [" + qp("animal", "shark") +
                         "]}, {path: {value: /path4}, headers: [{name: version, value: three}], "
                         "queryParams: [" +
                         qp("animal", "kraken") + "]}]",
                     "v1") +
                rule("[{path: {value: /path5}}]", "v1") +
                rule("[{queryParams: [" + qp("animal", "hydra") + "]}]", "v2") +
                rule("[{headers: [{name: version, value: four}]}]", "v3") +
                rule("[{path: {value: /re}, queryParams: [{type: RegularExpression, name: id, "
                     "value: \"[0-9]+\"}, {name: id, value: ignored}]}]",
                     "v2")));
  EXPECT_EQ(cond(parent(q, "query").conditions, "Accepted"), "True Accepted") << describe(q);
  testing::Compiled qc = compile_front_door(q);
  EXPECT_EQ(served(qc, "GET", "/?animal=whale"), "v1");
  EXPECT_EQ(served(qc, "GET", "/?animal=dolphin"), "v2");
  EXPECT_EQ(served(qc, "GET", "/?animal=dolphin&color=blue"), "v3");
  EXPECT_EQ(served(qc, "GET", "/?ANIMAL=Whale"), "v3");
  EXPECT_EQ(served(qc, "GET", "/?animal=whale&otherparam=irrelevant"), "v1");
  EXPECT_EQ(served(qc, "GET", "/?animal=dolphin&color=yellow"), "v2");
  EXPECT_EQ(served(qc, "GET", "/?color=blue"), "404");
  EXPECT_EQ(served(qc, "GET", "/?animal=dog"), "404");
  EXPECT_EQ(served(qc, "GET", "/?animal=whaledolphin"), "404");
  EXPECT_EQ(served(qc, "GET", "/"), "404");
  EXPECT_EQ(served(qc, "GET", "/path1?animal=whale"), "v1");
  EXPECT_EQ(served(qc, "GET", "/?animal=whale", {{"version", "one"}}), "v2");
  EXPECT_EQ(served(qc, "GET", "/path2?animal=whale", {{"version", "two"}}), "v3");
  EXPECT_EQ(served(qc, "GET", "/path3?animal=shark"), "v1");
  EXPECT_EQ(served(qc, "GET", "/path4?animal=kraken", {{"version", "three"}}), "v1");
  EXPECT_EQ(served(qc, "GET", "/?animal=shark"), "404");
  EXPECT_EQ(served(qc, "GET", "/path4?animal=kraken"), "404");
  EXPECT_EQ(served(qc, "GET", "/path5?animal=hydra"), "v1");
  EXPECT_EQ(served(qc, "GET", "/?animal=hydra", {{"version", "four"}}), "v3");
  // Of two conditions on one name only the first counts.
  EXPECT_EQ(served(qc, "GET", "/re?id=7"), "v2");
  EXPECT_EQ(served(qc, "GET", "/re?id=ignored"), "404");
}

// URLRewrite hostname and ReplaceFullPath reach the proxy config; bad values drop their rule.
TEST(HTTPRoute, UrlRewriteHostAndFullPath) {
  Result r = run(
      std::string(kClass) + gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
      service_yaml("infra", "v1", 1, 1) +
      route("infra", "rewrite",
            "  parentRefs: [{name: gw}]\n"
            "  rules:\n"
            "  - matches: [{path: {value: /full}}]\n"
            "    filters: [{type: URLRewrite, urlRewrite: {hostname: One.Example.org, path: "
            "{type: ReplaceFullPath, replaceFullPath: /one}}}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"
            "  - matches: [{path: {type: RegularExpression, value: \"/re/.*\"}}]\n"
            "    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, "
            "replaceFullPath: /}}}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"
            "  - matches: [{path: {value: /badhost}}]\n"
            "    filters: [{type: URLRewrite, urlRewrite: {hostname: \"*.example.org\"}}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"
            "  - matches: [{path: {value: /badpath}}]\n"
            "    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, "
            "replaceFullPath: \"/a b\"}}}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"
            "  - matches: [{path: {value: /badmethod}, method: FETCH}]\n"
            "    backendRefs: [{name: v1, port: 80}]\n"));
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table) << proxy::to_json(c.config);
  const proxy::VirtualHost* vh = c.table->find_virtual_host("http", "x");
  ASSERT_NE(vh, nullptr);
  proxy::RequestView req;
  req.method = "GET";
  req.path = "/full/a";
  const proxy::Route* full = c.table->match(*vh, req);
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(full->config->forward.host_rewrite, "one.example.org");
  std::string out;
  full->rewrite_path("/full/a", "x=1", out);
  EXPECT_EQ(out, "/one?x=1");
  req.path = "/re/deep/path";
  out.clear();
  c.table->match(*vh, req)->rewrite_path(req.path, "", out);
  EXPECT_EQ(out, "/");
  for (std::string_view path : {"/badhost", "/badpath", "/badmethod"})
    EXPECT_EQ(served(c, "GET", path), "404") << path;
  std::set<std::string> fields;
  for (const Event& e : r.events)
    if (e.reason == "UnsupportedValue") fields.insert(e.field);
  EXPECT_EQ(fields, (std::set<std::string>{"spec.rules[2].filters[0].urlRewrite.hostname",
                                           "spec.rules[3].filters[0].urlRewrite.path."
                                           "replaceFullPath",
                                           "spec.rules[4].matches[0].method"}))
      << describe(r);
}

// backendRef filters become the proxy's per-entry header changes; the weight of invalid
// backendRefs becomes a directly answered 500 share next to the valid ones.
TEST(HTTPRoute, BackendFiltersAndTheShareOfInvalidBackends) {
  Result r = run(
      std::string(kClass) + gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
      service_yaml("infra", "v1", 1, 1) + service_yaml("infra", "v2", 1, 2) +
      service_yaml("apps", "app", 1, 3) +
      route("infra", "split",
            "  parentRefs: [{name: gw}]\n"
            "  rules:\n"
            "  - matches: [{path: {value: /split}}]\n"
            "    backendRefs:\n"
            "    - name: v1\n"
            "      port: 80\n"
            "      filters:\n"
            "      - type: RequestHeaderModifier\n"
            "        requestHeaderModifier: {set: [{name: X-Backend, value: v1}]}\n"
            "      - type: ResponseHeaderModifier\n"
            "        responseHeaderModifier: {add: [{name: X-Served-By, value: v1}]}\n"
            "    - {name: v2, port: 80}\n"
            "    - {name: missing, port: 80, weight: 2}\n"
            "    - {name: app, namespace: apps, port: 80, weight: 0}\n"
            "  - matches: [{path: {value: /rewrite}}]\n"
            "    backendRefs:\n"
            "    - name: v1\n"
            "      port: 80\n"
            "      filters: [{type: URLRewrite, urlRewrite: {hostname: a.example.com}}]\n"
            "  - matches: [{path: {value: /twice}}]\n"
            "    backendRefs:\n"
            "    - {name: v1, port: 80}\n"
            "    - name: v1\n"
            "      port: 80\n"
            "      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {remove: "
            "[x]}}]\n"));
  EXPECT_EQ(cond(parent(r, "split").conditions, "Accepted"), "True Accepted") << describe(r);
  EXPECT_EQ(cond(parent(r, "split").conditions, "ResolvedRefs"), "False BackendNotFound");
  EXPECT_NE(describe(r).find("prefix /split -> infra/v1/80*1(req-set x-backend) infra/v2/80*1 "
                             "500*2"),
            std::string::npos)
      << describe(r);
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table) << proxy::to_json(c.config);
  const proxy::VirtualHost* vh = c.table->find_virtual_host("http", "x");
  ASSERT_NE(vh, nullptr);
  proxy::RequestView req;
  req.method = "GET";
  req.path = "/split";
  const proxy::Route* split = c.table->match(*vh, req);
  ASSERT_NE(split, nullptr);
  const auto& entries = split->config->forward.clusters;
  ASSERT_EQ(entries.size(), 3u) << proxy::to_json(c.config);
  EXPECT_EQ(entries[0].request_headers->set.at(0).name, "x-backend");
  EXPECT_EQ(entries[0].response_headers->add.at(0).value, "v1");
  EXPECT_TRUE(entries[1].request_headers->empty());
  EXPECT_EQ(entries[2].direct_status, 500u);
  EXPECT_EQ(entries[2].weight, 2u);  // the weight-0 foreign ref adds nothing
  EXPECT_EQ(testing::route_of(c, "http", "x", "/split"), "infra/v1/80,infra/v2/80,500");
  for (std::string_view path : {"/rewrite", "/twice"})
    EXPECT_EQ(served(c, "GET", path), "404") << path;
  std::set<std::string> fields;
  for (const Event& e : r.events)
    if (e.reason == "UnsupportedValue") fields.insert(e.field);
  EXPECT_EQ(fields, (std::set<std::string>{"spec.rules[1].backendRefs[0].filters[0].type",
                                           "spec.rules[2].backendRefs[1].filters"}))
      << describe(r);
}

// timeouts.request is the proxy route's timeout, timeouts.backendRequest its per-try timeout,
// with or without retries.
TEST(HTTPRoute, TimeoutsReachTheProxy) {
  Result r = run(std::string(kClass) +
                 gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
                 service_yaml("infra", "v1", 1, 1) +
                 route("infra", "timeouts",
                       "  parentRefs: [{name: gw}]\n"
                       "  rules:\n"
                       "  - matches: [{path: {value: /both}}]\n"
                       "    timeouts: {request: 10s, backendRequest: 500ms}\n"
                       "    backendRefs: [{name: v1, port: 80}]\n"
                       "  - matches: [{path: {value: /backend}}]\n"
                       "    timeouts: {backendRequest: 2s}\n"
                       "    backendRefs: [{name: v1, port: 80}]\n"));
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table) << proxy::to_json(c.config);
  const proxy::VirtualHost* vh = c.table->find_virtual_host("http", "x");
  ASSERT_NE(vh, nullptr);
  proxy::RequestView req;
  req.method = "GET";
  req.path = "/both";
  const proxy::ForwardAction& both = c.table->match(*vh, req)->config->forward;
  EXPECT_EQ(both.timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(both.retry.per_try_timeout, std::chrono::milliseconds(500));
  req.path = "/backend";
  const proxy::ForwardAction& backend = c.table->match(*vh, req)->config->forward;
  EXPECT_EQ(backend.retry.per_try_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(backend.timeout, proxy::ForwardAction{}.timeout);  // the proxy's default
}

// The CORS filter reaches the proxy route as a CorsPolicy; an origin the proxy cannot match
// drops the rule.
TEST(HTTPRoute, CorsFilterReachesTheProxy) {
  Result r = run(std::string(kClass) +
                 gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
                 service_yaml("infra", "v1", 1, 1) +
                 route("infra", "cors",
                       "  parentRefs: [{name: gw}]\n"
                       "  rules:\n"
                       "  - matches: [{path: {value: /cors-1}}]\n"
                       "    filters:\n"
                       "    - type: CORS\n"
                       "      cors:\n"
                       "        allowOrigins: [\"https://www.foo.com\", \"https://*.bar.com\"]\n"
                       "        allowMethods: [GET, OPTIONS]\n"
                       "        allowHeaders: [x-header-1, x-header-2]\n"
                       "        exposeHeaders: [x-header-3, x-header-4]\n"
                       "        allowCredentials: true\n"
                       "        maxAge: 3600\n"
                       "    backendRefs: [{name: v1, port: 80}]\n"
                       "  - matches: [{path: {value: /cors-2}}]\n"
                       "    filters: [{type: CORS, cors: {allowOrigins: [\"https://www.foo.com\"], "
                       "allowMethods: [\"*\"]}}]\n"
                       "    backendRefs: [{name: v1, port: 80}]\n"
                       "  - matches: [{path: {value: /bad}}]\n"
                       "    filters: [{type: CORS, cors: {allowOrigins: [\"www.foo.com/x\"]}}]\n"
                       "    backendRefs: [{name: v1, port: 80}]\n"));
  testing::Compiled c = compile_front_door(r);
  ASSERT_TRUE(c.table) << proxy::to_json(c.config);
  const proxy::VirtualHost* vh = c.table->find_virtual_host("http", "x");
  ASSERT_NE(vh, nullptr);
  proxy::RequestView req;
  req.method = "OPTIONS";
  req.path = "/cors-1";
  const auto& one = c.table->match(*vh, req)->config->cors;
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->allow_origins,
            (std::vector<std::string>{"https://www.foo.com", "https://*.bar.com"}));
  EXPECT_EQ(one->allow_methods, (std::vector<std::string>{"GET", "OPTIONS"}));
  EXPECT_EQ(one->expose_headers, (std::vector<std::string>{"x-header-3", "x-header-4"}));
  EXPECT_TRUE(one->allow_credentials);
  EXPECT_EQ(one->max_age, 3600u);
  EXPECT_TRUE(proxy::cors_origin_allowed(*one, "https://xpto.www.bar.com"));
  req.path = "/cors-2";
  const auto& two = c.table->match(*vh, req)->config->cors;
  ASSERT_TRUE(two.has_value());
  EXPECT_FALSE(two->allow_credentials);
  EXPECT_EQ(two->max_age, 5u);  // the API's default
  EXPECT_EQ(served(c, "GET", "/bad"), "404");
  EXPECT_EQ(cond(parent(r, "cors").conditions, "PartiallyInvalid"), "True UnsupportedValue");
  EXPECT_NE(find(parent(r, "cors").conditions, "PartiallyInvalid")->message.find("allowOrigins[0]"),
            std::string::npos);
}

TEST(Translate, SameResultInAnyOrder) {
  std::string objs =
      std::string(kClass) +
      gateway("infra", "gw",
              "  - {name: http, port: 80, protocol: HTTP}\n"
              "  - {name: other, port: 81, protocol: HTTP, hostname: x.example.com}\n") +
      service_yaml("infra", "v1", 2, 1) +
      route("infra", "a",
            "  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: v1, port: 80}]}]\n") +
      route("infra", "b",
            "  parentRefs: [{name: gw, sectionName: other}]\n  rules: [{matches: [{path: {value: "
            "/b}}], backendRefs: [{name: gone, port: 80}]}]\n");
  auto in = input(objs);
  Result want = translate(in->snap, {});
  std::mt19937 rng(7);
  for (int i = 0; i < 5; ++i) {
    std::shuffle(in->snap.gateways.begin(), in->snap.gateways.end(), rng);
    std::shuffle(in->snap.http_routes.begin(), in->snap.http_routes.end(), rng);
    std::shuffle(in->base.services.begin(), in->base.services.end(), rng);
    EXPECT_EQ(translate(in->snap, {}), want);
  }
}

}  // namespace
}  // namespace kop::ingress::gateway
