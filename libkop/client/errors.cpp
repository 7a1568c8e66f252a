#include "kop/client/errors.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>

#include <absl/strings/cord.h>
#include "kop/log/quote.h"

namespace kop::client {
namespace {

absl::string_view absl_sv(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
std::string std_str(absl::string_view s) {
  return std::string(s.data(), s.size());
}

constexpr std::array<std::string_view, 19> kKnownReasons = {
    reason::kUnauthorized,
    reason::kForbidden,
    reason::kNotFound,
    reason::kAlreadyExists,
    reason::kConflict,
    reason::kGone,
    reason::kInvalid,
    reason::kServerTimeout,
    reason::kStoreReadError,
    reason::kTimeout,
    reason::kTooManyRequests,
    reason::kBadRequest,
    reason::kMethodNotAllowed,
    reason::kNotAcceptable,
    reason::kRequestEntityTooLarge,
    reason::kUnsupportedMediaType,
    reason::kInternalError,
    reason::kExpired,
    reason::kServiceUnavailable,
};

bool known_reason(std::string_view r) {
  for (auto k : kKnownReasons)
    if (k == r) return true;
  return false;
}

absl::StatusCode code_for(const ApiStatus& s) {
  const std::string& r = s.reason;
  if (r == reason::kNotFound) return absl::StatusCode::kNotFound;
  if (r == reason::kAlreadyExists) return absl::StatusCode::kAlreadyExists;
  if (r == reason::kConflict) return absl::StatusCode::kAborted;
  if (r == reason::kGone || r == reason::kExpired) return absl::StatusCode::kOutOfRange;
  if (r == reason::kInvalid || r == reason::kBadRequest || r == reason::kNotAcceptable ||
      r == reason::kUnsupportedMediaType)
    return absl::StatusCode::kInvalidArgument;
  if (r == reason::kUnauthorized) return absl::StatusCode::kUnauthenticated;
  if (r == reason::kForbidden) return absl::StatusCode::kPermissionDenied;
  if (r == reason::kMethodNotAllowed) return absl::StatusCode::kUnimplemented;
  if (r == reason::kTooManyRequests || r == reason::kRequestEntityTooLarge)
    return absl::StatusCode::kResourceExhausted;
  if (r == reason::kServerTimeout || r == reason::kTimeout)
    return absl::StatusCode::kDeadlineExceeded;
  if (r == reason::kServiceUnavailable) return absl::StatusCode::kUnavailable;
  if (r == reason::kInternalError || r == reason::kStoreReadError)
    return absl::StatusCode::kInternal;
  switch (s.code) {
    case 400:
    case 406:
    case 415:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
      return absl::StatusCode::kUnimplemented;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 413:
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 503:
      return absl::StatusCode::kUnavailable;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      break;
  }
  if (s.code >= 500) return absl::StatusCode::kInternal;
  return absl::StatusCode::kUnknown;
}

// The HTTP code and reason for an absl code that carries no API Status (the reverse of code_for).
std::pair<int32_t, std::string_view> http_for(absl::StatusCode c) {
  switch (c) {
    case absl::StatusCode::kNotFound:
      return {404, reason::kNotFound};
    case absl::StatusCode::kAlreadyExists:
      return {409, reason::kAlreadyExists};
    case absl::StatusCode::kAborted:
      return {409, reason::kConflict};
    case absl::StatusCode::kOutOfRange:
      return {410, reason::kExpired};
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
      return {400, reason::kBadRequest};
    case absl::StatusCode::kUnauthenticated:
      return {401, reason::kUnauthorized};
    case absl::StatusCode::kPermissionDenied:
      return {403, reason::kForbidden};
    case absl::StatusCode::kUnimplemented:
      return {405, reason::kMethodNotAllowed};
    case absl::StatusCode::kResourceExhausted:
      return {429, reason::kTooManyRequests};
    case absl::StatusCode::kDeadlineExceeded:
      return {504, reason::kTimeout};
    case absl::StatusCode::kUnavailable:
      return {503, reason::kServiceUnavailable};
    default:
      return {500, reason::kInternalError};
  }
}

std::string_view sv(const rapidjson::Value& v) {
  return v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
}
std::string str_member(const rapidjson::Value& o, const char* key) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) return {};
  return std::string(sv(it->value));
}

std::string group_resource(std::string_view group, std::string_view resource) {
  if (group.empty()) return std::string(resource);
  return fmt::format("{}.{}", resource, group);
}

// Go's %q, as the API server quotes names in its messages.
using kop::log::quote;

ApiStatus failure(int32_t code, std::string_view why, std::string message) {
  ApiStatus s;
  s.code = code;
  s.reason = std::string(why);
  s.message = std::move(message);
  return s;
}

StatusDetails details_for(std::string_view group, std::string_view kind, std::string_view name) {
  StatusDetails d;
  d.group = std::string(group);
  d.kind = std::string(kind);
  d.name = std::string(name);
  return d;
}

}  // namespace

