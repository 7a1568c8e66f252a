// LoadBalancer: distribution of every policy, exclusion for retries, ejected and unhealthy
// endpoints, consistent hashing stability and hash keys.
#include "kop/proxy/load_balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

namespace kop::proxy {
namespace {

using std::chrono::seconds;

std::string addr(std::size_t i) {
  return "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

ClusterConfig cluster_config(LbPolicy policy, const std::vector<uint32_t>& weights) {
  ClusterConfig c;
  c.name = "c";
  c.lb_policy = policy;
  c.outlier_detection.consecutive_5xx = 1;
  c.outlier_detection.max_ejection_percent = 100;
  for (std::size_t i = 0; i < weights.size(); ++i)
    c.endpoints.push_back(EndpointConfig{SocketAddress{addr(i), 80}, weights[i]});
  return c;
}

std::shared_ptr<const Cluster> make_cluster(LbPolicy policy, const std::vector<uint32_t>& weights) {
  auto compiled = compile_cluster(cluster_config(policy, weights));
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return *compiled;
}

const MonoTime kNow{seconds(1000)};

std::vector<int> histogram(LoadBalancer& lb, int n, const LbContext& ctx) {
  std::vector<int> counts(lb.cluster().endpoints.size());
  for (int i = 0; i < n; ++i) {
    uint32_t e = lb.choose(ctx);
    EXPECT_NE(e, kNoEndpoint);
    if (e != kNoEndpoint) ++counts[e];
  }
  return counts;
}

void eject(const Cluster& c, uint32_t i) {
  ASSERT_TRUE(c.health().report(i, UpstreamResult::kHttp5xx, kNow));
}

TEST(LoadBalancer, EmptyClusterHasNoEndpoint) {
  auto c = make_cluster(LbPolicy::kRoundRobin, {});
  for (LbPolicy p : {LbPolicy::kRoundRobin, LbPolicy::kWeightedRoundRobin, LbPolicy::kLeastRequest,
                     LbPolicy::kRandom, LbPolicy::kRingHash, LbPolicy::kMaglev}) {
    auto cp = make_cluster(p, {});
    LoadBalancer lb(*cp, 1);
    EXPECT_EQ(lb.choose(LbContext{.now = kNow}), kNoEndpoint) << to_string(p);
  }
}

TEST(LoadBalancer, RoundRobinCyclesEvenly) {
  auto c = make_cluster(LbPolicy::kRoundRobin, {1, 5, 1});  // weights ignored
  LoadBalancer lb(*c, 42);
  LbContext ctx{.now = kNow};
  EXPECT_EQ(histogram(lb, 300, ctx), (std::vector<int>{100, 100, 100}));
  uint32_t a = lb.choose(ctx);
  uint32_t b = lb.choose(ctx);
  EXPECT_EQ(b, (a + 1) % 3);
}

TEST(LoadBalancer, EveryPolicyHonoursExclusionAndEjection) {
  for (LbPolicy p : {LbPolicy::kRoundRobin, LbPolicy::kWeightedRoundRobin, LbPolicy::kLeastRequest,
                     LbPolicy::kRandom, LbPolicy::kRingHash, LbPolicy::kMaglev}) {
    SCOPED_TRACE(std::string(to_string(p)));
    auto c = make_cluster(p, {1, 2, 3, 4});
    LoadBalancer lb(*c, 9);
    LbContext ctx{.now = kNow};
    uint32_t ex[] = {0, 3};
    ctx.exclude = ex;
    std::mt19937_64 rng(3);
    for (int i = 0; i < 500; ++i) {
      ctx.has_hash = (i % 2) == 0;
      ctx.hash = rng();
      uint32_t e = lb.choose(ctx);
      EXPECT_TRUE(e == 1 || e == 2) << e;
    }
    eject(*c, 1);
    for (int i = 0; i < 200; ++i) {
      ctx.hash = rng();
      EXPECT_EQ(lb.choose(ctx), 2u);
    }
    // Every available endpoint excluded: an excluded one beats failing.
    uint32_t all_but_ejected[] = {0, 2, 3};
    ctx.exclude = all_but_ejected;
    for (int i = 0; i < 50; ++i) {
      ctx.hash = rng();
      uint32_t e = lb.choose(ctx);
      EXPECT_TRUE(e == 0 || e == 2 || e == 3) << e;
    }
    // Nothing available: no endpoint (the server answers 503).
    eject(*c, 0);
    eject(*c, 2);
    eject(*c, 3);
    ctx.exclude = {};
    EXPECT_EQ(lb.choose(ctx), kNoEndpoint);
    // Ejection expires.
    ctx.now = kNow + seconds(31);
    EXPECT_NE(lb.choose(ctx), kNoEndpoint);
  }
}

TEST(LoadBalancer, UnhealthyEndpointsAreSkipped) {
  ClusterConfig cfg = cluster_config(LbPolicy::kRoundRobin, {1, 1});
  cfg.health_check = HealthCheckConfig{};
  cfg.health_check->unhealthy_threshold = 1;
  auto c = *compile_cluster(cfg);
  c->health().report_health_check(0, false);
  LoadBalancer lb(*c, 1);
  LbContext ctx{.now = kNow};
  EXPECT_EQ(histogram(lb, 10, ctx), (std::vector<int>{0, 10}));
}

TEST(LoadBalancer, WeightedRoundRobinIsProportionalAndSmooth) {
  auto c = make_cluster(LbPolicy::kWeightedRoundRobin, {1, 2, 3, 4});
  LoadBalancer lb(*c, 5);
  LbContext ctx{.now = kNow};
  std::vector<int> counts = histogram(lb, 10000, ctx);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(counts[i], 1000 * (i + 1), 5) << i;
  // Smooth: the heaviest endpoint is never picked more than twice in a row here.
  int run = 0;
  uint32_t last = kNoEndpoint;
  for (int i = 0; i < 1000; ++i) {
    uint32_t e = lb.choose(ctx);
    run = e == last ? run + 1 : 1;
    last = e;
    EXPECT_LE(run, 2);
  }
}

TEST(LoadBalancer, RandomIsWeighted) {
  auto c = make_cluster(LbPolicy::kRandom, {1, 3});
  LoadBalancer lb(*c, 11);
  std::vector<int> counts = histogram(lb, 40000, LbContext{.now = kNow});
  EXPECT_NEAR(counts[0], 10000, 500);
  EXPECT_NEAR(counts[1], 30000, 500);
  auto u = make_cluster(LbPolicy::kRandom, {1, 1, 1, 1});
  LoadBalancer ul(*u, 12);
  for (int n : histogram(ul, 40000, LbContext{.now = kNow})) EXPECT_NEAR(n, 10000, 500);
}

TEST(LoadBalancer, LeastRequestPrefersIdleEndpoints) {
  auto c = make_cluster(LbPolicy::kLeastRequest, {1, 1, 1, 1});
  LoadBalancer lb(*c, 13);
  LbContext ctx{.now = kNow};
  // Without load: uniform.
  for (int n : histogram(lb, 40000, ctx)) EXPECT_NEAR(n, 10000, 600);
  // Endpoint 0 busy: P2C never picks it when compared with an idle one, and it is always
  // compared with another (two distinct candidates).
  for (int i = 0; i < 10; ++i) lb.on_request_start(0);
  std::vector<int> counts = histogram(lb, 3000, ctx);
  EXPECT_EQ(counts[0], 0);
  for (int i = 0; i < 10; ++i) lb.on_request_end(0);
  EXPECT_EQ(lb.active(0), 0u);
  lb.on_request_end(0);  // never below zero
  EXPECT_EQ(lb.active(0), 0u);
  // Load balancing under simulated load: in-flight counts stay balanced.
  std::vector<uint32_t> inflight;
  for (int i = 0; i < 400; ++i) {
    uint32_t e = lb.choose(ctx);
    lb.on_request_start(e);
    inflight.push_back(e);
  }
  uint32_t lo = UINT32_MAX, hi = 0;
  for (uint32_t i = 0; i < 4; ++i) {
    lo = std::min(lo, lb.active(i));
    hi = std::max(hi, lb.active(i));
  }
  EXPECT_LE(hi - lo, 10u);
}

TEST(LoadBalancer, LeastRequestUsesWeights) {
  auto c = make_cluster(LbPolicy::kLeastRequest, {1, 4});
  LoadBalancer lb(*c, 14);
  LbContext ctx{.now = kNow};
  // Keep requests open: in-flight should settle near the 1:4 weight ratio.
  for (int i = 0; i < 1000; ++i) lb.on_request_start(lb.choose(ctx));
  EXPECT_NEAR(static_cast<double>(lb.active(1)) / lb.active(0), 4.0, 0.2);
}

std::vector<uint32_t> assign(const Cluster& c, const std::vector<uint64_t>& keys) {
  LoadBalancer lb(c, 1);
  std::vector<uint32_t> out;
  out.reserve(keys.size());
  for (uint64_t k : keys)
    out.push_back(lb.choose(LbContext{.now = kNow, .has_hash = true, .hash = k}));
  return out;
}

class ConsistentHash : public ::testing::TestWithParam<LbPolicy> {};

TEST_P(ConsistentHash, SameKeySameEndpointAcrossWorkersAndEvenSpread) {
  auto c = make_cluster(GetParam(), std::vector<uint32_t>(10, 1));
  std::mt19937_64 rng(21);
  std::vector<uint64_t> keys(20000);
  for (auto& k : keys) k = rng();
  std::vector<uint32_t> a = assign(*c, keys);
  LoadBalancer other_worker(*c, 999);
  std::vector<int> counts(10);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(other_worker.choose(LbContext{.now = kNow, .has_hash = true, .hash = keys[i]}), a[i]);
    ++counts[a[i]];
  }
  for (int n : counts) EXPECT_NEAR(n, 2000, 2000 * 0.35);
}

TEST_P(ConsistentHash, RemovingAnEndpointMovesOnlyItsKeys) {
  const std::size_t n = 20;
  ClusterConfig full = cluster_config(GetParam(), std::vector<uint32_t>(n, 1));
  ClusterConfig less = full;
  less.endpoints.erase(less.endpoints.begin() + 7);
  auto c1 = *compile_cluster(full);
  auto c2 = *compile_cluster(less);
  std::mt19937_64 rng(22);
  std::vector<uint64_t> keys(20000);
  for (auto& k : keys) k = rng();
  std::vector<uint32_t> a = assign(*c1, keys);
  std::vector<uint32_t> b = assign(*c2, keys);
  std::size_t kept = 0, others = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (a[i] == 7) continue;
    ++others;
    // Compare by address: indexes shift after the removed one.
    if (c1->endpoints[a[i]].address_text() == c2->endpoints[b[i]].address_text()) ++kept;
  }
  double stable = static_cast<double>(kept) / others;
  if (GetParam() == LbPolicy::kRingHash) {
    EXPECT_EQ(kept, others);  // a ring moves nothing else
  } else {
    EXPECT_GT(stable, 0.95);  // Maglev: minimal disruption, a few percent at most
  }
}

TEST_P(ConsistentHash, EjectedEndpointKeysMoveOthersStay) {
  auto c = make_cluster(GetParam(), std::vector<uint32_t>(8, 1));
  std::mt19937_64 rng(23);
  std::vector<uint64_t> keys(5000);
  for (auto& k : keys) k = rng();
  std::vector<uint32_t> before = assign(*c, keys);
  eject(*c, 3);
  std::vector<uint32_t> after = assign(*c, keys);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (before[i] == 3) {
      EXPECT_NE(after[i], 3u);
    } else {
      EXPECT_EQ(after[i], before[i]);
    }
  }
}

