// Source ranges and body limits of a route (access_control.h).
#include "kop/proxy/access_control.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <string>

#include "core/text.h"

namespace kop::proxy {

namespace {

bool is_v4_mapped(const std::array<uint8_t, 16>& a) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return std::memcmp(a.data(), kPrefix, sizeof kPrefix) == 0;
}

}  // namespace

bool AddressRange::contains(const std::array<uint8_t, 16>& address) const {
  if (is_v4_mapped(address) != v4) return false;
  uint32_t full = prefix / 8;
  if (std::memcmp(address.data(), bytes.data(), full) != 0) return false;
  uint32_t rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xFFu << (8 - rest));
  return (address[full] & mask) == (bytes[full] & mask);
}

std::optional<std::array<uint8_t, 16>> parse_ip(std::string_view text) {
  // inet_pton wants a terminated string; an address is at most 45 characters.
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::array<uint8_t, 16> out{};
  if (text.find(':') == std::string_view::npos) {
    out[10] = 0xFF;
    out[11] = 0xFF;
    if (inet_pton(AF_INET, buf, out.data() + 12) != 1) return std::nullopt;
    return out;
  }
  if (inet_pton(AF_INET6, buf, out.data()) != 1) return std::nullopt;
  return out;
}

absl::StatusOr<AddressRange> parse_address_range(std::string_view text) {
  size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  auto ip = parse_ip(addr);
  if (!ip)
    return absl::InvalidArgumentError(
        internal::cat("not an IP address or CIDR: ", internal::quote(text)));
  bool v4 = addr.find(':') == std::string_view::npos;
  uint32_t max = v4 ? 32 : 128;
  uint32_t prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() || prefix > max)
      return absl::InvalidArgumentError(
          internal::cat("invalid prefix length in ", internal::quote(text), " (0..", max, ")"));
  }
  AddressRange r;
  r.bytes = *ip;
  r.prefix = v4 ? 96 + prefix : prefix;
  r.v4 = v4;
  return r;
}

absl::StatusOr<SourceRangeFilter> SourceRangeFilter::compile(const SourceRanges& ranges) {
  SourceRangeFilter f;
  for (const auto& text : ranges.allow) {
    auto r = parse_address_range(text);
    if (!r.ok()) return r.status();
    f.allow_.push_back(*r);
  }
  for (const auto& text : ranges.deny) {
    auto r = parse_address_range(text);
    if (!r.ok()) return r.status();
    f.deny_.push_back(*r);
  }
  return f;
}

bool SourceRangeFilter::allows(std::string_view client_ip) const {
  auto ip = parse_ip(client_ip);
  return allows(ip ? &*ip : nullptr);
}

bool SourceRangeFilter::allows(const std::array<uint8_t, 16>* address) const {
  if (address == nullptr) return false;
  for (const auto& r : deny_)
    if (r.contains(*address)) return false;
  if (allow_.empty()) return true;
  for (const auto& r : allow_)
    if (r.contains(*address)) return true;
  return false;
}

}  // namespace kop::proxy
