// The helper thread of a worker (off_loop.h).
#include "off_loop.h"

#include <utility>

namespace kop::proxy::server {

OffLoop::OffLoop() : thread_([this] { loop(); }) {}

OffLoop::~OffLoop() {
  std::deque<std::function<void()>> dropped;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    dropped.swap(jobs_);  // nobody waits for their results any more
  }
  thread_.join();
}

void OffLoop::run(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  jobs_.push_back(std::move(job));
}

void OffLoop::loop() {
  for (;;) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &OffLoop::ready));
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace kop::proxy::server
