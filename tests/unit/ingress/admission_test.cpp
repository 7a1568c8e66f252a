// The admission decision of kop-ingress (operators/ingress/admission): the object's own
// problems refuse it, with the field and the reason; another object's never do. And the
// Validator the webhook server runs: what it does with a review, and when it cannot read the
// caches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "../../../operators/ingress/admission/decision.h"
#include "../../../operators/ingress/admission/validator.h"
#include "test_util.h"

namespace kop::ingress::admission {
namespace {

using ::testing::HasSubstr;

Inputs inputs_of(std::string_view yaml) {
  Inputs in;
  in.base = testing::snapshot_of(yaml);
  for (const auto& o : testing::parse_objects(yaml)) {
    std::string_view k = o->kind();
    if (k == "GatewayClass") in.gateway.gateway_classes.push_back(o);
    if (k == "Gateway") in.gateway.gateways.push_back(o);
    if (k == "HTTPRoute") in.gateway.http_routes.push_back(o);
    if (k == "GRPCRoute") in.gateway.grpc_routes.push_back(o);
    if (k == "TLSRoute") in.gateway.tls_routes.push_back(o);
    if (k == "ReferenceGrant") in.gateway.reference_grants.push_back(o);
    if (k == "Namespace") in.gateway.namespaces.push_back(o);
  }
  return in;
}

api::Object object_of(std::string_view yaml) {
  auto objects = testing::parse_objects(yaml);
  EXPECT_EQ(objects.size(), 1u);
  return *objects.front();
}

absl::Status decide_yaml(std::string_view existing, std::string_view reviewed) {
  return decide(inputs_of(existing), object_of(reviewed), DecisionOptions{});
}

std::string route(std::string_view name, std::string_view spec, std::string_view ns = "default") {
  return "apiVersion: ingress.kop.dev/v1beta1\nkind: IngressRoute\nmetadata: {name: " +
         std::string(name) + ", namespace: " + std::string(ns) + "}\nspec:\n" + std::string(spec);
}

constexpr std::string_view kService = R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{name: http, port: 80}]}
)";

TEST(AdmissionIngressRoute, ValidIsAdmittedEvenWhenItsServiceIsMissing) {
  std::string spec = R"(  virtualhost: {fqdn: a.example.com}
  routes: [{match: /, services: [{name: web, port: 80}]}]
)";
  EXPECT_TRUE(decide_yaml(kService, route("a", spec)).ok());
  // The Service may be applied after the route: not this object's problem.
  EXPECT_TRUE(decide_yaml("", route("a", spec)).ok());
}

TEST(AdmissionIngressRoute, MatchWithoutSlashIsRefusedWithItsField) {
  absl::Status s = decide_yaml(kService, route("a", R"(  virtualhost: {fqdn: a.example.com}
  routes: [{match: api, services: [{name: web, port: 80}]}]
)"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "IngressRoute \"default/a\": spec.routes[0].match must start with '/'");
}

TEST(AdmissionIngressRoute, OwnStatusProblemsAreRefused) {
  for (std::string_view spec : {
           "  virtualhost: {fqdn: ''}\n",
           "  virtualhost: {fqdn: '*.example.com'}\n",
           "  virtualhost: {fqdn: a.example.com, tls: {passthrough: true, secretName: s}}\n"
           "  tcpproxy: {services: [{name: web, port: 80}]}\n",
           "  virtualhost: {fqdn: a.example.com, tls: {passthrough: true}}\n",
           "  virtualhost: {fqdn: a.example.com}\n  tcpproxy: {services: [{name: web, port: "
           "80}]}\n",
           "  virtualhost: {fqdn: a.example.com, tls: {passthrough: true}}\n"
           "  tcpproxy: {services: [{name: web, port: 80}], delegate: {name: b}}\n",
           "  virtualhost: {fqdn: a.example.com, tls: {passthrough: true}}\n  tcpproxy: {}\n",
       }) {
    absl::Status s = decide_yaml(kService, route("a", spec));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << spec;
    EXPECT_THAT(s.message(), HasSubstr("IngressRoute \"default/a\": spec.")) << spec;
  }
}

TEST(AdmissionIngressRoute, FqdnTakenByAnotherRouteIsRefusedAndAnUpdateIsNotItsOwnDuplicate) {
  std::string spec = "  virtualhost: {fqdn: a.example.com}\n";
  std::string existing = std::string(kService) + "---\n" + route("first", spec);
  absl::Status s = decide_yaml(existing, route("second", spec));
  EXPECT_EQ(s.message(),
            "IngressRoute \"default/second\": fqdn \"a.example.com\" is used in multiple "
            "IngressRoutes: default/first, default/second");
  // Updating "first" replaces it in the inputs: it does not conflict with itself.
  EXPECT_TRUE(decide_yaml(existing, route("first", spec)).ok());
}

