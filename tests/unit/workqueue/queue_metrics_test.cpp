#include <gtest/gtest.h>

#include <string>

#include "kop/workqueue/rate_limiting_queue.h"
#include "test_util.h"

namespace kop::workqueue {
namespace {

using testing::eventually;
using testing::parse_exposition;

constexpr char kLabels[] = "{name=\"ingress\",controller=\"ingress\"}";

std::string series(const std::string& metric, const std::string& extra = "") {
  std::string labels = kLabels;
  if (!extra.empty()) labels.insert(labels.size() - 1, "," + extra);
  return metric + labels;
}

TEST(QueueMetrics, ValuesAfterASequenceOfOperations) {
  metrics::Registry registry;
  FakeClock clock;
  RateLimitingQueue<std::string> q(
      QueueOptions{.name = "ingress", .registry = &registry, .clock = &clock});
  auto scrape = [&] { return parse_exposition(registry.expose()); };

  q.add("a");
  q.add("b");
  q.add("a");  // waiting already: not an add
  auto m = scrape();
  EXPECT_EQ(m[series("workqueue_adds_total")], "2");
  EXPECT_EQ(m[series("workqueue_depth")], "2");
  EXPECT_EQ(m[series("workqueue_unfinished_work_seconds")], "0");
  EXPECT_EQ(m[series("workqueue_longest_running_processor_seconds")], "0");

  clock.step(absl::Seconds(1));
  ASSERT_EQ(q.get(), "a");  // waited 1 s
  clock.step(absl::Seconds(2));
  ASSERT_EQ(q.get(), "b");       // waited 3 s
  clock.step(absl::Seconds(1));  // a has run 3 s, b 1 s
  m = scrape();
  EXPECT_EQ(m[series("workqueue_depth")], "0");
  EXPECT_EQ(m[series("workqueue_queue_duration_seconds_count")], "2");
  EXPECT_EQ(m[series("workqueue_queue_duration_seconds_sum")], "4");
  EXPECT_EQ(m[series("workqueue_queue_duration_seconds_bucket", "le=\"1\"")], "1");
  EXPECT_EQ(m[series("workqueue_queue_duration_seconds_bucket", "le=\"10\"")], "2");
  EXPECT_EQ(m[series("workqueue_unfinished_work_seconds")], "4");
  EXPECT_EQ(m[series("workqueue_longest_running_processor_seconds")], "3");

  q.done("a");
  m = scrape();
  EXPECT_EQ(m[series("workqueue_work_duration_seconds_count")], "1");
  EXPECT_EQ(m[series("workqueue_work_duration_seconds_sum")], "3");
  EXPECT_EQ(m[series("workqueue_unfinished_work_seconds")], "1");
  EXPECT_EQ(m[series("workqueue_longest_running_processor_seconds")], "1");

  q.add("b");  // while processing: counted as an add, waits for done
  m = scrape();
  EXPECT_EQ(m[series("workqueue_adds_total")], "3");
  EXPECT_EQ(m[series("workqueue_depth")], "1");
  q.done("b");
  EXPECT_EQ(q.get(), "b");
  q.done("b");

  q.add_rate_limited("c");                 // 5 ms: a retry
  q.add_after("d", absl::Seconds(1));      // a retry
  q.add_after("e", absl::ZeroDuration());  // no delay: a plain add
  m = scrape();
  EXPECT_EQ(m[series("workqueue_retries_total")], "2");
  EXPECT_EQ(m[series("workqueue_adds_total")], "4");  // a, b, b again, e; c and d wait
  clock.step(absl::Seconds(1));
  ASSERT_TRUE(eventually([&] { return q.len() == 3; }));
  m = scrape();
  EXPECT_EQ(m[series("workqueue_adds_total")], "6");
  EXPECT_EQ(m[series("workqueue_depth")], "3");
}

TEST(QueueMetrics, BucketsAndHelpFollowControllerRuntime) {
  metrics::Registry registry;
  Queue<int> q(QueueOptions{.name = "ingress", .registry = &registry});
  q.add(1);
  std::string text = registry.expose();
  for (const char* name :
       {"workqueue_depth", "workqueue_adds_total", "workqueue_queue_duration_seconds",
        "workqueue_work_duration_seconds", "workqueue_unfinished_work_seconds",
        "workqueue_longest_running_processor_seconds"}) {
    EXPECT_NE(text.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
  }
  EXPECT_NE(text.find("# TYPE workqueue_adds_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE workqueue_queue_duration_seconds histogram"), std::string::npos);
  auto m = parse_exposition(text);
  // 1e-8 .. 1e3 in powers of ten, then +Inf: 13 buckets.
  int buckets = 0;
  for (const auto& [k, v] : m) {
    if (k.rfind("workqueue_queue_duration_seconds_bucket", 0) == 0) ++buckets;
  }
  EXPECT_EQ(buckets, 13);
  EXPECT_TRUE(m.contains(series("workqueue_queue_duration_seconds_bucket", "le=\"1e-08\"")));
  EXPECT_TRUE(m.contains(series("workqueue_queue_duration_seconds_bucket", "le=\"+Inf\"")));
}

TEST(QueueMetrics, UnnamedQueuesRecordNothingAndQueuesReleaseTheirGauges) {
  metrics::Registry registry;
  { Queue<int> unnamed(QueueOptions{.registry = &registry}); }
  EXPECT_EQ(registry.expose(), "");
  {
    Queue<int> q(QueueOptions{.name = "ingress", .registry = &registry});
    q.add(1);
    ASSERT_EQ(q.get(), 1);
  }
  // The queue is gone: scraping must not call into it.
  auto m = parse_exposition(registry.expose());
  EXPECT_EQ(m[series("workqueue_unfinished_work_seconds")], "0");
  EXPECT_EQ(m[series("workqueue_adds_total")], "1");
}

}  // namespace
}  // namespace kop::workqueue
