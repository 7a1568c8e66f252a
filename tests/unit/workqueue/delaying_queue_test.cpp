#include "kop/workqueue/delaying_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace kop::workqueue {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

TEST(FakeClock, WaitersWakeAtTheirDeadlineAndKeepEarlyNotifies) {
  FakeClock clock;
  TimePoint start = clock.now();
  std::unique_ptr<Waiter> w = clock.new_waiter();
  EXPECT_EQ(clock.waiter_count(), 1);
  w->notify();
  w->wait_until(TimePoint::max());  // the earlier notify is not lost: returns at once
  std::atomic<bool> woke{false};
  std::thread t([&] {
    w->wait_until(start + 10s);
    woke = true;
  });
  clock.step(5s);
  std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(woke.load());
  clock.step(5s);
  t.join();
  EXPECT_TRUE(woke.load());
  EXPECT_EQ(clock.now() - start, 10s);
  w.reset();
  EXPECT_EQ(clock.waiter_count(), 0);
}

TEST(FakeClock, ConcurrentStepsAddUp) {
  FakeClock clock;
  TimePoint start = clock.now();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 1000; ++j) clock.step(1ms);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(clock.now() - start, 4s);
}

class DelayingQueueTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  DelayingQueue<std::string> q_{QueueOptions{.clock = &clock_}};
};

TEST_F(DelayingQueueTest, ItemArrivesWhenItsDelayHasPassed) {
  q_.add_after("a", 10s);
  EXPECT_EQ(q_.waiting(), 1u);
  EXPECT_EQ(q_.len(), 0u);
  clock_.step(9s);
  std::this_thread::sleep_for(20ms);  // give the waiting thread a chance to be wrong
  EXPECT_EQ(q_.len(), 0u);
  clock_.step(1s);
  ASSERT_TRUE(eventually([&] { return q_.len() == 1; }));
  EXPECT_EQ(q_.waiting(), 0u);
  EXPECT_EQ(q_.get(), "a");
}

TEST_F(DelayingQueueTest, ItemsArriveInDeadlineOrder) {
  q_.add_after("c", 3s);
  q_.add_after("a", 1s);
  q_.add_after("d", 4s);
  q_.add_after("b", 2s);
  clock_.step(3s);
  ASSERT_TRUE(eventually([&] { return q_.len() == 3; }));
  EXPECT_EQ(q_.get(), "a");
  EXPECT_EQ(q_.get(), "b");
  EXPECT_EQ(q_.get(), "c");
  EXPECT_EQ(q_.waiting(), 1u);
  clock_.step(1s);
  ASSERT_TRUE(eventually([&] { return q_.len() == 1; }));
  EXPECT_EQ(q_.get(), "d");
}

TEST_F(DelayingQueueTest, SecondAddAfterKeepsTheEarlierDeadline) {
  q_.add_after("later-first", 10s);
  q_.add_after("later-first", 5s);  // moves earlier
  q_.add_after("sooner-first", 1s);
  q_.add_after("sooner-first", 10s);  // ignored: 1 s is earlier
  EXPECT_EQ(q_.waiting(), 2u);
  clock_.step(1s);
  ASSERT_TRUE(eventually([&] { return q_.len() == 1; }));
  EXPECT_EQ(q_.get(), "sooner-first");
  clock_.step(4s);
  ASSERT_TRUE(eventually([&] { return q_.len() == 1; }));
  EXPECT_EQ(q_.get(), "later-first");
  EXPECT_EQ(q_.waiting(), 0u);
}

TEST_F(DelayingQueueTest, ZeroOrNegativeDelayAddsAtOnce) {
  q_.add_after("now", 0s);
  q_.add_after("past", -5s);
  EXPECT_EQ(q_.len(), 2u);
  EXPECT_EQ(q_.waiting(), 0u);
}

TEST_F(DelayingQueueTest, DelayedAddIsDeduplicatedWithAQueuedItem) {
  q_.add_after("a", 1s);
  q_.add("a");
  EXPECT_EQ(q_.len(), 1u);
  clock_.step(1s);
  ASSERT_TRUE(eventually([&] { return q_.waiting() == 0; }));
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(q_.len(), 1u);  // "a" was still queued: not added twice
}

TEST_F(DelayingQueueTest, ShutdownDropsWaitingItemsAndIgnoresNewOnes) {
  q_.add_after("a", 1s);
  q_.shutdown();
  q_.add_after("b", 1s);
  q_.add_after("c", 0s);
  EXPECT_EQ(q_.waiting(), 0u);
  clock_.step(2s);
  EXPECT_EQ(q_.get(), std::nullopt);
  q_.shutdown();  // twice is fine
}

TEST(DelayingQueue, HugeDelaySaturates) {
  FakeClock clock;
  DelayingQueue<int> q(QueueOptions{.clock = &clock});
  q.add_after(1, Duration::max());
  EXPECT_EQ(q.waiting(), 1u);
  clock.step(std::chrono::hours(24 * 365));
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(q.len(), 0u);
}

TEST(DelayingQueue, RealClockDelivers) {
  DelayingQueue<int> q;
  auto start = std::chrono::steady_clock::now();
  q.add_after(7, 20ms);
  EXPECT_EQ(q.get(), 7);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

TEST(DelayingQueue, ShutdownWithDrainWaitsForInFlight) {
  DelayingQueue<int> q;
  q.add(1);
  ASSERT_EQ(q.get(), 1);
  std::atomic<bool> drained{false};
  std::thread t([&] {
    q.shutdown_with_drain();
    drained = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(drained.load());
  q.done(1);
  t.join();
  EXPECT_TRUE(drained.load());
}

// Many threads add with random short delays under the real clock; every item arrives once its
// delay is over, none is lost.
TEST(DelayingQueueConcurrency, ManyProducersNoItemLost) {
  DelayingQueue<int> q;
  constexpr int kProducers = 4, kPerProducer = 500;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        int item = p * kPerProducer + i;
        q.add_after(item, std::chrono::microseconds((item * 37) % 3000));
      }
    });
  }
  std::vector<bool> got(kProducers * kPerProducer);
  int count = 0;
  while (count < kProducers * kPerProducer) {
    auto item = q.get();
    ASSERT_TRUE(item.has_value());
    EXPECT_FALSE(got[*item]);
    got[*item] = true;
    q.done(*item);
    ++count;
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(q.len(), 0u);
  EXPECT_EQ(q.waiting(), 0u);
}

}  // namespace
}  // namespace kop::workqueue
