// kop/workqueue/delaying_queue.h: a Queue that can also add an item later.
//
// add_after(item, d) adds the item once d has passed on the queue's clock. Waiting items sit in
// a min-heap keyed by deadline, watched by one thread per queue. Rules, as in client-go:
//  - d <= 0 adds at once, from the caller's thread.
//  - A second add_after for an item that is still waiting keeps the earlier deadline.
//  - An item waiting in the heap is independent of the queue: add(item) meanwhile queues it now,
//    and the delayed add still happens later (deduplicated if the item is still queued).
//  - After shutdown, add_after is ignored and items still waiting in the heap are dropped.
// Every add_after with d > 0 counts in workqueue_retries_total for a named queue.
//
// Threads: every method may be called from any thread; get() blocks. The waiting thread starts
// in the constructor and is joined by shutdown(), shutdown_with_drain() or the destructor.
#pragma once

#include <cstdint>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include <absl/time/time.h>
#include "kop/workqueue/queue.h"

namespace kop::workqueue {

template <typename T>
class DelayingQueueInterface : public QueueInterface<T> {
 public:
  virtual void add_after(const T& item, absl::Duration d) = 0;
};

template <typename T>
class DelayingQueue : public DelayingQueueInterface<T> {
 public:
  explicit DelayingQueue(QueueOptions options = {})
      : queue_(options), clock_(options.clock != nullptr ? options.clock : &real_clock()) {
    if (!options.name.empty()) {
      retries_ = &retries_counter(
          options.registry != nullptr ? *options.registry : metrics::default_registry(),
          options.name);
    }
    waiter_ = clock_->new_waiter();
    thread_ = std::thread([this] { waiting_loop(); });
  }
  ~DelayingQueue() override { shutdown(); }
  DelayingQueue(const DelayingQueue&) = delete;
  DelayingQueue& operator=(const DelayingQueue&) = delete;

  void add(const T& item) override { queue_.add(item); }
  size_t len() const override { return queue_.len(); }
  std::optional<T> get() override { return queue_.get(); }
  void done(const T& item) override { queue_.done(item); }
  bool shutting_down() const override { return queue_.shutting_down(); }

  void shutdown() override {
    queue_.shutdown();
    stop_waiting();
  }
  void shutdown_with_drain() override {
    stop_waiting();
    queue_.shutdown_with_drain();
  }

  void add_after(const T& item, absl::Duration d) override {
    if (queue_.shutting_down()) return;
    if (d <= absl::ZeroDuration()) {
      queue_.add(item);
      return;
    }
    if (retries_ != nullptr) retries_->inc();
    int64_t ready_at = deadline_ns(d);
    bool new_first;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      new_first = insert(item, ready_at);
    }
    // The waiting thread only needs to wake when the earliest deadline moved.
    if (new_first) waiter_->notify();
  }

  // Number of items waiting for their deadline (not yet in the queue).
  size_t waiting() const {
    absl::MutexLock lock(&mu_);
    return heap_.size();
  }

 private:
  // Deadlines are kept in nanoseconds on the clock (Clock::now_nanos): a heap comparison is
  // one integer compare. kNever (absl::InfiniteDuration(), or past the year 2262) never fires.
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  struct Entry {
    int64_t ready_at;
    T item;
  };

  // now + d (d > 0) in nanoseconds, saturating at kNever.
  int64_t deadline_ns(absl::Duration d) const {
    int64_t now = clock_->now_nanos();
    int64_t delay = absl::ToInt64Nanoseconds(d);  // saturates for InfiniteDuration()
    return delay >= kNever - now ? kNever : now + delay;
  }

  // Adds or moves `item` earlier; returns whether it is now the first to become ready.
  bool insert(const T& item, int64_t ready_at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = index_.find(item);
    size_t i;
    if (it != index_.end()) {
      i = it->second;
      if (heap_[i].ready_at <= ready_at) return false;  // keep the earlier deadline
      heap_[i].ready_at = ready_at;
    } else {
      i = heap_.size();
      heap_.push_back(Entry{ready_at, item});
      index_.emplace(item, i);
    }
    return sift_up(i) == 0;
  }

  size_t sift_up(size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (i > 0) {
      size_t parent = (i - 1) / 2;
      if (!(heap_[i].ready_at < heap_[parent].ready_at)) break;
      swap_entries(i, parent);
      i = parent;
    }
    return i;
  }

  void sift_down(size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (;;) {
      size_t smallest = i, l = 2 * i + 1, r = 2 * i + 2;
      if (l < heap_.size() && heap_[l].ready_at < heap_[smallest].ready_at) smallest = l;
      if (r < heap_.size() && heap_[r].ready_at < heap_[smallest].ready_at) smallest = r;
      if (smallest == i) return;
      swap_entries(i, smallest);
      i = smallest;
    }
  }

  void swap_entries(size_t a, size_t b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::swap(heap_[a], heap_[b]);
    index_[heap_[a].item] = a;
    index_[heap_[b].item] = b;
  }

  T pop_first() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    swap_entries(0, heap_.size() - 1);
    T item = std::move(heap_.back().item);
    heap_.pop_back();
    index_.erase(item);
    if (!heap_.empty()) sift_down(0);
    return item;
  }

  // Moves ready items into the queue, then sleeps until the next deadline or a notify().
  void waiting_loop() {
    std::vector<T> ready;
    for (;;) {
      int64_t next;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        int64_t now = clock_->now_nanos();
        while (!heap_.empty() && heap_.front().ready_at <= now) ready.push_back(pop_first());
        next = heap_.empty() ? kNever : heap_.front().ready_at;
      }
      for (const T& item : ready) queue_.add(item);
      ready.clear();
      waiter_->wait_until(next == kNever ? absl::InfiniteFuture() : absl::FromUnixNanos(next));
    }
  }

  void stop_waiting() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      heap_.clear();
      index_.clear();
    }
    waiter_->notify();
    absl::MutexLock lock(&join_mu_);
    if (thread_.joinable()) thread_.join();
  }

  Queue<T> queue_;
  Clock* const clock_;
  metrics::Counter* retries_ = nullptr;
  mutable absl::Mutex mu_;
  std::vector<Entry> heap_ ABSL_GUARDED_BY(mu_);               // min-heap on ready_at
  absl::flat_hash_map<T, size_t> index_ ABSL_GUARDED_BY(mu_);  // item -> position in heap_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<Waiter> waiter_;
  absl::Mutex join_mu_;
  std::thread thread_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace kop::workqueue
