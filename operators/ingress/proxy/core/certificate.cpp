// load_certificate(): reads and checks a PEM certificate chain and private key with OpenSSL.
#include "kop/proxy/certificate.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/text.h"

namespace kop::proxy {
namespace {

using internal::cat;
using internal::quote;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::string openssl_error() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
    return "no PEM data found";
  const char* reason = ERR_reason_error_string(e);
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

absl::StatusOr<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(cat("cannot read ", quote(path)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<CertificateMaterial> load_certificate(const CertificateConfig& cert) {
  CertificateMaterial out;
  if (!cert.cert_file.empty()) {
    auto text = read_file(cert.cert_file);
    if (!text.ok()) return text.status();
    out.cert_pem = std::move(*text);
  } else {
    out.cert_pem = cert.cert_pem;
  }
  if (!cert.key_file.empty()) {
    auto text = read_file(cert.key_file);
    if (!text.ok()) return text.status();
    out.key_pem = std::move(*text);
  } else {
    out.key_pem = cert.key_pem;
  }
  ERR_clear_error();
  std::unique_ptr<BIO, BioFree> cbio(
      BIO_new_mem_buf(out.cert_pem.data(), static_cast<int>(out.cert_pem.size())));
  std::unique_ptr<X509, X509Free> leaf(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
  if (!leaf)
    return absl::InvalidArgumentError(cat("certificate does not parse: ", openssl_error()));
  // The rest of the chain must parse too.
  while (true) {
    std::unique_ptr<X509, X509Free> extra(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
    if (!extra) {
      unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        break;
      }
      if (e == 0) break;
      return absl::InvalidArgumentError(cat("certificate chain does not parse: ", openssl_error()));
    }
  }
  std::unique_ptr<BIO, BioFree> kbio(
      BIO_new_mem_buf(out.key_pem.data(), static_cast<int>(out.key_pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
  if (!key) return absl::InvalidArgumentError(cat("private key does not parse: ", openssl_error()));
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("private key does not match the certificate");
  }
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type != GEN_DNS) continue;
      const unsigned char* data = ASN1_STRING_get0_data(n->d.dNSName);
      int len = ASN1_STRING_length(n->d.dNSName);
      out.dns_names.push_back(
          internal::to_lower(std::string_view(reinterpret_cast<const char*>(data), len)));
    }
    GENERAL_NAMES_free(names);
  }
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf.get()), &tm) == 1)
    out.not_after = std::chrono::system_clock::from_time_t(timegm(&tm));
  return out;
}

namespace {

// A DNS name (one leading "*." allowed), an IP address or a URI ("scheme:..."): no spaces or
// control bytes, which would reach OpenSSL's name checks and the logs.
bool valid_peer_name(std::string_view n) {
  if (n.empty() || n.size() > size_t{253} * 2) return false;
  for (char ch : n)
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return false;
  return true;
}

}  // namespace

absl::StatusOr<UpstreamTlsMaterial> load_upstream_tls(const UpstreamTlsConfig& tls) {
  UpstreamTlsMaterial out;
  if (!tls.ca_file.empty()) {
    auto text = read_file(tls.ca_file);
    if (!text.ok()) return absl::InvalidArgumentError(cat("ca_file: ", text.status().message()));
    out.ca_pem = std::move(*text);
  } else {
    out.ca_pem = tls.ca_pem;
  }
  if (!out.ca_pem.empty()) {
    ERR_clear_error();
    std::unique_ptr<BIO, BioFree> b(
        BIO_new_mem_buf(out.ca_pem.data(), static_cast<int>(out.ca_pem.size())));
    int n = 0;
    while (std::unique_ptr<X509, X509Free> x{PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)})
      ++n;
    unsigned long e = ERR_peek_last_error();
    bool clean_end =
        e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
    if (n == 0 || !clean_end)
      return absl::InvalidArgumentError(cat(tls.ca_file.empty() ? "ca_pem" : "ca_file",
                                            ": CA certificates do not parse: ", openssl_error()));
    ERR_clear_error();
  }
  if (tls.client_certificate) {
    auto c = load_certificate(*tls.client_certificate);
    if (!c.ok())
      return absl::InvalidArgumentError(cat("client_certificate: ", c.status().message()));
    out.client = std::move(*c);
  }
  if (!tls.server_name.empty() && !valid_peer_name(tls.server_name))
    return absl::InvalidArgumentError(cat("server_name: invalid name ", quote(tls.server_name)));
  for (const std::string& n : tls.subject_alt_names)
    if (!valid_peer_name(n))
      return absl::InvalidArgumentError(cat("subject_alt_names: invalid name ", quote(n)));
  if (!tls.ciphers.empty()) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
    int ok = SSL_CTX_set_cipher_list(ctx, tls.ciphers.c_str());
    SSL_CTX_free(ctx);
    if (ok != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          cat("ciphers: no cipher in ", quote(tls.ciphers), " is known to OpenSSL"));
    }
  }
  return out;
}

}  // namespace kop::proxy
