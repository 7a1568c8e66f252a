// kop::local serving an informer's initial list in pages of 500 while other writes go on: N
// ConfigMaps listed page by page, a write to another kind (a Lease renewal, a status write)
// between pages, which moves the global resourceVersion past the list's. Every page after the
// first then reads the table as of the first page's version; this measures what that costs per
// page (it copied the whole table per page before 2026-12-07: quadratic in N).
#include <benchmark/benchmark.h>

#include <string>

#include "kop/local/store.h"

namespace kop::local {
namespace {

JsonDoc parse(const std::string& text) {
  auto d = json::parse(text);
  return d ? std::move(*d) : JsonDoc();
}

JsonDoc configmap(const std::string& name) {
  return parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
               R"(","namespace":"default"},"data":{"k":"v"}})");
}

void BM_PagedListWhileOthersWrite(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Store store;
  auto cm = store.registry().by_resource("", "v1", "configmaps");
  auto secrets = store.registry().by_resource("", "v1", "secrets");
  for (int i = 0; i < n; ++i) {
    if (!store.create(*cm, "default", configmap("cm-" + std::to_string(i))).ok()) {
      state.SkipWithError("create failed");
      return;
    }
  }
  int writes = 0;
  for (auto _ : state) {
    ListOptions o;
    o.limit = 500;
    int pages = 0;
    do {
      auto page = store.list(*cm, "", o);
      if (!page.ok()) {
        state.SkipWithError("list failed");
        return;
      }
      ++pages;
      o.continue_token = page->continue_token;
      auto other = parse(R"({"metadata":{"name":"s-)" + std::to_string(writes++) + R"("}})");
      benchmark::DoNotOptimize(store.create(*secrets, "default", std::move(other)));
    } while (!o.continue_token.empty());
    state.counters["pages"] = pages;
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_PagedListWhileOthersWrite)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kop::local

BENCHMARK_MAIN();
