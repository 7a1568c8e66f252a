// kop/client/errors.h: Kubernetes API errors carried inside absl::Status.
//
// Every failed call of a kop::client::Client (REST or kop::local) returns an absl::Status. When the
// failure came from the API (a non-2xx answer, or a watch ERROR event), the Status carries the
// API's own metav1.Status object as a payload, so nothing the server said is lost: its reason
// ("NotFound", "Conflict", ...), HTTP code, message and details (name, group, kind, uid, causes,
// retryAfterSeconds). The predicates below (is_not_found, is_conflict, ...) read that payload and
// follow apimachinery's rules: the reason decides; the HTTP code decides only when the reason is
// not one of the known reasons. A Status without the payload (a transport failure, a bad
// kubeconfig) is never an API error: every predicate returns false for it.
//
// The absl code is chosen from the reason (then the code), so code that only looks at
// absl::StatusCode still does something sensible:
//   NotFound→kNotFound  AlreadyExists→kAlreadyExists  Conflict→kAborted  Gone,Expired→kOutOfRange
//   Invalid,BadRequest,NotAcceptable,UnsupportedMediaType→kInvalidArgument
//   Unauthorized→kUnauthenticated  Forbidden→kPermissionDenied  MethodNotAllowed→kUnimplemented
//   TooManyRequests,RequestEntityTooLarge→kResourceExhausted
//   ServerTimeout,Timeout→kDeadlineExceeded  ServiceUnavailable→kUnavailable
//   InternalError and other 5xx→kInternal  anything else→kUnknown.
//
// kop::local's HTTP front produces its bodies with to_json(api_status_of(status)), so both
// transports speak the same Status objects.
//
// Threading: everything here is a pure function; call it from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/time/time.h>

