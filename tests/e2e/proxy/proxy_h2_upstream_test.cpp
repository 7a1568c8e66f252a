// kop-proxy end to end with an HTTP/2 upstream (a cluster with "protocol": "h2c"): nghttpd
// (Debian's nghttp2-server) as the backend on a loopback port, real curl, nghttp and h2load as
// clients over HTTP/1.1 and HTTP/2. Large bodies both ways, response trailers (gRPC's
// grpc-status) end to end, many concurrent streams on few upstream connections, an upstream
// that refuses connections.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace kop::proxy::e2e {
namespace {

// nghttpd over h2c serving `docroot`, echoing POST/PUT bodies and adding a grpc-status trailer
// to every response.
std::unique_ptr<ChildServer> nghttpd(const std::string& docroot, uint16_t port = free_port()) {
  return std::make_unique<ChildServer>(
      std::vector<std::string>{"nghttpd", "--no-tls", "--echo-upload", "--trailer",
                               "grpc-status: 0", "-d", docroot, "-a", "127.0.0.1",
                               std::to_string(port)},
      port);
}

std::string config(const std::string& endpoint, int timeout_ms = 30000) {
  return R"({"version":"kop.proxy/v1","listeners":[{"name":"http","address":"127.0.0.1:0"}],
    "virtual_hosts":[{"name":"vh","domains":["*"],"routes":[{"match":{"prefix":"/"},
      "forward":{"cluster":"grpc","timeout_ms":)" +
         std::to_string(timeout_ms) + R"(}}]}],
    "clusters":[{"name":"grpc","protocol":"h2c","endpoints":[")" +
         endpoint + R"("]}],
    "admin":{"address":"127.0.0.1:0"},"server":{"workers":1}})";
}

class H2Upstream : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have("nghttpd") || !have("nghttp") || !have("h2load"))
      GTEST_SKIP() << "nghttpd, nghttp or h2load missing (nghttp2-server, nghttp2-client)";
    dir_ = std::make_unique<TempDir>();
    ::mkdir(dir_->file("docs").c_str(), 0755);
    dir_->write("docs/index.html", "hello over h2c\n");
    // 8 MiB of random bytes: many windows' worth, so flow control stops and resumes.
    std::string big(8u << 20, '\0');
    std::mt19937_64 rng(7);
    for (size_t i = 0; i < big.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(&big[i], &v, 8);
    }
    dir_->write("docs/big.bin", big);
    big_ = big;
    backend_ = nghttpd(dir_->file("docs"));
    ASSERT_TRUE(backend_->ready()) << "nghttpd did not start";
    proxy_ = std::make_unique<ProxyProcess>(*dir_, config(backend_->address()));
    ASSERT_TRUE(proxy_->started());
    base_ = "http://127.0.0.1:" + std::to_string(proxy_->port("http"));
  }
  void TearDown() override {
    if (proxy_) proxy_->terminate();
  }
  std::string metric(const std::string& name) {
    auto m =
        http(proxy_->admin_port(), "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    size_t at = m.body.find("\n" + name + " ");
    if (at == std::string::npos) return "";
    size_t from = at + name.size() + 2;
    return m.body.substr(from, m.body.find('\n', from) - from);
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ChildServer> backend_;
  std::unique_ptr<ProxyProcess> proxy_;
  std::string base_;
  std::string big_;
};

TEST_F(H2Upstream, AnswersHttp1AndHttp2Clients) {
  for (const char* version : {"--http2-prior-knowledge", "--http1.1"}) {
    auto r = run({"curl", "-sS", "-i", version, base_ + "/index.html"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(" 200"), std::string::npos) << version << "\n" << r.out;
    EXPECT_NE(r.out.find("hello over h2c"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("server: kop"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("x-kop-upstream-service-time: "), std::string::npos) << r.out;
  }
  // Not found upstream: nghttpd's 404 passes through.
  auto r = run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge",
                base_ + "/missing"});
  EXPECT_EQ(r.out, "404");
}

TEST_F(H2Upstream, LargeBodiesStreamBothWays) {
  std::string out = dir_->file("out.bin");
  for (const char* version : {"--http2-prior-knowledge", "--http1.1"}) {
    // Download, through the upstream's flow control windows.
    auto r = run({"curl", "-sS", version, "-o", out, base_ + "/big.bin"}, 60000);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ifstream f(out, std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(f)), {});
    EXPECT_EQ(got.size(), big_.size()) << version;
    EXPECT_TRUE(got == big_) << version << ": the downloaded bytes differ";
    // Upload, echoed by the backend: the request body streams upstream as DATA frames.
    for (const char* te : {"", "transfer-encoding: chunked"}) {
      std::vector<std::string> argv = {"curl",
                                       "-sS",
                                       version,
                                       "-o",
                                       out,
                                       "--data-binary",
                                       "@" + dir_->file("docs/big.bin"),
                                       base_ + "/upload"};
      if (*te) argv.insert(argv.begin() + 2, {"-H", te});
      r = run(argv, 60000);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      std::ifstream g(out, std::ios::binary);
      std::string echoed((std::istreambuf_iterator<char>(g)), {});
      EXPECT_EQ(echoed.size(), big_.size()) << version << " " << te;
      EXPECT_TRUE(echoed == big_) << version << " " << te << ": the echoed bytes differ";
    }
  }
}

TEST_F(H2Upstream, TrailersReachAnHttp2Client) {
  auto r = run({"nghttp", "-v", base_ + "/index.html"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The body, then a HEADERS frame with the trailer and END_STREAM.
  size_t body = r.out.find("hello over h2c");
  size_t trailer = r.out.find("grpc-status: 0");
  ASSERT_NE(body, std::string::npos) << r.out;
  ASSERT_NE(trailer, std::string::npos) << r.out;
  EXPECT_LT(body, trailer) << r.out;
  EXPECT_NE(r.out.find("END_STREAM", trailer), std::string::npos) << r.out;
}

TEST_F(H2Upstream, ConcurrentStreamsShareUpstreamConnections) {
  auto r = run({"h2load", "-n", "600", "-c", "3", "-m", "40", base_ + "/index.html"}, 60000);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("600 succeeded"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("status codes: 600 2xx"), std::string::npos) << r.out;
  // 120 requests in flight at a time: HTTP/1.1 would take 120 connections; streams share a
  // few (nghttpd allows 100 per connection).
  std::string opened = metric("kop_proxy_upstream_connections_total");
  ASSERT_FALSE(opened.empty());
  EXPECT_LE(std::stoi(opened), 4) << "upstream connections opened";
  EXPECT_GE(std::stoi(metric("kop_proxy_upstream_reused_total")), 590);
}

// The backend restarts on the same port: the pooled connection it closed is dropped when its
// EOF arrives, and the next requests open a new one (no error reaches the client).
TEST_F(H2Upstream, BackendRestartOpensANewConnection) {
  auto r = run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge",
                base_ + "/index.html"});
  EXPECT_EQ(r.out, "200");
  uint16_t port = static_cast<uint16_t>(std::stoi(backend_->address().substr(10)));
  backend_.reset();
  backend_ = nghttpd(dir_->file("docs"), port);
  ASSERT_TRUE(backend_->ready());
  for (int i = 0; i < 3; ++i) {
    r = run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge",
             base_ + "/index.html"});
    EXPECT_EQ(r.out, "200") << "request " << i << " after the restart: " << r.err;
  }
  EXPECT_EQ(metric("kop_proxy_upstream_connections_total"), "2");
}

