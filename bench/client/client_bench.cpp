// Benchmarks of the REST transport: watch events decoded per second (the decoder alone, and
// end to end over HTTP from a local server streaming N events), and a list of 10k objects.
//   meson setup build-bench -Dbenchmarks=true && ninja -C build-bench bench/client/client_bench
//   build-bench/bench/client/client_bench
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <string>
#include <thread>

#include "../../libkop/client/internal/watch_decoder.h"
#include "kop/client/rest_client.h"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A realistic object: an EndpointSlice-sized Pod with labels, annotations and a status.
std::string pod_json(int i) {
  std::string name = "web-" + std::to_string(i);
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
         R"(","namespace":"default","uid":"5f1c2a9e-8b1f-4c8e-9a51-)" + std::to_string(100000 + i) +
         R"(","resourceVersion":")" + std::to_string(1000 + i) +
         R"(","creationTimestamp":"2026-11-26T12:00:00Z","labels":{"app":"web","tier":"frontend",)"
         R"("pod-template-hash":"6d4cf56db6"},"annotations":{"kubernetes.io/psp":"restricted"},)"
         R"("ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-6d4cf56db6",)"
         R"("uid":"0b8c1f7e-1d2e-4f3a-8b9c-0123456789ab","controller":true,"blockOwnerDeletion":true}]},)"
         R"("spec":{"containers":[{"name":"web","image":"nginx:1.25","ports":[{"containerPort":80,)"
         R"("protocol":"TCP"}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}],)"
         R"("nodeName":"node-1","serviceAccountName":"default"},"status":{"phase":"Running",)"
         R"("podIP":"10.244.1.)" +
         std::to_string(i % 250) +
         R"(","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-11-26T12:00:05Z"}]}})";
}

std::string event_line(int i) {
  return R"({"type":"MODIFIED","object":)" + pod_json(i) + "}\n";
}

void BM_DecodeWatchEvent(benchmark::State& state) {
  std::string line = event_line(1);
  for (auto _ : state) {
    auto ev = kop::client::internal::decode_watch_event(line.data(), line.size() - 1);
    benchmark::DoNotOptimize(ev);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line.size()));
}
BENCHMARK(BM_DecodeWatchEvent);

// Serves each connection one response: a chunked body (watch) or a plain one (list).
class StreamServer {
 public:
  StreamServer(std::string head, std::vector<std::string> chunks)
      : head_(std::move(head)), chunks_(std::move(chunks)) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    thread_ = std::thread([this] {
      for (;;) {
        tcp::socket s(io_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec || stop_) return;
        asio::streambuf req;
        asio::read_until(s, req, "\r\n\r\n", ec);
        asio::write(s, asio::buffer(head_), ec);
        for (const auto& c : chunks_) asio::write(s, asio::buffer(c), ec);
        s.shutdown(tcp::socket::shutdown_send, ec);
        char sink[256];
        while (!ec) s.read_some(asio::buffer(sink), ec);
      }
    });
  }
  ~StreamServer() {
    stop_ = true;
    boost::system::error_code ec;
    tcp::socket s(io_);
    s.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::string head_;
  std::vector<std::string> chunks_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

std::string chunk(const std::string& data) {
  char size[32];
  snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

void BM_WatchOverRest(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  // Events in chunks of 64, as a busy API server flushes them.
  std::vector<std::string> chunks;
  std::string cur;
  int64_t bytes = 0;
  for (int i = 0; i < n; ++i) {
    cur += event_line(i);
    if ((i + 1) % 64 == 0 || i + 1 == n) {
      bytes += static_cast<int64_t>(cur.size());
      chunks.push_back(chunk(cur));
      cur.clear();
    }
  }
  chunks.push_back("0\r\n\r\n");
  StreamServer server(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
      chunks);
  kop::client::Config cfg;
  cfg.server = server.url();
  cfg.qps = 0;
  auto client = *kop::client::RestClient::create(cfg);
  kop::client::ResourceRef pods{"", "v1", "pods", "", "default", ""};
  for (auto _ : state) {
    auto ws = client->watch(pods);
    int got = 0;
    for (;;) {
      auto ev = (*ws)->next();
      if (!ev.ok() || !ev->has_value()) break;
      ++got;
    }
    if (got != n) state.SkipWithError("lost events");
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_WatchOverRest)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_List10k(benchmark::State& state) {
  const int n = 10000;
  std::string body =
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"99"},"items":[)";
  for (int i = 0; i < n; ++i) {
    if (i) body += ",";
    body += pod_json(i);
  }
  body += "]}";
  StreamServer server("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n",
                      {body});
  kop::client::Config cfg;
  cfg.server = server.url();
  cfg.qps = 0;
  auto client = *kop::client::RestClient::create(cfg);
  kop::client::ResourceRef pods{"", "v1", "pods", "", "default", ""};
  for (auto _ : state) {
    auto list = client->list(pods);
    if (!list.ok() || list->items.size() != static_cast<size_t>(n)) state.SkipWithError("list");
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  state.counters["peak_rss_MiB"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
  state.counters["body_MiB"] = static_cast<double>(body.size()) / (1024.0 * 1024.0);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_List10k)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
