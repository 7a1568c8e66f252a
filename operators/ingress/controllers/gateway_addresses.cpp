// LocalGatewayAddresses: a stable loopback address per Gateway.
#include "gateway_addresses.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>

#include <absl/strings/numbers.h>
#include <absl/strings/str_split.h>

namespace kop::ingress {
namespace {

constexpr uint32_t kFirst = (127U << 24) | (1U << 8) | 1U;  // 127.0.1.1
constexpr uint32_t kLast = (127U << 24) | 0xFFFFFEU;        // 127.255.255.254

std::string text_of(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

// A 127.x.y.z address of the range handed out, as a number.
std::optional<uint32_t> loopback(std::string_view s) {
  std::vector<absl::string_view> parts = absl::StrSplit(absl::string_view(s.data(), s.size()), '.');
  if (parts.size() != 4) return std::nullopt;
  uint32_t a = 0;
  for (absl::string_view p : parts) {
    uint32_t octet = 0;
    if (p.empty() || p.size() > 3 || !absl::SimpleAtoi(p, &octet) || octet > 255)
      return std::nullopt;
    a = (a << 8) | octet;
  }
  if (a < kFirst || a > kLast || (a & 255) == 0 || (a & 255) == 255) return std::nullopt;
  return a;
}

std::string key_of(const api::Object& o) {
  return std::string(o.ns()) + "/" + std::string(o.name());
}

}  // namespace

std::map<std::string, std::string> LocalGatewayAddresses::assign(
    const std::vector<api::ObjectPtr>& gateways) {
  std::vector<const api::Object*> order;
  order.reserve(gateways.size());
  for (const auto& g : gateways) order.push_back(g.get());
  std::sort(order.begin(), order.end(), [](const api::Object* a, const api::Object* b) {
    if (a->creation_timestamp() != b->creation_timestamp())
      return a->creation_timestamp() < b->creation_timestamp();
    return key_of(*a) < key_of(*b);
  });
  std::map<std::string, std::string> out;
  std::set<uint32_t> used;
  auto take = [&](const std::string& key, uint32_t a) {
    if (used.count(a) != 0) return false;
    used.insert(a);
    out[key] = text_of(a);
    return true;
  };
  // Earlier assignments of this process first, then what the status remembers, then new ones.
  for (const api::Object* g : order)
    if (auto it = assigned_.find(key_of(*g)); it != assigned_.end())
      take(it->first, *loopback(it->second));
  for (const api::Object* g : order) {
    std::string key = key_of(*g);
    if (out.count(key) != 0) continue;
    const rapidjson::Value* addrs = g->at("/status/addresses");
    if (addrs == nullptr || !addrs->IsArray()) continue;
    for (const auto& a : addrs->GetArray()) {
      auto v = a.IsObject() && a.HasMember("value") && a["value"].IsString()
                   ? loopback(a["value"].GetString())
                   : std::nullopt;
      if (v && take(key, *v)) break;
    }
  }
  uint32_t next = kFirst;
  for (const api::Object* g : order) {
    std::string key = key_of(*g);
    if (out.count(key) != 0) continue;
    while (next <= kLast && (used.count(next) != 0 || (next & 255) == 0 || (next & 255) == 255))
      ++next;
    if (next > kLast) break;  // 16 million Gateways: the rest get none
    take(key, next);
  }
  assigned_ = out;
  return out;
}

}  // namespace kop::ingress
