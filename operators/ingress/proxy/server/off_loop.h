// OffLoop: one helper thread that runs jobs too slow for a worker's event loop (a bcrypt
// password verification costs tens to hundreds of milliseconds), in the order given. A job
// hands its result back by posting to the worker's io_context itself.
// Threading: run() from the owning worker's thread; jobs run on the helper thread. The
// destructor drops the jobs not started (the worker is going away) and joins the thread once
// the running one ends.
#pragma once

#include <deque>
#include <functional>
#include <thread>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

namespace kop::proxy::server {

class OffLoop {
 public:
  OffLoop();
  ~OffLoop();
  OffLoop(const OffLoop&) = delete;
  OffLoop& operator=(const OffLoop&) = delete;

  void run(std::function<void()> job);

 private:
  void loop();
  bool ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !jobs_.empty(); }

  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once the fields above exist
};

}  // namespace kop::proxy::server
