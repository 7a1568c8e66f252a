// A controller stopped and started again (what the Manager does when it regains leadership):
// every object is reconciled again from a fresh queue, nothing while stopped, a request is
// never reconciled twice at once across the two runs, and a stop() that comes before its
// start() cancels that start.
#include <absl/strings/match.h>
#include <gtest/gtest.h>

#include <atomic>

#include "kop/controller/builder.h"
#include "kop/controller/controller.h"
#include "test_env.h"

namespace kop::controller {
namespace {

using testing::eventually;
using testing::kConfigMap;

std::unique_ptr<Controller> make(testing::Env& env, std::string name, ReconcilerFunc::Fn fn,
                                 int workers = 1) {
  ControllerOptions o{.name = std::move(name), .max_concurrent_reconciles = workers};
  o.registry = &env.registry;
  auto c = Builder(env.cache)
               .for_(kConfigMap)
               .with_options(o)
               .build(std::make_shared<ReconcilerFunc>(std::move(fn)));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

TEST(ControllerRestart, StartAfterStopReconcilesEverythingAgainAndNothingInBetween) {
  testing::Env env;
  env.create(kConfigMap, "a");
  env.create(kConfigMap, "b");
  testing::Recorder rec;
  auto c = make(env, "restart", [&](const Context&, const Request& r) -> absl::StatusOr<Result> {
    rec.enter(r.key());
    rec.leave(r.key());
    return Result{};
  });
  env.cache.start();
  {
    absl::Status st = c->start();
    ASSERT_TRUE(st.ok()) << st;
  }
  ASSERT_TRUE(
      eventually([&] { return rec.calls("default/a") == 1 && rec.calls("default/b") == 1; }));
  EXPECT_EQ(c->start().code(), absl::StatusCode::kFailedPrecondition);  // already running
  auto* first_queue = &c->queue();
  ASSERT_TRUE(c->stop(absl::Seconds(5)).ok());
  EXPECT_FALSE(c->started());
  // While stopped: changes are not reconciled (intake is off).
  env.edit(kConfigMap, "a", [](api::Object& o) { o.set_annotation("x", "1"); });
  env.create(kConfigMap, "c");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(rec.calls("default/a"), 1);
  EXPECT_EQ(rec.calls("default/c"), 0);
  // Started again: a new queue, and every cached object is reconciled once more.
  {
    absl::Status st = c->start();
    ASSERT_TRUE(st.ok()) << st;
  }
  EXPECT_TRUE(c->started());
  EXPECT_NE(&c->queue(), first_queue);
  ASSERT_TRUE(eventually([&] {
    return rec.calls("default/a") == 2 && rec.calls("default/b") == 2 &&
           rec.calls("default/c") == 1;
  }));
  // And new events are delivered to it.
  env.create(kConfigMap, "d");
  ASSERT_TRUE(eventually([&] { return rec.calls("default/d") == 1; }));
  first_queue->add({"default", "ignored"});  // an old queue stays valid, but is shut down
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(rec.calls("default/ignored"), 0);
  ASSERT_TRUE(c->stop(absl::Seconds(5)).ok());
}

TEST(ControllerRestart, TheNewRunWaitsForReconcilesOfTheOldOne) {
  testing::Env env;
  env.create(kConfigMap, "slow");
  testing::Recorder rec;
  std::atomic<int> calls{0};
  auto c = make(
      env, "overlap",
      [&](const Context&, const Request& r) -> absl::StatusOr<Result> {
        rec.enter(r.key());
        // The first reconcile ignores the stop request for a while (a slow API call).
        if (++calls == 1) std::this_thread::sleep_for(std::chrono::milliseconds(600));
        rec.leave(r.key());
        return Result{};
      },
      2);
  env.cache.start();
  {
    absl::Status st = c->start();
    ASSERT_TRUE(st.ok()) << st;
  }
  ASSERT_TRUE(eventually([&] { return calls == 1; }));
  // A lost lease: stop without waiting.
  EXPECT_EQ(c->stop(absl::ZeroDuration()).code(), absl::StatusCode::kDeadlineExceeded);
  auto t0 = std::chrono::steady_clock::now();
  {
    absl::Status st = c->start();
    ASSERT_TRUE(st.ok()) << st;
  }  // waits for the old reconcile
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
  ASSERT_TRUE(eventually([&] { return rec.calls("default/slow") == 2; }));
  EXPECT_FALSE(rec.overlapped());
  ASSERT_TRUE(c->stop(absl::Seconds(5)).ok());
}

TEST(ControllerRestart, StopBeforeStartCancelsThatStartOnly) {
  testing::Env env;
  env.create(kConfigMap, "a");
  std::atomic<int> calls{0};
  auto c = make(env, "cancel", [&](const Context&, const Request&) -> absl::StatusOr<Result> {
    ++calls;
    return Result{};
  });
  env.cache.start();
  ASSERT_TRUE(c->stop(absl::Seconds(1)).ok());  // e.g. the manager stopping while starting it
  absl::Status s = c->start();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(calls.load(), 0);
  ASSERT_TRUE(c->start().ok());  // a later start runs
  ASSERT_TRUE(eventually([&] { return calls == 1; }));
  ASSERT_TRUE(c->stop(absl::Seconds(5)).ok());
}

TEST(ControllerRestart, WatchAfterTheFirstStartIsRefusedEvenWhenStopped) {
  testing::Env env;
  auto c = make(env, "watch",
                [](const Context&, const Request&) -> absl::StatusOr<Result> { return Result{}; });
  env.cache.start();
  {
    absl::Status st = c->start();
    ASSERT_TRUE(st.ok()) << st;
  }
  ASSERT_TRUE(c->stop(absl::Seconds(1)).ok());
  absl::Status s = c->watch(kind(env.cache, testing::kSecret), enqueue_request_for_object());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
}

}  // namespace
}  // namespace kop::controller
