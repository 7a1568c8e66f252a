#include "kop/client/rate_limiter.h"

#include <algorithm>

namespace kop::client {

TokenBucket::TokenBucket(double qps, int burst)
    : qps_(qps), burst_(std::max(burst, 1)), tokens_(std::max(burst, 1)), last_(absl::Now()) {}

void TokenBucket::refill_locked(absl::Time now) {
  if (now > last_) {
    tokens_ = std::min<double>(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * qps_);
    last_ = now;
  }
}

bool TokenBucket::try_take() {
  if (!enabled()) return true;
  absl::MutexLock lock(&mu_);
  refill_locked(absl::Now());
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

absl::Duration TokenBucket::take() {
  if (!enabled()) return absl::ZeroDuration();
  absl::Duration wait;
  {
    // Reserve the token now (tokens_ may go negative): later callers queue behind us, and the
    // wait is exactly the time until the bucket has refilled our share.
    absl::MutexLock lock(&mu_);
    refill_locked(absl::Now());
    tokens_ -= 1;
    if (tokens_ >= 0) return absl::ZeroDuration();
    wait = absl::Seconds(-tokens_ / qps_);
  }
  absl::SleepFor(wait);
  return wait;
}

}  // namespace kop::client