TEST(AdmissionIngressRoute, ProblemsOfOtherObjectsNeverRefuse) {
  // A TLS Secret of another namespace not delegated (yet), a tcpproxy delegate not there, a
  // delegated route whose prefix does not fit its parent's, a route in a delegation cycle.
  EXPECT_TRUE(decide_yaml(kService, route("a",
                                          "  virtualhost: {fqdn: a.example.com, tls: {secretName: "
                                          "certs/wild}}\n"))
                  .ok());
  EXPECT_TRUE(
      decide_yaml(kService, route("a",
                                  "  virtualhost: {fqdn: a.example.com, tls: {passthrough: true}}\n"
                                  "  tcpproxy: {delegate: {name: missing}}\n"))
          .ok());
  std::string parent = route("root", R"(  virtualhost: {fqdn: a.example.com}
  routes: [{match: /blog, delegate: {name: child}}]
)");
  EXPECT_TRUE(decide_yaml(parent, route("child",
                                        "  routes: [{match: /shop, services: [{name: web, "
                                        "port: 80}]}]\n"))
                  .ok());
  std::string cycle = parent + "---\n" +
                      route("child", "  routes: [{match: /blog, delegate: {name: grandchild}}]\n");
  EXPECT_TRUE(decide_yaml(cycle, route("grandchild",
                                       "  routes: [{match: /blog, delegate: {name: child}}]\n"))
                  .ok());
}

TEST(AdmissionIngressRoute, OwnFieldEventsAreRefusedAllTogether) {
  absl::Status s = decide_yaml(kService, route("a", R"(  virtualhost: {fqdn: a.example.com}
  routes:
  - match: /
    headersMatch: [{exact: x}]
    services: [{name: web, port: 80}]
  - match: /slow
    timeoutPolicy: {request: soon}
    services: [{name: web, port: 80}, {name: web}]
)"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("spec.routes[0].headersMatch[0]: a header condition needs"));
  EXPECT_THAT(s.message(), HasSubstr("spec.routes[1].timeoutPolicy.request: invalid duration"));
  EXPECT_THAT(s.message(),
              HasSubstr("spec.routes[1].services[1]: service name and port are required"));
}

std::string ingress(std::string_view cls, std::string_view path) {
  return "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: "
         "default}\nspec:\n  ingressClassName: " +
         std::string(cls) +
         "\n  rules:\n  - host: web.example.com\n    http:\n      paths:\n      - path: '" +
         std::string(path) +
         "'\n        pathType: ImplementationSpecific\n        backend: {service: {name: web, "
         "port: {number: 80}}}\n";
}

constexpr std::string_view kClasses = R"(
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: kop}
spec: {controller: kop.dev/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: other}
spec: {controller: example.com/other}
)";

TEST(AdmissionIngress, OursWithABadRegexIsRefusedAnotherClassIsNot) {
  absl::Status s = decide_yaml(kClasses, ingress("kop", "/api/(v1"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("Ingress \"default/web\": spec.rules[0].http.paths[0]: "
                                     "invalid regular expression"));
  EXPECT_TRUE(decide_yaml(kClasses, ingress("other", "/api/(v1")).ok());
  EXPECT_TRUE(decide_yaml(kClasses, ingress("kop", "/api/(v1)")).ok());
}

constexpr std::string_view kGatewayClass = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: kop}
spec: {controllerName: kop.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: other}
spec: {controllerName: example.com/other}
)";

std::string gateway(std::string_view cls, std::string_view listeners) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, "
         "namespace: default}\nspec:\n  gatewayClassName: " +
         std::string(cls) + "\n  listeners:\n" + std::string(listeners);
}

