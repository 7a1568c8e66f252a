// CORS (cross-origin resource sharing) decisions for a route's CorsPolicy, as pure functions
// the server calls on the request path (Gateway API's HTTPRoute CORS filter; the Fetch
// standard's CORS protocol).
//
// A request is cross-origin when it carries `Origin`; it is a preflight when it is also an
// OPTIONS request with `Access-Control-Request-Method`. For an origin the policy allows:
//  - a preflight is answered by the proxy (200, no body) with access-control-allow-origin (the
//    request's origin, echoed, so credentials work with it), -allow-methods (the list, or the
//    requested method for "*"), -allow-headers (the list, or the requested headers for "*"),
//    -expose-headers, -max-age, -allow-credentials ("true", only when allowed), vary: origin;
//  - any other request goes upstream and its response gets -allow-origin, -allow-credentials,
//    -expose-headers and vary: origin.
// An origin the policy does not allow gets no CORS fields, and its preflight is answered 403 by
// the server (a preflight on a route with a policy never reaches the backend).
// Threading: pure functions of their arguments; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kop/proxy/config.h"

namespace kop::proxy {

// Whether `pattern` is an allow_origins entry cors_origin_allowed() understands: "*", or
// scheme "://" host [":" port] where the host may start with "*." and has no path.
bool valid_cors_origin(std::string_view pattern);

// Whether the policy allows requests from `origin` (the Origin header's value).
bool cors_origin_allowed(const CorsPolicy& policy, std::string_view origin);

// Appends the response fields ("name: value\r\n") of the preflight answer to `out`.
// `method` and `headers` are the Access-Control-Request-Method / -Headers values.
void append_cors_preflight(const CorsPolicy& policy, std::string_view origin,
                           std::string_view method, std::string_view headers, std::string& out);

// Appends the CORS fields of the response to an allowed origin's actual request to `out`.
void append_cors_response(const CorsPolicy& policy, std::string_view origin, std::string& out);

// A route's policy compiled for its requests: the origin patterns sorted by kind once, and the
// response fields after the origin written once, so an allowed response costs the origin's
// compare and three copies.
class CorsRules {
 public:
  explicit CorsRules(const CorsPolicy& policy);
  // The same answer as cors_origin_allowed(policy, origin).
  bool allows(std::string_view origin) const;
  // append_cors_response(policy, origin, out) writes kAllowOrigin, the origin, after_origin().
  static constexpr std::string_view kAllowOrigin = "access-control-allow-origin: ";
  std::string_view after_origin() const { return after_origin_; }

 private:
  bool any_origin_ = false;            // "*" is listed
  std::vector<std::string> exact_;     // patterns without '*'
  std::vector<std::string> wildcard_;  // "scheme://*.rest"
  std::string after_origin_;           // "\r\n" ending the origin's field, the other fields
};

}  // namespace kop::proxy
