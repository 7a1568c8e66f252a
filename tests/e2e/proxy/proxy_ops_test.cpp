// kop-proxy operations: hot reload under load (no failed request), refused configs, listeners
// added and removed, reload on file change, admin endpoints and metrics, access log, graceful
// shutdown.
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace kop::proxy::e2e {
namespace {

std::string config(const std::vector<std::string>& backends, int generation,
                   const std::string& extra_listeners = "", const std::string& server = "") {
  std::string eps;
  for (size_t i = 0; i < backends.size(); ++i)
    eps += (i ? "," : "") + std::string("{\"address\":\"") + backends[i] + "\"}";
  return "{\"version\":\"kop.proxy/v1\",\"generation\":\"g" + std::to_string(generation) +
         "\",\"listeners\":[{\"name\":\"http\",\"address\":\"127.0.0.1:0\"}" + extra_listeners +
         "],\"virtual_hosts\":[{\"name\":\"vh\",\"domains\":[\"*\"],\"routes\":["
         "{\"name\":\"gen\",\"match\":{\"exact\":\"/gen\"},\"direct_response\":{\"status\":200,"
         "\"body\":\"gen " +
         std::to_string(generation) +
         "\"}},{\"name\":\"all\",\"match\":{\"prefix\":\"/\"},\"forward\":{\"cluster\":\"be\"}}]}"
         "],\"clusters\":[{\"name\":\"be\",\"endpoints\":[" +
         eps + "]}],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":2" +
         (server.empty() ? "" : "," + server) + "}}";
}

// A backend's handler answering 200 with `body` to every request.
Backend::Handler answering(std::string body) {
  return [body = std::move(body)](const BackendRequest&) {
    BackendResponse r;
    r.body = body;
    return r;
  };
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string get(const std::string& path, bool close = false) {
  return "GET " + path + " HTTP/1.1\r\nHost: a\r\n" + (close ? "Connection: close\r\n" : "") +
         "\r\n";
}

class ProxyOps : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(ProxyOps, ReloadWhileRequestsRunLosesNothing) {
  Backend b1, b2;
  ProxyProcess p(dir_, config({b1.address()}, 0));
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("http");
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  clients.reserve(4);
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      while (!stop) {
        int fd = connect_to(port);
        if (fd < 0) {
          ++failed;
          continue;
        }
        std::string pending;
        // Keep-alive connections that live across many reloads.
        for (int i = 0; i < 50 && !stop; ++i) {
          if (!send_all(fd, get("/x"))) {
            ++failed;
            break;
          }
          Response r = read_response(fd, pending, 5000);
          if (r.status == 200)
            ++ok;
          else {
            ++failed;
            break;
          }
        }
        ::close(fd);
      }
    });
  }
  // 1000 config changes: alternate endpoints and the direct-response generation.
  int reloads = 0;
  for (int g = 1; g <= 1000; ++g) {
    std::vector<std::string> eps = g % 2 ? std::vector<std::string>{b2.address()}
                                         : std::vector<std::string>{b1.address(), b2.address()};
    if (p.reload(config(eps, g)))
      ++reloads;
    else
      break;
  }
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(reloads, 1000) << p.output();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 200);
  auto gen = http(port, get("/gen"));
  EXPECT_EQ(gen.body, "gen 1000");
}

