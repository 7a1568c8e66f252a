// kop/client/retry.h: retrying a read-modify-write on optimistic concurrency conflicts.
//
// retry_on_conflict(backoff, fn) runs fn (typically: get the object, change it, update it) and
// runs it again, after a backoff, as long as it fails with a 409 Conflict (is_conflict), up to
// backoff.steps times — client-go's retry.RetryOnConflict. Any other result is returned at once;
// after the last step the conflict itself is returned.
//
// Threading: runs on the caller's thread; sleeps between attempts.
#pragma once

#include <functional>

#include <absl/status/status.h>
#include <absl/time/time.h>

namespace kop::client {

// Exponential backoff: delays duration, duration*factor, ... each with up to `jitter` * delay
// added at random, capped at `cap`.
struct Backoff {
  absl::Duration duration = absl::Milliseconds(10);  // default 10 ms
  double factor = 1.0;                               // default 1.0 (constant)
  double jitter = 0.1;                               // default 0.1
  int steps = 5;                                     // default 5 attempts
  absl::Duration cap = absl::Seconds(10);            // default 10 s
};

// client-go's retry.DefaultRetry: 5 steps, 10 ms, factor 1, jitter 0.1.
inline constexpr Backoff kDefaultRetry{};
// client-go's retry.DefaultBackoff: 4 steps, 10 ms, factor 5, jitter 0.1.
inline constexpr Backoff kDefaultBackoff{absl::Milliseconds(10), 5.0, 0.1, 4, absl::Seconds(10)};

// The delay before attempt `attempt` (1 = the first retry).
absl::Duration backoff_delay(const Backoff& backoff, int attempt);

// Runs `fn` until it returns anything but a Conflict, at most backoff.steps times.
absl::Status retry_on_conflict(const Backoff& backoff, const std::function<absl::Status()>& fn);

// Same, retrying whenever `retriable(status)` is true (client-go's retry.OnError).
absl::Status retry_on_error(const Backoff& backoff,
                            const std::function<bool(const absl::Status&)>& retriable,
                            const std::function<absl::Status()>& fn);

}  // namespace kop::client
