// The `server` response header under each server.server_header policy (overwrite,
// append_if_absent, pass_through), over HTTP/1.1 and HTTP/2 (h2c), for proxied responses from a
// backend that sends its own Server header and one that sends none, and for the proxy's own
// answers (no route, a malformed request).
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "h2_wire.h"
#include "harness.h"

namespace kop::proxy::e2e {
namespace {

struct Expect {
  const char* policy;  // "" = the default
  const char* with_upstream_server;
  const char* without_upstream_server;
  const char* local_reply;
};

void PrintTo(const Expect& e, std::ostream* os) {
  *os << (*e.policy ? e.policy : "default");
}

class ProxyServerHeader : public ::testing::TestWithParam<Expect> {
 protected:
  ProxyServerHeader()
      : with_([](const BackendRequest&) {
          BackendResponse r;
          r.headers = {{"Server", "upstream/1.0"}};
          r.body = "with\n";
          return r;
        }) {}
  void SetUp() override {
    std::string policy = GetParam().policy;
    auto cluster = [](const char* name, const Backend& be) {
      return std::string("{\"name\":\"") + name + "\",\"endpoints\":[{\"address\":\"" +
             be.address() + "\"}]}";
    };
    auto route = [](const char* prefix, const char* cluster) {
      return std::string("{\"match\":{\"prefix\":\"") + prefix + "\"},\"forward\":{\"cluster\":\"" +
             cluster + "\"}}";
    };
    proxy_ = std::make_unique<ProxyProcess>(
        dir_,
        "{\"version\":\"kop.proxy/v1\",\"listeners\":[{\"name\":\"http\",\"address\":\"127.0.0.1:"
        "0\"}],\"virtual_hosts\":[{\"name\":\"vh\",\"domains\":[\"*\"],\"routes\":[" +
            route("/with", "with") + "," + route("/without", "without") + "]}],\"clusters\":[" +
            cluster("with", with_) + "," + cluster("without", without_) +
            "],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":1" +
            (policy.empty() ? "" : ",\"server_header\":\"" + policy + "\"") + "}}");
    ASSERT_TRUE(proxy_->started()) << proxy_->output();
  }
  // The server header values of an HTTP/1.1 response, joined by "|" ("" when none).
  std::string h1(const std::string& request) {
    std::string all;
    for (const auto& [n, v] : http(proxy_->port("http"), request).headers)
      if (n == "server") all += (all.empty() ? "" : "|") + v;
    return all;
  }
  std::string h1_get(const std::string& path) {
    return h1("GET " + path + " HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
  }
  std::string h2_get(const std::string& path) {
    auto w = h2::Wire::plain(proxy_->port("http"));
    EXPECT_TRUE(w && w->start());
    if (!w) return "?";
    EXPECT_TRUE(w->send(h2::headers(1, h2::request_block("GET", "example.com", path),
                                    h2::kEndHeaders | h2::kEndStream)));
    h2::StreamResult r = w->await_stream(1, 5000);
    EXPECT_NE(r.status(), 0);
    std::string all;
    for (const auto& [n, v] : r.headers)
      if (n == "server") all += (all.empty() ? "" : "|") + v;
    return all;
  }

  TempDir dir_;
  Backend with_;
  Backend without_;
  std::unique_ptr<ProxyProcess> proxy_;
};

INSTANTIATE_TEST_SUITE_P(Policies, ProxyServerHeader,
                         ::testing::Values(Expect{"", "kop", "kop", "kop"},
                                           Expect{"overwrite", "kop", "kop", "kop"},
                                           Expect{"append_if_absent", "upstream/1.0", "kop", "kop"},
                                           Expect{"pass_through", "upstream/1.0", "", ""}),
                         [](const auto& info) {
                           return std::string(*info.param.policy ? info.param.policy : "default");
                         });

TEST_P(ProxyServerHeader, Http1ProxiedResponses) {
  EXPECT_EQ(h1_get("/with"), GetParam().with_upstream_server);
  EXPECT_EQ(h1_get("/without"), GetParam().without_upstream_server);
}

TEST_P(ProxyServerHeader, Http2ProxiedResponses) {
  EXPECT_EQ(h2_get("/with"), GetParam().with_upstream_server);
  EXPECT_EQ(h2_get("/without"), GetParam().without_upstream_server);
}

TEST_P(ProxyServerHeader, TheProxysOwnAnswers) {
  EXPECT_EQ(h1_get("/nowhere"), GetParam().local_reply);  // 404 no route
  EXPECT_EQ(h2_get("/nowhere"), GetParam().local_reply);
  // A malformed request, answered before any routing.
  EXPECT_EQ(h1("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), GetParam().local_reply);
}

TEST_P(ProxyServerHeader, RequestServerHeaderReachesTheBackend) {
  // `server` is a response field; one sent in a request is the client's business.
  http(proxy_->port("http"),
       "GET /without HTTP/1.1\r\nHost: example.com\r\nServer: client/2\r\nConnection: "
       "close\r\n\r\n");
  auto reqs = without_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("server"), "client/2");
}

}  // namespace
}  // namespace kop::proxy::e2e
