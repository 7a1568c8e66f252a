// RouteTable: virtual host selection, Kubernetes Ingress path matching, precedence, regex and
// header matches, weighted clusters, SNI, rewrites and redirects, incremental compile.
#include "kop/proxy/route_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "kop/proxy/load_balancer.h"
#include "test_util.h"

// Counts heap allocations, to check that lookups do not allocate.
namespace {
std::atomic<long> g_allocations{0};
volatile std::size_t benchmark_sink = 0;
}  // namespace
// noinline: GCC's -Wmismatched-new-delete misfires when these are inlined into callers.
__attribute__((noinline)) void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept {
  std::free(p);
}
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
// Every form the standard library may call is replaced, so no block is allocated by one
// allocator and freed by another (ASan reports that mismatch).
__attribute__((noinline)) void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
__attribute__((noinline)) void* operator new[](std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
__attribute__((noinline)) void operator delete[](void* p) noexcept {
  std::free(p);
}
__attribute__((noinline)) void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace kop::proxy {
namespace {

using testing::compile_or_die;
using testing::parse_or_die;

constexpr std::string_view kHosts = R"({
  "version": "kop.proxy/v1",
  "listeners": [{"name": "http", "address": "0.0.0.0:8080"},
                {"name": "only-ip", "address": "0.0.0.0:8081", "virtual_hosts": ["ip"]}],
  "virtual_hosts": [
    {"name": "exact", "domains": ["a.example.com", "Upper.Example.com."]},
    {"name": "wild", "domains": ["*.example.com"]},
    {"name": "deep", "domains": ["*.b.example.com"]},
    {"name": "ip", "domains": ["10.0.0.1"]},
    {"name": "any", "domains": ["*"]}
  ]
})";

TEST(RouteTableHosts, SelectionTable) {
  auto t = compile_or_die(kHosts);
  ASSERT_NE(t, nullptr);
  struct Case {
    std::string_view listener;
    std::string_view host;
    std::string_view want;
  };
  const Case cases[] = {
      {"http", "a.example.com", "exact"},
      {"http", "A.EXAMPLE.COM", "exact"},       // case-insensitive
      {"http", "a.example.com:8080", "exact"},  // port stripped
      {"http", "a.example.com.", "exact"},      // trailing dot
      {"http", "upper.example.com", "exact"},   // configured with upper case and a dot
      {"http", "b.example.com", "wild"},        // wildcard, one label
      {"http", "B.Example.Com:443", "wild"},
      {"http", "x.b.example.com", "deep"},  // the longer wildcard's one label
      {"http", "x.y.example.com", "any"},   // two labels: not *.example.com
      {"http", "example.com", "any"},       // the bare domain is not *.example.com
      {"http", ".example.com", "any"},      // empty label
      {"http", "10.0.0.1:80", "ip"},
      {"http", "[::1]:8080", "any"},
      {"http", "[::1]", "any"},
      {"http", "", "any"},
      {"http", std::string_view("a.example.com\0x", 15), "any"},
      {"only-ip", "10.0.0.1", "ip"},
      {"only-ip", "a.example.com", "<null>"},  // not served on this listener, no catch-all
      {"nope", "a.example.com", "<null>"},     // unknown listener
  };
  for (const Case& c : cases) {
    const VirtualHost* v = t->find_virtual_host(c.listener, c.host);
    EXPECT_EQ(v == nullptr ? "<null>" : v->name, c.want) << c.listener << " " << c.host;
  }
  std::string long_host(300, 'a');
  const VirtualHost* v = t->find_virtual_host("http", long_host);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->name, "any");
}

TEST(RouteTableHosts, OneOrMoreLabelWildcardsOnTheListenerThatAsksForThem) {
  // Gateway API's "*.example.com" covers any number of labels; Ingress's one. The same virtual
  // hosts, served by a listener of each kind.
  Config c = parse_or_die(kHosts);
  ListenerConfig gateway = c.listeners[0];
  gateway.name = "gateway";
  gateway.address.port = 8082;
  gateway.domain_wildcards = DomainWildcards::kOneOrMoreLabels;
  c.listeners.push_back(gateway);
  auto compiled = RouteTable::compile(c);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  const RouteTable& t = **compiled;
  struct Case {
    std::string_view listener;
    std::string_view host;
    std::string_view want;
  };
  const Case cases[] = {
      {"gateway", "a.example.com", "exact"},        // exact still first
      {"gateway", "b.example.com", "wild"},         // one label
      {"gateway", "x.y.example.com", "wild"},       // two labels
      {"gateway", "X.Y.Z.Example.com:80", "wild"},  // three, case and port as ever
      {"gateway", "x.b.example.com", "deep"},       // the longest suffix wins...
      {"gateway", "x.y.b.example.com", "deep"},     // ...at any depth
      {"gateway", "example.com", "any"},            // the bare domain is still not covered
      {"gateway", "b.example.com.", "wild"},
      {"gateway", ".example.com", "any"},  // empty first label
      {"gateway", "com", "any"},
      {"http", "x.y.example.com", "any"},  // the Ingress listener keeps one label
  };
  for (const Case& k : cases) {
    const VirtualHost* v = t.find_virtual_host(k.listener, k.host);
    EXPECT_EQ(v == nullptr ? "<null>" : v->name, k.want) << k.listener << " " << k.host;
  }
}

TEST(RouteTableHosts, StripHostPort) {
  EXPECT_EQ(strip_host_port("a.com:80"), "a.com");
  EXPECT_EQ(strip_host_port("a.com"), "a.com");
  EXPECT_EQ(strip_host_port("[::1]:80"), "::1");
  EXPECT_EQ(strip_host_port("[fe80::1]"), "fe80::1");
  EXPECT_EQ(strip_host_port("::1"), "::1");
}