namespace kop::client {

// metav1.StatusReason values (the "reason" field). Kept as strings: servers may add reasons.
namespace reason {
inline constexpr std::string_view kUnknown = "";
inline constexpr std::string_view kUnauthorized = "Unauthorized";
inline constexpr std::string_view kForbidden = "Forbidden";
inline constexpr std::string_view kNotFound = "NotFound";
inline constexpr std::string_view kAlreadyExists = "AlreadyExists";
inline constexpr std::string_view kConflict = "Conflict";
inline constexpr std::string_view kGone = "Gone";
inline constexpr std::string_view kInvalid = "Invalid";
inline constexpr std::string_view kServerTimeout = "ServerTimeout";
inline constexpr std::string_view kStoreReadError = "StorageReadError";
inline constexpr std::string_view kTimeout = "Timeout";
inline constexpr std::string_view kTooManyRequests = "TooManyRequests";
inline constexpr std::string_view kBadRequest = "BadRequest";
inline constexpr std::string_view kMethodNotAllowed = "MethodNotAllowed";
inline constexpr std::string_view kNotAcceptable = "NotAcceptable";
inline constexpr std::string_view kRequestEntityTooLarge = "RequestEntityTooLarge";
inline constexpr std::string_view kUnsupportedMediaType = "UnsupportedMediaType";
inline constexpr std::string_view kInternalError = "InternalError";
inline constexpr std::string_view kExpired = "Expired";
inline constexpr std::string_view kServiceUnavailable = "ServiceUnavailable";
}  // namespace reason

// metav1.CauseType values used by the API server's validation (field.ErrorType).
namespace cause {
inline constexpr std::string_view kFieldValueNotFound = "FieldValueNotFound";
inline constexpr std::string_view kFieldValueRequired = "FieldValueRequired";
inline constexpr std::string_view kFieldValueDuplicate = "FieldValueDuplicate";
inline constexpr std::string_view kFieldValueInvalid = "FieldValueInvalid";
inline constexpr std::string_view kFieldValueNotSupported = "FieldValueNotSupported";
inline constexpr std::string_view kFieldValueForbidden = "FieldValueForbidden";
inline constexpr std::string_view kFieldValueTooLong = "FieldValueTooLong";
inline constexpr std::string_view kFieldValueTooMany = "FieldValueTooMany";
inline constexpr std::string_view kInternal = "InternalError";
inline constexpr std::string_view kUnexpectedServerResponse = "UnexpectedServerResponse";
inline constexpr std::string_view kFieldManagerConflict = "FieldManagerConflict";
inline constexpr std::string_view kResourceVersionTooLarge = "ResourceVersionTooLarge";
}  // namespace cause

// metav1.StatusCause. JSON: {"reason": type, "message": ..., "field": ...}.
struct StatusCause {
  std::string type;  // a cause:: value; JSON name "reason"
  std::string message;
  std::string field;  // e.g. "spec.rules[0].http.paths[0].pathType"
  bool operator==(const StatusCause&) const = default;
};

// metav1.StatusDetails.
struct StatusDetails {
  std::string name;
  std::string group;
  std::string kind;  // for most reasons the resource ("pods"), for Invalid the Kind
  std::string uid;
  std::vector<StatusCause> causes;
  int32_t retry_after_seconds = 0;  // 0 = not set
  bool operator==(const StatusDetails&) const = default;
};

// metav1.Status: the body of every non-2xx answer of the API server and the object of watch
// ERROR events.
struct ApiStatus {
  std::string status = "Failure";  // "Success" or "Failure"
  std::string message;
  std::string reason;  // a reason:: value, or "" (unknown)
  int32_t code = 0;    // the HTTP status code
  std::optional<StatusDetails> details;
  // metadata.continue: set only by the 410 for a continue token too old for a consistent list,
  // which offers a token to go on with an inconsistent one.
  std::string continue_token;
  bool operator==(const ApiStatus&) const = default;
};

// The payload type URL under which the Status JSON is attached to an absl::Status.
inline constexpr std::string_view kStatusPayloadUrl = "kop.dev/k8s.io.apimachinery.meta.v1.Status";

// ---- converting -------------------------------------------------------------------------------

// An absl::Status (never OK) carrying `s`; message = s.message (or a generic one when empty).
absl::Status to_status(const ApiStatus& s);
// The API Status carried by `st`, or nullopt when `st` is OK or not an API error.
std::optional<ApiStatus> api_status(const absl::Status& st);
// Always an ApiStatus: the carried one, or one synthesized from the absl code (for a server that
// must answer something: kop::local's HTTP front). OK gives {"status":"Success","code":200}.
ApiStatus api_status_of(const absl::Status& st);

// The Status JSON exactly as the API server writes it:
// {"kind":"Status","apiVersion":"v1","metadata":{},"status":...,"message":...,"reason":...,
//  "details":{...},"code":...}; empty fields are omitted as Go's omitempty does.
std::string to_json(const ApiStatus& s);
// Parses a Status JSON body. Fails (InvalidArgument) when `body` is not JSON or not a v1 Status
// (kind "Status", apiVersion "v1" or "meta.k8s.io/v1").
absl::StatusOr<ApiStatus> parse_status_json(std::string_view body);

// The error for a non-2xx HTTP answer, as client-go builds it: the body's Status when the body is
// one, otherwise a generic Status whose reason comes from the HTTP code (409 on POST means
// AlreadyExists). `retry_after_seconds` (from a Retry-After header, 0 = none) fills
// details.retryAfterSeconds when the body did not set it. `method` is the HTTP verb ("GET"...).
absl::Status status_from_response(int http_code, std::string_view method, std::string_view body,
                                  int32_t retry_after_seconds = 0);

// ---- constructors (the messages of apimachinery's errors package) -------------------------------
// `group` + `resource` name the resource ("" + "pods", "networking.k8s.io" + "ingresses").

absl::Status not_found(std::string_view group, std::string_view resource, std::string_view name);
absl::Status already_exists(std::string_view group, std::string_view resource,
                            std::string_view name);
// `why` e.g. "the object has been modified; please apply your changes to the latest version and
// try again".
absl::Status conflict(std::string_view group, std::string_view resource, std::string_view name,
                      std::string_view why);
// 410 reason Expired: "too old resource version: 5 (10)".
absl::Status resource_expired(std::string_view message);
// 410 reason Gone.
absl::Status gone(std::string_view message);
// 422: "<Kind>[.group] \"name\" is invalid: [cause, cause]"; causes keep type, field, message.
absl::Status invalid(std::string_view group, std::string_view kind, std::string_view name,
                     std::vector<StatusCause> causes);
absl::Status bad_request(std::string_view message);
absl::Status unauthorized(std::string_view message);
absl::Status forbidden(std::string_view group, std::string_view resource, std::string_view name,
                       std::string_view why);
absl::Status method_not_supported(std::string_view group, std::string_view resource,
                                  std::string_view action);
absl::Status too_many_requests(std::string_view message, int32_t retry_after_seconds);
absl::Status server_timeout(std::string_view group, std::string_view resource,
                            std::string_view operation, int32_t retry_after_seconds);
absl::Status timeout(std::string_view message, int32_t retry_after_seconds);
absl::Status internal_error(std::string_view message);
absl::Status service_unavailable(std::string_view message);

// ---- predicates (apimachinery's Is* rules) ------------------------------------------------------

// The reason of an API error, "" otherwise.
std::string reason_of(const absl::Status& st);
// The HTTP code of an API error, 0 otherwise.
int32_t http_code_of(const absl::Status& st);

bool is_api_error(const absl::Status& st);
bool is_not_found(const absl::Status& st);
bool is_already_exists(const absl::Status& st);
bool is_conflict(const absl::Status& st);
// 410: reason Gone or Expired (a resourceVersion too old for a list or a watch).
bool is_gone(const absl::Status& st);
// Reason Expired only.
bool is_resource_expired(const absl::Status& st);
bool is_invalid(const absl::Status& st);
bool is_bad_request(const absl::Status& st);
bool is_forbidden(const absl::Status& st);
bool is_unauthorized(const absl::Status& st);
bool is_method_not_supported(const absl::Status& st);
// Reason TooManyRequests or HTTP 429 (whatever the reason, as apimachinery).
bool is_too_many_requests(const absl::Status& st);
// Reason ServerTimeout only (its HTTP code is 500).
bool is_server_timeout(const absl::Status& st);
// Reason Timeout or (unknown reason and) 504.
bool is_timeout(const absl::Status& st);
bool is_internal(const absl::Status& st);
bool is_service_unavailable(const absl::Status& st);
// The delay the server asked for (details.retryAfterSeconds, or ServerTimeout with any value),
// as apimachinery's SuggestsClientDelay; nullopt when it asked for none.
std::optional<absl::Duration> retry_after(const absl::Status& st);
// The causes of an API error (422 Invalid field errors, apply conflicts), empty otherwise.
std::vector<StatusCause> causes_of(const absl::Status& st);

}  // namespace kop::client
