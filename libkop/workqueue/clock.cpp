#include "kop/workqueue/clock.h"

#include <algorithm>

#include <absl/time/time.h>

namespace kop::workqueue {

TimePoint add_saturating(TimePoint now, Duration d) {
  if (d <= Duration::zero()) return now;
  if (d >= TimePoint::max() - now) return TimePoint::max();
  return now + d;
}

namespace {

class RealWaiter : public Waiter {
 public:
  void wait_until(TimePoint deadline) override {
    absl::MutexLock lock(&mu_);
    while (!notified_) {
      if (deadline == TimePoint::max()) {
        cv_.Wait(&mu_);
        continue;
      }
      TimePoint now = real_clock().now();
      if (now >= deadline) break;
      cv_.WaitWithTimeout(&mu_, absl::FromChrono(deadline - now));
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

TimePoint RealClock::now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
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
  void wait_until(TimePoint deadline) override {
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

FakeClock::FakeClock(TimePoint start) : now_ns_(start.time_since_epoch().count()) {}

FakeClock::~FakeClock() = default;

TimePoint FakeClock::now() const {
  return TimePoint(Duration(now_ns_.load()));
}

std::unique_ptr<Waiter> FakeClock::new_waiter() {
  auto w = std::make_unique<FakeWaiter>(this);
  absl::MutexLock lock(&mu_);
  waiters_.push_back(w.get());
  return w;
}

void FakeClock::step(Duration d) {
  absl::MutexLock lock(&mu_);  // read and write under the lock, so concurrent steps add up
  now_ns_.store(now_ns_.load() + d.count());
  for (FakeWaiter* w : waiters_) w->time_moved();
}

void FakeClock::set(TimePoint t) {
  absl::MutexLock lock(&mu_);
  now_ns_.store(t.time_since_epoch().count());
  for (FakeWaiter* w : waiters_) w->time_moved();
}

int FakeClock::waiter_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(waiters_.size());
}

}  // namespace kop::workqueue
