#include "kop/local/api_status.h"

#include <cstdio>

namespace kop::local {

JsonDoc ApiStatus::to_json() const {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", "Status", a);
  d.AddMember("apiVersion", "v1", a);
  JsonValue meta(rapidjson::kObjectType);
  if (!continue_token.empty()) meta.AddMember("continue", json::str(continue_token, a), a);
  d.AddMember("metadata", meta, a);
  d.AddMember("status", code >= 200 && code < 300 ? "Success" : "Failure", a);
  if (!message.empty()) d.AddMember("message", json::str(message, a), a);
  if (!reason.empty()) d.AddMember("reason", json::str(reason, a), a);
  if (has_details) {
    JsonValue det(rapidjson::kObjectType);  // {} when empty, as the API server writes it
    if (!name.empty()) det.AddMember("name", json::str(name, a), a);
    if (!group.empty()) det.AddMember("group", json::str(group, a), a);
    if (!kind.empty()) det.AddMember("kind", json::str(kind, a), a);
    if (!uid.empty()) det.AddMember("uid", json::str(uid, a), a);
    if (!causes.empty()) {
      JsonValue arr(rapidjson::kArrayType);
      for (auto& c : causes) {
        JsonValue o(rapidjson::kObjectType);
        if (!c.type.empty()) o.AddMember("reason", json::str(c.type, a), a);
        if (!c.message.empty()) o.AddMember("message", json::str(c.message, a), a);
        if (!c.field.empty()) o.AddMember("field", json::str(c.field, a), a);
        arr.PushBack(o, a);
      }
      det.AddMember("causes", arr, a);
    }
    if (retry_after_seconds > 0) det.AddMember("retryAfterSeconds", retry_after_seconds, a);
    d.AddMember("details", det, a);
  }
  if (code < 200 || code >= 300) d.AddMember("code", code, a);  // Success Status has no code
  return d;
}

std::string ApiStatus::to_json_string() const {
  return json::dump(to_json());
}

ApiStatus ApiStatus::from_json(const JsonValue& v) {
  ApiStatus s;
  if (auto* c = json::get(v, "code"); c && c->IsInt()) s.code = c->GetInt();
  s.reason = std::string(json::get_string(v, "reason"));
  s.message = std::string(json::get_string(v, "message"));
  s.continue_token = std::string(json::path_string(v, {"metadata", "continue"}));
  if (auto* d = json::get(v, "details"); d && d->IsObject()) {
    s.has_details = true;
    s.name = std::string(json::get_string(*d, "name"));
    s.group = std::string(json::get_string(*d, "group"));
    s.kind = std::string(json::get_string(*d, "kind"));
    s.uid = std::string(json::get_string(*d, "uid"));
    if (auto* r = json::get(*d, "retryAfterSeconds"); r && r->IsInt())
      s.retry_after_seconds = r->GetInt();
    if (auto* cs = json::get(*d, "causes"); cs && cs->IsArray()) {
      for (auto& c : cs->GetArray()) {
        s.causes.push_back({std::string(json::get_string(c, "reason")),
                            std::string(json::get_string(c, "message")),
                            std::string(json::get_string(c, "field"))});
      }
    }
  }
  return s;
}

std::string_view FieldError::reason(Type t) {
  switch (t) {
    case Type::NotFound:
      return "FieldValueNotFound";
    case Type::Required:
      return "FieldValueRequired";
    case Type::Duplicate:
      return "FieldValueDuplicate";
    case Type::Invalid:
      return "FieldValueInvalid";
    case Type::NotSupported:
      return "FieldValueNotSupported";
    case Type::Forbidden:
      return "FieldValueForbidden";
    case Type::TooLong:
      return "FieldValueTooLong";
    case Type::TooMany:
      return "FieldValueTooMany";
    case Type::Internal:
      return "InternalError";
  }
  return "FieldValueInvalid";
}

static std::string_view type_string(FieldError::Type t) {
  using T = FieldError::Type;
  switch (t) {
    case T::NotFound:
      return "Not found";
    case T::Required:
      return "Required value";
    case T::Duplicate:
      return "Duplicate value";
    case T::Invalid:
      return "Invalid value";
    case T::NotSupported:
      return "Unsupported value";
    case T::Forbidden:
      return "Forbidden";
    case T::TooLong:
      return "Too long";
    case T::TooMany:
      return "Too many";
    case T::Internal:
      return "Internal error";
  }
  return "Invalid value";
}

std::string FieldError::body() const {
  std::string s(type_string(type));
  using T = FieldError::Type;
  if (!(type == T::Required || type == T::Forbidden || type == T::TooLong || type == T::Internal)) {
    s += ": ";
    s += bad_value ? *bad_value : "null";
  }
  if (!detail.empty()) {
    s += ": ";
    s += detail;
  }
  return s;
}

std::string FieldError::error() const {
  return field + ": " + body();
}

namespace field {

std::string quote(std::string_view in) {
  std::string out = "\"";
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // printable ASCII and UTF-8 pass through
        }
    }
  }
  out += '"';
  return out;
}

