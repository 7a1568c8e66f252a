// OutlierDetector: consecutive-failure ejection, backoff with a fake clock, the ejection cap,
// active health-check thresholds, concurrent reports from several workers; retry decisions.
#include "kop/proxy/outlier_detector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "kop/proxy/retry.h"

namespace kop::proxy {
namespace {

using std::chrono::seconds;

// A fake clock: tests move time by hand.
struct FakeClock {
  MonoTime now{seconds(1000)};
  void advance(MonoClock::duration d) { now += d; }
};

OutlierDetectionConfig config(uint32_t c5xx, uint32_t connect, uint32_t max_percent = 100) {
  OutlierDetectionConfig cfg;
  cfg.consecutive_5xx = c5xx;
  cfg.consecutive_connect_failures = connect;
  cfg.base_ejection_time = seconds(10);
  cfg.max_ejection_time = seconds(60);
  cfg.max_ejection_percent = max_percent;
  return cfg;
}

TEST(OutlierDetector, EjectsAfterConsecutive5xxAndReturns) {
  FakeClock clock;
  OutlierDetector d(config(3, 0), nullptr, 4);
  EXPECT_FALSE(d.report(1, UpstreamResult::kHttp5xx, clock.now));
  EXPECT_FALSE(d.report(1, UpstreamResult::kHttp5xx, clock.now));
  EXPECT_TRUE(d.report(1, UpstreamResult::kHttp5xx, clock.now));
  EXPECT_TRUE(d.is_ejected(1, clock.now));
  EXPECT_FALSE(d.available(1, clock.now));
  EXPECT_EQ(d.ejected_count(clock.now), 1u);
  EXPECT_EQ(d.available_count(clock.now), 3u);
  clock.advance(seconds(9));
  EXPECT_TRUE(d.is_ejected(1, clock.now));
  clock.advance(seconds(1));
  EXPECT_FALSE(d.is_ejected(1, clock.now));
  EXPECT_EQ(d.ejections(1), 1u);
}

TEST(OutlierDetector, SuccessResetsTheCount) {
  FakeClock clock;
  OutlierDetector d(config(3, 0), nullptr, 2);
  for (int round = 0; round < 10; ++round) {
    EXPECT_FALSE(d.report(0, UpstreamResult::kHttp5xx, clock.now));
    EXPECT_FALSE(d.report(0, UpstreamResult::kHttp5xx, clock.now));
    EXPECT_FALSE(d.report(0, UpstreamResult::kSuccess, clock.now));
  }
  EXPECT_FALSE(d.is_ejected(0, clock.now));
}

TEST(OutlierDetector, LocalFailuresCountAs5xxAndConnectFailuresHaveTheirOwnThreshold) {
  FakeClock clock;
  OutlierDetector d(config(3, 2), nullptr, 4);
  // Reset and timeout count towards consecutive_5xx.
  EXPECT_FALSE(d.report(0, UpstreamResult::kReset, clock.now));
  EXPECT_FALSE(d.report(0, UpstreamResult::kTimeout, clock.now));
  EXPECT_TRUE(d.report(0, UpstreamResult::kHttp5xx, clock.now));
  // Two connect failures (refused or timed out) eject with consecutive_connect_failures = 2.
  EXPECT_FALSE(d.report(1, UpstreamResult::kConnectFailure, clock.now));
  EXPECT_TRUE(d.report(1, UpstreamResult::kConnectTimeout, clock.now));
  // A 5xx between connect failures does not reset the connect counter, a success does.
  EXPECT_FALSE(d.report(2, UpstreamResult::kConnectFailure, clock.now));
  EXPECT_FALSE(d.report(2, UpstreamResult::kSuccess, clock.now));
  EXPECT_FALSE(d.report(2, UpstreamResult::kConnectFailure, clock.now));
  EXPECT_FALSE(d.is_ejected(2, clock.now));
}

TEST(OutlierDetector, BackoffDoublesUpToTheCapAndResetsAfterAQuietPeriod) {
  FakeClock clock;
  OutlierDetector d(config(1, 0), nullptr, 2);
  const seconds expected[] = {seconds(10), seconds(20), seconds(40), seconds(60), seconds(60)};
  for (seconds want : expected) {
    ASSERT_TRUE(d.report(0, UpstreamResult::kHttp5xx, clock.now));
    EXPECT_EQ(d.ejected_until(0) - clock.now, want);
    // Reports while ejected do not extend the ejection.
    EXPECT_FALSE(d.report(0, UpstreamResult::kHttp5xx, clock.now + seconds(1)));
    clock.now = d.ejected_until(0);
    EXPECT_FALSE(d.is_ejected(0, clock.now));
    clock.advance(seconds(5));  // fails again soon after coming back
  }
  EXPECT_EQ(d.ejections(0), 5u);
  // Healthy for max_ejection_time (60s) after the last ejection ended: back to the base time.
  clock.now = d.ejected_until(0) + seconds(60);
  ASSERT_TRUE(d.report(0, UpstreamResult::kHttp5xx, clock.now));
  EXPECT_EQ(d.ejected_until(0) - clock.now, seconds(10));
  EXPECT_EQ(d.ejection_level(0), 1u);
}

TEST(OutlierDetector, MaxEjectionPercent) {
  FakeClock clock;
  OutlierDetector d(config(1, 0, 20), nullptr, 10);
  EXPECT_TRUE(d.report(0, UpstreamResult::kHttp5xx, clock.now));
  EXPECT_TRUE(d.report(1, UpstreamResult::kHttp5xx, clock.now));
  EXPECT_FALSE(d.report(2, UpstreamResult::kHttp5xx, clock.now));  // 30% > 20%
  EXPECT_EQ(d.ejected_count(clock.now), 2u);
  // Once one returns, another may go.
  clock.advance(seconds(10));
  EXPECT_TRUE(d.report(2, UpstreamResult::kHttp5xx, clock.now));

  // 10% of 3 endpoints rounds down to zero, but one endpoint may always be ejected.
  OutlierDetector small(config(1, 0, 10), nullptr, 3);
  EXPECT_TRUE(small.report(0, UpstreamResult::kHttp5xx, clock.now));
  EXPECT_FALSE(small.report(1, UpstreamResult::kHttp5xx, clock.now));
  // 0% never ejects.
  OutlierDetector none(config(1, 0, 0), nullptr, 3);
  EXPECT_FALSE(none.report(0, UpstreamResult::kHttp5xx, clock.now));
  // Nor is a cluster's only endpoint ejected, whatever fails.
  OutlierDetector single(config(1, 1, 100), nullptr, 1);
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(single.report(0, UpstreamResult::kHttp5xx, clock.now));
    EXPECT_FALSE(single.report(0, UpstreamResult::kConnectFailure, clock.now));
  }
  EXPECT_TRUE(single.available(0, clock.now));
}

TEST(OutlierDetector, DisabledNeverEjects) {
  FakeClock clock;
  OutlierDetectionConfig cfg = config(1, 1);
  cfg.enabled = false;
  OutlierDetector d(cfg, nullptr, 2);
  for (int i = 0; i < 100; ++i)
    EXPECT_FALSE(d.report(0, UpstreamResult::kConnectFailure, clock.now));
  EXPECT_FALSE(d.is_ejected(0, clock.now));
  EXPECT_FALSE(d.report(5, UpstreamResult::kHttp5xx, clock.now));  // out of range: ignored
}

TEST(OutlierDetector, HealthCheckThresholds) {
  HealthCheckConfig hc;
  hc.healthy_threshold = 2;
  hc.unhealthy_threshold = 3;
  OutlierDetector d(config(5, 5), &hc, 2);
  EXPECT_TRUE(d.is_healthy(0));  // endpoints start healthy
  EXPECT_EQ(d.report_health_check(0, false), HealthTransition::kNone);
  EXPECT_EQ(d.report_health_check(0, false), HealthTransition::kNone);
  EXPECT_EQ(d.report_health_check(0, true), HealthTransition::kNone);  // resets failures
  EXPECT_EQ(d.report_health_check(0, false), HealthTransition::kNone);
  EXPECT_EQ(d.report_health_check(0, false), HealthTransition::kNone);
  EXPECT_EQ(d.report_health_check(0, false), HealthTransition::kBecameUnhealthy);
  EXPECT_FALSE(d.is_healthy(0));
  MonoTime now{seconds(1)};
  EXPECT_FALSE(d.available(0, now));
  EXPECT_EQ(d.report_health_check(0, true), HealthTransition::kNone);
  EXPECT_EQ(d.report_health_check(0, true), HealthTransition::kBecameHealthy);
  EXPECT_EQ(d.report_health_check(0, true), HealthTransition::kNone);
  EXPECT_TRUE(d.available(0, now));
}

TEST(OutlierDetector, ConcurrentWorkersEjectOnce) {
  OutlierDetector d(config(50, 0), nullptr, 2);
  MonoTime now{seconds(1000)};
  std::atomic<int> ejected{0};
  std::vector<std::thread> workers;
  workers.reserve(4);
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        if (d.report(0, UpstreamResult::kHttp5xx, now)) ejected.fetch_add(1);
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(ejected.load(), 1);
  EXPECT_EQ(d.ejections(0), 1u);
  EXPECT_TRUE(d.is_ejected(0, now));
}

}  // namespace
}  // namespace kop::proxy

