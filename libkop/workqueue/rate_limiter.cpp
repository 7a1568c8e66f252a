#include "kop/workqueue/rate_limiter.h"

#include <cmath>
#include <limits>

namespace kop::workqueue {

Duration exponential_backoff(Duration base, Duration max, int exponent) {
  // In floating point, so a large exponent saturates instead of overflowing.
  double backoff = static_cast<double>(base.count()) * std::pow(2.0, exponent);
  if (!(backoff < static_cast<double>(std::numeric_limits<Duration::rep>::max()))) return max;
  Duration d(static_cast<Duration::rep>(backoff));
  return d > max ? max : d;
}

TokenBucket::TokenBucket(BucketOptions options)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : &real_clock()),
      tokens_(options.burst),
      last_(clock_->now()) {}

Duration TokenBucket::reserve() {
  const double qps = options_.qps;
  if (std::isinf(qps) && qps > 0) return Duration::zero();
  if (options_.burst <= 0) return Duration::max();
  absl::MutexLock lock(&mu_);
  TimePoint now = clock_->now();
  TimePoint last = now < last_ ? now : last_;
  double tokens = tokens_;
  if (qps > 0) {
    tokens += std::chrono::duration<double>(now - last).count() * qps;
    tokens = std::min(tokens, static_cast<double>(options_.burst));
  }
  tokens -= 1;
  Duration wait = Duration::zero();
  if (tokens < 0) {
    if (qps <= 0) return Duration::max();  // the debt would never be repaid
    wait = Duration(static_cast<Duration::rep>(-tokens / qps * 1e9));
  }
  tokens_ = tokens;
  last_ = now;
  return wait;
}

}  // namespace kop::workqueue