TEST_F(ProxyOps, InvalidConfigIsRefusedAndTheOldOneServes) {
  Backend be;
  ProxyProcess p(dir_, config({be.address()}, 1));
  ASSERT_TRUE(p.started()) << p.output();
  std::string bad = config({be.address()}, 2);
  bad.replace(bad.find("\"cluster\":\"be\""), 14, "\"cluster\":\"nope\"");
  EXPECT_FALSE(p.reload(bad));
  EXPECT_TRUE(p.wait_for("reload failed, keeping version 1", 1000)) << p.output();
  EXPECT_EQ(http(p.port("http"), get("/gen")).body, "gen 1");
  EXPECT_FALSE(p.reload("{not json"));
  EXPECT_EQ(http(p.port("http"), get("/gen")).body, "gen 1");
  EXPECT_TRUE(p.reload(config({be.address()}, 3)));
  EXPECT_EQ(http(p.port("http"), get("/gen")).body, "gen 3");
  auto m = http(p.admin_port(), get("/metrics", true));
  EXPECT_NE(m.body.find("kop_proxy_config_reloads_total{result=\"failure\"} 2"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("kop_proxy_config_reloads_total{result=\"success\"} 1"), std::string::npos);
}

TEST_F(ProxyOps, ReloadsWhenTheFileChangesWithoutSignal) {
  Backend be;
  ProxyProcess p(dir_, config({be.address()}, 1));
  ASSERT_TRUE(p.started()) << p.output();
  EXPECT_TRUE(p.reload(config({be.address()}, 7), /*signal=*/false));
  EXPECT_EQ(http(p.port("http"), get("/gen")).body, "gen 7");
}

TEST_F(ProxyOps, ListenersAddedAndRemovedWithoutRestart) {
  Backend be;
  ProxyProcess p(dir_, config({be.address()}, 1));
  ASSERT_TRUE(p.started()) << p.output();
  int pid = p.pid();
  ASSERT_TRUE(
      p.reload(config({be.address()}, 2, ",{\"name\":\"extra\",\"address\":\"127.0.0.1:0\"}")));
  uint16_t extra = p.port("extra");
  ASSERT_NE(extra, 0);
  EXPECT_EQ(http(extra, get("/gen")).body, "gen 2");
  EXPECT_EQ(http(p.port("http"), get("/gen")).body, "gen 2");
  ASSERT_TRUE(p.reload(config({be.address()}, 3)));
  EXPECT_TRUE(p.wait_for("listener extra closed", 2000));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LT(connect_to(extra, 500), 0);
  EXPECT_EQ(http(p.port("http"), get("/gen")).body, "gen 3");
  EXPECT_EQ(p.pid(), pid);
}

TEST_F(ProxyOps, ASecondProxyOnAPortInUseIsRefused) {
  // SO_REUSEPORT would let the second process share the port and take part of the
  // connections without a word; it must refuse to start instead, and the first keeps serving.
  Backend be;
  uint16_t port = free_port();
  ASSERT_NE(port, 0);
  std::string fixed = config({be.address()}, 1);
  fixed.replace(fixed.find("127.0.0.1:0"), 11, "127.0.0.1:" + std::to_string(port));
  ProxyProcess first(dir_, fixed);
  ASSERT_TRUE(first.started()) << first.output();
  TempDir other;
  ProxyProcess second(other, fixed);
  EXPECT_FALSE(second.started());
  EXPECT_NE(second.output().find("address already in use by another process"), std::string::npos)
      << second.output();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(http(port, get("/gen")).body, "gen 1");
}

TEST_F(ProxyOps, AdminEndpointsAndMetrics) {
  Backend be;
  ProxyProcess p(dir_, config({be.address()}, 4));
  ASSERT_TRUE(p.started()) << p.output();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(http(p.port("http"), get("/x")).status, 200);
  EXPECT_EQ(http(p.port("http"), get("/gen")).status, 200);
  EXPECT_EQ(http(p.port("http"), "GET / HTTP/1.1\r\n\r\n").status, 400);
  uint16_t admin = p.admin_port();
  ASSERT_NE(admin, 0);
  EXPECT_EQ(http(admin, get("/healthz", true)).status, 200);
  EXPECT_EQ(http(admin, get("/ready", true)).status, 200);
  auto dump = http(admin, get("/config_dump", true));
  EXPECT_EQ(dump.status, 200);
  EXPECT_NE(dump.body.find("\"version\":1"), std::string::npos) << dump.body;
  EXPECT_NE(dump.body.find("\"generation\":\"g4\""), std::string::npos);
  EXPECT_NE(dump.body.find("kop.proxy/v1"), std::string::npos);
  auto m = http(admin, get("/metrics", true));
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("kop_proxy_requests_total{vhost=\"vh\",route=\"all\",code=\"200\"} 3"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("kop_proxy_requests_total{vhost=\"vh\",route=\"gen\",code=\"200\"} 1"),
            std::string::npos);
  EXPECT_NE(m.body.find("code=\"400\"} 1"), std::string::npos);
  EXPECT_NE(m.body.find("kop_proxy_request_duration_seconds_count 4"), std::string::npos);
  // A healthy endpoint never ejected, in a cluster without active health checks, is counted
  // per cluster and has no series of its own.
  EXPECT_NE(m.body.find("kop_proxy_upstream_cluster_endpoints{cluster=\"be\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.body.find("kop_proxy_upstream_cluster_endpoints_healthy{cluster=\"be\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(
      m.body.find("kop_proxy_upstream_endpoint_healthy{cluster=\"be\",endpoint=\"" + be.address()),
      std::string::npos);
  EXPECT_NE(m.body.find("kop_proxy_upstream_connections_total"), std::string::npos);
  EXPECT_NE(m.body.find("kop_proxy_downstream_connections_active"), std::string::npos);
  EXPECT_EQ(http(admin, get("/nope", true)).status, 404);
  // A reload keeps the counts: the retired table's routes are folded into the totals.
  ASSERT_TRUE(p.reload(config({be.address()}, 5)));
  EXPECT_EQ(http(p.port("http"), get("/x")).status, 200);
  m = http(admin, get("/metrics", true));
  EXPECT_NE(m.body.find("kop_proxy_requests_total{vhost=\"vh\",route=\"all\",code=\"200\"} 4"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("kop_proxy_requests_total{vhost=\"vh\",route=\"gen\",code=\"200\"} 1"),
            std::string::npos);
}

TEST_F(ProxyOps, ConfigDumpRedactsKeysAndPasswordHashes) {
  // kop-ingress hands its proxy certificates and htpasswd users inline; /config_dump shows
  // the config without them.
  Backend be;
  Cert cert = make_cert(dir_, "a.example.com");
  std::string key = run({"cat", cert.key_file}).out, crt = run({"cat", cert.cert_file}).out;
  ASSERT_NE(key.find("PRIVATE KEY"), std::string::npos);
  auto pem = [](std::string s) {
    for (size_t at = s.find('\n'); at != std::string::npos; at = s.find('\n', at + 2))
      s.replace(at, 1, "\\n");
    return s;
  };
  std::string hash = "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/";
  ProxyProcess p(dir_,
                 R"({"version":"kop.proxy/v1","listeners":[{"name":"https",
    "address":"127.0.0.1:0","tls":{"certificates":[{"cert_pem":")" +
                     pem(crt) + R"(","key_pem":")" + pem(key) + R"("}]}}],
    "virtual_hosts":[{"name":"vh","domains":["*"],"routes":[{"match":{"prefix":"/"},
      "basic_auth":{"realm":"kop","users":[{"name":"u","hash":")" +
                     hash + R"("}]},"forward":{"cluster":"be"}}]}],
    "clusters":[{"name":"be","endpoints":[{"address":")" +
                     be.address() + R"("}]}],"admin":{"address":"127.0.0.1:0"}})");
  ASSERT_TRUE(p.started()) << p.output();
  auto dump = http(p.admin_port(), get("/config_dump", true));
  ASSERT_EQ(dump.status, 200);
  EXPECT_EQ(dump.body.find("PRIVATE KEY"), std::string::npos) << dump.body;
  EXPECT_EQ(dump.body.find(hash), std::string::npos) << dump.body;
  EXPECT_NE(dump.body.find("\"key_pem\": \"<redacted>\""), std::string::npos) << dump.body;
  EXPECT_NE(dump.body.find("\"hash\": \"<redacted>\""), std::string::npos) << dump.body;
  EXPECT_NE(dump.body.find("BEGIN CERTIFICATE"), std::string::npos);  // not a secret
}

TEST_F(ProxyOps, ActiveHealthChecksTakeEndpointsOutAndBack) {
  std::atomic<bool> sick{true};
  Backend bad([&](const BackendRequest& q) {
    BackendResponse r;
    if (q.target == "/healthz" && sick) r.status = 503;
    r.body = "bad";
    return r;
  });
  Backend good(answering("good"));
  std::string cfg = config({bad.address(), good.address()}, 1);
  cfg.replace(cfg.find("]}],\"admin\""), 4,
              "],\"health_check\":{\"path\":\"/healthz\",\"interval_ms\":100,\"timeout_ms\":500,"
              "\"unhealthy_threshold\":2,\"healthy_threshold\":2}}],");
  ProxyProcess p(dir_, cfg);
  ASSERT_TRUE(p.started()) << p.output();
  auto metric = [&] { return http(p.admin_port(), get("/metrics", true)).body; };
  std::string bad_line =
      "kop_proxy_upstream_endpoint_healthy{cluster=\"be\",endpoint=\"" + bad.address() + "\"} ";
  bool out = false;
  for (int i = 0; i < 50 && !out; ++i) {
    out = metric().find(bad_line + "0") != std::string::npos;
    if (!out) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(out) << metric();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(http(p.port("http"), get("/x")).body, "good");
  // The probes reached the bad endpoint with the configured path.
  bool probed = false;
  for (const auto& r : bad.requests())
    probed = probed || (r.target == "/healthz" && r.header("user-agent") == "kop-health-check");
  EXPECT_TRUE(probed);
  sick = false;
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    back = metric().find(bad_line + "1") != std::string::npos;
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(back);
  int bad_hits = 0;
  for (int i = 0; i < 10; ++i) bad_hits += http(p.port("http"), get("/x")).body == "bad";
  EXPECT_GT(bad_hits, 0);
}

TEST_F(ProxyOps, RoundRobinSpreadsAndOutliersAreEjectedThenReturn) {
  std::atomic<bool> failing{false};
  Backend a([&](const BackendRequest&) {
    BackendResponse r;
    r.body = "a";
    if (failing) r.status = 500;
    return r;
  });
  Backend b(answering("b"));
  std::string cfg = config({a.address(), b.address()}, 1);
  cfg.replace(cfg.find("\"workers\":2"), 11, "\"workers\":1");  // one round-robin cursor
  cfg.replace(cfg.find("]}],\"admin\""), 4,
              "],\"outlier_detection\":{\"consecutive_5xx\":2,\"base_ejection_time_ms\":400,"
              "\"max_ejection_percent\":50}}],");
  ProxyProcess p(dir_, cfg);
  ASSERT_TRUE(p.started()) << p.output();
  int na = 0, nb = 0;
  for (int i = 0; i < 40; ++i) {
    std::string body = http(p.port("http"), get("/x")).body;
    na += body == "a";
    nb += body == "b";
  }
  EXPECT_EQ(na, 20);
  EXPECT_EQ(nb, 20);
  failing = true;
  int errors = 0;
  for (int i = 0; i < 20; ++i) errors += http(p.port("http"), get("/x")).status == 500;
  EXPECT_EQ(errors, 2);  // two 5xx in a row eject a; then only b answers
  failing = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  na = 0;
  for (int i = 0; i < 10; ++i) na += http(p.port("http"), get("/x")).body == "a";
  EXPECT_GT(na, 0);  // back after the ejection time
  auto m = http(p.admin_port(), get("/metrics", true)).body;
  EXPECT_NE(m.find("kop_proxy_upstream_endpoint_ejections_total{cluster=\"be\",endpoint=\"" +
                   a.address() + "\"} 1"),
            std::string::npos)
      << m;
}

// Whether this kernel and its seccomp profile let a process set up an io_uring (a container
// with the runtime's default profile does not).
bool io_uring_available() {
  io_uring_params params{};
  long fd = syscall(SYS_io_uring_setup, 4, &params);
  if (fd < 0) return false;
  close(static_cast<int>(fd));
  return true;
}

// The value of an unlabelled metric line "name value", or -1.
double metric(const std::string& body, const std::string& name) {
  size_t at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size() + 2));
}

