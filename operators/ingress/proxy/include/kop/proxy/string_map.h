// StringMap / ICaseStringMap: the hash maps the route table uses for paths, and for host and
// SNI names (case-insensitive).
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

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/strings/string_view.h>

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
// With `fold` = 0x2020202020202020 it ignores ASCII case (every byte gets 0x20 or'ed in, which
// maps 'A'..'Z' onto 'a'..'z'; other bytes stay distinguishable by the equality test).
inline uint64_t fast_hash(std::string_view s, uint64_t fold = 0) {
  constexpr uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL,
                     k2 = 0x8ebc6af09c88c6e3ULL;
  const char* p = s.data();
  std::size_t n = s.size();
  uint64_t a, b, seed = k0;
  if (n <= 16) {
    if (n >= 8) {
      a = load8(p) | fold;
      b = load8(p + n - 8) | fold;
    } else if (n >= 4) {
      a = load4(p) | (fold & 0xffffffffULL);
      b = load4(p + n - 4) | (fold & 0xffffffffULL);
    } else if (n > 0) {
      uint64_t f = fold & 0xff;
      a = ((static_cast<unsigned char>(p[0]) | f) << 16) |
          ((static_cast<unsigned char>(p[n >> 1]) | f) << 8) |
          (static_cast<unsigned char>(p[n - 1]) | f);
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    std::size_t i = n;
    while (i > 16) {
      seed = mum((load8(p) | fold) ^ k1, (load8(p + 8) | fold) ^ seed);
      p += 16;
      i -= 16;
    }
    a = load8(p + i - 16) | fold;
    b = load8(p + i - 8) | fold;
  }
  return mum(mum(a ^ k1, b ^ seed) ^ k2, n ^ k1);
}

// Lowercases ASCII 8 bytes at a time (SWAR): bytes 'A'..'Z' get 0x20 or'ed in.
inline uint64_t lower8(uint64_t x) {
  constexpr uint64_t ones = 0x0101010101010101ULL;
  uint64_t low7 = x & (0x7f * ones);
  uint64_t ge_a = low7 + (0x80 - 'A') * ones;      // high bit: byte >= 'A'
  uint64_t gt_z = low7 + (0x80 - 'Z' - 1) * ones;  // high bit: byte > 'Z'
  uint64_t upper = ge_a & ~gt_z & ~x & (0x80 * ones);
  return x | (upper >> 2);
}

// ASCII case-insensitive equality, 8 bytes at a time.
__attribute__((always_inline)) inline bool iequal_fast(std::string_view a, std::string_view b) {
  std::size_t n = a.size();
  if (n != b.size()) return false;
  // Equal bytes first (the common case: the name arrives lowercase), folding only on mismatch.
  auto same = [](uint64_t x, uint64_t y) { return x == y || lower8(x) == lower8(y); };
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 <= n; i += 8)
      if (!same(load8(a.data() + i), load8(b.data() + i))) return false;
    return same(load8(a.data() + n - 8), load8(b.data() + n - 8));
  }
  for (std::size_t i = 0; i < n; ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
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

// The same, ignoring ASCII case (host and SNI names): probed with the name as received,
// without lowercasing a copy first.
struct ICaseStringHash {
  using is_transparent = void;
  static constexpr uint64_t kFold = 0x2020202020202020ULL;
  std::size_t operator()(std::string_view s) const { return fast_hash(s, kFold); }
  std::size_t operator()(absl::string_view s) const {
    return fast_hash({s.data(), s.size()}, kFold);
  }
  std::size_t operator()(const std::string& s) const { return fast_hash(s, kFold); }
};
struct ICaseStringEq {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return iequal_fast(StringEq::v(a), StringEq::v(b));
  }
};

template <typename V>
using StringMap = absl::flat_hash_map<std::string, V, StringHash, StringEq>;
template <typename V>
using ICaseStringMap = absl::flat_hash_map<std::string, V, ICaseStringHash, ICaseStringEq>;

// The same keyed by views into strings the map's owner keeps alive (a Config, compiled virtual
// hosts): filling one copies no string, which is what a map of 10k names rebuilt per compile
// costs otherwise.
template <typename V>
using StringViewMap = absl::flat_hash_map<std::string_view, V, StringHash, StringEq>;
template <typename V>
using ICaseStringViewMap = absl::flat_hash_map<std::string_view, V, ICaseStringHash, ICaseStringEq>;
using StringViewSet = absl::flat_hash_set<std::string_view, StringHash, StringEq>;
using ICaseStringViewSet = absl::flat_hash_set<std::string_view, ICaseStringHash, ICaseStringEq>;

}  // namespace kop::proxy
