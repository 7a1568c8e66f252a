// Initial sync of an informer: N small ConfigMaps listed in pages of 500 (each page decoded from
// JSON on demand, as a transport does), stored, and reported to one handler. Reports the time,
// the heap bytes held per cached object afterwards (glibc mallinfo2: live allocations, so the
// number is the cache's own footprint: objects + keys + indexes), and the heap peak during a
// relist of the same N objects relative to the steady state (unchanged objects are shared, so
// it must stay near 1; a relist where every object changed needs old + new, about 2).
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/resource.h>

#include <atomic>
#include <string>

#include "kop/cache/shared_informer.h"
#include "kop/client/client.h"

namespace kop::cache {
namespace {

size_t heap_in_use() {
  return mallinfo2().uordblks;
}

// CPU time of the whole process (all threads), in ms: stable on a loaded machine, unlike wall
// time.
double process_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

// A read-only Client serving `n` ConfigMaps; `generation` is folded into resourceVersions so a
// relist can present unchanged (same generation) or all-changed objects.
class SyntheticClient final : public client::Client {
 public:
  explicit SyntheticClient(int n) : n_(n) {}
  std::atomic<int> generation{1};
  std::atomic<size_t> peak{0};

  absl::StatusOr<client::ObjectList> list(const client::ResourceRef&,
                                          const client::ListOptions& o) override {
    sample();
    int start = o.continue_token.empty() ? 0 : std::stoi(o.continue_token);
    int end = o.limit > 0 ? std::min(n_, start + static_cast<int>(o.limit)) : n_;
    client::ObjectList page;
    page.resource_version = std::to_string(1000000 + generation.load());
    page.items.reserve(end - start);
    for (int i = start; i < end; ++i) {
      auto obj = api::Object::parse(json(i));
      page.items.push_back(api::share(std::move(*obj)));
    }
    if (end < n_) page.continue_token = std::to_string(end);
    return page;
  }

  // Ends the current watch with a 410 Expired ERROR event: the reflector relists.
  void expire_watch() {
    absl::MutexLock lock(&mu_);
    expire_ = true;
  }

  class IdleStream final : public client::WatchStream {
   public:
    explicit IdleStream(SyntheticClient* c) : c_(c) {}
    absl::StatusOr<std::optional<client::WatchEvent>> next() override {
      absl::MutexLock lock(&c_->mu_);
      if (done_) return std::optional<client::WatchEvent>();
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(c_->mu_) { return cancelled_ || c_->expire_; };
      c_->mu_.Await(absl::Condition(&ready));
      done_ = true;
      if (cancelled_) return std::optional<client::WatchEvent>();
      c_->expire_ = false;
      client::WatchEvent e;
      e.type = client::WatchEvent::Type::kError;
      e.error = absl::OutOfRangeError("too old resource version");
      e.error.SetPayload("kop.dev/k8s.io.apimachinery.meta.v1.Status",
                         absl::Cord(R"({"kind":"Status","apiVersion":"v1","metadata":{},)"
                                    R"("status":"Failure","reason":"Expired","code":410})"));
      return std::optional<client::WatchEvent>(std::move(e));
    }
    void cancel() override {
      absl::MutexLock lock(&c_->mu_);
      cancelled_ = true;
    }

   private:
    SyntheticClient* c_;
    bool cancelled_ = false;
    bool done_ = false;
  };
  absl::StatusOr<client::WatchStreamPtr> watch(const client::ResourceRef&,
                                               const client::WatchOptions&) override {
    sample();
    return client::WatchStreamPtr(std::make_unique<IdleStream>(this));
  }

  void sample() {
    size_t now = heap_in_use();
    size_t p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
  }

  absl::StatusOr<api::ObjectPtr> get(const client::ResourceRef&,
                                     const client::GetOptions&) override {
    return no();
  }
  absl::StatusOr<api::ObjectPtr> create(const client::ResourceRef&, const api::Object&,
                                        const client::CreateOptions&) override {
    return no();
  }
  absl::StatusOr<api::ObjectPtr> update(const client::ResourceRef&, const api::Object&,
                                        const client::UpdateOptions&) override {
    return no();
  }
  absl::StatusOr<api::ObjectPtr> patch(const client::ResourceRef&, client::PatchType,
                                       std::string_view, const client::PatchOptions&) override {
    return no();
  }
  absl::StatusOr<api::ObjectPtr> remove(const client::ResourceRef&,
                                        const client::DeleteOptions&) override {
    return no();
  }
  absl::StatusOr<api::ObjectPtr> get_status(const client::ResourceRef&,
                                            const client::GetOptions&) override {
    return no();
  }
  absl::StatusOr<api::ObjectPtr> update_status(const client::ResourceRef&, const api::Object&,
                                               const client::UpdateOptions&) override {
    return no();
  }
  absl::StatusOr<api::ObjectPtr> patch_status(const client::ResourceRef&, client::PatchType,
                                              std::string_view,
                                              const client::PatchOptions&) override {
    return no();
  }