TEST(AdmissionGateway, OwnListenerProblemsOfOurClassAreRefused) {
  absl::Status s =
      decide_yaml(kGatewayClass, gateway("kop", "  - {name: udp, port: 53, protocol: UDP}\n"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "Gateway \"default/gw\": spec.listeners[0].protocol: \"UDP\" is not "
            "supported (HTTP, HTTPS, TLS)");
  s = decide_yaml(kGatewayClass, gateway("kop", R"(  - {name: web, port: 80, protocol: HTTP}
  - {name: tls, port: 80, protocol: TLS, tls: {mode: Passthrough}}
)"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("spec.listeners[1]"));
  // Another controller's Gateway, and one whose certificate Secret is missing: admitted.
  EXPECT_TRUE(
      decide_yaml(kGatewayClass, gateway("other", "  - {name: udp, port: 53, protocol: UDP}\n"))
          .ok());
  EXPECT_TRUE(decide_yaml(kGatewayClass, gateway("kop", R"(  - name: https
    port: 443
    protocol: HTTPS
    tls: {certificateRefs: [{name: missing}]}
)"))
                  .ok());
}

std::string http_route(std::string_view parent, std::string_view rule) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, "
         "namespace: default}\nspec:\n  parentRefs: [{name: " +
         std::string(parent) + "}]\n  rules:\n  - " + std::string(rule) + "\n";
}

TEST(AdmissionHTTPRoute, AttachedToOurGatewayAnUnservableRuleIsRefused) {
  std::string existing = std::string(kGatewayClass) + "---\n" +
                         gateway("kop", "  - {name: web, port: 80, protocol: HTTP}\n") + "---\n" +
                         std::string(kService);
  absl::Status s = decide_yaml(existing, http_route("gw", "timeouts: {request: banana}"));
  EXPECT_EQ(s.message(),
            "HTTPRoute \"default/r\": spec.rules[0].timeouts.request: invalid "
            "duration \"banana\"");
  // Its Gateway not there yet (or another controller's): nothing of ours to judge it by.
  EXPECT_TRUE(decide_yaml(kGatewayClass, http_route("gw", "timeouts: {request: banana}")).ok());
  // A backend Service that does not exist is the Service's problem.
  EXPECT_TRUE(
      decide_yaml(existing, http_route("gw", "backendRefs: [{name: missing, port: 80}]")).ok());
  EXPECT_TRUE(decide_yaml(existing, http_route("gw", "backendRefs: [{name: web, port: 80}]")).ok());
}

TEST(AdmissionGRPCRoute, AnInvalidMethodRegexIsRefused) {
  std::string existing = std::string(kGatewayClass) + "---\n" +
                         gateway("kop", "  - {name: web, port: 80, protocol: HTTP}\n");
  auto grpc = [](std::string_view service) {
    return "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: g, "
           "namespace: default}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - matches: "
           "[{method: {type: RegularExpression, service: '" +
           std::string(service) + "'}}]\n    backendRefs: [{name: web, port: 80}]\n";
  };
  absl::Status s = decide_yaml(existing, grpc("echo.(v1"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("GRPCRoute \"default/g\": spec.rules[0]"));
  EXPECT_THAT(s.message(), HasSubstr("invalid regular expression"));
  EXPECT_TRUE(decide_yaml(existing, grpc("echo\\.v[12]")).ok());
}

TEST(AdmissionTLSRoute, AWeightOutOfRangeIsRefused) {
  std::string existing = std::string(kGatewayClass) + "---\n" +
                         gateway("kop",
                                 "  - {name: tls, port: 443, protocol: TLS, tls: {mode: "
                                 "Passthrough}}\n");
  absl::Status s = decide_yaml(existing, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: t, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [t.example.com]
  rules: [{backendRefs: [{name: web, port: 443, weight: 2000000}]}]
)");
  EXPECT_EQ(s.message(),
            "TLSRoute \"default/t\": spec.rules[0].backendRefs[0].weight: must be 0-1000000");
}

TEST(AdmissionKinds, WhatIsDecided) {
  EXPECT_TRUE(handles("ingress.kop.dev", "IngressRoute"));
  EXPECT_TRUE(handles("networking.k8s.io", "Ingress"));
  EXPECT_TRUE(handles("gateway.networking.k8s.io", "ReferenceGrant"));
  EXPECT_TRUE(handles("gateway.networking.k8s.io", "GRPCRoute"));
  EXPECT_FALSE(handles("", "Service"));
  EXPECT_FALSE(handles("gateway.networking.k8s.io", "GatewayClass"));
  EXPECT_TRUE(decide_yaml("", R"(
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: default}
spec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: x}], to: [{group: '', kind: Service}]}
)")
                  .ok());
}

api::AdmissionRequest review(api::AdmissionOperation op, const api::Object& obj) {
  api::AdmissionRequest r;
  r.uid = "u-1";
  r.kind = obj.gvk();
  r.operation = op;
  r.namespace_ = "default";
  r.name = std::string(obj.name());
  if (op == api::AdmissionOperation::kDelete)
    r.old_object = obj;
  else
    r.object = obj;
  return r;
}

TEST(AdmissionValidator, AnswersReviewsFromTheInputsItReads) {
  api::Object bad = object_of(route("a",
                                    "  virtualhost: {fqdn: a.example.com}\n  routes: "
                                    "[{match: api}]\n"));
  // The namespace comes from the request when the body leaves it out.
  api::Object no_ns(bad);
  no_ns.set_namespace("");
  Validator v([] { return inputs_of(kService); }, DecisionOptions{});
  api::AdmissionResponse r = webhook::validate(v, review(api::AdmissionOperation::kCreate, no_ns));
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.code, 403);
  EXPECT_EQ(r.message, "IngressRoute \"default/a\": spec.routes[0].match must start with '/'");
  EXPECT_TRUE(webhook::validate(v, review(api::AdmissionOperation::kDelete, bad)).allowed);

  // Caches not readable: allowed, with a warning saying the object was not checked.
  Validator unsynced(
      []() -> absl::StatusOr<Inputs> { return absl::UnavailableError("not synced"); },
      DecisionOptions{});
  r = webhook::validate(unsynced, review(api::AdmissionOperation::kCreate, bad));
  EXPECT_TRUE(r.allowed);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_THAT(r.warnings[0], HasSubstr("not synced"));
}

}  // namespace
}  // namespace kop::ingress::admission
