// kop/api/labels.h: Kubernetes label selectors.
//
// Both forms Kubernetes uses, with apimachinery's semantics (k8s.io/apimachinery/pkg/labels):
//   - the string syntax of ?labelSelector= and kubectl -l:
//       "app=web,tier!=db,env in (prod, staging),!canary,release,version notin (v1)"
//     with `=`/`==`/`!=`, `in (...)`, `notin (...)`, `key` (exists), `!key` (does not exist),
//     `>`/`<` (integer comparison), comma = AND, blanks (space, tab, CR, LF) around tokens;
//   - the structured metav1.LabelSelector ({matchLabels, matchExpressions}) of specs such as
//     Deployment.spec.selector, parsed from JSON.
// Keys and values are validated as the API server does; parse errors name the byte position.
//
// A parsed selector is an immutable value: requirements sorted by key, `in`/`notin` values
// sorted and de-duplicated, so to_string() is canonical and parse(to_string()) round-trips.
// An empty selector matches everything; LabelSelector::nothing() matches nothing (and prints
// as "", as in Go, so do not send it to a server: check is_nothing() first).
//
// Threads: a const LabelSelector may be used from any number of threads.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>
#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/object.h"

namespace kop::api {

enum class SelectorOperator {
  kEquals,        // key=value
  kDoubleEquals,  // key==value
  kNotEquals,     // key!=value (also true when the key is absent)
  kIn,            // key in (a,b)
  kNotIn,         // key notin (a,b) (also true when the key is absent)
  kExists,        // key
  kDoesNotExist,  // !key
  kGreaterThan,   // key>5 (label value parsed as an integer)
  kLessThan,      // key<5
};

// "=", "==", "!=", "in", "notin", "exists", "!", ">", "<".
std::string_view to_string(SelectorOperator op);

class LabelRequirement {
 public:
  // Validates like apimachinery's NewRequirement: key a qualified name; In/NotIn need values;
  // =, ==, != exactly one; Exists/DoesNotExist none; >/< one integer; values valid label values.
  static absl::StatusOr<LabelRequirement> create(std::string_view key, SelectorOperator op,
                                                 std::vector<std::string> values = {});

  const std::string& key() const { return key_; }
  SelectorOperator op() const { return op_; }
  // Sorted and unique for In/NotIn.
  const std::vector<std::string>& values() const { return values_; }

  // `value` is the label's value, std::nullopt when the object has no such label.
  bool matches(std::optional<std::string_view> value) const;
  std::string to_string() const;

  bool operator==(const LabelRequirement&) const = default;

 private:
  friend class LabelSelector;
  LabelRequirement(std::string key, SelectorOperator op, std::vector<std::string> values)
      : key_(std::move(key)), op_(op), values_(std::move(values)) {}

  std::string key_;
  SelectorOperator op_;
  std::vector<std::string> values_;
};

class LabelSelector {
 public:
  // Matches everything (no requirements).
  LabelSelector() = default;
  static LabelSelector everything() { return LabelSelector(); }
  static LabelSelector nothing();

  // Parses the string syntax. "" is everything. Errors are InvalidArgument and read
  // `label selector "<text>": position N: <what was found and expected>`.
  static absl::StatusOr<LabelSelector> parse(std::string_view text);

  // From a metav1.LabelSelector JSON value: null -> nothing(), {} -> everything(); matchLabels
  // become `=` requirements; matchExpressions operators In, NotIn, Exists, DoesNotExist.
  static absl::StatusOr<LabelSelector> from_json(const rapidjson::Value* selector);
  static absl::StatusOr<LabelSelector> from_json(const rapidjson::Value& selector) {
    return from_json(&selector);
  }

  // key=value for each entry (apimachinery's SelectorFromSet; not validated).
  static LabelSelector from_map(const StringMap& labels);

  bool empty() const { return !nothing_ && requirements_.empty(); }
  bool is_nothing() const { return nothing_; }
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

  // Adds a requirement, keeping the key order. Has no effect on nothing().
  LabelSelector& add(LabelRequirement r);

  bool matches(const StringMap& labels) const;
  bool matches(const absl::flat_hash_map<std::string, std::string>& labels) const;
  // The object's metadata.labels (read in place, no copy).
  bool matches(const Object& obj) const;
  // A JSON object of string values (e.g. metadata.labels); nullptr means no labels.
  bool matches_json(const rapidjson::Value* labels) const;

  // The canonical string form: "a=b,c in (d,e),!f". "" for everything (and for nothing()).
  std::string to_string() const;

  // The value `key` must have when the selector pins it (=, == or a one-value in).
  std::optional<std::string_view> requires_exact_match(std::string_view key) const;

  bool operator==(const LabelSelector&) const = default;

 private:
  template <typename Lookup>
  bool matches_impl(const Lookup& lookup) const;

  std::vector<LabelRequirement> requirements_;
  bool nothing_ = false;
};

}  // namespace kop::api

namespace kop {
using api::LabelSelector;
}  // namespace kop
