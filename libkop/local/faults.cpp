#include "kop/local/faults.h"

namespace kop::local {

void Faults::fail(std::string verb, int code, int times, std::string resource) {
  absl::MutexLock l(&mu_);
  rules_.push_back({std::move(verb), std::move(resource), code, times});
}

void Faults::set_latency(absl::Duration d) {
  absl::MutexLock l(&mu_);
  latency_ = d;
}

void Faults::close_watches_after(int events) {
  absl::MutexLock l(&mu_);
  close_after_ = events;
}

void Faults::close_watches_randomly(double probability, uint64_t seed) {
  absl::MutexLock l(&mu_);
  close_p_ = probability;
  rng_.seed(seed);
}

void Faults::refuse_connections_for(absl::Duration d) {
  absl::MutexLock l(&mu_);
  refuse_until_ = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(d);
}

void Faults::clear() {
  absl::MutexLock l(&mu_);
  rules_.clear();
  latency_ = absl::ZeroDuration();
  close_after_ = 0;
  close_p_ = 0;
  refuse_until_ = {};
}

std::optional<int> Faults::take_failure(std::string_view verb, std::string_view resource) {
  absl::MutexLock l(&mu_);
  for (auto it = rules_.begin(); it != rules_.end(); ++it) {
    if ((it->verb == "*" || it->verb == verb) &&
        (it->resource.empty() || it->resource == resource)) {
      int code = it->code;
      if (it->times > 0 && --it->times == 0) rules_.erase(it);
      return code;
    }
  }
  return std::nullopt;
}

absl::Duration Faults::latency() const {
  absl::MutexLock l(&mu_);
  return latency_;
}

int Faults::watch_close_after() const {
  absl::MutexLock l(&mu_);
  return close_after_;
}

bool Faults::random_close() {
  absl::MutexLock l(&mu_);
  if (close_p_ <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(rng_) < close_p_;
}

bool Faults::refusing_connections() const {
  absl::MutexLock l(&mu_);
  return std::chrono::steady_clock::now() < refuse_until_;
}

}  // namespace kop::local
