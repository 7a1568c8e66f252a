// kop/workqueue/clock.h: the time source of the workqueue, injectable so tests are exact.
//
// A Clock tells the time and makes Waiters: a Waiter is where one thread sleeps until a deadline
// on that clock or until another thread calls notify(). RealClock uses std::chrono::steady_clock;
// FakeClock only moves when a test calls step() or set(), and wakes its waiters when it does, so
// a DelayingQueue under a FakeClock releases items exactly when the test moves time, without
// sleeping.
//
// Threads: now() from any thread. A Waiter's wait_until() is called by one thread (its owner);
// notify() by any thread. FakeClock::step()/set() from any thread. A clock must outlive every
// Waiter it made and every queue using it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

namespace kop::workqueue {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

// now + d, saturating at TimePoint::max() (rate limiters may return Duration::max()).
TimePoint add_saturating(TimePoint now, Duration d);

class Waiter {
 public:
  virtual ~Waiter() = default;
  // Returns when the clock reaches `deadline` (TimePoint::max(): never) or notify() has been
  // called since the previous wait_until returned. A notify() before the wait is not lost.
  virtual void wait_until(TimePoint deadline) = 0;
  virtual void notify() = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  virtual std::unique_ptr<Waiter> new_waiter() = 0;
};

class RealClock : public Clock {
 public:
  TimePoint now() const override;
  std::unique_ptr<Waiter> new_waiter() override;
};

// The process-wide real clock: the default of every queue and rate limiter.
Clock& real_clock();

class FakeClock : public Clock {
 public:
  // Starts at `start`. Defaults to an arbitrary fixed point (one hour after the epoch of
  // TimePoint), so tests that print times are stable.
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::hours(1)));
  ~FakeClock() override;

  TimePoint now() const override;
  std::unique_ptr<Waiter> new_waiter() override;

  // Moves time forward by `d` (or to `t`) and wakes every waiter to re-check its deadline.
  void step(Duration d);
  void set(TimePoint t);
  // How many waiters exist (e.g. the DelayingQueue's waiting thread has started).
  int waiter_count() const;

 private:
  class FakeWaiter;
  std::atomic<int64_t> now_ns_;
  mutable absl::Mutex mu_;
  std::vector<FakeWaiter*> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::workqueue
