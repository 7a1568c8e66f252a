// ingress-nginx annotations: the reader's value syntax and defaults, and what requests hit
// through the compiled proxy RouteTable once the model applied them (ingress-nginx's
// documented behaviour: its annotations guide and rewrite/redirect examples).
#include "kop/ingress/nginx_annotations.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include <absl/strings/escaping.h>

#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::ingress {
namespace {

using testing::compile;
using testing::parse_objects;
using testing::route_of;
using testing::service_yaml;
using testing::snapshot_of;
using testing::tls_secret_yaml;

std::string annotations_yaml(const std::vector<std::pair<std::string, std::string>>& a) {
  std::ostringstream y;
  y << "  annotations:\n";
  for (const auto& [k, v] : a) y << "    nginx.ingress.kubernetes.io/" << k << ": " << v << "\n";
  return y.str();
}

// An Ingress `name` routing `host` path (pathType, path) to Service `svc`, with annotations.
std::string ingress(std::string_view name, std::string_view host, std::string_view path_type,
                    std::string_view path, std::string_view svc,
                    const std::vector<std::pair<std::string, std::string>>& annotations = {},
                    std::string_view tls_secret = "") {
  std::ostringstream y;
  y << "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: " << name
    << "\n  namespace: default\n";
  if (!annotations.empty()) y << annotations_yaml(annotations);
  y << "spec:\n";
  if (!tls_secret.empty())
    y << "  tls: [{hosts: [" << host << "], secretName: " << tls_secret << "}]\n";
  y << "  rules:\n  - host: " << host
    << "\n    http:\n      paths:\n      - {pathType: " << path_type << ", path: \"" << path
    << "\", backend: {service: {name: " << svc << ", port: {number: 80}}}}\n";
  return y.str();
}

NginxAnnotations read(const std::vector<std::pair<std::string, std::string>>& a) {
  auto objects = parse_objects(ingress("x", "a.example.com", "Prefix", "/", "web", a));
  return read_nginx_annotations(*objects.at(0));
}

const NginxVerdict* verdict(const NginxAnnotations& a, std::string_view name) {
  for (const auto& v : a.verdicts)
    if (v.annotation == name) return &v;
  return nullptr;
}

Options nginx_options() {
  Options o;
  o.nginx_annotations = true;
  return o;
}

bool has_event(const Model& m, std::string_view reason, std::string_view text) {
  for (const auto& e : m.events)
    if (e.reason == reason && e.message.find(text) != std::string::npos) return true;
  return false;
}

TEST(NginxAnnotations, DefaultsAreIngressNginxs) {
  NginxAnnotations a = read({});
  EXPECT_TRUE(a.verdicts.empty());
  EXPECT_FALSE(a.use_regex);
  EXPECT_TRUE(a.ssl_redirect);
  EXPECT_FALSE(a.force_ssl_redirect);
  EXPECT_EQ(a.idle_timeout, std::chrono::seconds(60));
  EXPECT_EQ(a.retry.num_retries, 2u);  // proxy-next-upstream-tries 3 = 1 try + 2 retries
  EXPECT_TRUE(a.retry.on_connect_failure);
  EXPECT_TRUE(a.retry.on_reset);
  EXPECT_TRUE(a.retry.statuses.empty());
  EXPECT_EQ(a.strategy, Strategy::kRoundRobin);
}

TEST(NginxAnnotations, BooleansFollowGoParseBool) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"})
    EXPECT_EQ(parse_nginx_bool(t), true) << t;
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"})
    EXPECT_EQ(parse_nginx_bool(f), false) << f;
  for (std::string_view bad : {"yes", "on", "", "tRuE"})
    EXPECT_EQ(parse_nginx_bool(bad), std::nullopt) << bad;
  NginxAnnotations a = read({{"use-regex", "\"yes\""}});
  EXPECT_FALSE(a.use_regex);
  ASSERT_NE(verdict(a, "use-regex"), nullptr);
  EXPECT_EQ(verdict(a, "use-regex")->support, NginxSupport::kIgnored);
  EXPECT_NE(verdict(a, "use-regex")->note.find("not a boolean"), std::string::npos);
}

TEST(NginxAnnotations, EveryAnnotationGetsAVerdict) {
  NginxAnnotations a = read({{"use-regex", "\"true\""},
                             {"enable-opentelemetry", "\"true\""},
                             {"made-up-thing", "x"},
                             {"server-snippet", "\"return 200;\""}});
  ASSERT_EQ(a.verdicts.size(), 4u);
  EXPECT_EQ(verdict(a, "use-regex")->support, NginxSupport::kSupported);
  EXPECT_EQ(verdict(a, "enable-opentelemetry")->support, NginxSupport::kIgnored);
  EXPECT_NE(verdict(a, "enable-opentelemetry")->note.find("tracing"), std::string::npos);
  EXPECT_EQ(verdict(a, "made-up-thing")->support, NginxSupport::kIgnored);
  EXPECT_NE(verdict(a, "made-up-thing")->note.find("not an annotation"), std::string::npos);
  EXPECT_NE(verdict(a, "server-snippet")->note.find("never executed"), std::string::npos);
}

TEST(NginxAnnotations, SnippetOnlyInItsTwoHeaderForms) {
  NginxAnnotations ok = read({{"configuration-snippet",
                               "|\n      more_set_headers \"X-Frame-Options: DENY\";\n"
                               "      proxy_set_header X-Team \"blue team\";"}});
  EXPECT_EQ(verdict(ok, "configuration-snippet")->support, NginxSupport::kSupported);
  ASSERT_EQ(ok.response_headers.set.size(), 1u);
  EXPECT_EQ(ok.response_headers.set[0], (Header{"X-Frame-Options", "DENY"}));
  ASSERT_EQ(ok.request_headers.set.size(), 1u);
  EXPECT_EQ(ok.request_headers.set[0], (Header{"X-Team", "blue team"}));

  for (std::string bad :
       {"\"more_set_headers 'X-A: b'; access_by_lua_block { os.exit() };\"",
        "\"proxy_set_header X-Real-IP $remote_addr;\"", "\"more_set_headers -s 404 'X-A: b';\"",
        "\"rewrite ^ /x;\"", "\"proxy_set_header X-A b\""}) {
    NginxAnnotations a = read({{"configuration-snippet", bad}});
    ASSERT_NE(verdict(a, "configuration-snippet"), nullptr) << bad;
    EXPECT_EQ(verdict(a, "configuration-snippet")->support, NginxSupport::kIgnored) << bad;
    EXPECT_TRUE(a.request_headers.set.empty()) << bad;
    EXPECT_TRUE(a.response_headers.set.empty()) << bad;
  }
}

TEST(NginxAnnotations, NextUpstreamAndTries) {
  NginxAnnotations a = read({{"proxy-next-upstream", "\"error http_502 http_503 non_idempotent\""},
                             {"proxy-next-upstream-tries", "\"5\""}});
  EXPECT_EQ(a.retry.num_retries, 4u);
  EXPECT_TRUE(a.retry.on_connect_failure);
  EXPECT_EQ(a.retry.statuses, (std::vector<uint32_t>{502, 503}));
  EXPECT_TRUE(a.retry.non_idempotent);
  EXPECT_EQ(read({{"proxy-next-upstream", "\"off\""}}).retry.num_retries, 0u);
  NginxAnnotations bad = read({{"proxy-next-upstream", "\"error sometimes\""}});
  EXPECT_EQ(verdict(bad, "proxy-next-upstream")->support, NginxSupport::kIgnored);
  EXPECT_EQ(bad.retry.num_retries, 2u);  // the default stays
  EXPECT_EQ(read({{"proxy-next-upstream-tries", "\"three\""}}).retry.num_retries, 2u);
}

TEST(NginxAnnotations, TimeoutsInSecondsBecomeOneIdleTimeout) {
  EXPECT_EQ(read({{"proxy-read-timeout", "\"300\""}}).idle_timeout, std::chrono::seconds(300));
  NginxAnnotations both =
      read({{"proxy-read-timeout", "\"10\""}, {"proxy-send-timeout", "\"90\""}});
  EXPECT_EQ(both.idle_timeout, std::chrono::seconds(90));
  EXPECT_EQ(verdict(both, "proxy-read-timeout")->support, NginxSupport::kDifferent);
  NginxAnnotations unit = read({{"proxy-read-timeout", "\"30s\""}});
  EXPECT_EQ(unit.idle_timeout, std::chrono::seconds(60));
  EXPECT_EQ(verdict(unit, "proxy-read-timeout")->support, NginxSupport::kIgnored);
}

// ingress-nginx's documented use-regex behaviour: case-insensitive, matched as a prefix.
TEST(NginxIngress, UseRegexIsACaseInsensitivePrefixMatch) {
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               ingress("r", "a.example.com", "ImplementationSpecific",
                                       "/api/v[0-9]+", "web", {{"use-regex", "\"true\""}})),
                   nginx_options());
  EXPECT_TRUE(c.model.events.empty()) << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/api/v2/users"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/API/V2"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/api/v2x"), "default/web/80");  // prefix
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/api/vx"), "404");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/x/api/v2"), "404");  // anchored at the start
}

// use-regex on one Ingress turns every path of the host into a regex, other Ingresses' too.
TEST(NginxIngress, UseRegexReachesEveryIngressOfTheHost) {
  std::string objects =
      service_yaml("default", "web") + service_yaml("default", "dots", 1, 1) +
      service_yaml("default", "other", 1, 2) +
      ingress("r", "a.example.com", "Prefix", "/web", "web", {{"use-regex", "\"true\""}}) +
      ingress("plain", "a.example.com", "Prefix", "/v1.0", "dots") +
      ingress("elsewhere", "b.example.com", "Prefix", "/v1.0", "other");
  auto c = compile(snapshot_of(objects), nginx_options());
  EXPECT_TRUE(c.model.events.empty()) << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/v1x0/y"), "default/dots/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/V1.0"), "default/dots/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/webshop"), "default/web/80");
  // Another host keeps Kubernetes Prefix matching.
  EXPECT_EQ(route_of(c, "http", "b.example.com", "/v1x0"), "404");
  EXPECT_EQ(route_of(c, "http", "b.example.com", "/v1.0/y"), "default/other/80");
}

