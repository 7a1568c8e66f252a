// Instruction counts per operation, measured under callgrind (stable on a noisy machine):
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_loop*'
//            proxy_core_instructions <case> <iterations>
// then divide the reported Ir by <iterations>. Cases: lookup-big (1,000 hosts x 10 routes),
// lookup-small (one host, one route: the proxy-compare setup), lookup-catchall (the same with
// the domain "*"), choose-<policy>.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "kop/proxy/config.h"
#include "kop/proxy/load_balancer.h"
#include "kop/proxy/route_table.h"

namespace kop::proxy {
namespace {

struct Req {
  std::string host;
  std::string path;
};

Config make_config(int hosts, int clusters, int endpoints) {
  Config c;
  c.admin.enabled = false;
  c.listeners.push_back(ListenerConfig{.name = "http", .address = {"0.0.0.0", 8080}});
  for (int k = 0; k < clusters; ++k) {
    ClusterConfig cl{.name = "c" + std::to_string(k)};
    for (int e = 0; e < endpoints; ++e)
      cl.endpoints.push_back(EndpointConfig{
          {"10.0." + std::to_string(e / 250) + "." + std::to_string(e % 250 + 1), 80}, 1});
    c.clusters.emplace_back(std::move(cl));
  }
  const PathMatch paths[] = {{PathMatchType::kPrefix, "/"},
                             {PathMatchType::kExact, "/healthz"},
                             {PathMatchType::kPrefix, "/api"},
                             {PathMatchType::kPrefix, "/api/v1"},
                             {PathMatchType::kPrefix, "/api/v1/users"},
                             {PathMatchType::kPrefix, "/api/v2"},
                             {PathMatchType::kPrefix, "/static"},
                             {PathMatchType::kExact, "/login"},
                             {PathMatchType::kStringPrefix, "/assets-"},
                             {PathMatchType::kPrefix, "/img"}};
  for (int h = 0; h < hosts; ++h) {
    VirtualHostConfig vh{.name = "vh" + std::to_string(h),
                         .domains = {"svc" + std::to_string(h) + ".apps.example.com"}};
    int routes = hosts == 1 ? 1 : 10;
    for (int r = 0; r < routes; ++r) {
      RouteConfig rc;
      rc.match.path = paths[r];
      rc.forward.clusters = {WeightedCluster{"c" + std::to_string((h * 10 + r) % clusters), 1}};
      vh.routes.push_back(std::move(rc));
    }
    c.virtual_hosts.emplace_back(std::move(vh));
  }
  return c;
}

__attribute__((noinline)) std::size_t measured_loop_lookup(const RouteTable& t,
                                                           const std::vector<Req>& reqs, long n) {
  const Listener* l = t.find_listener("http");
  HeaderField headers[] = {{"user-agent", "wrk"}, {"accept", "*/*"}};
  std::size_t found = 0;
  for (long i = 0; i < n; ++i) {
    const Req& r = reqs[static_cast<std::size_t>(i) % reqs.size()];
    const VirtualHost* vh = t.find_virtual_host(*l, r.host);
    if (vh == nullptr) continue;
    RequestView rv;
    rv.method = "GET";
    rv.path = r.path;
    rv.headers = headers;
    found += t.match(*vh, rv) != nullptr;
  }
  return found;
}

__attribute__((noinline)) std::size_t measured_loop_choose(const Cluster& c, LoadBalancer& lb,
                                                           long n) {
  std::size_t sum = 0;
  LbContext ctx{.now = MonoClock::now(), .has_hash = true};
  for (long i = 0; i < n; ++i) {
    ctx.hash = static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL;
    uint32_t e = lb.choose(ctx);
    lb.on_request_start(e);
    lb.on_request_end(e);
    c.health().report(e, UpstreamResult::kSuccess, ctx.now);
    sum += e;
  }
  return sum;
}

int run(std::string_view which, long n) {
  if (which == "lookup-big" || which == "lookup-small" || which == "lookup-catchall") {
    bool big = which == "lookup-big";
    Config config = big ? make_config(1000, 1000, 50) : make_config(1, 1, 1);
    if (which == "lookup-catchall") {
      VirtualHostConfig all = config.virtual_hosts[0];
      all.domains = {"*"};
      config.virtual_hosts[0] = all;
    }
    auto t = *RouteTable::compile(config);
    std::vector<Req> reqs;
    const char* paths[] = {"/api/v1/users/42", "/",     "/healthz", "/static/app.js",
                           "/api/v2/orders",   "/login"};
    for (int i = 0; i < 1024; ++i) {
      int h = big ? (i * 7919) % 1000 : 0;
      reqs.push_back(
          {"svc" + std::to_string(h) + ".apps.example.com:8080", big ? paths[i % 6] : "/"});
    }
    std::printf("%zu\n", measured_loop_lookup(*t, reqs, n));
    return 0;
  }
  if (which.starts_with("choose-")) {
    std::string_view policy = which.substr(7);
    ClusterConfig cfg{.name = "c"};
    for (int e = 0; e < 50; ++e)
      cfg.endpoints.push_back(EndpointConfig{{"10.0.0." + std::to_string(e + 1), 80},
                                             static_cast<uint32_t>(1 + e % 3)});
    bool ok = false;
    for (LbPolicy p :
         {LbPolicy::kRoundRobin, LbPolicy::kWeightedRoundRobin, LbPolicy::kLeastRequest,
          LbPolicy::kRandom, LbPolicy::kRingHash, LbPolicy::kMaglev})
      if (to_string(p) == policy) cfg.lb_policy = p, ok = true;
    if (!ok) return 2;
    auto c = *compile_cluster(cfg);
    LoadBalancer lb(*c, 1);
    std::printf("%zu\n", measured_loop_choose(*c, lb, n));
    return 0;
  }
  return 2;
}

}  // namespace
}  // namespace kop::proxy

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: %s lookup-big|lookup-small|lookup-catchall|choose-<policy> iterations\n",
                 argv[0]);
    return 2;
  }
  int rc = kop::proxy::run(argv[1], std::atol(argv[2]));
  if (rc != 0) std::fprintf(stderr, "unknown case %s\n", argv[1]);
  return rc;
}
