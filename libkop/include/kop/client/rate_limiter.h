// kop/client/rate_limiter.h: the client-side request rate limit (a token bucket).
//
// Every request of a RestClient, watches included, takes one token first, as client-go's
// flowcontrol token bucket does: a bucket of `burst` tokens refilled at `qps` per second, full
// at start. qps <= 0 disables the limit (take() never waits).
//
// Threading: take() and try_take() may be called from any number of threads; waiters are served
// in no particular order.
#pragma once

#include <functional>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

namespace kop::client {

class TokenBucket {
 public:
  // Defaults as client-go's rest.Config: 5 QPS, burst 10.
  explicit TokenBucket(double qps = 5.0, int burst = 10);

  // Blocks until a token is available, then takes it. Returns how long it waited.
  absl::Duration take() ABSL_LOCKS_EXCLUDED(mu_);
  // Takes a token when one is available now.
  bool try_take() ABSL_LOCKS_EXCLUDED(mu_);

  bool enabled() const { return qps_ > 0; }
  double qps() const { return qps_; }
  int burst() const { return burst_; }

 private:
  void refill_locked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double qps_;
  const int burst_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::client
