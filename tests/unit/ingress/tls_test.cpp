// TLS host binding of Ingress: Secrets in the Ingress' namespace bound to the listed hosts,
// SNI certificate choice, force-ssl-redirect, bad or missing Secrets, TLS conflicts.
#include <gtest/gtest.h>

#include "test_util.h"

namespace kop::ingress {
namespace {

using testing::compile;
using testing::route_of;
using testing::service_yaml;
using testing::snapshot_of;
using testing::tls_secret_yaml;

std::string tls_ingress(std::string_view ns, std::string_view name, std::string_view host,
                        std::string_view secret, std::string_view extra_meta = "",
                        std::string_view created = "2024-01-01T00:00:00Z") {
  return std::string("---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: ") +
         std::string(name) + "\n  namespace: " + std::string(ns) + "\n  creationTimestamp: \"" +
         std::string(created) + "\"\n" + std::string(extra_meta) + "spec:\n  tls: [{hosts: [\"" +
         std::string(host) + "\"], secretName: " + std::string(secret) +
         "}]\n  rules:\n  - host: \"" + std::string(host) +
         "\"\n    http: {paths: [{pathType: Prefix, path: /, backend: {service: {name: web, "
         "port: {number: 80}}}}]}\n";
}

TEST(IngressTls, SecretBindsListedHostsAndSniPicksTheCertificate) {
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               tls_secret_yaml("default", "ex", "example") +
                               tls_secret_yaml("default", "ot", "other") +
                               tls_ingress("default", "a", "a.example.com", "ex") +
                               tls_ingress("default", "b", "b.other.com", "ot")));
  EXPECT_TRUE(c.model.events.empty()) << describe(c.model);
  EXPECT_EQ(route_of(c, "https", "a.example.com", "/"), "default/web/80");
  EXPECT_EQ(route_of(c, "https", "b.other.com", "/"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/"), "default/web/80");  // HTTP stays open
  const proxy::Listener* https = c.table->find_listener("https");
  ASSERT_NE(https, nullptr);
  EXPECT_EQ(https->certificates[c.table->certificate_for_sni(*https, "a.example.com")]->name,
            "a.example.com");
  EXPECT_EQ(https->certificates[c.table->certificate_for_sni(*https, "b.other.com")]->name,
            "b.other.com");
  // SNI for one host, Host for the other: 421 (HTTP/2 connection coalescing).
  EXPECT_FALSE(c.table->host_allowed_for_sni(*https, "a.example.com",
                                             c.table->find_virtual_host(*https, "b.other.com")));
}

TEST(IngressTls, ForceSslRedirectAnswers301OnPlainHttp) {
  auto c = compile(snapshot_of(
      service_yaml("default", "web") + tls_secret_yaml("default", "ex", "example") +
      tls_ingress("default", "a", "a.example.com", "ex",
                  "  annotations: {ingress.kubernetes.io/force-ssl-redirect: \"true\"}\n")));
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/x"), "301 https://a.example.com/x");
  EXPECT_EQ(route_of(c, "https", "a.example.com", "/x"), "default/web/80");
}

TEST(IngressTls, MissingSecretOrOtherNamespaceOnlyDropsTls) {
  auto c = compile(snapshot_of(service_yaml("app", "web") +
                               tls_secret_yaml("elsewhere", "ex", "example") +
                               tls_ingress("app", "a", "a.example.com", "ex")));
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/"), "app/web/80");
  EXPECT_EQ(c.table->find_listener("https"), nullptr);
  ASSERT_EQ(c.model.events.size(), 1u);
  EXPECT_EQ(c.model.events[0].reason, "SecretNotFound");
  EXPECT_EQ(c.model.events[0].field, "spec.tls[0].secretName");
}

TEST(IngressTls, MalformedSecretDoesNotAffectOtherHosts) {
  std::string bad = R"(
---
apiVersion: v1
kind: Secret
metadata: {name: bad, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: bm90IGEgY2VydA==, tls.key: bm90IGEga2V5}
---
apiVersion: v1
kind: Secret
metadata: {name: opaque, namespace: default}
type: Opaque
data: {tls.crt: bm90IGEgY2VydA==, tls.key: bm90IGEga2V5}
)";
  auto c = compile(snapshot_of(service_yaml("default", "web") + bad +
                               tls_secret_yaml("default", "ex", "example") +
                               tls_ingress("default", "a", "a.example.com", "ex") +
                               tls_ingress("default", "b", "b.example.com", "bad") +
                               tls_ingress("default", "o", "o.example.com", "opaque")));
  EXPECT_EQ(route_of(c, "https", "a.example.com", "/"), "default/web/80");
  EXPECT_EQ(route_of(c, "https", "b.example.com", "/"), "404");
  EXPECT_EQ(route_of(c, "http", "b.example.com", "/"), "default/web/80");
  ASSERT_EQ(c.model.events.size(), 2u) << describe(c.model);
  EXPECT_EQ(c.model.events[0].reason, "SecretInvalid");
  EXPECT_EQ(c.model.events[1].reason, "SecretInvalid");
}

TEST(IngressTls, ConflictingSecretsForOneHostOldestWins) {
  auto c = compile(snapshot_of(
      service_yaml("default", "web") + tls_secret_yaml("default", "ex", "example") +
      tls_secret_yaml("default", "ex2", "example") +
      tls_ingress("default", "new", "a.example.com", "ex2", "", "2024-05-01T00:00:00Z") +
      tls_ingress("default", "old", "a.example.com", "ex", "", "2024-01-01T00:00:00Z")));
  ASSERT_EQ(c.model.virtual_hosts.size(), 1u);
  EXPECT_EQ(c.model.virtual_hosts[0]->tls->secret.key(), "default/ex");
  std::vector<std::string> reasons;
  reasons.reserve(c.model.events.size());
  for (const auto& e : c.model.events) reasons.push_back(e.reason + " " + e.object.key());
  EXPECT_EQ(reasons,
            (std::vector<std::string>{"HostPathConflict default/new", "TLSConflict default/new"}));
}

}  // namespace
}  // namespace kop::ingress