// Each turn's writes go out in one io_uring call where the kernel allows it, and one by one
// with KOP_PROXY_IO_URING=0; /metrics says which.
TEST_F(ProxyOps, SendBatchingIsReportedAndCanBeTurnedOff) {
  if (!io_uring_available()) GTEST_SKIP() << "io_uring is not available here";
  Backend be;
  for (bool on : {true, false}) {
    if (!on) setenv("KOP_PROXY_IO_URING", "0", 1);
    ProxyProcess p(dir_, config({be.address()}, 1));
    unsetenv("KOP_PROXY_IO_URING");
    ASSERT_TRUE(p.started()) << p.output();
    for (int i = 0; i < 20; ++i) ASSERT_EQ(http(p.port("http"), get("/up")).status, 200);
    auto m = http(p.admin_port(), get("/metrics", true)).body;
    double workers = metric(m, "kop_proxy_send_batching_workers");
    double sends = metric(m, "kop_proxy_batched_sends_total");
    double batches = metric(m, "kop_proxy_send_batches_total");
    if (on) {
      EXPECT_GE(workers, 1) << m;
      // Each request: its head upstream and its response downstream.
      EXPECT_GE(sends, 40) << m;
      EXPECT_GE(batches, 1) << m;
      EXPECT_LE(batches, sends) << m;
    } else {
      EXPECT_EQ(workers, 0) << m;
      EXPECT_EQ(sends, 0) << m;
      EXPECT_EQ(batches, 0) << m;
    }
  }
}

