// JSON documents as kop::local keeps them: RapidJSON DOMs, shared immutably once stored.
//
// kop::local stores each object as one rapidjson::Document and hands out shared pointers to
// const documents, so a list, a watch fan-out or a get never copies an object; a write builds a
// new document and swaps the pointer. The helpers here are what the store, the patchers and the
// validators share: parsing with a Kubernetes-style error, serialising, deep copy, path access.
// All functions are pure and thread-compatible.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kop/api/object.h"

namespace kop::local {

using JsonDoc = rapidjson::Document;
using JsonValue = rapidjson::Value;
using JsonAlloc = rapidjson::Document::AllocatorType;
// Stored objects are kop::api::Object (a RapidJSON document), shared immutably.
using ObjectPtr = kop::api::ObjectPtr;

namespace json {

// Parses `text`; on failure returns nullopt and, when `error` is given, a message naming the
// byte offset (as encoding/json would: "invalid character ... at offset N").
std::optional<JsonDoc> parse(std::string_view text, std::string* error = nullptr);

std::string dump(const JsonValue& v);
std::string dump_pretty(const JsonValue& v);

// Wraps a document (root must be an object, else it becomes {}) for sharing, compacted into an
// Object sized for it.
ObjectPtr share(JsonDoc&& d);
inline const JsonValue& root(const ObjectPtr& p) {
  return p->doc();
}

// Deep copies.
JsonDoc clone(const JsonValue& v);
inline JsonValue copy(const JsonValue& v, JsonAlloc& a) {
  return JsonValue(v, a);
}

// Member access that tolerates non-objects and missing members.
const JsonValue* get(const JsonValue& obj, std::string_view key);
JsonValue* get(JsonValue& obj, std::string_view key);
// Walks a path of member names ("metadata", "name"); nullptr when any step is missing.
const JsonValue* path(const JsonValue& obj, std::initializer_list<std::string_view> keys);
std::string_view get_string(const JsonValue& obj, std::string_view key);
std::string_view path_string(const JsonValue& obj, std::initializer_list<std::string_view> keys);

// Sets obj[key] = value (replacing), creating obj as an object if it is not one.
void set(JsonValue& obj, std::string_view key, JsonValue value, JsonAlloc& a);
void set_string(JsonValue& obj, std::string_view key, std::string_view value, JsonAlloc& a);
// Returns obj[key] as an object, creating it (or replacing a non-object) when needed.
JsonValue& ensure_object(JsonValue& obj, std::string_view key, JsonAlloc& a);
bool erase(JsonValue& obj, std::string_view key);

inline JsonValue str(std::string_view s, JsonAlloc& a) {
  return JsonValue(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}
inline rapidjson::GenericStringRef<char> ref(std::string_view s) {
  return rapidjson::StringRef(s.data(), s.size());
}
inline std::string_view view(const JsonValue& v) {
  return v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
}

// Deep equality where 1 == 1.0 (JSON numbers compare by value, as Go's DeepEqual on
// unstructured content would after decoding).
bool equal(const JsonValue& a, const JsonValue& b);

// Type names as Kubernetes validation messages use them ("string", "integer", "object", ...).
std::string_view type_name(const JsonValue& v);

}  // namespace json
}  // namespace kop::local
