// The route features Gateway API's extended HTTPRoute support needs from the proxy core:
// method and query parameter matches (and their precedence), full-path and host rewrites,
// weighted entries answering directly or carrying header mutations, CORS; parsed, validated,
// rendered back to JSON and matched by the RouteTable.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kop/proxy/config.h"
#include "kop/proxy/cors.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

using testing::compile_or_die;

std::string config_with_routes(std::string_view routes) {
  return std::string(R"({"version":"kop.proxy/v1","clusters":[{"name":"c"}],)") +
         R"("virtual_hosts":[{"name":"v","domains":["*"],"routes":[)" + std::string(routes) +
         "]}]}";
}

// The name of the route a request matches, or "-" for none.
std::string matched(const RouteTable& t, std::string_view method, std::string_view path,
                    std::string_view query = {}, std::vector<HeaderField> headers = {}) {
  RequestView r;
  r.method = method;
  r.path = path;
  r.query = query;
  r.headers = headers;
  const Route* route = t.match(t.virtual_hosts()[0], r);
  return route == nullptr ? "-" : route->name;
}

TEST(RequestViewQuery, FirstParameterOfTheNameAsOnTheWire) {
  RequestView r;
  r.query = "a=1&flag&b=x%20y&a=2&=empty&c=";
  std::string_view v;
  ASSERT_TRUE(r.query_param("a", &v));
  EXPECT_EQ(v, "1");
  ASSERT_TRUE(r.query_param("flag", &v));
  EXPECT_EQ(v, "");
  ASSERT_TRUE(r.query_param("b", &v));
  EXPECT_EQ(v, "x%20y");
  ASSERT_TRUE(r.query_param("c", &v));
  EXPECT_EQ(v, "");
  ASSERT_TRUE(r.query_param("", &v));
  EXPECT_EQ(v, "empty");
  EXPECT_FALSE(r.query_param("A", &v));  // names are case-sensitive
  EXPECT_FALSE(r.query_param("fla", &v));
  r.query = {};
  EXPECT_FALSE(r.query_param("a", &v));
}