// ---- Retry decisions and health-check statuses (retry.h).

namespace kop::proxy {
namespace {

TEST(Retry, DefaultPolicyRetriesConnectFailuresOnceForAnyMethod) {
  RetryPolicy p;  // connect-failure, one retry
  EXPECT_TRUE(should_retry(p, UpstreamResult::kConnectFailure, 0, "POST", 1));
  EXPECT_TRUE(should_retry(p, UpstreamResult::kConnectTimeout, 0, "GET", 1));
  EXPECT_FALSE(should_retry(p, UpstreamResult::kConnectFailure, 0, "GET", 2));  // budget spent
  EXPECT_FALSE(should_retry(p, UpstreamResult::kHttp5xx, 503, "GET", 1));
  EXPECT_FALSE(should_retry(p, UpstreamResult::kReset, 0, "GET", 1));
}

TEST(Retry, ConditionsAndIdempotency) {
  RetryPolicy p;
  p.retry_on =
      static_cast<uint32_t>(RetryOn::kGatewayError) | static_cast<uint32_t>(RetryOn::kReset);
  p.num_retries = 3;
  EXPECT_TRUE(should_retry(p, UpstreamResult::kHttp5xx, 503, "GET", 1));
  EXPECT_FALSE(should_retry(p, UpstreamResult::kHttp5xx, 500, "GET", 1));  // not a gateway error
  EXPECT_TRUE(should_retry(p, UpstreamResult::kReset, 0, "PUT", 3));
  EXPECT_FALSE(should_retry(p, UpstreamResult::kReset, 0, "PUT", 4));
  EXPECT_FALSE(should_retry(p, UpstreamResult::kHttp5xx, 503, "POST", 1));      // not idempotent
  EXPECT_TRUE(should_retry(p, UpstreamResult::kConnectFailure, 0, "POST", 1));  // never sent
  p.retry_non_idempotent = true;
  EXPECT_TRUE(should_retry(p, UpstreamResult::kHttp5xx, 503, "POST", 1));
  p.retry_on = static_cast<uint32_t>(RetryOn::k5xx);
  EXPECT_TRUE(should_retry(p, UpstreamResult::kHttp5xx, 500, "GET", 1));
  EXPECT_TRUE(should_retry(p, UpstreamResult::kTimeout, 0, "GET", 1));
  EXPECT_FALSE(should_retry(p, UpstreamResult::kSuccess, 404, "GET", 1));
  p.retry_on = static_cast<uint32_t>(RetryOn::kRetriableStatusCodes);
  p.retriable_status_codes = {409};
  EXPECT_TRUE(should_retry(p, UpstreamResult::kSuccess, 409, "GET", 1));
  EXPECT_FALSE(should_retry(p, UpstreamResult::kConnectFailure, 0, "GET", 1));
  EXPECT_TRUE(is_idempotent_method("DELETE"));
  EXPECT_FALSE(is_idempotent_method("PATCH"));
}

TEST(HealthCheck, ExpectedStatuses) {
  HealthCheckConfig hc;  // default 200-399
  EXPECT_TRUE(health_check_status_ok(hc, 200));
  EXPECT_TRUE(health_check_status_ok(hc, 399));
  EXPECT_FALSE(health_check_status_ok(hc, 404));
  hc.expected_statuses = {{204, 204}, {500, 503}};
  EXPECT_TRUE(health_check_status_ok(hc, 502));
  EXPECT_FALSE(health_check_status_ok(hc, 200));
}

}  // namespace
}  // namespace kop::proxy
