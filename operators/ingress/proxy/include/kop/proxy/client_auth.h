// Client certificates (nginx's ssl_verify_client, as ingress-nginx's auth-tls-* annotations
// use it): how a request is answered when the certificate its connection presented does not
// satisfy the ClientAuthConfig of the certificate its SNI selected, and the fields that tell
// the upstream what was presented.
//
// The handshake always completes (the server's verify callback accepts every chain and keeps
// the verification result); the HTTP layer decides, as nginx does:
//  - a certificate that failed verification: 400 "The SSL certificate error", except that
//    optional_no_ca accepts a chain whose issuer is not trusted (unknown or self-signed
//    issuer) and passes its result on as FAILED:<reason>;
//  - verify on without a certificate: 400 "No required SSL certificate was sent";
//  - with error_page, both 400 answers are a 302 to it instead;
//  - match_subject not found in the subject DN (empty without a certificate): 403 "client
//    certificate unauthorized" (ingress-nginx's auth-tls-match-cn).
// An allowed request carries ssl-client-verify (SUCCESS, FAILED:<reason> or NONE), and with a
// certificate ssl-client-subject-dn and ssl-client-issuer-dn (RFC 2253), plus ssl-client-cert
// (the URL-escaped PEM) with pass_certificate. The proxy drops every client-sent field whose
// name starts with "ssl-client-", so only these reach the upstream.
// Threading: ClientAuth is immutable after compile(); the functions are pure; any thread.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>
#include "kop/proxy/config.h"

namespace re2 {
class RE2;
}

namespace kop::proxy {

// What one connection's handshake learned of the client's certificate.
struct PeerCertificate {
  bool present = false;
  long verify_result = 0;   // X509_V_OK, or the X509_V_ERR_* code the verification ended with
  std::string verify;       // nginx's $ssl_client_verify: "SUCCESS", "FAILED:<reason>", "NONE"
  std::string subject_dn;   // RFC 2253 ("CN=client,O=Example"); "" without a certificate
  std::string issuer_dn;    // RFC 2253
  std::string escaped_pem;  // the leaf's PEM, URL-escaped (nginx's $ssl_client_escaped_cert)
};

// The leaf certificate the client presented (null: none) with its verification result.
PeerCertificate describe_peer_certificate(X509* leaf, long verify_result);

// Whether optional_no_ca accepts a verification that ended with `verify_result`: the chain's
// issuer is unknown or self-signed (the certificate is otherwise sound).
bool issuer_untrusted(long verify_result);

// `text` with every byte but RFC 3986's unreserved ones (letters, digits, "-._~") as %XX.
std::string url_escape(std::string_view text);

// A field sent upstream; views into a PeerCertificate and static text.
struct ClientField {
  std::string_view name;
  std::string_view value;
};

class ClientAuth {
 public:
  enum class Verdict { kAllow, kNoCertificate, kCertificateError, kSubjectRefused };
  static constexpr std::size_t kMaxFields = 4;

  // Checks the CA bundle (at least one certificate), the revocation lists, match_subject (RE2)
  // and error_page (a URL without spaces or control characters). Errors name the field.
  static absl::StatusOr<std::shared_ptr<const ClientAuth>> compile(const ClientAuthConfig& config);
  ~ClientAuth();

  const ClientAuthConfig& config() const { return config_; }
  // The verdict for a request whose connection presented `peer` under this policy; null: no
  // certificate (or one verified under another policy, which counts as none).
  Verdict check(const PeerCertificate* peer) const;
  // The ssl-client-* fields of an allowed request, into out[0..kMaxFields); returns how many.
  std::size_t upstream_fields(const PeerCertificate* peer, ClientField* out) const;

 private:
  ClientAuthConfig config_;
  std::unique_ptr<re2::RE2> subject_;
};

// The answers of a refused request (without error_page).
inline constexpr std::string_view kNoCertificateBody = "No required SSL certificate was sent\n";
inline constexpr std::string_view kCertificateErrorBody = "The SSL certificate error\n";
inline constexpr std::string_view kSubjectRefusedBody = "client certificate unauthorized\n";

}  // namespace kop::proxy
