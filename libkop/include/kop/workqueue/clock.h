// kop/workqueue/clock.h: the time source of the workqueue, injectable so tests are exact.
//
// A Clock tells the time and makes Waiters: a Waiter is where one thread sleeps until a deadline
// on that clock or until another thread calls notify(). Times are absl::Time and delays
// absl::Duration, libkop's one duration type; absl::InfiniteFuture() as a deadline means never,
// and `now() + d` saturates there for absl::InfiniteDuration() (a limiter's "never").
// RealClock is monotonic: its times are std::chrono::steady_clock's reading placed after
// absl::UnixEpoch(), so they compare and subtract with each other but are not the wall time
// (never format one as a date). FakeClock only moves when a test calls step() or set(), and
// wakes its waiters when it does, so a DelayingQueue under a FakeClock releases items exactly
// when the test moves time, without sleeping.
//
// Threads: now() from any thread. A Waiter's wait_until() is called by one thread (its owner);
// notify() by any thread. FakeClock::step()/set() from any thread. A clock must outlive every
// Waiter it made and every queue using it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

namespace kop::workqueue {

class Waiter {
 public:
  virtual ~Waiter() = default;
  // Returns when the clock reaches `deadline` (absl::InfiniteFuture(): never) or notify() has
  // been called since the previous wait_until returned. A notify() before the wait is not lost.
  virtual void wait_until(absl::Time deadline) = 0;
  virtual void notify() = 0;
};

template <typename T>
class Queue;
template <typename T>
class DelayingQueue;

class Clock {
 public:
  virtual ~Clock() = default;
  absl::Time now() const { return absl::FromUnixNanos(now_nanos()); }
  virtual std::unique_ptr<Waiter> new_waiter() = 0;

 private:
  template <typename T>
  friend class Queue;
  template <typename T>
  friend class DelayingQueue;
  // What a clock implements: its time in nanoseconds after absl::UnixEpoch(). The queues read
  // it directly and keep it per item: a read through now() and back (absl::ToUnixNanos) costs
  // about 30 instructions, three times per item of a named queue.
  virtual int64_t now_nanos() const = 0;
};

class RealClock : public Clock {
 public:
  std::unique_ptr<Waiter> new_waiter() override;

 private:
  int64_t now_nanos() const override;
};

// The process-wide real clock: the default of every queue and rate limiter.
Clock& real_clock();

class FakeClock : public Clock {
 public:
  // Starts at `start`. Defaults to a fixed point (one hour after the Unix epoch), so tests that
  // print times are stable. Its time is kept in nanoseconds: it stays within the years
  // 1677-2262, which step() and set() saturate at.
  explicit FakeClock(absl::Time start = absl::UnixEpoch() + absl::Hours(1));
  ~FakeClock() override;

  std::unique_ptr<Waiter> new_waiter() override;

  // Moves time forward by `d` (or to `t`) and wakes every waiter to re-check its deadline.
  void step(absl::Duration d);
  void set(absl::Time t);
  // How many waiters exist (e.g. the DelayingQueue's waiting thread has started).
  int waiter_count() const;

 private:
  class FakeWaiter;
  int64_t now_nanos() const override { return now_ns_.load(); }
  std::atomic<int64_t> now_ns_;
  mutable absl::Mutex mu_;
  std::vector<FakeWaiter*> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::workqueue