// Builds a one-vhost table from (type, path) pairs; routes are named by their position.
struct PathRoute {
  std::string type;  // exact, prefix, string_prefix, regex
  std::string path;
  std::string headers_json = "";
};

std::shared_ptr<const RouteTable> table_of(const std::vector<PathRoute>& routes,
                                           std::string_view order = "specificity") {
  std::string json = R"({"version":"kop.proxy/v1","listeners":[{"name":"l","address":"0.0.0.0:80"}],
    "clusters":[{"name":"c","endpoints":["127.0.0.1:1"]}],
    "virtual_hosts":[{"name":"v","domains":["*"],"route_order":")" +
                     std::string(order) + R"(","routes":[)";
  for (std::size_t i = 0; i < routes.size(); ++i) {
    if (i > 0) json += ",";
    json += R"({"name":")" + std::to_string(i) + R"(","match":{")" + routes[i].type + R"(":")" +
            routes[i].path + "\"";
    if (!routes[i].headers_json.empty()) json += R"(,"headers":)" + routes[i].headers_json;
    json += R"(},"forward":{"cluster":"c"}})";
  }
  json += "]}]}";
  return compile_or_die(json);
}

std::string matched(const RouteTable& t, std::string_view path,
                    std::vector<HeaderField> headers = {}) {
  const VirtualHost* v = t.find_virtual_host("l", "x");
  RequestView r;
  r.method = "GET";
  r.path = path;
  r.headers = headers;
  const Route* m = t.match(*v, r);
  return m == nullptr ? "none" : m->name;
}

// https://kubernetes.io/docs/concepts/services-networking/ingress/#examples
TEST(RouteTablePaths, KubernetesIngressExamples) {
  struct Row {
    std::vector<PathRoute> routes;
    std::string_view request;
    std::string_view want;  // route index or "none"
  };
  const Row rows[] = {
      {{{"prefix", "/"}}, "/anything/at/all", "0"},
      {{{"prefix", "/"}}, "/", "0"},
      {{{"exact", "/foo"}}, "/foo", "0"},
      {{{"exact", "/foo"}}, "/bar", "none"},
      {{{"exact", "/foo"}}, "/foo/", "none"},
      {{{"exact", "/foo/"}}, "/foo", "none"},
      {{{"prefix", "/foo"}}, "/foo", "0"},
      {{{"prefix", "/foo"}}, "/foo/", "0"},
      {{{"prefix", "/foo/"}}, "/foo", "0"},
      {{{"prefix", "/foo/"}}, "/foo/", "0"},
      {{{"prefix", "/aaa/bb"}}, "/aaa/bbb", "none"},
      {{{"prefix", "/aaa/bbb"}}, "/aaa/bbb", "0"},
      {{{"prefix", "/aaa/bbb/"}}, "/aaa/bbb", "0"},       // ignores trailing slash
      {{{"prefix", "/aaa/bbb"}}, "/aaa/bbb/", "0"},       // matches trailing slash
      {{{"prefix", "/aaa/bbb"}}, "/aaa/bbb/ccc", "0"},    // matches subpath
      {{{"prefix", "/aaa/bbb"}}, "/aaa/bbbxyz", "none"},  // not a string prefix
      {{{"prefix", "/"}, {"prefix", "/aaa"}}, "/aaa/ccc", "1"},
      {{{"prefix", "/"}, {"prefix", "/aaa"}, {"prefix", "/aaa/bbb"}}, "/aaa/bbb", "2"},
      {{{"prefix", "/"}, {"prefix", "/aaa"}, {"prefix", "/aaa/bbb"}}, "/ccc", "0"},
      {{{"prefix", "/aaa"}}, "/ccc", "none"},
      {{{"prefix", "/foo"}, {"exact", "/foo"}}, "/foo", "1"},  // Exact preferred
      {{{"exact", "/foo"}, {"prefix", "/foo"}}, "/foo", "0"},
      {{{"exact", "/foo"}, {"prefix", "/foo"}}, "/foo/x", "1"},
      // Exact is byte equality: case and escaping matter.
      {{{"exact", "/Foo"}}, "/foo", "none"},
      {{{"exact", "/a%20b"}}, "/a b", "none"},
      {{{"prefix", "/Foo"}}, "/foo/x", "none"},
  };
  for (const Row& row : rows) {
    auto t = table_of(row.routes);
    ASSERT_NE(t, nullptr);
    std::string desc;
    for (const auto& r : row.routes) desc += r.type + ":" + r.path + " ";
    EXPECT_EQ(matched(*t, row.request), row.want) << desc << "request " << row.request;
  }
}

TEST(RouteTablePaths, StringPrefixAndPrecedence) {
  auto t = table_of({{"string_prefix", "/foo"},
                     {"prefix", "/foo"},
                     {"prefix", "/foo/bar"},
                     {"regex", "/foo/[0-9]+"},
                     {"exact", "/foo/bar"},
                     {"string_prefix", "/f"},
                     {"regex", "/foo/1.*"}});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(matched(*t, "/foo/bar"), "4");      // exact first
  EXPECT_EQ(matched(*t, "/foo/123"), "3");      // regex before prefixes, listed order
  EXPECT_EQ(matched(*t, "/foo/1x"), "6");       // the second regex
  EXPECT_EQ(matched(*t, "/foo/bar/baz"), "2");  // longest prefix
  EXPECT_EQ(matched(*t, "/foo"), "1");          // segment before string prefix at equal length
  EXPECT_EQ(matched(*t, "/foo/x"), "1");
  EXPECT_EQ(matched(*t, "/foobar"), "0");  // string prefix only
  EXPECT_EQ(matched(*t, "/fx"), "5");
  EXPECT_EQ(matched(*t, "/x"), "none");
  EXPECT_EQ(matched(*t, "/foo/123/4"), "6");  // "/foo/[0-9]+" needs a full match; "/foo/1.*" has it
  EXPECT_EQ(matched(*t, "/foo/23/4"), "1");
}

TEST(RouteTablePaths, ConfigOrderIsFirstMatch) {
  auto t = table_of({{"prefix", "/"}, {"exact", "/foo"}}, "config");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(matched(*t, "/foo"), "0");
  auto t2 = table_of({{"exact", "/foo"}, {"prefix", "/"}}, "config");
  EXPECT_EQ(matched(*t2, "/foo"), "0");
  EXPECT_EQ(matched(*t2, "/bar"), "1");
}

TEST(RouteTablePaths, RegexIsFullMatchOnPath) {
  auto t = table_of({{"regex", "/item/[0-9]+"}, {"regex", "(?i)/CaSe"}});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(matched(*t, "/item/42"), "0");
  EXPECT_EQ(matched(*t, "/item/42/x"), "none");
  EXPECT_EQ(matched(*t, "/x/item/42"), "none");
  EXPECT_EQ(matched(*t, "/case"), "1");
}

TEST(RouteTableHeaders, MatchKinds) {
  auto t = table_of({
      {"prefix", "/", R"([{"name":"X-Exact","exact":"v"}])"},
      {"prefix", "/", R"([{"name":"x-present","present":true}])"},
      {"prefix", "/", R"([{"name":"x-re","regex":"[a-c]+[0-9]"}])"},
      {"prefix", "/", R"([{"name":"x-pre","prefix":"ab"}])"},
      {"prefix", "/", R"([{"name":"x-suf","suffix":"yz"}])"},
      {"prefix", "/", R"([{"name":"x-con","contains":"mid"}])"},
      {"prefix", "/",
       R"([{"name":"x-inv","exact":"no","invert":true},{"name":"x-gate","present":true}])"},
      {"prefix", "/"},
  });
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(matched(*t, "/"), "7");
  // Routes with the same path and two header matches sort before those with one.
  EXPECT_EQ(matched(*t, "/", {{"x-gate", "1"}}), "6");
  EXPECT_EQ(matched(*t, "/", {{"x-gate", "1"}, {"x-inv", "no"}}), "7");
  EXPECT_EQ(matched(*t, "/", {{"x-gate", "1"}, {"x-inv", "yes"}}), "6");
  EXPECT_EQ(matched(*t, "/", {{"x-exact", "v"}}), "0");
  EXPECT_EQ(matched(*t, "/", {{"X-EXACT", "v"}}), "0");  // names are case-insensitive
  EXPECT_EQ(matched(*t, "/", {{"x-exact", "V"}}), "7");  // values are not
  EXPECT_EQ(matched(*t, "/", {{"x-present", ""}}), "1");
  EXPECT_EQ(matched(*t, "/", {{"x-re", "abc1"}}), "2");
  EXPECT_EQ(matched(*t, "/", {{"x-re", "abc1x"}}), "7");  // full match
  EXPECT_EQ(matched(*t, "/", {{"x-pre", "abc"}}), "3");
  EXPECT_EQ(matched(*t, "/", {{"x-suf", "xyz"}}), "4");
  EXPECT_EQ(matched(*t, "/", {{"x-con", "amidb"}}), "5");
  EXPECT_EQ(matched(*t, "/", {{"x-con", "amdb"}}), "7");
}

TEST(RouteTableHeaders, FailedHeadersFallThroughToShorterPrefix) {
  auto t = table_of({{"prefix", "/api", R"([{"name":"x-canary","exact":"1"}])"},
                     {"prefix", "/"},
                     {"exact", "/api", R"([{"name":"x-canary","exact":"2"}])"}});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(matched(*t, "/api", {{"x-canary", "2"}}), "2");
  EXPECT_EQ(matched(*t, "/api", {{"x-canary", "1"}}), "0");
  EXPECT_EQ(matched(*t, "/api", {{"x-canary", "3"}}), "1");
  EXPECT_EQ(matched(*t, "/api/x", {{"x-canary", "1"}}), "0");
  EXPECT_EQ(matched(*t, "/api/x"), "1");
}

TEST(RouteTableHeaders, LookupCallback) {
  auto t = table_of({{"prefix", "/", R"([{"name":"x-a","exact":"2"}])"}, {"prefix", "/"}});
  ASSERT_NE(t, nullptr);
  const VirtualHost* v = t->find_virtual_host("l", "x");
  RequestView r;
  r.path = "/";
  std::map<std::string, std::string> store{{"x-a", "2"}};
  r.lookup_ctx = &store;
  r.lookup = [](const void* ctx, std::string_view name, std::size_t nth, std::string_view* out) {
    const auto& m = *static_cast<const std::map<std::string, std::string>*>(ctx);
    auto it = m.find(std::string(name));
    if (it == m.end() || nth > 0) return false;
    *out = it->second;
    return true;
  };
  EXPECT_EQ(t->match(*v, r)->name, "0");
  store["x-a"] = "3";
  EXPECT_EQ(t->match(*v, r)->name, "1");
}

TEST(RouteTableActions, WeightedClusterDistribution) {
  auto t = compile_or_die(R"({"version":"kop.proxy/v1",
    "clusters":[{"name":"a"},{"name":"b"},{"name":"c"}],
    "virtual_hosts":[{"name":"v","domains":["*"],"routes":[{"forward":{"clusters":[
      {"cluster":"a","weight":70},{"cluster":"b","weight":20},{"cluster":"c","weight":10},
      {"cluster":"a","weight":0}]}}]}]})");
  ASSERT_NE(t, nullptr);
  const Route& r = t->virtual_hosts()[0]->routes[0];
  std::mt19937_64 rng(7);
  std::map<std::string, int> counts;
  const int n = 100000;
  for (int i = 0; i < n; ++i) ++counts[t->cluster(r.pick_cluster(rng())).name];
  EXPECT_NEAR(counts["a"], 0.7 * n, 0.01 * n);
  EXPECT_NEAR(counts["b"], 0.2 * n, 0.01 * n);
  EXPECT_NEAR(counts["c"], 0.1 * n, 0.01 * n);
  EXPECT_EQ(t->cluster(r.pick_cluster(0)).name, "a");
  EXPECT_EQ(t->cluster(r.pick_cluster(UINT64_MAX)).name, "c");
}

