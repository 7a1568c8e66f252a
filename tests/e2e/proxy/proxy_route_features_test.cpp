// kop-proxy end to end: the route features Gateway API's extended HTTPRoute support uses
// (method and query parameter matches, full-path and host rewrites, per-backend headers and
// directly answered weight shares, CORS, a per-try timeout without retries, retries with a
// backoff), and those ingress-nginx's annotations use (the request body limit, source ranges,
// basic auth on a kept-alive connection across a reload, response pacing), with real curl and
// real backends on loopback.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace kop::proxy::e2e {
namespace {

// Each backend answers with its own name, so a response tells which route was taken.
Backend::Handler named(const std::string& name) {
  return [name](const BackendRequest&) {
    BackendResponse r;
    r.body = name;
    return r;
  };
}

std::string cluster(const std::string& name, const Backend& be) {
  return "{\"name\":\"" + name + "\",\"endpoints\":[{\"address\":\"" + be.address() + "\"}]}";
}

std::string config(const std::string& routes, const std::vector<std::string>& clusters) {
  std::string cs;
  for (const auto& c : clusters) cs += (cs.empty() ? "" : ",") + c;
  return "{\"version\":\"kop.proxy/v1\",\"listeners\":[{\"name\":\"http\",\"address\":\"127.0.0."
         "1:0\"}],\"virtual_hosts\":[{\"name\":\"vh\",\"domains\":[\"*\"],\"routes\":[" +
         routes + "]}],\"clusters\":[" + cs +
         "],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":1}}";
}

struct CurlAnswer {
  int status = 0;
  std::string body;
};

// curl -X method [-H header]... http://127.0.0.1:port<target>
CurlAnswer curl(uint16_t port, const std::string& method, const std::string& target,
                const std::vector<std::string>& headers = {}) {
  std::vector<std::string> argv = {"curl", "-sS", "-o", "-", "-w", "\n%{http_code}"};
  // -X HEAD would wait for the body the Content-Length announces; -I knows there is none.
  if (method == "HEAD") {
    argv.emplace_back("-I");
  } else {
    argv.emplace_back("-X");
    argv.push_back(method);
  }
  for (const auto& h : headers) {
    argv.emplace_back("-H");
    argv.push_back(h);
  }
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + target);
  CmdResult r = run(argv);
  CurlAnswer a;
  if (r.exit_code != 0) return a;
  size_t nl = r.out.rfind('\n');
  a.body = r.out.substr(0, nl);
  a.status = std::stoi(r.out.substr(nl + 1));
  return a;
}

class ProxyRouteFeatures : public ::testing::Test {
 protected:
  TempDir dir_;
  Backend v1_{named("v1")}, v2_{named("v2")}, v3_{named("v3")};
  std::vector<std::string> clusters() const {
    return {cluster("v1", v1_), cluster("v2", v2_), cluster("v3", v3_)};
  }
};