// The upstream path of a request on the plain listener (the route's rewrite applied).
std::string upstream_path(const testing::Compiled& c, std::string_view host,
                          std::string_view path) {
  proxy::RequestView req;
  req.method = "GET";
  req.path = path;
  req.host = host;
  const proxy::VirtualHost* vh = c.table->find_virtual_host("http", host);
  if (vh == nullptr) return "no vhost";
  const proxy::Route* r = c.table->match(*vh, req);
  if (r == nullptr) return "no route";
  std::string out;
  r->rewrite_path(path, {}, out);
  return out;
}

// ingress-nginx's rewrite example: /something(/|$)(.*) with rewrite-target /$2.
TEST(NginxIngress, RewriteTargetWithCaptureGroups) {
  std::string objects =
      service_yaml("default", "web") + service_yaml("default", "other", 1, 1) +
      ingress("rewrite", "rewrite.bar.com", "ImplementationSpecific", "/something(/|$)(.*)", "web",
              {{"use-regex", "\"true\""}, {"rewrite-target", "/$2"}}) +
      ingress("plain", "rewrite.bar.com", "Prefix", "/keep", "other");
  auto c = compile(snapshot_of(objects), nginx_options());
  EXPECT_TRUE(c.model.events.empty()) << describe(c.model);
  EXPECT_EQ(upstream_path(c, "rewrite.bar.com", "/something"), "/");
  EXPECT_EQ(upstream_path(c, "rewrite.bar.com", "/something/"), "/");
  EXPECT_EQ(upstream_path(c, "rewrite.bar.com", "/something/new"), "/new");
  EXPECT_EQ(route_of(c, "http", "rewrite.bar.com", "/something/new"), "default/web/80");
  // The other Ingress of the host keeps its path, and is a regex prefix now.
  EXPECT_EQ(upstream_path(c, "rewrite.bar.com", "/keepsake"), "/keepsake");
  EXPECT_EQ(route_of(c, "http", "rewrite.bar.com", "/keepsake"), "default/other/80");
}

// rewrite-target without groups replaces the whole path, and implies use-regex.
TEST(NginxIngress, RewriteTargetWithoutGroupsReplacesThePath) {
  auto c = compile(
      snapshot_of(service_yaml("default", "web") + ingress("r", "a.example.com", "Prefix", "/app",
                                                           "web", {{"rewrite-target", "/"}})),
      nginx_options());
  EXPECT_EQ(upstream_path(c, "a.example.com", "/app/x/y"), "/");
  EXPECT_EQ(upstream_path(c, "a.example.com", "/APPLE"), "/");  // a case-insensitive prefix
  NginxAnnotations bad = read({{"rewrite-target", "/$host/x"}});
  EXPECT_EQ(verdict(bad, "rewrite-target")->support, NginxSupport::kIgnored);
  EXPECT_FALSE(bad.rewrite_target);
}

TEST(NginxIngress, ImplementationSpecificWithoutRegexIsAStringPrefix) {
  std::string objects = service_yaml("default", "web") +
                        ingress("p", "a.example.com", "ImplementationSpecific", "/foo", "web");
  EXPECT_EQ(
      route_of(compile(snapshot_of(objects), nginx_options()), "http", "a.example.com", "/foobar"),
      "default/web/80");
  // Without the ingress-nginx reading, Kubernetes' Prefix semantics.
  EXPECT_EQ(route_of(compile(snapshot_of(objects)), "http", "a.example.com", "/foobar"), "404");
}

TEST(NginxIngress, InvalidRegexAffectsOnlyItsPath) {
  std::string objects =
      service_yaml("default", "web") +
      ingress("r", "a.example.com", "Prefix", "/ok", "web", {{"use-regex", "\"true\""}}) +
      ingress("bad", "a.example.com", "ImplementationSpecific", "/(?<=x)y", "web");
  auto c = compile(snapshot_of(objects), nginx_options());
  EXPECT_TRUE(has_event(c.model, "PathInvalid", "Ingress default/bad")) << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/ok"), "default/web/80");
}

TEST(NginxIngress, AppRootRedirectsOnlySlash) {
  auto c = compile(
      snapshot_of(service_yaml("default", "web") +
                  ingress("a", "a.example.com", "Prefix", "/", "web", {{"app-root", "/app1"}})),
      nginx_options());
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/"), "302 http://a.example.com/app1");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/app1"), "default/web/80");
}

TEST(NginxIngress, PermanentAndTemporalRedirects) {
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               ingress("p", "a.example.com", "Prefix", "/", "web",
                                       {{"permanent-redirect", "https://www.google.com/search"}}) +
                               ingress("c", "b.example.com", "Prefix", "/", "web",
                                       {{"permanent-redirect", "https://x.example.com:8443"},
                                        {"permanent-redirect-code", "\"308\""}}) +
                               ingress("t", "c.example.com", "Prefix", "/", "web",
                                       {{"temporal-redirect", "http://y.example.com/z"}})),
                   nginx_options());
  EXPECT_TRUE(c.model.events.empty()) << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/any"), "301 https://www.google.com/search");
  EXPECT_EQ(route_of(c, "http", "b.example.com", "/any"), "308 https://x.example.com:8443/");
  EXPECT_EQ(route_of(c, "http", "c.example.com", "/any"), "302 http://y.example.com/z");
}

TEST(NginxIngress, SslRedirectIsOnByDefaultWith308) {
  std::string objects =
      service_yaml("default", "web") + tls_secret_yaml("default", "ex", "example") +
      ingress("s", "a.example.com", "Prefix", "/", "web", {}, "ex") +
      ingress("off", "b.example.com", "Prefix", "/", "web", {{"ssl-redirect", "\"false\""}}, "ex");
  auto c = compile(snapshot_of(objects), nginx_options());
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/x"), "308 https://a.example.com/x");
  EXPECT_EQ(route_of(c, "https", "a.example.com", "/x"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "b.example.com", "/x"), "default/web/80");
}

TEST(NginxIngress, FromToWwwRedirectUnlessTheOtherHostIsRouted) {
  std::string objects =
      service_yaml("default", "web") +
      ingress("w", "a.example.com", "Prefix", "/", "web", {{"from-to-www-redirect", "\"true\""}}) +
      ingress("v", "www.b.example.com", "Prefix", "/", "web",
              {{"from-to-www-redirect", "\"true\""}}) +
      ingress("taken", "b.example.com", "Prefix", "/", "web");
  auto c = compile(snapshot_of(objects), nginx_options());
  EXPECT_EQ(route_of(c, "http", "www.a.example.com", "/p"), "308 http://a.example.com/p");
  EXPECT_EQ(route_of(c, "http", "b.example.com", "/p"), "default/web/80");
}

TEST(NginxIngress, ServerAliasServesTheSameRoutes) {
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               ingress("a", "a.example.com", "Prefix", "/shop", "web",
                                       {{"server-alias", "\"shop.example.com, *.shop.net\""}})),
                   nginx_options());
  EXPECT_EQ(route_of(c, "http", "shop.example.com", "/shop/x"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "eu.shop.net", "/shop"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "shop.example.com", "/other"), "404");
}

std::string canary_objects(const std::vector<std::pair<std::string, std::string>>& canary) {
  std::vector<std::pair<std::string, std::string>> a = {{"canary", "\"true\""}};
  a.insert(a.end(), canary.begin(), canary.end());
  return service_yaml("default", "web") + service_yaml("default", "canary", 1, 1) +
         ingress("main", "a.example.com", "Prefix", "/", "web") +
         ingress("c", "a.example.com", "Prefix", "/", "canary", a);
}

const proxy::RouteConfig* plain_route(const testing::Compiled& c, std::string_view host,
                                      size_t headers) {
  for (const proxy::VirtualHostConfig& vh : c.config.virtual_hosts)
    if (vh.name == "http/" + std::string(host))
      for (const auto& r : vh.routes)
        if (r.match.headers.size() == headers) return &r;
  return nullptr;
}

// ingress-nginx's canary annotations: header first, then cookie, then weight.
TEST(NginxCanary, ByHeaderAlwaysAndNever) {
  auto c =
      compile(snapshot_of(canary_objects({{"canary-by-header", "X-Canary"}})), nginx_options());
  EXPECT_TRUE(c.model.events.empty()) << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/x", {{"x-canary", "always"}}),
            "default/canary/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/x", {{"x-canary", "never"}}), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/x", {{"x-canary", "other"}}), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/x"), "default/web/80");
}

TEST(NginxCanary, ByHeaderValueAndPattern) {
  auto v = compile(snapshot_of(canary_objects(
                       {{"canary-by-header", "X-Region"}, {"canary-by-header-value", "eu"}})),
                   nginx_options());
  EXPECT_EQ(route_of(v, "http", "a.example.com", "/", {{"x-region", "eu"}}), "default/canary/80");
  EXPECT_EQ(route_of(v, "http", "a.example.com", "/", {{"x-region", "always"}}), "default/web/80");
  auto p = compile(snapshot_of(canary_objects(
                       {{"canary-by-header", "X-User"}, {"canary-by-header-pattern", "^beta-"}})),
                   nginx_options());
  EXPECT_EQ(route_of(p, "http", "a.example.com", "/", {{"x-user", "beta-7"}}), "default/canary/80");
  EXPECT_EQ(route_of(p, "http", "a.example.com", "/", {{"x-user", "alpha-beta-7"}}),
            "default/web/80");
}

