#include "kop/cache/backoff.h"

#include <gtest/gtest.h>

namespace kop::cache {
namespace {

TEST(Backoff, DoublesFrom800msTo30sWithJitter) {
  FakeClock clock;
  Backoff b(clock, {}, /*seed=*/42);
  absl::Duration base = absl::Milliseconds(800);
  for (int i = 0; i < 10; ++i) {
    absl::Duration d = b.next();
    EXPECT_GE(d, base) << i;
    EXPECT_LT(d, base * 2) << i;  // jitter 1.0: [base, 2*base)
    clock.advance(d);             // the loop sleeps d, then fails again at once
    base = std::min(base * 2, absl::Seconds(30));
  }
  EXPECT_EQ(b.current_base(), absl::Seconds(30));
}

TEST(Backoff, ResetsAfterTwoHealthyMinutes) {
  FakeClock clock;
  Backoff b(clock, {}, 7);
  for (int i = 0; i < 6; ++i) clock.advance(b.next());
  EXPECT_GT(b.current_base(), absl::Seconds(10));
  clock.advance(absl::Minutes(2) + absl::Seconds(1));
  absl::Duration d = b.next();
  EXPECT_GE(d, absl::Milliseconds(800));
  EXPECT_LT(d, absl::Milliseconds(1600));
}

TEST(Backoff, NoResetWithinTwoMinutes) {
  FakeClock clock;
  Backoff b(clock, {}, 7);
  for (int i = 0; i < 3; ++i) clock.advance(b.next());  // base now 6.4 s
  clock.advance(absl::Seconds(100));
  EXPECT_GE(b.next(), absl::Milliseconds(6400));
}

TEST(Backoff, JitterVaries) {
  FakeClock clock;
  Backoff a(clock, {}, 1), b(clock, {}, 2);
  EXPECT_NE(a.next(), b.next());
}

}  // namespace
}  // namespace kop::cache
