// External authentication in the proxy core: the verdict of an auth answer, the fields it
// carries upstream and downstream, ingress-nginx's sign-in URL (the rd parameter) and
// x-auth-request-redirect, the answer cache (statuses, lifetimes, what is never kept, its
// bound), and the route's ext_auth parsed, validated, rendered back and compiled (its cache kept
// with an unchanged virtual host).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kop/proxy/config.h"
#include "kop/proxy/ext_auth.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

std::unique_ptr<ExtAuth> compile(const ExtAuthConfig& c) {
  auto a = ExtAuth::compile(c);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? std::move(*a) : nullptr;
}

ExtAuthConfig base() {
  ExtAuthConfig c;
  c.cluster = "auth";
  c.path = "/basic-auth/user/password";
  c.host = "auth.example.com";
  return c;
}

RequestView view(std::span<const HeaderField> headers, std::string_view path = "/",
                 std::string_view query = "a=b&c=d") {
  RequestView v;
  v.method = "GET";
  v.path = path;
  v.query = query;
  v.host = "app.example.com";
  v.scheme = "http";
  v.client_address = "192.0.2.7";
  v.headers = headers;
  return v;
}

TEST(ExtAuth, VerdictsFollowNginxAuthRequest) {
  EXPECT_EQ(ExtAuth::judge(200), ExtAuth::Verdict::kAllow);
  EXPECT_EQ(ExtAuth::judge(204), ExtAuth::Verdict::kAllow);
  EXPECT_EQ(ExtAuth::judge(401), ExtAuth::Verdict::kUnauthorized);
  EXPECT_EQ(ExtAuth::judge(403), ExtAuth::Verdict::kForbidden);
  for (int s : {302, 404, 500, 503}) EXPECT_EQ(ExtAuth::judge(s), ExtAuth::Verdict::kError) << s;
  EXPECT_EQ(ExtAuth::failed().verdict, ExtAuth::Verdict::kError);
}

TEST(ExtAuth, AnswerCopiesTheNamedFieldsAndDropsTheClientsOwn) {
  ExtAuthConfig c = base();
  c.response_headers = {"X-User", "X-Email", "Foo"};
  auto auth = compile(c);
  const HeaderField fields[] = {{"Content-Type", "text/plain"},
                                {"x-user", "ann"},
                                {"Set-Cookie", "alma=armud"},
                                {"X-Email", ""},
                                {"set-cookie", "b=2; Path=/"}};
  ExtAuth::Answer a = auth->answer(200, fields);
  EXPECT_EQ(a.verdict, ExtAuth::Verdict::kAllow);
  ASSERT_EQ(a.upstream.set.size(), 1u);
  EXPECT_EQ(a.upstream.set[0].name, "X-User");
  EXPECT_EQ(a.upstream.set[0].value, "ann");
  // Absent or empty in the answer: the client's field of that name is removed.
  EXPECT_EQ(a.upstream.remove, (std::vector<std::string>{"X-Email", "Foo"}));
  ASSERT_EQ(a.cookies.add.size(), 2u);
  EXPECT_EQ(a.cookies.add[1].value, "b=2; Path=/");
  EXPECT_FALSE(a.cacheable);  // nginx's proxy_cache keeps no answer with Set-Cookie

  const HeaderField challenge[] = {{"WWW-Authenticate", "Basic realm=\"x\""}, {"X-User", "ann"}};
  ExtAuth::Answer denied = auth->answer(401, challenge);
  EXPECT_EQ(denied.verdict, ExtAuth::Verdict::kUnauthorized);
  EXPECT_EQ(denied.www_authenticate, (std::vector<std::string>{"Basic realm=\"x\""}));
  EXPECT_TRUE(denied.upstream.set.empty());  // nothing goes upstream from a refusal
  EXPECT_TRUE(denied.cacheable);
}

