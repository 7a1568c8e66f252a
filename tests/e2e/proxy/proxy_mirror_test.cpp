// kop-proxy end to end: request mirroring (a forward route's `mirrors`, Gateway API's
// RequestMirror) over real sockets: the mirror backend gets the request with its headers and
// body, the client gets only the main backend's answer, and a dead or stalled mirror or a
// sampled-out one changes nothing for the client.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
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

}  // namespace
}  // namespace kop::proxy::e2e