TEST(NginxCanary, CookieAfterHeader) {
  auto c = compile(snapshot_of(canary_objects(
                       {{"canary-by-header", "X-Canary"}, {"canary-by-cookie", "canary"}})),
                   nginx_options());
  EXPECT_TRUE(c.model.events.empty()) << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/", {{"cookie", "a=1; canary=always"}}),
            "default/canary/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/", {{"cookie", "canary=never"}}),
            "default/web/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/", {{"cookie", "xcanary=always"}}),
            "default/web/80");
  // The header decides first.
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/",
                     {{"cookie", "canary=always"}, {"x-canary", "never"}}),
            "default/web/80");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/",
                     {{"cookie", "canary=never"}, {"x-canary", "always"}}),
            "default/canary/80");
}

TEST(NginxCanary, WeightSplitsTheMainRoute) {
  auto c = compile(snapshot_of(canary_objects({{"canary-weight", "\"30\""}})), nginx_options());
  const proxy::RouteConfig* r = plain_route(c, "a.example.com", 0);
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->forward.clusters.size(), 2u);
  EXPECT_EQ(r->forward.clusters[0].cluster, "default/web/80");
  EXPECT_EQ(r->forward.clusters[0].weight, 70u);
  EXPECT_EQ(r->forward.clusters[1].cluster, "default/canary/80");
  EXPECT_EQ(r->forward.clusters[1].weight, 30u);
  auto all = compile(
      snapshot_of(canary_objects({{"canary-weight", "\"5\""}, {"canary-weight-total", "\"5\""}})),
      nginx_options());
  EXPECT_EQ(route_of(all, "http", "a.example.com", "/"), "default/canary/80");
  auto none = compile(snapshot_of(canary_objects({})), nginx_options());
  EXPECT_EQ(route_of(none, "http", "a.example.com", "/"), "default/web/80");
}

TEST(NginxCanary, WithoutAMainIngressItIsNotServed) {
  auto c = compile(snapshot_of(service_yaml("default", "canary") +
                               ingress("c", "a.example.com", "Prefix", "/", "canary",
                                       {{"canary", "\"true\""}, {"canary-weight", "\"50\""}})),
                   nginx_options());
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/"), "404");
  EXPECT_TRUE(has_event(c.model, "CanaryWithoutMain", "no main Ingress")) << describe(c.model);
  NginxAnnotations bad = read({{"canary-weight", "\"10\""}});
  EXPECT_EQ(verdict(bad, "canary-weight")->support, NginxSupport::kIgnored);
  EXPECT_FALSE(bad.canary);
}

// An access restriction kop-ingress cannot enforce is never dropped silently: the paths of
// that Ingress answer 403, the other Ingresses are untouched.
TEST(NginxIngress, UnenforceableAccessRestrictionsFailClosed) {
  for (std::string name : {"auth-url", "auth-type"}) {
    auto c = compile(snapshot_of(service_yaml("default", "web") +
                                 ingress("locked", "a.example.com", "Prefix", "/admin", "web",
                                         {{name, "\"10.0.0.0/8\""}}) +
                                 ingress("open", "a.example.com", "Prefix", "/", "web")),
                     nginx_options());
    EXPECT_EQ(route_of(c, "http", "a.example.com", "/admin/x"), "403") << name;
    EXPECT_EQ(route_of(c, "http", "a.example.com", "/shop"), "default/web/80") << name;
    EXPECT_TRUE(has_event(c.model, "AnnotationIgnored", "answer 403")) << describe(c.model);
  }
}

TEST(NginxIngress, IgnoredAnnotationsGetAnEventAndTheIngressIsServed) {
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               ingress("a", "a.example.com", "Prefix", "/", "web",
                                       {{"enable-opentelemetry", "\"true\""},
                                        {"configuration-snippet", "\"deny all;\""}})),
                   nginx_options());
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/"), "default/web/80");
  EXPECT_TRUE(has_event(c.model, "AnnotationIgnored",
                        "metadata.annotations[nginx.ingress.kubernetes.io/enable-opentelemetry]"));
  EXPECT_TRUE(has_event(c.model, "AnnotationIgnored",
                        "metadata.annotations[nginx.ingress.kubernetes.io/configuration-snippet]"));
}

TEST(NginxIngress, RouteSettingsReachTheProxyConfig) {
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               ingress("a", "a.example.com", "Prefix", "/", "web",
                                       {{"proxy-read-timeout", "\"120\""},
                                        {"proxy-next-upstream", "\"error http_503\""},
                                        {"x-forwarded-prefix", "/shop"},
                                        {"load-balance", "ewma"}})),
                   nginx_options());
  const proxy::RouteConfig* route = nullptr;
  for (const proxy::VirtualHostConfig& vh : c.config.virtual_hosts)
    if (vh.name == "http/a.example.com") route = &vh.routes.at(0);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->forward.timeout, proxy::Millis(0));
  EXPECT_EQ(route->forward.idle_timeout, proxy::Millis(120000));
  EXPECT_EQ(route->forward.retry.num_retries, 2u);
  EXPECT_EQ(route->forward.retry.retriable_status_codes, (std::vector<uint32_t>{503}));
  ASSERT_EQ(route->request_headers->set.size(), 1u);
  EXPECT_EQ(route->request_headers->set[0].name, "x-forwarded-prefix");
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/"), "default/web/80/weightedleastrequest");
}

const proxy::RouteConfig* first_route(const testing::Compiled& c, std::string_view vhost) {
  for (const proxy::VirtualHostConfig& vh : c.config.virtual_hosts)
    if (vh.name == vhost && !vh.routes.empty()) return &vh.routes[0];
  return nullptr;
}

std::string opaque_secret_yaml(std::string_view ns, std::string_view name,
                               const std::vector<std::pair<std::string, std::string>>& data) {
  std::ostringstream y;
  y << "---\napiVersion: v1\nkind: Secret\nmetadata: {name: " << name << ", namespace: " << ns
    << "}\ntype: Opaque\ndata:\n";
  for (const auto& [k, v] : data) y << "  " << k << ": " << absl::Base64Escape(v) << "\n";
  return y.str();
}

// auth-type basic (ingress-nginx's basic auth example: user foo, password bar, apr1): the users
// of the Secret's `auth` key reach the proxy with the realm; a DES user is left out with an
// Event that names the user, never the hash.
TEST(NginxIngress, BasicAuthReadsTheSecretIntoTheProxy) {
  std::string htpasswd =
      "# team\nfoo:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\r\njane:E5BrlrQ5IXYK2\n\n"
      "bob:{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=:comment\nfoo:{SHA}later-line-ignored\n";
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               opaque_secret_yaml("default", "basic-auth", {{"auth", htpasswd}}) +
                               ingress("locked", "a.example.com", "Prefix", "/admin", "web",
                                       {{"auth-type", "basic"},
                                        {"auth-secret", "basic-auth"},
                                        {"auth-realm", "\"Authentication Required - foo\""}}) +
                               ingress("open", "a.example.com", "Prefix", "/", "web")),
                   nginx_options());
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/admin/x"), "default/web/80");
  const proxy::RouteConfig* locked = nullptr;
  const proxy::RouteConfig* open = nullptr;
  for (const proxy::VirtualHostConfig& vh : c.config.virtual_hosts)
    for (const auto& r : vh.routes) (r.match.path.value == "/admin" ? locked : open) = &r;
  ASSERT_TRUE(locked && open);
  ASSERT_TRUE(locked->basic_auth);
  EXPECT_FALSE(open->basic_auth);
  EXPECT_EQ(locked->basic_auth->realm, "Authentication Required - foo");
  ASSERT_EQ(locked->basic_auth->users.size(), 2u);
  EXPECT_EQ(locked->basic_auth->users[0].name, "bob");
  EXPECT_EQ(locked->basic_auth->users[0].hash, "{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=");
  EXPECT_EQ(locked->basic_auth->users[1].name, "foo");
  EXPECT_EQ(locked->basic_auth->users[1].hash, "$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0");
  EXPECT_TRUE(has_event(c.model, "AnnotationDiffers", "user \"jane\" cannot log in"))
      << describe(c.model);
  for (const auto& e : c.model.events) EXPECT_EQ(e.message.find("E5Brl"), std::string::npos);
  auto table = proxy::RouteTable::compile(c.config);
  EXPECT_TRUE(table.ok()) << table.status();
}

TEST(NginxIngress, BasicAuthMapAndNamespacedName) {
  auto c =
      compile(snapshot_of(service_yaml("default", "web") +
                          opaque_secret_yaml("default", "users",
                                             {{"ann", "{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=\n"}}) +
                          ingress("a", "a.example.com", "Prefix", "/", "web",
                                  {{"auth-type", "basic"},
                                   {"auth-secret", "default/users"},
                                   {"auth-secret-type", "auth-map"}})),
              nginx_options());
  const proxy::RouteConfig* r = first_route(c, "http/a.example.com");
  ASSERT_TRUE(r && r->basic_auth);
  EXPECT_EQ(r->basic_auth->realm, "");
  ASSERT_EQ(r->basic_auth->users.size(), 1u);
  EXPECT_EQ(r->basic_auth->users[0].name, "ann");
  EXPECT_EQ(r->basic_auth->users[0].hash, "{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=");
}

