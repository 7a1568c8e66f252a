#include "errors.h"

namespace kop::local {

namespace {

// field.ErrorType: the cause reason (kop/client/errors.h's cause::) and the text ErrorBody starts
// with, in the order of FieldError::Type.
struct TypeText {
  std::string_view reason;
  std::string_view text;
  bool shows_value;  // ErrorBody omits the bad value for Required, Forbidden, TooLong, Internal
};
constexpr TypeText kTypes[] = {
    {client::cause::kFieldValueNotFound, "Not found", true},
    {client::cause::kFieldValueRequired, "Required value", false},
    {client::cause::kFieldValueDuplicate, "Duplicate value", true},
    {client::cause::kFieldValueInvalid, "Invalid value", true},
    {client::cause::kFieldValueNotSupported, "Unsupported value", true},
    {client::cause::kFieldValueForbidden, "Forbidden", false},
    {client::cause::kFieldValueTooLong, "Too long", false},
    {client::cause::kFieldValueTooMany, "Too many", true},
    {client::cause::kInternal, "Internal error", false},
};
static_assert(std::size(kTypes) == static_cast<size_t>(FieldError::Type::Internal) + 1);

const TypeText& type_text(FieldError::Type t) {
  return kTypes[static_cast<size_t>(t)];
}

}  // namespace

std::string_view FieldError::reason(Type t) {
  return type_text(t).reason;
}

std::string FieldError::body() const {
  const TypeText& tt = type_text(type);
  std::string s(tt.text);
  if (tt.shows_value) {
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
  if (v.IsString()) return quote(json::as_string_view(v));
  if (v.IsNull()) return "null";
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  return json::to_json(v);
}

}  // namespace field

namespace errors {

absl::Status invalid(std::string_view group, std::string_view kind, std::string_view name,
                     const FieldErrors& errs) {
  std::vector<client::StatusCause> causes;
  causes.reserve(errs.size());
  for (const auto& e : errs) {
    causes.push_back({std::string(FieldError::reason(e.type)), e.body(), e.field});
  }
  return client::invalid(group, kind, name, std::move(causes));
}

absl::Status conflict_modified(std::string_view group, std::string_view resource,
                               std::string_view name) {
  return client::conflict(
      group, resource, name,
      "the object has been modified; please apply your changes to the latest version and "
      "try again");
}

absl::Status too_large_resource_version(uint64_t requested, uint64_t current) {
  client::ApiStatus s;
  s.code = 504;
  s.reason = std::string(client::reason::kTimeout);
  s.message = "Timeout: Too large resource version: " + std::to_string(requested) +
              ", current: " + std::to_string(current);
  s.details.emplace();
  s.details->retry_after_seconds = 1;
  s.details->causes.push_back(
      {std::string(client::cause::kResourceVersionTooLarge), "Too large resource version", ""});
  return client::to_status(s);
}

absl::Status resource_not_served() {
  client::ApiStatus s;
  s.code = 404;
  s.reason = std::string(client::reason::kNotFound);
  s.message = "the server could not find the requested resource";
  s.details.emplace();
  return client::to_status(s);
}

absl::Status no_kind_match(std::string_view kind, std::string_view api_version) {
  client::ApiStatus s;
  s.code = 404;
  s.reason = std::string(client::reason::kNotFound);
  s.message =
      "no matches for kind " + field::quote(kind) + " in version " + field::quote(api_version);
  return client::to_status(s);
}

absl::Status unsupported_media_type(std::string_view accepted) {
  client::ApiStatus s;
  s.code = 415;
  s.reason = std::string(client::reason::kUnsupportedMediaType);
  s.message = "the body of the request was in an unknown format - accepted media types include: " +
              std::string(accepted);
  return client::to_status(s);
}

absl::Status not_acceptable(std::string_view message) {
  client::ApiStatus s;
  s.code = 406;
  s.reason = std::string(client::reason::kNotAcceptable);
  s.message = std::string(message);
  return client::to_status(s);
}

absl::Status patch_failed() {
  client::ApiStatus s;
  s.code = 422;
  s.reason = std::string(client::reason::kInvalid);
  s.message = "the server rejected our request due to an error in our request";
  s.details.emplace();
  return client::to_status(s);
}

}  // namespace errors
}  // namespace kop::local