TEST_F(ProxyRouteFeatures, MethodMatchingAndItsPrecedence) {
  // HTTPRouteMethodMatching's rules and requests.
  std::string routes = R"(
    {"match":{"method":"POST"},"forward":{"cluster":"v1"}},
    {"match":{"method":"GET"},"forward":{"cluster":"v2"}},
    {"match":{"prefix":"/path1","method":"GET"},"forward":{"cluster":"v1"}},
    {"match":{"method":"PUT","headers":[{"name":"version","exact":"one"}]},
     "forward":{"cluster":"v2"}},
    {"match":{"prefix":"/path2","method":"POST","headers":[{"name":"version","exact":"two"}]},
     "forward":{"cluster":"v3"}},
    {"match":{"prefix":"/path3","method":"PATCH"},"forward":{"cluster":"v1"}},
    {"match":{"prefix":"/path4","method":"DELETE","headers":[{"name":"version","exact":"three"}]},
     "forward":{"cluster":"v1"}},
    {"match":{"prefix":"/path5"},"forward":{"cluster":"v1"}},
    {"match":{"method":"PATCH"},"forward":{"cluster":"v2"}},
    {"match":{"headers":[{"name":"version","exact":"four"}]},"forward":{"cluster":"v3"}})";
  ProxyProcess p(dir_, config(routes, clusters()));
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("http");
  struct Case {
    std::string method, path;
    std::vector<std::string> headers;
    int status;
    std::string body;
  };
  const Case cases[] = {
      {"POST", "/", {}, 200, "v1"},
      {"GET", "/", {}, 200, "v2"},
      {"HEAD", "/", {}, 404, ""},
      {"GET", "/path1", {}, 200, "v1"},
      {"PUT", "/", {"version: one"}, 200, "v2"},
      {"POST", "/path2", {"version: two"}, 200, "v3"},
      {"PATCH", "/path3", {}, 200, "v1"},
      {"DELETE", "/path4", {"version: three"}, 200, "v1"},
      {"PUT", "/", {}, 404, ""},
      {"DELETE", "/path4", {}, 404, ""},
      {"PATCH", "/path5", {}, 200, "v1"},
      {"PATCH", "/", {"version: four"}, 200, "v2"},
  };
  for (const Case& c : cases) {
    CurlAnswer a = curl(port, c.method, c.path, c.headers);
    EXPECT_EQ(a.status, c.status) << c.method << " " << c.path;
    if (c.status == 200) {
      EXPECT_EQ(a.body, c.body) << c.method << " " << c.path;
    }
  }
}

TEST_F(ProxyRouteFeatures, QueryParamMatchingAndItsPrecedence) {
  // HTTPRouteQueryParamMatching's rules and requests.
  std::string routes = R"(
    {"match":{"query_params":[{"name":"animal","exact":"whale"}]},"forward":{"cluster":"v1"}},
    {"match":{"query_params":[{"name":"animal","exact":"dolphin"}]},"forward":{"cluster":"v2"}},
    {"match":{"query_params":[{"name":"animal","exact":"dolphin"},{"name":"color","exact":"blue"}]},
     "forward":{"cluster":"v3"}},
    {"match":{"query_params":[{"name":"ANIMAL","exact":"Whale"}]},"forward":{"cluster":"v3"}},
    {"match":{"prefix":"/path1","query_params":[{"name":"animal","exact":"whale"}]},
     "forward":{"cluster":"v1"}},
    {"match":{"headers":[{"name":"version","exact":"one"}],
              "query_params":[{"name":"animal","exact":"whale"}]},"forward":{"cluster":"v2"}},
    {"match":{"prefix":"/path2","headers":[{"name":"version","exact":"two"}],
              "query_params":[{"name":"animal","exact":"whale"}]},"forward":{"cluster":"v3"}},
    {"match":{"prefix":"/path3","query_params":[{"name":"animal","exact":"shark"}]},
     "forward":{"cluster":"v1"}},
    {"match":{"prefix":"/path4","headers":[{"name":"version","exact":"three"}],
              "query_params":[{"name":"animal","exact":"kraken"}]},"forward":{"cluster":"v1"}},
    {"match":{"prefix":"/path5"},"forward":{"cluster":"v1"}},
    {"match":{"query_params":[{"name":"animal","exact":"hydra"}]},"forward":{"cluster":"v2"}},
    {"match":{"headers":[{"name":"version","exact":"four"}]},"forward":{"cluster":"v3"}},
    {"match":{"prefix":"/re","query_params":[{"name":"id","regex":"[0-9]+"}]},
     "forward":{"cluster":"v2"}})";
  ProxyProcess p(dir_, config(routes, clusters()));
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("http");
  struct Case {
    std::string target;
    std::vector<std::string> headers;
    int status;
    std::string body;
  };
  const Case cases[] = {
      {"/?animal=whale", {}, 200, "v1"},
      {"/?animal=dolphin", {}, 200, "v2"},
      {"/?animal=dolphin&color=blue", {}, 200, "v3"},
      {"/?ANIMAL=Whale", {}, 200, "v3"},
      {"/?animal=whale&otherparam=irrelevant", {}, 200, "v1"},
      {"/?animal=dolphin&color=yellow", {}, 200, "v2"},
      {"/?color=blue", {}, 404, ""},
      {"/?animal=dog", {}, 404, ""},
      {"/?animal=whaledolphin", {}, 404, ""},
      {"/", {}, 404, ""},
      {"/path1?animal=whale", {}, 200, "v1"},
      {"/?animal=whale", {"version: one"}, 200, "v2"},
      {"/path2?animal=whale", {"version: two"}, 200, "v3"},
      {"/path3?animal=shark", {}, 200, "v1"},
      {"/path4?animal=kraken", {"version: three"}, 200, "v1"},
      {"/?animal=shark", {}, 404, ""},
      {"/path4?animal=kraken", {}, 404, ""},
      {"/path5?animal=hydra", {}, 200, "v1"},
      {"/?animal=hydra", {"version: four"}, 200, "v3"},
      {"/re?id=17", {}, 200, "v2"},
      {"/re?id=17a", {}, 404, ""},
  };
  for (const Case& c : cases) {
    CurlAnswer a = curl(port, "GET", c.target, c.headers);
    EXPECT_EQ(a.status, c.status) << c.target;
    if (c.status == 200) {
      EXPECT_EQ(a.body, c.body) << c.target;
    }
  }
  // The query string still reaches the backend as sent.
  EXPECT_EQ(v1_.requests().back().target, "/path5?animal=hydra");
}

