// Helpers shared by the cache tests.
#pragma once

#include <absl/time/clock.h>
#include <absl/time/time.h>

#include <functional>

namespace kop::cache::testing {

// Polls `cond` until true or `timeout` passes; returns its last value.
inline bool eventually(const std::function<bool()>& cond,
                       absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return cond();
}

}  // namespace kop::cache::testing