// ---- converting -------------------------------------------------------------------------------

absl::Status to_status(const ApiStatus& s) {
  std::string message = s.message;
  if (message.empty())
    message = s.reason.empty() ? fmt::format("the server answered with HTTP {}", s.code)
                               : fmt::format("{} (HTTP {})", s.reason, s.code);
  absl::StatusCode code = code_for(s);
  if (code == absl::StatusCode::kOk) code = absl::StatusCode::kUnknown;
  absl::Status st(code, message);
  st.SetPayload(absl_sv(kStatusPayloadUrl), absl::Cord(to_json(s)));
  return st;
}

std::optional<ApiStatus> api_status(const absl::Status& st) {
  if (st.ok()) return std::nullopt;
  auto payload = st.GetPayload(absl_sv(kStatusPayloadUrl));
  if (!payload) return std::nullopt;
  auto parsed = parse_status_json(std::string(*payload));
  if (!parsed.ok()) return std::nullopt;
  return *std::move(parsed);
}

ApiStatus api_status_of(const absl::Status& st) {
  if (st.ok()) {
    ApiStatus s;
    s.status = "Success";
    s.code = 200;
    return s;
  }
  if (auto s = api_status(st)) return *s;
  auto [code, why] = http_for(st.code());
  ApiStatus s = failure(code, why, std_str(st.message()));
  if (code == 500) {
    // As the API server's NewInternalError: the error is also the one cause.
    s.message = fmt::format("Internal error occurred: {}", std_str(st.message()));
    StatusDetails d;
    d.causes.push_back({"", std_str(st.message()), ""});
    s.details = std::move(d);
  }
  return s;
}