TEST(RouteFeaturesMethod, MatchesExactlyAndComesBeforeHeaders) {
  // The upstream HTTPRouteMethodMatching rules, in listed order (precedence must sort them).
  auto t = compile_or_die(config_with_routes(R"(
    {"name":"post","match":{"method":"POST"},"forward":{"cluster":"c"}},
    {"name":"get","match":{"method":"GET"},"forward":{"cluster":"c"}},
    {"name":"path1-get","match":{"prefix":"/path1","method":"GET"},"forward":{"cluster":"c"}},
    {"name":"put-one","match":{"method":"PUT","headers":[{"name":"version","exact":"one"}]},
     "forward":{"cluster":"c"}},
    {"name":"path5","match":{"prefix":"/path5"},"forward":{"cluster":"c"}},
    {"name":"patch","match":{"method":"PATCH"},"forward":{"cluster":"c"}},
    {"name":"four","match":{"headers":[{"name":"version","exact":"four"}]},
     "forward":{"cluster":"c"}})"));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(matched(*t, "POST", "/"), "post");
  EXPECT_EQ(matched(*t, "GET", "/"), "get");
  EXPECT_EQ(matched(*t, "HEAD", "/"), "-");
  EXPECT_EQ(matched(*t, "get", "/"), "-");  // methods are case-sensitive
  EXPECT_EQ(matched(*t, "GET", "/path1"), "path1-get");
  EXPECT_EQ(matched(*t, "PUT", "/", {}, {{"version", "one"}}), "put-one");
  EXPECT_EQ(matched(*t, "PUT", "/"), "-");
  // A longer prefix beats a method match; a method match beats a header match.
  EXPECT_EQ(matched(*t, "PATCH", "/path5"), "path5");
  EXPECT_EQ(matched(*t, "PATCH", "/", {}, {{"version", "four"}}), "patch");
  EXPECT_EQ(matched(*t, "DELETE", "/", {}, {{"version", "four"}}), "four");
}

TEST(RouteFeaturesQuery, ExactRegexPresentAndPrecedence) {
  // The upstream HTTPRouteQueryParamMatching rules (names in the order they are listed there).
  auto t = compile_or_die(config_with_routes(R"(
    {"name":"whale","match":{"query_params":[{"name":"animal","exact":"whale"}]},
     "forward":{"cluster":"c"}},
    {"name":"dolphin","match":{"query_params":[{"name":"animal","exact":"dolphin"}]},
     "forward":{"cluster":"c"}},
    {"name":"dolphin-blue","match":{"query_params":[{"name":"animal","exact":"dolphin"},
                                                    {"name":"color","exact":"blue"}]},
     "forward":{"cluster":"c"}},
    {"name":"WHALE","match":{"query_params":[{"name":"ANIMAL","exact":"Whale"}]},
     "forward":{"cluster":"c"}},
    {"name":"path1","match":{"prefix":"/path1","query_params":[{"name":"animal","exact":"whale"}]},
     "forward":{"cluster":"c"}},
    {"name":"one","match":{"headers":[{"name":"version","exact":"one"}],
                           "query_params":[{"name":"animal","exact":"whale"}]},
     "forward":{"cluster":"c"}},
    {"name":"path5","match":{"prefix":"/path5"},"forward":{"cluster":"c"}},
    {"name":"hydra","match":{"query_params":[{"name":"animal","exact":"hydra"}]},
     "forward":{"cluster":"c"}},
    {"name":"four","match":{"headers":[{"name":"version","exact":"four"}]},
     "forward":{"cluster":"c"}},
    {"name":"re","match":{"prefix":"/re","query_params":[{"name":"id","regex":"[0-9]+"}]},
     "forward":{"cluster":"c"}},
    {"name":"present","match":{"prefix":"/re","query_params":[{"name":"debug","present":true}]},
     "forward":{"cluster":"c"}})"));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(matched(*t, "GET", "/", "animal=whale"), "whale");
  EXPECT_EQ(matched(*t, "GET", "/", "animal=dolphin"), "dolphin");
  EXPECT_EQ(matched(*t, "GET", "/", "animal=dolphin&color=blue"), "dolphin-blue");
  EXPECT_EQ(matched(*t, "GET", "/", "ANIMAL=Whale"), "WHALE");
  EXPECT_EQ(matched(*t, "GET", "/", "animal=whale&otherparam=irrelevant"), "whale");
  EXPECT_EQ(matched(*t, "GET", "/", "animal=dolphin&color=yellow"), "dolphin");
  EXPECT_EQ(matched(*t, "GET", "/", "color=blue"), "-");
  EXPECT_EQ(matched(*t, "GET", "/", "animal=dog"), "-");
  EXPECT_EQ(matched(*t, "GET", "/", "animal=whaledolphin"), "-");
  EXPECT_EQ(matched(*t, "GET", "/"), "-");
  EXPECT_EQ(matched(*t, "GET", "/path1", "animal=whale"), "path1");
  EXPECT_EQ(matched(*t, "GET", "/", "animal=whale", {{"version", "one"}}), "one");
  // A longer prefix beats query matches; header matches beat query matches.
  EXPECT_EQ(matched(*t, "GET", "/path5", "animal=hydra"), "path5");
  EXPECT_EQ(matched(*t, "GET", "/", "animal=hydra", {{"version", "four"}}), "four");
  EXPECT_EQ(matched(*t, "GET", "/re", "id=42"), "re");
  EXPECT_EQ(matched(*t, "GET", "/re", "id=42x"), "-");  // full match
  EXPECT_EQ(matched(*t, "GET", "/re", "x=1&debug"), "present");
}

TEST(RouteFeaturesQuery, ConfigOrderChecksEveryCondition) {
  auto t = compile_or_die(R"({"version":"kop.proxy/v1","clusters":[{"name":"c"}],
    "virtual_hosts":[{"name":"v","domains":["*"],"route_order":"config","routes":[
      {"name":"q","match":{"method":"GET","query_params":[{"name":"a","exact":"1"}]},
       "forward":{"cluster":"c"}},
      {"name":"all","forward":{"cluster":"c"}}]}]})");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(matched(*t, "GET", "/x", "a=1"), "q");
  EXPECT_EQ(matched(*t, "POST", "/x", "a=1"), "all");
  EXPECT_EQ(matched(*t, "GET", "/x", "a=2"), "all");
}

TEST(RouteFeaturesRewrite, FullPathKeepsTheQuery) {
  auto t = compile_or_die(config_with_routes(R"(
    {"name":"full","match":{"prefix":"/full"},"forward":{"cluster":"c","path_rewrite":"/one"}},
    {"name":"re","match":{"regex":"/r/.*"},"forward":{"cluster":"c","path_rewrite":"/"}})"));
  ASSERT_NE(t, nullptr);
  auto rewrite = [&](std::string_view path, std::string_view query = {}) {
    RequestView r;
    r.path = path;
    std::string out;
    t->match(t->virtual_hosts()[0], r)->rewrite_path(path, query, out);
    return out;
  };
  EXPECT_EQ(rewrite("/full/one/two"), "/one");
  EXPECT_EQ(rewrite("/full", "a=b"), "/one?a=b");
  EXPECT_EQ(rewrite("/r/x/y"), "/");  // allowed with a regex match, unlike prefix_rewrite
}

TEST(RouteFeaturesConfig, RoundTripsThroughJson) {
  auto c = parse_config(config_with_routes(R"(
    {"match":{"prefix":"/a","method":"DELETE","query_params":[{"name":"x","exact":"1"},
      {"name":"y","regex":"a.*"},{"name":"z","present":true}]},
     "forward":{"cluster":"c","path_rewrite":"/b","host_rewrite":"internal.example.com"}})"));
  ASSERT_TRUE(c.ok()) << c.status();
  const RouteConfig& r = c->virtual_hosts[0]->routes[0];
  EXPECT_EQ(r.match.method, "DELETE");
  ASSERT_EQ(r.match.query_params.size(), 3u);
  EXPECT_EQ(r.match.query_params[1].type, QueryParamMatchType::kRegex);
  EXPECT_EQ(r.match.query_params[2].type, QueryParamMatchType::kPresent);
  EXPECT_EQ(r.forward.path_rewrite.optional(), "/b");
  EXPECT_EQ(r.forward.host_rewrite.optional(), "internal.example.com");
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
}

TEST(RouteFeaturesConfig, BadValuesNameTheirField) {
  struct Case {
    std::string routes;
    std::string error;
  };
  const Case cases[] = {
      {R"({"match":{"method":"G T"},"forward":{"cluster":"c"}})",
       "virtual_hosts[0].routes[0].match.method: invalid method"},
      {R"({"match":{"query_params":[{"name":"","exact":"1"}]},"forward":{"cluster":"c"}})",
       "virtual_hosts[0].routes[0].match.query_params[0].name: must not be empty"},
      {R"({"match":{"query_params":[{"name":"a","regex":"("}]},"forward":{"cluster":"c"}})",
       "virtual_hosts[0].routes[0].match.query_params[0].regex: invalid regex"},
      {R"({"match":{"query_params":[{"name":"a"}]},"forward":{"cluster":"c"}})",
       "one of exact, present, regex is required"},
      {R"({"forward":{"cluster":"c","path_rewrite":"x"}})",
       "virtual_hosts[0].routes[0].forward.path_rewrite: must be a path starting with '/'"},
      {R"({"forward":{"cluster":"c","path_rewrite":"/a b"}})",
       "virtual_hosts[0].routes[0].forward.path_rewrite: must be a path starting with '/'"},
      {R"({"forward":{"cluster":"c","path_rewrite":"/a","prefix_rewrite":"/b"}})",
       "only one of prefix_rewrite and path_rewrite may be set"},
      {R"({"forward":{"cluster":"c","host_rewrite":"bad host"}})",
       "virtual_hosts[0].routes[0].forward.host_rewrite: invalid host"},
  };
  for (const Case& tc : cases) {
    auto c = parse_config(config_with_routes(tc.routes));
    absl::Status s = c.ok() ? validate(*c) : c.status();
    EXPECT_FALSE(s.ok()) << tc.routes;
    EXPECT_NE(std::string(s.message()).find(tc.error), std::string::npos)
        << tc.routes << " -> " << s.message();
  }
}

TEST(RouteFeaturesWeighted, DirectShareAndPerEntryHeaders) {
  auto t = compile_or_die(R"({"version":"kop.proxy/v1","clusters":[{"name":"a"},{"name":"b"}],
    "virtual_hosts":[{"name":"v","domains":["*"],"routes":[{"forward":{"clusters":[
      {"cluster":"a","weight":2,"request_headers":{"set":[{"name":"x-backend","value":"a"}]},
       "response_headers":{"add":[{"name":"x-from","value":"a"}]}},
      {"cluster":"b","weight":1},
      {"direct_status":500,"weight":1},
      {"direct_status":503,"weight":0}]}}]}]})");
  ASSERT_NE(t, nullptr);
  const Route& r = t->virtual_hosts()[0]->routes[0];
  EXPECT_TRUE(r.entry_headers);
  ASSERT_EQ(r.clusters.size(), 3u);  // the weight-0 entry is never picked
  std::map<std::string, int> counts;
  std::mt19937_64 rng(11);
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    const RouteClusterRef& e = r.pick(rng());
    ++counts[e.direct_status != 0 ? std::to_string(e.direct_status) : t->cluster(e.cluster).name];
  }
  EXPECT_NEAR(counts["a"], 0.5 * n, 0.02 * n);
  EXPECT_NEAR(counts["b"], 0.25 * n, 0.02 * n);
  EXPECT_NEAR(counts["500"], 0.25 * n, 0.02 * n);
  EXPECT_EQ(counts.count("503"), 0u);
  const RouteClusterRef* a = r.entry_for(*t, &t->cluster(*t->cluster_index("a")));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->config->request_headers->set.at(0).value, "a");
  EXPECT_EQ(a->config->response_headers->add.at(0).name, "x-from");
  const RouteClusterRef* b = r.entry_for(*t, &t->cluster(*t->cluster_index("b")));
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->config->request_headers->empty());
  // Routes without per-entry headers do not look entries up.
  auto plain = compile_or_die(config_with_routes(R"({"forward":{"cluster":"c"}})"));
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->virtual_hosts()[0]->routes[0].entry_headers);
}

