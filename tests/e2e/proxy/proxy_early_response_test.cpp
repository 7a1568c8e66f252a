// kop-proxy end to end: a backend that answers before it read the request body (an early 413,
// or a 200 that ignores the body). The client must get that answer, over HTTP/1.1 (keeping its
// connection when the body's rest is small), h2c and h2 over TLS, and its upload must not stall
// (dropped_body.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace kop::proxy::e2e {
namespace {

constexpr int kWaitMs = 10000;

// For each request: reads its head, answers `status` with the body "early", and only then
// reads (and drops) the body its Content-Length declares.
std::function<void(int)> early_backend(int status) {
  return [status](int fd) {
    std::string in;
    for (;;) {
      size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos)
        if (!recv_some(fd, in, kWaitMs)) return;
      size_t body = 0;
      size_t at = in.find("content-length: ");
      if (at != std::string::npos && at < end) body = std::stoul(in.substr(at + 16));
      in.erase(0, end + 4);
      std::string reply =
          "HTTP/1.1 " + std::to_string(status) + " X\r\ncontent-length: 5\r\n\r\nearly";
      if (!send_all(fd, reply)) return;
      while (in.size() < body)
        if (!recv_some(fd, in, kWaitMs)) return;
      in.erase(0, body);
    }
  };
}

class ProxyEarlyResponse : public ::testing::Test {
 protected:
  void SetUp() override { cert_ = make_cert(dir_, "a.example.com"); }
  // Listeners "http" (HTTP/1.1 and h2c) and "https" (ALPN h2), every path to `backend`;
  // `route_extra` goes into the route.
  std::unique_ptr<ProxyProcess> start(const std::string& backend,
                                      const std::string& route_extra = "") {
    std::string cfg =
        "{\"version\":\"kop.proxy/v1\",\"listeners\":[{\"name\":\"http\",\"address\":\"127.0.0.1:"
        "0\"},{\"name\":\"https\",\"address\":\"127.0.0.1:0\",\"tls\":{\"certificates\":[{"
        "\"name\":\"a\",\"server_names\":[\"a.example.com\"],\"cert_file\":\"" +
        cert_.cert_file + "\",\"key_file\":\"" + cert_.key_file +
        "\"}]}}],\"virtual_hosts\":[{\"name\":\"vh\",\"domains\":[\"*\"],\"routes\":[{\"match\":"
        "{\"prefix\":\"/\"},\"forward\":{\"cluster\":\"be\"}" +
        route_extra + "}]}],\"clusters\":[{\"name\":\"be\",\"endpoints\":[{\"address\":\"" +
        backend + "\"}]}],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":1}}";
    auto p = std::make_unique<ProxyProcess>(dir_, cfg);
    EXPECT_TRUE(p->started()) << p->output();
    return p;
  }
  // curl POSTs `bytes` bytes in `mode` ("h1", "h1-no-expect", "h2c", "h2"); returns its
  // "<status> <body>" and exit code.
  CmdResult curl_post(const ProxyProcess& p, const std::string& mode, size_t bytes) {
    std::string file = dir_.file("body-" + std::to_string(bytes));
    dir_.write("body-" + std::to_string(bytes), std::string(bytes, 'b'));
    std::vector<std::string> argv = {
        "curl", "-sS", "--max-time",    "20",      "-w", " %{http_code}",
        "-o",   "-",   "--data-binary", "@" + file};
    if (mode == "h2") {
      uint16_t port = p.port("https");
      argv.insert(argv.end(), {"--http2", "-k", "--resolve",
                               "a.example.com:" + std::to_string(port) + ":127.0.0.1",
                               "https://a.example.com:" + std::to_string(port) + "/up"});
    } else {
      if (mode == "h2c") argv.emplace_back("--http2-prior-knowledge");
      if (mode == "h1-no-expect") argv.insert(argv.end(), {"-H", "Expect:"});
      argv.push_back("http://127.0.0.1:" + std::to_string(p.port("http")) + "/up");
    }
    return run(argv, 30000);
  }
  TempDir dir_;
  Cert cert_;
};