TEST(RouteTableActions, PrefixRewrite) {
  auto t = compile_or_die(R"({"version":"kop.proxy/v1","clusters":[{"name":"c"}],
    "virtual_hosts":[{"name":"v","domains":["*"],"routes":[
      {"name":"p","match":{"prefix":"/api/"},"forward":{"cluster":"c","prefix_rewrite":"/"}},
      {"name":"q","match":{"prefix":"/v1"},"forward":{"cluster":"c","prefix_rewrite":"/v2"}},
      {"name":"s","match":{"string_prefix":"/str"},"forward":{"cluster":"c","prefix_rewrite":"/S"}},
      {"name":"e","match":{"exact":"/old"},"forward":{"cluster":"c","prefix_rewrite":"/new"}},
      {"name":"n","match":{"prefix":"/"},"forward":{"cluster":"c"}}]}]})");
  ASSERT_NE(t, nullptr);
  const VirtualHost& v = t->virtual_hosts()[0];
  auto rewrite = [&](std::string_view path, std::string_view query = {}) {
    RequestView r;
    r.path = path;
    const Route* route = t->match(v, r);
    std::string out;
    route->rewrite_path(path, query, out);
    return out;
  };
  EXPECT_EQ(rewrite("/api/users"), "/users");
  EXPECT_EQ(rewrite("/api"), "/");
  EXPECT_EQ(rewrite("/api/"), "/");
  EXPECT_EQ(rewrite("/v1/x", "a=1"), "/v2/x?a=1");
  EXPECT_EQ(rewrite("/v1"), "/v2");
  EXPECT_EQ(rewrite("/strange"), "/Sange");
  EXPECT_EQ(rewrite("/old"), "/new");
  EXPECT_EQ(rewrite("/other", "q"), "/other?q");
}