TEST(RouteFeaturesWeighted, RoundTripAndBadValues) {
  auto c = parse_config(config_with_routes(R"({"forward":{"clusters":[
      {"cluster":"c","request_headers":{"remove":["x-a"]},
       "mirrors":[{"cluster":"c","per_million":250000}]},{"direct_status":500,"weight":3}]}})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(validate(*c).ok()) << validate(*c);
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
  ASSERT_EQ(c->virtual_hosts[0]->routes[0].forward.clusters[0].mirrors.size(), 1U);
  EXPECT_EQ(c->virtual_hosts[0]->routes[0].forward.clusters[0].mirrors[0].per_million, 250000U);
  struct Case {
    std::string config;
    std::string error;
  };
  const Case cases[] = {
      {config_with_routes(R"({"forward":{"clusters":[{"cluster":"c","direct_status":500}]}})"),
       "only one of cluster and direct_status may be set"},
      {config_with_routes(R"({"forward":{"clusters":[{"direct_status":99}]}})"),
       "virtual_hosts[0].routes[0].forward.clusters[0].direct_status: value 99 out of range"},
      {config_with_routes(R"({"forward":{"clusters":[{"cluster":"c","request_headers":
         {"set":[{"name":"bad name","value":"1"}]}}]}})"),
       "virtual_hosts[0].routes[0].forward.clusters[0].request_headers.set[0].name: invalid "
       "header name"},
      {config_with_routes(
           R"({"forward":{"clusters":[{"cluster":"c","mirrors":[{"cluster":"x"}]}]}})"),
       "virtual_hosts[0].routes[0].forward.clusters[0].mirrors[0].cluster: unknown cluster"},
      // TCP relays take clusters only.
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c"}],"listeners":[{"name":"l",
         "address":"127.0.0.1:0","tls":{"passthrough":[{"server_names":["a.example.com"],
         "clusters":[{"direct_status":500}]}]}}]})",
       "listeners[0].tls.passthrough[0].clusters[0].cluster: required field missing"},
  };
  for (const Case& tc : cases) {
    auto parsed = parse_config(tc.config);
    absl::Status s = parsed.ok() ? validate(*parsed) : parsed.status();
    EXPECT_FALSE(s.ok()) << tc.config;
    EXPECT_NE(std::string(s.message()).find(tc.error), std::string::npos)
        << tc.config << " -> " << s.message();
  }
}

