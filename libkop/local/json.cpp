#include "kop/local/json.h"

#include <rapidjson/error/en.h>

#include <cmath>

#include "kop/api/json.h"

namespace kop::local::json {

std::optional<JsonDoc> parse(std::string_view text, std::string* error) {
  JsonDoc d;
  if (rapidjson::ParseResult parsed = api::json::parse_into(d, text); parsed.IsError()) {
    if (error) {
      *error = std::string(rapidjson::GetParseError_En(parsed.Code())) + " at offset " +
               std::to_string(parsed.Offset());
    }
    return std::nullopt;
  }
  return d;
}

ObjectPtr share(JsonDoc&& d) {
  if (!d.IsObject()) d.SetObject();
  // Copied rather than adopted: a rapidjson::Document built by hand allocates 64 KiB chunks,
  // while Object::from_value sizes the pool to the object. Stored objects live long and are many.
  return kop::api::share(kop::api::Object::from_value(d).value());
}

JsonDoc clone(const JsonValue& v) {
  JsonDoc d;
  d.CopyFrom(v, d.GetAllocator());
  return d;
}

const JsonValue* path(const JsonValue& obj, std::initializer_list<std::string_view> keys) {
  const JsonValue* cur = &obj;
  for (auto k : keys) {
    cur = find(*cur, k);
    if (!cur) return nullptr;
  }
  return cur;
}

std::string_view path_string(const JsonValue& obj, std::initializer_list<std::string_view> keys) {
  const JsonValue* v = path(obj, keys);
  return v ? as_string_view(*v) : std::string_view();
}

void set_string(JsonValue& obj, std::string_view key, std::string_view value, JsonAlloc& a) {
  set_member(obj, key, make_string(value, a), a);
}

bool equal(const JsonValue& a, const JsonValue& b) {
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return a.GetDouble() == b.GetDouble();
  }
  if (a.GetType() != b.GetType()) {
    // true/false are distinct rapidjson types.
    return false;
  }
  switch (a.GetType()) {
    case rapidjson::kNullType:
    case rapidjson::kTrueType:
    case rapidjson::kFalseType:
      return true;
    case rapidjson::kStringType:
      return as_string_view(a) == as_string_view(b);
    case rapidjson::kArrayType: {
      if (a.Size() != b.Size()) return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        if (!equal(a[i], b[i])) return false;
      }
      return true;
    }
    case rapidjson::kObjectType: {
      if (a.MemberCount() != b.MemberCount()) return false;
      for (auto& m : a.GetObject()) {
        auto it = b.FindMember(m.name);
        if (it == b.MemberEnd() || !equal(m.value, it->value)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

std::string_view type_name(const JsonValue& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "boolean";
  if (v.IsString()) return "string";
  if (v.IsArray()) return "array";
  if (v.IsObject()) return "object";
  if (v.IsInt64() || v.IsUint64()) return "integer";
  if (v.IsDouble()) {
    double d = v.GetDouble();
    return (std::floor(d) == d && std::isfinite(d)) ? "integer" : "number";
  }
  return "unknown";
}

}  // namespace kop::local::json
