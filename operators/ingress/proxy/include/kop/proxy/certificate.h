// Loading and checking TLS certificate material named by a CertificateConfig.
//
// validate() and RouteTable::compile() call load_certificate() so that a Config whose
// certificate cannot be read, does not parse, or whose private key does not match is refused
// before it is published. The compiled Listener keeps the loaded PEM text, so the server builds
// its SSL_CTX objects from memory without reading files again.
// Threading: pure functions (file reads aside); callable from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include "kop/proxy/config.h"

namespace kop::proxy {

struct CertificateMaterial {
  std::string cert_pem;  // the chain, leaf first
  std::string key_pem;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries of the leaf, lowercased
  std::chrono::system_clock::time_point not_after;  // leaf expiry
};

// Reads files when paths are given, parses the chain and the key with OpenSSL and checks that
// the key matches the leaf certificate. Errors do not carry a JSON path (callers prefix it).
absl::StatusOr<CertificateMaterial> load_certificate(const CertificateConfig& cert);

// What a cluster's upstream TLS is built from, files read.
struct UpstreamTlsMaterial {
  std::string ca_pem;  // empty: the system trust store
  std::optional<CertificateMaterial> client;
};

// Reads files, checks that the CA bundle holds at least one certificate, that the client
// certificate loads (load_certificate), that the cipher list names a cipher and that
// server_name and subject_alt_names are valid names. Errors name the field (no JSON path).
absl::StatusOr<UpstreamTlsMaterial> load_upstream_tls(const UpstreamTlsConfig& tls);

}  // namespace kop::proxy
