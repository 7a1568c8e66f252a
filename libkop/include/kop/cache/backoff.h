// kop/cache/backoff.h: the reflector's exponential backoff with jitter.
//
// The same policy as client-go's reflector (wait.NewExponentialBackoffManager(800ms, 30s, 2min,
// 2.0, 1.0)): the first delay is 800 ms, each following one doubles up to 30 s, each is
// stretched by a random factor in [1, 1 + jitter), and the sequence starts again from 800 ms
// when the previous delay was handed out more than `reset_after` (2 min) ago, i.e. after a
// healthy stretch. So a cache that loses its watch once an hour retries after ~1 s, while one
// hitting a 403 settles at one attempt every 30-60 s instead of hammering the API server.
//
// Threading: not thread-safe; one Backoff belongs to one retry loop.
#pragma once

#include <absl/time/time.h>

#include <random>

#include "kop/cache/clock.h"

namespace kop::cache {

struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(800);  // Defaults to 800 ms (client-go).
  absl::Duration max = absl::Seconds(30);            // Defaults to 30 s (client-go).
  absl::Duration reset_after = absl::Minutes(2);     // Defaults to 2 min (client-go).
  double factor = 2.0;                               // Defaults to 2.0.
  double jitter = 1.0;                               // Defaults to 1.0: each delay is d * [1, 2).
};

class Backoff {
 public:
  explicit Backoff(const Clock& clock, BackoffOptions options = {}, uint64_t seed = 0);
  // The next delay to wait, jitter included.
  absl::Duration next();
  // Starts the sequence again from `initial` (the loop just had a healthy stretch).
  void reset() { base_ = options_.initial; }
  // The un-jittered delay next() would start from (for logs and tests).
  absl::Duration current_base() const { return base_; }

 private:
  const Clock& clock_;
  BackoffOptions options_;
  absl::Duration base_;
  absl::Time last_handed_out_ = absl::InfinitePast();
  std::mt19937_64 rng_;
};

}  // namespace kop::cache
