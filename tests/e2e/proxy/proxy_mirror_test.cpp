// kop-proxy end to end: request mirroring (a forward route's `mirrors`, Gateway API's
// RequestMirror) over real sockets: the mirror backend gets the request with its headers and
// body, the client gets only the main backend's answer, and a dead or stalled mirror or a
// sampled-out one changes nothing for the client; a weighted entry's own mirrors copy only
// the requests that entry gets (Gateway API RequestMirror on one of several backendRefs).
// Mirrors of every cluster kind: HTTP/1.1 in
// plain text and over TLS (tls_echo.py), and HTTP/2 (h2c and over TLS) to a second gRPC server
// (grpc_echo.py, python3-grpcio) whose calls from a real gRPC client arrive there too.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace kop::proxy::e2e {
namespace {

Backend::Handler named(const std::string& name) {
  return [name](const BackendRequest&) {
    BackendResponse r;
    r.body = name;
    return r;
  };
}

std::string cluster(const std::string& name, const std::string& address) {
  return "{\"name\":\"" + name + "\",\"endpoints\":[{\"address\":\"" + address + "\"}]}";
}

// Route "/" to "main"; "/mirrored" also to the mirrors given as JSON entries.
std::string config(const std::string& mirrors, const std::vector<std::string>& clusters) {
  std::string cs;
  for (const auto& c : clusters) cs += (cs.empty() ? "" : ",") + c;
  return "{\"version\":\"kop.proxy/v1\",\"listeners\":[{\"name\":\"http\",\"address\":\"127.0.0."
         "1:0\"}],\"virtual_hosts\":[{\"name\":\"vh\",\"domains\":[\"*\"],\"routes\":["
         "{\"match\":{\"prefix\":\"/mirrored\"},\"forward\":{\"cluster\":\"main\",\"mirrors\":[" +
         mirrors +
         "]}},{\"match\":{\"prefix\":\"/\"},\"forward\":{\"cluster\":\"main\"}}]}],"
         "\"clusters\":[" +
         cs + "],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":1}}";
}

Response post(uint16_t port, const std::string& target, const std::string& body) {
  return http(port, "POST " + target +
                        " HTTP/1.1\r\nHost: app.example\r\nX-Test: yes\r\nConnection: close\r\n"
                        "Content-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body);
}

// A counter of the proxy's /metrics (0 when absent).
double metric(const ProxyProcess& p, const std::string& name) {
  Response r =
      http(p.admin_port(), "GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
  std::smatch m;
  if (!std::regex_search(r.body, m, std::regex("\n" + name + " ([0-9.e+]+)"))) return 0;
  return std::stod(m[1]);
}

template <typename F>
bool eventually(F f, int ms = 5000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

TEST(ProxyMirror, TheMirrorGetsTheRequestTheClientOnlyTheMainAnswer) {
  TempDir dir;
  Backend main_be(named("main")), mirror_be(named("mirror")), second_be(named("second"));
  ProxyProcess p(dir,
                 config(R"({"cluster":"mirror"},{"cluster":"second"})",
                        {cluster("main", main_be.address()), cluster("mirror", mirror_be.address()),
                         cluster("second", second_be.address())}));
  ASSERT_TRUE(p.started()) << p.output();
  Response r = post(p.port("http"), "/mirrored/a?q=1", "hello mirror");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "main");
  for (Backend* b : {&mirror_be, &second_be}) {
    ASSERT_TRUE(eventually([&] { return b->request_count() == 1; })) << p.output();
    BackendRequest got = b->requests()[0];
    EXPECT_EQ(got.method, "POST");
    EXPECT_EQ(got.target, "/mirrored/a?q=1");
    EXPECT_EQ(got.header("host"), "app.example");
    EXPECT_EQ(got.header("x-test"), "yes");
    EXPECT_EQ(got.body, "hello mirror");
  }
  EXPECT_EQ(main_be.request_count(), 1U);
  // A route without mirrors copies nothing; a bodiless GET is copied whole.
  EXPECT_EQ(
      http(p.port("http"), "GET /plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").body,
      "main");
  EXPECT_EQ(
      http(p.port("http"), "GET /mirrored/g HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").body,
      "main");
  ASSERT_TRUE(eventually([&] { return mirror_be.request_count() == 2; }));
  EXPECT_EQ(mirror_be.requests()[1].target, "/mirrored/g");
  EXPECT_TRUE(eventually([&] { return metric(p, "kop_proxy_mirror_answered_total") == 4; }))
      << metric(p, "kop_proxy_mirror_answered_total");
}

TEST(ProxyMirror, ADeadMirrorChangesNothingForTheClient) {
  TempDir dir;
  Backend main_be(named("main"));
  RefusedPort dead;
  ProxyProcess p(dir, config(R"({"cluster":"dead"})", {cluster("main", main_be.address()),
                                                       cluster("dead", dead.address())}));
  ASSERT_TRUE(p.started()) << p.output();
  for (int i = 0; i < 20; ++i) {
    Response r = post(p.port("http"), "/mirrored", "body " + std::to_string(i));
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, "main");
  }
  EXPECT_EQ(main_be.request_count(), 20U);
  EXPECT_TRUE(eventually([&] { return metric(p, "kop_proxy_mirror_failed_total") == 20; }))
      << metric(p, "kop_proxy_mirror_failed_total");
}

TEST(ProxyMirror, AStalledMirrorIsDroppedAndNeverHoldsTheClientBack) {
  TempDir dir;
  Backend main_be([](const BackendRequest& req) {
    BackendResponse r;
    r.body = std::to_string(req.body.size());
    return r;
  });
  // Accepts and never reads: its socket buffers fill, then the mirror is dropped.
  ThreadServer stalled([](int) { std::this_thread::sleep_for(std::chrono::seconds(3)); });
  ProxyProcess p(dir, config(R"({"cluster":"stalled"})", {cluster("main", main_be.address()),
                                                          cluster("stalled", stalled.address())}));
  ASSERT_TRUE(p.started()) << p.output();
  std::string big(size_t{8} * 1024 * 1024, 'x');
  auto start = std::chrono::steady_clock::now();
  Response r = post(p.port("http"), "/mirrored", big);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::to_string(big.size()));  // the main backend got all of it
  // Well under the stalled mirror's 3 s: the client never waited for it.
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), 2500);
  EXPECT_TRUE(eventually([&] { return metric(p, "kop_proxy_mirror_dropped_total") == 1; }))
      << metric(p, "kop_proxy_mirror_dropped_total");
}

