// pace_delay_ms(): nginx's limit_rate / limit_rate_after arithmetic.
#include "kop/proxy/response_pacer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

namespace kop::proxy {
namespace {

constexpr uint64_t kKb = 1024;

TEST(ResponsePacer, NoRateNeverWaits) {
  EXPECT_EQ(pace_delay_ms(0, 0, uint64_t{1} << 40, 0), 0u);
  EXPECT_EQ(pace_delay_ms(0, 5, 10, 0), 0u);
}

TEST(ResponsePacer, TheFirstSecondsWorthGoesAtOnce) {
  // nginx allows rate * (t + 1): 50 KB at the start.
  EXPECT_EQ(pace_delay_ms(50 * kKb, 0, 50 * kKb, 0), 0u);
  EXPECT_EQ(pace_delay_ms(50 * kKb, 0, 50 * kKb + 1, 0), 1u);
  // 100 KB sent: due at t = 1 s.
  EXPECT_EQ(pace_delay_ms(50 * kKb, 0, 100 * kKb, 0), 1000u);
  EXPECT_EQ(pace_delay_ms(50 * kKb, 0, 100 * kKb, 400), 600u);
  EXPECT_EQ(pace_delay_ms(50 * kKb, 0, 100 * kKb, 1000), 0u);
}

// The server's use (exchange.cpp): after a read of n bytes, wait until sent + n fit.
uint64_t last_read_at(uint64_t rate, uint64_t total, uint64_t read) {
  uint64_t sent = 0;
  uint64_t t = 0;
  for (;;) {
    uint64_t n = std::min(read, total - sent);
    sent += n;
    if (sent == total) return t;
    t += pace_delay_ms(rate, 0, sent + n, t);
    // Never ahead of nginx's budget (rate * (t + 1)) by more than a read.
    EXPECT_LE(sent, rate * (t + 1000) / 1000 + read) << t;
  }
}

TEST(ResponsePacer, TwoHundredKbAtFiftyTakesThreeSeconds) {
  // nginx sends the last of 200 KB at 3 s; in 16 KB reads the last goes at 3.16 s, in 64 KB
  // reads (the first one over the first second's 50 KB) at 4.12 s.
  EXPECT_EQ(last_read_at(50 * kKb, 200 * kKb, 16 * kKb), 3160u);
  EXPECT_EQ(last_read_at(50 * kKb, 200 * kKb, 64 * kKb), 4120u);
  EXPECT_EQ(last_read_at(50 * kKb, 200 * kKb, 1 * kKb), 3000u);
}

TEST(ResponsePacer, AfterBytesAreNotPaced) {
  // limit-rate-after 100 KB: those, plus the first second's 10 KB, at once.
  EXPECT_EQ(pace_delay_ms(10 * kKb, 100 * kKb, 100 * kKb, 0), 0u);
  EXPECT_EQ(pace_delay_ms(10 * kKb, 100 * kKb, 110 * kKb, 0), 0u);
  EXPECT_EQ(pace_delay_ms(10 * kKb, 100 * kKb, 120 * kKb, 0), 1000u);
  EXPECT_EQ(pace_delay_ms(10 * kKb, 100 * kKb, 120 * kKb, 250), 750u);
}

TEST(ResponsePacer, HugeCountsDoNotOverflow) {
  // (sent - after) * 1000 passes 2^64; the wait is bounded to a day.
  EXPECT_EQ(pace_delay_ms(1, 0, uint64_t{1} << 62, 0), uint64_t{86400} * 1000);
  EXPECT_EQ(pace_delay_ms(uint64_t{1} << 50, 0, uint64_t{1} << 62, 0), 4095000u);
}

}  // namespace
}  // namespace kop::proxy
