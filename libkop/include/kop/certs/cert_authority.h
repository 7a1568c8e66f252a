// kop/certs/cert_authority.h: a self-signed certificate authority and the serving certificates
// it signs, with OpenSSL: what a webhook server that manages its own certificates creates
// (kop/webhook/self_managed.h) and what kop::local's HTTPS front serves when given none.
//
// Keys are ECDSA P-256 (small, fast handshakes, accepted by every API server version in use).
// The CA is a self-signed certificate with basicConstraints CA:TRUE and keyCertSign; a serving
// certificate has the given DNS names and IP addresses as subjectAltNames (the API server
// checks those, never the common name), extendedKeyUsage serverAuth, and is signed by the CA.
// Validity starts an hour back, so a replica whose clock runs behind accepts it.
//
// Threads: plain functions.
#pragma once

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <string>
#include <string_view>
#include <vector>

namespace kop::certs {

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;  // never log it
};

// A new self-signed CA valid for `validity` from now.
absl::StatusOr<KeyPair> create_ca(std::string_view common_name, absl::Duration validity);

// A new serving certificate signed by `ca`, valid for `validity` from now (never past the CA's
// own expiry: it is cut to it).
absl::StatusOr<KeyPair> create_serving_certificate(const KeyPair& ca,
                                                   const std::vector<std::string>& dns_names,
                                                   const std::vector<std::string>& ip_addresses,
                                                   absl::Duration validity);

// OK when `cert_pem` is signed by the CA `ca_pem` (its first certificate) and names every one
// of `dns_names` and `ip_addresses` in its subjectAltNames. Expiry is not checked here.
absl::Status check_serving_certificate(std::string_view cert_pem, std::string_view ca_pem,
                                       const std::vector<std::string>& dns_names,
                                       const std::vector<std::string>& ip_addresses);

}  // namespace kop::certs
