// The protobuf field tables of the built-in kinds kop::local serves: for every message, each
// field's number, JSON name, value type and the Go facts (pointer, slice, map, omitempty,
// inline) that decide how the API server would write the same object as JSON. proto_tables.cpp
// is generated from the struct tags of k8s.io/api and k8s.io/apimachinery by
// scripts/gen-k8s-proto-tables; proto_codec.cpp reads and writes bodies with them. Constant
// data, any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace kop::local::proto {

// A field's value type. Types with a JSON form of their own (times, int-or-string, quantities,
// embedded JSON) are named: on the wire each is a small message, in JSON a scalar.
enum class Type : uint8_t {
  kString,
  kBytes,  // base64 in JSON
  kBool,
  kInt32,
  kInt64,
  kDouble,
  kMessage,      // Field::message names it
  kTime,         // metav1.Time {seconds, nanos}: RFC 3339 in seconds, null when zero
  kMicroTime,    // metav1.MicroTime: RFC 3339 with microseconds
  kIntOrString,  // intstr.IntOrString {type, intVal, strVal}
  kQuantity,     // resource.Quantity {string}
  kRawJson,      // runtime.RawExtension / metav1.FieldsV1 {raw}: the JSON itself
};

// How the Go field holds the value: a value, a pointer (present or absent, even when zero), a
// slice (a repeated field) or a map (repeated entries {1: key, 2: value}; the field describes the
// value).
enum class Card : uint8_t { kSingle, kPointer, kRepeated, kMap };

struct Field {
  uint32_t number;
  std::string_view json;  // "" for an inline field
  Type type;
  int message;  // index into messages() for kMessage, else -1
  Card card;
  bool omitempty;
  bool omitzero;
  bool inline_field;  // Go embeds the struct: its fields are the parent's in JSON
  // The strategic merge patch tags (patchStrategy, patchMergeKey); "" when absent.
  std::string_view patch_strategy;
  std::string_view patch_merge_key;
};

struct Message {
  std::string_view name;     // "core.ConfigMap"
  std::string_view openapi;  // "io.k8s.api.core.v1.ConfigMap", the OpenAPI definition's name
  std::span<const Field> fields;
};

// A kind whose body may travel as a whole (runtime.Unknown's raw).
struct RootKind {
  std::string_view group, version, kind;
  int message;
};

std::span<const Message> messages();
std::span<const RootKind> root_kinds();

}  // namespace kop::local::proto
