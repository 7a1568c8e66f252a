// kop/controller/controller.h: a workqueue-driven controller (controller-runtime's Controller).
//
// A Controller owns a rate-limited workqueue of Requests, sources that fill it (watch()), and
// worker threads that call the Reconciler. Its guarantees:
//   - a request is never reconciled by two workers at once, and requests added while it is
//     being reconciled are merged into one more pass after it (the workqueue's dirty set);
//   - at most max_concurrent_reconciles reconciles run at once;
//   - the first reconcile runs after every source has synced (cache_sync_timeout; on timeout
//     start() fails with DeadlineExceeded naming the controller, the kinds not synced and the
//     last list/watch error, e.g. "list /v1, Kind=Secret: secrets is forbidden ...");
//   - errors, exceptions and Result{requeue} go back through the rate limiter (exponential per
//     request), Result{requeue_after} after exactly that delay; success forgets the failures;
//     a terminal error (terminal_error()) is counted and not retried;
//   - with reconcile_timeout, a reconcile running that long has its ctx.stop requested and
//     ctx.timed_out() set (counted in controller_runtime_reconcile_timeouts_total).
// Stop and start again: start() after stop() runs the controller again (the Manager does this
// when leadership is regained without exiting): it first waits for the previous run's
// reconciles to end (so a request is still never reconciled twice at once), then uses a new
// queue (queue() returns it), keeps the rate limiter's failure history, and restarts the
// sources — a kind source is re-registered on its informer and so delivers every cached object
// again, so everything is reconciled once more. A stop() that comes before the start() it would
// end (a race between two threads) makes that start() return Cancelled instead.
// Metrics (controller-runtime's names, label controller=<name>):
//   controller_runtime_reconcile_total{controller,result}  result:
//   success|error|requeue|requeue_after controller_runtime_reconcile_errors_total{controller}
//   controller_runtime_terminal_reconcile_errors_total{controller}
//   controller_runtime_reconcile_panics_total{controller}   (exceptions thrown by reconcile)
//   controller_runtime_reconcile_timeouts_total{controller} (reconcile_timeout reached)
//   controller_runtime_reconcile_time_seconds{controller}   (histogram)
//   controller_runtime_max_concurrent_reconciles{controller}
//   controller_runtime_active_workers{controller}
// plus the workqueue_* metrics of its queue (name = controller name).
//
// Threading: watch() before the first start(); start(), stop() and the accessors from any
// thread. reconcile() runs on the worker threads.
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
  std::string name{};
  // Reconciles running at once. Defaults to 1 (controller-runtime's default).
  int max_concurrent_reconciles = 1;
  // How long start() waits for the sources to sync. Defaults to 2 minutes (controller-runtime).
  absl::Duration cache_sync_timeout = absl::Minutes(2);
  // Retry delays. Defaults to (nullptr means) workqueue::default_controller_rate_limiter:
  // 5 ms doubling to 1000 s per request, max'ed with 10 qps / burst 100 overall.
  std::shared_ptr<workqueue::RateLimiter<Request>> rate_limiter{};
  // Catch exceptions thrown by reconcile() (count, log, requeue). Defaults to true; false lets
  // them terminate the process.
  bool recover_panic = true;
  // How long one reconcile may run before its ctx.stop is requested (and ctx.timed_out() is
  // true), measured on `clock` (controller-runtime's ReconciliationTimeout). Defaults to 0 =
  // no timeout.
  absl::Duration reconcile_timeout = absl::ZeroDuration();
  // Where the metrics go. Defaults to (nullptr means) kop::metrics::default_registry().
  metrics::Registry* registry = nullptr;
  // Time source of the queue and the rate limiter. Defaults to (nullptr means) the real clock.
  workqueue::Clock* clock = nullptr;
};

class DeadlineWatch;  // internal: ends reconciles at reconcile_timeout

class Controller {
 public:
  Controller(ControllerOptions options, std::shared_ptr<Reconciler> reconciler);
  ~Controller();  // stops (without waiting for a drain timeout) and joins the workers
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Adds a source (before start()). Events pass every predicate, then `handler` adds requests.
  absl::Status watch(SourcePtr source, HandlerPtr handler, std::vector<Predicate> predicates = {});

  // Starts the sources, waits for them to sync, then starts the workers. Returns once the
  // workers run (or with the sync error; the controller is then stopped). FailedPrecondition
  // while running; after stop(), starts again (see above); Cancelled when a stop() came first.
  absl::Status start();
  // Stops intake (sources), lets the workers finish the reconciles in flight (queued ones are
  // dropped), and joins them. DeadlineExceeded if reconciles were still running after
  // `drain_timeout`: their workers are joined by the next start() or the destructor.
  // Idempotent until the next start().
  absl::Status stop(absl::Duration drain_timeout = absl::Seconds(30));

  const std::string& name() const { return options_.name; }
  // The current run's queue (e.g. to add requests from outside, or to inspect in tests). A
  // queue of an earlier run stays valid (shut down: adds are ignored) until the destructor.
  workqueue::RateLimitingQueue<Request>& queue();
  // Reconciles in progress now.
  int active_workers() const { return active_.load(); }
  // Between a start() (from its beginning, while it waits for the sync) and the next stop().
  bool started() const;

 private:
  struct Watch {
    SourcePtr source;
    HandlerPtr handler;
    std::vector<Predicate> predicates;
  };
  struct Metrics;
  // One start()..stop() cycle: its queue and the stop request its reconciles see.
  struct Run {
    std::unique_ptr<workqueue::RateLimitingQueue<Request>> queue;
    std::stop_source stop;
  };
  using Queue = workqueue::RateLimitingQueue<Request>;

  std::unique_ptr<Run> new_run();
  void worker(Run* run);
  void reconcile_one(Run* run, const Request& request);
  void join_workers();

  const ControllerOptions options_;
  std::shared_ptr<Reconciler> reconciler_;
  std::shared_ptr<workqueue::RateLimiter<Request>> rate_limiter_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<DeadlineWatch> deadlines_;  // with reconcile_timeout only
  std::atomic<int> active_{0};

  mutable absl::Mutex mu_;
  std::vector<Watch> watches_ ABSL_GUARDED_BY(mu_);
  // Every run so far; the last is the current one (earlier queues stay alive for the sources'
  // and callers' references).
  std::vector<std::unique_ptr<Run>> runs_ ABSL_GUARDED_BY(mu_);
  bool ever_started_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;  // the current run
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;  // the current run
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> drainers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::controller
