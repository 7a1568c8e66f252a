#include "kop/controller/controller.h"

#include <absl/synchronization/notification.h>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>

#include "deadline_watch.h"
#include "kop/log/log.h"

namespace kop::controller {
namespace {

// controller-runtime's reconcile_time_seconds buckets (fine below 1 s, up to a minute).
std::vector<double> reconcile_time_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
          0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
          6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
}

}  // namespace

struct Controller::Metrics {
  metrics::Counter* success;
  metrics::Counter* error;
  metrics::Counter* requeue;
  metrics::Counter* requeue_after;
  metrics::Counter* errors;
  metrics::Counter* terminal;
  metrics::Counter* panics;
  metrics::Counter* timeouts;
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
    terminal = &r.counter_vec("controller_runtime_terminal_reconcile_errors_total",
                              "Total number of terminal reconciliation errors per controller",
                              {"controller"})
                    .with({name});
    timeouts =
        &r.counter_vec("controller_runtime_reconcile_timeouts_total",
                       "Total number of reconciliation timeouts per controller", {"controller"})
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
  // One limiter for every run: failure history survives a restart.
  rate_limiter_ = options_.rate_limiter != nullptr
                      ? options_.rate_limiter
                      : workqueue::default_controller_rate_limiter<Request>(options_.clock);
  metrics_ = std::make_unique<Metrics>(registry, options_.name);
  metrics_->max_concurrent->set(std::max(1, options_.max_concurrent_reconciles));
  if (options_.reconcile_timeout > absl::ZeroDuration()) {
    deadlines_ = std::make_unique<DeadlineWatch>(
        options_.clock != nullptr ? *options_.clock : workqueue::real_clock());
  }
  absl::MutexLock lock(&mu_);
  runs_.push_back(new_run());
}

Controller::~Controller() {
  stop(absl::InfiniteDuration()).IgnoreError();
  join_workers();
  deadlines_.reset();
}

std::unique_ptr<Controller::Run> Controller::new_run() {
  metrics::Registry& registry =
      options_.registry != nullptr ? *options_.registry : metrics::default_registry();
  auto run = std::make_unique<Run>();
  run->queue = std::make_unique<Queue>(
      workqueue::QueueOptions{
          .name = options_.name, .registry = &registry, .clock = options_.clock},
      rate_limiter_);
  return run;
}

workqueue::RateLimitingQueue<Request>& Controller::queue() {
  absl::MutexLock lock(&mu_);
  return *runs_.back()->queue;
}

absl::Status Controller::watch(SourcePtr source, HandlerPtr handler,
                               std::vector<Predicate> predicates) {
  absl::MutexLock lock(&mu_);
  if (ever_started_) {
    return absl::FailedPreconditionError("controller " + options_.name + ": watch() after start()");
  }
  watches_.push_back({std::move(source), std::move(handler), std::move(predicates)});
  return absl::OkStatus();
}

bool Controller::started() const {
  absl::MutexLock lock(&mu_);
  return started_ && !stopped_;
}

