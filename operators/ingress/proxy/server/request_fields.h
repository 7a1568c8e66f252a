// The request and response fields an exchange writes, whatever the upstream protocol: the
// header mutations of one head (weighted entry, route, virtual host) and the request id.
// Threading: any (pure functions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http1.h"
#include "kop/proxy/config.h"
#include "kop/proxy/route_table.h"

namespace kop::proxy::server {

inline bool name_in(std::string_view name, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (iequals(name, n)) return true;
  return false;
}
inline bool name_in(std::string_view name, const std::vector<HeaderValue>& values) {
  for (const auto& v : values)
    if (iequals(name, v.name)) return true;
  return false;
}

inline bool mutation_drops(std::string_view name, const HeaderMutation& m) {
  return name_in(name, m.remove) || name_in(name, m.set);
}

// No header mutation (the default of Mutations' last slot).
inline const HeaderMutation kNoMutation;

// The header mutations of one head, most specific first (weighted entry, route, virtual host,
// then the exchange's own: external authentication's fields), with what writing the head needs
// worked out once: the lengths of the names they drop (a field of another length is kept without
// comparing names) and the bytes they add (written inside the head's sized part, so no append
// reallocates).
class Mutations {
 public:
  Mutations(const HeaderMutation& entry, const HeaderMutation& route, const HeaderMutation& vhost,
            const HeaderMutation& exchange = kNoMutation)
      : m_{&entry, &route, &vhost, &exchange} {
    for (const HeaderMutation* m : m_) {
      for (const auto& n : m->remove) drop_lengths_ |= length_bit(n.size());
      for (const auto& v : m->set) {
        drop_lengths_ |= length_bit(v.name.size());
        added_ += v.name.size() + v.value.size() + 4;
      }
      for (const auto& v : m->add) added_ += v.name.size() + v.value.size() + 4;
    }
  }
  bool drops(std::string_view name) const {
    if ((drop_lengths_ & length_bit(name.size())) == 0) return false;
    for (const HeaderMutation* m : m_)
      if (mutation_drops(name, *m)) return true;
    return false;
  }
  size_t added() const { return added_; }
  const HeaderMutation* const* begin() const { return m_; }
  const HeaderMutation* const* end() const { return m_ + 4; }

 private:
  static uint64_t length_bit(size_t n) { return uint64_t{1} << (n & 63); }
  const HeaderMutation* m_[4];
  uint64_t drop_lengths_ = 0;
  size_t added_ = 0;
};

// The header mutation of the weighted entry a request was sent to (Gateway API backendRef
// filters); empty for most routes, which have none.
inline const HeaderMutation& entry_mutation(const Route& route, const RouteTable& table,
                                            const Cluster* cluster, bool request) {
  static const HeaderMutation kNone;
  if (!route.entry_headers) return kNone;
  const RouteClusterRef* e = route.entry_for(table, cluster);
  if (e == nullptr) return kNone;
  return request ? e->config->request_headers : e->config->response_headers;
}

// Writes the 36 characters of a request id (UUID version 4 text form) at u.
inline void format_request_id(char* u, uint64_t a, uint64_t b) {
  static const char kHex[] = "0123456789abcdef";
  uint64_t hi = (a & 0xffffffffffff0fffull) | 0x4000ull;
  uint64_t lo = (b & 0x3fffffffffffffffull) | 0x8000000000000000ull;
  int k = 0;
  for (int i = 0; i < 16; ++i) {
    uint64_t src = i < 8 ? hi : lo;
    int shift = 56 - 8 * (i % 8);
    unsigned byte = static_cast<unsigned>((src >> shift) & 0xff);
    if (i == 4 || i == 6 || i == 8 || i == 10) u[k++] = '-';
    u[k++] = kHex[byte >> 4];
    u[k++] = kHex[byte & 15];
  }
}

}  // namespace kop::proxy::server
