#include "kop/proxy/load_balancer.h"

#include <gtest/gtest.h>

#include <vector>

namespace kop::proxy {
namespace {

std::shared_ptr<const Cluster> make_cluster(LbPolicy policy, std::vector<uint32_t> weights) {
  ClusterConfig c;
  c.name = "c";
  c.lb_policy = policy;
  for (std::size_t i = 0; i < weights.size(); ++i)
    c.endpoints.push_back(
        EndpointConfig{SocketAddress{"10.0.0." + std::to_string(i + 1), 80}, weights[i]});
  auto compiled = compile_cluster(c);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return *compiled;
}

TEST(LoadBalancer, RoundRobinCyclesAndExcludes) {
  auto c = make_cluster(LbPolicy::kRoundRobin, {1, 1, 1});
  LoadBalancer lb(*c, 42);
  std::vector<int> counts(3);
  LbContext ctx;
  for (int i = 0; i < 300; ++i) ++counts[lb.choose(ctx)];
  EXPECT_EQ(counts, (std::vector<int>{100, 100, 100}));
  uint32_t ex[] = {0, 1};
  ctx.exclude = ex;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(lb.choose(ctx), 2u);
}

}  // namespace
}  // namespace kop::proxy
