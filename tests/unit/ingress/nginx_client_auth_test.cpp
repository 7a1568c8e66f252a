// ingress-nginx's auth-tls-* annotations (client certificates): the reader's fields, defaults
// and refusals, the CA Secret the model reads (fail closed when it cannot), the settings on the
// certificates of the Ingress' TLS hosts (the oldest binding with them wins, in the full and the
// incremental build alike), 403 on hosts without a TLS entry, 400 on plain HTTP, and the
// migration to Gateway API closing such rules.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <absl/strings/escaping.h>

#include "kop/api/yaml.h"
#include "kop/ingress/gateway_migration.h"
#include "kop/ingress/nginx_annotations.h"
#include "test_util.h"

namespace kop::ingress {
namespace {

using testing::compile;
using testing::parse_objects;
using testing::read_file;
using testing::route_of;
using testing::service_yaml;
using testing::snapshot_of;
using testing::tls_secret_yaml;
using Annotations = std::vector<std::pair<std::string, std::string>>;

const std::string kCerts = std::string(KOP_INGRESS_TESTDATA) + "/certs/";

// An Ingress `name` of namespace default routing `host` / to Service web, with annotations
// (nginx.ingress.kubernetes.io/ added) and a TLS entry for `tls_host` unless empty.
std::string ingress(std::string_view name, std::string_view host, const Annotations& a,
                    std::string_view tls_host, std::string_view created = "2026-01-01") {
  std::ostringstream y;
  y << "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: " << name
    << "\n  namespace: default\n  uid: u-" << name << "\n  creationTimestamp: \"" << created
    << "T00:00:00Z\"\n";
  if (!a.empty()) {
    y << "  annotations:\n";
    for (const auto& [k, v] : a) y << "    nginx.ingress.kubernetes.io/" << k << ": " << v << "\n";
  }
  y << "spec:\n";
  if (!tls_host.empty()) y << "  tls: [{hosts: [" << tls_host << "], secretName: site}]\n";
  y << "  rules:\n  - host: " << host
    << "\n    http:\n      paths:\n      - {pathType: Prefix, path: /, backend: {service: "
       "{name: web, port: {number: 80}}}}\n";
  return y.str();
}

// An Opaque Secret of namespace default holding `data` (base64-encoded here).
std::string secret_yaml(std::string_view name, const Annotations& data) {
  std::ostringstream y;
  y << "---\napiVersion: v1\nkind: Secret\nmetadata: {name: " << name
    << ", namespace: default}\ntype: Opaque\ndata:\n";
  for (const auto& [k, v] : data) y << "  " << k << ": " << absl::Base64Escape(v) << "\n";
  return y.str();
}

std::string ca_secret(std::string_view name, std::string_view cert = "example") {
  return secret_yaml(name, {{"ca.crt", read_file(kCerts + std::string(cert) + ".crt")}});
}

// The web Service and the site certificate (a.example.com, b.example.com).
std::string world() {
  return service_yaml("default", "web") + tls_secret_yaml("default", "site", "example");
}

NginxAnnotations read(const Annotations& a) {
  auto objects = parse_objects(ingress("x", "a.example.com", a, "a.example.com"));
  return read_nginx_annotations(*objects.at(0));
}

Options nginx() {
  Options o;
  o.nginx_annotations = true;
  return o;
}

const NginxVerdict* verdict(const NginxAnnotations& a, std::string_view name) {
  for (const auto& v : a.verdicts)
    if (v.annotation == name) return &v;
  return nullptr;
}

bool has_event(const Model& m, std::string_view reason, std::string_view text) {
  for (const auto& e : m.events)
    if (e.reason == reason && e.message.find(text) != std::string::npos) return true;
  return false;
}

const proxy::CertificateConfig* certificate(const testing::Compiled& c, std::string_view host) {
  for (const auto& l : c.config.listeners) {
    if (!l.tls) continue;
    for (const auto& cert : l.tls->certificates)
      for (const auto& name : cert.server_names)
        if (name == host) return &cert;
  }
  return nullptr;
}

TEST(NginxClientAuth, DefaultsAreIngressNginxs) {
  NginxAnnotations a = read({{"auth-tls-secret", "default/ca"}});
  ASSERT_TRUE(a.client_auth);
  EXPECT_EQ(a.client_auth->secret_namespace, "default");
  EXPECT_EQ(a.client_auth->secret_name, "ca");
  EXPECT_EQ(a.client_auth->config, proxy::ClientAuthConfig{});  // on, depth 1, no error page
  EXPECT_EQ(a.client_auth->config.verify, proxy::ClientVerify::kOn);
  EXPECT_EQ(a.client_auth->config.depth, 1u);
  EXPECT_TRUE(a.unenforced_access.empty());
  EXPECT_EQ(verdict(a, "auth-tls-secret")->support, NginxSupport::kSupported);
}

TEST(NginxClientAuth, EveryField) {
  NginxAnnotations a = read({{"auth-tls-secret", "default/ca"},
                             {"auth-tls-verify-client", "optional_no_ca"},
                             {"auth-tls-verify-depth", "\"3\""},
                             {"auth-tls-error-page", "https://a.example.com/cert-error.html"},
                             {"auth-tls-pass-certificate-to-upstream", "\"true\""},
                             {"auth-tls-match-cn", "\"CN=(alice|bob)\""}});
  ASSERT_TRUE(a.client_auth);
  const proxy::ClientAuthConfig& c = a.client_auth->config;
  EXPECT_EQ(c.verify, proxy::ClientVerify::kOptionalNoCa);
  EXPECT_EQ(c.depth, 3u);
  EXPECT_EQ(c.error_page, "https://a.example.com/cert-error.html");
  EXPECT_TRUE(c.pass_certificate);
  EXPECT_EQ(c.match_subject, "CN=(alice|bob)");
  for (const auto& v : a.verdicts) EXPECT_EQ(v.support, NginxSupport::kSupported) << v.annotation;
  for (auto [text, want] : {std::pair{"\"on\"", proxy::ClientVerify::kOn},
                            std::pair{"\"off\"", proxy::ClientVerify::kOff},
                            std::pair{"optional", proxy::ClientVerify::kOptional}})
    EXPECT_EQ(read({{"auth-tls-secret", "default/ca"}, {"auth-tls-verify-client", text}})
                  .client_auth->config.verify,
              want)
        << text;
}

// Values ingress-nginx replaces by its default are ignored with a verdict; what would keep the
// certificates from being asked for fails closed.
TEST(NginxClientAuth, BadValues) {
  NginxAnnotations a = read({{"auth-tls-secret", "default/ca"},
                             {"auth-tls-verify-client", "maybe"},
                             {"auth-tls-verify-depth", "\"0\""},
                             {"auth-tls-error-page", "\"https://a b\""},
                             {"auth-tls-pass-certificate-to-upstream", "\"yes\""}});
  ASSERT_TRUE(a.client_auth);
  EXPECT_EQ(a.client_auth->config, proxy::ClientAuthConfig{});
  for (std::string_view name : {"auth-tls-verify-client", "auth-tls-verify-depth",
                                "auth-tls-error-page", "auth-tls-pass-certificate-to-upstream"})
    EXPECT_EQ(verdict(a, name)->support, NginxSupport::kIgnored) << name;
  EXPECT_TRUE(a.unenforced_access.empty());

  for (const Annotations& closed :
       {Annotations{{"auth-tls-secret", "ca"}}, Annotations{{"auth-tls-secret", "other/ca"}},
        Annotations{{"auth-tls-secret", "default/"}},
        Annotations{{"auth-tls-secret", "default/ca"}, {"auth-tls-match-cn", "alice"}},
        Annotations{{"auth-tls-secret", "default/ca"}, {"auth-tls-match-cn", "\"CN=(\""}}}) {
    NginxAnnotations r = read(closed);
    EXPECT_FALSE(r.client_auth) << closed.back().second;
    EXPECT_EQ(r.unenforced_access, closed.back().first) << closed.back().second;
    EXPECT_EQ(verdict(r, closed.back().first)->support, NginxSupport::kIgnored);
    EXPECT_NE(verdict(r, closed.back().first)->note.find("answer 403"), std::string::npos);
  }
  // Without auth-tls-secret the others do nothing, and say so.
  NginxAnnotations none = read({{"auth-tls-verify-client", "\"on\""}});
  EXPECT_FALSE(none.client_auth);
  EXPECT_TRUE(none.unenforced_access.empty());
  EXPECT_EQ(verdict(none, "auth-tls-verify-client")->support, NginxSupport::kIgnored);
}

// The CA reaches the certificate of the TLS host; plain HTTP redirects (ssl-redirect) or, with
// ssl-redirect off, answers 400 as a TLS request without a certificate would.
TEST(NginxClientAuth, TheCaReachesTheHostsCertificate) {
  std::string ca_pem = read_file(kCerts + "example.crt");
  std::string crl = "-----BEGIN X509 CRL-----\nnot read here\n-----END X509 CRL-----\n";
  auto c = compile(
      snapshot_of(
          world() + ca_secret("ca") +
          ingress("locked", "a.example.com",
                  {{"auth-tls-secret", "default/ca"}, {"auth-tls-verify-depth", "\"2\""}},
                  "a.example.com") +
          ingress("open", "b.example.com", {{"ssl-redirect", "\"false\""}}, "b.example.com") +
          ingress("plain", "c.example.com",
                  {{"auth-tls-secret", "default/ca"}, {"ssl-redirect", "\"false\""}},
                  "c.example.com")),
      nginx());
  const proxy::CertificateConfig* locked = certificate(c, "a.example.com");
  ASSERT_TRUE(locked && locked->client_auth) << describe(c.model);
  EXPECT_EQ(locked->client_auth->ca_pem, ca_pem);
  EXPECT_EQ(locked->client_auth->depth, 2u);
  EXPECT_EQ(locked->client_auth->verify, proxy::ClientVerify::kOn);
  ASSERT_TRUE(certificate(c, "b.example.com"));
  EXPECT_FALSE(certificate(c, "b.example.com")->client_auth);
  EXPECT_EQ(route_of(c, "https", "a.example.com", "/"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/x"), "308 https://a.example.com/x");
  EXPECT_EQ(route_of(c, "http", "c.example.com", "/"), "400");
  EXPECT_EQ(route_of(c, "https", "c.example.com", "/"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "b.example.com", "/"), "default/web/80");
  for (const auto& e : c.model.events) ADD_FAILURE() << e.reason << ": " << e.message;

  // optional: plain HTTP is served (a request may come without a certificate).
  auto opt = compile(snapshot_of(world() + ca_secret("ca") +
                                 ingress("opt", "a.example.com",
                                         {{"auth-tls-secret", "default/ca"},
                                          {"auth-tls-verify-client", "optional"},
                                          {"ssl-redirect", "\"false\""}},
                                         "a.example.com")),
                     nginx());
  EXPECT_EQ(route_of(opt, "http", "a.example.com", "/"), "default/web/80");

  // ca.crl is read with ca.crt; one that does not parse fails closed.
  auto bad_crl =
      compile(snapshot_of(world() + secret_yaml("ca", {{"ca.crt", ca_pem}, {"ca.crl", crl}}) +
                          ingress("locked", "a.example.com", {{"auth-tls-secret", "default/ca"}},
                                  "a.example.com")),
              nginx());
  EXPECT_EQ(route_of(bad_crl, "https", "a.example.com", "/"), "403");
  EXPECT_TRUE(has_event(bad_crl.model, "SecretInvalid", "crl_pem")) << describe(bad_crl.model);
}

// A missing Secret, a Secret without ca.crt or with one that does not parse: 403 on the
// Ingress' paths and an Event naming the annotation; other Ingresses of the host are served.
TEST(NginxClientAuth, MissingOrBadCaFailsClosed) {
  for (const std::string& secret : {std::string(), secret_yaml("ca", {{"tls.crt", "x"}}),
                                    secret_yaml("ca", {{"ca.crt", "not a certificate"}})}) {
    std::string extra =
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: "
        "shop, namespace: default}\nspec:\n  rules:\n  - host: a.example.com\n"
        "    http:\n      paths:\n      - {pathType: Prefix, path: /shop, "
        "backend: {service: {name: web, port: {number: 80}}}}\n";
    std::string yaml = world();
    yaml += secret;
    yaml +=
        ingress("locked", "a.example.com", {{"auth-tls-secret", "default/ca"}}, "a.example.com");
    yaml += extra;
    auto c = compile(snapshot_of(yaml), nginx());
    EXPECT_EQ(route_of(c, "https", "a.example.com", "/"), "403") << secret;
    EXPECT_EQ(route_of(c, "https", "a.example.com", "/shop"), "default/web/80");
    EXPECT_FALSE(certificate(c, "a.example.com")->client_auth);
    bool named = false;
    for (const auto& e : c.model.events)
      named |= (e.reason == "SecretNotFound" || e.reason == "SecretInvalid") &&
               e.field == "metadata.annotations[nginx.ingress.kubernetes.io/auth-tls-secret]" &&
               e.message.find("answer 403") != std::string::npos;
    EXPECT_TRUE(named) << describe(c.model);
  }
}

// Hosts of the Ingress without a TLS entry in it cannot ask for certificates: 403 there.
TEST(NginxClientAuth, HostsWithoutTlsAnswer403) {
  auto c = compile(snapshot_of(world() + ca_secret("ca") +
                               ingress("locked", "c.example.com",
                                       {{"auth-tls-secret", "default/ca"}}, "a.example.com") +
                               ingress("other", "d.example.com", {}, "")),
                   nginx());
  EXPECT_EQ(route_of(c, "http", "c.example.com", "/"), "403");
  EXPECT_EQ(route_of(c, "http", "d.example.com", "/"), "default/web/80");
  EXPECT_TRUE(has_event(c.model, "ClientAuthWithoutTLS", "host \"c.example.com\""))
      << describe(c.model);
}

// Several Ingresses bind the host: the oldest binding with client certificates decides, whether
// or not its certificate is the one served; a newer one's other settings get an Event.
TEST(NginxClientAuth, TheOldestBindingWithClientAuthWins) {
  std::string both = world() + ca_secret("ca") + ca_secret("ca2", "other");
  auto c = compile(
      snapshot_of(
          both + ingress("plain", "a.example.com", {}, "a.example.com", "2026-01-01") +
          ingress("newer", "a.example.com",
                  {{"auth-tls-secret", "default/ca2"}, {"auth-tls-verify-client", "optional"}},
                  "a.example.com", "2026-01-03") +
          ingress("older", "a.example.com", {{"auth-tls-secret", "default/ca"}}, "a.example.com",
                  "2026-01-02")),
      nginx());
  const proxy::CertificateConfig* cert = certificate(c, "a.example.com");
  ASSERT_TRUE(cert && cert->client_auth) << describe(c.model);
  EXPECT_EQ(cert->client_auth->ca_pem, read_file(kCerts + "example.crt"));
  EXPECT_EQ(cert->client_auth->verify, proxy::ClientVerify::kOn);
  EXPECT_TRUE(has_event(c.model, "ClientAuthConflict", "default/older (older)"))
      << describe(c.model);
}

// The incremental build agrees with the full one, and a changed or deleted CA Secret reaches
// the served config (the Ingress that read it is translated again).
TEST(NginxClientAuth, IncrementalBuildFollowsTheCaSecret) {
  Snapshot snap = snapshot_of(
      world() + ca_secret("ca") +
      ingress("locked", "a.example.com", {{"auth-tls-secret", "default/ca"}}, "a.example.com") +
      ingress("newer", "a.example.com", {{"auth-tls-secret", "default/ca"}}, "a.example.com",
              "2026-01-02") +
      service_yaml("default", "other") + ingress("open", "b.example.com", {}, "b.example.com"));
  BuildCache cache;
  auto same = [&](std::string_view step) {
    const Model& incremental = cache.build(snap, nginx());
    Model full = build_model(snap, nginx());
    EXPECT_EQ(describe(incremental), describe(full)) << step;
    EXPECT_TRUE(incremental == full) << step;
    for (const auto& vh : incremental.virtual_hosts)
      if (vh->host == "a.example.com" && vh->tls && vh->tls->client_auth)
        return vh->tls->client_auth->ca_pem;
    return std::string();
  };
  EXPECT_EQ(same("first"), read_file(kCerts + "example.crt"));
  auto put_secret = [&](const std::string& yaml) {
    std::erase_if(snap.secrets, [](const api::ObjectPtr& s) { return s->name() == "ca"; });
    for (auto& o : parse_objects(yaml)) snap.secrets.push_back(o);
  };
  put_secret(ca_secret("ca", "other"));
  EXPECT_EQ(same("CA changed"), read_file(kCerts + "other.crt"));
  EXPECT_EQ(cache.translated(), 2u);  // the two Ingresses that read it
  std::erase_if(snap.secrets, [](const api::ObjectPtr& s) { return s->name() == "ca"; });
  EXPECT_EQ(same("CA deleted"), "");
  auto c = compile(snap, nginx());
  EXPECT_EQ(route_of(c, "https", "a.example.com", "/"), "403");
}

// migrate --to-gateway: Gateway API v1.x has no per-route client certificates, so the rules are
// closed (no backendRefs) and the annotations say why.
TEST(NginxClientAuth, GatewayMigrationFailsClosed) {
  auto parsed = api::parse_yaml_objects(ingress(
      "locked", "a.example.com",
      {{"auth-tls-secret", "default/ca"}, {"auth-tls-verify-client", "\"on\""}}, "a.example.com"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  GatewayMigration m = migrate_to_gateway(*parsed, {});
  ASSERT_EQ(m.ingresses.size(), 1u);
  ASSERT_EQ(m.ingresses[0].annotations.size(), 2u);
  for (const auto& a : m.ingresses[0].annotations) {
    EXPECT_EQ(a.conversion, Conversion::kNoEquivalent) << a.annotation;
    EXPECT_NE(a.note.find("no per-route client certificate"), std::string::npos) << a.note;
  }
  std::string printed = migration_yaml(m);
  EXPECT_EQ(printed.find("backendRefs:"), std::string::npos) << printed;
}

}  // namespace
}  // namespace kop::ingress
