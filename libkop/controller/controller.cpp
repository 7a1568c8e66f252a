#include "kop/controller/controller.h"

#include <absl/synchronization/notification.h>

#include <chrono>
#include <exception>

#include "kop/log/log.h"

namespace kop::controller {
namespace {

// controller-runtime's reconcile_time_seconds buckets (fine below 1 s, up to a minute).
std::vector<double> reconcile_time_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
          0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
          6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
}

workqueue::Duration to_chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

}  // namespace

struct Controller::Metrics {
  metrics::Counter* success;
  metrics::Counter* error;
  metrics::Counter* requeue;
  metrics::Counter* requeue_after;
  metrics::Counter* errors;
  metrics::Counter* panics;
  metrics::Histogram* time;
  metrics::Gauge* max_concurrent;
  metrics::Gauge* active;

  Metrics(metrics::Registry& r, std::string_view name) {
    auto& total =
        r.counter_vec("controller_runtime_reconcile_total",
                      "Total number of reconciliations per controller", {"controller", "result"});
    // Every result starts at 0, so rate() works from the first scrape (as controller-runtime).
    success = &total.with({name, "success"});
    error = &total.with({name, "error"});
    requeue = &total.with({name, "requeue"});
    requeue_after = &total.with({name, "requeue_after"});
    errors = &r.counter_vec("controller_runtime_reconcile_errors_total",
                            "Total number of reconciliation errors per controller", {"controller"})
                  .with({name});
    panics = &r.counter_vec("controller_runtime_reconcile_panics_total",
                            "Total number of reconciliation panics per controller", {"controller"})
                  .with({name});
    time = &r.histogram_vec("controller_runtime_reconcile_time_seconds",
                            "Length of time per reconciliation per controller", {"controller"},
                            reconcile_time_buckets())
                .with({name});
    max_concurrent =
        &r.gauge_vec("controller_runtime_max_concurrent_reconciles",
                     "Maximum number of concurrent reconciles per controller", {"controller"})
             .with({name});
    active = &r.gauge_vec("controller_runtime_active_workers",
                          "Number of currently used workers per controller", {"controller"})
                  .with({name});
  }
};

Controller::Controller(ControllerOptions options, std::shared_ptr<Reconciler> reconciler)
    : options_(std::move(options)), reconciler_(std::move(reconciler)) {
  metrics::Registry& registry =
      options_.registry != nullptr ? *options_.registry : metrics::default_registry();
  queue_ = std::make_unique<workqueue::RateLimitingQueue<Request>>(
      workqueue::QueueOptions{
          .name = options_.name, .registry = &registry, .clock = options_.clock},
      options_.rate_limiter);
  metrics_ = std::make_unique<Metrics>(registry, options_.name);
  metrics_->max_concurrent->set(std::max(1, options_.max_concurrent_reconciles));
}

Controller::~Controller() {
  stop(absl::InfiniteDuration()).IgnoreError();
  join_workers();
}

absl::Status Controller::watch(SourcePtr source, HandlerPtr handler,
                               std::vector<Predicate> predicates) {
  absl::MutexLock lock(&mu_);
  if (started_) {
    return absl::FailedPreconditionError("controller " + options_.name + ": watch() after start()");
  }
  watches_.push_back({std::move(source), std::move(handler), std::move(predicates)});
  return absl::OkStatus();
}

bool Controller::started() const {
  absl::MutexLock lock(&mu_);
  return started_;
}

