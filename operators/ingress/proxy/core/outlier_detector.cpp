#include "kop/proxy/outlier_detector.h"

#include <algorithm>

namespace kop::proxy {

OutlierDetector::OutlierDetector(const OutlierDetectionConfig& outlier,
                                 const HealthCheckConfig* health_check, std::size_t num_endpoints)
    : config_(outlier),
      size_(num_endpoints),
      state_(std::make_unique<EndpointState[]>(num_endpoints == 0 ? 1 : num_endpoints)) {
  if (health_check != nullptr) {
    healthy_threshold_ = std::max<uint32_t>(1, health_check->healthy_threshold);
    unhealthy_threshold_ = std::max<uint32_t>(1, health_check->unhealthy_threshold);
  }
}

bool OutlierDetector::report(std::size_t i, UpstreamResult result, MonoTime now) {
  if (i >= size_) return false;
  EndpointState& s = state_[i];
  if (result == UpstreamResult::kSuccess) {
    // Avoid writing shared cache lines when nothing changes (the common case).
    if (s.consecutive_5xx.load(std::memory_order_relaxed) != 0)
      s.consecutive_5xx.store(0, std::memory_order_relaxed);
    if (s.consecutive_connect_failures.load(std::memory_order_relaxed) != 0)
      s.consecutive_connect_failures.store(0, std::memory_order_relaxed);
    return false;
  }
  if (!config_.enabled) return false;
  bool trip = false;
  uint32_t n5 = s.consecutive_5xx.fetch_add(1, std::memory_order_relaxed) + 1;
  if (config_.consecutive_5xx != 0 && n5 >= config_.consecutive_5xx) trip = true;
  if (result == UpstreamResult::kConnectFailure || result == UpstreamResult::kConnectTimeout) {
    uint32_t nc = s.consecutive_connect_failures.fetch_add(1, std::memory_order_relaxed) + 1;
    if (config_.consecutive_connect_failures != 0 && nc >= config_.consecutive_connect_failures)
      trip = true;
  }
  if (!trip || is_ejected(i, now)) return false;
  return try_eject(i, now);
}

bool OutlierDetector::try_eject(std::size_t i, MonoTime now) {
  // A cluster's only endpoint stays: ejecting it would answer 503 to every request for the
  // ejection time (nginx ignores max_fails for a single server; Envoy's panic mode keeps
  // sending to it).
  if (config_.max_ejection_percent == 0 || size_ <= 1) return false;
  std::size_t ejected = ejected_count(now);
  if (ejected > 0 &&
      (ejected + 1) * 100 > static_cast<std::size_t>(config_.max_ejection_percent) * size_)
    return false;
  EndpointState& s = state_[i];
  int64_t prev_until = s.ejected_until.load(std::memory_order_relaxed);
  int64_t now_rep = now.time_since_epoch().count();
  if (prev_until > now_rep) return false;
  // Backoff level: reset after a quiet period of max_ejection_time since the last ejection ended.
  uint32_t level = s.level.load(std::memory_order_relaxed);
  auto max_rep = std::chrono::duration_cast<MonoClock::duration>(config_.max_ejection_time).count();
  if (prev_until != 0 && now_rep - prev_until >= max_rep) level = 0;
  auto base = std::chrono::duration_cast<MonoClock::duration>(config_.base_ejection_time).count();
  int64_t duration = base;
  for (uint32_t k = 0; k < level && duration < max_rep; ++k) duration *= 2;
  duration = std::min<int64_t>(duration, max_rep);
  if (!s.ejected_until.compare_exchange_strong(prev_until, now_rep + duration,
                                               std::memory_order_relaxed))
    return false;  // another worker ejected it first
  s.level.store(static_cast<uint16_t>(std::min<uint32_t>(level + 1, UINT16_MAX)),
                std::memory_order_relaxed);
  s.ejections.fetch_add(1, std::memory_order_relaxed);
  s.consecutive_5xx.store(0, std::memory_order_relaxed);
  s.consecutive_connect_failures.store(0, std::memory_order_relaxed);
  return true;
}

HealthTransition OutlierDetector::report_health_check(std::size_t i, bool success) {
  if (i >= size_) return HealthTransition::kNone;
  EndpointState& s = state_[i];
  if (success) {
    s.hc_failures.store(0, std::memory_order_relaxed);
    uint32_t n = s.hc_successes.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!s.healthy.load(std::memory_order_relaxed) && n >= healthy_threshold_) {
      s.healthy.store(true, std::memory_order_relaxed);
      return HealthTransition::kBecameHealthy;
    }
  } else {
    s.hc_successes.store(0, std::memory_order_relaxed);
    uint32_t n = s.hc_failures.fetch_add(1, std::memory_order_relaxed) + 1;
    if (s.healthy.load(std::memory_order_relaxed) && n >= unhealthy_threshold_) {
      s.healthy.store(false, std::memory_order_relaxed);
      return HealthTransition::kBecameUnhealthy;
    }
  }
  return HealthTransition::kNone;
}

std::size_t OutlierDetector::ejected_count(MonoTime now) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < size_; ++i) n += is_ejected(i, now) ? 1 : 0;
  return n;
}

std::size_t OutlierDetector::available_count(MonoTime now) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < size_; ++i) n += available(i, now) ? 1 : 0;
  return n;
}

void OutlierDetector::copy_state_from(const OutlierDetector& other, std::size_t from,
                                      std::size_t to) {
  const EndpointState& a = other.state_[from];
  EndpointState& b = state_[to];
  auto copy = [](const auto& x, auto& y) {
    y.store(x.load(std::memory_order_relaxed), std::memory_order_relaxed);
  };
  copy(a.consecutive_5xx, b.consecutive_5xx);
  copy(a.consecutive_connect_failures, b.consecutive_connect_failures);
  copy(a.ejected_until, b.ejected_until);
  copy(a.level, b.level);
  copy(a.ejections, b.ejections);
  copy(a.healthy, b.healthy);
  copy(a.hc_successes, b.hc_successes);
  copy(a.hc_failures, b.hc_failures);
}

}  // namespace kop::proxy
