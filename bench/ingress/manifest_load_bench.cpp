// kop-ingress --manifests: what loading a large manifest directory costs (issue 18), on the
// files bench/ingress/scale/gen writes:
//   bench/ingress/scale/gen --count 10000 --out /tmp/m10k
//   KOP_SCALE_MANIFESTS=/tmp/m10k build/bench/ingress/manifest_load_bench
// BM_Parse: reading and parsing every file (api::for_each_yaml_document), nothing applied.
// BM_FirstSync: ManifestLoader::sync() into a fresh store (parse + server-side apply of every
// object). BM_IdleSync: sync() again with nothing changed (stat() of each file only).
// BM_ParsePieces: BM_Parse one document at a time. BM_OneDocumentChanged: the sync after one
// document of a large file changed.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "kop/api/yaml.h"
#include "kop/local/manifest_loader.h"
#include "manifest_split.h"

namespace {

namespace fs = std::filesystem;

const char* manifests_dir() {
  const char* d = std::getenv("KOP_SCALE_MANIFESTS");
  return d != nullptr && fs::is_directory(d) ? d : nullptr;
}

std::string read_whole(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

void BM_Parse(benchmark::State& state) {
  const char* dir = manifests_dir();
  if (dir == nullptr) return state.SkipWithError("set KOP_SCALE_MANIFESTS to a gen directory");
  int64_t bytes = 0, documents = 0;
  for (auto _ : state) {
    for (auto& f : fs::directory_iterator(dir)) {
      std::string text = read_whole(f.path());
      auto read = kop::api::for_each_yaml_document(
          text, f.path().string(), [&](rapidjson::Document&&, size_t) { ++documents; });
      if (!read.ok()) return state.SkipWithError(std::string(read.message()).c_str());
      bytes += static_cast<int64_t>(text.size());
    }
  }
  state.SetBytesProcessed(bytes);
  state.counters["documents"] =
      benchmark::Counter(static_cast<double>(documents), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_Parse)->Unit(benchmark::kMillisecond)->Iterations(3);

// As BM_Parse, each document parsed alone after split_documents() (what the loader does so
// that a changed file parses only its changed documents).
void BM_ParsePieces(benchmark::State& state) {
  const char* dir = manifests_dir();
  if (dir == nullptr) return state.SkipWithError("set KOP_SCALE_MANIFESTS to a gen directory");
  int64_t documents = 0;
  for (auto _ : state) {
    for (auto& f : fs::directory_iterator(dir)) {
      std::string text = read_whole(f.path());
      auto pieces = kop::local::split_documents(text);
      if (!pieces) return state.SkipWithError("not split");
      for (const auto& p : *pieces) {
        auto read = kop::api::for_each_yaml_document(
            p.text, "", [&](rapidjson::Document&&, size_t) { ++documents; });
        if (!read.ok()) return state.SkipWithError(std::string(read.message()).c_str());
      }
    }
  }
  state.counters["documents"] =
      benchmark::Counter(static_cast<double>(documents), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ParsePieces)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_FirstSync(benchmark::State& state) {
  const char* dir = manifests_dir();
  if (dir == nullptr) return state.SkipWithError("set KOP_SCALE_MANIFESTS to a gen directory");
  for (auto _ : state) {
    state.PauseTiming();
    auto store = std::make_shared<kop::local::Store>();
    kop::local::ManifestLoader loader(store, {dir});
    state.ResumeTiming();
    auto r = loader.sync();
    if (!r.problems.empty()) return state.SkipWithError(r.problems[0].to_string().c_str());
    state.counters["applied"] = r.applied;
  }
}
BENCHMARK(BM_FirstSync)->Unit(benchmark::kMillisecond)->Iterations(2);

void BM_IdleSync(benchmark::State& state) {
  const char* dir = manifests_dir();
  if (dir == nullptr) return state.SkipWithError("set KOP_SCALE_MANIFESTS to a gen directory");
  auto store = std::make_shared<kop::local::Store>();
  kop::local::ManifestLoader loader(store, {dir});
  loader.sync();
  loader.sync();  // files younger than a second are hashed once more
  for (auto _ : state) {
    auto r = loader.sync();
    if (r.files_read != 0) return state.SkipWithError("an unchanged file was read again");
  }
}
BENCHMARK(BM_IdleSync)->Unit(benchmark::kMicrosecond);

// One document of the directory's first file changed (its last one: an Ingress's host, each
// iteration another), the file rewritten whole: the sync that follows reads, hashes and cuts the
// file, and parses and applies that document only.
void BM_OneDocumentChanged(benchmark::State& state) {
  const char* dir = manifests_dir();
  if (dir == nullptr) return state.SkipWithError("set KOP_SCALE_MANIFESTS to a gen directory");
  fs::path copy = fs::temp_directory_path() / ("kop-manifest-bench-" + std::to_string(::getpid()));
  fs::remove_all(copy);
  fs::create_directories(copy);
  fs::path file;
  for (auto& f : fs::directory_iterator(dir)) {
    fs::copy_file(f.path(), copy / f.path().filename());
    if (file.empty() || f.path().filename() < file.filename()) file = copy / f.path().filename();
  }
  const std::string text = read_whole(file);
  auto store = std::make_shared<kop::local::Store>();
  kop::local::ManifestLoader loader(store, {copy.string()});
  loader.sync();
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string changed = text +
                          "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\n"
                          "metadata: {name: probe}\nspec:\n  rules:\n  - host: probe-" +
                          std::to_string(++round) +
                          ".example.com\n    http:\n      paths:\n      - {path: /, pathType: "
                          "Prefix, backend: {service: {name: app-0, port: {number: 80}}}}\n";
    std::ofstream(copy / ".tmp", std::ios::binary) << changed;
    fs::rename(copy / ".tmp", file);
    state.ResumeTiming();
    auto r = loader.sync({file.filename().string()});
    if (r.applied != 1) state.SkipWithError("want one object applied");
    state.counters["documents_parsed"] = r.documents_parsed;
  }
  fs::remove_all(copy);
}
BENCHMARK(BM_OneDocumentChanged)->Unit(benchmark::kMillisecond)->Iterations(10);

}  // namespace

BENCHMARK_MAIN();