TEST(RouteFeaturesCors, OriginPatterns) {
  CorsPolicy p;
  p.allow_origins = {"https://www.foo.com", "https://*.bar.com", "http://localhost:8080"};
  EXPECT_TRUE(cors_origin_allowed(p, "https://www.foo.com"));
  EXPECT_TRUE(cors_origin_allowed(p, "HTTPS://WWW.FOO.COM"));
  EXPECT_FALSE(cors_origin_allowed(p, "http://www.foo.com"));
  EXPECT_FALSE(cors_origin_allowed(p, "https://www.foo.com:8443"));
  EXPECT_TRUE(cors_origin_allowed(p, "https://www.bar.com"));
  EXPECT_TRUE(cors_origin_allowed(p, "https://xpto.www.bar.com"));  // one or more labels
  EXPECT_FALSE(cors_origin_allowed(p, "https://bar.com"));
  EXPECT_FALSE(cors_origin_allowed(p, "https://evil.com/.bar.com"));
  EXPECT_FALSE(cors_origin_allowed(p, "https://user@x.bar.com"));
  EXPECT_FALSE(cors_origin_allowed(p, "https://foobar.com"));
  EXPECT_TRUE(cors_origin_allowed(p, "http://localhost:8080"));
  EXPECT_FALSE(cors_origin_allowed(p, ""));
  EXPECT_FALSE(cors_origin_allowed(p, "null"));
  p.allow_origins = {"*"};
  EXPECT_TRUE(cors_origin_allowed(p, "https://foobar.com:12345"));
  for (std::string_view ok : {"*", "https://a.example.com", "https://*.example.com",
                              "http://localhost:8080", "app+x://host"})
    EXPECT_TRUE(valid_cors_origin(ok)) << ok;
  for (std::string_view bad :
       {"", "example.com", "https://", "https://a.com/path", "https://a.com:port",
        "https://a b.com", "://a.com", "https://*", "https://a.*.com"})
    EXPECT_FALSE(valid_cors_origin(bad)) << bad;
}

