// kop::local's errors: kop::client's (kop/client/errors.h), plus what only a server writes.
//
// Every failure of the store is an absl::Status carrying the API's Status object, built by
// kop/client/errors.h's constructors (client::not_found, client::bad_request, ...), so
// LocalClient hands it to callers unchanged and the HTTP front writes it as the response body.
// What the client has no constructor for lives here: field.Error (validation, with
// apimachinery's message rules) and the few server-side errors below. Internal to kop::local;
// pure functions, any thread.
#pragma once

#include <absl/status/status.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/client/errors.h"
#include "kop/local/names.h"
#include "kop/log/quote.h"

namespace kop::local {

// field.Error (k8s.io/apimachinery/pkg/util/validation/field) with its message rules.
struct FieldError {
  enum class Type {  // errors.cpp's kTypes follows this order
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal
  };
  Type type = Type::Invalid;
  std::string field;
  // The bad value as Go's fmt would print it in ErrorBody: strings quoted (%q), numbers and
  // booleans plain, nil as "null". Empty optional = not shown (Required, Forbidden, ...).
  std::optional<std::string> bad_value;
  std::string detail;

  static std::string_view reason(Type t);  // "FieldValueRequired", ...
  std::string body() const;                // "Required value: detail"
  std::string error() const;               // "field: body"
};
using FieldErrors = std::vector<FieldError>;

namespace field {
using kop::log::quote;  // Go's strconv.Quote, as the API server quotes bad values
FieldError required(std::string f, std::string detail = {});
FieldError forbidden(std::string f, std::string detail);
FieldError invalid(std::string f, std::string_view bad, std::string detail);  // string value
FieldError invalid_raw(std::string f, std::string bad_repr, std::string detail);
FieldError invalid_int(std::string f, int64_t bad, std::string detail);
FieldError not_supported(std::string f, std::string_view bad,
                         const std::vector<std::string>& valid);
FieldError duplicate(std::string f, std::string bad_repr);
FieldError not_found(std::string f, std::string bad_repr);
FieldError too_long(std::string f, int max_len);
FieldError too_many(std::string f, int64_t actual, int64_t max);
// Go's %#v / json repr of an arbitrary JSON value, for bad values that are not strings.
std::string repr(const JsonValue& v);
}  // namespace field

namespace errors {
// 422 Invalid with one cause per field error (client::invalid).
absl::Status invalid(std::string_view group, std::string_view kind, std::string_view name,
                     const FieldErrors& errs);
// The optimistic-concurrency conflict ("the object has been modified; please apply your
// changes to the latest version and try again").
absl::Status conflict_modified(std::string_view group, std::string_view resource,
                               std::string_view name);
// 504 "Timeout: Too large resource version: N, current: M" with the ResourceVersionTooLarge cause.
absl::Status too_large_resource_version(uint64_t requested, uint64_t current);
// 404 for a path or resource type the server does not serve ("the server could not find the
// requested resource", details {}).
absl::Status resource_not_served();
// 404 for an object whose apiVersion and kind name no served type ("no matches for kind ...").
absl::Status no_kind_match(std::string_view kind, std::string_view api_version);
// 415 for a request body in a format the endpoint does not take.
absl::Status unsupported_media_type(std::string_view accepted);
// 406 for an Accept header the endpoint cannot satisfy.
absl::Status not_acceptable(std::string_view message);
// The 422 of a JSON patch that cannot be applied. The API server wraps jsonpatch's error in
// NewGenericServerResponse(422): the message is the generic one and the detail is lost.
absl::Status patch_failed();
}  // namespace errors

}  // namespace kop::local