TEST_F(ProxyRouteFeatures, FullPathAndHostRewrite) {
  // HTTPRouteRewritePath (ReplaceFullPath) and HTTPRouteRewriteHost.
  std::string routes = R"(
    {"match":{"prefix":"/full"},"forward":{"cluster":"v1","path_rewrite":"/one"}},
    {"match":{"prefix":"/host"},"forward":{"cluster":"v1","host_rewrite":"one.example.org"}},
    {"match":{"prefix":"/both"},
     "forward":{"cluster":"v1","path_rewrite":"/two","host_rewrite":"two.example.org"},
     "request_headers":{"set":[{"name":"x-header-set","value":"set-overwrites-values"}]}})";
  ProxyProcess p(dir_, config(routes, clusters()));
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("http");
  EXPECT_EQ(curl(port, "GET", "/full/one/two").status, 200);
  EXPECT_EQ(curl(port, "GET", "/full?a=b", {"Host: rewrite.example"}).status, 200);
  EXPECT_EQ(curl(port, "GET", "/host/path", {"Host: rewrite.example"}).status, 200);
  EXPECT_EQ(curl(port, "GET", "/both/x", {"x-header-set: old"}).status, 200);
  // HTTP/2 (prior knowledge) has its :authority replaced the same way.
  CmdResult h2 = run({"curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-H",
                      "Host: h2.example", "http://127.0.0.1:" + std::to_string(port) + "/host/h2"});
  EXPECT_EQ(h2.exit_code, 0) << h2.err;
  auto reqs = v1_.requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[0].target, "/one");
  EXPECT_EQ(reqs[1].target, "/one?a=b");
  EXPECT_EQ(reqs[1].header("host"), "rewrite.example");
  EXPECT_EQ(reqs[2].target, "/host/path");
  EXPECT_EQ(reqs[2].header("host"), "one.example.org");
  EXPECT_EQ(reqs[2].count("host"), 1);
  EXPECT_EQ(reqs[2].header("x-forwarded-host"), "rewrite.example");
  EXPECT_EQ(reqs[3].target, "/two");
  EXPECT_EQ(reqs[3].header("host"), "two.example.org");
  EXPECT_EQ(reqs[3].header("x-header-set"), "set-overwrites-values");
  EXPECT_EQ(reqs[4].header("host"), "one.example.org");
  EXPECT_EQ(reqs[4].count("host"), 1);
}

