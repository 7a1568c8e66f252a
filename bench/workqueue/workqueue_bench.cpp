// Throughput of the workqueue: add/get/done with 1, 2 and 4 threads sharing one queue, the cost
// of metrics, and add_after (heap insert, and delivery through the waiting thread).
#include <benchmark/benchmark.h>

#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <absl/time/time.h>
#include "kop/metrics/registry.h"
#include "kop/workqueue/delaying_queue.h"
#include "kop/workqueue/queue.h"

namespace kop::workqueue {
namespace {

// Keys are never reused: with reuse, a worker descheduled while holding an item can make two
// later adds of it collapse into one (dedup), and some thread's get() would then wait forever.
// A key like "namespace-1/ingress-123456" is written into a reused buffer (no allocation here);
// the queue's own copies are part of what is measured.
class KeyWriter {
 public:
  explicit KeyWriter(int thread) : key_("namespace-" + std::to_string(thread) + "/ingress-") {
    prefix_ = key_.size();
    key_.reserve(prefix_ + 24);
  }
  const std::string& next() {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof(digits), n_++).ptr;
    key_.resize(prefix_);
    key_.append(digits, end);
    return key_;
  }

 private:
  std::string key_;
  size_t prefix_;
  uint64_t n_ = 0;
};

std::unique_ptr<Queue<std::string>> g_string_queue;
std::unique_ptr<Queue<int64_t>> g_int_queue;
std::unique_ptr<metrics::Registry> g_registry;

// Each thread adds one of its own keys, takes an item (any thread's) and marks it done. Every
// thread adds before it gets, so a get never waits for long.
void BM_AddGetDone_String(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_registry = std::make_unique<metrics::Registry>();
    QueueOptions o;
    if (state.range(0) != 0) {
      o.name = "bench";
      o.registry = g_registry.get();
    }
    g_string_queue = std::make_unique<Queue<std::string>>(o);
  }
  KeyWriter keys(state.thread_index());
  for (auto _ : state) {
    g_string_queue->add(keys.next());
    auto item = g_string_queue->get();
    g_string_queue->done(*item);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    g_string_queue.reset();
    g_registry.reset();
  }
}
BENCHMARK(BM_AddGetDone_String)
    ->ArgName("metrics")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->UseRealTime();

void BM_AddGetDone_Int(benchmark::State& state) {
  if (state.thread_index() == 0) g_int_queue = std::make_unique<Queue<int64_t>>();
  int64_t base = static_cast<int64_t>(state.thread_index()) << 32;
  int64_t i = 0;
  for (auto _ : state) {
    g_int_queue->add(base + i++);
    auto item = g_int_queue->get();
    g_int_queue->done(*item);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) g_int_queue.reset();
}
BENCHMARK(BM_AddGetDone_Int)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

std::unique_ptr<DelayingQueue<int64_t>> g_delaying;

// add_after with a delay that never expires here: the cost of a heap insert of a new item
// (deadlines increase, as for items requeued at a steady rate).
void BM_AddAfter_Insert(benchmark::State& state) {
  if (state.thread_index() == 0) g_delaying = std::make_unique<DelayingQueue<int64_t>>();
  int64_t base = static_cast<int64_t>(state.thread_index()) << 40;
  int64_t i = 0;
  for (auto _ : state) g_delaying->add_after(base + i++, absl::Hours(1));
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) g_delaying.reset();
}
BENCHMARK(BM_AddAfter_Insert)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

// add_after of a batch of 1000 items with delays spread over 0..1 ms, then get/done of all of
// them: items per second through the heap and the waiting thread into the queue.
void BM_AddAfter_Deliver(benchmark::State& state) {
  DelayingQueue<int64_t> q;
  constexpr int kBatch = 1000;
  int64_t next = 0;
  for (auto _ : state) {
    for (int k = 0; k < kBatch; ++k) q.add_after(next + k, absl::Microseconds(k));
    for (int k = 0; k < kBatch; ++k) {
      auto item = q.get();
      q.done(*item);
    }
    next += kBatch;
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_AddAfter_Deliver)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kop::workqueue

BENCHMARK_MAIN();