absl::Status Controller::start() {
  std::vector<Watch> watches;
  Run* run;
  {
    absl::MutexLock lock(&mu_);
    if (started_ && !stopped_) {
      return absl::FailedPreconditionError("controller " + options_.name + ": already started");
    }
    bool cancelled = stopped_ && !started_;  // a stop() arrived before this start()
    if (stopped_) {
      // A new run: a stop() from now on ends it (not the finished one).
      runs_.push_back(new_run());
      started_ = stopped_ = false;
    }
    if (cancelled) {
      return absl::CancelledError("controller " + options_.name + ": stopped before start");
    }
    started_ = true;
    ever_started_ = true;
    watches = watches_;
    run = runs_.back().get();
  }
  // The previous run's reconciles must end first: a request is never reconciled twice at once.
  join_workers();
  auto log = log::named("controller").with_values("controller", options_.name);
  // A stop() racing with this start() may have run before the sources started: stop them here.
  auto cancelled = [&](std::string_view why) {
    for (const auto& w : watches) w.source->stop();
    return absl::CancelledError("controller " + options_.name + ": " + std::string(why));
  };
  if (run->stop.stop_requested()) return cancelled("stopped before start");
  for (const auto& w : watches) {
    if (absl::Status s = w.source->start(w.handler, *run->queue, w.predicates); !s.ok()) {
      stop(absl::ZeroDuration()).IgnoreError();
      return absl::Status(s.code(), "controller " + options_.name + ": starting " +
                                        w.source->description() + ": " + std::string(s.message()));
    }
  }
  // Wait in slices so that a stop() during the wait ends it promptly.
  absl::Time deadline = absl::Now() + options_.cache_sync_timeout;
  for (const auto& w : watches) {
    while (true) {
      if (run->stop.stop_requested()) return cancelled("stopped before sync");
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
  {
    absl::MutexLock lock(&mu_);
    if (!stopped_) {
      int n = std::max(1, options_.max_concurrent_reconciles);
      for (int i = 0; i < n; ++i) workers_.emplace_back([this, run] { worker(run); });
      log.info("started workers", "worker_count", n);
      return absl::OkStatus();
    }
  }
  return cancelled("stopped");
}

absl::Status Controller::stop(absl::Duration drain_timeout) {
  std::vector<Watch> watches;
  Run* run;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::OkStatus();
    stopped_ = true;
    watches = watches_;
    run = runs_.back().get();
  }
  for (const auto& w : watches) w.source->stop();  // stop intake
  run->stop.request_stop();
  auto drained = std::make_shared<absl::Notification>();
  {
    absl::MutexLock lock(&mu_);
    drainers_.emplace_back([run, drained] {
      run->queue->shutdown_with_drain();
      drained->Notify();
    });
  }
  if (!drained->WaitForNotificationWithTimeout(drain_timeout)) {
    run->queue->shutdown();  // ends the drain wait; the workers are joined later
    return absl::DeadlineExceededError(
        "controller " + options_.name + ": " + std::to_string(active_.load()) +
        " reconciles still running after " + absl::FormatDuration(drain_timeout));
  }
  join_workers();
  return absl::OkStatus();
}

void Controller::join_workers() {
  std::vector<std::thread> workers, drainers;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
    drainers.swap(drainers_);
  }
  for (auto& t : drainers) t.join();
  for (auto& t : workers) t.join();
}

void Controller::worker(Run* run) {
  while (auto item = run->queue->get()) {
    // After stop(), queued requests are dropped: only the reconciles in flight are drained.
    if (!run->stop.stop_requested()) reconcile_one(run, *item);
    run->queue->done(*item);
  }
}

void Controller::reconcile_one(Run* run, const Request& request) {
  active_.fetch_add(1);
  metrics_->active->inc();
  Queue& queue = *run->queue;
  // With a timeout, the reconcile gets its own stop request, which the run's stop also triggers.
  std::stop_source own;
  std::atomic<bool> timed_out{false};
  std::optional<std::stop_callback<std::function<void()>>> link;
  uint64_t deadline_id = 0;
  Context ctx{run->stop.get_token(), options_.name};
  if (deadlines_ != nullptr) {
    link.emplace(run->stop.get_token(), std::function<void()>([&own] { own.request_stop(); }));
    workqueue::Clock& clock = options_.clock != nullptr ? *options_.clock : workqueue::real_clock();
    deadline_id = deadlines_->add(clock.now() + options_.reconcile_timeout, own, &timed_out);
    ctx.stop = own.get_token();
    ctx.timeout_flag = &timed_out;
  }
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
  if (deadlines_ != nullptr) {
    deadlines_->remove(deadline_id);
    link.reset();
    if (timed_out.load()) metrics_->timeouts->inc();
  }
  metrics_->time->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  if (!result.ok()) {
    if (panicked) metrics_->panics->inc();
    metrics_->errors->inc();
    metrics_->error->inc();
    bool terminal = is_terminal_error(result.status());
    if (terminal) {
      // Not retried: only a change of the object (a new event) brings it back.
      metrics_->terminal->inc();
    } else {
      queue.add_rate_limited(request);
    }
    log::named("controller")
        .error(result.status(), "Reconciler error", "controller", options_.name, "namespace",
               request.namespace_, "name", request.name, "terminal", terminal);
  } else if (result->requeue_after > absl::ZeroDuration()) {
    // The delay is the user's; the failure history is not (controller-runtime forgets too).
    queue.forget(request);
    queue.add_after(request, result->requeue_after);
    metrics_->requeue_after->inc();
  } else if (result->requeue) {
    queue.add_rate_limited(request);
    metrics_->requeue->inc();
  } else {
    queue.forget(request);
    metrics_->success->inc();
  }
  metrics_->active->dec();
  active_.fetch_sub(1);
}

}  // namespace kop::controller