TEST_F(ProxyOps, AccessLogWritesOneJsonLinePerRequest) {
  Backend be;
  std::string log = dir_.file("access.log");
  ProxyProcess p(dir_, config({be.address()}, 1, "",
                              "\"access_log\":\"json\",\"access_log_path\":\"" + log + "\""));
  ASSERT_TRUE(p.started()) << p.output();
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(http(p.port("http"), get("/logged?i=" + std::to_string(i))).status, 200);
  auto h2 = run({"curl", "-sS", "--http2-prior-knowledge",
                 "http://127.0.0.1:" + std::to_string(p.port("http")) + "/over-h2"});
  EXPECT_EQ(h2.exit_code, 0) << h2.err;
  std::string content;
  for (int i = 0; i < 50; ++i) {
    content = run({"cat", log}).out;
    if (std::count(content.begin(), content.end(), '\n') >= 6) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(std::count(content.begin(), content.end(), '\n'), 6) << content;
  EXPECT_NE(content.find("\"protocol\":\"h2\""), std::string::npos) << content;
  // One writer for both protocols: the same fields on every line.
  EXPECT_EQ(count_of(content, "\"protocol\":\"http/1.1\""), 5u) << content;
  EXPECT_EQ(count_of(content, "\"time_ms\":"), 6u) << content;
  EXPECT_EQ(count_of(content, "\"tls\":false"), 6u) << content;
  EXPECT_NE(content.find("\"path\":\"/over-h2\""), std::string::npos) << content;
  EXPECT_NE(content.find("\"path\":\"/logged?i=3\""), std::string::npos) << content;
  EXPECT_NE(content.find("\"status\":200"), std::string::npos);
  EXPECT_NE(content.find("\"upstream\":\"" + be.address() + "\""), std::string::npos);
}

TEST_F(ProxyOps, GracefulShutdownFinishesInFlightRequests) {
  Backend be([](const BackendRequest&) {
    BackendResponse r;
    r.delay_ms = 700;
    r.body = "slow done";
    return r;
  });
  ProxyProcess p(dir_, config({be.address()}, 1, "", "\"drain_timeout_ms\":5000"));
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("http");
  int fd = connect_to(port);
  ASSERT_TRUE(send_all(fd, get("/slow")));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::thread term([&] { EXPECT_EQ(p.terminate(10000), 0); });
  std::string pending;
  Response r = read_response(fd, pending, 5000);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "slow done");
  EXPECT_EQ(r.header("connection"), "close");
  ::close(fd);
  term.join();
  EXPECT_LT(connect_to(port, 500), 0);
}

