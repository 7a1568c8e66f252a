// Per-client-address limits (rate_limit.h): nginx's limit_req with nodelay and limit_conn, with
// time given by the test (no clock is read).
#include "kop/proxy/rate_limit.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include <absl/strings/str_cat.h>
#include "kop/proxy/config.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

using Verdict = RateLimiter::Verdict;

std::shared_ptr<RateLimiter> make(const RateLimitPolicy& p) {
  auto l = RateLimiter::create(p);
  EXPECT_TRUE(l.ok()) << l.status();
  return *l;
}

RateLimitPolicy rps(uint32_t rate, uint32_t multiplier = 5) {
  RateLimitPolicy p;
  p.zone = "ns/web";
  p.requests_per_second = rate;
  p.burst_multiplier = multiplier;
  return p;
}

// How many of `n` requests at `now_ms` pass.
int admitted(RateLimiter& l, std::string_view ip, uint64_t now_ms, int n) {
  int ok = 0;
  ClientAddress a;
  for (int i = 0; i < n; ++i) ok += l.admit(ip, now_ms, &a) != Verdict::kRefuse;
  return ok;
}

TEST(RateLimit, BurstIsRateTimesMultiplierPlusOne) {
  // limit-rps 2 with the default multiplier 5: burst 10, so 11 requests pass at once.
  auto l = make(rps(2));
  EXPECT_EQ(admitted(*l, "10.0.0.1", 1000, 20), 11);
  // Half a second later one request has drained (2 a second).
  EXPECT_EQ(admitted(*l, "10.0.0.1", 1500, 5), 1);
  // Five seconds of silence drain the burst (10 admitted); the request that finds the state
  // drained is free (nginx drains before it clamps at zero), so half a second more gives 11.
  EXPECT_EQ(admitted(*l, "10.0.0.1", 6500, 20), 10);
  EXPECT_EQ(admitted(*l, "10.0.0.1", 12000, 20), 11);
}

TEST(RateLimit, EachAddressHasItsOwnBudget) {
  auto l = make(rps(1, 0));
  EXPECT_EQ(admitted(*l, "10.0.0.1", 0, 3), 1);
  EXPECT_EQ(admitted(*l, "10.0.0.2", 0, 3), 1);
  EXPECT_EQ(admitted(*l, "2001:db8::1", 0, 3), 1);
  // An IPv4-mapped IPv6 peer is the IPv4 address.
  EXPECT_EQ(admitted(*l, "::ffff:10.0.0.1", 0, 3), 0);
  EXPECT_EQ(admitted(*l, "10.0.0.1", 999, 1), 0);
  EXPECT_EQ(admitted(*l, "10.0.0.1", 1000, 1), 1);
}

TEST(RateLimit, PerMinuteRate) {
  RateLimitPolicy p;
  p.zone = "z";
  p.requests_per_minute = 6;  // one every 10 s
  p.burst_multiplier = 1;     // burst 6
  auto l = make(p);
  EXPECT_EQ(admitted(*l, "10.0.0.1", 0, 10), 7);
  EXPECT_EQ(admitted(*l, "10.0.0.1", 9000, 1), 0);
  EXPECT_EQ(admitted(*l, "10.0.0.1", 10000, 2), 1);
}

TEST(RateLimit, BothRatesMustPass) {
  RateLimitPolicy p = rps(100, 0);
  p.requests_per_minute = 60;
  p.burst_multiplier = 0;
  auto l = make(p);
  EXPECT_EQ(admitted(*l, "10.0.0.1", 0, 1), 1);
  // 100 a second would pass at 10 ms; 60 a minute waits a second.
  EXPECT_EQ(admitted(*l, "10.0.0.1", 10, 1), 0);
  EXPECT_EQ(admitted(*l, "10.0.0.1", 1000, 1), 1);
}

TEST(RateLimit, ExemptAddressesAndNonIpPeersAreNotCounted) {
  RateLimitPolicy p = rps(1, 0);
  p.exempt = {"10.1.0.0/16", "2001:db8::/32"};
  auto l = make(p);
  ClientAddress a;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(l->admit("10.1.2.3", 0, &a), Verdict::kExempt);
    EXPECT_EQ(l->admit("2001:db8::7", 0, &a), Verdict::kExempt);
    EXPECT_EQ(l->admit("", 0, &a), Verdict::kExempt);
  }
  EXPECT_EQ(l->tracked(), 0u);
  EXPECT_EQ(admitted(*l, "10.2.0.1", 0, 2), 1);
}

TEST(RateLimit, ConnectionsAreRequestsInProgress) {
  RateLimitPolicy p;
  p.zone = "z";
  p.max_connections = 2;
  auto l = make(p);
  ClientAddress a, b, c;
  EXPECT_EQ(l->admit("10.0.0.1", 0, &a), Verdict::kAdmit);
  EXPECT_EQ(l->admit("10.0.0.1", 0, &b), Verdict::kAdmit);
  EXPECT_EQ(l->admit("10.0.0.1", 0, &c), Verdict::kRefuse);
  EXPECT_EQ(l->admit("10.0.0.2", 0, &c), Verdict::kAdmit);
  l->release(a);
  EXPECT_EQ(l->admit("10.0.0.1", 0, &c), Verdict::kAdmit);
  EXPECT_EQ(l->admit("10.0.0.1", 0, &c), Verdict::kRefuse);
}

