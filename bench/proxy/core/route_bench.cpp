// Proxy core benchmarks: route lookup, compile (full and endpoint-only), load balancing.
// The table: 1,000 virtual hosts x 10 routes (exact, segment prefixes of several depths, one
// header-matched route, one regex on a tenth of the hosts) and 1,000 clusters x 50 endpoints.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <random>
#include <string>
#include <vector>

#include "kop/proxy/config.h"
#include "kop/proxy/load_balancer.h"
#include "kop/proxy/route_table.h"

namespace kop::proxy {
namespace {

constexpr int kHosts = 1000;
constexpr int kRoutesPerHost = 10;
constexpr int kClusters = 1000;
constexpr int kEndpointsPerCluster = 50;

std::string host_name(int h) {
  return "svc" + std::to_string(h) + ".apps.example.com";
}

Config big_config() {
  Config c;
  c.admin.enabled = false;
  c.listeners.push_back(ListenerConfig{.name = "http", .address = {"0.0.0.0", 8080}});
  for (int k = 0; k < kClusters; ++k) {
    ClusterConfig cl;
    cl.name = "ns" + std::to_string(k) + "/svc:80";
    for (int e = 0; e < kEndpointsPerCluster; ++e) {
      int n = k * kEndpointsPerCluster + e;
      cl.endpoints.push_back(
          EndpointConfig{{"10." + std::to_string(n >> 16) + "." + std::to_string((n >> 8) & 255) +
                              "." + std::to_string(n & 255),
                          8080},
                         1});
    }
    c.clusters.emplace_back(std::move(cl));
  }
  for (int h = 0; h < kHosts; ++h) {
    VirtualHostConfig vh;
    vh.name = "vh" + std::to_string(h);
    vh.domains = {host_name(h)};
    for (int r = 0; r < kRoutesPerHost; ++r) {
      RouteConfig rc;
      rc.forward.clusters = {
          WeightedCluster{c.clusters[(h * kRoutesPerHost + r) % kClusters]->name, 1}};
      switch (r) {
        case 0:
          rc.match.path = {PathMatchType::kPrefix, "/"};
          break;
        case 1:
          rc.match.path = {PathMatchType::kExact, "/healthz"};
          break;
        case 2:
          rc.match.path = {PathMatchType::kPrefix, "/api"};
          break;
        case 3:
          rc.match.path = {PathMatchType::kPrefix, "/api/v1"};
          break;
        case 4:
          rc.match.path = {PathMatchType::kPrefix, "/api/v1/users"};
          break;
        case 5:
          rc.match.path = {PathMatchType::kPrefix, "/api/v2"};
          break;
        case 6:
          rc.match.path = {PathMatchType::kPrefix, "/static"};
          break;
        case 7:
          rc.match.path = {PathMatchType::kExact, "/login"};
          break;
        case 8:
          rc.match.path = {PathMatchType::kPrefix, "/api/v1"};
          rc.match.headers = {HeaderMatch{"x-canary", HeaderMatchType::kExact, "1", false}};
          break;
        case 9:
          if (h % 10 == 0) {
            rc.match.path = {PathMatchType::kRegex, "/items/[0-9]+"};
          } else {
            rc.match.path = {PathMatchType::kStringPrefix, "/assets-"};
          }
          break;
      }
      vh.routes.push_back(std::move(rc));
    }
    c.virtual_hosts.emplace_back(std::move(vh));
  }
  return c;
}

const Config& shared_config() {
  static const Config c = big_config();
  return c;
}

const RouteTable& shared_table() {
  static const std::shared_ptr<const RouteTable> t = *RouteTable::compile(shared_config());
  return *t;
}

struct Request {
  std::string host;
  std::string path;
};

std::vector<Request> requests() {
  static const char* paths[] = {"/api/v1/users/42", "/",      "/healthz", "/static/app.js",
                                "/api/v2/orders",   "/login", "/api",     "/nothing/here/at/all"};
  std::vector<Request> out;
  std::mt19937 rng(1);
  for (int i = 0; i < 4096; ++i) {
    int h = static_cast<int>(rng() % kHosts);
    out.push_back({host_name(h) + ":8080", paths[rng() % 8]});
  }
  return out;
}

void BM_FindVirtualHost(benchmark::State& state) {
  const RouteTable& t = shared_table();
  const Listener* l = t.find_listener("http");
  auto reqs = requests();
  std::size_t i = 0;
  for (auto _ : state) {
    const Request& r = reqs[i++ & 4095];
    benchmark::DoNotOptimize(t.find_virtual_host(*l, r.host));
  }
}
BENCHMARK(BM_FindVirtualHost);

// The per-request routing cost: Host -> virtual host -> route.
void BM_RouteLookup(benchmark::State& state) {
  const RouteTable& t = shared_table();
  const Listener* l = t.find_listener("http");
  auto reqs = requests();
  HeaderField headers[] = {{"user-agent", "bench"}, {"accept", "*/*"}};
  std::size_t i = 0;
  for (auto _ : state) {
    const Request& r = reqs[i++ & 4095];
    const VirtualHost* vh = t.find_virtual_host(*l, r.host);
    RequestView rv;
    rv.method = "GET";
    rv.path = r.path;
    rv.headers = headers;
    benchmark::DoNotOptimize(t.match(*vh, rv));
  }
}
BENCHMARK(BM_RouteLookup);

// Worst case for prefix probing: one virtual host with 1,000 prefix routes of many lengths.
void BM_RouteLookupOneBigHost(benchmark::State& state) {
  Config c;
  c.admin.enabled = false;
  c.clusters.emplace_back(ClusterConfig{.name = "c"});
  VirtualHostConfig vh{.name = "v", .domains = {"*"}};
  for (int i = 0; i < 1000; ++i) {
    RouteConfig rc;
    rc.match.path = {PathMatchType::kPrefix,
                     "/p" + std::to_string(i) + "/x" + std::string(i % 40, 'y')};
    rc.forward.clusters = {WeightedCluster{"c", 1}};
    vh.routes.push_back(std::move(rc));
  }
  c.virtual_hosts.emplace_back(std::move(vh));
  c.listeners.push_back(ListenerConfig{.name = "l", .address = {"0.0.0.0", 80}});
  auto t = *RouteTable::compile(c);
  const VirtualHost& v = t->virtual_hosts()[0];
  std::string path = "/p517/x" + std::string(517 % 40, 'y') + "/deeper/path";
  RequestView rv;
  rv.method = "GET";
  rv.path = path;
  for (auto _ : state) benchmark::DoNotOptimize(t->match(v, rv));
}
BENCHMARK(BM_RouteLookupOneBigHost);

std::size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

void BM_Compile10kRoutes50kEndpoints(benchmark::State& state) {
  const Config& c = shared_config();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::size_t before = heap_in_use();
    auto t = RouteTable::compile(c);
    bytes = heap_in_use() - before;
    benchmark::DoNotOptimize(t);
  }
  state.counters["table_MiB"] = static_cast<double>(bytes) / (1 << 20);
}
BENCHMARK(BM_Compile10kRoutes50kEndpoints)->Unit(benchmark::kMillisecond)->Iterations(5);

// The ingress controller's fast path: one cluster's endpoints change.
void BM_CompileEndpointChange(benchmark::State& state) {
  const RouteTable& prev = shared_table();
  Config next = shared_config();
  int n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ClusterConfig changed = next.clusters[17];
    changed.endpoints[0].weight = static_cast<uint32_t>(1 + (++n % 2));
    next.clusters[17] = changed;
    state.ResumeTiming();
    auto t = RouteTable::compile(next, &prev);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_CompileEndpointChange)->Unit(benchmark::kMillisecond)->Iterations(10);

void BM_ParseConfigJson(benchmark::State& state) {
  std::string json = to_json(shared_config(), false);
  for (auto _ : state) benchmark::DoNotOptimize(parse_config(json));
  state.counters["json_MiB"] = static_cast<double>(json.size()) / (1 << 20);
}
BENCHMARK(BM_ParseConfigJson)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Choose(benchmark::State& state) {
  auto policy = static_cast<LbPolicy>(state.range(0));
  ClusterConfig cfg = shared_config().clusters[0];
  cfg.lb_policy = policy;
  for (std::size_t i = 0; i < cfg.endpoints.size(); ++i) cfg.endpoints[i].weight = 1 + i % 3;
  auto c = *compile_cluster(cfg);
  LoadBalancer lb(*c, 1);
  LbContext ctx{.now = MonoClock::now(), .has_hash = true, .hash = 0};
  uint64_t h = 0;
  for (auto _ : state) {
    ctx.hash = h += 0x9e3779b97f4a7c15ULL;
    uint32_t e = lb.choose(ctx);
    lb.on_request_start(e);
    lb.on_request_end(e);
    c->health().report(e, UpstreamResult::kSuccess, ctx.now);
    benchmark::DoNotOptimize(e);
  }
  state.SetLabel(std::string(to_string(policy)));
}
BENCHMARK(BM_Choose)->DenseRange(0, 5);

}  // namespace
}  // namespace kop::proxy

BENCHMARK_MAIN();