 private:
  static absl::Status no() { return absl::UnimplementedError("read-only"); }
  // ~560 bytes of JSON, about a third of it managedFields (stripped by default).
  std::string json(int i) const {
    const std::string ns = "ns-" + std::to_string(i % 100);
    const std::string rv = std::to_string(i * 10 + generation.load());
    return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-)" + std::to_string(i) +
           R"(","namespace":")" + ns + R"(","uid":"6f1c7b8e-4a2d-4e0b-9c1a-)" +
           std::to_string(100000000000 + i) + R"(","resourceVersion":")" + rv +
           R"(","creationTimestamp":"2026-11-26T10:00:00Z","labels":{"app":"web-)" +
           std::to_string(i % 17) +
           R"(","tier":"frontend"},"managedFields":[{"manager":"kubectl","operation":"Apply",)"
           R"("apiVersion":"v1","time":"2026-11-26T10:00:00Z","fieldsType":"FieldsV1",)"
           R"("fieldsV1":{"f:data":{"f:config":{}},"f:metadata":{"f:labels":{"f:app":{}}}}}]},)"
           R"("data":{"config":"listen 8080; server_name example.com;"}})";
  }
  int n_;
  absl::Mutex mu_;
  bool expire_ = false;
};

InformerOptions informer_options(SyntheticClient* client, metrics::Registry* registry) {
  InformerOptions o;
  o.reflector.ref = client::ResourceRef::of(api::GroupVersionKind{"", "v1", "ConfigMap"});
  o.reflector.registry = registry;
  o.reflector.backoff.initial = absl::Milliseconds(1);  // relist at once after the forced 410
  // Sample the heap while the relist fills its replacement (the transform sees every object).
  std::shared_ptr<std::atomic<int>> seen = std::make_shared<std::atomic<int>>(0);
  o.transform = [client, seen](api::ObjectPtr obj) {
    if (seen->fetch_add(1) % 256 == 0) client->sample();
    return obj;
  };
  return o;
}

// Heap peak during a relist, relative to the cache's steady footprint.
double relist_peak_ratio(SharedInformer& informer, SyntheticClient& client, int generation,
                         size_t empty_heap) {
  const size_t steady = heap_in_use();
  const uint64_t lists = informer.status().lists;
  client.generation = generation;
  client.peak = 0;
  client.expire_watch();
  while (informer.status().lists == lists) absl::SleepFor(absl::Microseconds(200));
  client.sample();
  return static_cast<double>(client.peak.load() - empty_heap) /
         static_cast<double>(steady - empty_heap);
}

void BM_InitialSync(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  double bytes_per_object = 0, peak_unchanged = 0, peak_changed = 0, cpu_ms = 0;
  for (auto _ : state) {
    state.PauseTiming();
    malloc_trim(0);
    metrics::Registry registry;
    SyntheticClient client(n);
    const size_t before = heap_in_use();
    auto informer = std::make_unique<SharedInformer>(client, informer_options(&client, &registry));
    std::atomic<int> adds{0};
    auto handler = std::make_shared<EventHandlerFuncs>();
    handler->add = [&](const api::ObjectPtr&, bool) { adds.fetch_add(1); };
    auto reg = informer->add_event_handler(handler);
    const double cpu_before = process_cpu_ms();
    state.ResumeTiming();

    informer->start();
    while (!reg->has_synced()) absl::SleepFor(absl::Microseconds(200));

    state.PauseTiming();
    cpu_ms += process_cpu_ms() - cpu_before;
    if (adds.load() != n) state.SkipWithError("handler missed adds");
    bytes_per_object = static_cast<double>(heap_in_use() - before) / n;
    peak_unchanged = relist_peak_ratio(*informer, client, 1, before);
    peak_changed = relist_peak_ratio(*informer, client, 2, before);
    informer->stop();
    informer.reset();
    state.ResumeTiming();
  }
  state.counters["objects"] = n;
  state.counters["sync_cpu_ms"] = cpu_ms / static_cast<double>(state.iterations());
  state.counters["bytes_per_object"] = bytes_per_object;
  state.counters["relist_peak_unchanged"] = peak_unchanged;
  state.counters["relist_peak_all_changed"] = peak_changed;
  state.counters["objects_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}
// The transport's share of the above: decoding the same pages (parse per object) and dropping
// them, with no cache. BM_InitialSync minus this is the cache's own cost.
void BM_DecodeOnly(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  SyntheticClient client(n);
  double cpu_ms = 0;
  for (auto _ : state) {
    const double cpu_before = process_cpu_ms();
    client::ListOptions o;
    o.limit = 500;
    size_t items = 0;
    while (true) {
      auto page = client.list({}, o);
      items += page->items.size();
      if (page->continue_token.empty()) break;
      o.continue_token = page->continue_token;
    }
    benchmark::DoNotOptimize(items);
    cpu_ms += process_cpu_ms() - cpu_before;
  }
  state.counters["decode_cpu_ms"] = cpu_ms / static_cast<double>(state.iterations());
  state.counters["objects_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DecodeOnly)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(3);

BENCHMARK(BM_InitialSync)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseRealTime();

}  // namespace
}  // namespace kop::cache
BENCHMARK_MAIN();