// What keeps basic auth from being enforced fails closed (403): digest, no Secret named, a
// missing Secret or key, another namespace's Secret, an unknown secret type.
TEST(NginxIngress, BasicAuthThatCannotBeEnforcedFailsClosed) {
  using A = std::vector<std::pair<std::string, std::string>>;
  for (const A& a :
       {A{{"auth-type", "digest"}, {"auth-secret", "basic-auth"}}, A{{"auth-type", "basic"}},
        A{{"auth-type", "basic"}, {"auth-secret", "missing"}},
        A{{"auth-type", "basic"}, {"auth-secret", "no-auth-key"}},
        A{{"auth-type", "basic"}, {"auth-secret", "other/basic-auth"}},
        A{{"auth-type", "basic"}, {"auth-secret", "basic-auth"}, {"auth-secret-type", "file"}}}) {
    auto c = compile(
        snapshot_of(service_yaml("default", "web") +
                    opaque_secret_yaml("default", "basic-auth", {{"auth", "foo:{SHA}x\n"}}) +
                    opaque_secret_yaml("other", "basic-auth", {{"auth", "foo:{SHA}x\n"}}) +
                    opaque_secret_yaml("default", "no-auth-key", {{"users", "foo:{SHA}x\n"}}) +
                    ingress("locked", "a.example.com", "Prefix", "/admin", "web", a) +
                    ingress("open", "a.example.com", "Prefix", "/", "web")),
        nginx_options());
    EXPECT_EQ(route_of(c, "http", "a.example.com", "/admin/x"), "403") << a.back().second;
    EXPECT_EQ(route_of(c, "http", "a.example.com", "/shop"), "default/web/80");
    EXPECT_TRUE(has_event(c.model, "AnnotationIgnored", "answer 403") ||
                has_event(c.model, "SecretInvalid", "answer 403"))
        << describe(c.model);
  }
  // Without auth-type, the other auth annotations do nothing (and say so).
  NginxAnnotations none = read({{"auth-secret", "basic-auth"}, {"auth-realm", "x"}});
  EXPECT_FALSE(none.basic_auth);
  EXPECT_TRUE(none.unenforced_access.empty());
  EXPECT_EQ(verdict(none, "auth-secret")->support, NginxSupport::kIgnored);
}

