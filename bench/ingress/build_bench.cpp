// kop-ingress build cost: Snapshot -> build_model -> render -> RouteTable::compile, at 1k and
// 10k Ingresses (one host and one Prefix path each, a Service with 10 ready endpoints each),
// an endpoint-only change recompiled against the previous table (the fast path), and the
// whole change path of the controller with a BuildCache: one EndpointSlice replaced, then
// build_model (incremental), render, compile against the previous table.
//   meson setup build-bench -Dbenchmarks=true && ninja -C build-bench
//   bench/ingress/ingress_build_bench build-bench/bench/ingress/ingress_build_bench
#include <benchmark/benchmark.h>

#include <ctime>
#include <memory>
#include <string>

#include "kop/ingress/model.h"
#include "kop/ingress/render.h"
#include "kop/proxy/route_table.h"

namespace {

using kop::api::Object;

kop::api::ObjectPtr parse(const std::string& json) {
  auto o = Object::parse(json);
  return kop::api::share(std::move(*o));
}

// The parts, appended into one string.
template <typename... Parts>
std::string join(const Parts&... parts) {
  std::string out;
  (out.append(parts), ...);
  return out;
}

kop::ingress::Snapshot make_snapshot(int n, int generation = 0) {
  kop::ingress::Snapshot s;
  for (int i = 0; i < n; ++i) {
    std::string name = "app" + std::to_string(i);
    s.services.push_back(
        parse(join(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")", name,
                   R"(","namespace":"default"},"spec":{"ports":[{"name":"http","port":80}]}})")));
    std::string eps;
    for (int e = 0; e < 10; ++e) {
      if (e) eps += ",";
      eps += join(R"({"addresses":["10.)", std::to_string(i / 250), ".", std::to_string(i % 250),
                  ".", std::to_string(e + 1 + generation), R"("],"conditions":{"ready":true}})");
    }
    s.endpoint_slices.push_back(parse(
        join(R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":")",
             name, R"(-1","namespace":"default","labels":{"kubernetes.io/service-name":")", name,
             R"("}},"addressType":"IPv4","ports":[{"name":"http","port":8080}],"endpoints":[)", eps,
             "]}")));
    s.ingresses.push_back(parse(join(
        R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":")", name,
        R"(","namespace":"default"},"spec":{"rules":[{"host":")", name,
        R"(.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":")",
        name, R"(","port":{"number":80}}}}]}}]}})")));
  }
  return s;
}

void BM_BuildRenderCompile(benchmark::State& state) {
  auto snap = make_snapshot(static_cast<int>(state.range(0)));
  kop::ingress::RenderOptions ro;
  ro.admin.enabled = false;
  for (auto _ : state) {
    auto model = kop::ingress::build_model(snap, {});
    auto config = kop::ingress::render(model, ro);
    auto table = kop::proxy::RouteTable::compile(config);
    benchmark::DoNotOptimize(table);
  }
}
BENCHMARK(BM_BuildRenderCompile)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_EndpointChangeFastPath(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  kop::ingress::RenderOptions ro;
  ro.admin.enabled = false;
  auto a = kop::ingress::render(kop::ingress::build_model(make_snapshot(n, 0), {}), ro);
  auto b = kop::ingress::render(kop::ingress::build_model(make_snapshot(n, 1), {}), ro);
  auto prev = *kop::proxy::RouteTable::compile(a);
  for (auto _ : state) {
    auto next = kop::proxy::RouteTable::compile(b, prev.get());
    benchmark::DoNotOptimize(next);
  }
}
BENCHMARK(BM_EndpointChangeFastPath)->Arg(1000)->Unit(benchmark::kMillisecond);

// One EndpointSlice alternates between two versions; every other object is the same ObjectPtr
// from build to build, as the informer caches hand them out.
void BM_EndpointChangeIncremental(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  kop::ingress::RenderOptions ro;
  ro.admin.enabled = false;
  auto snap = make_snapshot(n, 0);
  auto other = make_snapshot(1, 1).endpoint_slices[0];
  auto original = snap.endpoint_slices[0];
  kop::ingress::BuildCache cache;
  auto prev = *kop::proxy::RouteTable::compile(
      kop::ingress::render(kop::ingress::build_model(snap, {}, &cache), ro));
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    snap.endpoint_slices[0] = flip ? other : original;
    const auto& model = cache.build(snap, {});
    auto config = kop::ingress::render(model, ro);
    auto next = kop::proxy::RouteTable::compile(config, prev.get());
    prev = *next;
  }
  state.counters["reused"] = static_cast<double>(cache.reused());
}
// build_model alone for one endpoint change, without and with a BuildCache.
void BM_BuildModelEndpointChange(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  bool cached = state.range(1) != 0;
  auto snap = make_snapshot(n, 0);
  auto other = make_snapshot(1, 1).endpoint_slices[0];
  auto original = snap.endpoint_slices[0];
  kop::ingress::BuildCache cache;
  benchmark::DoNotOptimize(kop::ingress::build_model(snap, {}, &cache));
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    snap.endpoint_slices[0] = flip ? other : original;
    auto model = kop::ingress::build_model(snap, {}, cached ? &cache : nullptr);
    benchmark::DoNotOptimize(model);
  }
}
BENCHMARK(BM_BuildModelEndpointChange)
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_EndpointChangeIncremental)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// One Ingress changed at N (its host alternates), the controller's path stage by stage with a
// BuildCache: build_model, render, the controller's comparison with the last Config, compile
// against the previous table. Counters: CPU milliseconds per stage (this thread's CPU clock:
// steadier than wall time on a shared machine).
void BM_IngressChangeStages(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  kop::ingress::RenderOptions ro;
  ro.admin.enabled = false;
  auto snap = make_snapshot(n, 0);
  auto original = snap.ingresses[0];
  auto other = parse(
      R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"app0","namespace":"default"},"spec":{"rules":[{"host":"moved.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"app0","port":{"number":80}}}}]}}]}})");
  kop::ingress::BuildCache cache;
  auto last = std::make_shared<const kop::proxy::Config>(
      kop::ingress::render(kop::ingress::build_model(snap, {}, &cache), ro));
  auto prev = *kop::proxy::RouteTable::compile(last);
  auto now = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  };
  double model_s = 0, render_s = 0, compare_s = 0, compile_s = 0;
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    snap.ingresses[0] = flip ? other : original;
    double t0 = now();
    const auto& model = cache.build(snap, {});
    double t1 = now();
    auto config = std::make_shared<const kop::proxy::Config>(kop::ingress::render(model, ro));
    double t2 = now();
    bool same = *config == *last;
    benchmark::DoNotOptimize(same);
    double t3 = now();
    prev = *kop::proxy::RouteTable::compile(config, prev.get());
    double t4 = now();
    last = config;
    model_s += t1 - t0;
    render_s += t2 - t1;
    compare_s += t3 - t2;
    compile_s += t4 - t3;
  }
  auto per = [&](double s) {
    return benchmark::Counter(s * 1e3 / static_cast<double>(state.iterations()));
  };
  state.counters["model_ms"] = per(model_s);
  state.counters["render_ms"] = per(render_s);
  state.counters["compare_ms"] = per(compare_s);
  state.counters["compile_ms"] = per(compile_s);
}
BENCHMARK(BM_IngressChangeStages)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
