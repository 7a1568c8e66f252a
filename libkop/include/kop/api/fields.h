// kop/api/fields.h: Kubernetes field selectors (?fieldSelector=, kubectl --field-selector).
//
// Syntax as apimachinery's fields.ParseSelector: comma-separated terms `field=value`,
// `field==value`, `field!=value`; in values, `\,` `\=` `\\` escape the special characters.
// There is no whitespace trimming (as in Go, "a = b" is the field "a " and the value " b").
//
// Every kind supports metadata.name and metadata.namespace; Secrets also support `type`
// (supported_field() knows a few more that real API servers accept). matches() reads the field
// from the object: the well-known ones directly, any other dotted path ("spec.nodeName",
// "status.phase") as a JSON path whose scalar value is compared as text. A missing field reads
// as "", as in Go's fields.Set.
//
// Threads: a const FieldSelector may be used from any number of threads.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <string_view>
#include <vector>

#include "kop/api/gvk.h"
#include "kop/api/object.h"

namespace kop::api {

struct FieldRequirement {
  std::string field;
  std::string value;     // unescaped
  bool negated = false;  // != rather than =

  bool operator==(const FieldRequirement&) const = default;
};

class FieldSelector {
 public:
  // Matches everything.
  FieldSelector() = default;

  // Parses the string form; "" is everything. Terms are sorted (by field, operator, value), so
  // to_string() is canonical. Errors (InvalidArgument) name the term and its byte position.
  static absl::StatusOr<FieldSelector> parse(std::string_view text);

  // field=value for one field (e.g. one_term("metadata.name", "x")).
  static FieldSelector one_term(std::string_view field, std::string_view value);

  bool empty() const { return terms_.empty(); }
  const std::vector<FieldRequirement>& requirements() const { return terms_; }

  bool matches(const Object& obj) const;

  // Canonical text with values escaped: "metadata.name=a,metadata.namespace!=b".
  std::string to_string() const;

  // The value `field` must equal, when the selector pins it with = or ==.
  std::optional<std::string_view> requires_exact_match(std::string_view field) const;

  // OK when every field is one the API server supports for `gvk`; else InvalidArgument with the
  // real server's message: "field label not supported: X" for kinds with field labels of their
  // own (Pod, Secret, Event, ...), "\"X\" is not a known field selector: only
  // \"metadata.name\", \"metadata.namespace\"" for the others (ConfigMap, custom resources).
  absl::Status check_supported(const GroupVersionKind& gvk) const;

  bool operator==(const FieldSelector&) const = default;

 private:
  std::vector<FieldRequirement> terms_;
};

// Escapes `\`, `,` and `=` in a field selector value.
std::string escape_field_value(std::string_view value);

// Whether the API server supports selecting `gvk` by `field`.
bool supported_field(const GroupVersionKind& gvk, std::string_view field);

// The value of `field` of `obj` as a field selector compares it ("" when absent; booleans
// "true"/"false"; integers in decimal).
std::string field_value(const Object& obj, std::string_view field);

}  // namespace kop::api

namespace kop {
using api::FieldSelector;
}  // namespace kop