FieldError required(std::string f, std::string detail) {
  return {FieldError::Type::Required, std::move(f), std::nullopt, std::move(detail)};
}
FieldError forbidden(std::string f, std::string detail) {
  return {FieldError::Type::Forbidden, std::move(f), std::nullopt, std::move(detail)};
}
FieldError invalid(std::string f, std::string_view bad, std::string detail) {
  return {FieldError::Type::Invalid, std::move(f), quote(bad), std::move(detail)};
}
FieldError invalid_raw(std::string f, std::string bad_repr, std::string detail) {
  return {FieldError::Type::Invalid, std::move(f), std::move(bad_repr), std::move(detail)};
}
FieldError invalid_int(std::string f, int64_t bad, std::string detail) {
  return {FieldError::Type::Invalid, std::move(f), std::to_string(bad), std::move(detail)};
}
FieldError not_supported(std::string f, std::string_view bad,
                         const std::vector<std::string>& valid) {
  std::string detail;
  if (!valid.empty()) {
    detail = "supported values: ";
    for (size_t i = 0; i < valid.size(); ++i) {
      if (i) detail += ", ";
      detail += quote(valid[i]);
    }
  }
  return {FieldError::Type::NotSupported, std::move(f), quote(bad), std::move(detail)};
}
FieldError duplicate(std::string f, std::string bad_repr) {
  return {FieldError::Type::Duplicate, std::move(f), std::move(bad_repr), {}};
}
FieldError not_found(std::string f, std::string bad_repr) {
  return {FieldError::Type::NotFound, std::move(f), std::move(bad_repr), {}};
}
FieldError too_long(std::string f, int max_len) {
  return {FieldError::Type::TooLong, std::move(f), std::nullopt,
          "must have at most " + std::to_string(max_len) + " bytes"};
}
FieldError too_many(std::string f, int64_t actual, int64_t max) {
  return {FieldError::Type::TooMany, std::move(f), std::to_string(actual),
          "must have at most " + std::to_string(max) + " items"};
}

std::string repr(const JsonValue& v) {
  if (v.IsString()) return quote(json::view(v));
  if (v.IsNull()) return "null";
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  return json::dump(v);
}

}  // namespace field

std::string group_resource_string(std::string_view resource, std::string_view group) {
  std::string s(resource);
  if (!group.empty()) {
    s += '.';
    s += group;
  }
  return s;
}