TEST(H2UpstreamDown, RefusedConnectionsAnswer502) {
  TempDir dir;
  RefusedPort refused;
  ProxyProcess p(dir, config(refused.address()));
  ASSERT_TRUE(p.started());
  for (const char* version : {"--http2-prior-knowledge", "--http1.1"}) {
    auto r = run({"curl", "-sS", version, "-o", "/dev/null", "-w", "%{http_code}",
                  "http://127.0.0.1:" + std::to_string(p.port("http")) + "/"});
    EXPECT_EQ(r.out, "502") << version << " " << r.err;
  }
  p.terminate();
}

// An upstream whose response breaks (h2_broken_upstream.py). RST_STREAM right after the head:
// the head the proxy held back never went out, so an HTTP/1.1 client gets a whole 502, never
// an empty reply. DATA shorter than its content-length: the head and the bytes that came go
// out, then the close, so the client sees a truncated message (curl exit 18), not an empty one.
TEST(H2UpstreamBroken, BrokenResponsesReachHttp1ClientsAsSuch) {
  const char* script = std::getenv("KOP_H2_BROKEN_UPSTREAM");
  ASSERT_NE(script, nullptr) << "KOP_H2_BROKEN_UPSTREAM (tests/e2e/proxy/meson.build) not set";
  struct Case {
    const char* mode;
    const char* status;
    int curl_exit;
    const char* body;
  };
  for (const Case& c : {Case{"reset-after-head", "502", 0, "upstream response broken\n"},
                        Case{"length-mismatch", "200", 18, "abc"}}) {
    uint16_t port = free_port();
    ChildServer upstream({"/usr/bin/python3", script, std::to_string(port), c.mode}, port);
    ASSERT_TRUE(upstream.ready()) << c.mode;
    TempDir dir;
    ProxyProcess p(dir, config(upstream.address()));
    ASSERT_TRUE(p.started());
    auto r = run({"curl", "-sS", "--http1.1", "-w", "\n%{http_code}",
                  "http://127.0.0.1:" + std::to_string(p.port("http")) + "/"});
    EXPECT_EQ(r.exit_code, c.curl_exit) << c.mode << ": " << r.err;
    EXPECT_EQ(r.out, std::string(c.body) + "\n" + c.status) << c.mode << ": " << r.err;
    p.terminate();
  }
}