TEST_F(ProxyRouteFeatures, WeightedEntriesCarryTheirHeadersOrAnswerDirectly) {
  // Gateway API backendRef filters (per backend header changes) and the 500 share of invalid
  // backendRefs: v1 and v2 a quarter each, half answered 500 by the proxy.
  std::string routes = R"(
    {"match":{"prefix":"/"},"forward":{"clusters":[
      {"cluster":"v1","request_headers":{"set":[{"name":"x-backend","value":"one"}],
                                         "remove":["x-drop"]},
       "response_headers":{"add":[{"name":"x-served-by","value":"one"}]}},
      {"cluster":"v2"},
      {"direct_status":500,"weight":2}]},
     "request_headers":{"add":[{"name":"x-route","value":"r"}]}})";
  ProxyProcess p(dir_, config(routes, clusters()));
  ASSERT_TRUE(p.started()) << p.output();
  const int n = 200;
  std::map<std::string, int> seen;
  for (int i = 0; i < n; ++i) {
    Response r =
        http(p.port("http"),
             "GET /x HTTP/1.1\r\nHost: example.com\r\nx-drop: 1\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(r.ok());
    std::string key = r.status == 500 ? "500" : r.body;
    ++seen[key];
    EXPECT_EQ(r.header("x-served-by"), key == "v1" ? "one" : "") << key;
  }
  // Binomial: a quarter is 50 +- 6.1, a half 100 +- 7.1; these bounds are about 4 sigma.
  EXPECT_GT(seen["500"], 70);
  EXPECT_LT(seen["500"], 130);
  EXPECT_GT(seen["v1"], 25);
  EXPECT_GT(seen["v2"], 25);
  EXPECT_EQ(seen["v1"] + seen["v2"] + seen["500"], n);
  for (const BackendRequest& r : v1_.requests()) {
    EXPECT_EQ(r.header("x-backend"), "one");
    EXPECT_EQ(r.count("x-drop"), 0);
    EXPECT_EQ(r.header("x-route"), "r");
  }
  for (const BackendRequest& r : v2_.requests()) {
    EXPECT_EQ(r.count("x-backend"), 0);
    EXPECT_EQ(r.header("x-drop"), "1");
    EXPECT_EQ(r.header("x-route"), "r");
  }
}

TEST_F(ProxyRouteFeatures, CorsPreflightAnsweredAndResponsesMarked) {
  // HTTPRouteCORS's two routes and requests.
  std::string routes = R"(
    {"match":{"prefix":"/cors-1"},"forward":{"cluster":"v1"},"cors":{
      "allow_origins":["https://www.foo.com","https://*.bar.com"],
      "allow_methods":["GET","OPTIONS"],"allow_headers":["x-header-1","x-header-2"],
      "expose_headers":["x-header-3","x-header-4"],"allow_credentials":true,"max_age":3600}},
    {"match":{"prefix":"/cors-2"},"forward":{"cluster":"v1"},"cors":{
      "allow_origins":["https://www.foo.com"],"allow_methods":["*"]}})";
  ProxyProcess p(dir_, config(routes, clusters()));
  ASSERT_TRUE(p.started()) << p.output();
  auto request = [&](const std::string& method, const std::string& path,
                     const std::string& fields) {
    return http(p.port("http"), method + " " + path +
                                    " HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n" +
                                    fields + "\r\n");
  };
  const std::string preflight =
      "access-control-request-method: GET\r\naccess-control-request-headers: x-header-1, "
      "x-header-2\r\n";
  for (const std::string origin :
       {"https://www.foo.com", "https://www.bar.com", "https://xpto.www.bar.com"}) {
    std::string fields = "Origin: " + origin + "\r\n";
    fields += preflight;
    Response r = request("OPTIONS", "/cors-1", fields);
    EXPECT_EQ(r.status, 200) << origin;
    EXPECT_EQ(r.header("access-control-allow-origin"), origin);
    EXPECT_EQ(r.header("access-control-allow-methods"), "GET, OPTIONS");
    EXPECT_EQ(r.header("access-control-allow-headers"), "x-header-1, x-header-2");
    EXPECT_EQ(r.header("access-control-expose-headers"), "x-header-3, x-header-4");
    EXPECT_EQ(r.header("access-control-max-age"), "3600");
    EXPECT_EQ(r.header("access-control-allow-credentials"), "true");
  }
  // A preflight from another origin is refused, unmarked; no preflight reaches the backend.
  Response other = request("OPTIONS", "/cors-1", "Origin: https://foobar.com\r\n" + preflight);
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(other.header("access-control-allow-origin"), "");
  EXPECT_EQ(v1_.request_count(), 0u);
  // Actual requests: the allowed origin's response is marked, another's is not.
  Response simple = request("GET", "/cors-1", "Origin: https://www.foo.com\r\n");
  EXPECT_EQ(simple.body, "v1");
  EXPECT_EQ(simple.header("access-control-allow-origin"), "https://www.foo.com");
  EXPECT_EQ(simple.header("access-control-allow-credentials"), "true");
  EXPECT_EQ(simple.header("access-control-expose-headers"), "x-header-3, x-header-4");
  Response wildcard = request("GET", "/cors-1", "Origin: https://www.bar.com\r\n");
  EXPECT_EQ(wildcard.header("access-control-allow-origin"), "https://www.bar.com");
  Response denied = request("GET", "/cors-1", "Origin: https://foobar.com\r\n");
  EXPECT_EQ(denied.body, "v1");
  EXPECT_EQ(denied.header("access-control-allow-origin"), "");
  // "*" methods answer the requested one; no credentials field when they are not allowed.
  Response post = request("OPTIONS", "/cors-2",
                          "Origin: https://www.foo.com\r\naccess-control-request-method: POST\r\n");
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(post.header("access-control-allow-methods"), "POST");
  EXPECT_EQ(post.header("access-control-allow-origin"), "https://www.foo.com");
  EXPECT_EQ(post.header("access-control-allow-credentials"), "");
  // HTTP/2: the preflight answered the same way (curl, h2c prior knowledge).
  CmdResult h2 =
      run({"curl", "-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-X", "OPTIONS",
           "-H", "Origin: https://www.foo.com", "-H", "Access-Control-Request-Method: GET",
           "http://127.0.0.1:" + std::to_string(p.port("http")) + "/cors-1"});
  EXPECT_EQ(h2.exit_code, 0) << h2.err;
  EXPECT_NE(h2.out.find("HTTP/2 200"), std::string::npos) << h2.out;
  EXPECT_NE(h2.out.find("access-control-allow-origin: https://www.foo.com"), std::string::npos)
      << h2.out;
}

