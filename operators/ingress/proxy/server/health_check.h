// HealthChecker: the active HTTP health checks of every cluster with a health_check, on one
// background thread, reporting into the clusters' shared OutlierDetector (see
// health_check.cpp). update() hands it each newly published snapshot.
// Threading: update() from the control thread; probes run on the checker's own thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "snapshot.h"
#include "timer_wheel.h"

namespace kop::proxy::server {

struct HealthProbe;

class HealthChecker {
 public:
  HealthChecker();
  ~HealthChecker();
  void update(std::shared_ptr<const Snapshot> snap);

 private:
  void loop();
  void run(std::vector<HealthProbe>& probes);

  absl::Mutex mu_;
  absl::CondVar cv_;  // signalled on update() and stop
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<const Snapshot> snap_ ABSL_GUARDED_BY(mu_);
  // "cluster|endpoint" -> next probe
  std::map<std::string, Clock::time_point> due_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace kop::proxy::server