// whitelist/allowlist/denylist-source-range become the route's source ranges in the proxy;
// the other Ingresses of the host are untouched.
TEST(NginxIngress, SourceRangesReachTheProxy) {
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               ingress("locked", "a.example.com", "Prefix", "/admin", "web",
                                       {{"whitelist-source-range", "\"10.0.0.0/8, 2001:db8::/32\""},
                                        {"denylist-source-range", "10.0.0.1"}}) +
                               ingress("open", "a.example.com", "Prefix", "/", "web")),
                   nginx_options());
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/admin/x"), "default/web/80");
  const proxy::RouteConfig* locked = nullptr;
  const proxy::RouteConfig* open = nullptr;
  for (const proxy::VirtualHostConfig& vh : c.config.virtual_hosts)
    for (const auto& r : vh.routes) (r.match.path.value == "/admin" ? locked : open) = &r;
  ASSERT_NE(locked, nullptr);
  ASSERT_NE(open, nullptr);
  ASSERT_TRUE(locked->source_ranges);
  EXPECT_EQ(locked->source_ranges->allow,
            (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"}));
  EXPECT_EQ(locked->source_ranges->deny, (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_FALSE(open->source_ranges);
  NginxAnnotations both =
      read({{"allowlist-source-range", "127.0.0.1"}, {"whitelist-source-range", "10.0.0.0/8"}});
  ASSERT_TRUE(both.source_ranges);
  EXPECT_EQ(both.source_ranges->allow, (std::vector<std::string>{"127.0.0.1"}));
  EXPECT_EQ(verdict(both, "allowlist-source-range")->support, NginxSupport::kSupported);
  EXPECT_EQ(verdict(both, "whitelist-source-range")->support, NginxSupport::kIgnored);
  EXPECT_TRUE(both.unenforced_access.empty());
}

// A source range that does not parse never opens the Ingress to every address.
TEST(NginxIngress, InvalidSourceRangesFailClosed) {
  for (std::string value : {"10.0.0.0/33", "\"10.0.0.0/8, nonsense\"", "\" , \""}) {
    auto c = compile(snapshot_of(service_yaml("default", "web") +
                                 ingress("locked", "a.example.com", "Prefix", "/admin", "web",
                                         {{"denylist-source-range", value}}) +
                                 ingress("open", "a.example.com", "Prefix", "/", "web")),
                     nginx_options());
    EXPECT_EQ(route_of(c, "http", "a.example.com", "/admin/x"), "403") << value;
    EXPECT_EQ(route_of(c, "http", "a.example.com", "/shop"), "default/web/80") << value;
    EXPECT_TRUE(has_event(c.model, "AnnotationIgnored", "answer 403")) << describe(c.model);
  }
}

TEST(NginxAnnotations, BodySizeInNginxUnits) {
  EXPECT_EQ(parse_nginx_size("0"), 0u);
  EXPECT_EQ(parse_nginx_size("1024"), 1024u);
  EXPECT_EQ(parse_nginx_size("8k"), 8192u);
  EXPECT_EQ(parse_nginx_size("8K"), 8192u);
  EXPECT_EQ(parse_nginx_size("1m"), 1048576u);
  EXPECT_EQ(parse_nginx_size("2G"), uint64_t{2} << 30);
  for (std::string_view bad : {"", "m", "1.5m", "-1", "1mb", "1 m", " 1", "1t", "99999999999g"})
    EXPECT_FALSE(parse_nginx_size(bad)) << bad;
  EXPECT_EQ(read({}).max_body_bytes, uint64_t{1} << 20);  // ingress-nginx's default 1m
  EXPECT_EQ(read({{"proxy-body-size", "\"0\""}}).max_body_bytes, 0u);
  NginxAnnotations bad = read({{"proxy-body-size", "lots"}});
  EXPECT_EQ(bad.max_body_bytes, uint64_t{1} << 20);
  EXPECT_EQ(verdict(bad, "proxy-body-size")->support, NginxSupport::kIgnored);
  NginxAnnotations buffer = read({{"client-body-buffer-size", "16k"}});
  EXPECT_EQ(verdict(buffer, "client-body-buffer-size")->support, NginxSupport::kDifferent);
  EXPECT_EQ(verdict(read({{"client-body-buffer-size", "x"}}), "client-body-buffer-size")->support,
            NginxSupport::kIgnored);
  // proxy-buffering: off (the default) is what the proxy does; on is named as a difference.
  EXPECT_EQ(verdict(read({{"proxy-buffering", "\"off\""}}), "proxy-buffering")->support,
            NginxSupport::kSupported);
  EXPECT_EQ(verdict(read({{"proxy-buffering", "\"On\""}}), "proxy-buffering")->support,
            NginxSupport::kDifferent);
  EXPECT_EQ(verdict(read({{"proxy-buffering", "always"}}), "proxy-buffering")->support,
            NginxSupport::kIgnored);
}

TEST(NginxIngress, BodySizeReachesTheProxy) {
  auto c = compile(
      snapshot_of(service_yaml("default", "web") +
                  ingress("a", "a.example.com", "Prefix", "/", "web", {{"proxy-body-size", "8m"}}) +
                  ingress("b", "b.example.com", "Prefix", "/", "web")),
      nginx_options());
  const proxy::RouteConfig* a = first_route(c, "http/a.example.com");
  const proxy::RouteConfig* b = first_route(c, "http/b.example.com");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->max_request_body_bytes, uint64_t{8} << 20);
  EXPECT_EQ(b->max_request_body_bytes, uint64_t{1} << 20);
}

const proxy::ClusterConfig* cluster_named(const testing::Compiled& c, std::string_view prefix) {
  for (const proxy::ClusterConfig& cl : c.config.clusters)
    if (cl.name.rfind(prefix, 0) == 0) return &cl;
  return nullptr;
}

TEST(NginxIngress, AffinityCookieTakesItsSessionCookieSettings) {
  auto c = compile(
      snapshot_of(service_yaml("default", "web") +
                  ingress("a", "a.example.com", "Prefix", "/", "web",
                          {{"affinity", "cookie"},
                           {"session-cookie-name", "route"},
                           {"session-cookie-path", "/shop"},
                           {"session-cookie-max-age", "\"172800\""},
                           {"session-cookie-samesite", "Lax"}}) +
                  ingress("b", "b.example.com", "Prefix", "/", "web", {{"affinity", "cookie"}})),
      nginx_options());
  const proxy::ClusterConfig* named = cluster_named(c, "default/web/80/cookie:route");
  ASSERT_NE(named, nullptr) << describe(c.model);
  EXPECT_EQ(named->lb_policy, proxy::LbPolicy::kRingHash);
  EXPECT_EQ(named->hash_on->name, "route");
  EXPECT_EQ(named->hash_on->cookie_path, "/shop");
  EXPECT_EQ(named->hash_on->cookie_ttl, std::chrono::seconds(172800));
  EXPECT_TRUE(named->hash_on->set_cookie);
  const proxy::ClusterConfig* plain = cluster_named(c, "default/web/80/cookie:INGRESSCOOKIE");
  ASSERT_NE(plain, nullptr) << describe(c.model);
  EXPECT_EQ(plain->hash_on->cookie_ttl, proxy::Millis(0));  // a session cookie
  EXPECT_FALSE(has_event(c.model, "AnnotationIgnored", "session-cookie-samesite"));
  NginxAnnotations alone = read({{"session-cookie-name", "x"}});
  EXPECT_EQ(verdict(alone, "session-cookie-name")->support, NginxSupport::kIgnored);
}

TEST(NginxIngress, CorsWithIngressNginxDefaults) {
  auto c = compile(
      snapshot_of(
          service_yaml("default", "web") +
          ingress("a", "a.example.com", "Prefix", "/", "web", {{"enable-cors", "\"true\""}}) +
          ingress("b", "b.example.com", "Prefix", "/", "web",
                  {{"enable-cors", "\"true\""},
                   {"cors-allow-origin", "\"https://app.example.com, https://*.example.net\""},
                   {"cors-allow-methods", "\"GET, POST\""},
                   {"cors-allow-credentials", "\"false\""},
                   {"cors-max-age", "\"600\""}})),
      nginx_options());
  const proxy::RouteConfig* a = plain_route(c, "a.example.com", 0);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->cors);
  EXPECT_EQ(a->cors->allow_origins, (std::vector<std::string>{"*"}));
  EXPECT_EQ(a->cors->allow_methods.size(), 6u);
  EXPECT_EQ(a->cors->allow_headers.size(), 9u);
  EXPECT_TRUE(a->cors->allow_credentials);
  EXPECT_EQ(a->cors->max_age, 1728000u);
  const proxy::RouteConfig* b = plain_route(c, "b.example.com", 0);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->cors);
  EXPECT_EQ(b->cors->allow_origins,
            (std::vector<std::string>{"https://app.example.com", "https://*.example.net"}));
  EXPECT_EQ(b->cors->allow_methods, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_FALSE(b->cors->allow_credentials);
  EXPECT_EQ(b->cors->max_age, 600u);
  NginxAnnotations bad = read({{"enable-cors", "\"true\""}, {"cors-allow-origin", "/x"}});
  EXPECT_EQ(verdict(bad, "cors-allow-origin")->support, NginxSupport::kIgnored);
  ASSERT_TRUE(bad.cors);
  EXPECT_EQ(bad.cors->allow_origins, (std::vector<std::string>{"*"}));
  EXPECT_EQ(verdict(read({{"cors-max-age", "\"5\""}}), "cors-max-age")->support,
            NginxSupport::kIgnored);
}

TEST(NginxIngress, ServiceUpstreamUsesTheClusterIp) {
  std::string services =
      "---\napiVersion: v1\nkind: Service\nmetadata: {name: vip, namespace: default}\n"
      "spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80, targetPort: 8080}]}\n"
      "---\napiVersion: v1\nkind: Service\nmetadata: {name: headless, namespace: default}\n"
      "spec: {clusterIP: None, ports: [{name: http, port: 80, targetPort: 8080}]}\n";
  auto c = compile(snapshot_of(services +
                               ingress("a", "a.example.com", "Prefix", "/", "vip",
                                       {{"service-upstream", "\"true\""}}) +
                               ingress("h", "h.example.com", "Prefix", "/", "headless",
                                       {{"service-upstream", "\"true\""}})),
                   nginx_options());
  const proxy::ClusterConfig* vip = cluster_named(c, "default/vip/80/service-upstream");
  ASSERT_NE(vip, nullptr) << describe(c.model);
  ASSERT_EQ(vip->endpoints.size(), 1u);
  EXPECT_EQ(vip->endpoints[0].address.to_string(), "10.96.0.10:80");
  EXPECT_EQ(route_of(c, "http", "h.example.com", "/"), "503");
  EXPECT_TRUE(has_event(c.model, "ServiceInvalid", "no cluster IP")) << describe(c.model);
}

TEST(NginxIngress, AnnotationsAreIgnoredWithoutTheSwitch) {
  auto c = compile(snapshot_of(
      service_yaml("default", "web") +
      ingress("a", "a.example.com", "Prefix", "/", "web",
              {{"permanent-redirect", "https://x.example.com"}, {"limit-rps", "\"5\""}})));
  EXPECT_TRUE(c.model.events.empty()) << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/"), "default/web/80");
}

// --ingress-class nginx / --controller-class k8s.io/ingress-nginx take over ingress-nginx's
// Ingresses: by the legacy annotation and by an IngressClass with that controller.
TEST(NginxIngress, ClassSelectionTakesOverIngressNginxIngresses) {
  auto objects = parse_objects(
      "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: nginx}\n"
      "spec: {controller: k8s.io/ingress-nginx}\n"
      "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: by-name, "
      "namespace: default}\nspec: {ingressClassName: nginx}\n"
      "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: legacy, "
      "namespace: default, annotations: {kubernetes.io/ingress.class: nginx}}\nspec: {}\n");
  std::vector<api::ObjectPtr> classes = {objects[0]};
  Options o;
  o.ingress_class = "nginx";
  EXPECT_TRUE(is_ours(*objects[2], classes, o));
  EXPECT_FALSE(is_ours(*objects[1], classes, o));  // its IngressClass names ingress-nginx
  o.controller_name = "k8s.io/ingress-nginx";
  EXPECT_TRUE(is_ours(*objects[1], classes, o));
}

// limit-rps / -rpm / -connections with -burst-multiplier and the allowlist: one zone per Ingress.
TEST(NginxAnnotations, LimitsWithIngressNginxDefaults) {
  EXPECT_FALSE(read({}).rate_limit);
  NginxAnnotations a = read({{"limit-rps", "\"5\""}, {"limit-connections", "\"2\""}});
  ASSERT_TRUE(a.rate_limit);
  EXPECT_EQ(a.rate_limit->zone, "default/x");
  EXPECT_EQ(a.rate_limit->requests_per_second, 5u);
  EXPECT_EQ(a.rate_limit->requests_per_minute, 0u);
  EXPECT_EQ(a.rate_limit->burst_multiplier, 5u);
  EXPECT_EQ(a.rate_limit->connections, 2u);
  EXPECT_EQ(verdict(a, "limit-rps")->support, NginxSupport::kSupported);
  NginxAnnotations b = read({{"limit-rpm", "\"300\""},
                             {"limit-burst-multiplier", "\"3\""},
                             {"limit-allowlist", "\"10.0.0.0/8, ::1\""},
                             {"limit-whitelist", "192.168.0.0/16"}});
  ASSERT_TRUE(b.rate_limit);
  EXPECT_EQ(b.rate_limit->requests_per_minute, 300u);
  EXPECT_EQ(b.rate_limit->burst_multiplier, 3u);
  EXPECT_EQ(b.rate_limit->exempt, (std::vector<std::string>{"10.0.0.0/8", "::1"}));
  EXPECT_EQ(verdict(b, "limit-whitelist")->support, NginxSupport::kIgnored);
  // A multiplier below 1 is ingress-nginx's default; a bad allowlist limits every client.
  NginxAnnotations c = read({{"limit-rps", "\"1\""},
                             {"limit-burst-multiplier", "\"0\""},
                             {"limit-whitelist", "\"10.0.0.0/8, nonsense\""}});
  ASSERT_TRUE(c.rate_limit);
  EXPECT_EQ(c.rate_limit->burst_multiplier, 5u);
  EXPECT_TRUE(c.rate_limit->exempt.empty());
  EXPECT_EQ(verdict(c, "limit-whitelist")->support, NginxSupport::kIgnored);
  // Without a limit the others do nothing; a value that does not parse is no limit.
  NginxAnnotations d = read({{"limit-rps", "fast"}, {"limit-burst-multiplier", "\"2\""}});
  EXPECT_FALSE(d.rate_limit);
  EXPECT_EQ(verdict(d, "limit-rps")->support, NginxSupport::kIgnored);
  EXPECT_EQ(verdict(d, "limit-burst-multiplier")->support, NginxSupport::kIgnored);
}

// limit-rate / limit-rate-after: KB (1024 bytes) per second and KB, on each forwarded route.
TEST(NginxAnnotations, BandwidthLimitsInKilobytes) {
  NginxAnnotations none = read({});
  EXPECT_EQ(none.limit_rate_bytes, 0u);
  EXPECT_EQ(none.limit_rate_after_bytes, 0u);
  NginxAnnotations a = read({{"limit-rate", "\"50\""}, {"limit-rate-after", "\"100\""}});
  EXPECT_EQ(a.limit_rate_bytes, 50u * 1024);
  EXPECT_EQ(a.limit_rate_after_bytes, 100u * 1024);
  EXPECT_EQ(verdict(a, "limit-rate")->support, NginxSupport::kSupported);
  EXPECT_EQ(verdict(a, "limit-rate-after")->support, NginxSupport::kSupported);
  // Not an integer: no limit (ingress-nginx's default 0); after without a rate does nothing.
  NginxAnnotations b = read({{"limit-rate", "50k"}, {"limit-rate-after", "\"10\""}});
  EXPECT_EQ(b.limit_rate_bytes, 0u);
  EXPECT_EQ(verdict(b, "limit-rate")->support, NginxSupport::kIgnored);
  EXPECT_EQ(verdict(b, "limit-rate-after")->support, NginxSupport::kIgnored);
  EXPECT_EQ(verdict(read({{"limit-rate", "\"0\""}}), "limit-rate")->support,
            NginxSupport::kSupported);

  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               ingress("a", "a.example.com", "Prefix", "/", "web",
                                       {{"limit-rate", "\"50\""}, {"limit-rate-after", "\"1\""}}) +
                               ingress("b", "b.example.com", "Prefix", "/", "web")),
                   nginx_options());
  const proxy::RouteConfig* paced = first_route(c, "http/a.example.com");
  const proxy::RouteConfig* plain = first_route(c, "http/b.example.com");
  ASSERT_TRUE(paced && plain) << describe(c.model);
  EXPECT_EQ(paced->forward.response_bytes_per_second, 51200u);
  EXPECT_EQ(paced->forward.response_rate_after_bytes, 1024u);
  EXPECT_EQ(plain->forward.response_bytes_per_second, 0u);
}

