#include "kop/workqueue/clock.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace kop::workqueue {

namespace {

class RealWaiter : public Waiter {
 public:
  void wait_until(absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    while (!notified_) {
      if (deadline == absl::InfiniteFuture()) {
        cv_.Wait(&mu_);
        continue;
      }
      // A timeout, not WaitWithDeadline: the CondVar's deadlines are wall-clock times.
      absl::Time now = real_clock().now();
      if (now >= deadline) break;
      cv_.WaitWithTimeout(&mu_, deadline - now);
    }
    notified_ = false;
  }
  void notify() override {
    absl::MutexLock lock(&mu_);
    notified_ = true;
    cv_.Signal();
  }

 private:
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

int64_t RealClock::now_nanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<Waiter> RealClock::new_waiter() {
  return std::make_unique<RealWaiter>();
}

Clock& real_clock() {
  static RealClock clock;
  return clock;
}

// Sleeps until notified or until the fake time, read atomically, reaches the deadline. The
// clock takes the waiter's mutex before signalling, after storing the new time, so a waiter
// that read the old time is already waiting when the signal comes: no wakeup is lost.
class FakeClock::FakeWaiter : public Waiter {
 public:
  explicit FakeWaiter(FakeClock* clock) : clock_(clock) {}
  ~FakeWaiter() override {
    absl::MutexLock lock(&clock_->mu_);
    auto& w = clock_->waiters_;
    w.erase(std::remove(w.begin(), w.end(), this), w.end());
  }
  void wait_until(absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    while (!notified_ && clock_->now() < deadline) cv_.Wait(&mu_);
    notified_ = false;
  }
  void notify() override {
    absl::MutexLock lock(&mu_);
    notified_ = true;
    cv_.Signal();
  }
  void time_moved() {
    absl::MutexLock lock(&mu_);
    cv_.Signal();
  }

 private:
  FakeClock* clock_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

FakeClock::FakeClock(absl::Time start) : now_ns_(absl::ToUnixNanos(start)) {}

FakeClock::~FakeClock() = default;

std::unique_ptr<Waiter> FakeClock::new_waiter() {
  auto w = std::make_unique<FakeWaiter>(this);
  absl::MutexLock lock(&mu_);
  waiters_.push_back(w.get());
  return w;
}

void FakeClock::step(absl::Duration d) {
  absl::MutexLock lock(&mu_);  // read and write under the lock, so concurrent steps add up
  now_ns_.store(absl::ToUnixNanos(now() + d));
  for (FakeWaiter* w : waiters_) w->time_moved();
}

void FakeClock::set(absl::Time t) {
  absl::MutexLock lock(&mu_);
  now_ns_.store(absl::ToUnixNanos(t));
  for (FakeWaiter* w : waiters_) w->time_moved();
}

int FakeClock::waiter_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(waiters_.size());
}

}  // namespace kop::workqueue