TEST_F(ProxyRouteFeatures, BackendRequestTimeoutWithoutRetries) {
  // Gateway API timeouts.backendRequest is rendered as a per-try timeout on a route without
  // retries: a backend slower than it gets 504, a faster one answers.
  Backend slow([](const BackendRequest& r) {
    BackendResponse out;
    out.delay_ms = r.target == "/slow" ? 2000 : 0;
    out.body = "slow-backend";
    return out;
  });
  std::string routes = R"(
    {"match":{"prefix":"/"},"forward":{"cluster":"slow","timeout_ms":10000,
     "retry":{"per_try_timeout_ms":300}}})";
  ProxyProcess p(dir_, config(routes, {cluster("slow", slow)}));
  ASSERT_TRUE(p.started()) << p.output();
  EXPECT_EQ(curl(p.port("http"), "GET", "/slow").status, 504);
  CurlAnswer fast = curl(p.port("http"), "GET", "/fast");
  EXPECT_EQ(fast.status, 200);
  EXPECT_EQ(fast.body, "slow-backend");
}

// A backend failing the first `failures` requests of each target with `status`, then answering
// 200; it keeps when each request arrived.
class FlakyBackend {
 public:
  using Clock = std::chrono::steady_clock;
  FlakyBackend(int status, int failures)
      : be_([this, status, failures](const BackendRequest& q) {
          std::lock_guard<std::mutex> lock(mu_);
          std::vector<Clock::time_point>& seen = arrivals_[q.target];
          seen.push_back(Clock::now());
          BackendResponse r;
          r.status = int(seen.size()) <= failures ? status : 200;
          r.body = "try " + std::to_string(seen.size());
          return r;
        }) {}
  // Outlier detection off: the failures are the test's, the endpoint must stay in.
  std::string cluster(const std::string& name) const {
    return "{\"name\":\"" + name + "\",\"endpoints\":[{\"address\":\"" + be_.address() +
           "\"}],\"outlier_detection\":{\"enabled\":false}}";
  }
  std::vector<Clock::time_point> arrivals(const std::string& target) {
    std::lock_guard<std::mutex> lock(mu_);
    return arrivals_[target];
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<Clock::time_point>> arrivals_;
  Backend be_;
};

TEST_F(ProxyRouteFeatures, RetriesWaitTheirBackoffWithinTheRouteTimeout) {
  // Gateway API retry: listed codes (a 4xx too), `backoff_ms` between attempts, and the route
  // timeout covering the first try and every retry.
  FlakyBackend flaky(500, 2), limited(429, 1), down(503, 1000);
  std::string routes = R"(
    {"match":{"prefix":"/flaky"},"forward":{"cluster":"flaky","timeout_ms":20000,
     "retry":{"retry_on":["retriable-status-codes"],"retriable_status_codes":[500],
              "num_retries":3,"backoff_ms":300}}},
    {"match":{"prefix":"/limited"},"forward":{"cluster":"limited","timeout_ms":20000,
     "retry":{"retry_on":["retriable-status-codes"],"retriable_status_codes":[429],
              "num_retries":1}}},
    {"match":{"prefix":"/down"},"forward":{"cluster":"down","timeout_ms":1000,
     "retry":{"retry_on":["retriable-status-codes"],"retriable_status_codes":[503],
              "num_retries":10,"backoff_ms":400}}})";
  ProxyProcess p(dir_, config(routes, {flaky.cluster("flaky"), limited.cluster("limited"),
                                       down.cluster("down")}));
  ASSERT_TRUE(p.started()) << p.output();

