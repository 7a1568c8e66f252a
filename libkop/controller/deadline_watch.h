// deadline_watch.h (internal to libkop/controller): ends reconciles that run past the
// controller's reconcile_timeout, by requesting stop on their stop_source at the deadline.
//
// One thread per controller that has a timeout; it sleeps on the controller's clock until the
// earliest deadline (a FakeClock moves it in tests). Threading: add()/remove() from any thread;
// once remove(id) has returned, the watch no longer touches that reconcile's flag or source.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <thread>

#include "kop/workqueue/clock.h"

namespace kop::controller {

class DeadlineWatch {
 public:
  explicit DeadlineWatch(workqueue::Clock& clock);
  ~DeadlineWatch();  // ends and joins the thread
  DeadlineWatch(const DeadlineWatch&) = delete;
  DeadlineWatch& operator=(const DeadlineWatch&) = delete;

  // At `deadline` (unless removed before): sets *expired, then requests stop on `source`.
  uint64_t add(absl::Time deadline, std::stop_source source, std::atomic<bool>* expired);
  void remove(uint64_t id);

 private:
  struct Entry {
    absl::Time deadline;
    std::stop_source source;
    std::atomic<bool>* expired;
  };
  void loop();

  workqueue::Clock& clock_;
  std::unique_ptr<workqueue::Waiter> waiter_;
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kop::controller
