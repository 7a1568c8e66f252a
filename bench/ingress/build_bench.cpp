// kop-ingress build cost: Snapshot -> build_model -> render -> RouteTable::compile, at 1k and
// 10k Ingresses (one host and one Prefix path each, a Service with 10 ready endpoints each),
// an endpoint-only change recompiled against the previous table (the fast path), and the
// whole change path of the controller with a BuildCache: one EndpointSlice replaced, then
// build_model (incremental), render, compile against the previous table; and the Gateway API's
// change path at N HTTPRoutes (translate with a TranslateCache, render, compile), stage by stage.
// The Ingress and EndpointSlice change stages run at 10k and 100k apps (issue 18's two scales);
// the first Ingress change after a round of status writes at 10k.
//   meson setup build-bench -Dbenchmarks=true && ninja -C build-bench
//   bench/ingress/ingress_build_bench build-bench/bench/ingress/ingress_build_bench
#include <benchmark/benchmark.h>

#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "kop/ingress/gateway_api.h"
#include "kop/ingress/model.h"
#include "kop/ingress/render.h"
#include "kop/ingress/status_only_replacements.h"
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

// N apps: a Service and an EndpointSlice each, and an Ingress each unless `ingresses` is false.
kop::ingress::Snapshot make_snapshot(int n, int generation = 0, bool ingresses = true) {
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
    if (!ingresses) continue;
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

// The controller's path for one change among N apps, stage by stage with a BuildCache and a
// RenderCache: build_model, render, the controller's comparison with the last Config, compile
// against the previous table. `change(flip)` alternates one object of `snap` between two
// versions. Counters: CPU milliseconds per stage (this thread's CPU clock: steadier than wall
// time on a shared machine).
// With `patch`, a build that replaced clusters only patches the last Config as the controller
// does (render_replaced_clusters); without, every build renders (the reference, and the path
// before the patch).
template <typename Change>
void change_stages(benchmark::State& state, kop::ingress::Snapshot& snap, Change change,
                   bool patch = true) {
  kop::ingress::RenderOptions ro;
  ro.admin.enabled = false;
  kop::ingress::BuildCache cache;
  kop::ingress::RenderCache rendered;
  auto last = std::make_shared<const kop::proxy::Config>(
      kop::ingress::render(cache.build(snap, {}), ro, {}, {}, &rendered));
  auto prev = *kop::proxy::RouteTable::compile(last);
  auto now = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  };
  double model_s = 0, render_s = 0, compare_s = 0, compile_s = 0, patches = 0;
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    change(flip);
    double t0 = now();
    const auto& model = cache.build(snap, {});
    double t1 = now();
    // As the controller does: a build that replaced clusters only patches the last Config.
    std::optional<kop::ingress::PatchedConfig> patched;
    if (patch && cache.clusters_only())
      patched =
          kop::ingress::render_replaced_clusters(*last, cache.replaced_clusters(), ro, rendered);
    auto config = std::make_shared<const kop::proxy::Config>(
        patched ? std::move(patched->config) : kop::ingress::render(model, ro, {}, {}, &rendered));
    double t2 = now();
    patches += patched ? 1 : 0;
    bool same = patched ? patched->same : *config == *last;
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
  state.counters["patched"] = patches / static_cast<double>(state.iterations());
}

