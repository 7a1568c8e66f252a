// LoadBalancer: per-worker endpoint choice for each policy (see load_balancer.h).
#include "kop/proxy/load_balancer.h"

#include <algorithm>
#include <array>
#include <random>

namespace kop::proxy {
namespace {

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

LoadBalancer::LoadBalancer(const Cluster& cluster, uint64_t seed)
    : cluster_(cluster), active_(cluster.endpoints.size(), 0) {
  if (seed == 0)
    seed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  rng_state_ = seed;
  std::size_t n = cluster.endpoints.size();
  // Start round robin at a random place so workers do not move in lockstep.
  rr_next_ = n == 0 ? 0 : static_cast<uint32_t>(next_random() % n);
  if (cluster.lb_policy == LbPolicy::kWeightedRoundRobin && n > 0) {
    edf_period_.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      edf_period_[i] = 1.0 / cluster.endpoints[i].weight;
      // A small random phase in [0, period) breaks ties differently per worker.
      double phase = edf_period_[i] * (static_cast<double>(next_random() % 1024) / 1024.0);
      edf_heap_.push_back(EdfEntry{phase, i});
    }
    std::make_heap(edf_heap_.begin(), edf_heap_.end(), [](const EdfEntry& a, const EdfEntry& b) {
      return a.deadline > b.deadline || (a.deadline == b.deadline && a.endpoint > b.endpoint);
    });
  }
}

void LoadBalancer::edf_advance_top() {
  // Replace-top: the root's deadline grows, sift it down (one pass instead of pop + push).
  EdfEntry* h = edf_heap_.data();
  std::size_t n = edf_heap_.size();
  EdfEntry moving = h[0];
  moving.deadline += edf_period_[moving.endpoint];
  auto less = [](const EdfEntry& a, const EdfEntry& b) {
    return a.deadline < b.deadline || (a.deadline == b.deadline && a.endpoint < b.endpoint);
  };
  std::size_t i = 0;
  while (true) {
    std::size_t l = 2 * i + 1;
    if (l >= n) break;
    std::size_t c = (l + 1 < n && less(h[l + 1], h[l])) ? l + 1 : l;
    if (!less(h[c], moving)) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = moving;
}

uint64_t LoadBalancer::next_random() {
  return splitmix(rng_state_);
}

uint32_t LoadBalancer::random_index(uint32_t n) {
  // Lemire's multiply-shift: unbiased enough for load balancing and division-free.
  return static_cast<uint32_t>((static_cast<unsigned __int128>(next_random()) * n) >> 64);
}

bool LoadBalancer::excluded(uint32_t i, const LbContext& ctx) const {
  for (uint32_t e : ctx.exclude)
    if (e == i) return true;
  return false;
}

bool LoadBalancer::usable(uint32_t i, const LbContext& ctx) const {
  return cluster_.outlier->available(i, ctx.now) && !excluded(i, ctx);
}

// Linear scan from `start` for an available endpoint: first a non-excluded one, else an
// excluded one. Used when the policy's own pick was unusable.
uint32_t LoadBalancer::fallback_scan(const LbContext& ctx, uint32_t start) {
  uint32_t n = static_cast<uint32_t>(cluster_.endpoints.size());
  uint32_t excluded_candidate = kNoEndpoint;
  for (uint32_t k = 0; k < n; ++k) {
    uint32_t i = start + k < n ? start + k : start + k - n;
    if (!cluster_.outlier->available(i, ctx.now)) continue;
    if (!excluded(i, ctx)) return i;
    if (excluded_candidate == kNoEndpoint) excluded_candidate = i;
  }
  return excluded_candidate;
}

uint32_t LoadBalancer::choose(const LbContext& ctx) {
  if (cluster_.endpoints.empty()) return kNoEndpoint;
  if (ctx.preferred < cluster_.endpoints.size() && usable(ctx.preferred, ctx)) return ctx.preferred;
  switch (cluster_.lb_policy) {
    case LbPolicy::kRoundRobin:
      return pick_round_robin(ctx);
    case LbPolicy::kWeightedRoundRobin:
      return pick_weighted_round_robin(ctx);
    case LbPolicy::kLeastRequest:
      return pick_least_request(ctx);
    case LbPolicy::kRandom:
      return pick_random(ctx);
    case LbPolicy::kRingHash:
      return pick_ring(ctx);
    case LbPolicy::kMaglev:
      return pick_maglev(ctx);
  }
  return kNoEndpoint;
}

uint32_t LoadBalancer::pick_round_robin(const LbContext& ctx) {
  uint32_t n = static_cast<uint32_t>(cluster_.endpoints.size());
  uint32_t start = rr_next_ >= n ? 0 : rr_next_;
  uint32_t i = start;
  if (!usable(i, ctx)) i = fallback_scan(ctx, start);
  if (i != kNoEndpoint) rr_next_ = i + 1 >= n ? 0 : i + 1;
  return i;
}

uint32_t LoadBalancer::pick_weighted_round_robin(const LbContext& ctx) {
  uint32_t n = static_cast<uint32_t>(edf_heap_.size());
  // Take entries in deadline order; unusable ones are rescheduled as if picked (they keep
  // their place in the rotation), bounded by one pass over the endpoints.
  uint32_t excluded_candidate = kNoEndpoint;
  for (uint32_t attempt = 0; attempt < n; ++attempt) {
    uint32_t i = edf_heap_[0].endpoint;
    edf_advance_top();
    if (!cluster_.outlier->available(i, ctx.now)) continue;
    if (!excluded(i, ctx)) return i;
    if (excluded_candidate == kNoEndpoint) excluded_candidate = i;
  }
  return excluded_candidate;
}

uint32_t LoadBalancer::pick_least_request(const LbContext& ctx) {
  uint32_t n = static_cast<uint32_t>(cluster_.endpoints.size());
  if (n == 1) return fallback_scan(ctx, 0);
  uint32_t a = random_index(n);
  uint32_t b = random_index(n - 1);
  if (b >= a) ++b;  // two distinct candidates
  bool ua = usable(a, ctx);
  bool ub = usable(b, ctx);
  if (!ua && !ub) return fallback_scan(ctx, random_index(n));
  if (!ua) return b;
  if (!ub) return a;
  // Fewer in-flight per unit of weight wins: active_a / w_a < active_b / w_b.
  uint64_t la = static_cast<uint64_t>(active_[a]) * cluster_.endpoints[b].weight;
  uint64_t lb = static_cast<uint64_t>(active_[b]) * cluster_.endpoints[a].weight;
  if (la != lb) return la < lb ? a : b;
  return cluster_.endpoints[a].weight >= cluster_.endpoints[b].weight ? a : b;
}

uint32_t LoadBalancer::pick_random(const LbContext& ctx) {
  uint32_t n = static_cast<uint32_t>(cluster_.endpoints.size());
  uint32_t i;
  if (cluster_.cumulative_weights.empty()) {
    i = random_index(n);
  } else {
    uint64_t r = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(next_random()) * cluster_.total_weight) >> 64);
    i = static_cast<uint32_t>(std::upper_bound(cluster_.cumulative_weights.begin(),
                                               cluster_.cumulative_weights.end(), r) -
                              cluster_.cumulative_weights.begin());
  }
  if (usable(i, ctx)) return i;
  // Retry a few random draws before the deterministic scan (keeps the spread even).
  for (int k = 0; k < 3; ++k) {
    i = random_index(n);
    if (usable(i, ctx)) return i;
  }
  return fallback_scan(ctx, i);
}