TEST(NginxIngress, LimitsReachTheProxyOneZonePerIngress) {
  auto two_paths = [](std::string_view name, std::string_view host) {
    std::string y = ingress(name, host, "Prefix", "/a", "web", {{"limit-rps", "\"10\""}});
    y += "      - {pathType: Prefix, path: /b, backend: {service: {name: web, port: {number: "
         "80}}}}\n";
    return y;
  };
  auto c = compile(snapshot_of(service_yaml("default", "web") + two_paths("one", "a.example.com") +
                               two_paths("two", "b.example.com") +
                               ingress("open", "c.example.com", "Prefix", "/", "web")),
                   nginx_options());
  std::map<std::string, std::string> zone_of;  // vhost + path -> zone
  for (const proxy::VirtualHostConfig& vh : c.config.virtual_hosts)
    for (const auto& r : vh.routes)
      zone_of[vh.name + r.match.path.value] = r.rate_limit ? r.rate_limit->zone : "-";
  EXPECT_EQ(zone_of["http/a.example.com/a"], "default/one");
  EXPECT_EQ(zone_of["http/a.example.com/b"], "default/one");
  EXPECT_EQ(zone_of["http/b.example.com/a"], "default/two");
  EXPECT_EQ(zone_of["http/c.example.com/"], "-");
  const proxy::RouteConfig* a = first_route(c, "http/a.example.com");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->rate_limit);
  EXPECT_EQ(a->rate_limit->requests_per_second, 10u);
  EXPECT_EQ(a->rate_limit->burst_multiplier, 5u);
  EXPECT_EQ(a->rate_limit->status, 503u);  // limit-req-status-code's default
}

// upstream-hash-by: a ring hash cluster keyed on the nginx expression; affinity cookie wins.
TEST(NginxIngress, UpstreamHashByBecomesARingHashCluster) {
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               ingress("a", "a.example.com", "Prefix", "/", "web",
                                       {{"upstream-hash-by", "\"$host$request_uri\""}}) +
                               ingress("b", "b.example.com", "Prefix", "/", "web")),
                   nginx_options());
  const proxy::ClusterConfig* hashed = cluster_named(c, "default/web/80/hash");
  ASSERT_NE(hashed, nullptr) << describe(c.model);
  EXPECT_EQ(hashed->lb_policy, proxy::LbPolicy::kRingHash);
  EXPECT_EQ(hashed->hash_on->on, proxy::HashOn::kExpression);
  EXPECT_EQ(hashed->hash_on->name, "$host$request_uri");
  EXPECT_EQ(first_route(c, "http/b.example.com")->forward.clusters[0].cluster, "default/web/80");
  NginxAnnotations bad = read({{"upstream-hash-by", "\"$upstream_addr\""}});
  EXPECT_EQ(bad.strategy, Strategy::kRoundRobin);
  EXPECT_EQ(verdict(bad, "upstream-hash-by")->support, NginxSupport::kIgnored);
  NginxAnnotations both = read({{"affinity", "cookie"}, {"upstream-hash-by", "\"$uri\""}});
  EXPECT_EQ(both.strategy, Strategy::kCookie);
  EXPECT_EQ(verdict(both, "upstream-hash-by")->support, NginxSupport::kIgnored);
  NginxAnnotations ewma = read({{"load-balance", "ewma"}, {"upstream-hash-by", "\"$uri\""}});
  EXPECT_EQ(ewma.strategy, Strategy::kHash);
}

// upstream-hash-by-subset(-size): the ring hash cluster picks among a subset (default 3).
TEST(NginxIngress, UpstreamHashBySubset) {
  auto c = compile(snapshot_of(service_yaml("default", "web", 6) +
                               ingress("a", "a.example.com", "Prefix", "/", "web",
                                       {{"upstream-hash-by", "\"$request_uri\""},
                                        {"upstream-hash-by-subset", "\"true\""}}) +
                               ingress("b", "b.example.com", "Prefix", "/", "web",
                                       {{"upstream-hash-by", "\"$request_uri\""},
                                        {"upstream-hash-by-subset", "\"true\""},
                                        {"upstream-hash-by-subset-size", "\"2\""}}) +
                               ingress("c", "c.example.com", "Prefix", "/", "web",
                                       {{"upstream-hash-by", "\"$request_uri\""}})),
                   nginx_options());
  std::map<std::string, uint32_t> subset_of;  // cluster -> ring_subset_size
  for (const auto& cl : c.config.clusters) subset_of[cl->name] = cl->ring_subset_size;
  std::string cluster_a = first_route(c, "http/a.example.com")->forward.clusters[0].cluster;
  std::string cluster_b = first_route(c, "http/b.example.com")->forward.clusters[0].cluster;
  std::string cluster_c = first_route(c, "http/c.example.com")->forward.clusters[0].cluster;
  EXPECT_EQ(subset_of[cluster_a], 3u) << cluster_a;
  EXPECT_EQ(subset_of[cluster_b], 2u) << cluster_b;
  EXPECT_EQ(subset_of[cluster_c], 0u) << cluster_c;
  EXPECT_EQ(std::set<std::string>({cluster_a, cluster_b, cluster_c}).size(), 3u);

  NginxAnnotations off = read({{"upstream-hash-by", "\"$uri\""},
                               {"upstream-hash-by-subset", "\"false\""},
                               {"upstream-hash-by-subset-size", "\"4\""}});
  EXPECT_EQ(off.hash_subset_size, 0u);
  EXPECT_EQ(verdict(off, "upstream-hash-by-subset-size")->support, NginxSupport::kIgnored);
  NginxAnnotations no_hash = read({{"upstream-hash-by-subset", "\"true\""}});
  EXPECT_EQ(no_hash.hash_subset_size, 0u);
  EXPECT_EQ(verdict(no_hash, "upstream-hash-by-subset")->support, NginxSupport::kIgnored);
  NginxAnnotations zero = read({{"upstream-hash-by", "\"$uri\""},
                                {"upstream-hash-by-subset", "\"true\""},
                                {"upstream-hash-by-subset-size", "\"0\""}});
  EXPECT_EQ(zero.hash_subset_size, 3u);  // ingress-nginx reads 0 as its default
}

std::string config_map_yaml(std::string_view ns, std::string_view name,
                            const std::vector<std::pair<std::string, std::string>>& data) {
  std::ostringstream y;
  y << "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " << name << ", namespace: " << ns
    << "}\ndata:\n";
  for (const auto& [k, v] : data) y << "  " << k << ": " << v << "\n";
  return y.str();
}

const proxy::HeaderValue* set_header(const proxy::RouteConfig* r, std::string_view name) {
  if (r == nullptr) return nullptr;
  for (const auto& h : r->response_headers->set)
    if (h.name == name) return &h;
  return nullptr;
}

// custom-headers: the ConfigMap's data are set on the responses; what ingress-nginx denies
// answers 503, with an Event naming the Ingress and the annotation.
TEST(NginxIngress, CustomHeadersFromAConfigMap) {
  std::string y =
      service_yaml("default", "web") + service_yaml("other", "web") +
      config_map_yaml("default", "headers",
                      {{"X-Frame-Options", "DENY"},
                       {"My-Custom-Header-Dollar", "\"$remote_addr\""},
                       {"Content-Length", "\"5\""}}) +
      config_map_yaml("default", "bad-name", {{"\"X Bad\"", "x"}}) +
      config_map_yaml("default", "bad-value", {{"X-Ok", "\"caf\\u00e9\""}}) +
      config_map_yaml("other", "theirs", {{"X-Theirs", "x"}}) +
      ingress("a", "a.example.com", "Prefix", "/", "web",
              {{"custom-headers", "default/headers"},
               {"configuration-snippet", "'more_set_headers \"X-Frame-Options: SAMEORIGIN\";'"}}) +
      ingress("bare", "bare.example.com", "Prefix", "/", "web", {{"custom-headers", "headers"}}) +
      ingress("missing", "missing.example.com", "Prefix", "/", "web",
              {{"custom-headers", "default/nope"}}) +
      ingress("bad-name", "bad-name.example.com", "Prefix", "/", "web",
              {{"custom-headers", "default/bad-name"}}) +
      ingress("bad-value", "bad-value.example.com", "Prefix", "/", "web",
              {{"custom-headers", "default/bad-value"}}) +
      ingress("cross", "cross.example.com", "Prefix", "/", "web",
              {{"custom-headers", "other/theirs"}}) +
      ingress("plain", "plain.example.com", "Prefix", "/", "web");
  auto c = compile(snapshot_of(y), nginx_options());
  const proxy::RouteConfig* a = first_route(c, "http/a.example.com");
  ASSERT_NE(set_header(a, "X-Frame-Options"), nullptr) << describe(c.model);
  EXPECT_EQ(set_header(a, "X-Frame-Options")->value, "DENY");  // after the snippet's, as nginx
  EXPECT_EQ(a->response_headers->set.size(), 2u);
  ASSERT_NE(set_header(a, "My-Custom-Header-Dollar"), nullptr);
  EXPECT_EQ(set_header(a, "My-Custom-Header-Dollar")->value, "$remote_addr");  // literal
  EXPECT_EQ(set_header(a, "Content-Length"), nullptr);
  EXPECT_TRUE(has_event(c.model, "AnnotationDiffers", "\"Content-Length\" is not set"))
      << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/"), "default/web/80");
  EXPECT_NE(set_header(first_route(c, "http/bare.example.com"), "X-Frame-Options"), nullptr);
  EXPECT_TRUE(first_route(c, "http/plain.example.com")->response_headers->set.empty());
  for (std::string_view host : {"missing", "bad-name", "bad-value", "cross"})
    EXPECT_EQ(route_of(c, "http", std::string(host) + ".example.com", "/"), "503") << host;
  EXPECT_TRUE(has_event(c.model, "ConfigMapNotFound",
                        "Ingress default/missing: "
                        "metadata.annotations[nginx.ingress.kubernetes.io/custom-headers]: "
                        "ConfigMap \"default/nope\" not found"))
      << describe(c.model);
  EXPECT_TRUE(has_event(c.model, "ConfigMapInvalid", "\"X Bad\" is not a header name"));
  EXPECT_TRUE(has_event(c.model, "ConfigMapInvalid", "the value of \"X-Ok\""));
  EXPECT_TRUE(has_event(c.model, "AnnotationIgnored", "another namespace"));
  EXPECT_EQ(route_of(c, "http", "plain.example.com", "/"), "default/web/80");
}