TEST(ExtAuth, SigninUrlGetsTheOriginalUrlAsIngressNginxWritesIt) {
  ExtAuthConfig c = base();
  c.signin = "http://$host/auth/start";
  auto auth = compile(c);
  std::string loc;
  ASSERT_TRUE(auth->signin_location(view({}), loc));
  // ingress-nginx's e2e: rd=http://<host> + url.QueryEscape("/?a=b&c=d").
  EXPECT_EQ(loc, "http://app.example.com/auth/start?rd=http://app.example.com%2F%3Fa%3Db%26c%3Dd");

  c.signin = "https://login.example.com/start?x=1";
  c.signin_redirect_param = "orig";
  loc.clear();
  compile(c)->signin_location(view({}, "/p q", ""), loc);
  EXPECT_EQ(loc, "https://login.example.com/start?x=1&orig=http://app.example.com%2Fp%20q");

  // A URL that names the parameter itself is left as written (its variables expanded).
  c.signin = "https://login.example.com/start?orig=$scheme://$http_host$escaped_request_uri";
  loc.clear();
  compile(c)->signin_location(view({}), loc);
  EXPECT_EQ(loc, "https://login.example.com/start?orig=http://app.example.com%2F%3Fa%3Db%26c%3Dd");

  loc.clear();
  EXPECT_FALSE(compile(base())->signin_location(view({}), loc));
  EXPECT_TRUE(loc.empty());
}

TEST(ExtAuth, RequestRedirectDefaultsToTheRequestUri) {
  std::string out;
  compile(base())->request_redirect(view({}, "/x", "q=1"), out);
  EXPECT_EQ(out, "/x?q=1");
  ExtAuthConfig c = base();
  c.request_redirect = "https://$host/back";
  out.clear();
  compile(c)->request_redirect(view({}), out);
  EXPECT_EQ(out, "https://app.example.com/back");
}

TEST(ExtAuth, CookiesGoOnSuccessfulResponsesUnlessAlways) {
  auto auth = compile(base());
  for (int s : {200, 201, 204, 206, 301, 302, 303, 304, 307, 308})
    EXPECT_TRUE(auth->sets_cookie_on(s)) << s;
  for (int s : {401, 403, 404, 500, 503}) EXPECT_FALSE(auth->sets_cookie_on(s)) << s;
  ExtAuthConfig c = base();
  c.always_set_cookie = true;
  EXPECT_TRUE(compile(c)->sets_cookie_on(503));
}

TEST(ExtAuth, CacheKeepsListedStatusesForTheirTime) {
  ExtAuthConfig c = base();
  c.cache_key = "$http_authorization";
  c.cache_valid = {ExtAuthCacheRule{{200, 202, 401}, false, Millis(30000)},
                   ExtAuthCacheRule{{500}, false, Millis(1000)}};
  auto auth = compile(c);
  const HeaderField ann[] = {{"authorization", "Basic YW5uOnMzY3JldA=="}};
  const HeaderField bob[] = {{"authorization", "Basic Ym9iOng="}};
  ExtAuth::Key ka, kb;
  ASSERT_TRUE(auth->cache_key(view(ann), &ka));
  ASSERT_TRUE(auth->cache_key(view(bob), &kb));
  EXPECT_NE(ka, kb);
  EXPECT_EQ(auth->cached(ka, 0), nullptr);
  auth->remember(ka, std::make_shared<const ExtAuth::Answer>(auth->answer(200, {})), 1000);
  auth->remember(kb, std::make_shared<const ExtAuth::Answer>(auth->answer(403, {})), 1000);
  ASSERT_NE(auth->cached(ka, 30999), nullptr);
  EXPECT_EQ(auth->cached(ka, 30999)->verdict, ExtAuth::Verdict::kAllow);
  EXPECT_EQ(auth->cached(ka, 31000), nullptr);  // expired
  EXPECT_EQ(auth->cached(kb, 1001), nullptr);   // 403 is not listed
  auth->remember(kb, std::make_shared<const ExtAuth::Answer>(auth->answer(500, {})), 0);
  EXPECT_NE(auth->cached(kb, 999), nullptr);
  const HeaderField no_store[] = {{"Cache-Control", "private, max-age=60"}};
  auth->remember(ka, std::make_shared<const ExtAuth::Answer>(auth->answer(200, no_store)), 0);
  EXPECT_EQ(auth->cached(ka, 1), nullptr);
  // Without a cache key nothing is cached.
  ExtAuth::Key k;
  EXPECT_FALSE(compile(base())->cache_key(view(ann), &k));
}

