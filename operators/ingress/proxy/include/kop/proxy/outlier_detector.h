// OutlierDetector: passive outlier ejection and active health-check state for one cluster's
// endpoints.
//
// Design choice: the state is SHARED by all workers. Every compiled Cluster owns one detector;
// workers report results into it with relaxed atomics (no locks, no allocation), so a failure
// seen by one worker protects the requests of every worker. Counters are "consecutive" per
// endpoint across workers: a success anywhere resets them. Ejection is decided with a
// compare-and-swap, so concurrent reports eject an endpoint once.
//
// Rules:
//  - consecutive_5xx counts 5xx responses and locally-originated failures (connect failure,
//    timeout, reset); consecutive_connect_failures counts connect failures and connect
//    timeouts only. A success resets both. Reaching either threshold (0 = disabled) ejects.
//  - The ejection lasts base_ejection_time * 2^level, capped at max_ejection_time; level
//    grows by one at each ejection and returns to 0 when the endpoint has stayed un-ejected
//    for max_ejection_time since its last ejection ended.
//  - At most max_ejection_percent of the endpoints are ejected at once, but one endpoint may
//    always be ejected (when the percentage is non-zero).
//  - Un-ejection is lazy: an endpoint is ejected while now < ejected_until.
//  - Active health checks (driven by the server) flip `healthy` after healthy_threshold
//    consecutive successes / unhealthy_threshold consecutive failures. Endpoints start healthy.
//  - available(i, now) = healthy && !ejected.
// Time is always passed in (`now`), so tests drive it with a fake clock.
// Threading: every method is thread-safe and lock-free.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "kop/proxy/config.h"

namespace kop::proxy {

using MonoClock = std::chrono::steady_clock;
using MonoTime = MonoClock::time_point;

enum class UpstreamResult {
  kSuccess,         // a non-5xx response
  kHttp5xx,         // a 5xx response from the endpoint
  kConnectFailure,  // connection refused / unreachable
  kConnectTimeout,  // connect did not complete within connect_timeout
  kTimeout,         // response timeout after the request was sent
  kReset,           // connection reset or closed before a complete response
};

// Outcome of a health check probe as a state transition.
enum class HealthTransition { kNone, kBecameHealthy, kBecameUnhealthy };

class OutlierDetector {
 public:
  OutlierDetector(const OutlierDetectionConfig& outlier, const HealthCheckConfig* health_check,
                  std::size_t num_endpoints);
  OutlierDetector(const OutlierDetector&) = delete;
  OutlierDetector& operator=(const OutlierDetector&) = delete;

  std::size_t size() const { return size_; }

  // Records the result of a request to endpoint i. Returns true when this report ejected it.
  bool report(std::size_t i, UpstreamResult result, MonoTime now);

  // Records an active health-check probe result.
  HealthTransition report_health_check(std::size_t i, bool success);

  bool is_ejected(std::size_t i, MonoTime now) const {
    return now.time_since_epoch().count() < state_[i].ejected_until.load(std::memory_order_relaxed);
  }
  bool is_healthy(std::size_t i) const { return state_[i].healthy.load(std::memory_order_relaxed); }
  bool available(std::size_t i, MonoTime now) const { return is_healthy(i) && !is_ejected(i, now); }

  std::size_t ejected_count(MonoTime now) const;
  std::size_t available_count(MonoTime now) const;
  // How many times endpoint i was ejected since the detector was created (metrics).
  uint64_t ejections(std::size_t i) const {
    return state_[i].ejections.load(std::memory_order_relaxed);
  }
  // The current backoff level of endpoint i (0 after a quiet period).
  uint32_t ejection_level(std::size_t i) const {
    return state_[i].level.load(std::memory_order_relaxed);
  }
  MonoTime ejected_until(std::size_t i) const {
    return MonoTime(MonoClock::duration(state_[i].ejected_until.load(std::memory_order_relaxed)));
  }

  // Copies the state of endpoint `from_index` of `other` into endpoint `to_index` (used when a
  // cluster is recompiled with changed endpoints: surviving endpoints keep their state).
  void copy_state_from(const OutlierDetector& other, std::size_t from_index, std::size_t to_index);

 private:
  // 32 bytes, packed: a success only reads it (the counters are stored only when not zero),
  // so a cache line per endpoint bought little and cost 6.4 MB at 200k endpoints.
  struct EndpointState {
    std::atomic<int64_t> ejected_until{0};  // MonoTime rep; 0 = never ejected
    std::atomic<uint32_t> consecutive_5xx{0};
    std::atomic<uint32_t> consecutive_connect_failures{0};
    std::atomic<uint32_t> ejections{0};
    std::atomic<uint32_t> hc_successes{0};
    std::atomic<uint32_t> hc_failures{0};
    std::atomic<uint16_t> level{0};  // saturates (the ejection time is capped long before)
    std::atomic<bool> healthy{true};
  };
  static_assert(sizeof(EndpointState) == 32);
  bool try_eject(std::size_t i, MonoTime now);

  OutlierDetectionConfig config_;
  uint32_t healthy_threshold_ = 1;
  uint32_t unhealthy_threshold_ = 1;
  std::size_t size_;
  std::unique_ptr<EndpointState[]> state_;
};

}  // namespace kop::proxy
