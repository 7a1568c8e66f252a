// JSON documents as kop::local keeps them: RapidJSON DOMs, shared immutably once stored.
//
// kop::local stores each object as one rapidjson::Document and hands out shared pointers to
// const documents, so a list, a watch fan-out or a get never copies an object; a write builds a
// new document and swaps the pointer. The helpers here are what the store, the patchers and the
// validators share: parsing with a Kubernetes-style error, serialising, deep copy, path access.
// Member access, strings and serialising are kop/api/json.h's (these names forward to it); what
// api lacks (paths, clone, share, equal, type_name) is here until it moves there (docs/local.md).
// All functions are pure and thread-compatible.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kop/api/json.h"
#include "kop/api/object.h"

namespace kop::local {

using JsonDoc = rapidjson::Document;
using JsonValue = rapidjson::Value;
using JsonAlloc = rapidjson::Document::AllocatorType;
// Stored objects are kop::api::Object (a RapidJSON document), shared immutably.
using ObjectPtr = kop::api::ObjectPtr;

namespace json {

// kop/api/json.h's helpers are kop::local's too: find, string_or_empty, as_string_view,
// make_string, ref, set_member, ensure_object, remove_member, to_json, to_json_pretty.
using namespace kop::api::json;  // NOLINT(google-build-using-namespace): one helper set

// What kop/api/json.h does not have (yet):

// Parses `text`; on failure returns nullopt and, when `error` is given, a message naming the
// byte offset (as encoding/json would: "invalid character ... at offset N").
std::optional<JsonDoc> parse(std::string_view text, std::string* error = nullptr);

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

// Walks a path of member names ("metadata", "name"); nullptr when any step is missing.
const JsonValue* path(const JsonValue& obj, std::initializer_list<std::string_view> keys);
std::string_view path_string(const JsonValue& obj, std::initializer_list<std::string_view> keys);

// Sets obj[key] to a copy of `value` (replacing), creating obj as an object if it is not one.
void set_string(JsonValue& obj, std::string_view key, std::string_view value, JsonAlloc& a);

// Deep equality where 1 == 1.0 (JSON numbers compare by value, as Go's DeepEqual on
// unstructured content would after decoding).
bool equal(const JsonValue& a, const JsonValue& b);

// Type names as Kubernetes validation messages use them ("string", "integer", "object", ...).
std::string_view type_name(const JsonValue& v);

}  // namespace json
}  // namespace kop::local
