// An nginx-style expression: literal text and variables, concatenated, e.g. "$request_uri",
// "$host$uri", "$http_x_user-$cookie_session". The key of consistent hashing (ingress-nginx's
// upstream-hash-by) and external authentication's sign-in URL and cache key (ext_auth.h).
//
// Variables (nginx's meaning, read from the request as the client sent it):
//   $request_uri  the path with "?query" when there is one     $uri   the path
//   $escaped_request_uri  $request_uri percent-encoded as one query value (nginx's
//                 set_escape_uri: all but A-Z a-z 0-9 - . _ ~)
//   $args, $query_string  the query string                     $host  the Host, lowercased
//   $http_host    the Host as received (port included)        $scheme, $pass_access_scheme
//   $remote_addr, $binary_remote_addr  the client's address    $request_method
//   $http_NAME    a request header (NAME lowercase, '_' for '-'), "" when absent
//   $cookie_NAME  a cookie's value, "" when absent             $arg_NAME  a query parameter
// "${name}" delimits a variable from text that follows. Any other variable is an error, never
// an empty string: a typo would send every request to one endpoint.
// Threading: immutable after parse(); any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include "kop/proxy/request_view.h"

namespace kop::proxy {

class HashExpression {
 public:
  // The error names the variable or the position.
  static absl::StatusOr<HashExpression> parse(std::string_view text);
  // Appends the expression's value for `request` to `out`.
  void evaluate(const RequestView& request, std::string& out) const;

 private:
  enum class Kind {
    kText,
    kRequestUri,
    kEscapedRequestUri,
    kUri,
    kArgs,
    kHost,
    kHttpHost,
    kScheme,
    kRemoteAddr,
    kMethod,
    kHeader,
    kCookie,
    kArg
  };
  struct Part {
    Kind kind = Kind::kText;
    std::string text;  // the literal, or the header / cookie / parameter name
  };
  std::vector<Part> parts_;
};

}  // namespace kop::proxy
