// The controller against kop::local's LocalClient with real informers: dedup under event storms,
// requeue_after by a fake clock, backoff growth, the concurrency limit, exceptions, cache-sync
// timeout, draining on stop, and metrics.
#include "kop/controller/controller.h"

#include <absl/strings/match.h>
#include <absl/synchronization/notification.h>
#include <gtest/gtest.h>

#include <atomic>

#include "harness.h"
#include "kop/controller/builder.h"

namespace kop::controller {
namespace {

using testing::eventually;
using testing::Harness;
using testing::kConfigMap;
using testing::Recorder;

TEST(Controller, ReconcilesEveryObjectAfterTheCacheHasSynced) {
  Harness h;
  for (auto name : {"a", "b", "c"}) h.env.create(kConfigMap, name);
  Recorder rec;
  std::atomic<int> smallest_cache{1000};
  h.build({.name = "sync"}, [&](const Context&, const Request& r) -> absl::StatusOr<Result> {
    auto all = h.env.cache.list(kConfigMap);
    if (all.ok()) smallest_cache = std::min<int>(smallest_cache, all->size());
    rec.enter(r.key());
    rec.leave(r.key());
    return Result{};
  });
  h.start();
  ASSERT_TRUE(eventually([&] { return rec.total() >= 3; }));
  EXPECT_EQ(rec.calls("default/a"), 1);
  EXPECT_EQ(rec.calls("default/b"), 1);
  EXPECT_EQ(rec.calls("default/c"), 1);
  EXPECT_EQ(smallest_cache.load(), 3);  // the first reconcile already saw the whole list
  h.env.create(kConfigMap, "d");
  ASSERT_TRUE(eventually([&] { return rec.calls("default/d") == 1; }));
}

TEST(Controller, EventStormOnOneObjectIsMergedIntoFewReconciles) {
  Harness h;
  h.env.create(kConfigMap, "storm");
  Recorder rec;
  absl::Notification release;
  absl::Mutex mu;
  std::string last_seen;
  h.build({.name = "storm"}, [&](const Context&, const Request& r) -> absl::StatusOr<Result> {
    rec.enter(r.key());
    if (rec.calls(r.key()) == 1) release.WaitForNotification();
    auto obj = h.env.cache.get(kConfigMap, r.namespace_, r.name);
    if (obj.ok()) {
      absl::MutexLock lock(&mu);
      last_seen = std::string((*obj)->annotation("n").value_or(""));
    }
    rec.leave(r.key());
    return Result{};
  });
  h.start();
  ASSERT_TRUE(eventually([&] { return rec.calls("default/storm") == 1; }));
  for (int i = 1; i <= 200; ++i) {
    h.env.edit(kConfigMap, "storm",
               [&](api::Object& o) { o.set_annotation("n", std::to_string(i)); });
  }
  ASSERT_TRUE(eventually([&] {
    auto o = h.env.cache.get(kConfigMap, "default", "storm");
    return o.ok() && (*o)->annotation("n") == "200";
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // handlers catch up
  release.Notify();
  ASSERT_TRUE(eventually([&] {
    absl::MutexLock lock(&mu);
    return last_seen == "200";
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // 200 updates while busy: one more pass (two if the last events arrived during it), not 200.
  EXPECT_GE(rec.calls("default/storm"), 2);
  EXPECT_LE(rec.calls("default/storm"), 3);
  EXPECT_FALSE(rec.overlapped());
}

TEST(Controller, RequeueAfterWaitsExactlyThatLongOnTheClock) {
  workqueue::FakeClock clock;  // outlives the controller that waits on it
  Harness h;
  h.env.create(kConfigMap, "later");
  std::atomic<int> calls{0};
  h.build({.name = "later", .clock = &clock},
          [&](const Context&, const Request&) -> absl::StatusOr<Result> {
            if (++calls == 1) return Result{.requeue_after = absl::Seconds(10)};
            return Result{};
          });
  h.start();
  ASSERT_TRUE(eventually([&] { return calls == 1 && h.controller->queue().waiting() == 1; }));
  clock.step(absl::Seconds(9));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(calls.load(), 1);
  clock.step(absl::Seconds(1));
  ASSERT_TRUE(eventually([&] { return calls == 2; }));
  EXPECT_TRUE(absl::StrContains(
      h.metrics(),
      "controller_runtime_reconcile_total{controller=\"later\",result=\"requeue_after\"} 1"));
}

TEST(Controller, ErrorsBackOffExponentiallyAndSuccessForgets) {
  workqueue::FakeClock clock;  // outlives the controller that waits on it
  Harness h;
  h.env.create(kConfigMap, "flaky");
  std::atomic<int> calls{0};
  h.build({.name = "backoff", .clock = &clock},
          [&](const Context&, const Request&) -> absl::StatusOr<Result> {
            if (++calls <= 3) return absl::UnavailableError("not yet");
            return Result{};
          });
  h.start();
  const Request req{"default", "flaky"};
  // Failure n waits 5 ms * 2^(n-1): 5, 10, 20 ms.
  for (int n = 1; n <= 3; ++n) {
    ASSERT_TRUE(eventually([&] { return calls == n && h.controller->queue().waiting() == 1; }))
        << "failure " << n;
    absl::Duration delay = absl::Milliseconds(5 << (n - 1));
    clock.step(delay - absl::Milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(calls.load(), n) << "retried before " << absl::FormatDuration(delay);
    clock.step(absl::Milliseconds(1));
    ASSERT_TRUE(eventually([&] { return calls == n + 1; })) << "not retried after failure " << n;
  }
  ASSERT_TRUE(eventually([&] { return h.controller->queue().num_requeues(req) == 0; }));
  std::string m = h.metrics();
  EXPECT_TRUE(
      absl::StrContains(m, "controller_runtime_reconcile_errors_total{controller=\"backoff\"} 3"));
  EXPECT_TRUE(absl::StrContains(
      m, "controller_runtime_reconcile_total{controller=\"backoff\",result=\"error\"} 3"));
  EXPECT_TRUE(absl::StrContains(
      m, "controller_runtime_reconcile_total{controller=\"backoff\",result=\"success\"} 1"));
}

TEST(Controller, RequeueGoesThroughTheRateLimiter) {
  workqueue::FakeClock clock;  // outlives the controller that waits on it
  Harness h;
  h.env.create(kConfigMap, "again");
  std::atomic<int> calls{0};
  h.build({.name = "requeue", .clock = &clock},
          [&](const Context&, const Request&) -> absl::StatusOr<Result> {
            return Result{.requeue = ++calls < 3};
          });
  h.start();
  ASSERT_TRUE(eventually([&] { return calls == 1 && h.controller->queue().waiting() == 1; }));
  clock.step(absl::Milliseconds(5));
  ASSERT_TRUE(eventually([&] { return calls == 2 && h.controller->queue().waiting() == 1; }));
  clock.step(absl::Milliseconds(9));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(calls.load(), 2);  // second requeue waits 10 ms
  clock.step(absl::Milliseconds(1));
  ASSERT_TRUE(eventually([&] { return calls == 3; }));
  EXPECT_TRUE(absl::StrContains(
      h.metrics(),
      "controller_runtime_reconcile_total{controller=\"requeue\",result=\"requeue\"} 2"));
}

TEST(Controller, NeverMoreThanMaxConcurrentAndNeverOneKeyTwice) {
  Harness h;
  for (int i = 0; i < 12; ++i) h.env.create(kConfigMap, "obj" + std::to_string(i));
  Recorder rec;
  std::atomic<int> max_gauge_seen{0};
  h.build({.name = "limit", .max_concurrent_reconciles = 3},
          [&](const Context&, const Request& r) -> absl::StatusOr<Result> {
            rec.enter(r.key());
            max_gauge_seen = std::max(max_gauge_seen.load(), h.controller->active_workers());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            rec.leave(r.key());
            return Result{};
          });
  h.start();
  // Keep changing the same objects while they are being reconciled.
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 12; ++i) {
      h.env.edit(kConfigMap, "obj" + std::to_string(i),
                 [&](api::Object& o) { o.set_annotation("round", std::to_string(round)); });
    }
  }
  ASSERT_TRUE(eventually([&] { return rec.total() >= 12; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(rec.max_running(), 3);
  EXPECT_LE(max_gauge_seen.load(), 3);
  EXPECT_FALSE(rec.overlapped());
  EXPECT_TRUE(absl::StrContains(
      h.metrics(), "controller_runtime_max_concurrent_reconciles{controller=\"limit\"} 3"));
  EXPECT_TRUE(
      absl::StrContains(h.metrics(), "controller_runtime_active_workers{controller=\"limit\"} 0"));
}

TEST(Controller, ExceptionIsCaughtCountedAndRequeued) {
  Harness h;
  h.env.create(kConfigMap, "boom");
  std::atomic<int> calls{0};
  h.build({.name = "panic"}, [&](const Context&, const Request&) -> absl::StatusOr<Result> {
    if (++calls == 1) throw std::runtime_error("reconciler bug");
    return Result{};
  });
  h.start();
  ASSERT_TRUE(eventually([&] { return calls == 2; }));
  std::string m = h.metrics();
  EXPECT_TRUE(
      absl::StrContains(m, "controller_runtime_reconcile_panics_total{controller=\"panic\"} 1"));
  EXPECT_TRUE(
      absl::StrContains(m, "controller_runtime_reconcile_errors_total{controller=\"panic\"} 1"));
  EXPECT_TRUE(absl::StrContains(
      m, "controller_runtime_reconcile_time_seconds_bucket{controller=\"panic\",le=\"0.005\"}"));
}

TEST(Controller, CacheSyncTimeoutIsANamedError) {
  testing::Env env;
  ControllerOptions o{.name = "nosync", .cache_sync_timeout = absl::Milliseconds(300)};
  o.registry = &env.registry;
  auto c = Builder(env.cache)
               .for_({"example.com", "v1", "Nope"})
               .with_options(o)
               .build(std::make_shared<ReconcilerFunc>(
                   [](const Context&, const Request&) -> absl::StatusOr<Result> {
                     ADD_FAILURE() << "reconciled without a synced cache";
                     return Result{};
                   }));
  ASSERT_TRUE(c.ok());
  env.cache.start();
  auto start = absl::Now();
  absl::Status s = (*c)->start();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "nosync")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "Nope")) << s;
}

TEST(Controller, StopDrainsReconcilesInFlightAndDropsQueuedOnes) {
  Harness h;
  h.env.create(kConfigMap, "slow");
  h.env.create(kConfigMap, "queued");
  std::atomic<int> started{0}, finished{0};
  std::atomic<bool> saw_stop{false};
  h.build({.name = "drain"}, [&](const Context& ctx, const Request&) -> absl::StatusOr<Result> {
    ++started;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    saw_stop = ctx.stopping();
    ++finished;
    return Result{};
  });
  h.start();
  ASSERT_TRUE(eventually([&] { return started == 1; }));
  absl::Status s = h.controller->stop(absl::Seconds(5));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(finished.load(), 1);  // the reconcile in flight completed before stop() returned
  EXPECT_EQ(started.load(), 1);   // the queued one was not started
  EXPECT_TRUE(saw_stop.load());   // and it could see the stop request
}

TEST(Controller, StopReportsADrainTimeout) {
  Harness h;
  h.env.create(kConfigMap, "stuck");
  std::atomic<int> started{0};
  h.build({.name = "stuck"}, [&](const Context&, const Request&) -> absl::StatusOr<Result> {
    ++started;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return Result{};
  });
  h.start();
  ASSERT_TRUE(eventually([&] { return started == 1; }));
  absl::Status s = h.controller->stop(absl::Milliseconds(50));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "1 reconciles still running")) << s;
}

}  // namespace
}  // namespace kop::controller