// One Ingress changed at N: its host alternates.
void BM_IngressChangeStages(benchmark::State& state) {
  auto snap = make_snapshot(static_cast<int>(state.range(0)), 0);
  auto original = snap.ingresses[0];
  auto other = parse(
      R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"app0","namespace":"default"},"spec":{"rules":[{"host":"moved.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"app0","port":{"number":80}}}}]}}]}})");
  change_stages(state, snap, [&](bool flip) { snap.ingresses[0] = flip ? other : original; });
}
BENCHMARK(BM_IngressChangeStages)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

// After a round of status writes (every Ingress replaced by an object that differs in its status
// only, as --publish-address makes them), one Ingress changed at N: the first change after the
// round. Args: apps, whether the writes are recorded as the controller's event filter records
// them (Snapshot::status_only, 1) or not (each written Ingress compared with its entry, 0: the
// path before the record).
void BM_StatusRoundThenIngressChange(benchmark::State& state) {
  auto snap = make_snapshot(static_cast<int>(state.range(0)), 0);
  const bool recorded = state.range(1) != 0;
  auto original = snap.ingresses[0];
  auto other = parse(
      R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"app0","namespace":"default"},"spec":{"rules":[{"host":"moved.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"app0","port":{"number":80}}}}]}}]}})");
  kop::ingress::StatusOnlyReplacements writes;
  int round = 0;
  change_stages(state, snap, [&](bool flip) {
    writes = {};
    ++round;
    for (auto& ing : snap.ingresses) {
      Object w(*ing);
      w.set_json("/status", R"({"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}})").IgnoreError();
      w.set_resource_version(std::to_string(round));
      auto written = kop::api::share(std::move(w));
      writes.record(ing, written, recorded);
      ing = std::move(written);
    }
    auto changed = flip ? other : original;
    writes.record(snap.ingresses[0], changed, false);
    snap.ingresses[0] = changed;
    snap.status_only = &writes;
  });
}
BENCHMARK(BM_StatusRoundThenIngressChange)
    ->Args({10000, 0})
    ->Args({10000, 1})
    ->Unit(benchmark::kMillisecond);

// One EndpointSlice changed at N: its endpoints alternate.
void BM_EndpointChangeStages(benchmark::State& state) {
  auto snap = make_snapshot(static_cast<int>(state.range(0)), 0);
  auto original = snap.endpoint_slices[0];
  auto other = make_snapshot(1, 1).endpoint_slices[0];
  change_stages(
      state, snap, [&](bool flip) { snap.endpoint_slices[0] = flip ? other : original; },
      state.range(1) != 0);
}
// Args: apps, whether the Config is patched (1) or rendered whole (0).
BENCHMARK(BM_EndpointChangeStages)
    ->Args({10000, 0})
    ->Args({10000, 1})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Unit(benchmark::kMillisecond);

// HTTPRoute app<i> of the Gateway default/scale: hostname `host`, PathPrefix /api and / to
// Service app<i> port 80 (bench/ingress/scale/gen --gateway writes the same).
kop::api::ObjectPtr http_route(int i, const std::string& host) {
  std::string name = "app" + std::to_string(i);
  std::string rule = join(R"({"matches":[{"path":{"type":"PathPrefix","value":"PATH"}}],)",
                          R"("backendRefs":[{"name":")", name, R"(","port":80}]})");
  std::string api = rule, root = rule;
  api.replace(api.find("PATH"), 4, "/api");
  root.replace(root.find("PATH"), 4, "/");
  return parse(join(R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute",)",
                    R"("metadata":{"name":")", name, R"(","namespace":"default",)",
                    R"("creationTimestamp":"2026-01-01T00:00:00Z"},)",
                    R"("spec":{"parentRefs":[{"name":"scale"}],"hostnames":[")", host,
                    R"("],"rules":[)", api, ",", root, "]}}"));
}

