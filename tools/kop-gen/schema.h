// kop-gen: a CRD's OpenAPI v3 schema, reduced to what a C++ view needs.
//
// Structural schemas (what apiextensions.k8s.io/v1 requires) name a type at every node; this
// reads that tree into Schema nodes: objects with declared properties, maps (additionalProperties
// with a schema), arrays, the scalars, int-or-string (x-kubernetes-int-or-string), and raw JSON
// (x-kubernetes-preserve-unknown-fields, additionalProperties: true, or no type at all).
// allOf/anyOf/oneOf/not only validate in a structural schema and are ignored.
#pragma once

#include <absl/status/statusor.h>
#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kop::gen {

struct Schema {
  enum class Type {
    kRaw,
    kObject,
    kMap,
    kArray,
    kString,
    kInteger,
    kNumber,
    kBoolean,
    kIntOrString
  };
  Type type = Type::kRaw;
  std::string description;
  bool nullable = false;
  // x-kubernetes-preserve-unknown-fields on an object with properties: fields beyond them are
  // kept by the API server (reachable through the view's raw()).
  bool preserve_unknown = false;
  std::optional<std::string> default_json;  // compact JSON text of `default`
  std::vector<std::string> enum_values;     // string enums only
  std::string format;                       // "date-time", "int64", ... ("" when unset)
  std::vector<std::pair<std::string, std::unique_ptr<Schema>>> properties;  // kObject
  std::unique_ptr<Schema> items;  // kArray: the items; kMap: the values
};

// Deeper schemas are refused (the API server itself has no limit, but nothing real nests 64
// levels, and the generator recurses once per level).
inline constexpr int kMaxDepth = 64;

// Reads one openAPIV3Schema. `where` names it in errors ("websites.example.com v1 schema").
absl::StatusOr<std::unique_ptr<Schema>> read_schema(const rapidjson::Value& v,
                                                    const std::string& where);

struct CrdVersion {
  std::string name;
  std::unique_ptr<Schema> schema;  // never null (an absent schema reads as raw)
};

struct Crd {
  std::string name;  // metadata.name
  std::string group;
  std::string kind;
  std::string plural;
  bool namespaced = true;
  std::vector<CrdVersion> versions;
};

// A CustomResourceDefinition (apiextensions.k8s.io/v1) as JSON. Errors name the CRD and field.
absl::StatusOr<Crd> read_crd(const rapidjson::Value& doc);

// Every CustomResourceDefinition of a YAML or JSON stream (other documents are skipped; none at
// all is an error). `source` names the input in errors.
absl::StatusOr<std::vector<Crd>> read_crds(std::string_view text, const std::string& source);

}  // namespace kop::gen