TEST(RouteTableActions, RedirectLocation) {
  auto t = compile_or_die(R"({"version":"kop.proxy/v1",
    "virtual_hosts":[{"name":"v","domains":["*"],"routes":[
      {"name":"https","match":{"prefix":"/secure"},"redirect":{"scheme":"https"}},
      {"name":"host","match":{"prefix":"/moved"},"redirect":{"host":"new.example.com","code":308}},
      {"name":"port","match":{"prefix":"/port"},"redirect":{"port":8443,"strip_query":true}},
      {"name":"path","match":{"prefix":"/p"},"redirect":{"path":"/landing"}},
      {"name":"prefix","match":{"prefix":"/old"},"redirect":{"prefix_rewrite":"/new"}}]}]})");
  ASSERT_NE(t, nullptr);
  const VirtualHost& v = t->virtual_hosts()[0];
  auto location = [&](std::string_view host, std::string_view path, std::string_view query) {
    RequestView r;
    r.host = host;
    r.path = path;
    r.query = query;
    const Route* route = t->match(v, r);
    EXPECT_EQ(route->action, ActionType::kRedirect);
    std::string out;
    route->redirect_location(r, "http", out);
    return out;
  };
  EXPECT_EQ(location("a.com", "/secure/x", "q=1"), "https://a.com/secure/x?q=1");
  EXPECT_EQ(location("a.com:8080", "/secure", ""), "https://a.com/secure");  // port dropped
  EXPECT_EQ(location("a.com:8080", "/moved/x", ""), "http://new.example.com/moved/x");
  EXPECT_EQ(location("[::1]:8080", "/port", "q"), "http://[::1]:8443/port");
  EXPECT_EQ(location("a.com:8080", "/p", ""), "http://a.com:8080/landing");
  EXPECT_EQ(location("a.com", "/old/page", ""), "http://a.com/new/page");
  EXPECT_EQ(t->match(v, RequestView{.path = "/moved"})->config->redirect->code, 308u);
}

TEST(RouteTable, RouteIdsAreDenseAndRoutesKnowTheirVirtualHost) {
  auto t = table_of({{"prefix", "/"}, {"exact", "/a"}, {"regex", "/r"}});
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->route_count(), 3u);
  std::vector<bool> seen(3);
  for (const VirtualHost& vh : t->virtual_hosts())
    for (const Route& r : vh.routes) {
      ASSERT_LT(r.id, 3u);
      seen[r.id] = true;
      EXPECT_EQ(r.virtual_host, &vh);
    }
  EXPECT_EQ(seen, (std::vector<bool>{true, true, true}));
}

TEST(RouteTable, CompileRefusesInvalidConfig) {
  auto c = parse_or_die(R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
    {"forward":{"cluster":"missing"}}]}]})");
  auto t = RouteTable::compile(c);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(),
            "virtual_hosts[0].routes[0].forward.cluster: unknown cluster \"missing\"");
}

// ---- TLS view.

