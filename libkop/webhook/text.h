// String concatenation for libkop/webhook's messages: std::string_view, absl::string_view
// (Debian's abseil has its own, which absl::StrCat takes and std::string_view does not convert
// to), numbers. Internal to libkop/webhook.
#pragma once

#include <absl/strings/string_view.h>
#include <fmt/format.h>

#include <iterator>
#include <string>
#include <string_view>

namespace kop::webhook::detail {

inline std::string_view piece(absl::string_view s) {
  return {s.data(), s.size()};
}
template <typename T>
const T& piece(const T& v) {
  return v;
}

template <typename... T>
std::string cat(const T&... parts) {
  fmt::memory_buffer out;
  (fmt::format_to(std::back_inserter(out), "{}", piece(parts)), ...);
  return fmt::to_string(out);
}

}  // namespace kop::webhook::detail
