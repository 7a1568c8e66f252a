#include "kop/api/typed.h"

#include <fmt/format.h>

#include <string>

namespace kop::api {

std::string IntOrString::to_string() const {
  switch (type) {
    case Type::kInt:
      return std::to_string(int_value);
    case Type::kString:
      return std::string(str_value);
    case Type::kNone:
      break;
  }
  return {};
}

IntOrString int_or_string(const rapidjson::Value* v) {
  IntOrString r;
  if (!v) return r;
  if (v->IsInt64()) {
    r.type = IntOrString::Type::kInt;
    r.int_value = v->GetInt64();
  } else if (v->IsString()) {
    r.type = IntOrString::Type::kString;
    r.str_value = json::as_string_view(*v);
  }
  return r;
}

namespace typed {

Value& ensure_array(Value& obj, std::string_view key, Allocator& alloc) {
  Value* v = json::find(obj, key);
  if (v && v->IsArray()) return *v;
  return json::set_member(obj, key, Value(rapidjson::kArrayType), alloc);
}

Value& append(Value& obj, std::string_view key, Value&& v, Allocator& alloc) {
  Value& arr = ensure_array(obj, key, alloc);
  arr.PushBack(v, alloc);
  return arr[arr.Size() - 1];
}

namespace {

absl::Status parse_doc(std::string_view key, std::string_view json_text, rapidjson::Document& doc) {
  rapidjson::ParseResult ok = json::parse_into(doc, json_text);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      fmt::format("field {}: not JSON (error at byte {})", key, ok.Offset()));
}

}  // namespace

absl::Status set_json(Value& obj, std::string_view key, std::string_view json_text,
                      Allocator& alloc) {
  rapidjson::Document doc;
  if (auto s = parse_doc(key, json_text, doc); !s.ok()) return s;
  json::set_member(obj, key, Value(doc, alloc), alloc);  // a deep copy into obj's pool
  return absl::OkStatus();
}

absl::Status append_json(Value& obj, std::string_view key, std::string_view json_text,
                         Allocator& alloc) {
  rapidjson::Document doc;
  if (auto s = parse_doc(key, json_text, doc); !s.ok()) return s;
  append(obj, key, Value(doc, alloc), alloc);
  return absl::OkStatus();
}

}  // namespace typed
}  // namespace kop::api