TEST(RouteTableTls, CertificateForSniAndMisdirectedRequests) {
  auto a = testing::make_certificate({"a.example.com"});
  auto w = testing::make_certificate({"*.example.com"});
  auto d = testing::make_certificate({"default.example.com"});
  Config c = parse_or_die(R"({"version":"kop.proxy/v1",
    "listeners":[{"name":"tls","address":"0.0.0.0:443"}],
    "virtual_hosts":[{"name":"a","domains":["a.example.com"]},
                     {"name":"w","domains":["*.example.com"]},
                     {"name":"any","domains":["*"]}]})");
  TlsConfig tls;
  auto cert = [](std::string name, const testing::TestCertificate& tc,
                 std::vector<std::string> sn) {
    CertificateConfig cc;
    cc.name = std::move(name);
    cc.cert_pem = tc.cert_pem;
    cc.key_pem = tc.key_pem;
    cc.server_names = std::move(sn);
    return cc;
  };
  tls.certificates = {cert("a", a, {"A.example.com"}), cert("w", w, {"*.example.com"}),
                      cert("d", d, {})};
  tls.default_certificate = "d";
  c.listeners[0].tls = tls;
  auto compiled = RouteTable::compile(c);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  const RouteTable& t = **compiled;
  const Listener* l = t.find_listener("tls");
  ASSERT_NE(l, nullptr);
  EXPECT_TRUE(l->tls);
  ASSERT_EQ(l->certificates.size(), 3u);
  EXPECT_EQ(l->certificates[0]->material.cert_pem, a.cert_pem);
  EXPECT_EQ(t.certificate_for_sni(*l, "a.example.com"), 0u);
  EXPECT_EQ(t.certificate_for_sni(*l, "A.EXAMPLE.COM"), 0u);
  EXPECT_EQ(t.certificate_for_sni(*l, "b.example.com"), 1u);
  EXPECT_EQ(t.certificate_for_sni(*l, "x.b.example.com"), 2u);  // one label only
  EXPECT_EQ(t.certificate_for_sni(*l, "other.org"), 2u);
  EXPECT_EQ(t.certificate_for_sni(*l, ""), 2u);

  auto allowed = [&](std::string_view sni, std::string_view host) {
    return t.host_allowed_for_sni(*l, sni, t.find_virtual_host(*l, host));
  };
  EXPECT_TRUE(allowed("a.example.com", "a.example.com"));
  EXPECT_TRUE(allowed("a.example.com", "A.example.com:443"));
  EXPECT_FALSE(allowed("a.example.com", "b.example.com"));  // 421: coalesced onto a's connection
  EXPECT_TRUE(allowed("b.example.com", "c.example.com"));   // same wildcard virtual host
  EXPECT_FALSE(allowed("b.example.com", "a.example.com"));
  EXPECT_TRUE(allowed("", "a.example.com"));  // no SNI: nothing to compare
  EXPECT_FALSE(allowed("other.org", "a.example.com"));
}

// A compile against the previous table keeps the compiled object of every certificate whose
// config is unchanged (not loaded again), wherever it moved in the list; a changed one is
// validated and loaded again.
TEST(RouteTableTls, UnchangedCertificatesAreKeptChangedOnesLoadedAgain) {
  auto a = testing::make_certificate({"a.example.com"});
  auto b = testing::make_certificate({"b.example.com"});
  auto cert = [](std::string name, const testing::TestCertificate& tc, std::string sn) {
    CertificateConfig cc;
    cc.name = std::move(name);
    cc.cert_pem = tc.cert_pem;
    cc.key_pem = tc.key_pem;
    cc.server_names = {std::move(sn)};
    return cc;
  };
  Config c = parse_or_die(R"({"version":"kop.proxy/v1",
    "listeners":[{"name":"tls","address":"0.0.0.0:443"}],
    "virtual_hosts":[{"name":"a","domains":["a.example.com"]}]})");
  c.listeners[0].tls = TlsConfig{};
  c.listeners[0].tls->certificates = {cert("a", a, "a.example.com"), cert("b", b, "b.example.com")};
  auto first = RouteTable::compile(c);
  ASSERT_TRUE(first.ok()) << first.status();

  // Moved, and a host added (so the routing is compiled again).
  Config moved = c;
  std::swap(moved.listeners[0].tls->certificates[0], moved.listeners[0].tls->certificates[1]);
  VirtualHostConfig other;
  other.name = "b";
  other.domains = {"b.example.com"};
  moved.virtual_hosts.emplace_back(std::move(other));
  auto second = RouteTable::compile(moved, first->get());
  ASSERT_TRUE(second.ok()) << second.status();
  const Listener& l = *(*second)->find_listener("tls");
  ASSERT_EQ(l.certificates.size(), 2u);
  EXPECT_EQ(l.certificates[0]->name, "b");
  EXPECT_EQ(l.certificates[0]->material.cert_pem, b.cert_pem);
  EXPECT_EQ(l.certificates[1]->material.cert_pem, a.cert_pem);
  // The same compiled objects (the proxy keeps their TLS contexts by them).
  const Listener& was = *(*first)->find_listener("tls");
  EXPECT_EQ(l.certificates[0].ptr(), was.certificates[1].ptr());
  EXPECT_EQ(l.certificates[1].ptr(), was.certificates[0].ptr());
  EXPECT_EQ((*second)->certificate_for_sni(l, "a.example.com"), 1u);
  EXPECT_EQ((*second)->certificate_for_sni(l, "b.example.com"), 0u);

  // A changed certificate is checked again: b's certificate with a's key does not load.
  Config broken = moved;
  broken.listeners[0].tls->certificates[0].key_pem = a.key_pem;
  auto third = RouteTable::compile(broken, second->get());
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status(), RouteTable::compile(broken).status());
  EXPECT_NE(third.status().message().find("listeners[0].tls.certificates[0]"), std::string::npos)
      << third.status();
}