TEST(RouteFeaturesCors, PreflightAndResponseFields) {
  CorsPolicy p;
  p.allow_origins = {"https://www.foo.com"};
  p.allow_methods = {"GET", "OPTIONS"};
  p.allow_headers = {"x-header-1", "x-header-2"};
  p.expose_headers = {"x-header-3", "x-header-4"};
  p.allow_credentials = true;
  p.max_age = 3600;
  std::string out;
  append_cors_preflight(p, "https://www.foo.com", "GET", "x-header-1", out);
  EXPECT_EQ(out,
            "access-control-allow-origin: https://www.foo.com\r\n"
            "access-control-allow-methods: GET, OPTIONS\r\n"
            "access-control-allow-headers: x-header-1, x-header-2\r\n"
            "access-control-expose-headers: x-header-3, x-header-4\r\n"
            "access-control-max-age: 3600\r\n"
            "access-control-allow-credentials: true\r\n"
            "vary: origin\r\n");
  out.clear();
  append_cors_response(p, "https://www.foo.com", out);
  EXPECT_EQ(out,
            "access-control-allow-origin: https://www.foo.com\r\n"
            "access-control-allow-credentials: true\r\n"
            "access-control-expose-headers: x-header-3, x-header-4\r\n"
            "vary: origin\r\n");
  // "*" methods and headers: what the preflight asks; no credentials field unless allowed.
  CorsPolicy w;
  w.allow_origins = {"*"};
  w.allow_methods = {"*"};
  w.allow_headers = {"*"};
  out.clear();
  append_cors_preflight(w, "https://foobar.com", "PUT", "x-a, x-b", out);
  EXPECT_EQ(out,
            "access-control-allow-origin: https://foobar.com\r\n"
            "access-control-allow-methods: PUT\r\n"
            "access-control-allow-headers: x-a, x-b\r\n"
            "access-control-max-age: 5\r\n"
            "vary: origin\r\n");
}

TEST(RouteFeaturesCors, ConfigRoundTripAndBadValues) {
  auto c = parse_config(config_with_routes(R"({"forward":{"cluster":"c"},"cors":{
      "allow_origins":["https://*.example.com"],"allow_methods":["GET"],"allow_headers":["*"],
      "expose_headers":["x-total"],"allow_credentials":true,"max_age":60}})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(validate(*c).ok()) << validate(*c);
  ASSERT_TRUE(c->virtual_hosts[0]->routes[0].cors.has_value());
  EXPECT_EQ(c->virtual_hosts[0]->routes[0].cors->max_age, 60u);
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
  struct Case {
    std::string routes;
    std::string error;
  };
  const Case cases[] = {
      {R"({"forward":{"cluster":"c"},"cors":{"allow_origins":["example.com"]}})",
       "virtual_hosts[0].routes[0].cors.allow_origins[0]: not \"*\" or scheme://host"},
      {R"({"forward":{"cluster":"c"},"cors":{"allow_methods":["G T"]}})",
       "virtual_hosts[0].routes[0].cors.allow_methods[0]: not a token"},
      {R"({"direct_response":{"status":200},"cors":{"allow_origins":["*"]}})",
       "virtual_hosts[0].routes[0].cors: only a forward route answers CORS"},
      {R"({"forward":{"cluster":"c"},"cors":{"origins":["*"]}})",
       "virtual_hosts[0].routes[0].cors.origins: unknown field"},
  };
  for (const Case& tc : cases) {
    auto parsed = parse_config(config_with_routes(tc.routes));
    absl::Status s = parsed.ok() ? validate(*parsed) : parsed.status();
    EXPECT_FALSE(s.ok()) << tc.routes;
    EXPECT_NE(std::string(s.message()).find(tc.error), std::string::npos)
        << tc.routes << " -> " << s.message();
  }
}

}  // namespace
}  // namespace kop::proxy
