// Client certificates (kop/proxy/client_auth.h): the client_auth schema (parse, dump, validate,
// compile), the verdicts of each verify mode, the ssl-client-* fields and the certificate
// description the handshake makes.
#include "kop/proxy/client_auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>
#include <vector>

#include "kop/proxy/config.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

using testing::json_escape;

// A listener with certificate "a" (a.example.com, `client_auth` JSON unless empty) and "b"
// (b.example.com, none).
std::string listener_config(const std::string& client_auth) {
  static const auto a = testing::make_certificate({"a.example.com"});
  static const auto b = testing::make_certificate({"b.example.com"});
  auto cert = [](const std::string& name, const testing::TestCertificate& c,
                 const std::string& extra) {
    return R"({"name":")" + name + R"(","server_names":[")" + name + R"(.example.com"],)" +
           R"("cert_pem":")" + json_escape(c.cert_pem) + R"(","key_pem":")" +
           json_escape(c.key_pem) + "\"" + extra + "}";
  };
  return R"({"version":"kop.proxy/v1","listeners":[{"name":"https","address":"127.0.0.1:0",)"
         R"("tls":{"certificates":[)" +
         cert("a", a, client_auth.empty() ? "" : ",\"client_auth\":" + client_auth) + "," +
         cert("b", b, "") + R"(]}}]})";
}

std::string ca_pem() {
  static const auto ca = testing::make_certificate({"Test CA"});
  return ca.cert_pem;
}

std::shared_ptr<const ClientAuth> compiled(ClientVerify verify = ClientVerify::kOn,
                                           std::string match_subject = "",
                                           bool pass_certificate = false) {
  ClientAuthConfig c;
  c.ca_pem = ca_pem();
  c.verify = verify;
  c.match_subject = std::move(match_subject);
  c.pass_certificate = pass_certificate;
  auto a = ClientAuth::compile(c);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *a : nullptr;
}

PeerCertificate peer(long result, std::string subject = "CN=client,O=Example") {
  PeerCertificate p;
  p.present = true;
  p.verify_result = result;
  p.verify = result == X509_V_OK ? "SUCCESS" : "FAILED:x";
  p.subject_dn = std::move(subject);
  p.issuer_dn = "CN=Test CA";
  p.escaped_pem = "-----BEGIN%20CERTIFICATE-----";
  return p;
}

std::vector<std::pair<std::string, std::string>> fields(const ClientAuth& a,
                                                        const PeerCertificate* p) {
  ClientField out[ClientAuth::kMaxFields];
  std::size_t n = a.upstream_fields(p, out);
  std::vector<std::pair<std::string, std::string>> v;
  for (std::size_t i = 0; i < n; ++i)
    v.emplace_back(std::string(out[i].name), std::string(out[i].value));
  return v;
}

using Verdict = ClientAuth::Verdict;

TEST(ClientAuthConfig, ParsesDumpsAndCompiles) {
  std::string json = listener_config(
      R"({"ca_pem":")" + json_escape(ca_pem()) +
      R"(","verify":"optional_no_ca","depth":2,"error_page":"https://errors.example.com/cert",)"
      R"x("pass_certificate":true,"match_subject":"CN=(alice|bob)"})x");
  auto c = parse_config(json);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(validate(*c).ok()) << validate(*c);
  const auto& certs = c->listeners[0].tls->certificates;
  ASSERT_TRUE(certs[0].client_auth);
  EXPECT_FALSE(certs[1].client_auth);
  const ClientAuthConfig& a = *certs[0].client_auth;
  EXPECT_EQ(a.ca_pem, ca_pem());
  EXPECT_EQ(a.verify, ClientVerify::kOptionalNoCa);
  EXPECT_EQ(a.depth, 2u);
  EXPECT_EQ(a.error_page, "https://errors.example.com/cert");
  EXPECT_TRUE(a.pass_certificate);
  EXPECT_EQ(a.match_subject, "CN=(alice|bob)");
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
  // The compiled listener knows which certificate asks for client certificates.
  auto table = RouteTable::compile(*c);
  ASSERT_TRUE(table.ok()) << table.status();
  const Listener& l = (*table)->listeners()[0];
  EXPECT_TRUE(l.client_auth);
  ASSERT_EQ(l.certificates.size(), 2u);
  EXPECT_NE(l.certificates[0]->client_auth, nullptr);
  EXPECT_EQ(l.certificates[1]->client_auth, nullptr);
  // Without SNI the Host header's name (port and trailing dot dropped) picks the certificate.
  EXPECT_EQ((*table)->certificate_for_host(l, "A.example.com:8443"), 0u);
  EXPECT_EQ((*table)->certificate_for_host(l, "b.example.com."), 1u);
}