// A real gRPC client and server (python3-grpcio) through the proxy: unary calls with trailing
// metadata, 4 MiB messages, a server stream, an error status carried by the trailers, 200 calls
// at once, and a call from an HTTP/1.1 client that gets the trailers in its last chunk
// (grpc_echo.py).
TEST(H2UpstreamGrpc, GrpcClientAndServerThroughTheProxy) {
  const char* script = std::getenv("KOP_GRPC_ECHO");
  ASSERT_NE(script, nullptr) << "KOP_GRPC_ECHO (tests/e2e/proxy/meson.build) not set";
  if (run({"/usr/bin/python3", "-c", "import grpc"}).exit_code != 0)
    GTEST_SKIP() << "python3-grpcio missing (scripts/install-deps)";
  uint16_t port = free_port();
  ChildServer server({"/usr/bin/python3", script, "server", std::to_string(port)}, port);
  ASSERT_TRUE(server.ready()) << "the gRPC echo server did not start";
  TempDir dir;
  ProxyProcess p(dir, config(server.address()));
  ASSERT_TRUE(p.started());
  auto r =
      run({"/usr/bin/python3", script, "client", "127.0.0.1:" + std::to_string(p.port("http"))},
          120000);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS http1-client-gets-trailers"), std::string::npos) << r.out;
  p.terminate();
  // The route timeout holds for a stream whose answer is late (Slow takes 5 s): the proxy's
  // 504 after 500 ms, and the stream is cancelled upstream. A gRPC client gets it as gRPC's
  // trailers-only response: HTTP 200, grpc-status 4 (DEADLINE_EXCEEDED; grpc_reply.h).
  ProxyProcess quick(dir, config(server.address(), 500));
  ASSERT_TRUE(quick.started());
  std::string grpc_frame = std::string(5, '\0');  // an empty message
  dir.write("empty.grpc", grpc_frame);
  auto start = std::chrono::steady_clock::now();
  r = run({"curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-D", "-", "-H",
           "content-type: application/grpc", "-H", "te: trailers", "--data-binary",
           "@" + dir.file("empty.grpc"),
           "http://127.0.0.1:" + std::to_string(quick.port("http")) + "/kop.test.Echo/Slow"});
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  EXPECT_NE(r.out.find("HTTP/2 200"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("grpc-status: 4\r\n"), std::string::npos) << r.out;
  EXPECT_LT(ms, 4000);
  quick.terminate();
}

// The replies the proxy makes itself reach a gRPC client as gRPC statuses (a real grpcio client):
// HTTP 200 with grpc-status and grpc-message in one HEADERS frame, over h2c and to an HTTP/1.1
// caller; a client that is not gRPC still gets the plain HTTP status.
TEST(H2UpstreamGrpc, TheProxysOwnRepliesCarryAGrpcStatus) {
  const char* script = std::getenv("KOP_GRPC_ECHO");
  ASSERT_NE(script, nullptr) << "KOP_GRPC_ECHO (tests/e2e/proxy/meson.build) not set";
  if (run({"/usr/bin/python3", "-c", "import grpc"}).exit_code != 0)
    GTEST_SKIP() << "python3-grpcio missing (scripts/install-deps)";
  uint16_t port = free_port();
  ChildServer server({"/usr/bin/python3", script, "server", std::to_string(port)}, port);
  ASSERT_TRUE(server.ready()) << "the gRPC echo server did not start";
  RefusedPort dead;
  TempDir dir;
  ProxyProcess p(dir, R"({"version":"kop.proxy/v1",
    "listeners":[{"name":"http","address":"127.0.0.1:0"}],
    "virtual_hosts":[{"name":"vh","domains":["*"],"routes":[
      {"match":{"prefix":"/kop.test.Echo/Slow"},"forward":{"cluster":"grpc","timeout_ms":300}},
      {"match":{"prefix":"/kop.test.Echo/"},"forward":{"cluster":"grpc"}},
      {"match":{"prefix":"/empty.E/"},"forward":{"cluster":"empty"}},
      {"match":{"prefix":"/dead.D/"},"forward":{"cluster":"dead"}},
      {"match":{"prefix":"/small.S/"},"max_request_body_bytes":10,"forward":{"cluster":"grpc"}},
      {"match":{"prefix":"/denied.D/"},"source_ranges":{"deny":["127.0.0.0/8"]},
       "forward":{"cluster":"grpc"}},
      {"match":{"prefix":"/limited.L/"},"rate_limit":{"zone":"z","requests_per_minute":1,
       "burst_multiplier":1,"status":429},"forward":{"cluster":"grpc"}},
      {"match":{"prefix":"/auth.A/"},"basic_auth":{"realm":"kop","users":[{"name":"u",
       "hash":"$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"}]},"forward":{"cluster":"grpc"}}]}],
    "clusters":[{"name":"grpc","protocol":"h2c","endpoints":[")" +
                          server.address() + R"("]},
      {"name":"empty","protocol":"h2c","endpoints":[]},
      {"name":"dead","protocol":"h2c","endpoints":[")" +
                          dead.address() + R"("]}],
    "admin":{"address":"127.0.0.1:0"},"server":{"workers":1}})");
  ASSERT_TRUE(p.started()) << p.output();
  std::string target = "127.0.0.1:" + std::to_string(p.port("http"));
  auto r = run({"/usr/bin/python3", script, "codes", target, "/kop.test.Echo/Unary",
                "/nothing.N/Call", "/empty.E/Call", "/dead.D/Call", "/kop.test.Echo/Slow",
                "/small.S/Call", "/denied.D/Call", "/limited.L/Call*5", "/auth.A/Call"},
               60000);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* want : {
           "/kop.test.Echo/Unary OK \n",
           "/nothing.N/Call UNIMPLEMENTED no route\n",           // 404
           "/empty.E/Call UNAVAILABLE no healthy upstream\n",    // 503
           "/dead.D/Call UNAVAILABLE upstream connect error\n",  // 502
           "/kop.test.Echo/Slow DEADLINE_EXCEEDED upstream timeout\n",
           "/small.S/Call UNKNOWN request body too large\n",          // 413
           "/denied.D/Call PERMISSION_DENIED forbidden\n",            // 403
           "/limited.L/Call*5 UNAVAILABLE request limit exceeded\n",  // 429
           "/auth.A/Call UNAUTHENTICATED unauthorized\n",             // 401
       })
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " in\n" << r.out;
  // On the wire: HTTP/2 (h2c: one HEADERS frame with END_STREAM, flags 0x05, no DATA) and
  // HTTP/1.1 callers with a gRPC content type get 200 and the status fields; the same request
  // without it the plain 404. (nghttp, not curl: curl 7.88 waits a minute for its upload when a
  // stream's response ends before the upload did.)
  std::string url = "http://" + target + "/nothing.N/Call";
  dir.write("x.bin", "x");
  if (have("nghttp")) {
    auto h2 = run({"nghttp", "-v", "-d", dir.file("x.bin"), "-H",
                   "content-type: application/grpc+proto", "-H", "te: trailers", url});
    EXPECT_EQ(h2.exit_code, 0) << h2.out << h2.err;
    for (const char* want :
         {") :status: 200\n", ") grpc-status: 12\n", ") grpc-message: no route\n",
          ") content-type: application/grpc\n", "recv HEADERS frame <length="})
      EXPECT_NE(h2.out.find(want), std::string::npos) << want << " in\n" << h2.out;
    size_t headers = h2.out.find("recv HEADERS frame <length=");
    EXPECT_NE(h2.out.find("flags=0x05", headers), std::string::npos) << h2.out;
    EXPECT_EQ(h2.out.find("recv DATA frame"), std::string::npos) << h2.out;
  }
  auto h1 = run({"curl", "-sS", "-D", "-", "-o", "/dev/null", "-H",
                 "Content-Type: application/grpc", "--data-binary", "x", url});
  EXPECT_NE(h1.out.find("HTTP/1.1 200"), std::string::npos) << h1.out << h1.err;
  EXPECT_NE(h1.out.find("grpc-status: 12\r\n"), std::string::npos) << h1.out;
  auto plain =
      run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "x", url});
  EXPECT_EQ(plain.out, "404") << plain.err;
}

}  // namespace
}  // namespace kop::proxy::e2e
