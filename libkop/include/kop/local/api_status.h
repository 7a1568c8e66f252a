// The API server's error model, as kop::local produces it: metav1.Status with reason, code,
// details (name, group, kind, causes, retryAfterSeconds) and the exact messages the
// k8s.io/apimachinery/pkg/api/errors constructors write, plus field.Error for 422 Invalid.
//
// The store returns Result<T>: a value or an ApiStatus. The HTTP front serialises ApiStatus as
// the Status body; LocalClient converts it to the client's ApiError. Pure values, no threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "kop/local/json.h"

namespace kop::local {

struct StatusCause {
  std::string type;  // "reason" in JSON: FieldValueRequired, FieldManagerConflict, ...
  std::string message;
  std::string field;
};

struct ApiStatus {
  int code = 500;
  std::string reason;  // NotFound, AlreadyExists, Conflict, Invalid, Expired, ...
  std::string message;
  bool has_details = false;
  std::string name, group, kind, uid;
  std::vector<StatusCause> causes;
  int retry_after_seconds = 0;
  std::string continue_token;  // ListMeta.continue (only the inconsistent-continue 410 sets it)

  // The Status object exactly as the API server writes it (kind Status, apiVersion v1).
  JsonDoc to_json() const;
  std::string to_json_string() const;
  // Reads a Status object back (used by tests and by the manifest loader's reports).
  static ApiStatus from_json(const JsonValue& v);
};

// A value or an ApiStatus. Cheap to move; no exceptions.
template <class T>
class Result {
 public:
  Result(T v) : v_(std::move(v)) {}          // NOLINT(runtime/explicit)
  Result(ApiStatus s) : v_(std::move(s)) {}  // NOLINT(runtime/explicit)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const ApiStatus& status() const& { return std::get<1>(v_); }
  ApiStatus&& status() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, ApiStatus> v_;
};

// field.Error (k8s.io/apimachinery/pkg/util/validation/field) with its message rules.
struct FieldError {
  enum class Type {
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
std::string quote(std::string_view s);  // Go's strconv.Quote
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

// GroupResource / GroupKind strings as schema.GroupResource.String() prints them.
std::string group_resource_string(std::string_view resource, std::string_view group);

namespace errors {
ApiStatus not_found(std::string_view group, std::string_view resource, std::string_view name);
ApiStatus already_exists(std::string_view group, std::string_view resource, std::string_view name);
ApiStatus conflict(std::string_view group, std::string_view resource, std::string_view name,
                   std::string_view why);
// The optimistic-concurrency conflict ("the object has been modified; please apply your
// changes to the latest version and try again").
ApiStatus conflict_modified(std::string_view group, std::string_view resource,
                            std::string_view name);
ApiStatus forbidden(std::string_view group, std::string_view resource, std::string_view name,
                    std::string_view why);
ApiStatus invalid(std::string_view group, std::string_view kind, std::string_view name,
                  const FieldErrors& errs);
ApiStatus expired(std::string message);      // 410 reason Expired
ApiStatus gone(std::string message);         // 410 reason Gone
ApiStatus bad_request(std::string message);  // 400
ApiStatus unauthorized(std::string message = {});
ApiStatus method_not_supported(std::string_view group, std::string_view resource,
                               std::string_view action);
ApiStatus too_many_requests(std::string message, int retry_after_seconds);
ApiStatus internal(std::string message);                          // "Internal error occurred: ..."
ApiStatus timeout(std::string message, int retry_after_seconds);  // 504 "Timeout: ..."
ApiStatus too_large_resource_version(uint64_t requested, uint64_t current);
ApiStatus unsupported_media_type(std::string content_type);
ApiStatus not_acceptable(std::string message);
ApiStatus service_unavailable(std::string message);
}  // namespace errors

}  // namespace kop::local
