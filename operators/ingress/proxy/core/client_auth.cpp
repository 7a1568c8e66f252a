// Client certificates: the policy check of a request and its ssl-client-* fields.
#include "kop/proxy/client_auth.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <re2/re2.h>

#include <memory>

#include "core/text.h"

namespace kop::proxy {
namespace {

using internal::cat;
using internal::quote;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

// The BIO's contents as a string, dropping control bytes (a DN is printed with its special
// characters escaped; this keeps a field value clean whatever OpenSSL prints).
std::string bio_text(BIO* b) {
  char* data = nullptr;
  long len = BIO_get_mem_data(b, &data);
  std::string out;
  out.reserve(static_cast<size_t>(len));
  for (long i = 0; i < len; ++i)
    if (static_cast<unsigned char>(data[i]) >= 0x20 && data[i] != 0x7f) out.push_back(data[i]);
  return out;
}

std::string rfc2253(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> b(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(b.get(), name, 0, XN_FLAG_RFC2253);
  return bio_text(b.get());
}

// How many PEM blocks of `read` the text holds; -1 when one does not parse.
template <typename Read>
int count_pem(const std::string& pem, Read read) {
  ERR_clear_error();
  std::unique_ptr<BIO, BioFree> b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  int n = 0;
  while (read(b.get())) ++n;
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  bool clean_end =
      e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
  return clean_end ? n : -1;
}

}  // namespace

PeerCertificate describe_peer_certificate(X509* leaf, long verify_result) {
  PeerCertificate p;
  if (leaf == nullptr) {
    p.verify = "NONE";
    return p;
  }
  p.present = true;
  p.verify_result = verify_result;
  p.verify = verify_result == X509_V_OK
                 ? std::string("SUCCESS")
                 : cat("FAILED:", X509_verify_cert_error_string(verify_result));
  p.subject_dn = rfc2253(X509_get_subject_name(leaf));
  p.issuer_dn = rfc2253(X509_get_issuer_name(leaf));
  std::unique_ptr<BIO, BioFree> b(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(b.get(), leaf);
  char* data = nullptr;
  long len = BIO_get_mem_data(b.get(), &data);
  p.escaped_pem = url_escape(std::string_view(data, static_cast<size_t>(len)));
  return p;
}

bool issuer_untrusted(long verify_result) {
  switch (verify_result) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return true;
    default:
      return false;
  }
}

std::string url_escape(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3 / 2);
  for (char c : text) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~';
    if (keep) {
      out.push_back(c);
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[u >> 4]);
    out.push_back(kHex[u & 15]);
  }
  return out;
}

ClientAuth::~ClientAuth() = default;

absl::StatusOr<std::shared_ptr<const ClientAuth>> ClientAuth::compile(
    const ClientAuthConfig& config) {
  int cas = count_pem(config.ca_pem, [](BIO* b) {
    X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    X509_free(x);
    return x != nullptr;
  });
  if (cas <= 0)
    return absl::InvalidArgumentError(cas == 0 ? "ca_pem: at least one CA certificate is required"
                                               : "ca_pem: CA certificates do not parse");
  if (!config.crl_pem.empty() && count_pem(config.crl_pem, [](BIO* b) {
                                   X509_CRL* c =
                                       PEM_read_bio_X509_CRL(b, nullptr, nullptr, nullptr);
                                   X509_CRL_free(c);
                                   return c != nullptr;
                                 }) <= 0)
    return absl::InvalidArgumentError("crl_pem: revocation lists do not parse");
  for (char c : config.error_page)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return absl::InvalidArgumentError(
          cat("error_page: ", quote(config.error_page), " holds a space or a control character"));
  if (config.depth > 100) return absl::InvalidArgumentError("depth: at most 100");
  // The constructor is private (compile() is the way in): make_shared cannot reach it.
  auto auth = std::shared_ptr<ClientAuth>(new ClientAuth());  // NOLINT(modernize-make-shared)
  auth->config_ = config;
  if (!config.match_subject.empty()) {
    RE2::Options o;
    o.set_log_errors(false);
    auth->subject_ = std::make_unique<RE2>(config.match_subject, o);
    if (!auth->subject_->ok())
      return absl::InvalidArgumentError(cat("match_subject: invalid regex ",
                                            quote(config.match_subject), ": ",
                                            auth->subject_->error()));
  }
  return std::shared_ptr<const ClientAuth>(std::move(auth));
}

ClientAuth::Verdict ClientAuth::check(const PeerCertificate* peer) const {
  bool present = peer != nullptr && peer->present;
  if (present && peer->verify_result != X509_V_OK &&
      !(config_.verify == ClientVerify::kOptionalNoCa && issuer_untrusted(peer->verify_result)))
    return Verdict::kCertificateError;
  if (!present && config_.verify == ClientVerify::kOn) return Verdict::kNoCertificate;
  static const std::string kNoSubject;
  if (subject_ && !RE2::PartialMatch(present ? peer->subject_dn : kNoSubject, *subject_))
    return Verdict::kSubjectRefused;
  return Verdict::kAllow;
}

std::size_t ClientAuth::upstream_fields(const PeerCertificate* peer, ClientField* out) const {
  std::size_t n = 0;
  if (peer == nullptr || !peer->present) {
    out[n++] = {"ssl-client-verify", "NONE"};
    return n;
  }
  out[n++] = {"ssl-client-verify", peer->verify};
  if (!peer->subject_dn.empty()) out[n++] = {"ssl-client-subject-dn", peer->subject_dn};
  if (!peer->issuer_dn.empty()) out[n++] = {"ssl-client-issuer-dn", peer->issuer_dn};
  if (config_.pass_certificate) out[n++] = {"ssl-client-cert", peer->escaped_pem};
  return n;
}

}  // namespace kop::proxy
