#include "kop/certs/cert_authority.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace kop::certs {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

std::string bio_text(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

absl::StatusOr<KeyPair> to_pem(X509* cert, EVP_PKEY* key) {
  Ptr<BIO> c(BIO_new(BIO_s_mem()));
  Ptr<BIO> k(BIO_new(BIO_s_mem()));
  if (!c || !k || PEM_write_bio_X509(c.get(), cert) != 1 ||
      PEM_write_bio_PrivateKey(k.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError("writing the certificate as PEM failed");
  }
  return KeyPair{bio_text(c.get()), bio_text(k.get())};
}

bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// A certificate for `key` named `common_name`, valid from an hour ago for `validity`, issued by
// `issuer` (itself when null). Signed by the caller.
Ptr<X509> new_certificate(EVP_PKEY* key, X509* issuer, std::string_view common_name,
                          absl::Duration validity) {
  Ptr<X509> c(X509_new());
  if (!c) return c;
  X509_set_version(c.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // positive
  Ptr<BIGNUM> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(c.get()));
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), static_cast<long>(absl::ToInt64Seconds(validity)));
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  std::string cn(common_name);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(c.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  return c;
}

absl::StatusOr<std::pair<Ptr<X509>, Ptr<EVP_PKEY>>> read_pair(const KeyPair& pair) {
  Ptr<BIO> cb(BIO_new_mem_buf(pair.cert_pem.data(), static_cast<int>(pair.cert_pem.size())));
  Ptr<X509> cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  Ptr<BIO> kb(BIO_new_mem_buf(pair.key_pem.data(), static_cast<int>(pair.key_pem.size())));
  Ptr<EVP_PKEY> key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!cert || !key) return absl::InvalidArgumentError("the CA is not a PEM certificate and key");
  return std::pair{std::move(cert), std::move(key)};
}

}  // namespace

absl::StatusOr<KeyPair> create_ca(std::string_view common_name, absl::Duration validity) {
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return absl::InternalError("generating the CA key failed");
  auto ca = new_certificate(key.get(), nullptr, common_name, validity);
  if (!ca || !add_extension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !add_extension(ca.get(), ca.get(), NID_key_usage,
                     "critical,keyCertSign,cRLSign,digitalSignature") ||
      !add_extension(ca.get(), ca.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(ca.get(), key.get(), EVP_sha256()) == 0) {
    return absl::InternalError("creating the CA certificate failed");
  }
  return to_pem(ca.get(), key.get());
}

absl::StatusOr<KeyPair> create_serving_certificate(const KeyPair& ca,
                                                   const std::vector<std::string>& dns_names,
                                                   const std::vector<std::string>& ip_addresses,
                                                   absl::Duration validity) {
  if (dns_names.empty() && ip_addresses.empty()) {
    return absl::InvalidArgumentError("a serving certificate needs a DNS name or an IP address");
  }
  auto issuer = read_pair(ca);
  if (!issuer.ok()) return issuer.status();
  auto& [ca_cert, ca_key] = *issuer;
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return absl::InternalError("generating the serving key failed");
  std::string cn = dns_names.empty() ? ip_addresses.front() : dns_names.front();
  auto cert = new_certificate(key.get(), ca_cert.get(), cn, validity);
  if (!cert) return absl::InternalError("creating the serving certificate failed");
  // Never outlive the CA: a client would refuse the chain after the CA's expiry anyway.
  if (X509_cmp_time(X509_get0_notAfter(ca_cert.get()), nullptr) > 0 &&
      ASN1_TIME_compare(X509_get0_notAfter(cert.get()), X509_get0_notAfter(ca_cert.get())) > 0) {
    X509_set1_notAfter(cert.get(), X509_get0_notAfter(ca_cert.get()));
  }
  std::string san;
  for (const auto& d : dns_names) san += fmt::format("{}DNS:{}", san.empty() ? "" : ",", d);
  for (const auto& ip : ip_addresses) san += fmt::format("{}IP:{}", san.empty() ? "" : ",", ip);
  if (!add_extension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(cert.get(), ca_cert.get(), NID_key_usage,
                     "critical,digitalSignature,keyEncipherment") ||
      !add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth") ||
      !add_extension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always") ||
      !add_extension(cert.get(), ca_cert.get(), NID_subject_alt_name, san)) {
    return absl::InvalidArgumentError("bad subjectAltName for the serving certificate: " + san);
  }
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return absl::InternalError("signing the serving certificate failed");
  }
  return to_pem(cert.get(), key.get());
}

absl::Status check_serving_certificate(std::string_view cert_pem, std::string_view ca_pem,
                                       const std::vector<std::string>& dns_names,
                                       const std::vector<std::string>& ip_addresses) {
  Ptr<BIO> cb(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  Ptr<X509> cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  Ptr<BIO> ab(BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())));
  Ptr<X509> ca(PEM_read_bio_X509(ab.get(), nullptr, nullptr, nullptr));
  if (!cert || !ca) return absl::InvalidArgumentError("not a PEM certificate");
  EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());
  if (ca_key == nullptr || X509_verify(cert.get(), ca_key) != 1) {
    return absl::InvalidArgumentError("the serving certificate is not signed by the CA");
  }
  for (const auto& name : dns_names) {
    if (X509_check_host(cert.get(), name.data(), name.size(), X509_CHECK_FLAG_NO_WILDCARDS,
                        nullptr) != 1) {
      return absl::InvalidArgumentError("the serving certificate does not name " + name);
    }
  }
  for (const auto& ip : ip_addresses) {
    if (X509_check_ip_asc(cert.get(), ip.c_str(), 0) != 1) {
      return absl::InvalidArgumentError("the serving certificate does not name " + ip);
    }
  }
  return absl::OkStatus();
}

}  // namespace kop::certs
