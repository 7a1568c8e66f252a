#include "kop/cache/backoff.h"

#include <algorithm>

namespace kop::cache {

Backoff::Backoff(const Clock& clock, BackoffOptions options, uint64_t seed)
    : clock_(clock),
      options_(options),
      base_(options.initial),
      rng_(seed != 0 ? seed : std::random_device{}()) {}

absl::Duration Backoff::next() {
  const absl::Time now = clock_.now();
  // A long quiet stretch since the last delay means the loop was healthy: start over.
  if (now - last_handed_out_ > options_.reset_after) base_ = options_.initial;
  last_handed_out_ = now;
  const absl::Duration base = base_;
  base_ = std::min(base_ * options_.factor, options_.max);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  return base + base * (options_.jitter * unit(rng_));
}

}  // namespace kop::cache
