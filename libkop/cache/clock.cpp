#include "kop/cache/clock.h"

#include <thread>

namespace kop::cache {

void StopSignal::stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

bool StopSignal::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

bool StopSignal::wait_for(absl::Duration d) const {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopped_), d);
  return stopped_;
}

Clock& RealClock::instance() {
  static RealClock clock;
  return clock;
}

absl::Time FakeClock::now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

bool FakeClock::sleep(absl::Duration d, const StopSignal& stop) {
  {
    absl::MutexLock lock(&mu_);
    sleeps_.push_back(d);
    now_ += d;
  }
  // A retry loop under a fake clock would otherwise spin at full speed.
  return !stop.wait_for(absl::Milliseconds(1));
}

void FakeClock::advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

std::vector<absl::Duration> FakeClock::sleeps() const {
  absl::MutexLock lock(&mu_);
  return sleeps_;
}

}  // namespace kop::cache
