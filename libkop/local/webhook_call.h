// One HTTPS POST of a review to a webhook (admission or CRD conversion), as the API server
// makes it: clientConfig resolved to an address (a url, or a Service through the EndpointSlices
// stored in kop::local), TLS 1.2+, the server certificate checked against clientConfig.caBundle
// (the system's roots when there is none) and the host name it is reached by, one request,
// bounded by the webhook's timeout. Internal to kop::local.
#pragma once

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <string>
#include <string_view>
#include <vector>

#include "kop/local/names.h"
#include "kop/local/resource.h"

namespace kop::local::admission {

// The stored objects a webhook call reads (a Service, its EndpointSlices, a CRD): kop::local's
// own reads, without faults. Implementations take the store's lock themselves, so a caller must
// not hold it.
class StoredReader {
 public:
  virtual ~StoredReader() = default;
  virtual ResourceTypePtr type(std::string_view group, std::string_view version,
                               std::string_view resource) const = 0;
  virtual std::vector<ObjectPtr> stored(const ResourceType& t) const = 0;
  virtual ObjectPtr stored(const ResourceType& t, std::string_view ns,
                           std::string_view name) const = 0;
};

struct Endpoint {
  std::string host;         // where to connect: a name or an IP address
  std::string port;         // "443"
  std::string path;         // "/validate?timeout=10s"
  std::string server_name;  // the name the certificate must carry (SNI too)
  std::string ca_bundle;    // PEM; "" = the system's trust store
};

// Where a webhook's clientConfig points; `query` ("timeout=10s") is added to the path.
absl::StatusOr<Endpoint> endpoint_of(const StoredReader& store, const JsonValue& client_config,
                                     const std::string& query);

// A random (v4) uid for a review's request.uid.
std::string review_uid();

// The response body of a 200 answer; an error (naming the endpoint) for anything else:
// connection refused, TLS failure, timeout, another status code.
absl::StatusOr<std::string> post_review(const Endpoint& endpoint, const std::string& body,
                                        absl::Duration timeout);

}  // namespace kop::local::admission
