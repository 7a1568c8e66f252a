// One HTTPS POST of a review to an admission webhook, as the API server makes it: TLS 1.2+,
// the server certificate checked against clientConfig.caBundle (the system's roots when there
// is none) and the host name it is reached by, one request, bounded by the webhook's timeout.
// Internal to kop::local.
#pragma once

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <string>

namespace kop::local::admission {

struct Endpoint {
  std::string host;         // where to connect: a name or an IP address
  std::string port;         // "443"
  std::string path;         // "/validate?timeout=10s"
  std::string server_name;  // the name the certificate must carry (SNI too)
  std::string ca_bundle;    // PEM; "" = the system's trust store
};

// The response body of a 200 answer; an error (naming the endpoint) for anything else:
// connection refused, TLS failure, timeout, another status code.
absl::StatusOr<std::string> post_review(const Endpoint& endpoint, const std::string& body,
                                        absl::Duration timeout);

}  // namespace kop::local::admission
