// StringMap: the hash map the route table uses for host names, SNI names and paths.
//
// absl::flat_hash_map keyed by std::string with a transparent, fast hash (wyhash-style, a few
// multiplications for keys up to 16 bytes) so lookups take a std::string_view without
// allocating. The hash does not depend on the process (no per-process seed).
// Threading: like any container; the route table only reads its maps after compile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace kop::proxy {

inline uint64_t load8(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t load4(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t mum(uint64_t a, uint64_t b) {
  unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// A fast 64-bit hash for short keys (host names, paths), in the style of wyhash: a handful of
// multiplications for strings up to 16 bytes, one per 16 bytes beyond. Process-independent.
inline uint64_t fast_hash(std::string_view s) {
  constexpr uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL,
                     k2 = 0x8ebc6af09c88c6e3ULL;
  const char* p = s.data();
  std::size_t n = s.size();
  uint64_t a, b, seed = k0;
  if (n <= 16) {
    if (n >= 8) {
      a = load8(p);
      b = load8(p + n - 8);
    } else if (n >= 4) {
      a = load4(p);
      b = load4(p + n - 4);
    } else if (n > 0) {
      a = (static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
          (static_cast<uint64_t>(static_cast<unsigned char>(p[n >> 1])) << 8) |
          static_cast<unsigned char>(p[n - 1]);
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    std::size_t i = n;
    while (i > 16) {
      seed = mum(load8(p) ^ k1, load8(p + 8) ^ seed);
      p += 16;
      i -= 16;
    }
    a = load8(p + i - 16);
    b = load8(p + i - 8);
  }
  return mum(mum(a ^ k1, b ^ seed) ^ k2, n ^ k1);
}

// Transparent hash/equality for maps keyed by std::string and probed with string views.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return fast_hash(s); }
  std::size_t operator()(absl::string_view s) const { return fast_hash({s.data(), s.size()}); }
  std::size_t operator()(const std::string& s) const { return fast_hash(s); }
};
struct StringEq {
  using is_transparent = void;
  static std::string_view v(std::string_view s) { return s; }
  static std::string_view v(absl::string_view s) { return {s.data(), s.size()}; }
  static std::string_view v(const std::string& s) { return s; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return v(a) == v(b);
  }
};

template <typename V>
using StringMap = absl::flat_hash_map<std::string, V, StringHash, StringEq>;

}  // namespace kop::proxy