namespace errors {

static ApiStatus with_details(int code, std::string reason, std::string message,
                              std::string_view group, std::string_view kind,
                              std::string_view name) {
  ApiStatus s;
  s.code = code;
  s.reason = std::move(reason);
  s.message = std::move(message);
  s.has_details = true;
  s.group = std::string(group);
  s.kind = std::string(kind);
  s.name = std::string(name);
  return s;
}

static ApiStatus plain(int code, std::string reason, std::string message) {
  ApiStatus s;
  s.code = code;
  s.reason = std::move(reason);
  s.message = std::move(message);
  return s;
}

ApiStatus not_found(std::string_view group, std::string_view resource, std::string_view name) {
  return with_details(
      404, "NotFound",
      group_resource_string(resource, group) + " " + field::quote(name) + " not found", group,
      resource, name);
}

ApiStatus already_exists(std::string_view group, std::string_view resource, std::string_view name) {
  return with_details(
      409, "AlreadyExists",
      group_resource_string(resource, group) + " " + field::quote(name) + " already exists", group,
      resource, name);
}

ApiStatus conflict(std::string_view group, std::string_view resource, std::string_view name,
                   std::string_view why) {
  return with_details(409, "Conflict",
                      "Operation cannot be fulfilled on " + group_resource_string(resource, group) +
                          " " + field::quote(name) + ": " + std::string(why),
                      group, resource, name);
}

ApiStatus conflict_modified(std::string_view group, std::string_view resource,
                            std::string_view name) {
  return conflict(
      group, resource, name,
      "the object has been modified; please apply your changes to the latest version and "
      "try again");
}

ApiStatus forbidden(std::string_view group, std::string_view resource, std::string_view name,
                    std::string_view why) {
  std::string msg;
  if (resource.empty() && group.empty()) {
    msg = "forbidden: " + std::string(why);
  } else if (name.empty()) {
    msg = group_resource_string(resource, group) + " is forbidden: " + std::string(why);
  } else {
    msg = group_resource_string(resource, group) + " " + field::quote(name) +
          " is forbidden: " + std::string(why);
  }
  return with_details(403, "Forbidden", std::move(msg), group, resource, name);
}

ApiStatus invalid(std::string_view group, std::string_view kind, std::string_view name,
                  const FieldErrors& errs) {
  // utilerrors.NewAggregate: duplicates dropped, one message bare, several in [a, b].
  std::vector<std::string> seen;
  for (auto& e : errs) {
    std::string m = e.error();
    bool dup = false;
    for (auto& s : seen) dup = dup || s == m;
    if (!dup) seen.push_back(std::move(m));
  }
  std::string agg;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (i) agg += ", ";
    agg += seen[i];
  }
  if (seen.size() > 1) agg = "[" + agg + "]";
  std::string gk(kind);
  if (!group.empty()) gk += "." + std::string(group);
  ApiStatus s = with_details(422, "Invalid", gk + " " + field::quote(name) + " is invalid: " + agg,
                             group, kind, name);
  for (auto& e : errs) {
    s.causes.push_back({std::string(FieldError::reason(e.type)), e.body(), e.field});
  }
  return s;
}

ApiStatus expired(std::string message) {
  return plain(410, "Expired", std::move(message));
}
ApiStatus gone(std::string message) {
  return plain(410, "Gone", std::move(message));
}
ApiStatus bad_request(std::string message) {
  return plain(400, "BadRequest", std::move(message));
}
ApiStatus unauthorized(std::string message) {
  return plain(401, "Unauthorized", message.empty() ? "Unauthorized" : std::move(message));
}
ApiStatus method_not_supported(std::string_view group, std::string_view resource,
                               std::string_view action) {
  ApiStatus s = with_details(405, "MethodNotAllowed",
                             std::string(action) + " is not supported on resources of kind " +
                                 field::quote(group_resource_string(resource, group)),
                             group, resource, "");
  return s;
}
ApiStatus too_many_requests(std::string message, int retry_after_seconds) {
  ApiStatus s = plain(429, "TooManyRequests", std::move(message));
  s.has_details = true;
  s.retry_after_seconds = retry_after_seconds;
  return s;
}
ApiStatus internal(std::string message) {
  ApiStatus s = plain(500, "InternalError", "Internal error occurred: " + message);
  s.has_details = true;
  s.causes.push_back({"", message, ""});
  return s;
}
ApiStatus timeout(std::string message, int retry_after_seconds) {
  ApiStatus s = plain(504, "Timeout", "Timeout: " + message);
  s.has_details = true;
  s.retry_after_seconds = retry_after_seconds;
  return s;
}
ApiStatus too_large_resource_version(uint64_t requested, uint64_t current) {
  ApiStatus s = timeout("Too large resource version: " + std::to_string(requested) +
                            ", current: " + std::to_string(current),
                        1);
  s.causes.push_back({"ResourceVersionTooLarge", "Too large resource version", ""});
  return s;
}
ApiStatus unsupported_media_type(std::string content_type) {
  return plain(415, "UnsupportedMediaType",
               "the body of the request was in an unknown format - accepted media types include: " +
                   content_type);
}
ApiStatus not_acceptable(std::string message) {
  return plain(406, "NotAcceptable", std::move(message));
}
ApiStatus service_unavailable(std::string message) {
  return plain(503, "ServiceUnavailable", std::move(message));
}

}  // namespace errors
}  // namespace kop::local
