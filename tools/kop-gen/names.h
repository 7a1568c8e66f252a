// kop-gen: C++ names from schema names.
//
// A CRD's field names are JSON strings: camelCase mostly, but anything is allowed ("x-foo",
// "$ref", "1st", "class", ""). These turn them into valid, readable C++ identifiers, and keep
// them unique inside one scope (a class's members, a namespace's types, an enum's values).
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace kop::gen {

// snake_case: "observedGeneration" -> "observed_generation", "podIPs" -> "pod_ips",
// "x-foo" -> "x_foo", "1st" -> "f_1st", "" -> "field". C++ keywords and the C library's
// function-like macros (errno, assert, ...) get a trailing '_'.
std::string snake_name(std::string_view json_name);

// PascalCase: "observedGeneration" -> "ObservedGeneration", "x-foo" -> "XFoo", "" -> "Field";
// a leading digit is kept ("1st" -> "1st"): only ever used after a prefix.
std::string pascal_name(std::string_view json_name);

// An enum value's name: "True" -> "kTrue", "ClusterIP" -> "kClusterIP", "" -> "kEmpty".
std::string enum_value_name(std::string_view value);

bool is_reserved(std::string_view ident);

// Names already taken in one scope.
class Scope {
 public:
  bool taken(const std::string& name) const { return used_.count(name) != 0; }
  void take(const std::string& name) { used_.insert(name); }
  // `base`, or base2, base3, ... : the first that is free; taken on return.
  std::string unique(const std::string& base);

 private:
  std::set<std::string> used_;
};

// A C++ string literal holding `bytes` exactly (octal escapes for anything not printable ASCII).
std::string cpp_literal(std::string_view bytes);

}  // namespace kop::gen