// A location ingress-nginx denies (custom-headers it cannot apply) answers 503 before its
// permanent-redirect and ssl-redirect; app-root answers at the server level, before it.
TEST(NginxIngress, DeniedCustomHeadersAnswer503BeforeRedirects) {
  auto c = compile(
      snapshot_of(service_yaml("default", "web") + tls_secret_yaml("default", "cert", "example") +
                  ingress("moved", "moved.example.com", "Prefix", "/", "web",
                          {{"custom-headers", "default/nope"},
                           {"permanent-redirect", "https://elsewhere.example.com/"}}) +
                  ingress("root", "root.example.com", "Prefix", "/", "web",
                          {{"custom-headers", "default/nope"}, {"app-root", "/app"}}) +
                  ingress("secure", "secure.example.com", "Prefix", "/", "web",
                          {{"custom-headers", "default/nope"}}, "cert")),
      nginx_options());
  EXPECT_EQ(route_of(c, "http", "moved.example.com", "/x"), "503") << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "root.example.com", "/"), "302 http://root.example.com/app");
  EXPECT_EQ(route_of(c, "http", "root.example.com", "/app"), "503");
  EXPECT_EQ(route_of(c, "http", "secure.example.com", "/"), "503");
  EXPECT_EQ(route_of(c, "https", "secure.example.com", "/"), "503");
}

TEST(NginxIngress, AffinityCookieSameSiteAndSecure) {
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               ingress("a", "a.example.com", "Prefix", "/", "web",
                                       {{"affinity", "cookie"},
                                        {"session-cookie-samesite", "None"},
                                        {"session-cookie-secure", "\"true\""}})),
                   nginx_options());
  const proxy::ClusterConfig* sticky = cluster_named(c, "default/web/80/cookie");
  ASSERT_NE(sticky, nullptr) << describe(c.model);
  EXPECT_EQ(sticky->hash_on->cookie_samesite, "None");
  EXPECT_TRUE(sticky->hash_on->cookie_secure);
  NginxAnnotations bad = read({{"affinity", "cookie"}, {"session-cookie-samesite", "Sometimes"}});
  ASSERT_TRUE(bad.cookie);
  EXPECT_EQ(bad.cookie->samesite, "");
  EXPECT_EQ(verdict(bad, "session-cookie-samesite")->support, NginxSupport::kIgnored);
  EXPECT_EQ(
      verdict(read({{"session-cookie-secure", "\"true\""}}), "session-cookie-secure")->support,
      NginxSupport::kIgnored);  // without affinity
}

// default-backend with custom-http-errors (ingress-nginx's custom errors guide): the route's
// error pages go to the default backend's first port with the x-* fields ingress-nginx sends;
// a path whose Service has no ready endpoint (or does not exist) is served by it.
TEST(NginxIngress, DefaultBackendAndCustomHttpErrors) {
  auto c = compile(
      snapshot_of(
          service_yaml("default", "web") + service_yaml("default", "idle", 0, 1) +
          service_yaml("default", "errors", 1, 2) +
          ingress("a", "a.example.com", "Prefix", "/", "web",
                  {{"default-backend", "errors"}, {"custom-http-errors", "\"503, 404,404\""}}) +
          ingress("b", "b.example.com", "Prefix", "/", "idle", {{"default-backend", "errors"}}) +
          ingress("m", "m.example.com", "Prefix", "/", "missing", {{"default-backend", "errors"}})),
      nginx_options());
  const proxy::RouteConfig* a = first_route(c, "http/a.example.com");
  ASSERT_NE(a, nullptr) << describe(c.model);
  EXPECT_EQ(a->forward.clusters.at(0).cluster, "default/web/80");
  ASSERT_TRUE(a->forward.error_pages);
  EXPECT_EQ(a->forward.error_pages->statuses, (std::vector<uint32_t>{404, 503}));
  EXPECT_EQ(a->forward.error_pages->cluster, "default/errors/80");
  std::map<std::string, std::string> fields;
  for (const auto& h : a->forward.error_pages->request_headers) fields[h.name] = h.value;
  EXPECT_EQ(fields, (std::map<std::string, std::string>{{"x-ingress-name", "a"},
                                                        {"x-namespace", "default"},
                                                        {"x-service-name", "web"},
                                                        {"x-service-port", "80"}}));
  EXPECT_EQ(route_of(c, "http", "b.example.com", "/"), "default/errors/80");
  EXPECT_FALSE(first_route(c, "http/b.example.com")->forward.error_pages);
  EXPECT_EQ(route_of(c, "http", "m.example.com", "/"), "default/errors/80");
  EXPECT_TRUE(has_event(c.model, "ServiceNotFound", "default/missing"));

  NginxAnnotations alone = read({{"custom-http-errors", "\"404\""}});
  EXPECT_TRUE(alone.custom_http_errors.empty());
  EXPECT_EQ(verdict(alone, "custom-http-errors")->support, NginxSupport::kIgnored);
  for (const char* bad : {"\"200\"", "\"404,abc\"", "\"600\""}) {
    NginxAnnotations b = read({{"default-backend", "errors"}, {"custom-http-errors", bad}});
    EXPECT_TRUE(b.custom_http_errors.empty()) << bad;
    EXPECT_EQ(verdict(b, "custom-http-errors")->support, NginxSupport::kIgnored) << bad;
  }
  EXPECT_EQ(verdict(read({{"default-backend", "other/errors"}}), "default-backend")->support,
            NginxSupport::kIgnored);
}

// proxy-connect-timeout and proxy-next-upstream-timeout: seconds onto the route.
TEST(NginxIngress, ConnectAndNextUpstreamTimeouts) {
  auto c = compile(snapshot_of(service_yaml("default", "web") +
                               ingress("a", "a.example.com", "Prefix", "/", "web",
                                       {{"proxy-connect-timeout", "\"2\""},
                                        {"proxy-next-upstream-timeout", "\"7\""}}) +
                               ingress("b", "b.example.com", "Prefix", "/", "web")),
                   nginx_options());
  const proxy::RouteConfig* a = first_route(c, "http/a.example.com");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->forward.connect_timeout, proxy::Millis(2000));
  EXPECT_EQ(a->forward.retry.retry_window, proxy::Millis(7000));
  const proxy::RouteConfig* b = first_route(c, "http/b.example.com");
  EXPECT_EQ(b->forward.connect_timeout, proxy::Millis(0));  // the cluster's 5 s
  EXPECT_EQ(b->forward.retry.retry_window, proxy::Millis(0));
  EXPECT_EQ(verdict(read({{"proxy-connect-timeout", "5s"}}), "proxy-connect-timeout")->support,
            NginxSupport::kIgnored);
}

// affinity-mode (balanced by default, or persistent), session-cookie-change-on-failure (false
// by default) and session-cookie-conditional-samesite-none reach the cluster's cookie.
TEST(NginxIngress, AffinityModeChangeOnFailureAndConditionalSameSite) {
  auto c = compile(
      snapshot_of(service_yaml("default", "web") +
                  ingress("a", "a.example.com", "Prefix", "/", "web", {{"affinity", "cookie"}}) +
                  ingress("b", "b.example.com", "Prefix", "/", "web",
                          {{"affinity", "cookie"},
                           {"affinity-mode", "persistent"},
                           {"session-cookie-change-on-failure", "\"true\""},
                           {"session-cookie-samesite", "None"},
                           {"session-cookie-conditional-samesite-none", "\"true\""}})),
      nginx_options());
  const proxy::ClusterConfig* a =
      cluster_named(c, first_route(c, "http/a.example.com")->forward.clusters[0].cluster);
  ASSERT_NE(a, nullptr) << describe(c.model);
  EXPECT_TRUE(a->hash_on->cookie_balanced);
  EXPECT_FALSE(a->hash_on->cookie_change_on_failure);
  EXPECT_FALSE(a->hash_on->cookie_samesite_none_conditional);
  const proxy::ClusterConfig* b =
      cluster_named(c, first_route(c, "http/b.example.com")->forward.clusters[0].cluster);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a->name, b->name);
  EXPECT_FALSE(b->hash_on->cookie_balanced);
  EXPECT_TRUE(b->hash_on->cookie_change_on_failure);
  EXPECT_TRUE(b->hash_on->cookie_samesite_none_conditional);
  EXPECT_EQ(verdict(read({{"affinity", "cookie"}, {"affinity-mode", "sticky"}}), "affinity-mode")
                ->support,
            NginxSupport::kIgnored);
  EXPECT_EQ(verdict(read({{"affinity", "cookie"},
                          {"session-cookie-conditional-samesite-none", "\"true\""}}),
                    "session-cookie-conditional-samesite-none")
                ->support,
            NginxSupport::kIgnored);  // without SameSite None
  EXPECT_EQ(verdict(read({{"affinity-mode", "persistent"}}), "affinity-mode")->support,
            NginxSupport::kIgnored);  // without affinity
}

