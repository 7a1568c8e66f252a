// Cookie affinity's ingress-nginx modes in the proxy core: the Set-Cookie written with a given
// value and the conditional SameSite=None (Chromium's list of clients that refuse it), and the
// ring lookup a balanced session key is placed with.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>

#include "kop/proxy/cluster.h"
#include "kop/proxy/config.h"
#include "kop/proxy/load_balancer.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

using testing::parse_or_die;

constexpr std::string_view kChrome60 =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/60.0.3112.113 Safari/537.36";
constexpr std::string_view kChrome120 =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.109 Safari/537.36";

TEST(SameSiteNone, ChromiumsIncompatibleClients) {
  EXPECT_TRUE(samesite_none_incompatible(kChrome60));
  EXPECT_TRUE(samesite_none_incompatible(
      "Mozilla/5.0 (Linux; Android 9) AppleWebKit/537.36 (KHTML, like Gecko) Chromium/51.0.2704 "
      "Safari/537.36"));
  EXPECT_TRUE(samesite_none_incompatible(
      "Mozilla/5.0 (iPhone; CPU iPhone OS 12_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
      "Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1"));
  EXPECT_TRUE(samesite_none_incompatible(
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/12.1.2 Safari/605.1.15"));
  EXPECT_TRUE(samesite_none_incompatible(
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko)"));
  EXPECT_TRUE(samesite_none_incompatible(
      "Mozilla/5.0 (Linux; U; Android 8.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Version/4.0 UCBrowser/12.13.1.1200 Mobile Safari/537.36"));
  EXPECT_FALSE(samesite_none_incompatible(kChrome120));
  EXPECT_FALSE(samesite_none_incompatible(
      "Mozilla/5.0 (Linux; U; Android 8.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Version/4.0 UCBrowser/12.13.2.1200 Mobile Safari/537.36"));
  // Chrome on macOS 10.14 takes SameSite=None; so do Safari on 10.15 and iOS 13.
  EXPECT_FALSE(samesite_none_incompatible(
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36"));
  EXPECT_FALSE(samesite_none_incompatible(
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/13.1 Safari/605.1.15"));
  EXPECT_FALSE(samesite_none_incompatible(
      "Mozilla/5.0 (iPhone; CPU iPhone OS 13_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
      "Gecko) Version/13.0.3 Mobile/15E148 Safari/604.1"));
  EXPECT_FALSE(samesite_none_incompatible(""));
  EXPECT_FALSE(samesite_none_incompatible("curl/7.88.1"));
}

// The compiled cluster keeps its config part (its endpoints point into it).
std::shared_ptr<const Cluster> compiled(std::string_view hash_on) {
  Config c = parse_or_die(
      std::string(R"({"version":"kop.proxy/v1","clusters":[{"name":"c","lb_policy":"ring_hash",)"
                  R"("endpoints":[{"address":"10.0.0.1:80"},{"address":"10.0.0.2:80"}],)"
                  R"("hash_on":)") +
      std::string(hash_on) + "}]}");
  auto cl = compile_cluster(c.clusters.at(0));
  EXPECT_TRUE(cl.ok()) << cl.status();
  return *std::move(cl);
}

TEST(SessionCookie, ValueGivenAndSameSiteNoneByClient) {
  auto c =
      compiled(R"({"cookie":"s","set_cookie":true,"cookie_samesite":"None","cookie_balanced":true,)"
               R"("cookie_samesite_none_conditional":true,"cookie_change_on_failure":false})");
  EXPECT_TRUE(c->hash_on.cookie_balanced);
  EXPECT_FALSE(c->hash_on.cookie_change_on_failure);
  std::string out;
  c->append_set_cookie("0123456789abcdef", "/shop", kChrome120, out);
  EXPECT_EQ(out, "set-cookie: s=0123456789abcdef; Path=/shop; SameSite=None; HttpOnly\r\n");
  out.clear();
  c->append_set_cookie("0123456789abcdef", "/shop", kChrome60, out);
  EXPECT_EQ(out, "set-cookie: s=0123456789abcdef; Path=/shop; HttpOnly\r\n");
  // Without the condition every client gets SameSite=None.
  auto plain = compiled(R"({"cookie":"s","set_cookie":true,"cookie_samesite":"None"})");
  out.clear();
  plain->append_set_cookie("k", "", kChrome60, out);
  EXPECT_EQ(out, "set-cookie: s=k; Path=/; SameSite=None; HttpOnly\r\n");
}

TEST(SessionCookie, RingEndpointIsWhereTheBalancerPutsAKey) {
  auto c = compiled(R"({"cookie":"s","set_cookie":true,"cookie_balanced":true})");
  ASSERT_FALSE(c->ring.empty());
  int seen[2] = {0, 0};
  for (int i = 0; i < 200; ++i) {
    uint64_t h = stable_hash("key-" + std::to_string(i));
    uint32_t at = c->ring_endpoint(h);
    ASSERT_LT(at, 2U);
    ++seen[at];
    // The first ring point at or after the hash, wrapping to the start.
    auto it = std::lower_bound(c->ring.begin(), c->ring.end(), std::pair<uint64_t, uint32_t>{h, 0});
    EXPECT_EQ(at, it == c->ring.end() ? c->ring.front().second : it->second);
  }
  EXPECT_GT(seen[0], 40);
  EXPECT_GT(seen[1], 40);
  Cluster empty;
  EXPECT_EQ(empty.ring_endpoint(42), kNoEndpoint);
}

}  // namespace
}  // namespace kop::proxy
