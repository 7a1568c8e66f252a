// LoadBalancer: picks an endpoint of a compiled Cluster for one request attempt.
//
// One LoadBalancer per worker per cluster (make_load_balancer), holding that worker's own
// round-robin cursor, EDF schedule, random generator and in-flight counts, so choose() takes
// no lock and does not allocate. It consults the cluster's shared OutlierDetector and skips
// endpoints that are ejected or unhealthy.
//
// Exclusion (retries to a different endpoint): endpoints listed in LbContext::exclude are
// avoided; when every available endpoint is excluded, an excluded available one is returned
// (retrying the same endpoint beats failing). When no endpoint is available, choose() returns
// kNoEndpoint and the server answers 503.
//
// Policies: round_robin (ignores weights), weighted_round_robin (earliest deadline first, smooth),
// least_request (two random candidates, fewer in-flight/weight wins; in-flight counted per worker
// through on_request_start/on_request_end), random (weighted), ring_hash and maglev (consistent
// on LbContext::hash; without a hash they pick at random; an unavailable or excluded pick walks
// the ring / rehashes deterministically). ring_hash with ClusterConfig::ring_subset_size > 1
// (ingress-nginx's upstream-hash-by-subset): the key's subset is the first that many distinct
// endpoints clockwise from its point, and each request takes one of its available members at
// random; a subset with none left falls back to the ring walk.
// Threading: a LoadBalancer belongs to one worker thread. The Cluster must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kop/proxy/cluster.h"
#include "kop/proxy/outlier_detector.h"

namespace kop::proxy {

inline constexpr uint32_t kNoEndpoint = UINT32_MAX;
// The largest ClusterConfig::ring_subset_size (parse_config refuses more).
inline constexpr uint32_t kMaxRingSubset = 256;

struct LbContext {
  MonoTime now{};                     // for ejection checks
  bool has_hash = false;              // ring_hash / maglev: use `hash`
  uint64_t hash = 0;                  // from Cluster::hash_key()
  std::span<const uint32_t> exclude;  // endpoints already tried by this request
  // Cookie affinity: this endpoint is returned when it is available and not excluded.
  uint32_t preferred = UINT32_MAX;
};

class LoadBalancer {
 public:
  // `seed` makes the random choices reproducible in tests; 0 picks a random seed.
  explicit LoadBalancer(const Cluster& cluster, uint64_t seed = 0);

  // Returns an endpoint index into cluster().endpoints, or kNoEndpoint.
  uint32_t choose(const LbContext& ctx);

  // In-flight bookkeeping for least_request (cheap no-ops for other policies' purposes).
  void on_request_start(uint32_t endpoint) { ++active_[endpoint]; }
  void on_request_end(uint32_t endpoint) {
    if (active_[endpoint] > 0) --active_[endpoint];
  }
  uint32_t active(uint32_t endpoint) const { return active_[endpoint]; }

  const Cluster& cluster() const { return cluster_; }

  // A uniformly distributed 64-bit number from this worker's generator (also used to pick
  // among weighted route clusters).
  uint64_t next_random();

 private:
  bool usable(uint32_t i, const LbContext& ctx) const;
  bool excluded(uint32_t i, const LbContext& ctx) const;
  uint32_t pick_round_robin(const LbContext& ctx);
  uint32_t pick_weighted_round_robin(const LbContext& ctx);
  uint32_t pick_least_request(const LbContext& ctx);
  uint32_t pick_random(const LbContext& ctx);
  uint32_t pick_ring(const LbContext& ctx);
  // A usable member of the subset starting at ring position `pos`, or kNoEndpoint.
  uint32_t pick_subset(const LbContext& ctx, std::size_t pos);
  uint32_t pick_maglev(const LbContext& ctx);
  uint32_t fallback_scan(const LbContext& ctx, uint32_t start);
  uint32_t random_index(uint32_t n);

  const Cluster& cluster_;
  uint64_t rng_state_;
  uint32_t rr_next_ = 0;
  // EDF: a binary min-heap of (deadline of the next pick, endpoint); picking advances the top's
  // deadline by 1/weight and sifts it down.
  struct EdfEntry {
    double deadline;
    uint32_t endpoint;
  };
  void edf_advance_top();
  std::vector<EdfEntry> edf_heap_;
  std::vector<double> edf_period_;
  std::vector<uint32_t> active_;
};

std::unique_ptr<LoadBalancer> make_load_balancer(const Cluster& cluster, uint64_t seed = 0);

}  // namespace kop::proxy
