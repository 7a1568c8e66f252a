#include "kop/client/retry.h"

#include <algorithm>
#include <random>

#include "kop/client/errors.h"

namespace kop::client {

absl::Duration backoff_delay(const Backoff& backoff, int attempt) {
  absl::Duration d = backoff.duration;
  for (int i = 1; i < attempt && d < backoff.cap; ++i) d = d * backoff.factor;
  if (backoff.jitter > 0) {
    thread_local std::mt19937_64 rng(std::random_device{}());
    std::uniform_real_distribution<double> u(0.0, backoff.jitter);
    d += d * u(rng);
  }
  return std::min(d, backoff.cap);
}

absl::Status retry_on_error(const Backoff& backoff,
                            const std::function<bool(const absl::Status&)>& retriable,
                            const std::function<absl::Status()>& fn) {
  absl::Status last;
  for (int attempt = 0; attempt < std::max(backoff.steps, 1); ++attempt) {
    if (attempt > 0) absl::SleepFor(backoff_delay(backoff, attempt));
    last = fn();
    if (last.ok() || !retriable(last)) return last;
  }
  return last;
}

absl::Status retry_on_conflict(const Backoff& backoff, const std::function<absl::Status()>& fn) {
  return retry_on_error(
      backoff, [](const absl::Status& s) { return is_conflict(s); }, fn);
}

}  // namespace kop::client
