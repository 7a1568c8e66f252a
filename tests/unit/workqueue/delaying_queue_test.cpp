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
  absl::Time start = clock.now();
  std::unique_ptr<Waiter> w = clock.new_waiter();
  EXPECT_EQ(clock.waiter_count(), 1);
  w->notify();
  w->wait_until(absl::InfiniteFuture());  // the earlier notify is not lost: returns at once
  std::atomic<bool> woke{false};
  std::thread t([&] {
    w->wait_until(start + absl::Seconds(10));
    woke = true;
  });
  clock.step(absl::Seconds(5));
  std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(woke.load());
  clock.step(absl::Seconds(5));
  t.join();
  EXPECT_TRUE(woke.load());
  EXPECT_EQ(clock.now() - start, absl::Seconds(10));
  w.reset();
  EXPECT_EQ(clock.waiter_count(), 0);
}

TEST(FakeClock, ConcurrentStepsAddUp) {
  FakeClock clock;
  absl::Time start = clock.now();
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 1000; ++j) clock.step(absl::Milliseconds(1));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(clock.now() - start, absl::Seconds(4));
}

class DelayingQueueTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  DelayingQueue<std::string> q_{QueueOptions{.clock = &clock_}};
};

TEST_F(DelayingQueueTest, ItemArrivesWhenItsDelayHasPassed) {
  q_.add_after("a", absl::Seconds(10));
  EXPECT_EQ(q_.waiting(), 1u);
  EXPECT_EQ(q_.len(), 0u);
  clock_.step(absl::Seconds(9));
  std::this_thread::sleep_for(20ms);  // give the waiting thread a chance to be wrong
  EXPECT_EQ(q_.len(), 0u);
  clock_.step(absl::Seconds(1));
  ASSERT_TRUE(eventually([&] { return q_.len() == 1; }));
  EXPECT_EQ(q_.waiting(), 0u);
  EXPECT_EQ(q_.get(), "a");
}

TEST_F(DelayingQueueTest, ItemsArriveInDeadlineOrder) {
  q_.add_after("c", absl::Seconds(3));
  q_.add_after("a", absl::Seconds(1));
  q_.add_after("d", absl::Seconds(4));
  q_.add_after("b", absl::Seconds(2));
  clock_.step(absl::Seconds(3));
  ASSERT_TRUE(eventually([&] { return q_.len() == 3; }));
  EXPECT_EQ(q_.get(), "a");
  EXPECT_EQ(q_.get(), "b");
  EXPECT_EQ(q_.get(), "c");
  EXPECT_EQ(q_.waiting(), 1u);
  clock_.step(absl::Seconds(1));
  ASSERT_TRUE(eventually([&] { return q_.len() == 1; }));
  EXPECT_EQ(q_.get(), "d");
}

TEST_F(DelayingQueueTest, SecondAddAfterKeepsTheEarlierDeadline) {
  q_.add_after("later-first", absl::Seconds(10));
  q_.add_after("later-first", absl::Seconds(5));  // moves earlier
  q_.add_after("sooner-first", absl::Seconds(1));
  q_.add_after("sooner-first", absl::Seconds(10));  // ignored: 1 s is earlier
  EXPECT_EQ(q_.waiting(), 2u);
  clock_.step(absl::Seconds(1));
  ASSERT_TRUE(eventually([&] { return q_.len() == 1; }));
  EXPECT_EQ(q_.get(), "sooner-first");
  clock_.step(absl::Seconds(4));
  ASSERT_TRUE(eventually([&] { return q_.len() == 1; }));
  EXPECT_EQ(q_.get(), "later-first");
  EXPECT_EQ(q_.waiting(), 0u);
}

TEST_F(DelayingQueueTest, ZeroOrNegativeDelayAddsAtOnce) {
  q_.add_after("now", absl::ZeroDuration());
  q_.add_after("past", absl::Seconds(-5));
  EXPECT_EQ(q_.len(), 2u);
  EXPECT_EQ(q_.waiting(), 0u);
}

TEST_F(DelayingQueueTest, DelayedAddIsDeduplicatedWithAQueuedItem) {
  q_.add_after("a", absl::Seconds(1));
  q_.add("a");
  EXPECT_EQ(q_.len(), 1u);
  clock_.step(absl::Seconds(1));
  ASSERT_TRUE(eventually([&] { return q_.waiting() == 0; }));
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(q_.len(), 1u);  // "a" was still queued: not added twice
}

TEST_F(DelayingQueueTest, ShutdownDropsWaitingItemsAndIgnoresNewOnes) {
  q_.add_after("a", absl::Seconds(1));
  q_.shutdown();
  q_.add_after("b", absl::Seconds(1));
  q_.add_after("c", absl::ZeroDuration());
  EXPECT_EQ(q_.waiting(), 0u);
  clock_.step(absl::Seconds(2));
  EXPECT_EQ(q_.get(), std::nullopt);
  q_.shutdown();  // twice is fine
}

TEST(DelayingQueue, HugeDelaySaturates) {
  FakeClock clock;
  DelayingQueue<int> q(QueueOptions{.clock = &clock});
  q.add_after(1, absl::InfiniteDuration());
  EXPECT_EQ(q.waiting(), 1u);
  clock.step(absl::Hours(24 * 365));
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(q.len(), 0u);
}

TEST(DelayingQueue, RealClockDelivers) {
  DelayingQueue<int> q;
  auto start = std::chrono::steady_clock::now();
  q.add_after(7, absl::Milliseconds(20));
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
  producers.reserve(kProducers);
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        int item = p * kPerProducer + i;
        q.add_after(item, absl::Microseconds((item * 37) % 3000));
      }
    });
  }
  std::vector<bool> got(static_cast<size_t>(kProducers) * kPerProducer);
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