  CurlAnswer a = curl(p.port("http"), "GET", "/flaky");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "try 3");
  auto seen = flaky.arrivals("/flaky");
  ASSERT_EQ(seen.size(), 3U);
  for (size_t i = 1; i < seen.size(); ++i)  // never sooner than the backoff; later is allowed
    EXPECT_GE(seen[i] - seen[i - 1], std::chrono::milliseconds(300)) << i;

  CurlAnswer b = curl(p.port("http"), "GET", "/limited");
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(b.body, "try 2");

  // 10 retries 400 ms apart cannot fit in the route's 1 s: the timeout answers, mid-backoff.
  EXPECT_EQ(curl(p.port("http"), "GET", "/down").status, 504);
  EXPECT_LE(down.arrivals("/down").size(), 4U);
}

// POSTs `size` bytes with curl (HTTP/1.1 with Content-Length or chunked, or h2c): the status.
int curl_post(uint16_t port, const std::string& path, size_t size, const std::string& mode) {
  std::vector<std::string> argv = {"curl",         "-s",         "-o", "/dev/null",     "-w",
                                   "%{http_code}", "--max-time", "10", "--data-binary", "@-"};
  if (mode == "chunked") argv.insert(argv.end(), {"-H", "Transfer-Encoding: chunked"});
  if (mode == "h2c") argv.emplace_back("--http2-prior-knowledge");
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  CmdResult r = run(argv, 20000, std::string(size, 'x'));
  return std::atoi(r.out.c_str());
}

TEST_F(ProxyRouteFeatures, RequestBodyLimitAnswers413) {
  std::string routes = R"(
    {"match":{"prefix":"/limited"},"forward":{"cluster":"v1"},"max_request_body_bytes":1024},
    {"match":{"prefix":"/"},"forward":{"cluster":"v2"}})";
  ProxyProcess p(dir_, config(routes, clusters()));
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("http");
  // A declared length past the limit never reaches the backend.
  EXPECT_EQ(curl_post(port, "/limited", 1025, "length"), 413);
  EXPECT_EQ(curl_post(port, "/limited", 4 << 20, "length"), 413);
  EXPECT_EQ(v1_.request_count(), 0u);
  EXPECT_EQ(curl_post(port, "/limited", 1024, "length"), 200);
  // Bodies without a declared length are counted as they stream.
  EXPECT_EQ(curl_post(port, "/limited", 1024, "chunked"), 200);
  EXPECT_EQ(curl_post(port, "/limited", 1025, "chunked"), 413);
  EXPECT_EQ(curl_post(port, "/limited", 300000, "chunked"), 413);
  EXPECT_EQ(curl_post(port, "/limited", 1000, "h2c"), 200);
  EXPECT_EQ(curl_post(port, "/limited", 2000, "h2c"), 413);
  // Other routes have no limit; the proxy serves on.
  EXPECT_EQ(curl_post(port, "/", 300000, "chunked"), 200);
  EXPECT_EQ(curl(port, "GET", "/").status, 200);
}