TEST(RouteTableTls, OneOrMoreLabelWildcardCertificates) {
  auto w = testing::make_certificate({"*.example.com"});
  auto d = testing::make_certificate({"default.example.com"});
  Config c = parse_or_die(R"({"version":"kop.proxy/v1",
    "listeners":[{"name":"tls","address":"0.0.0.0:443","domain_wildcards":"one_or_more_labels"}],
    "virtual_hosts":[{"name":"w","domains":["*.example.com"]}]})");
  TlsConfig tls;
  for (auto [name, tc, sn] : {std::tuple{"w", &w, std::vector<std::string>{"*.example.com"}},
                              std::tuple{"d", &d, std::vector<std::string>{}}}) {
    CertificateConfig cc;
    cc.name = name;
    cc.cert_pem = tc->cert_pem;
    cc.key_pem = tc->key_pem;
    cc.server_names = sn;
    tls.certificates.push_back(cc);
  }
  tls.default_certificate = "d";
  c.listeners[0].tls = tls;
  auto compiled = RouteTable::compile(c);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  const Listener* l = (*compiled)->find_listener("tls");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ((*compiled)->certificate_for_sni(*l, "b.example.com"), 0u);
  EXPECT_EQ((*compiled)->certificate_for_sni(*l, "x.b.example.com"), 0u);
  EXPECT_EQ((*compiled)->certificate_for_sni(*l, "example.com"), 1u);
}

TEST(RouteTableTls, DefaultCertificateIsTheFirstWhenUnnamed) {
  auto a = testing::make_certificate({"a.example.com"});
  Config c = parse_or_die(
      R"({"version":"kop.proxy/v1","listeners":[{"name":"tls","address":"0.0.0.0:443"}]})");
  TlsConfig tls;
  CertificateConfig cc;
  cc.cert_pem = a.cert_pem;
  cc.key_pem = a.key_pem;
  cc.server_names = {"a.example.com"};
  tls.certificates = {cc};
  c.listeners[0].tls = tls;
  auto t = RouteTable::compile(c);
  ASSERT_TRUE(t.ok()) << t.status();
  const Listener* l = (*t)->find_listener("tls");
  EXPECT_EQ((*t)->certificate_for_sni(*l, "zzz"), 0u);
  EXPECT_EQ(l->certificates[0]->name, "cert0");
}

// ---- Incremental compile (the endpoint fast path).

constexpr std::string_view kIncremental = R"({"version":"kop.proxy/v1",
  "listeners":[{"name":"l","address":"0.0.0.0:80"}],
  "virtual_hosts":[{"name":"v","domains":["*"],"routes":[
    {"match":{"prefix":"/a"},"forward":{"cluster":"a"}},
    {"match":{"prefix":"/b"},"forward":{"cluster":"b"}}]}],
  "clusters":[{"name":"b","endpoints":["10.0.0.1:80","10.0.0.2:80"]},
              {"name":"a","endpoints":["10.0.1.1:80"]}]})";

TEST(RouteTableIncremental, EndpointChangeReusesRoutingAndUnchangedClusters) {
  Config c1 = parse_or_die(kIncremental);
  auto t1 = RouteTable::compile(c1);
  ASSERT_TRUE(t1.ok());
  const RouteTable& first = **t1;
  // Endpoint 10.0.0.2 of b gets ejected in the first table.
  uint32_t b1 = *first.cluster_index("b");
  MonoTime now{std::chrono::seconds(100)};
  for (int i = 0; i < 5; ++i) first.cluster(b1).health().report(1, UpstreamResult::kHttp5xx, now);
  ASSERT_TRUE(first.cluster(b1).health().is_ejected(1, now));

  Config c2 = c1;
  c2.generation = "2";
  ClusterConfig b = c2.clusters[0];
  b.endpoints.push_back(EndpointConfig{SocketAddress{"10.0.0.3", 80}, 1});
  b.endpoints.erase(b.endpoints.begin());  // drop 10.0.0.1
  c2.clusters[0] = b;
  c2.clusters.emplace_back(ClusterConfig{.name = "unused"});
  auto t2 = RouteTable::compile(c2, &first);
  ASSERT_TRUE(t2.ok()) << t2.status();
  const RouteTable& second = **t2;
  EXPECT_EQ(&second.virtual_hosts(), &first.virtual_hosts());  // routing shared
  EXPECT_EQ(second.config().generation, "2");
  uint32_t a1 = *first.cluster_index("a");
  uint32_t a2 = *second.cluster_index("a");
  EXPECT_EQ(second.clusters()[a2], first.clusters()[a1]);  // unchanged cluster reused
  uint32_t b2 = *second.cluster_index("b");
  EXPECT_EQ(b2, b1);  // routes keep their cluster indexes
  EXPECT_NE(second.clusters()[b2], first.clusters()[b1]);
  const Cluster& nb = second.cluster(b2);
  ASSERT_EQ(nb.endpoints.size(), 2u);
  EXPECT_EQ(nb.endpoints[0].address_text(), "10.0.0.2:80");
  EXPECT_TRUE(nb.health().is_ejected(0, now));   // state carried over by address
  EXPECT_FALSE(nb.health().is_ejected(1, now));  // the new endpoint starts fresh
  ASSERT_TRUE(second.cluster_index("unused").has_value());

  // Routes still resolve to the right clusters.
  const VirtualHost* v = second.find_virtual_host("l", "x");
  RequestView r;
  r.path = "/b/x";
  EXPECT_EQ(second.cluster(second.match(*v, r)->pick_cluster(0)).name, "b");
  r.path = "/a";
  EXPECT_EQ(second.cluster(second.match(*v, r)->pick_cluster(0)).name, "a");
}

