#include "kop/workqueue/rate_limiter.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace kop::workqueue {

absl::Duration exponential_backoff(absl::Duration base, absl::Duration max, int exponent) {
  // In floating point, so a large exponent saturates instead of overflowing; in whole
  // nanoseconds, so the doublings are exact (5 ms * 2^17 is 655.36 s, not a hair less).
  double backoff = static_cast<double>(absl::ToInt64Nanoseconds(base)) * std::pow(2.0, exponent);
  if (!(backoff < static_cast<double>(std::numeric_limits<int64_t>::max()))) return max;
  absl::Duration d = absl::Nanoseconds(static_cast<int64_t>(backoff));
  return d > max ? max : d;
}

TokenBucket::TokenBucket(BucketOptions options)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : &real_clock()),
      tokens_(options.burst),
      last_(clock_->now()) {}

absl::Duration TokenBucket::reserve() {
  const double qps = options_.qps;
  if (std::isinf(qps) && qps > 0) return absl::ZeroDuration();
  if (options_.burst <= 0) return absl::InfiniteDuration();
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_->now();
  absl::Time last = now < last_ ? now : last_;
  double tokens = tokens_;
  if (qps > 0) {
    tokens += static_cast<double>(absl::ToUnixNanos(now) - absl::ToUnixNanos(last)) / 1e9 * qps;
    tokens = std::min(tokens, static_cast<double>(options_.burst));
  }
  tokens -= 1;
  absl::Duration wait = absl::ZeroDuration();
  if (tokens < 0) {
    if (qps <= 0) return absl::InfiniteDuration();  // the debt would never be repaid
    wait = absl::Nanoseconds(static_cast<int64_t>(-tokens / qps * 1e9));
  }
  tokens_ = tokens;
  last_ = now;
  return wait;
}

}  // namespace kop::workqueue