TEST_F(ProxyRouteFeatures, SourceRangesJudgeThePeerAddress) {
  std::string routes = R"(
    {"match":{"prefix":"/deny"},"forward":{"cluster":"v1"},
     "source_ranges":{"allow":["127.0.0.0/8"],"deny":["127.0.0.1"]}},
    {"match":{"prefix":"/ten"},"forward":{"cluster":"v1"},"source_ranges":{"allow":["10.0.0.0/8"]}},
    {"match":{"prefix":"/v6"},"forward":{"cluster":"v1"},"source_ranges":{"allow":["::/0"]}},
    {"match":{"prefix":"/redirect"},"redirect":{"host":"a.example.com"},
     "source_ranges":{"deny":["127.0.0.0/8"]}},
    {"match":{"prefix":"/loop"},"forward":{"cluster":"v1"},"source_ranges":{"allow":["127.0.0.0/8"]}})";
  ProxyProcess p(dir_, config(routes, clusters()));
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("http");
  EXPECT_EQ(curl(port, "GET", "/deny").status, 403);
  EXPECT_EQ(curl(port, "GET", "/ten").status, 403);
  // A forwarding header is not the client: the TCP peer is.
  EXPECT_EQ(curl(port, "GET", "/ten", {"X-Forwarded-For: 10.1.2.3", "X-Real-IP: 10.1.2.3"}).status,
            403);
  EXPECT_EQ(curl(port, "GET", "/v6").status, 403);  // IPv6 ranges do not cover IPv4 clients
  EXPECT_EQ(curl(port, "GET", "/redirect").status, 403);
  EXPECT_EQ(v1_.request_count(), 0u);
  CurlAnswer ok = curl(port, "GET", "/loop");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "v1");
}

// A connection remembers the credentials last allowed on it (basic_auth.h) only for the route
// as compiled: after a reload that changes the password, the same connection's old credentials
// get 401 and the new ones pass.
TEST_F(ProxyRouteFeatures, BasicAuthOnAKeptAliveConnectionFollowsAReload) {
  auto routes = [](const std::string& hash) {
    return R"({"match":{"prefix":"/auth"},"forward":{"cluster":"v1"},
               "basic_auth":{"realm":"R","users":[{"name":"ann","hash":")" +
           hash + R"("}]}})";
  };
  const std::string bar = "{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=";          // password "bar"
  const std::string baz = "{SHA}u+lgol6jEdIdQGaek98gA7qbkKI=";          // password "baz"
  const std::string ann_bar = "Authorization: Basic YW5uOmJhcg==\r\n";  // ann:bar
  const std::string ann_baz = "Authorization: Basic YW5uOmJheg==\r\n";  // ann:baz
  ProxyProcess p(dir_, config(routes(bar), clusters()));
  ASSERT_TRUE(p.started()) << p.output();
  int fd = connect_to(p.port("http"));
  ASSERT_GE(fd, 0);
  std::string pending;
  auto get = [&](const std::string& fields) {
    EXPECT_TRUE(send_all(fd, "GET /auth HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n"));
    return read_response(fd, pending, 10000);
  };
  EXPECT_EQ(get(ann_bar).status, 200);
  EXPECT_EQ(get(ann_bar).status, 200);  // recalled
  Response wrong = get(ann_baz);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.header("www-authenticate"), "Basic realm=\"R\"");
  EXPECT_EQ(get("").status, 401);
  EXPECT_EQ(get(ann_bar).status, 200);
  EXPECT_EQ(v1_.request_count(), 3u);
  ASSERT_TRUE(p.reload(config(routes(baz), clusters()))) << p.output();
  EXPECT_EQ(get(ann_bar).status, 401);
  EXPECT_EQ(get(ann_baz).status, 200);
  EXPECT_EQ(get(ann_baz).status, 200);
  EXPECT_EQ(get(ann_bar).status, 401);
  EXPECT_EQ(v1_.request_count(), 5u);
  ::close(fd);
}

