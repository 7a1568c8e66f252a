#include "deadline_watch.h"

#include <algorithm>

namespace kop::controller {

DeadlineWatch::DeadlineWatch(workqueue::Clock& clock)
    : clock_(clock), waiter_(clock.new_waiter()), thread_([this] { loop(); }) {}

DeadlineWatch::~DeadlineWatch() {
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  waiter_->notify();
  thread_.join();
}

uint64_t DeadlineWatch::add(absl::Time deadline, std::stop_source source,
                            std::atomic<bool>* expired) {
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = next_id_++;
    entries_.emplace(id, Entry{deadline, std::move(source), expired});
  }
  waiter_->notify();  // the new deadline may be the earliest
  return id;
}

void DeadlineWatch::remove(uint64_t id) {
  // Firing happens under mu_, so after this the entry's flag and source are not touched.
  absl::MutexLock lock(&mu_);
  entries_.erase(id);
}

void DeadlineWatch::loop() {
  while (true) {
    absl::Time next = absl::InfiniteFuture();
    {
      absl::MutexLock lock(&mu_);
      if (done_) return;
      absl::Time now = clock_.now();
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.deadline <= now) {
          it->second.expired->store(true);
          it->second.source.request_stop();
          entries_.erase(it++);
        } else {
          next = std::min(next, it->second.deadline);
          ++it;
        }
      }
    }
    waiter_->wait_until(next);
  }
}

}  // namespace kop::controller