// A cluster's state on a worker is made at its first request (WorkerSnapshot::cluster()), except
// for a replaced cluster that had one: that is made at the reload, so the endpoints it keeps keep
// their idle upstream connections (no new connection to `a`), and a new endpoint gets its pool at
// its first request.
TEST_F(ProxyOps, AnEndpointChangeKeepsTheIdleConnectionsOfTheEndpointsKept) {
  Backend a(answering("a"));
  Backend b(answering("b"));
  auto one_worker = [](std::string cfg) {
    cfg.replace(cfg.find("\"workers\":2"), 11, "\"workers\":1");  // one pool per address
    return cfg;
  };
  ProxyProcess p(dir_, one_worker(config({a.address()}, 1)));
  ASSERT_TRUE(p.started()) << p.output();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(http(p.port("http"), get("/x")).body, "a");
  EXPECT_EQ(a.connections(), 1);
  ASSERT_TRUE(p.reload(one_worker(config({a.address(), b.address()}, 2)))) << p.output();
  int na = 0, nb = 0;
  for (int i = 0; i < 6; ++i) {
    std::string body = http(p.port("http"), get("/x")).body;
    na += body == "a";
    nb += body == "b";
  }
  EXPECT_EQ(na, 3);
  EXPECT_EQ(nb, 3);
  EXPECT_EQ(a.connections(), 1);
  EXPECT_EQ(b.connections(), 1);
}

