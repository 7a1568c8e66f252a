#include "certs.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace kop::local::certs {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <class T>
using Ptr = std::unique_ptr<T, Free>;

Ptr<EVP_PKEY> new_key() {
  return Ptr<EVP_PKEY>(EVP_EC_gen("P-256"));
}

std::string pem_cert(X509* c) {
  Ptr<BIO> b(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(b.get(), c);
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string pem_key(EVP_PKEY* k) {
  Ptr<BIO> b(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

Ptr<X509> make_cert(EVP_PKEY* key, X509* issuer, const std::string& cn) {
  Ptr<X509> c(X509_new());
  X509_set_version(c.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), 365L * 24 * 3600);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name);
  return c;
}

}  // namespace

Bundle generate(const std::vector<std::string>& dns_names, const std::vector<std::string>& ips) {
  Bundle b;
  auto ca_key = new_key();
  auto srv_key = new_key();
  if (!ca_key || !srv_key) {
    b.error = "key generation failed";
    return b;
  }
  auto ca = make_cert(ca_key.get(), nullptr, "kop-local-ca");
  add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(ca.get(), ca_key.get(), EVP_sha256()) == 0) {
    b.error = "signing the CA failed";
    return b;
  }
  auto srv = make_cert(srv_key.get(), ca.get(), "kop-local");
  std::string san;
  for (auto& d : dns_names) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
  for (auto& ip : ips) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  add_ext(srv.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(srv.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_ext(srv.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  add_ext(srv.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  if (!san.empty()) add_ext(srv.get(), ca.get(), NID_subject_alt_name, san);
  if (X509_sign(srv.get(), ca_key.get(), EVP_sha256()) == 0) {
    b.error = "signing the serving certificate failed";
    return b;
  }
  b.ca_pem = pem_cert(ca.get());
  b.cert_pem = pem_cert(srv.get());
  b.key_pem = pem_key(srv_key.get());
  return b;
}

}  // namespace kop::local::certs
