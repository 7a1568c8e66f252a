// kop-proxy end to end over HTTP/1.1: real curl and raw sockets against the real program.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "harness.h"

namespace kop::proxy::e2e {
namespace {

std::string cluster(const std::string& name, const std::vector<std::string>& addrs,
                    const std::string& extra = "") {
  std::string s = "{\"name\":\"" + name + "\",\"endpoints\":[";
  for (size_t i = 0; i < addrs.size(); ++i)
    s += (i ? "," : "") + std::string("{\"address\":\"") + addrs[i] + "\"}";
  s += "]" + extra + "}";
  return s;
}

std::string config(const std::string& routes, const std::string& clusters,
                   const std::string& server = "", const std::string& domains = "\"*\"") {
  return "{\"version\":\"kop.proxy/v1\",\"listeners\":[{\"name\":\"http\",\"address\":\"127.0.0."
         "1:0\"}],\"virtual_hosts\":[{\"name\":\"vh\",\"domains\":[" +
         domains + "],\"routes\":[" + routes + "]}],\"clusters\":[" + clusters +
         "],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":2" +
         (server.empty() ? "" : "," + server) + "}}";
}

std::string forward_all(const std::string& cl = "be", const std::string& extra = "") {
  return "{\"name\":\"all\",\"match\":{\"prefix\":\"/\"},\"forward\":{\"cluster\":\"" + cl + "\"" +
         extra + "}}";
}

std::string get(const std::string& path = "/", const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: example.com\r\n" + extra + "\r\n";
}

class ProxyHttp : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(ProxyHttp, CurlGetAddsForwardingHeaders) {
  Backend be;
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  auto r = run({"curl", "-sS", "-D", "-", "-H", "Host: shop.example.com",
                "http://127.0.0.1:" + std::to_string(p.port("http")) + "/hello?x=1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("HTTP/1.1 200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("x-kop-upstream-service-time: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("backend " + std::to_string(be.port())), std::string::npos);
  auto reqs = be.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/hello?x=1");
  EXPECT_EQ(reqs[0].header("host"), "shop.example.com");
  EXPECT_EQ(reqs[0].header("x-forwarded-for"), "127.0.0.1");
  EXPECT_EQ(reqs[0].header("x-forwarded-proto"), "http");
  EXPECT_EQ(reqs[0].header("x-forwarded-host"), "shop.example.com");
  EXPECT_EQ(reqs[0].header("x-request-id").size(), 36u);
}

TEST_F(ProxyHttp, KeepsRequestIdAndAppendsForwardedFor) {
  Backend be;
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  auto r = http(p.port("http"), get("/",
                                    "X-Request-Id: abc-123\r\nX-Forwarded-For: 10.1.1.1\r\n"
                                    "X-Forwarded-Proto: https\r\nConnection: close\r\n"));
  ASSERT_EQ(r.status, 200);
  auto reqs = be.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("x-request-id"), "abc-123");
  EXPECT_EQ(reqs[0].count("x-request-id"), 1);
  EXPECT_EQ(reqs[0].header("x-forwarded-for"), "10.1.1.1, 127.0.0.1");
  EXPECT_EQ(reqs[0].header("x-forwarded-proto"), "http");  // overwritten, not trusted
  EXPECT_EQ(reqs[0].header("connection"), "");             // hop-by-hop not forwarded
}

TEST_F(ProxyHttp, FieldsNamedByConnectionAreNotForwardedEitherWay) {
  // RFC 9110 7.6.1: a Connection option names a hop-by-hop field; the proxy removes it from the
  // request it forwards and from the response it returns.
  Backend be([](const BackendRequest&) {
    BackendResponse r;
    r.headers = {{"Connection", "X-Up-Hop"}, {"X-Up-Hop", "1"}, {"X-Up-Kept", "2"}};
    return r;
  });
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  auto r = http(p.port("http"), get("/",
                                    "Connection: x-down-hop, close\r\nX-Down-Hop: a\r\n"
                                    "X-Down-Kept: b\r\n"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("x-up-hop"), "");
  EXPECT_EQ(r.header("x-up-kept"), "2");
  auto reqs = be.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("x-down-hop"), "");
  EXPECT_EQ(reqs[0].header("x-down-kept"), "b");
}

TEST_F(ProxyHttp, NotFoundWhenNoVirtualHostOrRoute) {
  Backend be;
  std::string routes = "{\"match\":{\"exact\":\"/only\"},\"forward\":{\"cluster\":\"be\"}}";
  ProxyProcess p(dir_, config(routes, cluster("be", {be.address()}), "", "\"example.com\""));
  ASSERT_TRUE(p.started()) << p.output();
  auto r = http(p.port("http"), get("/other"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("server"), "kop");
  EXPECT_FALSE(r.body.empty());
  auto r2 = http(p.port("http"), "GET /only HTTP/1.1\r\nHost: nowhere.test\r\n\r\n");
  EXPECT_EQ(r2.status, 404);
  EXPECT_EQ(http(p.port("http"), get("/only")).status, 200);
  EXPECT_EQ(be.request_count(), 1u);
}

TEST_F(ProxyHttp, ServiceUnavailableWithoutEndpoints) {
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {})));
  ASSERT_TRUE(p.started()) << p.output();
  auto r = http(p.port("http"), get());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("server"), "kop");
}

TEST_F(ProxyHttp, BadGatewayOnConnectFailure) {
  RefusedPort dead;
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {dead.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  auto r = http(p.port("http"), get());
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.header("server"), "kop");
}

TEST_F(ProxyHttp, BadGatewayOnUpstreamProtocolError) {
  Backend be([](const BackendRequest&) {
    BackendResponse r;
    r.raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    r.close_after = true;
    return r;
  });
  ProxyProcess p(dir_, config(forward_all("be", ",\"retry\":{\"num_retries\":0}"),
                              cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  EXPECT_EQ(http(p.port("http"), get()).status, 502);
}

TEST_F(ProxyHttp, GatewayTimeoutOnSlowUpstream) {
  Backend be([](const BackendRequest&) {
    BackendResponse r;
    r.delay_ms = 1500;
    return r;
  });
  ProxyProcess p(dir_,
                 config(forward_all("be", ",\"timeout_ms\":300"), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  auto t0 = std::chrono::steady_clock::now();
  auto r = http(p.port("http"), get());
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.header("server"), "kop");
  EXPECT_LT(ms, 1400);
}

// The route's idle timeout counts the upstream's silences while the body flows: a body that
// trickles a byte every 0.4 s for 3 s passes a 1 s idle timeout; one silent for 2.5 s is cut.
TEST_F(ProxyHttp, IdleTimeoutRenewedByEachPieceOfResponseBody) {
  ThreadServer be([](int fd) {
    std::string in;
    while (in.find("\r\n\r\n") == std::string::npos)
      if (!recv_some(fd, in, 5000)) return;
    bool stall = in.find("GET /stall") == 0;
    if (!send_all(fd, "HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\n")) return;
    for (int i = 0; i < 8; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(stall && i == 4 ? 2500 : 400));
      if (!send_all(fd, "x")) return;
    }
  });
  ProxyProcess p(
      dir_, config(forward_all("be", ",\"idle_timeout_ms\":1000"), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  Response steady = http(p.port("http"), get("/steady"), 10000);
  EXPECT_EQ(steady.status, 200);
  EXPECT_EQ(steady.body, "xxxxxxxx");
  Response cut = http(p.port("http"), get("/stall"), 10000);
  EXPECT_NE(cut.body, "xxxxxxxx");
}

TEST_F(ProxyHttp, RetriesConnectFailureOnAnotherEndpoint) {
  Backend good;
  RefusedPort dead;
  ProxyProcess p(dir_, config(forward_all("be", ",\"retry\":{\"num_retries\":2}"),
                              cluster("be", {dead.address(), good.address()},
                                      ",\"outlier_detection\":{\"enabled\":false}")));
  ASSERT_TRUE(p.started()) << p.output();
  for (int i = 0; i < 10; ++i) {
    auto r = http(p.port("http"), get("/r" + std::to_string(i)));
    EXPECT_EQ(r.status, 200) << i;
  }
  EXPECT_EQ(good.request_count(), 10u);
}

TEST_F(ProxyHttp, RetriesIdempotent5xxPerPolicy) {
  Backend bad([](const BackendRequest&) {
    BackendResponse r;
    r.status = 503;
    r.body = "down\n";
    return r;
  });
  Backend good;
  ProxyProcess p(dir_,
                 config(forward_all("be", ",\"retry\":{\"retry_on\":[\"5xx\"],\"num_retries\":1}"),
                        cluster("be", {bad.address(), good.address()},
                                ",\"outlier_detection\":{\"enabled\":false}")));
  ASSERT_TRUE(p.started()) << p.output();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(http(p.port("http"), get()).status, 200) << i;
  EXPECT_EQ(good.request_count(), 6u);
  EXPECT_GE(bad.request_count(), 2u);
}

TEST_F(ProxyHttp, KeepAliveAndPipeliningAnsweredInOrder) {
  Backend be([](const BackendRequest& q) {
    BackendResponse r;
    r.body = "path=" + q.target;
    if (q.target == "/slow") r.delay_ms = 200;
    return r;
  });
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  int fd = connect_to(p.port("http"));
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, get("/slow") + get("/b") + get("/c", "Connection: close\r\n")));
  auto all = parse_responses(read_until_close(fd, 5000));
  ::close(fd);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].body, "path=/slow");
  EXPECT_EQ(all[1].body, "path=/b");
  EXPECT_EQ(all[2].body, "path=/c");
  EXPECT_EQ(be.request_count(), 3u);
  // The upstream connection was reused for the three requests.
  EXPECT_EQ(be.connections(), 1);
  // Keep-alive with curl: two URLs, one connection.
  auto r = run({"curl", "-sS", "-v", "http://127.0.0.1:" + std::to_string(p.port("http")) + "/1",
                "http://127.0.0.1:" + std::to_string(p.port("http")) + "/2"});
  EXPECT_NE(r.err.find("Re-using existing connection"), std::string::npos) << r.err;
}

TEST_F(ProxyHttp, ChunkedBodiesBothWays) {
  Backend be([](const BackendRequest& q) {
    BackendResponse r;
    r.chunked = true;
    r.body = "echo:" + q.body;
    return r;
  });
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  std::string body(100000, 'x');
  for (size_t i = 0; i < body.size(); i += 7) body[i] = char('a' + i % 26);
  dir_.write("body.bin", body);
  auto r = run({"curl", "-sS", "-H", "Transfer-Encoding: chunked", "--data-binary",
                "@" + dir_.file("body.bin"),
                "http://127.0.0.1:" + std::to_string(p.port("http")) + "/echo"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "echo:" + body);
  auto reqs = be.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("transfer-encoding"), "chunked");
  EXPECT_EQ(reqs[0].body, body);
  // Raw: the response to the client is chunked (unknown length), the body intact.
  auto raw = http(p.port("http"),
                  "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(raw.status, 200);
  EXPECT_EQ(raw.header("transfer-encoding"), "chunked");
  EXPECT_EQ(raw.body, "echo:abcde");
}

TEST_F(ProxyHttp, FixedLengthResponseKeepsContentLength) {
  Backend be([](const BackendRequest&) {
    BackendResponse r;
    r.body = std::string(5000, 'z');
    return r;
  });
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  auto r = http(p.port("http"), get());
  EXPECT_EQ(r.header("content-length"), "5000");
  EXPECT_EQ(r.body.size(), 5000u);
  auto h = http(p.port("http"), "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.header("content-length"), "5000");
}

// An upstream response with no length ends when the upstream closes. Its last bytes and FIN
// often arrive together (one epoll edge): the response must still end at once, not at the
// route's timeout. Repeated, since whether they share an edge depends on timing.
TEST_F(ProxyHttp, CloseDelimitedResponseEndsWhenTheUpstreamCloses) {
  Backend be([](const BackendRequest& q) {
    BackendResponse r;
    r.close_delimited = true;
    r.body = "until close " + q.target;
    return r;
  });
  ProxyProcess p(dir_,
                 config(forward_all("be", ",\"timeout_ms\":30000"), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  for (int i = 0; i < 20; ++i) {
    std::string path = "/" + std::to_string(i);
    auto r = http(p.port("http"), "GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n", 3000);
    ASSERT_EQ(r.status, 200) << "request " << i;
    EXPECT_EQ(r.body, "until close " + path);
    // The client's length is unknown too: the body goes chunked, the connection stays open.
    EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  }
  auto c = run(
      {"curl", "-sS", "--http1.0", "http://127.0.0.1:" + std::to_string(p.port("http")) + "/old"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out, "until close /old");
}

// A client that sends its whole request and then half-closes (`nc -N`, scripts) still gets
// its answer, and then the connection closes: at once, not at a timeout. The socket is corked,
// so the request and the FIN leave in one segment and reach the proxy as one epoll edge, after
// the proxy has accepted the connection and waits for its first bytes.
TEST_F(ProxyHttp, HalfClosedClientGetsItsAnswerThenTheClose) {
  Backend be([](const BackendRequest& q) {
    BackendResponse r;
    if (q.target == "/slow") r.delay_ms = 200;
    r.body = "answer " + q.target;
    return r;
  });
  ProxyProcess p(dir_,
                 config(forward_all("be", ",\"timeout_ms\":30000"), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  for (std::string path : {"/a", "/slow"}) {
    int fd = connect_to(p.port("http"));
    ASSERT_GE(fd, 0);
    int on = 1;
    ASSERT_EQ(::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // accepted, read queued
    ASSERT_TRUE(send_all(fd, "GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n"));
    ::shutdown(fd, SHUT_WR);  // sends the corked request with the FIN
    auto t0 = std::chrono::steady_clock::now();
    std::string got = read_until_close(fd, 3000);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    ::close(fd);
    EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << path << ": " << got;
    EXPECT_NE(got.find("answer " + path), std::string::npos) << got;
    EXPECT_LT(ms, 2500) << path << ": closed only by a timeout";
  }
}

TEST_F(ProxyHttp, LargeStreamingUploadAndDownload) {
  Backend be([](const BackendRequest& q) {
    BackendResponse r;
    r.body = std::string(3 << 20, 'd');
    r.headers.emplace_back("x-got", std::to_string(q.body.size()));
    return r;
  });
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  dir_.write("big.bin", std::string(4 << 20, 'u'));
  auto r = run(
      {"curl", "-sS", "-D", dir_.file("h.txt"), "-o", dir_.file("out.bin"), "--data-binary",
       "@" + dir_.file("big.bin"), "http://127.0.0.1:" + std::to_string(p.port("http")) + "/up"},
      30000);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto h = run({"cat", dir_.file("h.txt")});
  EXPECT_NE(h.out.find("x-got: 4194304"), std::string::npos) << h.out;
  auto sz = run({"stat", "-c", "%s", dir_.file("out.bin")});
  EXPECT_EQ(sz.out, std::to_string(3 << 20) + "\n");
}

TEST_F(ProxyHttp, ExpectContinueAnsweredBeforeBody) {
  Backend be([](const BackendRequest& q) {
    BackendResponse r;
    r.body = "got " + std::to_string(q.body.size());
    return r;
  });
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  int fd = connect_to(p.port("http"));
  ASSERT_TRUE(send_all(
      fd, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"));
  std::string pending;
  Response interim = read_response(fd, pending, 3000);
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(send_all(fd, "0123456789"));
  Response final = read_response(fd, pending, 3000);
  EXPECT_EQ(final.status, 200);
  EXPECT_EQ(final.body, "got 10");
  ::close(fd);
  auto reqs = be.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("expect"), "");
}

TEST_F(ProxyHttp, DirectResponseAndRedirect) {
  std::string routes =
      "{\"match\":{\"exact\":\"/"
      "direct\"},\"direct_response\":{\"status\":418,\"body\":\"teapot\"}},"
      "{\"match\":{\"prefix\":\"/old\"},\"redirect\":{\"path\":\"/new\",\"code\":302}}";
  ProxyProcess p(dir_, config(routes, cluster("be", {})));
  ASSERT_TRUE(p.started()) << p.output();
  auto d = http(p.port("http"), get("/direct"));
  EXPECT_EQ(d.status, 418);
  EXPECT_EQ(d.body, "teapot");
  auto r = http(p.port("http"), get("/old"));
  EXPECT_EQ(r.status, 302);
  EXPECT_NE(r.header("location").find("/new"), std::string::npos);
}

TEST_F(ProxyHttp, WebSocketEchoThroughTheProxy) {
  Backend be;
  std::string routes = forward_all("be", ",\"websocket\":true");
  ProxyProcess p(dir_, config(routes, cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  int fd = connect_to(p.port("http"));
  ASSERT_TRUE(
      send_all(fd,
               "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
  std::string pending;
  Response up = read_response(fd, pending, 3000, true);
  ASSERT_EQ(up.status, 101);
  EXPECT_EQ(up.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // A masked text frame "hello kop".
  std::string payload = "hello kop";
  std::string frame;
  frame.push_back(char(0x81));
  frame.push_back(char(0x80 | payload.size()));
  const char mask[4] = {1, 2, 3, 4};
  frame.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) frame.push_back(char(payload[i] ^ mask[i % 4]));
  ASSERT_TRUE(send_all(fd, frame));
  std::string got = pending;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (got.size() < 2 + payload.size() && std::chrono::steady_clock::now() < deadline) {
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  ASSERT_GE(got.size(), 2 + payload.size());
  EXPECT_EQ(uint8_t(got[0]), 0x81);
  EXPECT_EQ(got.substr(2, payload.size()), payload);
  ::close(fd);
  // Without websocket on the route, the upgrade is not forwarded.
  TempDir d2;
  ProxyProcess p2(d2, config(forward_all(), cluster("be", {be.address()})));
  ASSERT_TRUE(p2.started());
  auto r = http(p2.port("http"),
                "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_EQ(r.status, 200);
}

TEST_F(ProxyHttp, Http2PriorKnowledgeOnPlainListener) {
  Backend be;
  ProxyProcess p(dir_, config(forward_all(), cluster("be", {be.address()})));
  ASSERT_TRUE(p.started()) << p.output();
  auto r = run({"curl", "-sS", "--http2-prior-knowledge", "-w", "\n%{http_version}",
                "http://127.0.0.1:" + std::to_string(p.port("http")) + "/h2c"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "backend " + std::to_string(be.port()) + "\n\n2");
  auto load = run({"h2load", "-n", "500", "-c", "2", "-m", "10",
                   "http://127.0.0.1:" + std::to_string(p.port("http")) + "/"},
                  60000);
  EXPECT_NE(load.out.find("500 succeeded, 0 failed"), std::string::npos) << load.out;
  // HTTP/1.1 still works on the same listener.
  EXPECT_EQ(http(p.port("http"), get()).status, 200);
}

TEST_F(ProxyHttp, ReloadKeepsTheIdleConnectionsOfAReplacedClusterAndOpensNoneAhead) {
  // Pools are made at an endpoint's first request; a reload that replaces the cluster (a new
  // endpoint) carries over the pools that are alive, so the idle connection to a is reused,
  // and c, of a cluster no route uses, never gets a connection.
  Backend a, b, c;
  auto cfg = [&](const std::vector<std::string>& endpoints) {
    std::string s =
        config(forward_all(), cluster("be", endpoints) + "," + cluster("spare", {c.address()}));
    s.replace(s.find("\"workers\":2"), 11, "\"workers\":1");
    return s;
  };
  ProxyProcess p(dir_, cfg({a.address()}));
  ASSERT_TRUE(p.started()) << p.output();
  ASSERT_EQ(http(p.port("http"), get()).status, 200);
  ASSERT_TRUE(p.reload(cfg({a.address(), b.address()}))) << p.output();
  int na = 0;
  for (int i = 0; i < 4; ++i) {
    auto r = http(p.port("http"), get());
    ASSERT_EQ(r.status, 200);
    na += r.body == "backend " + std::to_string(a.port()) + "\n";
  }
  EXPECT_EQ(na, 2);               // round robin over a and b
  EXPECT_EQ(a.connections(), 1);  // the connection from before the reload
  EXPECT_EQ(b.connections(), 1);  // made at b's first request, then reused
  EXPECT_EQ(c.connections(), 0);  // never asked for
}

// ---- smuggling and malformed input: the right status, and nothing leaks upstream.

// max_connections 1 on a slow backend, one worker: the second of two concurrent requests
// waits in the cluster's pending queue for the first one's connection, then succeeds on it.
// With max_pending_requests 0 it is refused with 503 and counted as a pending overflow.
std::string limited_config(const std::string& addr, int max_pending) {
  std::string c = config(
      forward_all("be", ",\"timeout_ms\":5000"),
      cluster("be", {addr},
              ",\"max_connections\":1,\"max_pending_requests\":" + std::to_string(max_pending)));
  c.replace(c.find("\"workers\":2"), 11, "\"workers\":1");
  return c;
}

std::vector<Response> two_concurrent(uint16_t port) {
  std::vector<Response> out(2);
  std::thread a([&] { out[0] = http(port, get("/one")); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // /one holds the connection
  out[1] = http(port, get("/two"));
  a.join();
  return out;
}

TEST_F(ProxyHttp, PendingQueueWaitsForTheConnectionLimit) {
  Backend be([&](const BackendRequest& q) {
    BackendResponse r;
    r.delay_ms = 400;
    r.body = "path=" + q.target;
    return r;
  });
  ProxyProcess p(dir_, limited_config(be.address(), 4));
  ASSERT_TRUE(p.started()) << p.output();
  auto t0 = std::chrono::steady_clock::now();
  auto rs = two_concurrent(p.port("http"));
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[0].body, "path=/one");
  EXPECT_EQ(rs[1].status, 200);
  EXPECT_EQ(rs[1].body, "path=/two");
  EXPECT_GE(ms, 750);  // in sequence on the one connection, not in parallel
  auto m = http(p.admin_port(), get("/metrics"));
  EXPECT_NE(m.body.find("kop_proxy_upstream_rq_pending_total 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("kop_proxy_upstream_rq_pending_overflow_total 0\n"), std::string::npos);
  EXPECT_NE(m.body.find("kop_proxy_upstream_connections_total 1\n"), std::string::npos);
  EXPECT_NE(m.body.find("kop_proxy_upstream_rq_pending_active 0\n"), std::string::npos);
}

TEST_F(ProxyHttp, PendingQueueFullAnswers503AndCountsOverflow) {
  Backend be([](const BackendRequest&) {
    BackendResponse r;
    r.delay_ms = 400;
    return r;
  });
  ProxyProcess p(dir_, limited_config(be.address(), 0));
  ASSERT_TRUE(p.started()) << p.output();
  auto rs = two_concurrent(p.port("http"));
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[1].status, 503);
  EXPECT_EQ(rs[1].header("server"), "kop");
  auto m = http(p.admin_port(), get("/metrics"));
  EXPECT_NE(m.body.find("kop_proxy_upstream_rq_pending_overflow_total 1\n"), std::string::npos)
      << m.body;
}

TEST_F(ProxyHttp, PendingRequestTimesOutWithTheRoute) {
  Backend be([](const BackendRequest&) {
    BackendResponse r;
    r.delay_ms = 1500;
    return r;
  });
  std::string c = limited_config(be.address(), 4);
  c.replace(c.find("\"timeout_ms\":5000"), 17, "\"timeout_ms\":300");
  ProxyProcess p(dir_, c);
  ASSERT_TRUE(p.started()) << p.output();
  auto rs = two_concurrent(p.port("http"));
  EXPECT_EQ(rs[0].status, 504);
  EXPECT_EQ(rs[1].status, 504);  // waited in the queue until the route timeout
  auto m = http(p.admin_port(), get("/metrics"));
  EXPECT_NE(m.body.find("kop_proxy_upstream_rq_pending_active 0\n"), std::string::npos) << m.body;
}

class ProxySmuggling : public ProxyHttp {
 protected:
  void SetUp() override {
    be_ = std::make_unique<Backend>();
    p_ = std::make_unique<ProxyProcess>(
        dir_, config(forward_all(), cluster("be", {be_->address()}),
                     "\"request_header_timeout_ms\":500,\"max_request_header_bytes\":8192,"
                     "\"max_uri_bytes\":1024"));
    ASSERT_TRUE(p_->started()) << p_->output();
  }
  // Sends raw bytes, returns every response until the proxy closes.
  std::vector<Response> send(const std::string& raw) {
    int fd = connect_to(p_->port("http"));
    EXPECT_GE(fd, 0);
    send_all(fd, raw);
    auto out = parse_responses(read_until_close(fd, 3000));
    ::close(fd);
    return out;
  }
  void expect_rejected(const std::string& raw, int status) {
    size_t before = be_->request_count();
    auto rs = send(raw);
    ASSERT_GE(rs.size(), 1u) << raw;
    EXPECT_EQ(rs[0].status, status) << raw;
    EXPECT_EQ(rs.size(), 1u) << "a second response leaked: " << raw;
    // Give a leaked request time to arrive.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(be_->request_count(), before) << "reached the upstream: " << raw;
    for (const auto& r : be_->requests()) EXPECT_NE(r.target, "/smuggled") << raw;
  }
  std::unique_ptr<Backend> be_;
  std::unique_ptr<ProxyProcess> p_;
};

TEST_F(ProxySmuggling, ContentLengthWithTransferEncoding) {
  expect_rejected(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
      400);
}

TEST_F(ProxySmuggling, DuplicateAndInvalidContentLength) {
  expect_rejected(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
      400);
  expect_rejected(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
      400);
}

TEST_F(ProxySmuggling, ObsFoldAndBadCharacters) {
  expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n",
                  400);
  expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400);
  static const char kNul[] = "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n";
  expect_rejected(std::string(kNul, sizeof kNul - 1), 400);
  expect_rejected("GET / HTTP/1.1\nHost: a\n\n", 400);
  expect_rejected("GET http://other.test/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expect_rejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 501);
}

TEST_F(ProxySmuggling, BadChunkSizeStopsTheRequest) {
  size_t before = be_->request_count();
  auto rs = send(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5 ;\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_GE(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 400);
  EXPECT_EQ(rs.size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (const auto& r : be_->requests()) EXPECT_NE(r.target, "/smuggled");
  EXPECT_EQ(be_->request_count(), before);  // the head went up, but no complete request
}

TEST_F(ProxySmuggling, HugeHeadersAndLongUri) {
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 40; ++i)
    big += "X-Pad-" + std::to_string(i) + ": " + std::string(300, 'p') + "\r\n";
  expect_rejected(big + "\r\n", 431);
  expect_rejected("GET /" + std::string(2000, 'u') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414);
  expect_rejected("GET /" + std::string(20000, 'u'), 414);  // never completes the line
}

TEST_F(ProxySmuggling, SlowlorisTimesOut) {
  int fd = connect_to(p_->port("http"));
  ASSERT_GE(fd, 0);
  auto t0 = std::chrono::steady_clock::now();
  send_all(fd, "GET / HTTP/1.1\r\nHost: a\r\n");
  std::string got;
  // Keep dribbling one header line every 100 ms; the proxy must cut us off at ~500 ms.
  for (int i = 0; i < 30; ++i) {
    if (!send_all(fd, "X-" + std::to_string(i) + ": y\r\n")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) got.append(buf, size_t(n));
    if (n == 0) break;
  }
  got += read_until_close(fd, 1000);
  ::close(fd);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_NE(got.find("408"), std::string::npos) << got;
  EXPECT_LT(ms, 2500);
  EXPECT_EQ(be_->request_count(), 0u);
}

TEST_F(ProxySmuggling, IdleKeepAliveIsClosed) {
  TempDir d2;
  ProxyProcess p(d2,
                 config(forward_all(), cluster("be", {be_->address()}), "\"idle_timeout_ms\":300"));
  ASSERT_TRUE(p.started());
  int fd = connect_to(p.port("http"));
  send_all(fd, get());
  std::string pending;
  EXPECT_EQ(read_response(fd, pending).status, 200);
  auto t0 = std::chrono::steady_clock::now();
  std::string rest = read_until_close(fd, 3000);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_TRUE(rest.empty());
  EXPECT_LT(ms, 1500);
  ::close(fd);
}

// HTTP/2 (prior knowledge): the client sends one request and then nothing, not even a SETTINGS
// ack, so the stream's end (the response) comes after the connection's last read. The idle
// timeout must still start then and close the connection.
TEST_F(ProxySmuggling, IdleHttp2ConnectionIsClosedAfterItsLastStream) {
  TempDir d2;
  ProxyProcess p(d2,
                 config(forward_all(), cluster("be", {be_->address()}), "\"idle_timeout_ms\":300"));
  ASSERT_TRUE(p.started());
  int fd = connect_to(p.port("http"));
  std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  out += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);  // empty SETTINGS
  // HEADERS, stream 1, END_STREAM|END_HEADERS: GET http / with :authority "a" (HPACK).
  const std::string block = std::string(
      "\x82\x86\x84\x01\x01"
      "a",
      6);
  out +=
      std::string("\x00\x00", 2) + char(block.size()) + std::string("\x01\x05\x00\x00\x00\x01", 6);
  out += block;
  send_all(fd, out);
  auto t0 = std::chrono::steady_clock::now();
  std::string got = read_until_close(fd, 5000);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ::close(fd);
  EXPECT_EQ(be_->request_count(), 1u);
  EXPECT_GT(got.size(), 9u);  // the server's frames (SETTINGS, HEADERS, DATA, GOAWAY)
  EXPECT_LT(ms, 2000) << "the connection was not closed by the idle timeout";
}

}  // namespace
}  // namespace kop::proxy::e2e