TEST(RouteTableIncremental, RouteChangeRebuildsRouting) {
  Config c1 = parse_or_die(kIncremental);
  auto t1 = RouteTable::compile(c1);
  ASSERT_TRUE(t1.ok());
  Config c2 = c1;
  VirtualHostConfig v = c2.virtual_hosts[0];
  v.routes[0].match.path.value = "/aa";
  c2.virtual_hosts[0] = v;
  auto t2 = RouteTable::compile(c2, t1->get());
  ASSERT_TRUE(t2.ok());
  EXPECT_NE(&(*t2)->virtual_hosts(), &(*t1)->virtual_hosts());
  EXPECT_EQ((*t2)->clusters()[*(*t2)->cluster_index("a")],
            (*t1)->clusters()[*(*t1)->cluster_index("a")]);
  // Removing a cluster that routes use is refused even on the fast path.
  Config c3 = c1;
  c3.clusters.pop_back();
  auto t3 = RouteTable::compile(c3, t1->get());
  ASSERT_FALSE(t3.ok());
  EXPECT_EQ(t3.status().message(),
            "virtual_hosts[0].routes[0].forward.cluster: unknown cluster \"a\"");
}

// Three hosts; the second changes, a cluster goes and another comes: the first and third keep
// their compiled form (the same objects), their routes keep cluster indexes and ids, and every
// request still reaches its cluster.
constexpr std::string_view kThreeHosts = R"({"version":"kop.proxy/v1",
  "listeners":[{"name":"l","address":"0.0.0.0:80"}],
  "virtual_hosts":[
    {"name":"x","domains":["x.example.com"],"routes":[
      {"match":{"prefix":"/"},"forward":{"cluster":"c"}},
      {"match":{"prefix":"/m"},"forward":{"cluster":"a","mirrors":[{"cluster":"c"}]}}]},
    {"name":"y","domains":["y.example.com"],"routes":[
      {"match":{"prefix":"/"},"forward":{"cluster":"b"}}]},
    {"name":"z","domains":["z.example.com"],"routes":[
      {"match":{"exact":"/z"},"forward":{"clusters":[{"cluster":"a","weight":1},
                                                     {"cluster":"c","weight":1}]}}]}],
  "clusters":[{"name":"a","endpoints":["10.0.0.1:80"]},{"name":"b","endpoints":["10.0.0.2:80"]},
              {"name":"c","endpoints":["10.0.0.3:80"]}]})";

std::string cluster_for(const RouteTable& t, std::string_view host, std::string_view path,
                        uint64_t random = 0) {
  const VirtualHost* v = t.find_virtual_host("l", host);
  if (v == nullptr) return "no host";
  RequestView r;
  r.path = path;
  const Route* route = t.match(*v, r);
  if (route == nullptr) return "no route";
  return t.cluster(route->pick_cluster(random)).name;
}

TEST(RouteTableIncremental, UnchangedVirtualHostsKeepTheirCompiledForm) {
  Config c1 = parse_or_die(kThreeHosts);
  auto t1 = RouteTable::compile(c1);
  ASSERT_TRUE(t1.ok()) << t1.status();
  const RouteTable& first = **t1;

  Config c2 = c1;
  c2.generation = "2";
  VirtualHostConfig y = c2.virtual_hosts[1];
  y.routes[0].forward.clusters[0].cluster = "d";
  y.routes.push_back(y.routes[0]);
  y.routes.back().match.path.value = "/two";
  c2.virtual_hosts[1] = y;
  c2.clusters.erase(c2.clusters.begin() + 1);  // b: no route uses it any more
  c2.clusters.insert(c2.clusters.begin(), ClusterConfig{.name = "d"});
  auto t2 = RouteTable::compile(c2, &first);
  ASSERT_TRUE(t2.ok()) << t2.status();
  const RouteTable& second = **t2;

  const VirtualHost& x1 = first.virtual_hosts()[0];
  const VirtualHost& z1 = first.virtual_hosts()[2];
  EXPECT_EQ(&static_cast<const VirtualHost&>(second.virtual_hosts()[0]), &x1);
  EXPECT_EQ(&static_cast<const VirtualHost&>(second.virtual_hosts()[2]), &z1);
  EXPECT_NE(&static_cast<const VirtualHost&>(second.virtual_hosts()[1]),
            &static_cast<const VirtualHost&>(first.virtual_hosts()[1]));
  // a and c keep their indexes; d takes the index b left.
  EXPECT_EQ(second.cluster_index("a"), first.cluster_index("a"));
  EXPECT_EQ(second.cluster_index("c"), first.cluster_index("c"));
  EXPECT_EQ(second.cluster_index("d"), first.cluster_index("b"));
  EXPECT_FALSE(second.cluster_index("b").has_value());
  EXPECT_EQ(second.clusters().size(), 3u);

  EXPECT_EQ(cluster_for(second, "x.example.com", "/"), "c");
  EXPECT_EQ(cluster_for(second, "x.example.com", "/m"), "a");
  const Route* m =
      second.match(*second.find_virtual_host("l", "x.example.com"), RequestView{.path = "/m"});
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->mirrors.size(), 1u);
  EXPECT_EQ(second.cluster(m->mirrors[0].first).name, "c");
  EXPECT_EQ(cluster_for(second, "y.example.com", "/"), "d");
  EXPECT_EQ(cluster_for(second, "y.example.com", "/two"), "d");
  EXPECT_EQ(cluster_for(second, "z.example.com", "/z", 0), "a");
  EXPECT_EQ(cluster_for(second, "z.example.com", "/z", UINT64_MAX), "c");

  // Route ids: unique in the table and below route_id_limit(); the kept routes keep theirs.
  std::set<uint32_t> ids;
  for (const VirtualHost& vh : second.virtual_hosts())
    for (const Route& r : vh.routes) {
      EXPECT_LT(r.id, second.route_id_limit());
      EXPECT_TRUE(ids.insert(r.id).second) << r.name;
    }
  EXPECT_EQ(ids.size(), second.route_count());
  EXPECT_EQ(second.route_count(), 5u);

  // With no index free, a new cluster takes the next one; the hosts stay compiled. Removing a
  // cluster a kept host uses is refused, naming the route.
  Config c3 = c2;
  c3.clusters.emplace_back(ClusterConfig{.name = "e"});
  auto t3 = RouteTable::compile(c3, &second);
  ASSERT_TRUE(t3.ok()) << t3.status();
  EXPECT_EQ((*t3)->clusters().size(), 4u);
  EXPECT_EQ(&static_cast<const VirtualHost&>((*t3)->virtual_hosts()[1]),
            &static_cast<const VirtualHost&>(second.virtual_hosts()[1]));
  Config c4 = c3;
  c4.clusters.erase(c4.clusters.begin());  // d
  auto t4 = RouteTable::compile(c4, t3->get());
  ASSERT_FALSE(t4.ok());
  EXPECT_EQ(t4.status().message(),
            "virtual_hosts[1].routes[0].forward.cluster: unknown cluster \"d\"");
}

}  // namespace
}  // namespace kop::proxy

