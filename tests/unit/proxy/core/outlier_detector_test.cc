#include "kop/proxy/outlier_detector.h"

#include <gtest/gtest.h>

namespace kop::proxy {
namespace {

using std::chrono::seconds;

TEST(OutlierDetector, EjectsAfterConsecutive5xxAndReturns) {
  OutlierDetectionConfig cfg;
  cfg.consecutive_5xx = 3;
  cfg.base_ejection_time = seconds(10);
  OutlierDetector d(cfg, nullptr, 4);
  MonoTime t0{seconds(1000)};
  EXPECT_FALSE(d.report(1, UpstreamResult::kHttp5xx, t0));
  EXPECT_FALSE(d.report(1, UpstreamResult::kHttp5xx, t0));
  EXPECT_TRUE(d.report(1, UpstreamResult::kHttp5xx, t0));
  EXPECT_TRUE(d.is_ejected(1, t0 + seconds(9)));
  EXPECT_FALSE(d.is_ejected(1, t0 + seconds(10)));
}

}  // namespace
}  // namespace kop::proxy