absl::Status Controller::start() {
  std::vector<Watch> watches;
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopped_) {
      return absl::FailedPreconditionError("controller " + options_.name +
                                           ": already started or stopped");
    }
    started_ = true;
    watches = watches_;
  }
  auto log = log::named("controller").with_values("controller", options_.name);
  for (const auto& w : watches) {
    if (absl::Status s = w.source->start(w.handler, *queue_, w.predicates); !s.ok()) {
      stop(absl::ZeroDuration()).IgnoreError();
      return absl::Status(s.code(), "controller " + options_.name + ": starting " +
                                        w.source->description() + ": " + std::string(s.message()));
    }
  }
  // Wait in slices so that a stop() during the wait ends it promptly.
  absl::Time deadline = absl::Now() + options_.cache_sync_timeout;
  for (const auto& w : watches) {
    while (true) {
      if (stop_source_.stop_requested()) {
        return absl::CancelledError("controller " + options_.name + ": stopped before sync");
      }
      absl::Duration left = deadline - absl::Now();
      absl::Status s = w.source->wait_for_sync(
          std::max(absl::ZeroDuration(), std::min(left, absl::Milliseconds(100))));
      if (s.ok()) break;
      if (left <= absl::Milliseconds(100)) {
        log.error(s, "cache sync failed");
        stop(absl::ZeroDuration()).IgnoreError();
        return absl::DeadlineExceededError("controller " + options_.name + ": " +
                                           std::string(s.message()));
      }
    }
  }
  absl::MutexLock lock(&mu_);
  if (stopped_) return absl::CancelledError("controller " + options_.name + ": stopped");
  int n = std::max(1, options_.max_concurrent_reconciles);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { worker(); });
  log.info("started workers", "worker_count", n);
  return absl::OkStatus();
}

absl::Status Controller::stop(absl::Duration drain_timeout) {
  std::vector<Watch> watches;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::OkStatus();
    stopped_ = true;
    watches = watches_;
  }
  for (const auto& w : watches) w.source->stop();  // stop intake
  stop_source_.request_stop();
  auto drained = std::make_shared<absl::Notification>();
  {
    absl::MutexLock lock(&mu_);
    drainer_ = std::thread([this, drained] {
      queue_->shutdown_with_drain();
      drained->Notify();
    });
  }
  if (!drained->WaitForNotificationWithTimeout(drain_timeout)) {
    queue_->shutdown();  // ends the drain wait; the workers are joined later
    return absl::DeadlineExceededError(
        "controller " + options_.name + ": " + std::to_string(active_.load()) +
        " reconciles still running after " + absl::FormatDuration(drain_timeout));
  }
  join_workers();
  return absl::OkStatus();
}

void Controller::join_workers() {
  std::vector<std::thread> workers;
  std::thread drainer;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
    drainer.swap(drainer_);
  }
  if (drainer.joinable()) drainer.join();
  for (auto& t : workers) t.join();
}

void Controller::worker() {
  while (auto item = queue_->get()) {
    // After stop(), queued requests are dropped: only the reconciles in flight are drained.
    if (!stop_source_.stop_requested()) reconcile_one(*item);
    queue_->done(*item);
  }
}

void Controller::reconcile_one(const Request& request) {
  active_.fetch_add(1);
  metrics_->active->inc();
  Context ctx{stop_source_.get_token(), options_.name};
  auto started = std::chrono::steady_clock::now();
  absl::StatusOr<Result> result = absl::UnknownError("not run");
  bool panicked = false;
  if (options_.recover_panic) {
    try {
      result = reconciler_->reconcile(ctx, request);
    } catch (const std::exception& e) {
      panicked = true;
      result = absl::InternalError(std::string("reconcile threw: ") + e.what());
    } catch (...) {
      panicked = true;
      result = absl::InternalError("reconcile threw a non-std exception");
    }
  } else {
    result = reconciler_->reconcile(ctx, request);
  }
  metrics_->time->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  if (!result.ok()) {
    if (panicked) metrics_->panics->inc();
    metrics_->errors->inc();
    metrics_->error->inc();
    queue_->add_rate_limited(request);
    log::named("controller")
        .error(result.status(), "Reconciler error", "controller", options_.name, "namespace",
               request.namespace_, "name", request.name);
  } else if (result->requeue_after > absl::ZeroDuration()) {
    // The delay is the user's; the failure history is not (controller-runtime forgets too).
    queue_->forget(request);
    queue_->add_after(request, to_chrono(result->requeue_after));
    metrics_->requeue_after->inc();
  } else if (result->requeue) {
    queue_->add_rate_limited(request);
    metrics_->requeue->inc();
  } else {
    queue_->forget(request);
    metrics_->success->inc();
  }
  metrics_->active->dec();
  active_.fetch_sub(1);
}

}  // namespace kop::controller