// One HTTPRoute changed among N on one Gateway (its hostname alternates), with M Ingresses of
// other apps beside them (args N, M), the controller's path stage by stage: the model (the
// BuildCache; no Ingress changed) and translate (with a TranslateCache, as the controller does),
// render with the front door, the comparison with the last Config, compile against the previous
// table.
// Counters: CPU milliseconds per stage (thread CPU clock).
void BM_HTTPRouteChangeStages(benchmark::State& state) {
  namespace gw = kop::ingress::gateway;
  int n = static_cast<int>(state.range(0));
  int ingresses = static_cast<int>(state.range(1));
  kop::ingress::RenderOptions ro;
  ro.admin.enabled = false;
  ro.https_address.reset();
  auto base = make_snapshot(n, 0, false);
  if (ingresses > 0) {
    // Other apps' Ingresses, Services and EndpointSlices, in their own namespace.
    auto more = make_snapshot(ingresses, 0, true);
    for (auto [from, to] : {std::pair{&more.services, &base.services},
                            std::pair{&more.endpoint_slices, &base.endpoint_slices},
                            std::pair{&more.ingresses, &base.ingresses}}) {
      for (const auto& o : *from) {
        kop::api::Object copy = *o;
        copy.set_namespace("ingress-apps");
        to->push_back(kop::api::share(std::move(copy)));
      }
    }
  }
  gw::Snapshot snap;
  snap.base = &base;
  snap.gateway_classes.push_back(parse(
      R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"GatewayClass","metadata":{"name":"kop"},"spec":{"controllerName":"kop.dev/gateway-controller"}})"));
  snap.gateways.push_back(parse(
      R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"scale","namespace":"default"},"spec":{"gatewayClassName":"kop","listeners":[{"name":"http","port":80,"protocol":"HTTP"}]}})"));
  for (int i = 0; i < n; ++i)
    snap.http_routes.push_back(http_route(i, "app" + std::to_string(i) + ".example.com"));
  auto original = snap.http_routes[0];
  auto other = http_route(0, "moved.example.com");
  gw::Options go;
  go.addresses["default/scale"] = {"127.0.1.1"};
  kop::ingress::BuildCache cache;
  kop::ingress::RenderCache rendered;
  // What the controller does per build: render the model with one front door per Gateway port
  // and the translator's clusters.
  auto render_all = [&](const gw::Result& result, const kop::ingress::Model& built) {
    std::vector<kop::ingress::BoundFrontDoor> doors;
    doors.reserve(result.front_doors.size());
    for (const gw::FrontDoor& d : result.front_doors)
      doors.push_back({&d, kop::proxy::SocketAddress{"127.0.1.1", 10080}});
    return kop::ingress::render(built, ro, doors, result.clusters, &rendered);
  };
  gw::TranslateCache translated;
  auto first = gw::translate(snap, go, &translated);
  if (first.front_doors.size() != 1 || first.front_doors[0].virtual_hosts.size() != size_t(n)) {
    state.SkipWithError("the Gateway does not serve every HTTPRoute");
    return;
  }
  auto last = std::make_shared<const kop::proxy::Config>(render_all(first, cache.build(base, {})));
  auto prev = *kop::proxy::RouteTable::compile(last);
  auto now = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  };
  double model_s = 0, translate_s = 0, render_s = 0, compare_s = 0, compile_s = 0;
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    snap.http_routes[0] = flip ? other : original;
    double t0 = now();
    const auto& built = cache.build(base, {});
    double tm = now();
    auto result = gw::translate(snap, go, &translated);
    double t1 = now();
    auto config = std::make_shared<const kop::proxy::Config>(render_all(result, built));
    double t2 = now();
    bool same = *config == *last;
    benchmark::DoNotOptimize(same);
    double t3 = now();
    prev = *kop::proxy::RouteTable::compile(config, prev.get());
    double t4 = now();
    last = config;
    model_s += tm - t0;
    translate_s += t1 - tm;
    render_s += t2 - t1;
    compare_s += t3 - t2;
    compile_s += t4 - t3;
  }
  auto per = [&](double s) {
    return benchmark::Counter(s * 1e3 / static_cast<double>(state.iterations()));
  };
  state.counters["model_ms"] = per(model_s);
  state.counters["translate_ms"] = per(translate_s);
  state.counters["render_ms"] = per(render_s);
  state.counters["compare_ms"] = per(compare_s);
  state.counters["compile_ms"] = per(compile_s);
}
BENCHMARK(BM_HTTPRouteChangeStages)
    ->Args({1000, 0})
    ->Args({10000, 0})
    ->Args({1000, 10000})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