uint32_t LoadBalancer::pick_ring(const LbContext& ctx) {
  const auto& ring = cluster_.ring;
  if (ring.empty()) return kNoEndpoint;
  uint64_t h = ctx.has_hash ? ctx.hash : next_random();
  std::size_t pos = static_cast<std::size_t>(
      std::lower_bound(ring.begin(), ring.end(), std::pair<uint64_t, uint32_t>(h, 0)) -
      ring.begin());
  if (cluster_.config.ring_subset_size > 1 && ctx.has_hash)
    if (uint32_t i = pick_subset(ctx, pos); i != kNoEndpoint) return i;
  // Walk clockwise to the first usable endpoint, so a removed or ejected endpoint only moves
  // its own keys.
  uint32_t excluded_candidate = kNoEndpoint;
  uint32_t n = static_cast<uint32_t>(cluster_.endpoints.size());
  uint32_t seen = 0;
  for (std::size_t k = 0; k < ring.size() && seen < 4 * n + 16; ++k, ++seen) {
    uint32_t i = ring[(pos + k) % ring.size()].second;
    if (!cluster_.outlier->available(i, ctx.now)) continue;
    if (!excluded(i, ctx)) return i;
    if (excluded_candidate == kNoEndpoint) excluded_candidate = i;
  }
  uint32_t i = fallback_scan(ctx, ring[pos % ring.size()].second);
  return i != kNoEndpoint ? i : excluded_candidate;
}

uint32_t LoadBalancer::pick_subset(const LbContext& ctx, std::size_t pos) {
  const auto& ring = cluster_.ring;
  uint32_t want = std::min({cluster_.config.ring_subset_size, kMaxRingSubset,
                            static_cast<uint32_t>(cluster_.endpoints.size())});
  std::array<uint32_t, kMaxRingSubset> members;
  uint32_t count = 0;
  for (std::size_t k = 0; k < ring.size() && count < want; ++k) {
    uint32_t i = ring[(pos + k) % ring.size()].second;
    if (std::find(members.begin(), members.begin() + count, i) == members.begin() + count)
      members[count++] = i;
  }
  uint32_t usable_count = 0;
  for (uint32_t k = 0; k < count; ++k)
    if (usable(members[k], ctx)) members[usable_count++] = members[k];
  if (usable_count == 0) return kNoEndpoint;
  return members[random_index(usable_count)];
}

uint32_t LoadBalancer::pick_maglev(const LbContext& ctx) {
  const auto& table = cluster_.maglev;
  if (table.empty()) return kNoEndpoint;
  uint64_t h = ctx.has_hash ? ctx.hash : next_random();
  uint32_t i = table[h % table.size()];
  if (usable(i, ctx)) return i;
  // Rehash deterministically: the same key lands on the same substitute in every worker.
  uint64_t x = h;
  for (int k = 0; k < 8; ++k) {
    i = table[splitmix(x) % table.size()];
    if (usable(i, ctx)) return i;
  }
  return fallback_scan(ctx, i);
}

std::unique_ptr<LoadBalancer> make_load_balancer(const Cluster& cluster, uint64_t seed) {
  return std::make_unique<LoadBalancer>(cluster, seed);
}

}  // namespace kop::proxy
