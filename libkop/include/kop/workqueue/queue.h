// kop/workqueue/queue.h: the deduplicating work queue of controllers, with client-go's rules.
//
// Workers loop on get(); each item taken must be given back with done(item). The guarantees:
//  - Dedup: an item added while it already waits is not added twice.
//  - Never two workers on one item: an item being processed (taken, not yet done) is not handed
//    out again. If it is added meanwhile, it is marked dirty and queued again at done(), so the
//    change that caused the add is still seen by a later pass.
//  - FIFO among waiting items.
//  - shutdown(): add() is ignored from then on; get() keeps handing out what is already queued
//    and then returns std::nullopt, the workers' signal to exit. shutdown_with_drain() does the
//    same and then blocks until every item being processed has been done() (like client-go, it
//    does not wait for queued items no worker has taken). A shutdown() from another thread ends
//    that wait.
//
// Items are values of T, hashed with absl::Hash (std::string, integers, or a struct with
// AbslHashValue and operator==); the queue keeps copies.
//
// Threads: every method may be called from any thread. get() blocks. The destructor must not run
// while another thread is inside a method.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>
#include "kop/metrics/registry.h"
#include "kop/workqueue/clock.h"
#include "kop/workqueue/queue_metrics.h"

namespace kop::workqueue {

template <typename T>
class QueueInterface {
 public:
  virtual ~QueueInterface() = default;
  virtual void add(const T& item) = 0;
  // Number of items waiting (not counting those being processed). Informational only.
  virtual size_t len() const = 0;
  // Blocks until an item is available (returned) or the queue is shut down and empty (nullopt).
  virtual std::optional<T> get() = 0;
  virtual void done(const T& item) = 0;
  virtual void shutdown() = 0;
  virtual void shutdown_with_drain() = 0;
  virtual bool shutting_down() const = 0;
};

struct QueueOptions {
  // Name of the queue: the "name" and "controller" labels of its workqueue_* metrics. Defaults
  // to empty, which records no metrics (as in client-go).
  std::string name{};
  // Where the metrics go. Defaults to (nullptr means) kop::metrics::default_registry().
  metrics::Registry* registry = nullptr;
  // Time source for metrics and delays. Defaults to (nullptr means) real_clock(). Must outlive
  // the queue.
  Clock* clock = nullptr;
};

template <typename T>
class Queue : public QueueInterface<T> {
 public:
  explicit Queue(const QueueOptions& options = {})
      : clock_(options.clock != nullptr ? options.clock : &real_clock()) {
    if (!options.name.empty()) {
      metrics::Registry& r =
          options.registry != nullptr ? *options.registry : metrics::default_registry();
      metrics_ = std::make_unique<QueueMetrics>(r, options.name);
      metrics_->watch_processing([this] { return processing_seconds().first; },
                                 [this] { return processing_seconds().second; });
    }
  }
  ~Queue() override {
    metrics_.reset();  // no scrape may call into this queue any more
  }
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  void add(const T& item) override {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    if (dirty_.contains(item)) return;
    dirty_.emplace(item, metrics_ ? now_ns() : 0);
    if (metrics_) metrics_->added();
    if (processing_.contains(item)) return;  // queued again by done()
    queue_.push_back(item);
    items_cv_.Signal();
  }

  size_t len() const override {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

  std::optional<T> get() override {
    absl::MutexLock lock(&mu_);
    while (queue_.empty() && !shutting_down_) items_cv_.Wait(&mu_);
    if (queue_.empty()) return std::nullopt;
    std::optional<T> item(std::move(queue_.front()));
    queue_.pop_front();
    auto dirty = dirty_.find(*item);
    int64_t now = 0;
    if (metrics_) {
      now = now_ns();
      metrics_->taken(seconds(now - dirty->second));
    }
    processing_.emplace(*item, now);
    dirty_.erase(dirty);
    return item;
  }

  void done(const T& item) override {
    absl::MutexLock lock(&mu_);
    auto it = processing_.find(item);
    if (it != processing_.end()) {
      if (metrics_) metrics_->finished(seconds(now_ns() - it->second));
      processing_.erase(it);
    }
    if (dirty_.contains(item)) {
      queue_.push_back(item);
      items_cv_.Signal();
    } else if (processing_.empty()) {
      drained_cv_.SignalAll();
    }
  }

  void shutdown() override {
    absl::MutexLock lock(&mu_);
    drain_ = false;
    shutting_down_ = true;
    items_cv_.SignalAll();
    drained_cv_.SignalAll();
  }

  void shutdown_with_drain() override {
    absl::MutexLock lock(&mu_);
    drain_ = true;
    shutting_down_ = true;
    items_cv_.SignalAll();
    while (!processing_.empty() && drain_) drained_cv_.Wait(&mu_);
  }

  bool shutting_down() const override {
    absl::MutexLock lock(&mu_);
    return shutting_down_;
  }

 private:
  // The clock's time in nanoseconds: what the item maps keep (8 bytes, and an age is one integer
  // subtraction; absl::Duration arithmetic and ToDoubleSeconds are calls into libabsl_time).
  int64_t now_ns() const { return clock_->now_nanos(); }
  static double seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

  // {sum of ages, oldest age} of the items being processed, for the scrape-time gauges.
  std::pair<double, double> processing_seconds() const {
    absl::MutexLock lock(&mu_);
    int64_t now = now_ns();
    double total = 0, oldest = 0;
    for (const auto& [item, started] : processing_) {
      double age = seconds(now - started);
      total += age;
      oldest = std::max(oldest, age);
    }
    return {total, oldest};
  }

  Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::CondVar items_cv_;    // an item was queued, or shutdown
  absl::CondVar drained_cv_;  // processing became empty, or shutdown() ended a drain
  // Waiting items in order; each is also in dirty_ and not in processing_.
  std::deque<T> queue_ ABSL_GUARDED_BY(mu_);
  // Items that need processing, with the time (now_ns) they were added (queue_duration_seconds).
  absl::flat_hash_map<T, int64_t> dirty_ ABSL_GUARDED_BY(mu_);
  // Items a worker holds, with the time (now_ns) it took them. May also be in dirty_.
  absl::flat_hash_map<T, int64_t> processing_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool drain_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<QueueMetrics> metrics_;  // null for an unnamed queue
};

}  // namespace kop::workqueue