// Every client protocol, a small body and one past the stream window: the answer arrives and
// curl ends at once (an h2 upload stalled on flow control once its response was complete).
TEST_F(ProxyEarlyResponse, CurlGetsTheEarlyAnswerAndItsUploadEnds) {
  ThreadServer be(early_backend(200));
  auto p = start(be.address());
  ASSERT_TRUE(p->started());
  for (const char* mode : {"h1", "h1-no-expect", "h2c", "h2"}) {
    for (size_t bytes : {size_t{2000}, size_t{4} << 20}) {
      auto t0 = std::chrono::steady_clock::now();
      CmdResult r = curl_post(*p, mode, bytes);
      auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_EQ(r.exit_code, 0) << mode << " " << bytes << " B: " << r.err;
      EXPECT_EQ(r.out, "early 200") << mode << " " << bytes << " B";
      EXPECT_LT(secs, 15) << mode << " " << bytes << " B";
    }
  }
}

// An early error on a route's body limit, h2c: curl stops its upload at the 413 and must still
// end cleanly (no RST_STREAM while the stream is closing).
TEST_F(ProxyEarlyResponse, TooLargeH2cUploadGets413) {
  ThreadServer be(early_backend(200));
  auto p = start(be.address(), ",\"max_request_body_bytes\":1000000");
  ASSERT_TRUE(p->started());
  for (const char* mode : {"h2c", "h2", "h1"}) {
    CmdResult r = curl_post(*p, mode, size_t{4} << 20);
    EXPECT_EQ(r.exit_code, 0) << mode << ": " << r.err;
    EXPECT_EQ(r.out, "request body too large\n 413") << mode;
  }
}

// HTTP/1.1: the answer comes before any body byte was sent; the client sends the body after it
// and then another request on the same connection. The body's rest is dropped, the connection
// kept, and the second request goes over a new upstream connection (the proxy cannot know
// whether the backend that answered early read the body).
void early_answer_then_next_request(uint16_t port, bool expect_continue, int status,
                                    ThreadServer& be) {
  int fd = connect_to(port);
  ASSERT_GE(fd, 0);
  std::string head = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n";
  if (expect_continue) head += "Expect: 100-continue\r\n";
  ASSERT_TRUE(send_all(fd, head + "\r\n"));
  std::string pending;
  if (expect_continue) {
    Response interim = read_response(fd, pending, kWaitMs);
    EXPECT_EQ(interim.status, 100);
  }
  Response first = read_response(fd, pending, kWaitMs);
  EXPECT_EQ(first.status, status);
  EXPECT_EQ(first.body, "early");
  EXPECT_EQ(first.header("connection"), "") << "the connection should stay";
  ASSERT_TRUE(send_all(fd, std::string(2000, 'b') + "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
  Response second = read_response(fd, pending, kWaitMs);
  EXPECT_EQ(second.status, status);
  EXPECT_EQ(second.body, "early");
  ::close(fd);
  EXPECT_EQ(be.accepted(), 2) << "the upstream connection of the early answer was reused";
}

TEST_F(ProxyEarlyResponse, Http1DropsTheBodyAndKeepsTheConnection) {
  ThreadServer be(early_backend(200));
  auto p = start(be.address());
  ASSERT_TRUE(p->started());
  early_answer_then_next_request(p->port("http"), false, 200, be);
}

TEST_F(ProxyEarlyResponse, Http1WithExpectContinueDropsTheBodyAndKeepsTheConnection) {
  ThreadServer be(early_backend(413));
  auto p = start(be.address());
  ASSERT_TRUE(p->started());
  early_answer_then_next_request(p->port("http"), true, 413, be);
}

// Past the bounds: a body's rest larger than the proxy drops closes the connection after the
// answer; a small rest that does not come in time too.
TEST_F(ProxyEarlyResponse, Http1ClosesPastTheBounds) {
  ThreadServer be(early_backend(200));
  auto p = start(be.address());
  ASSERT_TRUE(p->started());
  {
    int fd = connect_to(p->port("http"));
    ASSERT_TRUE(send_all(fd, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000\r\n\r\n"));
    std::string pending;
    Response r = read_response(fd, pending, kWaitMs);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("connection"), "close");
    ::close(fd);
  }
  int fd = connect_to(p->port("http"));
  ASSERT_TRUE(send_all(fd, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n"));
  std::string pending;
  Response r = read_response(fd, pending, kWaitMs);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("connection"), "");
  // The rest never comes: the connection ends after the time bound (5 s), well before 15 s.
  auto t0 = std::chrono::steady_clock::now();
  std::string rest = read_until_close(fd, 15000);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rest, "");
  EXPECT_LT(secs, 14);
  ::close(fd);
}

}  // namespace
}  // namespace kop::proxy::e2e
