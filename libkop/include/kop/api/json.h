// kop/api/json.h: small, allocation-free helpers over RapidJSON values; libkop's one JSON
// helper set (kop::local uses it as `json::`).
//
// Every part of libkop reads Kubernetes objects through these: member lookup by a
// std::string_view key (no temporary std::string), typed reads that return std::nullopt on a
// missing or wrong-typed field (never an assertion), string construction into a given
// allocator, paths, deep copies, parsing with an error message and JSON semantic equality.
// All functions are pure and thread-compatible.
//
// Lifetime: a std::string_view returned here points into the value's storage and is valid as
// long as that value is neither destroyed nor modified.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace kop::api::json {

using Document = rapidjson::Document;
using Value = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// The string held by `v`; empty when `v` is not a string.
inline std::string_view as_string_view(const Value& v) {
  return v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
}

// A non-owning RapidJSON string reference to `s` (for lookups; no copy, no allocation).
inline rapidjson::GenericStringRef<char> ref(std::string_view s) {
  static constexpr char kEmpty[] = "";
  return rapidjson::GenericStringRef<char>(s.data() ? s.data() : kEmpty,
                                           static_cast<rapidjson::SizeType>(s.size()));
}

// A string value owning a copy of `s` in `alloc`.
inline Value make_string(std::string_view s, Allocator& alloc) {
  return Value(s.data() ? s.data() : "", static_cast<rapidjson::SizeType>(s.size()), alloc);
}

// The member `key` of `obj`, or nullptr when `obj` is not an object or has no such member.
inline const Value* find(const Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  Value k(ref(key));
  auto it = obj.FindMember(k);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}
inline Value* find(Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  Value k(ref(key));
  auto it = obj.FindMember(k);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}
inline const Value* find(const Value* obj, std::string_view key) {
  return obj ? find(*obj, key) : nullptr;
}

// Typed member reads: std::nullopt when absent or of another JSON type.
inline std::optional<std::string_view> get_string(const Value* obj, std::string_view key) {
  const Value* v = find(obj, key);
  if (!v || !v->IsString()) return std::nullopt;
  return as_string_view(*v);
}
inline std::optional<int64_t> get_int(const Value* obj, std::string_view key) {
  const Value* v = find(obj, key);
  if (!v || !v->IsInt64()) return std::nullopt;
  return v->GetInt64();
}
inline std::optional<bool> get_bool(const Value* obj, std::string_view key) {
  const Value* v = find(obj, key);
  if (!v || !v->IsBool()) return std::nullopt;
  return v->GetBool();
}
inline std::optional<double> get_double(const Value* obj, std::string_view key) {
  const Value* v = find(obj, key);
  if (!v || !v->IsNumber()) return std::nullopt;
  return v->GetDouble();
}
// The member as a string, or "" when absent/wrong-typed (for fields where "" means unset).
inline std::string_view string_or_empty(const Value* obj, std::string_view key) {
  const Value* v = find(obj, key);
  return v ? as_string_view(*v) : std::string_view();
}

// The member when it is an object / array, else nullptr.
inline const Value* find_object(const Value* obj, std::string_view key) {
  const Value* v = find(obj, key);
  return v && v->IsObject() ? v : nullptr;
}
inline const Value* find_array(const Value* obj, std::string_view key) {
  const Value* v = find(obj, key);
  return v && v->IsArray() ? v : nullptr;
}

// Sets (adds or replaces) member `key` of object `obj` to `v` (moved; `v` must have been built
// with `alloc` or hold only constant strings). Returns the stored value.
Value& set_member(Value& obj, std::string_view key, Value&& v, Allocator& alloc);

// The object member `key` of `obj`, created (or replaced when not an object) if needed.
Value& ensure_object(Value& obj, std::string_view key, Allocator& alloc);

// Removes member `key`; true when it was there.
bool remove_member(Value& obj, std::string_view key);

// Parses `text` into `doc` (using doc's allocator), like doc.Parse() but with every number read
// exactly: integers keep RapidJSON's types (Int, Uint, Int64, Uint64; beyond 64 bits a double),
// and every other number is the correctly rounded double (std::from_chars), so a value written
// by to_json() reads back bit for bit. RapidJSON 1.1's own paths are not exact: the default one
// may be one ulp off above 2^64, and kParseFullPrecisionFlag reads "0e300" as -2.2e-75.
// A number beyond the double range is an error (kParseErrorNumberTooBig), as in Go's
// encoding/json; one below it reads as a zero of its sign, as strconv.ParseFloat does.
// On error `doc` is left as it was.
rapidjson::ParseResult parse_into(rapidjson::Document& doc, std::string_view text);

// Parses `text` (as parse_into); on failure returns nullopt and, when `error` is given, a
// message naming the byte offset ("Invalid value. at offset N").
std::optional<Document> parse(std::string_view text, std::string* error = nullptr);

// Deep copies: into a new document, or into `alloc`.
Document clone(const Value& v);
inline Value copy(const Value& v, Allocator& alloc) {
  return Value(v, alloc);
}

// Walks a path of member names ("metadata", "name"); nullptr when any step is missing.
const Value* path(const Value& obj, std::initializer_list<std::string_view> keys);
// The string at that path, or "" when missing or not a string.
std::string_view path_string(const Value& obj, std::initializer_list<std::string_view> keys);

// Sets obj[key] to a copy of `value` (replacing), making obj an object if it is not one.
void set_string(Value& obj, std::string_view key, std::string_view value, Allocator& alloc);

// JSON semantic equality: objects regardless of member order, numbers by value (1 == 1.0, as
// Go's DeepEqual on decoded unstructured content after normalising). Exact: an integer equals a
// double only when the double is that very integer (2^53 + 1 != 2^53, int64 -1 != uint64 max).
bool equal(const Value& a, const Value& b);

// Type names as Kubernetes validation messages use them ("string", "integer", "object", ...);
// a double with no fraction is an "integer".
std::string_view type_name(const Value& v);

// Compact JSON text of any value. `size_hint` (bytes) pre-sizes the output.
std::string to_json(const Value& v, size_t size_hint = 0);
// Indented (2 spaces) JSON text of any value.
std::string to_json_pretty(const Value& v);

}  // namespace kop::api::json