TEST(ExtAuth, CacheDefaultsAndAnyAndItsBound) {
  ExtAuthConfig c = base();
  c.cache_key = "$uri";
  c.cache_valid = {ExtAuthCacheRule{{}, false, Millis(1000)}};  // nginx: 200, 301, 302
  auto auth = compile(c);
  ExtAuth::Key k{};
  auth->remember(k, std::make_shared<const ExtAuth::Answer>(auth->answer(401, {})), 0);
  EXPECT_EQ(auth->cached(k, 1), nullptr);
  auth->remember(k, std::make_shared<const ExtAuth::Answer>(auth->answer(200, {})), 0);
  EXPECT_NE(auth->cached(k, 1), nullptr);
  c.cache_valid = {ExtAuthCacheRule{{}, true, Millis(1000)}};
  auto any = compile(c);
  any->remember(k, std::make_shared<const ExtAuth::Answer>(any->answer(401, {})), 0);
  EXPECT_NE(any->cached(k, 1), nullptr);
  // Full: expired entries go first, then the soonest to expire; never more than the bound.
  c.cache_valid = {ExtAuthCacheRule{{}, true, Millis(10000000)}};
  auto full = compile(c);
  auto ok = std::make_shared<const ExtAuth::Answer>(full->answer(200, {}));
  auto key_of = [](uint32_t i) {
    ExtAuth::Key key{};
    key[0] = static_cast<uint8_t>(i);
    key[1] = static_cast<uint8_t>(i >> 8);
    key[2] = 1;
    return key;
  };
  for (uint32_t i = 0; i < ExtAuth::kCacheEntries + 10; ++i) full->remember(key_of(i), ok, i);
  EXPECT_EQ(full->cache_size(), ExtAuth::kCacheEntries);
  int64_t now = ExtAuth::kCacheEntries + 10;
  EXPECT_EQ(full->cached(key_of(0), now), nullptr);  // the soonest to expire went first
  EXPECT_EQ(full->cached(key_of(9), now), nullptr);
  EXPECT_NE(full->cached(key_of(10), now), nullptr);
  EXPECT_NE(full->cached(key_of(ExtAuth::kCacheEntries + 9), now), nullptr);
}

TEST(ExtAuth, CompileNamesTheFieldAtFault) {
  auto error = [](void (*edit)(ExtAuthConfig&)) {
    ExtAuthConfig c = base();
    edit(c);
    auto a = ExtAuth::compile(c);
    return a.ok() ? std::string() : std::string(a.status().message());
  };
  EXPECT_EQ(error([](ExtAuthConfig& c) { c.path = "x"; }).rfind("path:", 0), 0u);
  EXPECT_EQ(error([](ExtAuthConfig& c) { c.host = ""; }).rfind("host:", 0), 0u);
  EXPECT_EQ(error([](ExtAuthConfig& c) { c.method = "G ET"; }).rfind("method:", 0), 0u);
  EXPECT_EQ(error([](ExtAuthConfig& c) {
              c.response_headers = {"X User"};
            }).rfind("response_headers[0]:", 0),
            0u);
  EXPECT_EQ(error([](ExtAuthConfig& c) { c.signin = "https://$nope/x"; }).rfind("signin:", 0), 0u);
  EXPECT_EQ(error([](ExtAuthConfig& c) { c.cache_key = "$uri"; }).rfind("cache_valid:", 0), 0u);
  EXPECT_EQ(error([](ExtAuthConfig& c) {
              c.cache_key = "$uri";
              c.cache_valid = {ExtAuthCacheRule{{200}, false, Millis(0)}};
            }).rfind("cache_valid[0].ttl_ms:", 0),
            0u);
  EXPECT_EQ(error([](ExtAuthConfig& c) {
              c.signin_redirect_param = "a=b";
            }).rfind("signin_redirect_param:", 0),
            0u);
}

std::string config_with_route(std::string_view route_fields) {
  return std::string(R"({"version":"kop.proxy/v1","clusters":[{"name":"c"},{"name":"auth"}],)") +
         R"("virtual_hosts":[{"name":"v","domains":["*"],"routes":[{"name":"r",)" +
         std::string(route_fields) + "}]}]}";
}

