#include "kop/workqueue/queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <absl/hash/hash.h>
#include "test_util.h"

namespace kop::workqueue {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

TEST(Queue, DeduplicatesWaitingItemsAndKeepsOrder) {
  Queue<std::string> q;
  q.add("a");
  q.add("b");
  q.add("a");
  q.add("c");
  EXPECT_EQ(q.len(), 3u);
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.get(), "b");
  EXPECT_EQ(q.get(), "c");
  EXPECT_EQ(q.len(), 0u);
}

TEST(Queue, ItemBeingProcessedIsNotHandedOutAgain) {
  Queue<std::string> q;
  q.add("a");
  ASSERT_EQ(q.get(), "a");
  q.add("a");  // marked dirty, not queued while a worker holds it
  EXPECT_EQ(q.len(), 0u);
  auto second = std::async(std::launch::async, [&] { return q.get(); });
  EXPECT_EQ(second.wait_for(50ms), std::future_status::timeout);
  q.done("a");  // now it is queued again, for the waiting worker
  ASSERT_EQ(second.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(second.get(), "a");
}

TEST(Queue, AddsDuringProcessingRequeueOnceAfterDone) {
  Queue<std::string> q;
  q.add("a");
  ASSERT_EQ(q.get(), "a");
  q.add("a");
  q.add("a");
  q.add("b");
  EXPECT_EQ(q.len(), 1u);
  EXPECT_EQ(q.get(), "b");
  q.done("a");
  EXPECT_EQ(q.len(), 1u);
  EXPECT_EQ(q.get(), "a");
  q.done("a");
  q.done("b");
  EXPECT_EQ(q.len(), 0u);
  q.done("never-added");  // harmless
  EXPECT_EQ(q.len(), 0u);
}

TEST(Queue, ShutdownIgnoresAddsAndDrainsQueuedItemsBeforeSignalling) {
  Queue<int> q;
  q.add(1);
  q.add(2);
  q.add(3);
  ASSERT_EQ(q.get(), 1);
  q.shutdown();
  EXPECT_TRUE(q.shutting_down());
  q.add(4);  // ignored
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(q.get(), 2);  // queued items are still handed out
  q.add(1);               // ignored, even for an item being processed
  q.done(1);
  EXPECT_EQ(q.get(), 3);
  EXPECT_EQ(q.get(), std::nullopt);
  EXPECT_EQ(q.get(), std::nullopt);
}

TEST(Queue, BlockedGetReturnsShutdown) {
  Queue<int> q;
  auto waiter = std::async(std::launch::async, [&] { return q.get(); });
  EXPECT_EQ(waiter.wait_for(20ms), std::future_status::timeout);
  q.shutdown();
  ASSERT_EQ(waiter.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(waiter.get(), std::nullopt);
}

TEST(Queue, ShutdownWithDrainWaitsForItemsInFlight) {
  Queue<int> q;
  q.add(1);
  q.add(2);
  ASSERT_EQ(q.get(), 1);
  ASSERT_EQ(q.get(), 2);
  auto drain = std::async(std::launch::async, [&] { q.shutdown_with_drain(); });
  EXPECT_EQ(drain.wait_for(50ms), std::future_status::timeout);
  q.done(1);
  EXPECT_EQ(drain.wait_for(50ms), std::future_status::timeout);
  q.done(2);
  EXPECT_EQ(drain.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(q.get(), std::nullopt);
}

TEST(Queue, ShutdownEndsADrainWait) {
  Queue<int> q;
  q.add(1);
  ASSERT_EQ(q.get(), 1);
  auto drain = std::async(std::launch::async, [&] { q.shutdown_with_drain(); });
  EXPECT_EQ(drain.wait_for(30ms), std::future_status::timeout);
  q.shutdown();
  EXPECT_EQ(drain.wait_for(5s), std::future_status::ready);
}

struct Request {
  std::string ns;
  std::string name;
  bool operator==(const Request&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const Request& r) {
    return H::combine(std::move(h), r.ns, r.name);
  }
};

TEST(Queue, WorksWithAStructKey) {
  Queue<Request> q;
  q.add({"default", "web"});
  q.add({"default", "web"});
  q.add({"kube-system", "web"});
  EXPECT_EQ(q.len(), 2u);
  auto r = q.get();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->ns, "default");
}

// Many producers and workers: every add is seen by a pass that started after it, and no item is
// ever held by two workers at once.
TEST(QueueConcurrency, NoItemLostNoneProcessedConcurrently) {
  constexpr int kProducers = 4, kWorkers = 4, kAddsPerProducer = 5000, kKeys = 300;
  Queue<int> q;
  std::vector<std::atomic<int>> version(kKeys), seen(kKeys);
  std::vector<std::atomic<bool>> in_flight(kKeys);
  std::atomic<int> overlaps{0}, processed{0};
  std::vector<std::thread> workers;
  workers.reserve(kWorkers);
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (auto item = q.get()) {
        int k = *item;
        if (in_flight[k].exchange(true)) overlaps.fetch_add(1);
        int v = version[k].load();
        int prev = seen[k].load();
        while (v > prev && !seen[k].compare_exchange_weak(prev, v)) {
        }
        if (k % 7 == 0) std::this_thread::yield();
        processed.fetch_add(1);
        in_flight[k].store(false);
        q.done(k);
      }
    });
  }
  std::vector<std::thread> producers;
  producers.reserve(kProducers);
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kAddsPerProducer; ++i) {
        int k = (i * 31 + p * 7) % kKeys;
        version[k].fetch_add(1);
        q.add(k);
      }
    });
  }
  for (auto& t : producers) t.join();
  ASSERT_TRUE(eventually([&] { return q.len() == 0; }, 20s));
  q.shutdown_with_drain();
  for (auto& t : workers) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_GE(seen[k].load(), version[k].load()) << "key " << k << " lost an add";
  }
  EXPECT_GT(processed.load(), kKeys - 1);
  EXPECT_LE(processed.load(), kProducers * kAddsPerProducer);
}

TEST(QueueConcurrency, ShutdownWithDrainFinishesInFlightWork) {
  constexpr int kWorkers = 4, kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    Queue<int> q;
    std::atomic<int> in_flight{0}, finished{0};
    std::atomic<bool> release{false};
    std::vector<std::thread> workers;
    workers.reserve(kWorkers);
    for (int w = 0; w < kWorkers; ++w) {
      workers.emplace_back([&] {
        while (auto item = q.get()) {
          in_flight.fetch_add(1);
          while (!release.load()) std::this_thread::sleep_for(100us);
          std::this_thread::sleep_for(std::chrono::microseconds(200 * *item));
          finished.fetch_add(1);
          in_flight.fetch_sub(1);
          q.done(*item);
        }
      });
    }
    for (int i = 0; i < kWorkers; ++i) q.add(i);
    // Every worker holds one item, none is queued: drain must wait for all of them.
    ASSERT_TRUE(eventually([&] { return in_flight.load() == kWorkers; }));
    auto drain = std::async(std::launch::async, [&] { q.shutdown_with_drain(); });
    EXPECT_EQ(drain.wait_for(20ms), std::future_status::timeout);
    release = true;
    ASSERT_EQ(drain.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(finished.load(), kWorkers);
    EXPECT_EQ(in_flight.load(), 0);
    for (auto& t : workers) t.join();
  }
}

}  // namespace
}  // namespace kop::workqueue
