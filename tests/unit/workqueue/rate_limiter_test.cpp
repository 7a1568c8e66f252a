#include "kop/workqueue/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "kop/workqueue/rate_limiting_queue.h"
#include "test_util.h"

namespace kop::workqueue {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

TEST(ItemExponentialFailureRateLimiter, DoublesPerFailureFromFiveMilliseconds) {
  ExponentialFailureOptions defaults;
  EXPECT_EQ(defaults.base_delay, absl::Milliseconds(5));
  EXPECT_EQ(defaults.max_delay, absl::Seconds(1000));
  ItemExponentialFailureRateLimiter<std::string> r;
  EXPECT_EQ(r.when("a"), absl::Milliseconds(5));
  EXPECT_EQ(r.when("a"), absl::Milliseconds(10));
  EXPECT_EQ(r.when("a"), absl::Milliseconds(20));
  EXPECT_EQ(r.when("a"), absl::Milliseconds(40));
  EXPECT_EQ(r.when("b"), absl::Milliseconds(5));  // per item
  EXPECT_EQ(r.num_requeues("a"), 4);
  EXPECT_EQ(r.num_requeues("b"), 1);
  r.forget("a");
  EXPECT_EQ(r.num_requeues("a"), 0);
  EXPECT_EQ(r.when("a"), absl::Milliseconds(5));
}

TEST(ItemExponentialFailureRateLimiter, CapsAtMaxDelayAndNeverOverflows) {
  ItemExponentialFailureRateLimiter<int> r(
      {.base_delay = absl::Milliseconds(1), .max_delay = absl::Seconds(1)});
  absl::Duration last{};
  for (int i = 0; i < 10; ++i) last = r.when(1);
  EXPECT_EQ(last, absl::Milliseconds(512));
  EXPECT_EQ(r.when(1), absl::Seconds(1));
  for (int i = 0; i < 200; ++i) last = r.when(1);
  EXPECT_EQ(last, absl::Seconds(1));
  EXPECT_EQ(exponential_backoff(absl::Milliseconds(5), absl::Seconds(1000), 1000),
            absl::Seconds(1000));
  EXPECT_EQ(exponential_backoff(absl::Milliseconds(5), absl::Seconds(1000), 17),
            absl::Milliseconds(655360));
  EXPECT_EQ(exponential_backoff(absl::Milliseconds(5), absl::Seconds(1000), 18),
            absl::Seconds(1000));
}

TEST(BucketRateLimiter, BurstThenOneTokenPerTenthOfASecond) {
  BucketOptions defaults;
  EXPECT_EQ(defaults.qps, 10);
  EXPECT_EQ(defaults.burst, 100);
  FakeClock clock;
  BucketRateLimiter<int> r({.clock = &clock});
  for (int i = 0; i < 100; ++i) ASSERT_EQ(r.when(i), absl::ZeroDuration()) << i;
  EXPECT_EQ(r.when(100),
            absl::Milliseconds(100));  // into debt: each reservation waits one more token
  EXPECT_EQ(r.when(101), absl::Milliseconds(200));
  EXPECT_EQ(r.num_requeues(100), 0);
  clock.step(absl::Seconds(1));  // +10 tokens: debt of 2 repaid, 8 left
  for (int i = 0; i < 8; ++i) ASSERT_EQ(r.when(i), absl::ZeroDuration()) << i;
  EXPECT_EQ(r.when(0), absl::Milliseconds(100));
  clock.step(absl::Seconds(1000));  // refills to the burst, not beyond
  for (int i = 0; i < 100; ++i) ASSERT_EQ(r.when(i), absl::ZeroDuration()) << i;
  EXPECT_EQ(r.when(0), absl::Milliseconds(100));
}

TEST(BucketRateLimiter, DegenerateBuckets) {
  FakeClock clock;
  BucketRateLimiter<int> no_burst({.qps = 10, .burst = 0, .clock = &clock});
  EXPECT_EQ(no_burst.when(1), absl::InfiniteDuration());
  BucketRateLimiter<int> no_refill({.qps = 0, .burst = 1, .clock = &clock});
  EXPECT_EQ(no_refill.when(1), absl::ZeroDuration());
  EXPECT_EQ(no_refill.when(1), absl::InfiniteDuration());
  BucketRateLimiter<int> unlimited(
      {.qps = std::numeric_limits<double>::infinity(), .burst = 1, .clock = &clock});
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(unlimited.when(1), absl::ZeroDuration());
}

TEST(MaxOfRateLimiter, TakesTheLongestAndForgetsEverywhere) {
  FakeClock clock;
  auto exp = std::make_shared<ItemExponentialFailureRateLimiter<int>>(ExponentialFailureOptions{
      .base_delay = absl::Milliseconds(1), .max_delay = absl::Seconds(1000)});
  auto bucket = std::make_shared<BucketRateLimiter<int>>(
      BucketOptions{.qps = 1, .burst = 1, .clock = &clock});
  MaxOfRateLimiter<int> r({exp, bucket});
  EXPECT_EQ(r.when(1), absl::Milliseconds(1));  // bucket: 0, exponential: 1 ms
  EXPECT_EQ(r.when(1), absl::Seconds(1));       // bucket: 1 s, exponential: 2 ms
  EXPECT_EQ(r.when(1), absl::Seconds(2));       // bucket: 2 s, exponential: 4 ms
  EXPECT_EQ(r.num_requeues(1), 3);
  r.forget(1);
  EXPECT_EQ(r.num_requeues(1), 0);
  EXPECT_EQ(exp->num_requeues(1), 0);
}

TEST(DefaultControllerRateLimiter, IsMaxOfExponentialAndBucket) {
  FakeClock clock;
  auto r = default_controller_rate_limiter<int>(&clock);
  EXPECT_EQ(r->when(1), absl::Milliseconds(5));
  EXPECT_EQ(r->when(1), absl::Milliseconds(10));
  for (int i = 2; i < 100; ++i) ASSERT_EQ(r->when(i), absl::Milliseconds(5));  // 100 tokens used
  EXPECT_EQ(r->when(100), absl::Milliseconds(100));  // the bucket now dominates a first failure
  EXPECT_EQ(r->num_requeues(1), 2);
  r->forget(1);
  EXPECT_EQ(r->num_requeues(1), 0);
}

TEST(RateLimitingQueue, AddRateLimitedDelaysByTheLimiter) {
  FakeClock clock;
  RateLimitingQueue<std::string> q(QueueOptions{.clock = &clock});
  q.add_rate_limited("a");
  EXPECT_EQ(q.num_requeues("a"), 1);
  EXPECT_EQ(q.waiting(), 1u);
  EXPECT_EQ(q.len(), 0u);
  clock.step(absl::Milliseconds(4));
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(q.len(), 0u);
  clock.step(absl::Milliseconds(1));
  ASSERT_TRUE(eventually([&] { return q.len() == 1; }));
  ASSERT_EQ(q.get(), "a");
  q.add_rate_limited("a");  // second failure: 10 ms
  EXPECT_EQ(q.num_requeues("a"), 2);
  q.done("a");
  clock.step(absl::Milliseconds(9));
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(q.len(), 0u);
  clock.step(absl::Milliseconds(1));
  ASSERT_TRUE(eventually([&] { return q.len() == 1; }));
  q.forget("a");
  EXPECT_EQ(q.num_requeues("a"), 0);
  q.shutdown();
  EXPECT_TRUE(q.shutting_down());
}

TEST(RateLimitingQueue, CustomLimiterAndDirectAdds) {
  FakeClock clock;
  auto limiter = std::make_shared<ItemExponentialFailureRateLimiter<int>>(
      ExponentialFailureOptions{.base_delay = absl::Seconds(1), .max_delay = absl::Seconds(10)});
  RateLimitingQueue<int> q(QueueOptions{.clock = &clock}, limiter);
  q.add_rate_limited(1);
  q.add(2);
  q.add_after(3, absl::ZeroDuration());
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(limiter->num_requeues(1), 1);
  clock.step(absl::Seconds(1));
  ASSERT_TRUE(eventually([&] { return q.len() == 3; }));
}

// Workers that fail items at random and requeue them rate-limited, under the real clock: no item
// is processed by two workers at once, every item ends up succeeding, and shutdown_with_drain
// returns once the workers' items are done.
TEST(RateLimitingQueueConcurrency, RetriesUnderLoad) {
  constexpr int kWorkers = 4, kItems = 200, kFailuresPerItem = 3;
  auto limiter = std::make_shared<ItemExponentialFailureRateLimiter<int>>(ExponentialFailureOptions{
      .base_delay = absl::Microseconds(50), .max_delay = absl::Milliseconds(2)});
  RateLimitingQueue<int> q(QueueOptions{}, limiter);
  std::vector<std::atomic<bool>> in_flight(kItems), succeeded(kItems);
  std::atomic<int> overlaps{0}, successes{0};
  std::vector<std::thread> workers;
  workers.reserve(kWorkers);
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (auto item = q.get()) {
        int k = *item;
        if (in_flight[k].exchange(true)) overlaps.fetch_add(1);
        bool fail = q.num_requeues(k) < kFailuresPerItem;
        in_flight[k].store(false);
        if (fail) {
          q.add_rate_limited(k);
        } else {
          q.forget(k);
          if (!succeeded[k].exchange(true)) successes.fetch_add(1);
        }
        q.done(k);
      }
    });
  }
  for (int k = 0; k < kItems; ++k) q.add(k);
  ASSERT_TRUE(eventually([&] { return successes.load() == kItems; }, 20s));
  q.shutdown_with_drain();
  for (auto& t : workers) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  for (int k = 0; k < kItems; ++k) EXPECT_EQ(q.num_requeues(k), 0) << k;
}

}  // namespace
}  // namespace kop::workqueue
