// kop/certs: a CA and the serving certificates it signs, judged by OpenSSL as a TLS client
// judges them (chain, host name, IP address) over an in-memory TLS handshake.
#include "kop/certs/cert_authority.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>
#include <string_view>

namespace kop::certs {
namespace {

struct Free {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

Ptr<X509> read_cert(std::string_view pem) {
  Ptr<BIO> b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Ptr<X509>(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
}

// A TLS 1.3 handshake between a server holding `served` and a client trusting `ca_pem` that
// checks `host` (a name or an IP address), through a BIO pair. Returns the client's verdict.
bool handshake(const KeyPair& served, const std::string& ca_pem, const std::string& host) {
  Ptr<SSL_CTX> server_ctx(SSL_CTX_new(TLS_server_method()));
  Ptr<SSL_CTX> client_ctx(SSL_CTX_new(TLS_client_method()));
  Ptr<X509> cert = read_cert(served.cert_pem);
  Ptr<BIO> key_bio(BIO_new_mem_buf(served.key_pem.data(), static_cast<int>(served.key_pem.size())));
  Ptr<EVP_PKEY> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  Ptr<X509> ca = read_cert(ca_pem);
  if (!server_ctx || !client_ctx || !cert || !key || !ca) return false;
  if (SSL_CTX_use_certificate(server_ctx.get(), cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(server_ctx.get(), key.get()) != 1 ||
      X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx.get()), ca.get()) != 1) {
    return false;
  }
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);
  Ptr<SSL> server(SSL_new(server_ctx.get()));
  Ptr<SSL> client(SSL_new(client_ctx.get()));
  X509_VERIFY_PARAM* param = SSL_get0_param(client.get());
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
    SSL_set1_host(client.get(), host.c_str());
  }
  BIO* client_end = nullptr;
  BIO* server_end = nullptr;
  BIO_new_bio_pair(&client_end, 0, &server_end, 0);
  SSL_set_bio(client.get(), client_end, client_end);  // each SSL owns its end
  SSL_set_bio(server.get(), server_end, server_end);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  for (int turn = 0; turn < 20; ++turn) {  // a handshake takes a few turns; a failure stops it
    int c = SSL_do_handshake(client.get());
    int s = SSL_do_handshake(server.get());
    if (c == 1 && s == 1) return SSL_get_verify_result(client.get()) == X509_V_OK;
    if (c <= 0 && SSL_get_error(client.get(), c) != SSL_ERROR_WANT_READ) return false;
  }
  return false;
}

TEST(CertAuthority, AServingCertificateIsTrustedThroughItsCaForItsNamesOnly) {
  auto ca = create_ca("test-ca", absl::Hours(24));
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto served = create_serving_certificate(*ca, {"localhost", "hooks.system.svc"}, {"127.0.0.1"},
                                           absl::Hours(1));
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_TRUE(
      check_serving_certificate(served->cert_pem, ca->cert_pem, {"hooks.system.svc"}, {"127.0.0.1"})
          .ok());
  EXPECT_TRUE(handshake(*served, ca->cert_pem, "localhost"));
  EXPECT_TRUE(handshake(*served, ca->cert_pem, "hooks.system.svc"));
  EXPECT_TRUE(handshake(*served, ca->cert_pem, "127.0.0.1"));
  EXPECT_FALSE(handshake(*served, ca->cert_pem, "other.example.com"));
  EXPECT_FALSE(handshake(*served, ca->cert_pem, "::1"));

  auto other_ca = create_ca("other-ca", absl::Hours(24));
  ASSERT_TRUE(other_ca.ok());
  EXPECT_FALSE(handshake(*served, other_ca->cert_pem, "localhost"));
  auto st = check_serving_certificate(served->cert_pem, other_ca->cert_pem, {}, {});
  EXPECT_EQ(st.message(), "the serving certificate is not signed by the CA");
  st = check_serving_certificate(served->cert_pem, ca->cert_pem, {"missing.example.com"}, {});
  EXPECT_EQ(st.message(), "the serving certificate does not name missing.example.com");
  st = check_serving_certificate(served->cert_pem, ca->cert_pem, {}, {"10.0.0.1"});
  EXPECT_EQ(st.message(), "the serving certificate does not name 10.0.0.1");
}

TEST(CertAuthority, AServingCertificateNeverOutlivesItsCa) {
  auto ca = create_ca("short-ca", absl::Hours(1));
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto served = create_serving_certificate(*ca, {}, {"127.0.0.1"}, absl::Hours(24 * 30));
  ASSERT_TRUE(served.ok()) << served.status();
  Ptr<X509> ca_cert = read_cert(ca->cert_pem);
  Ptr<X509> cert = read_cert(served->cert_pem);
  ASSERT_TRUE(ca_cert && cert);
  EXPECT_EQ(ASN1_TIME_compare(X509_get0_notAfter(cert.get()), X509_get0_notAfter(ca_cert.get())),
            0);
  // Valid from an hour back: a peer whose clock runs behind still accepts it.
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(cert.get())), 0);
}

TEST(CertAuthority, RefusesWhatCannotBeACertificate) {
  auto ca = create_ca("test-ca", absl::Hours(1));
  ASSERT_TRUE(ca.ok());
  auto none = create_serving_certificate(*ca, {}, {}, absl::Hours(1));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(none.status().message(), "a serving certificate needs a DNS name or an IP address");
  auto bad_ip = create_serving_certificate(*ca, {}, {"not-an-ip"}, absl::Hours(1));
  EXPECT_EQ(bad_ip.status().message(),
            "bad subjectAltName for the serving certificate: IP:not-an-ip");
  auto bad_ca = create_serving_certificate({"not a certificate", "not a key"}, {"localhost"}, {},
                                           absl::Hours(1));
  EXPECT_EQ(bad_ca.status().message(), "the CA is not a PEM certificate and key");
  EXPECT_EQ(check_serving_certificate("garbage", ca->cert_pem, {}, {}).message(),
            "not a PEM certificate");
}

}  // namespace
}  // namespace kop::certs
