// yaml_scalar.h (internal to kop::api): what a YAML scalar means, by the rules kubectl applies
// (sigs.k8s.io/yaml over go-yaml v2: YAML 1.1 scalars, then JSON encoding). See kop/api/yaml.h
// for the rule with examples. Pure functions; any thread.
#pragma once

#include <absl/status/statusor.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace kop::api::yaml_scalar {

// The length of the UTF-8 sequence starting at s[i], 0 when it is not strict UTF-8 (overlong
// forms, surrogates, code points past U+10FFFF, a cut sequence).
size_t utf8_sequence_length(std::string_view s, size_t i);

// A scalar after resolution, before it becomes JSON.
struct Resolved {
  enum class Kind { kNull, kBool, kInt, kUint, kFloat, kString, kMerge };
  Kind kind = Kind::kString;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string s;  // kString only
};

// `tag` is yaml-cpp's: "?" for a plain scalar, "!" for a quoted one (or the non-specific tag),
// otherwise the resolved tag ("tag:yaml.org,2002:int", "!custom"). An explicit standard tag that
// does not fit the text ("!!int 1.5") is an InvalidArgument error, as in kubectl.
absl::StatusOr<Resolved> resolve(std::string_view tag, std::string_view text);

// The JSON value kubectl sends for it: floats with no fraction become integers (Go prints 1e3
// as 1000), integers past int64 become doubles (kubectl re-encodes them as floats), infinities
// and NaN are errors (JSON has no such numbers).
absl::Status to_json(Resolved r, rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc);

// The mapping key kubectl sends for it: true/false, decimal integers, floats in Go's %g form
// ("1e+06"), strings as they are; a null key is an error.
absl::StatusOr<std::string> to_key(Resolved r);

}  // namespace kop::api::yaml_scalar