// GETs of `urls` with `client` (curl, or nghttp: HTTP/2 streams of one connection at once),
// bodies dropped: each transfer's status, and the seconds the whole command took.
struct Transfers {
  std::vector<int> statuses;
  double seconds = 0;
};
Transfers timed_get(const std::string& client, const std::vector<std::string>& urls) {
  std::vector<std::string> argv = {"curl",      "-sS", "--max-time",    "30",
                                   "--http1.1", "-w",  "%{http_code}\n"};
  for (const auto& u : urls) argv.insert(argv.end(), {"-o", "/dev/null", u});
  // nghttp -s: one line per stream, "id responseEnd requestStart process code size path".
  if (client == "nghttp") argv = {"nghttp", "-n", "-s", "-t", "30"};
  if (client == "nghttp") argv.insert(argv.end(), urls.begin(), urls.end());
  auto start = std::chrono::steady_clock::now();
  CmdResult r = run(argv, 40000);
  Transfers t;
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
    if (client != "nghttp" && w.size() == 1) t.statuses.push_back(std::atoi(w[0].c_str()));
    if (client == "nghttp" && w.size() == 7 && w[6].rfind('/', 0) == 0)
      t.statuses.push_back(std::atoi(w[4].c_str()));
  }
  return t;
}

class ResponseBandwidth : public ProxyRouteFeatures {
 protected:
  // nginx's limit_rate 50k on /paced (limit_rate_after 150k on /after): a 200 KB body.
  void SetUp() override {
    proxy_ = std::make_unique<ProxyProcess>(dir_, config(R"(
      {"match":{"prefix":"/paced"},"forward":{"cluster":"big","response_bytes_per_second":51200}},
      {"match":{"prefix":"/after"},"forward":{"cluster":"big","response_bytes_per_second":51200,
       "response_rate_after_bytes":153600}},
      {"match":{"prefix":"/"},"forward":{"cluster":"big"}})",
                                                         {cluster("big", big_)}));
    ASSERT_TRUE(proxy_->started()) << proxy_->output();
    base_ = "http://127.0.0.1:" + std::to_string(proxy_->port("http"));
  }
  Backend big_{[](const BackendRequest&) {
    BackendResponse r;
    r.body = std::string(size_t{200} * 1024, 'b');
    return r;
  }};
  std::unique_ptr<ProxyProcess> proxy_;
  std::string base_;
};

TEST_F(ResponseBandwidth, TwoHundredKbAtFiftyTakeThreeSecondsOverHttp1) {
  // nginx sends the first second's 50 KB at once, then 50 KB/s: the last byte at 3 s.
  Transfers paced = timed_get("curl", {base_ + "/paced"});
  EXPECT_EQ(paced.statuses, std::vector<int>{200});
  EXPECT_GE(paced.seconds, 2.9);
  EXPECT_LT(paced.seconds, 15.0);
  // limit_rate_after 150k: those plus the first second's 50 KB, all of it, at once.
  Transfers after = timed_get("curl", {base_ + "/after", base_ + "/"});
  EXPECT_EQ(after.statuses, (std::vector<int>{200, 200}));
  EXPECT_LT(after.seconds, 2.5);
}

TEST_F(ResponseBandwidth, EachHttp2StreamIsPacedAlone) {
  if (!have("nghttp")) GTEST_SKIP() << "nghttp missing (nghttp2-client)";
  // Two streams of one connection at once: each at the rate, both done after about 3 s (one
  // rate for the connection would take 7).
  Transfers h2 = timed_get("nghttp", {base_ + "/paced/1", base_ + "/paced/2"});
  EXPECT_EQ(h2.statuses, (std::vector<int>{200, 200}));
  EXPECT_GE(h2.seconds, 2.9);
  EXPECT_LT(h2.seconds, 6.5);
}

}  // namespace
}  // namespace kop::proxy::e2e
