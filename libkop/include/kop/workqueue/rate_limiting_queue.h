// kop/workqueue/rate_limiting_queue.h: the queue controllers use — a DelayingQueue whose
// add_rate_limited(item) delays the item by what a RateLimiter says.
//
// The usual worker loop:
//     while (auto item = q.get()) {
//       if (reconcile(*item).ok()) q.forget(*item); else q.add_rate_limited(*item);
//       q.done(*item);
//     }
// forget() only resets the item's failure count in the rate limiter; done() is still needed.
// Call forget() on success, or failures are remembered (and delays grow) forever.
//
// Threads: every method may be called from any thread; get() blocks.
#pragma once

#include <memory>
#include <optional>

#include "kop/workqueue/delaying_queue.h"
#include "kop/workqueue/rate_limiter.h"

namespace kop::workqueue {

template <typename T>
class RateLimitingQueueInterface : public DelayingQueueInterface<T> {
 public:
  // add_after(item, rate_limiter.when(item)).
  virtual void add_rate_limited(const T& item) = 0;
  // The item is no longer failing: its rate-limiter history is dropped.
  virtual void forget(const T& item) = 0;
  // How many times the item has been requeued through add_rate_limited since forget().
  virtual int num_requeues(const T& item) = 0;
};

template <typename T>
class RateLimitingQueue : public RateLimitingQueueInterface<T> {
 public:
  // `limiter` defaults to (nullptr means) default_controller_rate_limiter<T>(options.clock).
  explicit RateLimitingQueue(QueueOptions options = {},
                             std::shared_ptr<RateLimiter<T>> limiter = nullptr)
      : limiter_(limiter != nullptr ? std::move(limiter)
                                    : default_controller_rate_limiter<T>(options.clock)),
        queue_(options) {}
  RateLimitingQueue(const RateLimitingQueue&) = delete;
  RateLimitingQueue& operator=(const RateLimitingQueue&) = delete;

  void add_rate_limited(const T& item) override { queue_.add_after(item, limiter_->when(item)); }
  void forget(const T& item) override { limiter_->forget(item); }
  int num_requeues(const T& item) override { return limiter_->num_requeues(item); }

  void add_after(const T& item, absl::Duration d) override { queue_.add_after(item, d); }
  void add(const T& item) override { queue_.add(item); }
  size_t len() const override { return queue_.len(); }
  std::optional<T> get() override { return queue_.get(); }
  void done(const T& item) override { queue_.done(item); }
  void shutdown() override { queue_.shutdown(); }
  void shutdown_with_drain() override { queue_.shutdown_with_drain(); }
  bool shutting_down() const override { return queue_.shutting_down(); }
  // Items waiting for their delay to pass.
  size_t waiting() const { return queue_.waiting(); }

 private:
  std::shared_ptr<RateLimiter<T>> limiter_;
  DelayingQueue<T> queue_;
};

}  // namespace kop::workqueue
