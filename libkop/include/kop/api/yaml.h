// kop/api/yaml.h: YAML manifests <-> JSON documents and Objects.
//
// Reads what `kubectl apply -f` reads: multi-document YAML ("---" separated), comments, anchors
// and aliases, merge keys ("<<"), block and flow styles; empty documents are skipped and a
// `kind: List` document is expanded into its items. Parsing goes straight from yaml-cpp's
// event stream into RapidJSON (no intermediate node tree).
//
// Scalar types follow the YAML 1.2 core schema, which is what people mean in manifests:
//   - quoted scalars are always strings ("80" stays a string, 'true' too);
//   - plain `80`, `-3`, `0x1F`, `0o17` are integers; `1.5`, `1e3` floats; `true`/`false`
//     (any case: True, TRUE) booleans; `null`, `~` and empty values null;
//   - YAML 1.1's `yes`/`no`/`on`/`off`/`y`/`n` stay strings (the "Norway problem" is avoided;
//     a label `enabled: yes` keeps the string the API server expects);
//   - one YAML 1.1 rule is kept because Kubernetes documents it: a leading-zero integer of
//     octal digits is octal (`defaultMode: 0644` is 420);
//   - explicit tags win (`!!str 80` is "80", `!!int "5"` is 5); unknown tags read as strings;
//   - `.inf`/`.nan` (not representable in JSON) stay strings;
//   - mapping keys become their scalar text (`80: x` has the key "80"); duplicate keys are
//     errors, as with kubectl.
//
// Errors (InvalidArgument) read "<source>:<line>:<column>: document index <i>: <what>", with
// 1-based line/column and a 0-based document index counting every document in the file,
// empty ones included, so `sed -n <line>p` finds the spot.
//
// No exceptions escape: yaml-cpp's are caught and turned into statuses.
#pragma once

#include <absl/status/statusor.h>
#include <rapidjson/document.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/object.h"

namespace kop::api {

// Every non-empty document of `text` as JSON (any root type). `source` names the input in
// errors (a file name, or "<stdin>").
absl::StatusOr<std::vector<rapidjson::Document>> yaml_to_json(std::string_view text,
                                                              std::string_view source = "<input>");

// Every non-empty document as an Object: each root must be a mapping with apiVersion and kind;
// `kind: List` (any apiVersion, with an `items` array) contributes its items instead.
absl::StatusOr<std::vector<Object>> parse_yaml_objects(std::string_view text,
                                                       std::string_view source = "<input>");

// Exactly one object (one non-empty document that is not a List).
absl::StatusOr<Object> parse_yaml_object(std::string_view text,
                                         std::string_view source = "<input>");

// Reads a manifest file: .json files as JSON (one object or a List), anything else as YAML.
// NotFound when the file cannot be opened.
absl::StatusOr<std::vector<Object>> load_manifest_file(const std::string& path);

// YAML text for a JSON value, block style, member order kept, strings quoted whenever a plain
// scalar would read back as another type; multi-line strings ending in one newline use literal
// blocks (certificates stay readable). parse(to_yaml(v)) == v.
std::string to_yaml(const rapidjson::Value& value);
std::string to_yaml(const Object& obj);
// Objects separated by "---" lines, as kubectl get -o yaml prints a list of files.
std::string to_yaml(std::span<const Object> objects);

}  // namespace kop::api
