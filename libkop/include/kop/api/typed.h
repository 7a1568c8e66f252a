// kop/api/typed.h: the pieces every header written by kop-gen uses (docs/typed-crds.md).
//
// kop-gen turns a CRD's OpenAPI v3 schema into typed views (read-only, zero-copy, over an
// Object's JSON) and builders (setters that write into an Object). The generated classes are
// thin: they name fields and types; this header holds what they share — IntOrString, the list
// and map views over JSON arrays and objects, the element readers, and the writes.
//
// Reading never fails: an absent or wrong-typed value reads as absent (std::nullopt, an empty
// list, a view whose present() is false) or as the schema's default. Elements of lists and maps
// of scalars read as "" / 0 / false when they have another JSON type.
//
// Lifetime: views and the std::string_view they return point into the Object's document; keep
// the Object alive and unmodified while using them. A builder writes through a pointer into the
// document: a builder of an array element is invalidated by the next element added to that
// array (the array may move), and any builder by writes through Object's own setters.
//
// Threads: views of a const Object may be used from any number of threads; builders need the
// Object to themselves.
#pragma once

#include <absl/status/status.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "kop/api/json.h"
#include "kop/api/object.h"
#include "kop/api/time.h"  // date-time fields

namespace kop::api {

// intstr.IntOrString (Service targetPort, x-kubernetes-int-or-string fields).
struct IntOrString {
  enum class Type { kNone, kInt, kString };
  Type type = Type::kNone;
  int64_t int_value = 0;
  std::string_view str_value;

  static constexpr IntOrString of_int(int64_t v) { return {Type::kInt, v, {}}; }
  static constexpr IntOrString of_string(std::string_view v) { return {Type::kString, 0, v}; }

  bool empty() const { return type == Type::kNone; }
  bool is_int() const { return type == Type::kInt; }
  bool is_string() const { return type == Type::kString; }
  // "8080" or "http"; "" when empty.
  std::string to_string() const;
  bool operator==(const IntOrString&) const = default;
};

// Reads an int-or-string value; kNone when absent or of another type.
IntOrString int_or_string(const rapidjson::Value* v);

namespace typed {

using Value = rapidjson::Value;
using Allocator = json::Allocator;

// ---- element readers (a list's or a map's values; wrong types read as "" / 0 / false) ----
inline std::string_view read_string(const Value* v) {
  return v ? json::as_string_view(*v) : std::string_view();
}
inline int64_t read_int(const Value* v) {
  return v && v->IsInt64() ? v->GetInt64() : 0;
}
inline double read_number(const Value* v) {
  return v && v->IsNumber() ? v->GetDouble() : 0.0;
}
inline bool read_bool(const Value* v) {
  return v && v->IsBool() && v->GetBool();
}
inline IntOrString read_int_or_string(const Value* v) {
  return int_or_string(v);
}
inline const Value* read_raw(const Value* v) {
  return v;
}

// An input iterator over positions in a JSON array or object, read on access with `Get`.
template <class Pos, class T, T (*Get)(const Pos&)>
class ReadIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = void;
  using reference = T;
  ReadIterator() = default;
  explicit ReadIterator(Pos at) : at_(at) {}
  T operator*() const { return Get(at_); }
  ReadIterator& operator++() {
    ++at_;
    return *this;
  }
  ReadIterator operator++(int) {
    ReadIterator old = *this;
    ++at_;
    return old;
  }
  bool operator==(const ReadIterator&) const = default;

 private:
  Pos at_{};
};

// A JSON array read element by element with `Read` (no copy; elements are read on access).
template <class T, T (*Read)(const Value*)>
class ListView {
  static T read_at(const Value* const& at) { return Read(at); }

 public:
  using iterator = ReadIterator<const Value*, T, &ListView::read_at>;

  explicit ListView(const Value* v) : v_(v && v->IsArray() ? v : nullptr) {}
  static ListView from(const Value* v) { return ListView(v); }

  // True when the field is there and is an array (possibly empty).
  bool present() const { return v_ != nullptr; }
  size_t size() const { return v_ ? v_->Size() : 0; }
  bool empty() const { return size() == 0; }
  // Requires i < size().
  T operator[](size_t i) const { return Read(&(*v_)[static_cast<rapidjson::SizeType>(i)]); }
  iterator begin() const { return iterator(v_ ? v_->Begin() : nullptr); }
  iterator end() const { return iterator(v_ ? v_->End() : nullptr); }
  const Value* raw() const { return v_; }

