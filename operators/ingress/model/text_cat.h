// Internal to the model: string concatenation over std::string_view (Debian's abseil has its
// own absl::string_view, so absl::StrCat does not take std::string_view).
#pragma once

#include <concepts>
#include <string>
#include <string_view>

namespace kop::ingress::internal {

inline void append_one(std::string& s, std::string_view v) {
  s.append(v);
}
inline void append_one(std::string& s, char c) {
  s.push_back(c);
}
template <std::integral T>
  requires(!std::same_as<T, char>)
void append_one(std::string& s, T v) {
  s += std::to_string(v);
}

template <typename... Args>
std::string cat(const Args&... args) {
  std::string s;
  (append_one(s, args), ...);
  return s;
}

}  // namespace kop::ingress::internal