TEST(ClientAuthConfig, Defaults) {
  auto c = parse_config(listener_config(R"({"ca_pem":")" + json_escape(ca_pem()) + "\"}"));
  ASSERT_TRUE(c.ok()) << c.status();
  const ClientAuthConfig& a = *c->listeners[0].tls->certificates[0].client_auth;
  EXPECT_EQ(a.verify, ClientVerify::kOn);
  EXPECT_EQ(a.depth, 1u);
  EXPECT_EQ(a.error_page, "");
  EXPECT_FALSE(a.pass_certificate);
  EXPECT_EQ(a.match_subject, "");
  EXPECT_EQ(a.crl_pem, "");
  auto t = RouteTable::compile(*c);
  ASSERT_TRUE(t.ok()) << t.status();
  // A listener whose certificates ask for nothing is marked so (the per-request check is
  // skipped there).
  auto plain = RouteTable::compile(parse_config(listener_config("")).value());
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE((*plain)->listeners()[0].client_auth);
}

TEST(ClientAuthConfig, ErrorsNameTheField) {
  std::string ca = R"("ca_pem":")" + json_escape(ca_pem()) + "\"";
  auto parse_error = [](const std::string& client_auth) {
    auto c = parse_config(listener_config(client_auth));
    return c.ok() ? std::string("parsed") : std::string(c.status().message());
  };
  auto validate_error = [](const std::string& client_auth) {
    auto c = parse_config(listener_config(client_auth));
    if (!c.ok()) return std::string(c.status().message());
    return std::string(validate(*c).message());
  };
  EXPECT_EQ(parse_error("{}"),
            "listeners[0].tls.certificates[0].client_auth.ca_pem: required field missing");
  EXPECT_EQ(parse_error("{" + ca + R"(,"verify":"sometimes"})"),
            "listeners[0].tls.certificates[0].client_auth.verify: must be on, off, optional or "
            "optional_no_ca, got \"sometimes\"");
  EXPECT_EQ(parse_error("{" + ca + R"(,"depth":101})"),
            "listeners[0].tls.certificates[0].client_auth.depth: value 101 out of range [0, 100]");
  EXPECT_EQ(parse_error("{" + ca + R"(,"colour":"blue"})"),
            "listeners[0].tls.certificates[0].client_auth.colour: unknown field");
  EXPECT_EQ(validate_error(R"({"ca_pem":"not a certificate"})"),
            "listeners[0].tls.certificates[0].client_auth: ca_pem: at least one CA certificate "
            "is required");
  EXPECT_EQ(validate_error("{" + ca + R"(,"crl_pem":"garbage"})"),
            "listeners[0].tls.certificates[0].client_auth: crl_pem: revocation lists do not "
            "parse");
  EXPECT_THAT(validate_error("{" + ca + R"(,"match_subject":"CN=(a"})"),
              ::testing::StartsWith("listeners[0].tls.certificates[0].client_auth: "
                                    "match_subject: invalid regex \"CN=(a\": missing )"));
  // The error page goes into a Location field: no way to smuggle another field in.
  EXPECT_THAT(validate_error("{" + ca + R"(,"error_page":"https://x/\r\nset-cookie: a=b"})"),
              ::testing::AllOf(::testing::StartsWith("listeners[0].tls.certificates[0]."
                                                     "client_auth: error_page: "),
                               ::testing::EndsWith("holds a space or a control character")));
}

TEST(ClientAuthVerdict, OnRequiresAVerifiedCertificate) {
  auto a = compiled();
  PeerCertificate ok = peer(X509_V_OK);
  PeerCertificate unknown_ca = peer(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  PeerCertificate expired = peer(X509_V_ERR_CERT_HAS_EXPIRED);
  PeerCertificate none;
  EXPECT_EQ(a->check(&ok), Verdict::kAllow);
  EXPECT_EQ(a->check(nullptr), Verdict::kNoCertificate);
  EXPECT_EQ(a->check(&none), Verdict::kNoCertificate);
  EXPECT_EQ(a->check(&unknown_ca), Verdict::kCertificateError);
  EXPECT_EQ(a->check(&expired), Verdict::kCertificateError);
}

TEST(ClientAuthVerdict, OptionalAcceptsNoneButNotABadOne) {
  auto a = compiled(ClientVerify::kOptional);
  PeerCertificate ok = peer(X509_V_OK);
  PeerCertificate unknown_ca = peer(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  EXPECT_EQ(a->check(nullptr), Verdict::kAllow);
  EXPECT_EQ(a->check(&ok), Verdict::kAllow);
  EXPECT_EQ(a->check(&unknown_ca), Verdict::kCertificateError);
}

TEST(ClientAuthVerdict, OptionalNoCaAcceptsAnUntrustedIssuerOnly) {
  auto a = compiled(ClientVerify::kOptionalNoCa);
  for (long e : {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                 X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE}) {
    PeerCertificate p = peer(e);
    EXPECT_EQ(a->check(&p), Verdict::kAllow) << e;
  }
  for (long e : {X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_SIGNATURE_FAILURE,
                 X509_V_ERR_CERT_REVOKED, X509_V_ERR_CERT_CHAIN_TOO_LONG}) {
    PeerCertificate p = peer(e);
    EXPECT_EQ(a->check(&p), Verdict::kCertificateError) << e;
  }
  EXPECT_EQ(a->check(nullptr), Verdict::kAllow);
}

TEST(ClientAuthVerdict, MatchSubjectSearchesTheSubjectDn) {
  auto a = compiled(ClientVerify::kOptional, "CN=client");
  PeerCertificate ok = peer(X509_V_OK, "CN=client,O=Example");
  PeerCertificate other = peer(X509_V_OK, "CN=intruder,O=Example");
  EXPECT_EQ(a->check(&ok), Verdict::kAllow);
  EXPECT_EQ(a->check(&other), Verdict::kSubjectRefused);
  // No certificate: the empty subject does not match either (nginx compares "" then).
  EXPECT_EQ(a->check(nullptr), Verdict::kSubjectRefused);
}

TEST(ClientAuthFields, WhatTheUpstreamIsTold) {
  auto a = compiled();
  PeerCertificate ok = peer(X509_V_OK);
  using Fields = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(fields(*a, &ok), (Fields{{"ssl-client-verify", "SUCCESS"},
                                     {"ssl-client-subject-dn", "CN=client,O=Example"},
                                     {"ssl-client-issuer-dn", "CN=Test CA"}}));
  EXPECT_EQ(fields(*a, nullptr), (Fields{{"ssl-client-verify", "NONE"}}));
  auto pass = compiled(ClientVerify::kOn, "", true);
  EXPECT_EQ(fields(*pass, &ok), (Fields{{"ssl-client-verify", "SUCCESS"},
                                        {"ssl-client-subject-dn", "CN=client,O=Example"},
                                        {"ssl-client-issuer-dn", "CN=Test CA"},
                                        {"ssl-client-cert", "-----BEGIN%20CERTIFICATE-----"}}));
  EXPECT_EQ(fields(*pass, nullptr), (Fields{{"ssl-client-verify", "NONE"}}));
}

TEST(PeerCertificateDescription, AsNginxWritesIt) {
  auto leaf = testing::make_certificate({"client.example.com"});
  BIO* b = BIO_new_mem_buf(leaf.cert_pem.data(), static_cast<int>(leaf.cert_pem.size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  ASSERT_NE(x, nullptr);
  PeerCertificate ok = describe_peer_certificate(x, X509_V_OK);
  EXPECT_TRUE(ok.present);
  EXPECT_EQ(ok.verify, "SUCCESS");
  EXPECT_EQ(ok.subject_dn, "CN=client.example.com");
  EXPECT_EQ(ok.issuer_dn, "CN=client.example.com");
  EXPECT_EQ(ok.escaped_pem, url_escape(leaf.cert_pem));
  EXPECT_EQ(ok.escaped_pem.rfind("-----BEGIN%20CERTIFICATE-----%0A", 0), 0u) << ok.escaped_pem;
  PeerCertificate expired = describe_peer_certificate(x, X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_EQ(expired.verify, "FAILED:certificate has expired");
  EXPECT_EQ(expired.verify_result, X509_V_ERR_CERT_HAS_EXPIRED);
  X509_free(x);
  PeerCertificate none = describe_peer_certificate(nullptr, X509_V_OK);
  EXPECT_FALSE(none.present);
  EXPECT_EQ(none.verify, "NONE");
  EXPECT_EQ(none.subject_dn, "");
}

TEST(PeerCertificateDescription, UrlEscapeKeepsOnlyUnreserved) {
  EXPECT_EQ(url_escape("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(url_escape("a b+/=\n%"), "a%20b%2B%2F%3D%0A%25");
  EXPECT_EQ(url_escape(std::string("\xff\x00", 2)), "%FF%00");
}

}  // namespace
}  // namespace kop::proxy
