// What happens after a reconcile, beyond success/error/requeue: terminal errors (counted, never
// retried) and the per-reconcile timeout (ctx.stop requested on the controller's clock,
// counted), against kop::local with real informers.
#include <absl/strings/match.h>
#include <absl/synchronization/notification.h>
#include <gtest/gtest.h>

#include <atomic>

#include "harness.h"
#include "kop/controller/builder.h"
#include "kop/controller/controller.h"

namespace kop::controller {
namespace {

using testing::eventually;
using testing::Harness;
using testing::kConfigMap;

TEST(TerminalError, KeepsCodeAndMessageAndSurvivesRewrapping) {
  absl::Status t = terminal_error(absl::InvalidArgumentError("spec.replicas must be >= 0"));
  EXPECT_TRUE(is_terminal_error(t));
  EXPECT_EQ(t.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.message(), "spec.replicas must be >= 0");
  // A new message with the payloads kept (how errors are usually wrapped) stays terminal.
  absl::Status wrapped(t.code(), "reconciling web: " + std::string(t.message()));
  t.ForEachPayload([&](absl::string_view url, const absl::Cord& p) { wrapped.SetPayload(url, p); });
  EXPECT_TRUE(is_terminal_error(wrapped));
  EXPECT_FALSE(is_terminal_error(absl::InvalidArgumentError("plain")));
  EXPECT_FALSE(is_terminal_error(absl::OkStatus()));
  absl::Status from_ok = terminal_error(absl::OkStatus());
  EXPECT_FALSE(from_ok.ok());
  EXPECT_TRUE(is_terminal_error(from_ok));
}

TEST(Controller, TerminalErrorIsCountedAndNotRetried) {
  workqueue::FakeClock clock;  // outlives the controller that waits on it
  Harness h;
  h.env.create(kConfigMap, "bad");
  std::atomic<int> calls{0};
  h.build({.name = "terminal", .clock = &clock},
          [&](const Context&, const Request&) -> absl::StatusOr<Result> {
            ++calls;
            return terminal_error(absl::InvalidArgumentError("cannot work with this spec"));
          });
  h.start();
  ASSERT_TRUE(eventually([&] { return calls == 1; }));
  ASSERT_TRUE(eventually([&] {
    return h.has_metric(
        "controller_runtime_terminal_reconcile_errors_total{controller=\"terminal\"} 1");
  }));
  // Nothing is waiting to be retried; however far time moves, no retry comes.
  EXPECT_EQ(h.controller->queue().waiting(), 0u);
  EXPECT_EQ(h.controller->queue().len(), 0u);
  clock.step(absl::Hours(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_TRUE(h.has_metric("controller_runtime_reconcile_errors_total{controller=\"terminal\"} 1"));
  EXPECT_TRUE(h.has_metric(
      "controller_runtime_reconcile_total{controller=\"terminal\",result=\"error\"} 1"));
  // A change of the object is a new event: reconciled again.
  h.env.edit(kConfigMap, "bad", [](api::Object& o) { o.set_annotation("fixed", "yes"); });
  ASSERT_TRUE(eventually([&] { return calls == 2; }));
}

TEST(Controller, OrdinaryErrorIsStillRetriedAndNotCountedAsTerminal) {
  workqueue::FakeClock clock;
  Harness h;
  h.env.create(kConfigMap, "flaky");
  std::atomic<int> calls{0};
  h.build({.name = "ordinary", .clock = &clock},
          [&](const Context&, const Request&) -> absl::StatusOr<Result> {
            if (++calls == 1) return absl::UnavailableError("try later");
            return Result{};
          });
  h.start();
  ASSERT_TRUE(eventually([&] { return calls == 1 && h.controller->queue().waiting() == 1; }));
  clock.step(absl::Milliseconds(5));
  ASSERT_TRUE(eventually([&] { return calls == 2; }));
  EXPECT_TRUE(h.has_metric(
      "controller_runtime_terminal_reconcile_errors_total{controller=\"ordinary\"} 0"));
}

TEST(Controller, ReconcileTimeoutRequestsStopOnTheClockAndIsCounted) {
  workqueue::FakeClock clock;
  Harness h;
  h.env.create(kConfigMap, "slow");
  std::atomic<int> calls{0};
  std::atomic<bool> running{false}, saw_timeout{false};
  h.build({.name = "timeout", .reconcile_timeout = absl::Seconds(30), .clock = &clock},
          [&](const Context& ctx, const Request&) -> absl::StatusOr<Result> {
            if (++calls > 1) return Result{};
            running = true;
            // A long operation that checks its context, as a reconciler should.
            auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            while (!ctx.stopping() && std::chrono::steady_clock::now() < give_up) {
              std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
            saw_timeout = ctx.timed_out();
            running = false;
            return absl::DeadlineExceededError("gave up: reconcile timeout");
          });
  h.start();
  ASSERT_TRUE(eventually([&] { return running.load(); }));
  clock.step(absl::Seconds(29));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_TRUE(running.load()) << "stopped before its timeout";
  clock.step(absl::Seconds(1));
  ASSERT_TRUE(eventually([&] { return !running.load(); }));
  EXPECT_TRUE(saw_timeout.load());
  ASSERT_TRUE(eventually([&] {
    return h.has_metric("controller_runtime_reconcile_timeouts_total{controller=\"timeout\"} 1");
  }));
  // The timeout's error goes through the rate limiter like any error: retried.
  ASSERT_TRUE(eventually([&] { return h.controller->queue().waiting() == 1; }));
  clock.step(absl::Milliseconds(5));
  ASSERT_TRUE(eventually([&] { return calls == 2; }));
  EXPECT_TRUE(
      h.has_metric("controller_runtime_reconcile_timeouts_total{controller=\"timeout\"} 1"));
}

TEST(Controller, FastReconcilesDoNotTimeOutAndStopStillReachesTheContext) {
  Harness h;
  h.env.create(kConfigMap, "quick");
  h.env.create(kConfigMap, "waits");
  std::atomic<bool> waiting{false}, saw_stop{false}, saw_timeout{true};
  std::atomic<int> quick{0};
  h.build(
      {.name = "notimeout", .max_concurrent_reconciles = 2, .reconcile_timeout = absl::Seconds(60)},
      [&](const Context& ctx, const Request& r) -> absl::StatusOr<Result> {
        if (r.name == "quick") {
          ++quick;
          return Result{};
        }
        waiting = true;
        while (!ctx.stopping()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        saw_stop = true;
        saw_timeout = ctx.timed_out();
        return Result{};
      });
  h.start();
  ASSERT_TRUE(eventually([&] { return waiting.load() && quick == 1; }));
  EXPECT_TRUE(h.controller->stop(absl::Seconds(5)).ok());
  EXPECT_TRUE(saw_stop.load());
  EXPECT_FALSE(saw_timeout.load());  // stopped by the controller, not by the timeout
  EXPECT_TRUE(
      h.has_metric("controller_runtime_reconcile_timeouts_total{controller=\"notimeout\"} 0"));
}

}  // namespace
}  // namespace kop::controller