TEST(RouteExtAuth, ParsedRenderedAndCompiled) {
  std::string text = config_with_route(
      R"("forward":{"cluster":"c"},"ext_auth":{"cluster":"auth","path":"/check?x=1",)"
      R"("host":"auth.ns.svc","method":"GET","response_headers":["X-User"],)"
      R"("signin":"https://$host/start","signin_redirect_param":"orig","always_set_cookie":true,)"
      R"("timeout_ms":5000,"cache_key":"$http_authorization",)"
      R"("cache_valid":[{"statuses":[200,401],"ttl_ms":60000},{"any":true,"ttl_ms":1000}]})");
  auto c = parse_config(text);
  ASSERT_TRUE(c.ok()) << c.status();
  const RouteConfig& r = c->virtual_hosts[0]->routes[0];
  ASSERT_TRUE(r.ext_auth);
  EXPECT_EQ(r.ext_auth->path, "/check?x=1");
  EXPECT_EQ(r.ext_auth->timeout, Millis(5000));
  ASSERT_EQ(r.ext_auth->cache_valid.size(), 2u);
  EXPECT_TRUE(r.ext_auth->cache_valid[1].any);
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
  auto table = testing::compile_or_die(text);
  ASSERT_TRUE(table);
  const Route& route = table->virtual_hosts()[0]->routes[0];
  ASSERT_TRUE(route.ext_auth);
  EXPECT_EQ(table->clusters()[route.ext_auth_cluster]->config.name, "auth");
}

// The answer cache lives with the compiled route: a new config that leaves the route's virtual
// host unchanged keeps it (and the auth cluster's index), a changed ext_auth starts afresh.
TEST(RouteExtAuth, CacheOutlivesAConfigThatKeepsTheHost) {
  std::string text = config_with_route(
      R"("forward":{"cluster":"c"},"ext_auth":{"cluster":"auth","host":"auth.ns.svc",)"
      R"("cache_key":"$http_authorization","cache_valid":[{"ttl_ms":60000}]})");
  Config c1 = testing::parse_or_die(text);
  auto t1 = RouteTable::compile(c1);
  ASSERT_TRUE(t1.ok()) << t1.status();
  const Route& r1 = (*t1)->virtual_hosts()[0]->routes[0];
  ASSERT_TRUE(r1.ext_auth);
  ExtAuth::Key key{};
  r1.ext_auth->remember(key, std::make_shared<const ExtAuth::Answer>(r1.ext_auth->answer(200, {})),
                        0);

  // Another generation with a cluster more: the host is the same Shared, so it is kept.
  Config c2 = c1;
  c2.generation = "2";
  c2.clusters.emplace_back(ClusterConfig{.name = "other"});
  auto t2 = RouteTable::compile(c2, t1->get());
  ASSERT_TRUE(t2.ok()) << t2.status();
  const Route& r2 = (*t2)->virtual_hosts()[0]->routes[0];
  EXPECT_EQ(r2.ext_auth, r1.ext_auth);
  EXPECT_NE(r2.ext_auth->cached(key, 1), nullptr);
  EXPECT_EQ((*t2)->clusters()[r2.ext_auth_cluster]->config.name, "auth");

  // The ext_auth changed: compiled again, its cache empty.
  Config c3 = c2;
  VirtualHostConfig v = c3.virtual_hosts[0];
  v.routes[0].ext_auth->cache_valid[0].ttl = Millis(1000);
  c3.virtual_hosts[0] = v;
  auto t3 = RouteTable::compile(c3, t2->get());
  ASSERT_TRUE(t3.ok()) << t3.status();
  const Route& r3 = (*t3)->virtual_hosts()[0]->routes[0];
  ASSERT_TRUE(r3.ext_auth);
  EXPECT_NE(r3.ext_auth, r1.ext_auth);
  EXPECT_EQ(r3.ext_auth->cached(key, 1), nullptr);
}

TEST(RouteExtAuth, BadValuesNameTheirPath) {
  auto validated = [](std::string_view fields) {
    auto c = parse_config(config_with_route(fields));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? validate(*c) : c.status();
  };
  auto unknown = validated(R"("forward":{"cluster":"c"},"ext_auth":{"cluster":"x","host":"a"})");
  EXPECT_NE(unknown.message().find("routes[0].ext_auth.cluster"), std::string_view::npos)
      << unknown;
  auto path = validated(
      R"("forward":{"cluster":"c"},"ext_auth":{"cluster":"auth","host":"a","path":"check"})");
  EXPECT_NE(path.message().find("routes[0].ext_auth.path"), std::string_view::npos) << path;
  auto redirect =
      validated(R"("redirect":{"host":"a.example.com"},"ext_auth":{"cluster":"auth","host":"a"})");
  EXPECT_NE(redirect.message().find("routes[0].ext_auth"), std::string_view::npos) << redirect;
  EXPECT_FALSE(
      parse_config(config_with_route(R"("forward":{"cluster":"c"},"ext_auth":{"host":"a"})")).ok());
}

}  // namespace
}  // namespace kop::proxy
