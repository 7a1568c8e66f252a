// Small ASCII helpers shared by the proxy core (private to core/).
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <absl/strings/string_view.h>
#include "kop/proxy/string_map.h"

namespace kop::proxy::internal {

// String concatenation that takes std::string_view (Debian's absl::StrCat does not).
inline void append_to(std::string& s, std::string_view v) {
  s.append(v);
}
inline void append_to(std::string& s, const char* v) {
  s.append(v);
}
inline void append_to(std::string& s, const std::string& v) {
  s.append(v);
}
inline void append_to(std::string& s, absl::string_view v) {
  s.append(v.data(), v.size());
}
inline void append_to(std::string& s, char c) {
  s.push_back(c);
}
template <std::integral T>
  requires(!std::same_as<T, char> && !std::same_as<T, bool>)
inline void append_to(std::string& s, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  s.append(buf, r.ptr);
}
template <typename... A>
std::string cat(const A&... a) {
  std::string s;
  (append_to(s, a), ...);
  return s;
}

inline absl::string_view absl_view(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// Lowercase, without a trailing dot: the form domains and SNI names are compared in.
inline std::string normalize_domain(std::string_view d) {
  if (d.size() > 1 && d.back() == '.') d.remove_suffix(1);
  return to_lower(d);
}

// The same without a copy, for maps that ignore ASCII case (ICaseStringViewMap): the view
// without its trailing dot.
inline std::string_view domain_key(std::string_view d) {
  if (d.size() > 1 && d.back() == '.') d.remove_suffix(1);
  return d;
}

// JSON-ish quoting for error messages.
inline std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// A DNS-ish host name label check for domains and SNI names: letters, digits, '-', '_'.
inline bool valid_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// "example.com", "example.com." or "*.example.com" (allow_wildcard); labels valid, <= 253.
inline bool valid_domain(std::string_view d, bool allow_wildcard) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);  // a fully qualified name
  if (d.empty() || d.size() > 253) return false;
  if (allow_wildcard && d.size() > 2 && d[0] == '*' && d[1] == '.') d.remove_prefix(2);
  while (true) {
    std::size_t dot = d.find('.');
    if (!valid_label(d.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    d.remove_prefix(dot + 1);
  }
}

using kop::proxy::fast_hash;
using kop::proxy::load8;

using kop::proxy::lower8;

}  // namespace kop::proxy::internal