namespace kop::proxy {
namespace {

TEST(StringMap, CaseInsensitiveHashAndEqualityAgree) {
  std::string base = "abcdefghijklmnopqrstuvwxyz0123456789.-_ABCDEFGHIJKLMNOP";
  for (std::size_t n = 0; n <= base.size(); ++n) {
    std::string lower = base.substr(0, n);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string upper = lower;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ICaseStringHash h;
    ICaseStringEq eq;
    EXPECT_EQ(h(std::string_view(lower)), h(std::string_view(upper))) << n;
    EXPECT_TRUE(eq(lower, std::string_view(upper))) << n;
    if (n > 0) {
      std::string other = lower;
      other[n - 1] = '@';  // '@' | 0x20 == '`': same fold, must still differ
      std::string other2 = lower;
      other2[n - 1] = '`';
      EXPECT_FALSE(eq(other, std::string_view(other2))) << n;
      other2[n / 2] = '#';
      EXPECT_FALSE(eq(lower, std::string_view(other2))) << n;
    }
  }
  ICaseStringMap<int> m;
  m.emplace("shop.example.com", 1);
  EXPECT_EQ(m.count(std::string_view("SHOP.Example.COM")), 1u);
  EXPECT_EQ(m.count(std::string_view("shop.example.co")), 0u);
}

}  // namespace
}  // namespace kop::proxy

namespace kop::proxy {
namespace {

TEST(RouteTable, LookupsAndChoicesDoNotAllocate) {
  auto t = compile_or_die(R"({"version":"kop.proxy/v1",
    "listeners":[{"name":"l","address":"0.0.0.0:80"}],
    "clusters":[{"name":"c","endpoints":["10.0.0.1:80","10.0.0.2:80","10.0.0.3:80"],
                 "lb_policy":"ring_hash","hash_on":{"header":"x-user"}}],
    "virtual_hosts":[
      {"name":"a","domains":["a.example.com","*.b.example.com"],"routes":[
        {"match":{"exact":"/exact"},"forward":{"cluster":"c"}},
        {"match":{"regex":"/r/[0-9]+"},"forward":{"cluster":"c"}},
        {"match":{"prefix":"/api","headers":[{"name":"x-canary","regex":"y.*"}]},"forward":{"cluster":"c"}},
        {"match":{"prefix":"/api"},"forward":{"cluster":"c"}},
        {"match":{"string_prefix":"/s"},"forward":{"cluster":"c"}},
        {"forward":{"cluster":"c"}}]},
      {"name":"any","domains":["*"],"routes":[{"direct_response":{"status":404}}]}]})");
  ASSERT_NE(t, nullptr);
  const Listener* l = t->find_listener("l");
  const Cluster& c = t->cluster(0);
  LoadBalancer lb(c, 1);
  HeaderField headers[] = {{"X-Canary", "yes"}, {"x-user", "bob"}};
  const char* hosts[] = {"A.example.com:80", "x.b.example.com", "nope", "[::1]:80"};
  const char* paths[] = {"/exact", "/r/12", "/api/x", "/sx", "/", "/r/x"};
  long found = 0;
  auto run = [&] {
    for (const char* h : hosts) {
      for (const char* p : paths) {
        const VirtualHost* vh = t->find_virtual_host(*l, h);
        RequestView r;
        r.method = "GET";
        r.path = p;
        r.headers = headers;
        const Route* route = t->match(*vh, r);
        found += route != nullptr;
        uint64_t key = 0;
        LbContext ctx{.now = MonoClock::now()};
        ctx.has_hash = c.hash_key(r, &key);
        ctx.hash = key;
        uint32_t e = lb.choose(ctx);
        c.health().report(e, UpstreamResult::kSuccess, ctx.now);
      }
    }
  };
  run();  // warm-up: RE2 builds its DFA states lazily on first use
  long before = g_allocations.load();
  {
    std::string probe(100, 'x');  // the counter does see allocations
    EXPECT_GT(g_allocations.load() - before, 0);
    benchmark_sink = probe.size();
  }
  before = g_allocations.load();
  for (int i = 0; i < 100; ++i) run();
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_GT(found, 0);
}

}  // namespace
}  // namespace kop::proxy
