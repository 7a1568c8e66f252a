// Proxy::apply at scale (issue 18): a running proxy (two workers, one listener) serving 10k
// virtual hosts (two routes each) and 10k clusters of 10 endpoints gets the next Config with
// one virtual host changed, or one cluster's endpoints changed, as the ingress controller
// hands it over: the unchanged parts are the same `Shared` objects as in the previous Config.
// Time: CPU of the whole process per apply (MeasureProcessCPUTime), so the workers' adoption
// of the new snapshot and their release of the old one count too.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "kop/proxy/config.h"
#include "kop/proxy/proxy.h"

namespace kop::proxy {
namespace {

constexpr int kApps = 10000;
constexpr int kEndpoints = 10;

std::string ip(int n) {
  return "10." + std::to_string((n >> 16) & 255) + "." + std::to_string((n >> 8) & 255) + "." +
         std::to_string(n & 255);
}

ClusterConfig cluster(int app, int first_endpoint) {
  ClusterConfig c;
  c.name = "apps/app" + std::to_string(app) + ":80";
  for (int e = 0; e < kEndpoints; ++e)
    c.endpoints.push_back(EndpointConfig{{ip(first_endpoint + e), 8080}, 1});
  return c;
}

VirtualHostConfig host(int app, const std::string& api_path) {
  VirtualHostConfig vh;
  vh.name = "app" + std::to_string(app) + ".apps.example.com";
  vh.domains = {vh.name};
  std::string target = "apps/app" + std::to_string(app) + ":80";
  for (const std::string& path : {api_path, std::string("/")}) {
    RouteConfig rc;
    rc.match.path = {PathMatchType::kPrefix, path};
    rc.forward.clusters = {WeightedCluster{target, 1}};
    vh.routes.push_back(std::move(rc));
  }
  return vh;
}

Config base_config() {
  Config c;
  c.admin.enabled = false;
  c.listeners.push_back(ListenerConfig{.name = "http", .address = {"127.0.0.1", 0}});
  for (int a = 0; a < kApps; ++a) {
    c.clusters.emplace_back(cluster(a, a * kEndpoints));
    c.virtual_hosts.emplace_back(host(a, "/api"));
  }
  return c;
}

// Applies `next(flip)` (a Config differing from the running one in one part) per iteration.
template <typename Next>
void apply_changes(benchmark::State& state, Next next) {
  ProxyOptions options;
  options.workers = 2;
  Proxy proxy(options);
  Config config = base_config();
  if (auto s = proxy.apply(std::make_shared<const Config>(config)); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return;
  }
  bool flip = false;
  for (auto _ : state) {
    state.PauseTiming();
    flip = !flip;
    next(config, flip);
    auto shared = std::make_shared<const Config>(config);
    state.ResumeTiming();
    if (auto s = proxy.apply(shared); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  proxy.shutdown(std::chrono::milliseconds(0));
}

void BM_ApplyOneHostChanged(benchmark::State& state) {
  apply_changes(state, [](Config& c, bool flip) {
    c.virtual_hosts[kApps / 2] = host(kApps / 2, flip ? "/v2" : "/api");
  });
}
BENCHMARK(BM_ApplyOneHostChanged)
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(40);

void BM_ApplyOneClusterEndpointsChanged(benchmark::State& state) {
  apply_changes(state, [](Config& c, bool flip) {
    c.clusters[kApps / 2] =
        cluster(kApps / 2, flip ? kApps * kEndpoints : (kApps / 2) * kEndpoints);
  });
}
BENCHMARK(BM_ApplyOneClusterEndpointsChanged)
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(40);

}  // namespace
}  // namespace kop::proxy

BENCHMARK_MAIN();
