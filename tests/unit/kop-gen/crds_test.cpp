// The project's own CRDs (crds/: kop-ingress's IngressRoute and TLSCertificateDelegation, the
// Gateway API standard channel) through headers kop-gen wrote at build time: they compile with
// -Werror, and objects read with the schemas' defaults and enums.
#include <gtest/gtest.h>
#include <kop/api/yaml.h>

#include "grpcroutes_gen.h"
#include "httproutes_gen.h"
#include "ingressroutes_gen.h"
#include "tlscertificatedelegations_gen.h"

namespace {

kop::Object parse(std::string_view yaml) {
  auto o = kop::api::parse_yaml_object(yaml);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? std::move(*o) : kop::Object();
}

TEST(KopGenProjectCrds, HTTPRouteReadsWithTheSchemasDefaults) {
  namespace gw = crds::httproutes::v1;
  kop::Object route = parse(R"(
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [example.com]
  rules:
    - matches: [{path: {type: Exact, value: /login}}, {path: {}}]
      backendRefs: [{name: web, port: 8080}]
)");
  gw::HTTPRoute view(route);
  EXPECT_EQ(gw::HTTPRoute::kPlural, "httproutes");
  auto spec = view.spec();
  EXPECT_EQ(spec.parent_refs()[0].group(), "gateway.networking.k8s.io");  // default
  EXPECT_EQ(spec.parent_refs()[0].kind(), "Gateway");
  EXPECT_EQ(spec.parent_refs()[0].name(), "gw");
  EXPECT_EQ(spec.hostnames()[0], "example.com");
  auto rule = spec.rules()[0];
  EXPECT_EQ(rule.matches()[0].path().type(), gw::HTTPRouteSpecRulesItemMatchesItemPathType::kExact);
  EXPECT_EQ(rule.matches()[0].path().value(), "/login");
  EXPECT_EQ(rule.matches()[1].path().type(),
            gw::HTTPRouteSpecRulesItemMatchesItemPathType::kPathPrefix);
  EXPECT_EQ(rule.matches()[1].path().value(), "/");
  EXPECT_EQ(rule.backend_refs()[0].kind(), "Service");
  EXPECT_EQ(rule.backend_refs()[0].port(), 8080);
  EXPECT_EQ(rule.backend_refs()[0].weight(), 1);

  // A status written through the builder reads back through the view.
  auto parent = gw::HTTPRouteBuilder(route).mutable_status().add_parents();
  parent.set_controller_name("kop.dev/ingress");
  parent.mutable_parent_ref().set_name("gw");
  parent.add_conditions()
      .set_type("Accepted")
      .set_status(gw::HTTPRouteStatusParentsItemConditionsItemStatus::kTrue)
      .set_reason("Accepted");
  auto status = gw::HTTPRoute(route).status().parents()[0];
  EXPECT_EQ(status.controller_name(), "kop.dev/ingress");
  EXPECT_EQ(status.conditions()[0].status(),
            gw::HTTPRouteStatusParentsItemConditionsItemStatus::kTrue);
  EXPECT_EQ(route.get_string("/status/parents/0/parentRef/name"), "gw");
}

TEST(KopGenProjectCrds, GRPCRouteAndTheOlderVersionsHaveTheirOwnNamespaces) {
  EXPECT_EQ(crds::grpcroutes::v1::GRPCRoute::gvk().api_version(), "gateway.networking.k8s.io/v1");
  EXPECT_EQ(crds::httproutes::v1beta1::HTTPRoute::kVersion, "v1beta1");
}

TEST(KopGenProjectCrds, IngressRouteAndDelegation) {
  namespace ir = crds::ingressroutes::v1beta1;
  kop::Object route = parse(R"(
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: web, namespace: default}
spec:
  virtualhost: {fqdn: web.example.com}
  routes:
    - services: [{name: web, port: 80}]
)");
  auto spec = ir::IngressRoute(route).spec();
  EXPECT_EQ(spec.virtualhost().fqdn(), "web.example.com");
  ASSERT_EQ(spec.routes().size(), 1u);
  EXPECT_EQ(spec.routes()[0].services()[0].name(), "web");
  EXPECT_EQ(spec.routes()[0].services()[0].port(), 80);
  EXPECT_FALSE(spec.tcpproxy().present());

  namespace td = crds::tlscertificatedelegations::v1beta1;
  kop::Object d = td::TLSCertificateDelegationBuilder::make("certs", "wildcard");
  EXPECT_EQ(d.api_version(), "ingress.kop.dev/v1beta1");
  EXPECT_TRUE(td::TLSCertificateDelegation::kNamespaced);
}

}  // namespace
