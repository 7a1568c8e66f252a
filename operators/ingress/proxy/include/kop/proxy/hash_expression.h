// The key of consistent hashing as an nginx-style expression (ingress-nginx's upstream-hash-by):
// literal text and variables, concatenated, e.g. "$request_uri", "$host$uri",
// "$http_x_user-$cookie_session".
//
// Variables (nginx's meaning, read from the request as the client sent it):
//   $request_uri  the path with "?query" when there is one     $uri   the path
//   $args, $query_string  the query string                     $host  the Host, lowercased
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
    kUri,
    kArgs,
    kHost,
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