// auth-url and its companions with ingress-nginx's syntax and defaults; whatever would let a
// request through that ingress-nginx refuses fails closed.
TEST(NginxAnnotations, AuthUrlAndItsCompanions) {
  NginxAnnotations a =
      read({{"auth-url", "\"https://auth.sso.svc.cluster.local:8443/verify?x=1\""},
            {"auth-method", "GET"},
            {"auth-signin", "\"https://$host/oauth2/start?rd=$escaped_request_uri\""},
            {"auth-response-headers", "\"X-User, X-Email\""},
            {"auth-request-redirect", "\"https://$host/back\""},
            {"auth-cache-key", "\"$http_authorization\""},
            {"auth-cache-duration", "\"200 202 30m, 401 1m\""},
            {"auth-always-set-cookie", "\"true\""},
            {"auth-keepalive", "\"10\""}});
  ASSERT_TRUE(a.ext_auth);
  EXPECT_TRUE(a.unenforced_access.empty());
  const NginxExtAuth& e = *a.ext_auth;
  EXPECT_TRUE(e.tls);
  EXPECT_EQ(e.host, "auth.sso.svc.cluster.local");
  EXPECT_EQ(e.port, 8443);
  EXPECT_EQ(e.config.host, "auth.sso.svc.cluster.local");  // ingress-nginx: no port
  EXPECT_EQ(e.config.path, "/verify?x=1");
  EXPECT_EQ(e.config.method, "GET");
  EXPECT_EQ(e.config.signin, "https://$host/oauth2/start?rd=$escaped_request_uri");
  EXPECT_EQ(e.config.response_headers, (std::vector<std::string>{"X-User", "X-Email"}));
  EXPECT_EQ(e.config.request_redirect, "https://$host/back");
  EXPECT_EQ(e.config.cache_key, "$http_authorization");
  ASSERT_EQ(e.config.cache_valid.size(), 2u);
  EXPECT_EQ(e.config.cache_valid[0].statuses, (std::vector<uint32_t>{200, 202}));
  EXPECT_EQ(e.config.cache_valid[0].ttl, std::chrono::minutes(30));
  EXPECT_EQ(e.config.cache_valid[1].ttl, std::chrono::minutes(1));
  EXPECT_TRUE(e.config.always_set_cookie);
  EXPECT_EQ(verdict(a, "auth-url")->support, NginxSupport::kSupported);
  EXPECT_EQ(verdict(a, "auth-keepalive")->support, NginxSupport::kDifferent);

  NginxAnnotations d = read({{"auth-url", "\"http://10.1.2.3/\""}, {"auth-cache-key", "fixed"}});
  ASSERT_TRUE(d.ext_auth);
  EXPECT_EQ(d.ext_auth->port, 80);
  ASSERT_EQ(d.ext_auth->config.cache_valid.size(), 1u);  // ingress-nginx's "200 202 401 5m"
  EXPECT_EQ(d.ext_auth->config.cache_valid[0].statuses, (std::vector<uint32_t>{200, 202, 401}));
  EXPECT_EQ(d.ext_auth->config.cache_valid[0].ttl, std::chrono::minutes(5));

  using A = std::vector<std::pair<std::string, std::string>>;
  for (const A& bad :
       {A{{"auth-url", "\"ftp://auth/x\""}}, A{{"auth-url", "\"http://$host/auth\""}},
        A{{"auth-url", "\"http://user@auth/x\""}}, A{{"auth-url", "\"http://auth:99999/x\""}},
        A{{"auth-url", "\"http://auth/x\""}, {"auth-method", "FETCH"}},
        A{{"auth-url", "\"http://auth/x\""}, {"auth-response-headers", "\"X User\""}},
        A{{"auth-url", "\"http://auth/x\""}, {"auth-cache-duration", "\"5x\""}},
        A{{"auth-url", "\"http://auth/x\""}, {"auth-proxy-set-headers", "cm"}}}) {
    NginxAnnotations r = read(bad);
    EXPECT_FALSE(r.unenforced_access.empty()) << bad.back().second;
    EXPECT_EQ(verdict(r, bad.back().first)->support, NginxSupport::kIgnored);
  }
  // A sign-in URL with a variable kop-ingress does not know is ignored: 401s pass unchanged.
  NginxAnnotations signin =
      read({{"auth-url", "\"http://auth/x\""}, {"auth-signin", "\"https://$server_name/start\""}});
  ASSERT_TRUE(signin.ext_auth);
  EXPECT_TRUE(signin.unenforced_access.empty());
  EXPECT_EQ(signin.ext_auth->config.signin, "");
  EXPECT_EQ(verdict(signin, "auth-signin")->support, NginxSupport::kIgnored);
  // Without auth-url the companions do nothing, and say so; auth-snippet is never executed.
  NginxAnnotations none = read({{"auth-signin", "\"https://x/start\""}, {"auth-snippet", "x"}});
  EXPECT_FALSE(none.ext_auth);
  EXPECT_EQ(verdict(none, "auth-signin")->support, NginxSupport::kIgnored);
  EXPECT_EQ(verdict(none, "auth-snippet")->support, NginxSupport::kIgnored);
}

// auth-url naming a Service becomes the route's auth cluster (that Service port's endpoints);
// an address becomes a cluster of its own; a missing Service fails closed.
TEST(NginxIngress, AuthUrlReachesTheProxy) {
  auto c =
      compile(snapshot_of(service_yaml("default", "web") + service_yaml("sso", "auth", 2, 3) +
                          ingress("locked", "a.example.com", "Prefix", "/admin", "web",
                                  {{"auth-url", "\"http://auth.sso.svc.cluster.local/verify\""},
                                   {"auth-response-headers", "X-User"},
                                   {"proxy-read-timeout", "\"5\""}}) +
                          ingress("by-ip", "b.example.com", "Prefix", "/", "web",
                                  {{"auth-url", "\"http://10.9.8.7:9000/check\""}}) +
                          ingress("missing", "c.example.com", "Prefix", "/", "web",
                                  {{"auth-url", "\"http://nope.sso.svc/check\""}}) +
                          ingress("open", "a.example.com", "Prefix", "/", "web")),
              nginx_options());
  const proxy::RouteConfig* locked = nullptr;
  const proxy::RouteConfig* open = nullptr;
  for (const proxy::VirtualHostConfig& vh : c.config.virtual_hosts)
    if (vh.name.find("a.example.com") != std::string::npos)
      for (const auto& r : vh.routes) (r.match.path.value == "/admin" ? locked : open) = &r;
  ASSERT_TRUE(locked && open) << describe(c.model);
  ASSERT_TRUE(locked->ext_auth);
  EXPECT_FALSE(open->ext_auth);
  EXPECT_EQ(locked->ext_auth->cluster, "sso/auth/80");
  EXPECT_EQ(locked->ext_auth->host, "auth.sso.svc.cluster.local");
  EXPECT_EQ(locked->ext_auth->path, "/verify");
  EXPECT_EQ(locked->ext_auth->timeout, std::chrono::seconds(5));
  const proxy::ClusterConfig* auth = cluster_named(c, "sso/auth/80");
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->endpoints.size(), 2u);
  const proxy::RouteConfig* by_ip = first_route(c, "http/b.example.com");
  ASSERT_TRUE(by_ip && by_ip->ext_auth);
  const proxy::ClusterConfig* ip = cluster_named(c, by_ip->ext_auth->cluster);
  ASSERT_NE(ip, nullptr);
  ASSERT_EQ(ip->endpoints.size(), 1u);
  EXPECT_EQ(ip->endpoints[0].address.host, "10.9.8.7");
  EXPECT_EQ(ip->endpoints[0].address.port, 9000);
  EXPECT_EQ(route_of(c, "http", "c.example.com", "/"), "403");
  EXPECT_TRUE(has_event(c.model, "ServiceNotFound", "sso/nope")) << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "a.example.com", "/shop"), "default/web/80");
}

// nginx calls auth-url over HTTP/1.1 whatever the Service port's appProtocol: an h2c port gets
// an HTTP/1.1 cluster of its own for the auth request (the port's backends keep h2c) and an
// Event naming the Ingress, since a server speaking only HTTP/2 would fail every auth request.
TEST(NginxIngress, AuthUrlToAnH2cPortSpeaksHttp1) {
  std::string h2c_service = service_yaml("default", "grpcauth", 1, 4);
  const std::string port = "{name: http, port: 80, targetPort: 8080}";
  h2c_service.replace(h2c_service.find(port), port.size(),
                      "{name: http, port: 80, targetPort: 8080, appProtocol: kubernetes.io/h2c}");
  auto c = compile(snapshot_of(service_yaml("default", "web") + h2c_service +
                               ingress("locked", "a.example.com", "Prefix", "/", "web",
                                       {{"auth-url", "\"http://grpcauth.default.svc/verify\""}}) +
                               ingress("grpc", "g.example.com", "Prefix", "/", "grpcauth")),
                   nginx_options());
  const proxy::RouteConfig* locked = first_route(c, "http/a.example.com");
  ASSERT_TRUE(locked && locked->ext_auth) << describe(c.model);
  EXPECT_EQ(locked->ext_auth->cluster, "default/grpcauth/80/http1");
  const proxy::ClusterConfig* auth = cluster_named(c, "default/grpcauth/80/http1");
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->protocol, proxy::UpstreamProtocol::kHttp1);
  EXPECT_EQ(auth->endpoints.size(), 1u);
  const proxy::ClusterConfig* grpc = cluster_named(c, "default/grpcauth/80");
  ASSERT_NE(grpc, nullptr);
  EXPECT_EQ(grpc->protocol, proxy::UpstreamProtocol::kH2c);
  EXPECT_TRUE(has_event(c.model, "AuthServiceProtocol", "default/grpcauth\" port 80"))
      << describe(c.model);
  EXPECT_EQ(route_of(c, "http", "g.example.com", "/"), "default/grpcauth/80");
}

}  // namespace
}  // namespace kop::ingress