TEST(ProxyMirror, PerMillionSamplesRequests) {
  TempDir dir;
  Backend main_be(named("main")), never(named("never")), half(named("half"));
  ProxyProcess p(dir, config(R"({"cluster":"never","per_million":0},)"
                             R"({"cluster":"half","per_million":500000})",
                             {cluster("main", main_be.address()), cluster("never", never.address()),
                              cluster("half", half.address())}));
  ASSERT_TRUE(p.started()) << p.output();
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(http(p.port("http"), "GET /mirrored HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                  .status,
              200);
  EXPECT_TRUE(eventually([&] { return metric(p, "kop_proxy_mirror_answered_total") >= 60; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(never.request_count(), 0U);
  // 200 draws at one half: 60..140 holds with a probability far above 1 - 1e-8.
  EXPECT_GE(half.request_count(), 60U);
  EXPECT_LE(half.request_count(), 140U);
}

TEST(ProxyMirror, AnEntrysMirrorCopiesOnlyTheRequestsOfThatEntry) {
  TempDir dir;
  Backend a(named("a")), b(named("b")), copy(named("copy"));
  std::string cfg =
      R"({"version":"kop.proxy/v1","listeners":[{"name":"http","address":"127.0.0.1:0"}],)"
      R"("virtual_hosts":[{"name":"vh","domains":["*"],"routes":[{"match":{"prefix":"/"},)"
      R"("forward":{"clusters":[{"cluster":"a","weight":1,"mirrors":[{"cluster":"copy"}]},)"
      R"({"cluster":"b","weight":1}]}}]}],"clusters":[)" +
      cluster("a", a.address()) + "," + cluster("b", b.address()) + "," +
      cluster("copy", copy.address()) +
      R"(],"admin":{"address":"127.0.0.1:0"},"server":{"workers":1}})";
  ProxyProcess p(dir, cfg);
  ASSERT_TRUE(p.started()) << p.output();
  for (int i = 0; i < 40; ++i)
    ASSERT_EQ(http(p.port("http"), "GET /r" + std::to_string(i) +
                                       " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                  .status,
              200);
  ASSERT_EQ(a.request_count() + b.request_count(), 40U);
  EXPECT_GT(a.request_count(), 0U);  // 40 fair draws: all on one side with probability 2^-39
  EXPECT_GT(b.request_count(), 0U);
  EXPECT_TRUE(eventually([&] { return copy.request_count() == a.request_count(); }))
      << copy.request_count() << " copies of " << a.request_count();
  std::vector<std::string> sent_to_a, copied;
  for (const BackendRequest& r : a.requests()) sent_to_a.push_back(r.target);
  for (const BackendRequest& r : copy.requests()) copied.push_back(r.target);
  std::sort(sent_to_a.begin(), sent_to_a.end());
  std::sort(copied.begin(), copied.end());
  EXPECT_EQ(copied, sent_to_a);  // never one of b's
}

std::string grpc_echo() {
  const char* script = std::getenv("KOP_GRPC_ECHO");
  return script ? script : "";
}

bool have_grpcio() {
  return run({"/usr/bin/python3", "-c", "import grpc"}).exit_code == 0;
}

// A cluster speaking `protocol` ("h2c", "h2"), with `tls` (a JSON object) when not empty.
std::string cluster_of(const std::string& name, const std::string& address,
                       const std::string& protocol, const std::string& tls = "") {
  return "{\"name\":\"" + name + "\"" +
         (protocol.empty() ? "" : ",\"protocol\":\"" + protocol + "\"") +
         ",\"endpoints\":[{\"address\":\"" + address + "\"}]" +
         (tls.empty() ? "" : ",\"tls\":" + tls) + "}";
}

// A config with the given routes (JSON entries) and clusters.
std::string config_of(const std::string& routes, const std::vector<std::string>& clusters) {
  std::string cs;
  for (const auto& c : clusters) cs += (cs.empty() ? "" : ",") + c;
  return "{\"version\":\"kop.proxy/v1\",\"listeners\":[{\"name\":\"http\",\"address\":\"127.0.0."
         "1:0\"}],\"virtual_hosts\":[{\"name\":\"vh\",\"domains\":[\"*\"],\"routes\":[" +
         routes + "]}],\"clusters\":[" + cs +
         "],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":1}}";
}

// What a grpc_echo.py server saw (its kop.test.Probe/Seen, JSON), asked at `target`.
std::string seen(const std::string& target) {
  return run({"/usr/bin/python3", grpc_echo(), "seen", target}, 20000).out;
}

bool saw_all_tags(const std::string& seen_json, int n) {
  for (int i = 0; i < n; ++i)
    if (seen_json.find("\"m" + std::to_string(i) + "\"") == std::string::npos) return false;
  return true;
}

// The 20 calls "grpc_echo.py mirror" makes carry 190 message bytes ("payload-0".."payload-19").
constexpr const char* kTwentyCalls = "\"bytes\": 190, \"calls\": {\"Unary\": 20}";

TEST(ProxyMirror, GrpcCallsReachASecondGrpcBackendOverH2c) {
  if (!have_grpcio()) GTEST_SKIP() << "python3-grpcio missing (scripts/install-deps)";
  uint16_t main_port = free_port(), mirror_port = free_port();
  ChildServer main_srv({"/usr/bin/python3", grpc_echo(), "server", std::to_string(main_port)},
                       main_port);
  ChildServer mirror_srv({"/usr/bin/python3", grpc_echo(), "server", std::to_string(mirror_port)},
                         mirror_port);
  ASSERT_TRUE(main_srv.ready() && mirror_srv.ready()) << "the gRPC echo servers did not start";
  TempDir dir;
  ProxyProcess p(dir, config_of(R"({"match":{"prefix":"/"},"forward":{"cluster":"main",)"
                                R"("timeout_ms":30000,"mirrors":[{"cluster":"mirror"}]}})",
                                {cluster_of("main", main_srv.address(), "h2c"),
                                 cluster_of("mirror", mirror_srv.address(), "h2c")}));
  ASSERT_TRUE(p.started()) << p.output();
  std::string target = "127.0.0.1:" + std::to_string(p.port("http"));
  auto r = run({"/usr/bin/python3", grpc_echo(), "mirror", target, "20"}, 60000);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Both servers got every call whole: its message (the body), its metadata (the fields).
  std::string got;
  EXPECT_TRUE(eventually(
      [&] {
        got = seen(mirror_srv.address());
        return got.find(kTwentyCalls) != std::string::npos && saw_all_tags(got, 20);
      },
      10000))
      << got;
  got = seen(main_srv.address());
  EXPECT_NE(got.find(kTwentyCalls), std::string::npos) << got;
  EXPECT_TRUE(eventually([&] { return metric(p, "kop_proxy_mirror_answered_total") == 20; }))
      << metric(p, "kop_proxy_mirror_answered_total");
  EXPECT_EQ(metric(p, "kop_proxy_mirror_failed_total"), 0);
  // The whole gRPC suite (streams, 4 MiB messages, statuses in trailers, 200 calls at once, an
  // HTTP/1.1 caller) through the mirrored route: the client never notices the mirror.
  r = run({"/usr/bin/python3", grpc_echo(), "client", target}, 120000);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_TRUE(eventually([&] { return metric(p, "kop_proxy_mirror_requests_total") >= 220; }));
}

TEST(ProxyMirror, MirrorsOverTlsSpeakHttp11AndHttp2) {
  const char* tls_echo = std::getenv("KOP_TLS_ECHO");
  ASSERT_NE(tls_echo, nullptr) << "KOP_TLS_ECHO (tests/e2e/proxy/meson.build) not set";
  if (!have("openssl") || !have_grpcio()) GTEST_SKIP() << "openssl or python3-grpcio missing";
  TempDir dir;
  Cert cert = make_cert(dir, "backend.test");  // self-signed: its own CA
  uint16_t tls_port = free_port(), grpcs_port = free_port(), grpc_port = free_port();
  ChildServer tls_srv(
      {"/usr/bin/python3", tls_echo, std::to_string(tls_port), cert.cert_file, cert.key_file},
      tls_port);
  ChildServer grpcs_srv({"/usr/bin/python3", grpc_echo(), "server", std::to_string(grpcs_port),
                         cert.cert_file, cert.key_file},
                        grpcs_port);
  ChildServer grpc_srv({"/usr/bin/python3", grpc_echo(), "server", std::to_string(grpc_port)},
                       grpc_port);
  ASSERT_TRUE(tls_srv.ready() && grpcs_srv.ready() && grpc_srv.ready());
  Backend main_be(named("main"));
  std::string tls = R"({"server_name":"backend.test","ca_file":")" + cert.cert_file + R"("})";
  ProxyProcess p(
      dir,
      config_of(R"({"match":{"prefix":"/mirrored"},"forward":{"cluster":"main",)"
                R"("mirrors":[{"cluster":"tls"}]}},)"
                R"({"match":{"prefix":"/kop.test.Echo/"},"forward":{"cluster":"grpc",)"
                R"("mirrors":[{"cluster":"grpcs"}]}},)"
                R"({"match":{"prefix":"/seen"},"forward":{"cluster":"tls"}},)"
                R"({"match":{"prefix":"/kop.test.Probe/"},"forward":{"cluster":"grpcs"}})",
                {cluster("main", main_be.address()), cluster_of("grpc", grpc_srv.address(), "h2c"),
                 cluster_of("tls", tls_srv.address(), "", tls),
                 cluster_of("grpcs", grpcs_srv.address(), "h2", tls)}));
  ASSERT_TRUE(p.started()) << p.output();
  // HTTP/1.1 over TLS: the mirror gets the POST and its body.
  Response r = post(p.port("http"), "/mirrored/tls", "over tls");
  EXPECT_EQ(r.body, "main");
  std::string got;
  EXPECT_TRUE(eventually([&] {
    got = http(p.port("http"), "GET /seen HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").body;
    return got.find("posts=1\npost /mirrored/tls over tls\n") != std::string::npos;
  })) << got;
  // HTTP/2 over TLS: gRPC calls to the plain main server reach the TLS one too.
  std::string target = "127.0.0.1:" + std::to_string(p.port("http"));
  auto calls = run({"/usr/bin/python3", grpc_echo(), "mirror", target, "20"}, 60000);
  ASSERT_EQ(calls.exit_code, 0) << calls.out << calls.err;
  EXPECT_TRUE(eventually(
      [&] {
        got = seen(target);  // kop.test.Probe goes to the TLS server
        return got.find(kTwentyCalls) != std::string::npos && saw_all_tags(got, 20);
      },
      10000))
      << got;
  EXPECT_TRUE(eventually([&] { return metric(p, "kop_proxy_mirror_answered_total") == 21; }))
      << metric(p, "kop_proxy_mirror_answered_total");
  EXPECT_EQ(metric(p, "kop_proxy_mirror_failed_total"), 0);
}

// An HTTP/2 mirror whose server never reads (nor sends its SETTINGS): the stream's buffer fills
// past the bound and the copy is dropped, while the main upstream gets the whole body at once.
TEST(ProxyMirror, AStalledHttp2MirrorIsDroppedAndNeverHoldsTheClientBack) {
  TempDir dir;
  Backend main_be([](const BackendRequest& req) {
    BackendResponse r;
    r.body = std::to_string(req.body.size());
    return r;
  });
  ThreadServer stalled([](int) { std::this_thread::sleep_for(std::chrono::seconds(3)); });
  ProxyProcess p(
      dir, config(R"({"cluster":"stalled"})", {cluster("main", main_be.address()),
                                               cluster_of("stalled", stalled.address(), "h2c")}));
  ASSERT_TRUE(p.started()) << p.output();
  std::string big(size_t{8} * 1024 * 1024, 'x');
  auto start = std::chrono::steady_clock::now();
  Response r = post(p.port("http"), "/mirrored", big);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::to_string(big.size()));
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), 2500);
  EXPECT_TRUE(eventually([&] { return metric(p, "kop_proxy_mirror_dropped_total") == 1; }))
      << metric(p, "kop_proxy_mirror_dropped_total");
}

}  // namespace
}  // namespace kop::proxy::e2e