 private:
  const Value* v_;
};

// A JSON object used as a map (additionalProperties): string keys, values read with `Read`.
template <class T, T (*Read)(const Value*)>
class MapView {
  using Entry = std::pair<std::string_view, T>;
  static Entry read_at(const Value::ConstMemberIterator& at) {
    return {json::as_string_view(at->name), Read(&at->value)};
  }

 public:
  using iterator = ReadIterator<Value::ConstMemberIterator, Entry, &MapView::read_at>;

  explicit MapView(const Value* v) : v_(v && v->IsObject() ? v : nullptr) {}
  static MapView from(const Value* v) { return MapView(v); }

  bool present() const { return v_ != nullptr; }
  size_t size() const { return v_ ? v_->MemberCount() : 0; }
  bool empty() const { return size() == 0; }
  bool contains(std::string_view key) const { return json::find(v_, key) != nullptr; }
  std::optional<T> find(std::string_view key) const {
    const Value* v = json::find(v_, key);
    if (!v) return std::nullopt;
    return Read(v);
  }
  iterator begin() const { return v_ ? iterator(v_->MemberBegin()) : iterator(); }
  iterator end() const { return v_ ? iterator(v_->MemberEnd()) : iterator(); }
  const Value* raw() const { return v_; }

 private:
  const Value* v_;
};

// ---- reads of one member (std::nullopt when absent, null or of another type) ----
inline bool has(const Value* obj, std::string_view key) {
  return json::find(obj, key) != nullptr;
}
inline bool is_null(const Value* obj, std::string_view key) {
  const Value* v = json::find(obj, key);
  return v && v->IsNull();
}
// An object member, or nullptr (an absent object reads as a view with present() false).
inline const Value* object_member(const Value* obj, std::string_view key) {
  return json::find_object(obj, key);
}
inline IntOrString int_or_string_or(const Value* obj, std::string_view key, IntOrString dflt) {
  IntOrString v = int_or_string(json::find(obj, key));
  return v.empty() ? dflt : v;
}

// ---- writes (`obj` is a JSON object in the document that owns `alloc`) ----
inline void set_string(Value& obj, std::string_view key, std::string_view v, Allocator& alloc) {
  json::set_member(obj, key, json::make_string(v, alloc), alloc);
}
inline void set_int(Value& obj, std::string_view key, int64_t v, Allocator& alloc) {
  json::set_member(obj, key, Value(v), alloc);
}
inline void set_number(Value& obj, std::string_view key, double v, Allocator& alloc) {
  json::set_member(obj, key, Value(v), alloc);
}
inline void set_bool(Value& obj, std::string_view key, bool v, Allocator& alloc) {
  json::set_member(obj, key, Value(v), alloc);
}
inline void set_null(Value& obj, std::string_view key, Allocator& alloc) {
  json::set_member(obj, key, Value(rapidjson::kNullType), alloc);
}
inline void remove(Value& obj, std::string_view key) {
  json::remove_member(obj, key);
}
// The object member `key`, created (or replacing a value of another type) when needed.
inline Value& ensure_object(Value& obj, std::string_view key, Allocator& alloc) {
  return json::ensure_object(obj, key, alloc);
}
// The array member `key`, created (or replacing a value of another type) when needed.
Value& ensure_array(Value& obj, std::string_view key, Allocator& alloc);
// Appends `v` to array member `key` (created when needed); returns the stored element.
Value& append(Value& obj, std::string_view key, Value&& v, Allocator& alloc);
inline Value& append_object(Value& obj, std::string_view key, Allocator& alloc) {
  return append(obj, key, Value(rapidjson::kObjectType), alloc);
}
inline void append_string(Value& obj, std::string_view key, std::string_view v, Allocator& alloc) {
  append(obj, key, json::make_string(v, alloc), alloc);
}
// Parses `json_text` and stores it as member `key` (InvalidArgument naming the key when the
// text is not JSON; `obj` is left as it was).
absl::Status set_json(Value& obj, std::string_view key, std::string_view json_text,
                      Allocator& alloc);
// Parses `json_text` and appends it to array member `key`.
absl::Status append_json(Value& obj, std::string_view key, std::string_view json_text,
                         Allocator& alloc);

}  // namespace typed
}  // namespace kop::api