TEST(RateLimit, TableIsBoundedAndForgetsDrainedAddressesFirst) {
  auto l = make(rps(1000, 0));  // drains within a millisecond
  ClientAddress a;
  // Many more addresses than the table holds, each seen once: the table stays bounded.
  for (uint32_t i = 0; i < 3 * RateLimiter::kMaxClients; ++i) {
    std::string ip = absl::StrCat("10.", (i >> 16) & 255, ".", (i >> 8) & 255, ".", i & 255);
    ASSERT_NE(l->admit(ip, i, &a), Verdict::kRefuse) << ip;
  }
  EXPECT_LE(l->tracked(), RateLimiter::kMaxClients);
  // An address over its limit is still remembered when the others have drained.
  EXPECT_EQ(admitted(*l, "192.168.0.1", 1000000, 2), 1);
  EXPECT_EQ(admitted(*l, "192.168.0.1", 1000000, 1), 0);
}

TEST(RateLimit, FullShardOfRequestsInProgressRefusesNewAddresses) {
  RateLimitPolicy p;
  p.zone = "z";
  p.max_connections = 1;
  auto l = make(p);
  ClientAddress a;
  int refused = 0;
  // Every address keeps its request in progress: nothing can be forgotten.
  for (uint32_t i = 0; i < 2 * RateLimiter::kMaxClients; ++i) {
    std::string ip = absl::StrCat("10.", (i >> 16) & 255, ".", (i >> 8) & 255, ".", i & 255);
    refused += l->admit(ip, 0, &a) == Verdict::kRefuse;
  }
  EXPECT_LE(l->tracked(), RateLimiter::kMaxClients);
  EXPECT_GE(refused, static_cast<int>(RateLimiter::kMaxClients));
}

// A config of two routes of one zone; `rate` and `rate_b` their requests_per_second.
std::string zone_config(std::string_view first_path, int rate, int rate_b) {
  auto route = [](std::string_view path, int r) {
    return absl::StrCat(R"({"match":{"prefix":")", std::string(path),
                        R"("},"forward":{"cluster":"c"},"rate_limit":{"zone":"ns/web",)",
                        R"("requests_per_second":)", r, R"(,"exempt":["10.9.0.0/16"]}})");
  };
  return absl::StrCat(R"({"version":"kop.proxy/v1","clusters":[{"name":"c"}],)",
                      R"("virtual_hosts":[{"name":"v","domains":["*"],"routes":[)",
                      route(first_path, rate), ",", route("/b", rate_b), "]}]}");
}

TEST(RateLimit, ConfigRoundTripsAndIsValidated) {
  Config c = testing::parse_or_die(zone_config("/a", 1, 1));
  ASSERT_TRUE(c.virtual_hosts[0]->routes[0].rate_limit.has_value());
  const RateLimitPolicy& p = *c.virtual_hosts[0]->routes[0].rate_limit;
  EXPECT_EQ(p.burst_multiplier, 5u);
  EXPECT_EQ(p.status, 503u);
  auto again = parse_config(to_json(c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, c);
  for (const auto& [routes, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({"forward":{"cluster":"c"},"rate_limit":{"zone":"z"}})", "sets none of"},
           {R"({"forward":{"cluster":"c"},"rate_limit":{"zone":"","max_connections":1}})", "zone"},
           {R"({"forward":{"cluster":"c"},"rate_limit":{"zone":"z","max_connections":1,)"
            R"("exempt":["10.0.0.0/40"]}})",
            "rate_limit.exempt[0]"},
           {R"({"redirect":{"host":"x"},"rate_limit":{"zone":"z","max_connections":1}})",
            "only a forward route"},
           {R"({"forward":{"cluster":"c"},"rate_limit":{"zone":"z","max_connections":1,)"
            R"("status":200}})",
            "status"},
       }) {
    auto t = parse_config(absl::StrCat(
        R"({"version":"kop.proxy/v1","clusters":[{"name":"c"}],"virtual_hosts":[{"name":"v",)",
        R"("domains":["*"],"routes":[)", routes, "]}]}"));
    absl::Status status = t.ok() ? RouteTable::compile(*t).status() : t.status();
    EXPECT_FALSE(status.ok()) << routes;
    EXPECT_NE(status.message().find(message), std::string::npos) << status;
  }
}

TEST(RateLimit, ZonesSurviveAReappliedConfig) {
  auto t1 = RouteTable::compile(testing::parse_or_die(zone_config("/a", 1, 1)));
  ASSERT_TRUE(t1.ok()) << t1.status();
  const auto& routes = (*t1)->virtual_hosts()[0]->routes;
  ASSERT_EQ(routes.size(), 2u);
  // Both paths of one zone share it.
  ASSERT_NE(routes[0].rate_limiter, nullptr);
  EXPECT_EQ(routes[0].rate_limiter, routes[1].rate_limiter);
  // A changed config keeps the zone, and so its counters...
  auto t2 = RouteTable::compile(testing::parse_or_die(zone_config("/c", 1, 1)), t1->get());
  ASSERT_TRUE(t2.ok()) << t2.status();
  EXPECT_EQ((*t2)->virtual_hosts()[0]->routes[0].rate_limiter, routes[0].rate_limiter);
  // ...a changed policy starts a new one.
  auto t3 = RouteTable::compile(testing::parse_or_die(zone_config("/c", 2, 2)), t2->get());
  ASSERT_TRUE(t3.ok()) << t3.status();
  EXPECT_NE((*t3)->virtual_hosts()[0]->routes[0].rate_limiter, routes[0].rate_limiter);
  // Two policies for one zone are refused.
  auto bad = RouteTable::compile(testing::parse_or_die(zone_config("/c", 2, 3)));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("two different policies"), std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace kop::proxy
