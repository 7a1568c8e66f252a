// kop-ingress migrate --to-gateway (gateway_migration.h): the golden output over the
// ingress-nginx compatibility suite's Ingresses, and what kop-ingress' own Gateway API
// translator makes of the objects printed (accepted, and routing as the Ingresses did).
// Regenerate the golden file after an intended change with KOP_UPDATE_GOLDEN=1.
#include "kop/ingress/gateway_migration.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gateway_test_util.h"
#include "kop/api/yaml.h"
#include "test_util.h"

namespace kop::ingress {
namespace {

using gateway::gwtest::cond;

const std::string kDir = std::string(KOP_INGRESS_TESTDATA) + "/gateway-migration";

std::vector<api::Object> objects(const std::string& yaml) {
  auto parsed = api::parse_yaml_objects(yaml);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : std::vector<api::Object>{};
}

std::string compat_input() {
  return testing::read_file(kDir + "/compat-ingresses.yaml");
}

// What kop-ingress serves for `ingresses_yaml` migrated: the printed objects plus a class,
// the Services with endpoints and the TLS Secret the Ingresses name.
gateway::Result serve(const std::string& ingresses_yaml, const std::string& extra = "") {
  std::string printed = migration_yaml(migrate_to_gateway(objects(ingresses_yaml), {}));
  std::string yaml = std::string(gateway::gwtest::kClass) + "---\n" + printed + extra;
  for (const char* s : {"echo", "pair", "canary", "tls-echo", "web"})
    yaml += testing::service_yaml("default", s);
  yaml += testing::tls_secret_yaml("default", "compat-tls", "example");
  return gateway::gwtest::run(yaml);
}

const VirtualHost* host_of(const gateway::Result& r, uint16_t port, std::string_view host) {
  for (const auto& door : r.front_doors)
    if (door.port == port)
      for (const VirtualHost& vh : door.virtual_hosts)
        if (vh.host == host) return &vh;
  ADD_FAILURE() << "no host " << host << " on port " << port << "\n" << describe(r);
  return nullptr;
}

std::string ingress(std::string_view name, std::string_view host, std::string_view annotations,
                    std::string_view service = "echo", std::string_view path = "/",
                    std::string_view extra_spec = "") {
  return "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: " +
         std::string(name) + "\n  namespace: default\n  annotations: {" + std::string(annotations) +
         "}\nspec:\n" + std::string(extra_spec) + "  rules:\n  - host: " + std::string(host) +
         "\n    http:\n      paths:\n      - path: \"" + std::string(path) +
         "\"\n        pathType: Prefix\n        backend: {service: {name: " + std::string(service) +
         ", port: {number: 80}}}\n";
}

TEST(GatewayMigration, GoldenOverTheCompatIngresses) {
  std::string got = migration_yaml(migrate_to_gateway(objects(compat_input()), {}));
  std::string path = kDir + "/compat-gateway.yaml";
  if (std::getenv("KOP_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << got;
    GTEST_SKIP() << "regenerated " << path;
  }
  EXPECT_EQ(got, testing::read_file(path))
      << "golden file " << path << " differs (KOP_UPDATE_GOLDEN=1 regenerates)";
}

TEST(GatewayMigration, SameOutputInAnyOrder) {
  std::vector<api::Object> in = objects(compat_input());
  std::string want = migration_yaml(migrate_to_gateway(in, {}));
  std::reverse(in.begin(), in.end());
  EXPECT_EQ(migration_yaml(migrate_to_gateway(in, {})), want);
}

TEST(GatewayMigration, KopIngressAcceptsEveryObjectPrinted) {
  gateway::Result r = serve(compat_input());
  EXPECT_TRUE(r.events.empty()) << describe(r);
  ASSERT_EQ(r.gateway_statuses.size(), 1u) << describe(r);
  for (const auto& l : r.gateway_statuses[0].listeners)
    EXPECT_EQ(cond(l.conditions, "Programmed"), "True Programmed") << l.name;
  ASSERT_FALSE(r.route_statuses.empty());
  for (const auto& s : r.route_statuses)
    for (const auto& p : s.parents) {
      EXPECT_EQ(cond(p.conditions, "Accepted"), "True Accepted") << s.route.key();
      EXPECT_EQ(cond(p.conditions, "ResolvedRefs"), "True ResolvedRefs") << s.route.key();
    }
}

TEST(GatewayMigration, TlsHostsRedirectPlainHttpAndServeOn443) {
  gateway::Result r = serve(compat_input());
  const VirtualHost* plain = host_of(r, 80, "ssl.compat.example.com");
  ASSERT_TRUE(plain && !plain->routes.empty());
  ASSERT_EQ(plain->routes[0]->action, RouteAction::kRedirect);
  EXPECT_EQ(plain->routes[0]->redirect->scheme, "https");
  EXPECT_EQ(plain->routes[0]->redirect->code, 308u);
  const VirtualHost* tls = host_of(r, 443, "ssl.compat.example.com");
  ASSERT_TRUE(tls && !tls->routes.empty());
  EXPECT_EQ(tls->routes[0]->action, RouteAction::kForward);
  // ssl-redirect: "false" serves plain HTTP too.
  const VirtualHost* off = host_of(r, 80, "ssl-off.compat.example.com");
  ASSERT_TRUE(off && !off->routes.empty());
  EXPECT_EQ(off->routes[0]->action, RouteAction::kForward);
}

TEST(GatewayMigration, AccessRestrictionsFailClosed) {
  gateway::Result r = serve(compat_input());
  for (std::string_view host :
       {"basic.compat.example.com", "locked.compat.example.com", "bad-range.compat.example.com"}) {
    const VirtualHost* vh = host_of(r, 80, host);
    ASSERT_TRUE(vh && !vh->routes.empty()) << host;
    EXPECT_EQ(vh->routes[0]->action, RouteAction::kNoBackend) << host;
  }
  GatewayMigration m = migrate_to_gateway(objects(compat_input()), {});
  auto basic = std::find_if(m.ingresses.begin(), m.ingresses.end(),
                            [](const MigratedIngress& i) { return i.key == "default/basic"; });
  ASSERT_NE(basic, m.ingresses.end());
  for (const auto& a : basic->annotations)
    EXPECT_EQ(a.conversion, Conversion::kNoEquivalent) << a.annotation;
}

// External authentication has no Gateway API form: as basic auth, it is an access restriction,
// named NOT CONVERTED with its companions, and its rules are closed, never opened.
TEST(GatewayMigration, ExternalAuthFailsClosed) {
  std::string in =
      ingress("sso", "sso.example.com",
              "nginx.ingress.kubernetes.io/auth-url: "
              "\"http://auth.default.svc.cluster.local/check\", "
              "nginx.ingress.kubernetes.io/auth-signin: \"https://$host/oauth2/start\", "
              "nginx.ingress.kubernetes.io/auth-response-headers: X-User");
  gateway::Result r = serve(in);
  const VirtualHost* vh = host_of(r, 80, "sso.example.com");
  ASSERT_TRUE(vh && !vh->routes.empty());
  EXPECT_EQ(vh->routes[0]->action, RouteAction::kNoBackend);
  GatewayMigration m = migrate_to_gateway(objects(in), {});
  ASSERT_EQ(m.ingresses.size(), 1u);
  const MigratedIngress& sso = m.ingresses[0];
  ASSERT_EQ(sso.annotations.size(), 3u);
  for (const auto& a : sso.annotations) {
    EXPECT_EQ(a.conversion, Conversion::kNoEquivalent) << a.annotation;
    EXPECT_NE(a.note.find("access control is not part of the Gateway API"), std::string::npos)
        << a.annotation << ": " << a.note;
  }
  ASSERT_EQ(sso.notes.size(), 1u);
  EXPECT_NE(sso.notes[0].find("an access restriction"), std::string::npos) << sso.notes[0];
}

TEST(GatewayMigration, CanaryHeaderThenCookieThenWeight) {
  std::string in = ingress("main", "c.example.com", "") +
                   ingress("canary", "c.example.com",
                           "nginx.ingress.kubernetes.io/canary: \"true\", "
                           "nginx.ingress.kubernetes.io/canary-by-header: X-Canary, "
                           "nginx.ingress.kubernetes.io/canary-by-cookie: beta, "
                           "nginx.ingress.kubernetes.io/canary-weight: \"30\"",
                           "canary");
  gateway::Result r = serve(in);
  const VirtualHost* vh = host_of(r, 80, "c.example.com");
  ASSERT_TRUE(vh);
  ASSERT_EQ(vh->routes.size(), 5u) << describe(r);
  auto to = [](const Route& rt) {
    std::string s;
    for (const auto& c : rt.clusters) s += c.cluster + "*" + std::to_string(c.weight) + " ";
    return s;
  };
  EXPECT_EQ(vh->routes[0]->headers[0].value, "always");
  EXPECT_EQ(to(vh->routes[0]), "default/canary/80*1 ");
  EXPECT_EQ(vh->routes[1]->headers[0].value, "never");
  EXPECT_EQ(to(vh->routes[1]), "default/echo/80*1 ");
  EXPECT_EQ(vh->routes[2]->headers[0].name, "cookie");
  EXPECT_EQ(to(vh->routes[2]), "default/canary/80*1 ");
  EXPECT_EQ(to(vh->routes[3]), "default/echo/80*1 ");
  EXPECT_TRUE(vh->routes[4]->headers.empty());
  EXPECT_EQ(to(vh->routes[4]), "default/echo/80*70 default/canary/80*30 ");
}

TEST(GatewayMigration, SecretOfAnotherNamespaceGetsAReferenceGrant) {
  std::string in = ingress("shop", "shop.example.com", "", "echo", "/",
                           "  tls:\n  - hosts: [shop.example.com]\n"
                           "    secretName: shop-tls\n");
  GatewayMigrationOptions o;
  o.gateway_name = "front";
  o.gateway_namespace = "gateways";
  GatewayMigration m = migrate_to_gateway(objects(in), o);
  EXPECT_EQ(m.gateway.get_string("/spec/listeners/1/tls/certificateRefs/0/namespace"), "default");
  EXPECT_EQ(m.gateway.get_string("/spec/listeners/0/allowedRoutes/namespaces/from"), "All");
  ASSERT_EQ(m.reference_grants.size(), 1u);
  EXPECT_EQ(m.reference_grants[0].ns(), "default");
  EXPECT_EQ(m.reference_grants[0].get_string("/spec/from/0/namespace"), "gateways");
  EXPECT_EQ(m.reference_grants[0].get_string("/spec/to/0/name"), "shop-tls");
  ASSERT_EQ(m.ingresses.size(), 1u);
  ASSERT_EQ(m.ingresses[0].routes.size(), 2u);  // served on 443, redirected on 80
  EXPECT_EQ(m.ingresses[0].routes[0].get_string("/spec/parentRefs/0/sectionName"),
            "https-shop-example-com");
  EXPECT_EQ(m.ingresses[0].routes[1].name(), "shop-https-redirect");
}

TEST(GatewayMigration, NamedPortFromTheServiceAndTooManyRulesSplit) {
  std::string paths;
  for (int i = 0; i < 20; ++i)
    paths += "      - {path: /p" + std::to_string(i) +
             ", pathType: Exact, backend: {service: {name: web, port: {name: http}}}}\n";
  std::string in = testing::service_yaml("default", "web") +
                   "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: many, "
                   "namespace: default}\nspec:\n  rules:\n  - host: m.example.com\n    http:\n"
                   "      paths:\n" +
                   paths;
  GatewayMigration m = migrate_to_gateway(objects(in), {});
  ASSERT_EQ(m.ingresses.size(), 1u);
  ASSERT_EQ(m.ingresses[0].routes.size(), 2u);
  EXPECT_EQ(m.ingresses[0].routes[1].name(), "many-part2");
  EXPECT_EQ(m.ingresses[0].routes[0].get_int("/spec/rules/0/backendRefs/0/port"), 80);
  // Without the Service the port name cannot become a number: a note, no rule.
  std::string alone = in.substr(in.find("---\napiVersion: networking.k8s.io/v1"));
  GatewayMigration n = migrate_to_gateway(objects(alone), {});
  EXPECT_TRUE(n.ingresses[0].routes.empty());
  EXPECT_EQ(n.ingresses[0].notes.size(), 20u);
}

}  // namespace
}  // namespace kop::ingress