TEST_P(ConsistentHash, WeightsShiftTheShare) {
  auto c = make_cluster(GetParam(), {1, 3});
  std::mt19937_64 rng(24);
  std::vector<uint64_t> keys(20000);
  for (auto& k : keys) k = rng();
  std::vector<int> counts(2);
  for (uint32_t e : assign(*c, keys)) ++counts[e];
  EXPECT_NEAR(counts[1] / 20000.0, 0.75, 0.05);
}

INSTANTIATE_TEST_SUITE_P(Policies, ConsistentHash,
                         ::testing::Values(LbPolicy::kRingHash, LbPolicy::kMaglev),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// ring_subset_size (ingress-nginx's upstream-hash-by-subset): a key keeps to its subset.
std::shared_ptr<const Cluster> subset_cluster(std::size_t endpoints, uint32_t subset) {
  ClusterConfig cfg = cluster_config(LbPolicy::kRingHash, std::vector<uint32_t>(endpoints, 1));
  cfg.ring_subset_size = subset;
  return *compile_cluster(cfg);
}

std::set<uint32_t> picks(LoadBalancer& lb, uint64_t key, int n) {
  std::set<uint32_t> seen;
  for (int i = 0; i < n; ++i)
    seen.insert(lb.choose(LbContext{.now = kNow, .has_hash = true, .hash = key}));
  return seen;
}

TEST(RingSubset, AKeyGoesToItsSubsetOnlyAndSpreadsOverIt) {
  auto c = subset_cluster(6, 3);
  LoadBalancer lb(*c, 5);
  LoadBalancer other_worker(*c, 77);
  std::set<uint32_t> all;
  for (uint64_t key : {1ull, 0x9e3779b97f4a7c15ull, 42ull, 1ull << 63, 0xdeadbeefull}) {
    std::set<uint32_t> seen = picks(lb, key, 200);
    EXPECT_EQ(seen.size(), 3u) << key;  // all three members, nothing else
    EXPECT_EQ(picks(other_worker, key, 200), seen) << "another worker, another subset: " << key;
    all.insert(seen.begin(), seen.end());
  }
  EXPECT_GT(all.size(), 3u);  // keys do not share one subset
}

TEST(RingSubset, SizesOfOneAndAboveTheEndpointCount) {
  auto single = subset_cluster(6, 1);
  LoadBalancer lb1(*single, 5);
  auto plain = make_cluster(LbPolicy::kRingHash, std::vector<uint32_t>(6, 1));
  LoadBalancer lb0(*plain, 5);
  for (uint64_t key = 1; key < 200; key += 7) {
    std::set<uint32_t> seen = picks(lb1, key * 0x9e3779b97f4a7c15ull, 20);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(
        *seen.begin(),
        lb0.choose(LbContext{.now = kNow, .has_hash = true, .hash = key * 0x9e3779b97f4a7c15ull}));
  }
  auto wide = subset_cluster(4, 10);
  LoadBalancer lb(*wide, 5);
  EXPECT_EQ(picks(lb, 99, 400).size(), 4u);  // the subset is every endpoint
}

TEST(RingSubset, UnavailableMembersAreSkippedThenTheRingDecides) {
  auto c = subset_cluster(6, 2);
  LoadBalancer lb(*c, 5);
  const uint64_t key = 12345;
  std::set<uint32_t> members = picks(lb, key, 200);
  ASSERT_EQ(members.size(), 2u);
  eject(*c, *members.begin());
  EXPECT_EQ(picks(lb, key, 100), std::set<uint32_t>{*members.rbegin()});
  eject(*c, *members.rbegin());
  std::set<uint32_t> after = picks(lb, key, 100);  // both gone: the ring walk's endpoint
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(members.count(*after.begin()), 0u);
  // A retry excludes what it tried, inside the subset first.
  auto fresh = subset_cluster(6, 3);
  LoadBalancer lb2(*fresh, 9);
  std::set<uint32_t> three = picks(lb2, key, 200);
  ASSERT_EQ(three.size(), 3u);
  uint32_t tried = *three.begin();
  for (int i = 0; i < 50; ++i) {
    uint32_t e = lb2.choose(LbContext{.now = kNow,
                                      .has_hash = true,
                                      .hash = key,
                                      .exclude = std::span<const uint32_t>(&tried, 1)});
    EXPECT_NE(e, tried);
    EXPECT_EQ(three.count(e), 1u);
  }
}

TEST(HashKey, HeaderCookieAndSourceIp) {
  ClusterConfig cfg = cluster_config(LbPolicy::kRingHash, {1, 1});
  cfg.hash_on = HashPolicy{HashOn::kHeader, "X-User"};
  auto by_header = *compile_cluster(cfg);
  cfg.hash_on = HashPolicy{HashOn::kCookie, "session"};
  auto by_cookie = *compile_cluster(cfg);
  cfg.hash_on = HashPolicy{HashOn::kSourceIp, ""};
  auto by_ip = *compile_cluster(cfg);

  HeaderField headers[] = {{"x-user", "alice"}, {"Cookie", "a=1; session=abc ; z=2"}};
  RequestView r;
  r.headers = headers;
  r.client_address = "192.0.2.1";
  uint64_t k = 0;
  ASSERT_TRUE(by_header->hash_key(r, &k));
  EXPECT_EQ(k, stable_hash("alice"));
  ASSERT_TRUE(by_cookie->hash_key(r, &k));
  EXPECT_EQ(k, stable_hash("abc"));
  ASSERT_TRUE(by_ip->hash_key(r, &k));
  EXPECT_EQ(k, stable_hash("192.0.2.1"));

  HeaderField split[] = {{"cookie", "a=1"}, {"cookie", "session=\"q\""}};
  r.headers = split;
  ASSERT_TRUE(by_cookie->hash_key(r, &k));  // HTTP/2 splits cookies over several headers
  EXPECT_EQ(k, stable_hash("q"));
  HeaderField none[] = {{"cookie", "sessionx=1; xsession=2"}};
  r.headers = none;
  EXPECT_FALSE(by_cookie->hash_key(r, &k));
  EXPECT_FALSE(by_header->hash_key(r, &k));
  r.client_address = "";
  EXPECT_FALSE(by_ip->hash_key(r, &k));
  // Stable across processes: a fixed value.
  EXPECT_EQ(stable_hash("alice"), stable_hash("alice"));
  EXPECT_NE(stable_hash("alice"), stable_hash("alicf"));
  EXPECT_NE(stable_hash("alice", 1), stable_hash("alice", 2));
}

TEST(LoadBalancer, CompileCarriesOutlierStateForSurvivingEndpoints) {
  ClusterConfig cfg = cluster_config(LbPolicy::kRoundRobin, {1, 1, 1});
  auto c1 = *compile_cluster(cfg);
  eject(*c1, 2);
  cfg.endpoints.erase(cfg.endpoints.begin());
  auto c2 = *compile_cluster(cfg, c1.get());
  EXPECT_FALSE(c2->health().is_ejected(0, kNow));
  EXPECT_TRUE(c2->health().is_ejected(1, kNow));
  EXPECT_EQ(c2->health().ejections(1), 1u);
}

}  // namespace
}  // namespace kop::proxy
