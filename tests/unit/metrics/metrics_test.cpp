#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kop/metrics/registry.h"

namespace kop::metrics {
namespace {

using ::testing::ElementsAre;

// Parses exposition text into series -> value, checking every line's shape on the way.
std::map<std::string, std::string> parse(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    size_t sp = line.rfind(' ');
    EXPECT_NE(sp, std::string::npos) << line;
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  return out;
}

TEST(FormatFloat, MatchesGoStrconvG) {
  EXPECT_EQ(format_float(0), "0");
  EXPECT_EQ(format_float(1), "1");
  EXPECT_EQ(format_float(-2.5), "-2.5");
  EXPECT_EQ(format_float(0.005), "0.005");
  EXPECT_EQ(format_float(0.0001), "0.0001");
  EXPECT_EQ(format_float(0.00001), "1e-05");
  EXPECT_EQ(format_float(1e-8), "1e-08");
  EXPECT_EQ(format_float(123456), "123456");
  EXPECT_EQ(format_float(1e6), "1e+06");
  EXPECT_EQ(format_float(1234567), "1.234567e+06");
  EXPECT_EQ(format_float(1e21), "1e+21");
  EXPECT_EQ(format_float(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(format_float(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_float(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_float(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(Registry, ExactExposition) {
  Registry r;
  r.gauge("b_gauge", "A gauge.").set(-1.5);
  Counter& c = r.counter("a_total", "Counts things.\nSecond line with \\ backslash.");
  c.inc();
  c.add(2);
  c.add(0.5);
  c.add(-10);                                        // ignored: counters never go down
  r.counter_vec("c_total", "Unused family", {"x"});  // no child: not written
  EXPECT_EQ(r.expose(),
            "# HELP a_total Counts things.\\nSecond line with \\\\ backslash.\n"
            "# TYPE a_total counter\n"
            "a_total 3.5\n"
            "# HELP b_gauge A gauge.\n"
            "# TYPE b_gauge gauge\n"
            "b_gauge -1.5\n");
}

TEST(Registry, LabelValuesAreEscapedAndChildrenSorted) {
  Registry r;
  CounterVec& v = r.counter_vec("http_requests_total", "Requests.", {"method", "code"});
  v.with({"POST", "500"}).inc();
  v.with({"GET", "200"}).add(7);
  v.with({"GET", "a\\b\"c\nd"}).inc();
  EXPECT_EQ(r.expose(),
            "# HELP http_requests_total Requests.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",code=\"200\"} 7\n"
            "http_requests_total{method=\"GET\",code=\"a\\\\b\\\"c\\nd\"} 1\n"
            "http_requests_total{method=\"POST\",code=\"500\"} 1\n");
}

TEST(Registry, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  HistogramVec& h = r.histogram_vec("latency_seconds", "Latency.", {"route"}, {0.1, 1, 10});
  Histogram& a = h.with({"a"});
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0}) a.observe(v);
  auto m = parse(r.expose());
  EXPECT_EQ(m["latency_seconds_bucket{route=\"a\",le=\"0.1\"}"], "2");  // le is inclusive
  EXPECT_EQ(m["latency_seconds_bucket{route=\"a\",le=\"1\"}"], "3");
  EXPECT_EQ(m["latency_seconds_bucket{route=\"a\",le=\"10\"}"], "4");
  EXPECT_EQ(m["latency_seconds_bucket{route=\"a\",le=\"+Inf\"}"], "5");
  EXPECT_EQ(m["latency_seconds_sum{route=\"a\"}"], "22.65");
  EXPECT_EQ(m["latency_seconds_count{route=\"a\"}"], "5");
  EXPECT_EQ(m.size(), 6u);
  EXPECT_NE(r.expose().find("# TYPE latency_seconds histogram\n"), std::string::npos);
}

TEST(Registry, DefaultBucketsAndUnlabelledHistogram) {
  Registry r;
  r.histogram("d_seconds", "D.").observe(0.3);
  std::string text = r.expose();
  std::vector<std::string> les;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t p = line.find("le=\"");
    if (p != std::string::npos) les.push_back(line.substr(p + 4, line.find('"', p + 4) - p - 4));
  }
  EXPECT_THAT(les, ElementsAre("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
                               "5", "10", "+Inf"));
  auto m = parse(text);
  EXPECT_EQ(m["d_seconds_bucket{le=\"0.25\"}"], "0");
  EXPECT_EQ(m["d_seconds_bucket{le=\"0.5\"}"], "1");
  EXPECT_EQ(m["d_seconds_sum"], "0.3");
  EXPECT_EQ(m["d_seconds_count"], "1");
  EXPECT_THAT(exponential_buckets(1e-8, 10, 3), ElementsAre(1e-8, 1e-7, 1e-6));
  EXPECT_THAT(linear_buckets(1, 2, 3), ElementsAre(1, 3, 5));
}

TEST(Registry, FamiliesAreSortedByName) {
  Registry r;
  r.gauge("zeta", "z").set(1);
  r.gauge("alpha", "a").set(2);
  r.gauge("mid", "m").set(3);
  std::string text = r.expose();
  EXPECT_LT(text.find("alpha"), text.find("mid"));
  EXPECT_LT(text.find("mid"), text.find("zeta"));
  EXPECT_EQ(text, r.expose());
}

TEST(Registry, SameDefinitionReturnsTheSameFamily) {
  Registry r;
  CounterVec& a = r.counter_vec("x_total", "X.", {"name"});
  CounterVec& b = r.counter_vec("x_total", "X.", {"name"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.with({"q"}), &b.with({"q"}));
  EXPECT_EQ(&r.gauge("g", "G."), &r.gauge("g", "G."));
  EXPECT_EQ(&default_registry(), &default_registry());
}

TEST(RegistryDeathTest, ProgrammingErrorsAbort) {
  Registry r;
  r.counter_vec("x_total", "X.", {"name"});
  EXPECT_DEATH(r.counter_vec("x_total", "X.", {"other"}), "different definitions");
  EXPECT_DEATH(r.gauge_vec("x_total", "X.", {"name"}), "different definitions");
  EXPECT_DEATH(r.counter("0bad", "B."), "invalid metric name");
  EXPECT_DEATH(r.counter_vec("ok_total", "B.", {"__reserved"}), "invalid label name");
  EXPECT_DEATH(r.histogram_vec("h", "H.", {"le"}), "reserved");
  EXPECT_DEATH(r.histogram("h2", "H.", {1, 1}), "strictly increasing");
  EXPECT_DEATH(r.counter_vec("x_total", "X.", {"name"}).with({"a", "b"}), "label values");
}

TEST(Registry, FunctionGaugeIsComputedAtScrapeUntilReleased) {
  Registry r;
  std::atomic<int> calls{0};
  double value = 1;
  {
    FunctionGauge h = r.gauge_func("computed", "Computed at scrape.", [&] {
      ++calls;
      return value;
    });
    EXPECT_EQ(calls.load(), 0);
    EXPECT_EQ(parse(r.expose())["computed"], "1");
    value = 4.25;
    EXPECT_EQ(parse(r.expose())["computed"], "4.25");
    EXPECT_EQ(calls.load(), 2);
  }
  EXPECT_EQ(parse(r.expose())["computed"], "0");
  EXPECT_EQ(calls.load(), 2);

  GaugeVec& v = r.gauge_vec("per_queue", "P.", {"name"});
  FunctionGauge first = v.set_function({"q"}, [] { return 1.0; });
  FunctionGauge second = v.set_function({"q"}, [] { return 2.0; });
  first.reset();  // the later registration stays
  EXPECT_EQ(parse(r.expose())["per_queue{name=\"q\"}"], "2");
  FunctionGauge moved = std::move(second);
  EXPECT_EQ(parse(r.expose())["per_queue{name=\"q\"}"], "2");
  moved.reset();
  EXPECT_EQ(parse(r.expose())["per_queue{name=\"q\"}"], "0");
}

TEST(Registry, GaugeOperations) {
  Registry r;
  Gauge& g = r.gauge("g", "G.");
  g.inc();
  g.inc();
  g.dec();
  g.add(0.25);
  g.sub(2);
  EXPECT_DOUBLE_EQ(g.value(), -0.75);
  g.set(std::numeric_limits<double>::infinity());
  EXPECT_EQ(parse(r.expose())["g"], "+Inf");
}

TEST(Registry, ConcurrentUpdatesAreExact) {
  Registry r;
  CounterVec& v = r.counter_vec("n_total", "N.", {"k"});
  Histogram& h = r.histogram("h", "H.", {1});
  Gauge& g = r.gauge("g", "G.");
  constexpr int kThreads = 4, kOps = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Counter& c = v.with({"shared"});
      for (int i = 0; i < kOps; ++i) {
        c.inc();
        h.observe(i % 2 == 0 ? 0.5 : 2);
        g.add(0.5);
        if (i % 1000 == 0) (void)r.expose();  // scrapes race with updates
      }
    });
  }
  for (auto& th : threads) th.join();
  auto m = parse(r.expose());
  EXPECT_EQ(m["n_total{k=\"shared\"}"], "400000");
  EXPECT_EQ(m["h_bucket{le=\"1\"}"], "200000");
  EXPECT_EQ(m["h_bucket{le=\"+Inf\"}"], "400000");
  EXPECT_EQ(m["h_count"], "400000");
  EXPECT_EQ(m["h_sum"], "500000");
  EXPECT_EQ(m["g"], "200000");
}

}  // namespace
}  // namespace kop::metrics