std::string to_json(const ApiStatus& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* key, std::string_view v) {
    w.Key(key);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  str("kind", "Status");
  str("apiVersion", "v1");
  w.Key("metadata");
  w.StartObject();
  if (!s.continue_token.empty()) str("continue", s.continue_token);
  w.EndObject();
  if (!s.status.empty()) str("status", s.status);
  if (!s.message.empty()) str("message", s.message);
  if (!s.reason.empty()) str("reason", s.reason);
  if (s.details) {
    const StatusDetails& d = *s.details;
    w.Key("details");
    w.StartObject();
    if (!d.name.empty()) str("name", d.name);
    if (!d.group.empty()) str("group", d.group);
    if (!d.kind.empty()) str("kind", d.kind);
    if (!d.uid.empty()) str("uid", d.uid);
    if (!d.causes.empty()) {
      w.Key("causes");
      w.StartArray();
      for (const StatusCause& c : d.causes) {
        w.StartObject();
        if (!c.type.empty()) str("reason", c.type);
        if (!c.message.empty()) str("message", c.message);
        if (!c.field.empty()) str("field", c.field);
        w.EndObject();
      }
      w.EndArray();
    }
    if (d.retry_after_seconds != 0) {
      w.Key("retryAfterSeconds");
      w.Int(d.retry_after_seconds);
    }
    w.EndObject();
  }
  if (s.code != 0) {
    w.Key("code");
    w.Int(s.code);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

absl::StatusOr<ApiStatus> parse_status_json(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return absl::InvalidArgumentError("not a JSON object");
  if (str_member(doc, "kind") != "Status") return absl::InvalidArgumentError("kind is not Status");
  std::string api_version = str_member(doc, "apiVersion");
  if (api_version != "v1" && api_version != "meta.k8s.io/v1")
    return absl::InvalidArgumentError(
        fmt::format("Status with unexpected apiVersion {}", quote(api_version)));
  ApiStatus s;
  s.status = str_member(doc, "status");
  s.message = str_member(doc, "message");
  s.reason = str_member(doc, "reason");
  if (auto it = doc.FindMember("code"); it != doc.MemberEnd() && it->value.IsInt())
    s.code = it->value.GetInt();
  if (auto it = doc.FindMember("metadata"); it != doc.MemberEnd() && it->value.IsObject())
    s.continue_token = str_member(it->value, "continue");
  if (auto it = doc.FindMember("details"); it != doc.MemberEnd() && it->value.IsObject()) {
    const rapidjson::Value& dv = it->value;
    StatusDetails d;
    d.name = str_member(dv, "name");
    d.group = str_member(dv, "group");
    d.kind = str_member(dv, "kind");
    d.uid = str_member(dv, "uid");
    if (auto r = dv.FindMember("retryAfterSeconds"); r != dv.MemberEnd() && r->value.IsInt())
      d.retry_after_seconds = r->value.GetInt();
    if (auto c = dv.FindMember("causes"); c != dv.MemberEnd() && c->value.IsArray()) {
      for (const auto& cv : c->value.GetArray()) {
        if (!cv.IsObject()) continue;
        d.causes.push_back(
            {str_member(cv, "reason"), str_member(cv, "message"), str_member(cv, "field")});
      }
    }
    s.details = std::move(d);
  }
  return s;
}

absl::Status status_from_response(int http_code, std::string_view method, std::string_view body,
                                  int32_t retry_after_seconds) {
  auto parsed = parse_status_json(body);
  // A Status body is used as sent (the API server's own reason and message), unless it is a
  // Success Status on an error code: then the code decides, as client-go does.
  if (parsed.ok() && parsed->status != "Success") {
    ApiStatus s = *std::move(parsed);
    if (s.code == 0) s.code = http_code;
    if (retry_after_seconds > 0) {
      if (!s.details) s.details = StatusDetails{};
      if (s.details->retry_after_seconds == 0) s.details->retry_after_seconds = retry_after_seconds;
    }
    return to_status(s);
  }
  // Not a Status: the generic error for the code, the body kept as an UnexpectedServerResponse
  // cause (trimmed: an HTML error page may be large).
  std::string server_message(body.substr(0, 1024));
  ApiStatus s;
  s.code = http_code;
  switch (http_code) {
    case 409:
      s.reason = method == "POST" ? reason::kAlreadyExists : reason::kConflict;
      s.message = "the server reported a conflict";
      break;
    case 404:
      s.reason = reason::kNotFound;
      s.message = "the server could not find the requested resource";
      break;
    case 400:
      s.reason = reason::kBadRequest;
      s.message = "the server rejected our request for an unknown reason";
      break;
    case 401:
      s.reason = reason::kUnauthorized;
      s.message = "the server has asked for the client to provide credentials";
      break;
    case 403:
      s.reason = reason::kForbidden;
      s.message = server_message;
      break;
    case 405:
      s.reason = reason::kMethodNotAllowed;
      s.message = "the server does not allow this method on the requested resource";
      break;
    case 406:
      s.reason = reason::kNotAcceptable;
      s.message = server_message.empty()
                      ? "the server was unable to respond with a content type that the client "
                        "supports"
                      : server_message;
      break;
    case 415:
      s.reason = reason::kUnsupportedMediaType;
      s.message = server_message;
      break;
    case 422:
      s.reason = reason::kInvalid;
      s.message = "the server rejected our request due to an error in our request";
      break;
    case 429:
      s.reason = reason::kTooManyRequests;
      s.message = "the server has received too many requests and has asked us to try again later";
      break;
    case 503:
      s.reason = reason::kServiceUnavailable;
      s.message = "the server is currently unable to handle the request";
      break;
    case 504:
      s.reason = reason::kTimeout;
      s.message =
          "the server was unable to return a response in the time allotted, but may still be "
          "processing the request";
      break;
    default:
      if (http_code >= 500) {
        s.reason = reason::kInternalError;
        s.message = fmt::format(
            "an error on the server ({}) has prevented the request from "
            "succeeding",
            quote(server_message));
      } else {
        s.message = fmt::format(
            "the server responded with the status code {} but did not return "
            "more information",
            http_code);
      }
  }
  StatusDetails d;
  d.retry_after_seconds = retry_after_seconds;
  if (!server_message.empty())
    d.causes.push_back({std::string(cause::kUnexpectedServerResponse), server_message, ""});
  s.details = std::move(d);
  return to_status(s);
}

// ---- constructors -----------------------------------------------------------------------------

absl::Status not_found(std::string_view group, std::string_view resource, std::string_view name) {
  ApiStatus s =
      failure(404, reason::kNotFound,
              fmt::format("{} {} not found", group_resource(group, resource), quote(name)));
  s.details = details_for(group, resource, name);
  return to_status(s);
}

absl::Status already_exists(std::string_view group, std::string_view resource,
                            std::string_view name) {
  ApiStatus s =
      failure(409, reason::kAlreadyExists,
              fmt::format("{} {} already exists", group_resource(group, resource), quote(name)));
  s.details = details_for(group, resource, name);
  return to_status(s);
}

absl::Status conflict(std::string_view group, std::string_view resource, std::string_view name,
                      std::string_view why) {
  ApiStatus s = failure(409, reason::kConflict,
                        fmt::format("Operation cannot be fulfilled on {} {}: {}",
                                    group_resource(group, resource), quote(name), why));
  s.details = details_for(group, resource, name);
  return to_status(s);
}

absl::Status resource_expired(std::string_view message) {
  return to_status(failure(410, reason::kExpired, std::string(message)));
}

absl::Status gone(std::string_view message) {
  return to_status(failure(410, reason::kGone, std::string(message)));
}

absl::Status invalid(std::string_view group, std::string_view kind, std::string_view name,
                     std::vector<StatusCause> causes) {
  std::string qualified_kind =
      group.empty() ? std::string(kind) : fmt::format("{}.{}", kind, group);
  std::string message;
  if (causes.empty()) {
    message = fmt::format("{} {} is invalid", qualified_kind, quote(name));
  } else {
    // field.ErrorList.ToAggregate(): a message repeated is listed once (the causes keep every
    // error); one error alone, several as "[a, b]".
    std::vector<std::string> messages;
    for (const StatusCause& c : causes) {
      std::string m = c.field.empty() ? c.message : fmt::format("{}: {}", c.field, c.message);
      if (std::find(messages.begin(), messages.end(), m) == messages.end())
        messages.push_back(std::move(m));
    }
    std::string list = fmt::format("{}", fmt::join(messages, ", "));
    if (messages.size() > 1) list = "[" + list + "]";
    message = fmt::format("{} {} is invalid: {}", qualified_kind, quote(name), list);
  }
  ApiStatus s = failure(422, reason::kInvalid, std::move(message));
  s.details = details_for(group, kind, name);
  s.details->causes = std::move(causes);
  return to_status(s);
}

absl::Status bad_request(std::string_view message) {
  return to_status(failure(400, reason::kBadRequest, std::string(message)));
}

absl::Status unauthorized(std::string_view message) {
  return to_status(failure(401, reason::kUnauthorized,
                           message.empty() ? "not authorized" : std::string(message)));
}

absl::Status forbidden(std::string_view group, std::string_view resource, std::string_view name,
                       std::string_view why) {
  std::string message;
  if (group.empty() && resource.empty())
    message = fmt::format("forbidden: {}", why);
  else if (name.empty())
    message = fmt::format("{} is forbidden: {}", group_resource(group, resource), why);
  else
    message =
        fmt::format("{} {} is forbidden: {}", group_resource(group, resource), quote(name), why);
  ApiStatus s = failure(403, reason::kForbidden, std::move(message));
  s.details = details_for(group, resource, name);
  return to_status(s);
}

absl::Status method_not_supported(std::string_view group, std::string_view resource,
                                  std::string_view action) {
  ApiStatus s = failure(405, reason::kMethodNotAllowed,
                        fmt::format("{} is not supported on resources of kind {}", action,
                                    quote(group_resource(group, resource))));
  s.details = details_for(group, resource, "");
  return to_status(s);
}

absl::Status too_many_requests(std::string_view message, int32_t retry_after_seconds) {
  ApiStatus s = failure(429, reason::kTooManyRequests, std::string(message));
  s.details = StatusDetails{};
  s.details->retry_after_seconds = retry_after_seconds;
  return to_status(s);
}

absl::Status server_timeout(std::string_view group, std::string_view resource,
                            std::string_view operation, int32_t retry_after_seconds) {
  ApiStatus s = failure(500, reason::kServerTimeout,
                        fmt::format("The {} operation against {} could not be completed at this "
                                    "time, please try again.",
                                    operation, group_resource(group, resource)));
  s.details = details_for(group, resource, operation);
  s.details->retry_after_seconds = retry_after_seconds;
  return to_status(s);
}

absl::Status timeout(std::string_view message, int32_t retry_after_seconds) {
  ApiStatus s = failure(504, reason::kTimeout, fmt::format("Timeout: {}", message));
  s.details = StatusDetails{};
  s.details->retry_after_seconds = retry_after_seconds;
  return to_status(s);
}

absl::Status internal_error(std::string_view message) {
  ApiStatus s =
      failure(500, reason::kInternalError, fmt::format("Internal error occurred: {}", message));
  s.details = StatusDetails{};
  s.details->causes.push_back({"", std::string(message), ""});
  return to_status(s);
}

absl::Status service_unavailable(std::string_view message) {
  return to_status(failure(503, reason::kServiceUnavailable, std::string(message)));
}

// ---- predicates -------------------------------------------------------------------------------

std::string reason_of(const absl::Status& st) {
  auto s = api_status(st);
  return s ? s->reason : std::string();
}

int32_t http_code_of(const absl::Status& st) {
  auto s = api_status(st);
  return s ? s->code : 0;
}

bool is_api_error(const absl::Status& st) {
  return api_status(st).has_value();
}

namespace {
// apimachinery's rule: the reason decides; the code only when the reason is not a known one.
bool matches(const absl::Status& st, std::string_view r, int32_t code) {
  auto s = api_status(st);
  if (!s) return false;
  if (s->reason == r) return true;
  return !known_reason(s->reason) && s->code == code;
}
bool has_reason(const absl::Status& st, std::string_view r) {
  auto s = api_status(st);
  return s && s->reason == r;
}
}  // namespace

bool is_not_found(const absl::Status& st) {
  return matches(st, reason::kNotFound, 404);
}
bool is_already_exists(const absl::Status& st) {
  return has_reason(st, reason::kAlreadyExists);
}
bool is_conflict(const absl::Status& st) {
  return matches(st, reason::kConflict, 409);
}
bool is_gone(const absl::Status& st) {
  return matches(st, reason::kGone, 410) || has_reason(st, reason::kExpired);
}
bool is_resource_expired(const absl::Status& st) {
  return has_reason(st, reason::kExpired);
}
bool is_invalid(const absl::Status& st) {
  return matches(st, reason::kInvalid, 422);
}
bool is_bad_request(const absl::Status& st) {
  return matches(st, reason::kBadRequest, 400);
}
bool is_forbidden(const absl::Status& st) {
  return matches(st, reason::kForbidden, 403);
}
bool is_unauthorized(const absl::Status& st) {
  return matches(st, reason::kUnauthorized, 401);
}
bool is_method_not_supported(const absl::Status& st) {
  return matches(st, reason::kMethodNotAllowed, 405);
}
bool is_too_many_requests(const absl::Status& st) {
  auto s = api_status(st);
  return s && (s->reason == reason::kTooManyRequests || s->code == 429);
}
bool is_server_timeout(const absl::Status& st) {
  return has_reason(st, reason::kServerTimeout);
}
bool is_timeout(const absl::Status& st) {
  return matches(st, reason::kTimeout, 504);
}
bool is_internal(const absl::Status& st) {
  return matches(st, reason::kInternalError, 500);
}
bool is_service_unavailable(const absl::Status& st) {
  return matches(st, reason::kServiceUnavailable, 503);
}

std::optional<absl::Duration> retry_after(const absl::Status& st) {
  auto s = api_status(st);
  if (!s || !s->details) return std::nullopt;
  if (s->reason == reason::kServerTimeout || s->details->retry_after_seconds > 0)
    return absl::Seconds(s->details->retry_after_seconds);
  return std::nullopt;
}

std::vector<StatusCause> causes_of(const absl::Status& st) {
  auto s = api_status(st);
  if (!s || !s->details) return {};
  return s->details->causes;
}

}  // namespace kop::client
