// kop/cache/clock.h: time and interruptible sleeping for the cache's retry loops.
//
// The reflector's backoff and the informer's resync read the time and sleep through a Clock, so
// tests swap in a FakeClock and check the delays without waiting for them. A sleep is always
// interruptible by a StopSignal: stopping a reflector never waits out a 30 s backoff.
//
// Threading: StopSignal and both clocks are safe to use from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <vector>

namespace kop::cache {

// A one-shot "stop" flag that sleepers can wait on.
class StopSignal {
 public:
  void stop();
  bool stopped() const;
  // Waits until stopped or `d` has passed (real time). Returns true when stopped.
  bool wait_for(absl::Duration d) const;

 private:
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time now() const = 0;
  // Sleeps `d` unless `stop` fires first. Returns false when stopped.
  virtual bool sleep(absl::Duration d, const StopSignal& stop) = 0;
};

// The process's clock (absl::Now, real sleeping).
class RealClock final : public Clock {
 public:
  absl::Time now() const override { return absl::Now(); }
  bool sleep(absl::Duration d, const StopSignal& stop) override { return !stop.wait_for(d); }
  // A process-wide instance (the default of every option that takes a Clock).
  static Clock& instance();
};

// A clock that only moves when told to. sleep() records the duration, advances the time by it
// and returns at once (yielding briefly so a tight retry loop cannot starve other threads).
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}
  absl::Time now() const override;
  bool sleep(absl::Duration d, const StopSignal& stop) override;
  void advance(absl::Duration d);
  // Every duration passed to sleep(), in order.
  std::vector<absl::Duration> sleeps() const;

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::cache
