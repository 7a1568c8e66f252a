// kop/controller/controller.h: a workqueue-driven controller (controller-runtime's Controller).
//
// A Controller owns a rate-limited workqueue of Requests, sources that fill it (watch()), and
// worker threads that call the Reconciler. Its guarantees:
//   - a request is never reconciled by two workers at once, and requests added while it is
//     being reconciled are merged into one more pass after it (the workqueue's dirty set);
//   - at most max_concurrent_reconciles reconciles run at once;
//   - the first reconcile runs after every source has synced (cache_sync_timeout; on timeout
//     start() fails with DeadlineExceeded naming the controller and the kinds not synced);
//   - errors, exceptions and Result{requeue} go back through the rate limiter (exponential per
//     request), Result{requeue_after} after exactly that delay; success forgets the failures.
// Metrics (controller-runtime's names, label controller=<name>):
//   controller_runtime_reconcile_total{controller,result}  result:
//   success|error|requeue|requeue_after controller_runtime_reconcile_errors_total{controller}
//   controller_runtime_reconcile_panics_total{controller}   (exceptions thrown by reconcile)
//   controller_runtime_reconcile_time_seconds{controller}   (histogram)
//   controller_runtime_max_concurrent_reconciles{controller}
//   controller_runtime_active_workers{controller}
// plus the workqueue_* metrics of its queue (name = controller name).
//
// Threading: watch() before start(); start(), stop() and the accessors from any thread (start and
// stop once each). reconcile() runs on the worker threads.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <atomic>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "kop/controller/handler.h"
#include "kop/controller/predicate.h"
#include "kop/controller/reconciler.h"
#include "kop/controller/source.h"
#include "kop/metrics/registry.h"
#include "kop/workqueue/clock.h"
#include "kop/workqueue/rate_limiting_queue.h"

namespace kop::controller {

struct ControllerOptions {
  // The controller's name: metrics label, queue name, logs. Required (Builder defaults it to the
  // lowercased kind of for_()).
  std::string name;
  // Reconciles running at once. Defaults to 1 (controller-runtime's default).
  int max_concurrent_reconciles = 1;
  // How long start() waits for the sources to sync. Defaults to 2 minutes (controller-runtime).
  absl::Duration cache_sync_timeout = absl::Minutes(2);
  // Retry delays. Defaults to (nullptr means) workqueue::default_controller_rate_limiter:
  // 5 ms doubling to 1000 s per request, max'ed with 10 qps / burst 100 overall.
  std::shared_ptr<workqueue::RateLimiter<Request>> rate_limiter;
  // Catch exceptions thrown by reconcile() (count, log, requeue). Defaults to true; false lets
  // them terminate the process.
  bool recover_panic = true;
  // Where the metrics go. Defaults to (nullptr means) kop::metrics::default_registry().
  metrics::Registry* registry = nullptr;
  // Time source of the queue and the rate limiter. Defaults to (nullptr means) the real clock.
  workqueue::Clock* clock = nullptr;
};

class Controller {
 public:
  Controller(ControllerOptions options, std::shared_ptr<Reconciler> reconciler);
  ~Controller();  // stops (without waiting for a drain timeout) and joins the workers
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Adds a source (before start()). Events pass every predicate, then `handler` adds requests.
  absl::Status watch(SourcePtr source, HandlerPtr handler, std::vector<Predicate> predicates = {});

  // Starts the sources, waits for them to sync, then starts the workers. Returns once the
  // workers run (or with the sync error; the controller is then stopped). Once only.
  absl::Status start();
  // Stops intake (sources), lets the workers finish the reconciles in flight (queued ones are
  // dropped), and joins them. DeadlineExceeded if reconciles were still running after
  // `drain_timeout`: their workers are joined by the destructor. Idempotent.
  absl::Status stop(absl::Duration drain_timeout = absl::Seconds(30));

  const std::string& name() const { return options_.name; }
  // The queue (e.g. to add requests from outside, or to inspect in tests).
  workqueue::RateLimitingQueue<Request>& queue() { return *queue_; }
  // Reconciles in progress now.
  int active_workers() const { return active_.load(); }
  bool started() const;

 private:
  struct Watch {
    SourcePtr source;
    HandlerPtr handler;
    std::vector<Predicate> predicates;
  };
  struct Metrics;

  void worker();
  void reconcile_one(const Request& request);
  void join_workers();

  const ControllerOptions options_;
  std::shared_ptr<Reconciler> reconciler_;
  std::unique_ptr<workqueue::RateLimitingQueue<Request>> queue_;
  std::unique_ptr<Metrics> metrics_;
  std::stop_source stop_source_;
  std::atomic<int> active_{0};

  mutable absl::Mutex mu_;
  std::vector<Watch> watches_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::thread drainer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::controller
