// Per-route access control decided before a request is forwarded: the client address against
// the route's source ranges (nginx's allow/deny as ingress-nginx's whitelist/denylist-source-range
// writes them) and the request body against the route's size limit (nginx's
// client_max_body_size).
//
// Source ranges: a CIDR ("10.0.0.0/8", "2001:db8::/32") or a bare address (a /32 or /128). Bits
// past the prefix are ignored, as nginx does. IPv4 ranges cover IPv4 clients only and IPv6 ranges
// IPv6 clients only ("::/0" is not every address); an IPv4-mapped IPv6 client ("::ffff:10.1.2.3",
// a dual-stack listener's view of an IPv4 peer) is judged as the IPv4 address, as nginx does. The
// client is the TCP peer: no header (X-Forwarded-For, X-Real-IP) changes it. Deny entries are
// checked first; then, when allow entries exist, an address none of them covers is refused.
// Threading: SourceRangeFilter is immutable after compile(); any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include "kop/proxy/config.h"

namespace kop::proxy {

// An address range: 16 bytes (IPv4 as IPv4-mapped IPv6) and the prefix length over them.
struct AddressRange {
  std::array<uint8_t, 16> bytes{};
  uint32_t prefix = 0;  // 0..128 (an IPv4 /n is 96 + n)
  bool v4 = false;      // written as an IPv4 range
  // Whether `address` (parse_ip's form) is in the range, families compared.
  bool contains(const std::array<uint8_t, 16>& address) const;
};

// Parses "a.b.c.d[/n]" or "v6[/n]"; the error names the text.
absl::StatusOr<AddressRange> parse_address_range(std::string_view text);

// Parses an IP literal (no brackets, no zone) into 16 bytes (IPv4 mapped); nullopt otherwise.
// An IPv4-mapped IPv6 literal gives the same bytes as the IPv4 address.
std::optional<std::array<uint8_t, 16>> parse_ip(std::string_view text);

class SourceRangeFilter {
 public:
  static absl::StatusOr<SourceRangeFilter> compile(const SourceRanges& ranges);
  // Whether a client at `client_ip` (the TCP peer's address as text) may use the route. An
  // address that does not parse is refused.
  bool allows(std::string_view client_ip) const;
  // The same for an address parse_ip() gave (null: it did not parse, refused).
  bool allows(const std::array<uint8_t, 16>* address) const;

 private:
  std::vector<AddressRange> allow_;
  std::vector<AddressRange> deny_;
};

}  // namespace kop::proxy
