// Per-client-address limits of a route (rate_limit.h).
#include "kop/proxy/rate_limit.h"

#include <algorithm>

#include <absl/hash/hash.h>
#include "core/text.h"

namespace kop::proxy {

namespace {

constexpr uint64_t kMicro = 1000000;  // one request, in the units the excess is counted in

// The excess after `elapsed_ms` of draining and one more request, never below zero (nginx
// drains before it clamps: a request that finds the state drained is free).
uint64_t next_excess(uint64_t excess, uint64_t drain_per_ms, uint64_t elapsed_ms) {
  uint64_t drained = drain_per_ms * elapsed_ms;
  return excess + kMicro > drained ? excess + kMicro - drained : 0;
}

}  // namespace

absl::StatusOr<std::shared_ptr<RateLimiter>> RateLimiter::create(const RateLimitPolicy& policy) {
  // The constructor is private: std::make_shared cannot call it.
  std::shared_ptr<RateLimiter> l(new RateLimiter(policy));  // NOLINT(modernize-make-shared)
  for (const auto& text : policy.exempt) {
    auto r = parse_address_range(text);
    if (!r.ok()) return r.status();
    l->exempt_.push_back(*r);
  }
  // r requests a second drain r * 10^6 micro-requests in 1000 ms; a per-minute rate 60 times
  // slower.
  l->second_drain_ = uint64_t{policy.requests_per_second} * 1000;
  l->minute_drain_ = uint64_t{policy.requests_per_minute} * 1000 / 60;
  return l;
}

RateLimiter::Shard& RateLimiter::shard_of(const ClientAddress& a) {
  return shards_[absl::Hash<ClientAddress>{}(a) % kShards];
}

bool RateLimiter::drained(const Client& c, uint64_t now_ms) const {
  uint64_t elapsed = now_ms > c.last_ms ? now_ms - c.last_ms : 0;
  // The next request would find the excess at zero, as a new address does.
  return (!policy_.requests_per_second ||
          next_excess(c.second_excess, second_drain_, elapsed) == 0) &&
         (!policy_.requests_per_minute ||
          next_excess(c.minute_excess, minute_drain_, elapsed) == 0);
}

bool RateLimiter::make_room(Shard& s, uint64_t now_ms) {
  // Drained addresses lose nothing by being forgotten: they would start empty again.
  absl::erase_if(s.clients, [&](const auto& kv) {
    return kv.second.in_progress == 0 && drained(kv.second, now_ms);
  });
  if (s.clients.size() < kMaxClients / kShards) return true;
  auto oldest = s.clients.end();
  for (auto it = s.clients.begin(); it != s.clients.end(); ++it) {
    if (it->second.in_progress != 0) continue;
    if (oldest == s.clients.end() || it->second.last_ms < oldest->second.last_ms) oldest = it;
  }
  if (oldest == s.clients.end()) return false;
  s.clients.erase(oldest);
  return true;
}

RateLimiter::Verdict RateLimiter::admit(std::string_view client_ip, uint64_t now_ms,
                                        ClientAddress* address) {
  auto ip = parse_ip(client_ip);
  if (ip) *address = *ip;
  return admit(ip ? &*ip : nullptr, now_ms);
}

RateLimiter::Verdict RateLimiter::admit(const ClientAddress* address, uint64_t now_ms) {
  // Not an IP peer (a unix socket in tests): nothing to key on, as nginx skips an empty key.
  if (address == nullptr) return Verdict::kExempt;
  const ClientAddress& ip = *address;
  for (const auto& r : exempt_)
    if (r.contains(ip)) return Verdict::kExempt;
  Shard& s = shard_of(ip);
  absl::MutexLock lock(&s.mu);
  auto it = s.clients.find(ip);
  if (it == s.clients.end()) {
    if (s.clients.size() >= kMaxClients / kShards && !make_room(s, now_ms)) return Verdict::kRefuse;
    Client c;
    c.last_ms = now_ms;
    if (policy_.max_connections) c.in_progress = 1;
    s.clients.emplace(ip, c);
    return Verdict::kAdmit;
  }
  Client& c = it->second;
  if (policy_.max_connections && c.in_progress >= policy_.max_connections) return Verdict::kRefuse;
  uint64_t elapsed = now_ms > c.last_ms ? now_ms - c.last_ms : 0;
  uint64_t second = c.second_excess;
  uint64_t minute = c.minute_excess;
  if (policy_.requests_per_second) {
    second = next_excess(second, second_drain_, elapsed);
    if (second > uint64_t{policy_.requests_per_second} * policy_.burst_multiplier * kMicro)
      return Verdict::kRefuse;
  }
  if (policy_.requests_per_minute) {
    minute = next_excess(minute, minute_drain_, elapsed);
    if (minute > uint64_t{policy_.requests_per_minute} * policy_.burst_multiplier * kMicro)
      return Verdict::kRefuse;
  }
  c.second_excess = second;
  c.minute_excess = minute;
  c.last_ms = std::max(c.last_ms, now_ms);
  if (policy_.max_connections) ++c.in_progress;
  return Verdict::kAdmit;
}

void RateLimiter::release(const ClientAddress& address) {
  Shard& s = shard_of(address);
  absl::MutexLock lock(&s.mu);
  auto it = s.clients.find(address);
  if (it != s.clients.end() && it->second.in_progress > 0) --it->second.in_progress;
}

size_t RateLimiter::tracked() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    absl::MutexLock lock(&s.mu);
    n += s.clients.size();
  }
  return n;
}

void RateLimitZones::offer(const std::shared_ptr<RateLimiter>& zone) {
  previous_.emplace(zone->policy().zone, zone);
}

absl::StatusOr<std::shared_ptr<RateLimiter>> RateLimitZones::get(const RateLimitPolicy& policy) {
  if (auto it = current_.find(policy.zone); it != current_.end()) {
    if (!(it->second->policy() == policy))
      return absl::InvalidArgumentError(internal::cat(
          "rate_limit: zone ", internal::quote(policy.zone), " has two different policies"));
    return it->second;
  }
  std::shared_ptr<RateLimiter> zone;
  if (auto it = previous_.find(policy.zone);
      it != previous_.end() && it->second->policy() == policy)
    zone = it->second;
  if (!zone) {
    auto made = RateLimiter::create(policy);
    if (!made.ok()) return made.status();
    zone = *std::move(made);
  }
  current_.emplace(policy.zone, zone);
  return zone;
}

}  // namespace kop::proxy