// Hundreds of clusters, each its host's: the tables and snapshots share the chunks of clusters
// an apply did not change (ChunkedVector), so an endpoint change in one chunk must reach its
// host, leave the others' clusters (and their idle connections) as they were, and a later
// change in another chunk must not bring back the first one's old endpoints.
std::string many_clusters(const std::vector<std::string>& backend_of, int generation) {
  std::string hosts, clusters;
  for (size_t i = 0; i < backend_of.size(); ++i) {
    const std::string n = std::to_string(i);
    if (i > 0) {
      hosts += ',';
      clusters += ',';
    }
    for (const std::string& part :
         {std::string("{\"name\":\"h"), n, std::string("\",\"domains\":[\"h"), n,
          std::string(".example\"],\"routes\":[{\"match\":{\"prefix\":\"/\"},\"forward\":{"
                      "\"cluster\":\"c"),
          n, std::string("\"}}]}")})
      hosts += part;
    for (const std::string& part :
         {std::string("{\"name\":\"c"), n, std::string("\",\"endpoints\":[{\"address\":\""),
          backend_of[i], std::string("\"}]}")})
      clusters += part;
  }
  return "{\"version\":\"kop.proxy/v1\",\"generation\":\"g" + std::to_string(generation) +
         "\",\"listeners\":[{\"name\":\"http\",\"address\":\"127.0.0.1:0\"}],"
         "\"virtual_hosts\":[" +
         hosts + "],\"clusters\":[" + clusters +
         "],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":1}}";
}

TEST_F(ProxyOps, AnEndpointChangeAmongHundredsOfClustersChangesOnlyItsCluster) {
  Backend a(answering("a"));
  Backend b(answering("b"));
  std::vector<std::string> backend_of(300, a.address());
  ProxyProcess p(dir_, many_clusters(backend_of, 1));
  ASSERT_TRUE(p.started()) << p.output();
  auto body = [&](int host) {
    return http(p.port("http"),
                "GET / HTTP/1.1\r\nHost: h" + std::to_string(host) + ".example\r\n\r\n")
        .body;
  };
  for (int h : {5, 150, 290}) EXPECT_EQ(body(h), "a") << h;
  EXPECT_EQ(a.connections(), 1);  // one worker: one pool per address
  backend_of[290] = b.address();
  ASSERT_TRUE(p.reload(many_clusters(backend_of, 2))) << p.output();
  EXPECT_EQ(body(290), "b");
  for (int h : {5, 150, 289, 291}) EXPECT_EQ(body(h), "a") << h;
  backend_of[5] = b.address();
  ASSERT_TRUE(p.reload(many_clusters(backend_of, 3))) << p.output();
  EXPECT_EQ(body(5), "b");
  EXPECT_EQ(body(290), "b");
  for (int h : {4, 150, 299}) EXPECT_EQ(body(h), "a") << h;
  EXPECT_EQ(a.connections(), 1);  // the kept clusters kept their pool and idle connection
  EXPECT_EQ(b.connections(), 1);
}

}  // namespace
}  // namespace kop::proxy::e2e
