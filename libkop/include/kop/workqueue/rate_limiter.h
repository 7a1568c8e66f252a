// kop/workqueue/rate_limiter.h: how long an item waits before it is retried.
//
// A RateLimiter answers when(item) — the delay before the item may be processed again — and
// counts each call as a failure of that item until forget(item). The limiters, as in client-go:
//  - ItemExponentialFailureRateLimiter: base * 2^failures per item, capped.
//  - BucketRateLimiter: one token bucket for all items (overall retry rate); never forgets.
//  - MaxOfRateLimiter: the longest delay of several limiters.
//  - default_controller_rate_limiter(): max of exponential (5 ms .. 1000 s) and bucket (10 qps,
//    burst 100), the default of controllers.
//
// Threads: every method may be called from any thread.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>
#include "kop/workqueue/clock.h"

namespace kop::workqueue {

template <typename T>
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // The delay before `item` should be retried (absl::InfiniteDuration(): never); records one
  // more failure of it.
  virtual absl::Duration when(const T& item) = 0;
  // Stops tracking `item` (it succeeded, or was given up on).
  virtual void forget(const T& item) = 0;
  // How many failures of `item` are recorded.
  virtual int num_requeues(const T& item) = 0;
};

struct ExponentialFailureOptions {
  // Delay after the first failure. Defaults to 5 ms.
  absl::Duration base_delay = absl::Milliseconds(5);
  // Longest delay. Defaults to 1000 s.
  absl::Duration max_delay = absl::Seconds(1000);
};

// base * 2^exponent in whole nanoseconds, capped at `max` (also when the product would
// overflow).
absl::Duration exponential_backoff(absl::Duration base, absl::Duration max, int exponent);

template <typename T>
class ItemExponentialFailureRateLimiter : public RateLimiter<T> {
 public:
  explicit ItemExponentialFailureRateLimiter(ExponentialFailureOptions options = {})
      : options_(options) {}

  absl::Duration when(const T& item) override {
    int exponent;
    {
      absl::MutexLock lock(&mu_);
      exponent = failures_[item]++;
    }
    return exponential_backoff(options_.base_delay, options_.max_delay, exponent);
  }
  void forget(const T& item) override {
    absl::MutexLock lock(&mu_);
    failures_.erase(item);
  }
  int num_requeues(const T& item) override {
    absl::MutexLock lock(&mu_);
    auto it = failures_.find(item);
    return it == failures_.end() ? 0 : it->second;
  }

 private:
  const ExponentialFailureOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<T, int> failures_ ABSL_GUARDED_BY(mu_);
};

struct BucketOptions {
  // Tokens added per second (infinity: never wait). Defaults to 10.
  double qps = 10;
  // Bucket size, and the tokens it starts with. Defaults to 100.
  int burst = 100;
  // Time source. Defaults to (nullptr means) real_clock(). Must outlive the limiter.
  Clock* clock = nullptr;
};

// A token bucket with golang.org/x/time/rate's reservation rule: each call takes a token now,
// going into debt when the bucket is empty; the delay is the time the debt takes to refill, in
// whole nanoseconds. A bucket with burst <= 0, or one in debt with qps <= 0, answers
// absl::InfiniteDuration() (never).
class TokenBucket {
 public:
  explicit TokenBucket(BucketOptions options = {});
  absl::Duration reserve();

 private:
  const BucketOptions options_;
  Clock* const clock_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

template <typename T>
class BucketRateLimiter : public RateLimiter<T> {
 public:
  explicit BucketRateLimiter(BucketOptions options = {}) : bucket_(options) {}
  absl::Duration when(const T&) override { return bucket_.reserve(); }
  void forget(const T&) override {}
  int num_requeues(const T&) override { return 0; }

 private:
  TokenBucket bucket_;
};

template <typename T>
class MaxOfRateLimiter : public RateLimiter<T> {
 public:
  explicit MaxOfRateLimiter(std::vector<std::shared_ptr<RateLimiter<T>>> limiters)
      : limiters_(std::move(limiters)) {}

  // Asks every limiter (each records the failure) and returns the longest delay.
  absl::Duration when(const T& item) override {
    absl::Duration longest = absl::ZeroDuration();
    for (auto& l : limiters_) longest = std::max(longest, l->when(item));
    return longest;
  }
  void forget(const T& item) override {
    for (auto& l : limiters_) l->forget(item);
  }
  int num_requeues(const T& item) override {
    int most = 0;
    for (auto& l : limiters_) most = std::max(most, l->num_requeues(item));
    return most;
  }

 private:
  const std::vector<std::shared_ptr<RateLimiter<T>>> limiters_;
};

// Max of ItemExponentialFailureRateLimiter (5 ms base, 1000 s cap) and BucketRateLimiter
// (10 qps, burst 100), client-go's DefaultControllerRateLimiter. `clock` defaults to real_clock().
template <typename T>
std::shared_ptr<RateLimiter<T>> default_controller_rate_limiter(Clock* clock = nullptr) {
  return std::make_shared<MaxOfRateLimiter<T>>(std::vector<std::shared_ptr<RateLimiter<T>>>{
      std::make_shared<ItemExponentialFailureRateLimiter<T>>(ExponentialFailureOptions{}),
      std::make_shared<BucketRateLimiter<T>>(BucketOptions{.clock = clock})});
}

}  // namespace kop::workqueue
