// IngressRoute (ingress.kop.dev/v1beta1): roots, delegation (prefix rules, orphans, cycles),
// duplicate fqdn, TLS with TLSCertificateDelegation, permitInsecure, weights, strategies,
// rewrite/timeout/retry/websocket, header matches and policies; checked through the compiled
// proxy RouteTable and the rendered Config.
#include <gtest/gtest.h>

#include "test_util.h"

namespace kop::ingress {
namespace {

using testing::compile;
using testing::route_of;
using testing::service_yaml;
using testing::snapshot_of;
using testing::tls_secret_yaml;

const IngressRouteStatus* status_of(const Model& m, std::string_view key) {
  for (const auto& s : m.ingress_route_statuses)
    if (s.route.key() == key) return &s;
  return nullptr;
}

const proxy::RouteConfig* route_config(const proxy::Config& c, std::string_view vhost,
                                       std::string_view path) {
  for (const proxy::VirtualHostConfig& vh : c.virtual_hosts)
    if (vh.name == vhost)
      for (const auto& r : vh.routes)
        if (r.match.path.value == path) return &r;
  return nullptr;
}

TEST(IngressRoute, RootWithWeightedServices) {
  std::string y = service_yaml("default", "a", 1, 1) + service_yaml("default", "b", 1, 2) + R"(
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: root, namespace: default, generation: 3}
spec:
  virtualhost: {fqdn: App.Example.com}
  routes:
  - match: /
    services: [{name: a, port: 80, weight: 90}, {name: b, port: 80, weight: 10}]
  - match: /only-a
    services: [{name: a, port: 80, weight: 1}, {name: b, port: 80, weight: 0}]
  - match: /zero
    services: [{name: a, port: 80, weight: 0}, {name: b, port: 80, weight: 0}]
  - match: /even
    services: [{name: a, port: 80}, {name: b, port: 80}]
)";
  auto c = compile(snapshot_of(y));
  EXPECT_EQ(route_of(c, "http", "app.example.com", "/x"), "default/a/80,default/b/80");
  EXPECT_EQ(route_of(c, "http", "app.example.com", "/only-a"), "default/a/80");
  // IngressRoute match is a string prefix (Contour v1beta1).
  EXPECT_EQ(route_of(c, "http", "app.example.com", "/only-abc"), "default/a/80");
  auto* r = route_config(c.config, "http/app.example.com", "/");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->forward.clusters[0].weight, 90u);
  EXPECT_EQ(r->forward.clusters[1].weight, 10u);
  EXPECT_EQ(route_of(c, "http", "app.example.com", "/zero"), "default/a/80,default/b/80");
  auto* even = route_config(c.config, "http/app.example.com", "/even");
  ASSERT_NE(even, nullptr);
  EXPECT_EQ(even->forward.clusters.size(), 2u);
  EXPECT_EQ(even->forward.clusters[0].weight, 1u);
  const auto* st = status_of(c.model, "default/root");
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(st->status, RouteStatus::kValid);
  EXPECT_EQ(st->description, "valid IngressRoute");
  EXPECT_EQ(st->generation, 3);
}

TEST(IngressRoute, DelegationPrefixesOrphansAndCycles) {
  std::string y = service_yaml("default", "web") + service_yaml("blog", "posts") + R"(
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: root, namespace: default}
spec:
  virtualhost: {fqdn: site.com}
  routes:
  - {match: /, services: [{name: web, port: 80}]}
  - {match: /blog, delegate: {name: blog, namespace: blog}}
  - {match: /bad, delegate: {name: wrong-prefix, namespace: blog}}
  - {match: /loop, delegate: {name: loop-a, namespace: blog}}
  - {match: /missing, delegate: {name: nope}}
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: blog, namespace: blog}
spec:
  routes:
  - {match: /blog, services: [{name: posts, port: 80}]}
  - {match: /blog/admin, services: [{name: posts, port: 80}], headersMatch: [{name: X-Admin, exact: "yes"}]}
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: wrong-prefix, namespace: blog}
spec:
  routes:
  - {match: /elsewhere, services: [{name: posts, port: 80}]}
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: loop-a, namespace: blog}
spec:
  routes:
  - {match: /loop/a, delegate: {name: loop-b}}
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: loop-b, namespace: blog}
spec:
  routes:
  - {match: /loop/a/b, delegate: {name: loop-a}}
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: lonely, namespace: blog}
spec:
  routes:
  - {match: /, services: [{name: posts, port: 80}]}
)";
  auto c = compile(snapshot_of(y));
  EXPECT_EQ(route_of(c, "http", "site.com", "/blog/post-1"), "blog/posts/80");
  EXPECT_EQ(route_of(c, "http", "site.com", "/"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "site.com", "/blog/admin"), "blog/posts/80");
  EXPECT_EQ(route_of(c, "http", "site.com", "/elsewhere"), "default/web/80");
  EXPECT_EQ(status_of(c.model, "blog/blog")->status, RouteStatus::kValid);
  const auto* wrong = status_of(c.model, "blog/wrong-prefix");
  EXPECT_EQ(wrong->status, RouteStatus::kInvalid);
  EXPECT_EQ(wrong->description,
            "the path prefix \"/elsewhere\" does not match the parent's path prefix \"/bad\"");
  EXPECT_EQ(status_of(c.model, "blog/lonely")->status, RouteStatus::kOrphaned);
  EXPECT_EQ(status_of(c.model, "blog/loop-a")->status, RouteStatus::kInvalid);
  EXPECT_NE(status_of(c.model, "blog/loop-a")->description.find("delegation cycle"),
            std::string::npos);
  bool missing_event = false;
  for (const auto& e : c.model.events)
    missing_event |= e.reason == "DelegateNotFound" && e.field == "spec.routes[4].delegate";
  EXPECT_TRUE(missing_event) << describe(c.model);
}

TEST(IngressRoute, DuplicateFqdnInvalidatesBoth) {
  std::string y = service_yaml("a", "s") + service_yaml("b", "s") + R"(
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: one, namespace: a}
spec: {virtualhost: {fqdn: dup.com}, routes: [{match: /, services: [{name: s, port: 80}]}]}
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: two, namespace: b}
spec: {virtualhost: {fqdn: dup.com}, routes: [{match: /, services: [{name: s, port: 80}]}]}
)";
  auto c = compile(snapshot_of(y));
  EXPECT_EQ(route_of(c, "http", "dup.com", "/"), "404");
  for (const char* key : {"a/one", "b/two"}) {
    const auto* st = status_of(c.model, key);
    ASSERT_NE(st, nullptr);
    EXPECT_EQ(st->status, RouteStatus::kInvalid);
    EXPECT_EQ(st->description, "fqdn \"dup.com\" is used in multiple IngressRoutes: a/one, b/two");
  }
}

TEST(IngressRoute, TlsDelegationAndPermitInsecure) {
  std::string root = R"(
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: r, namespace: app}
spec:
  virtualhost: {fqdn: secure.example.com, tls: {secretName: certs/wild}}
  routes:
  - {match: /, services: [{name: web, port: 80}]}
  - {match: /insecure, permitInsecure: true, services: [{name: web, port: 80}]}
)";
  std::string base = service_yaml("app", "web") + tls_secret_yaml("certs", "wild", "example");
  // Without a delegation the root is invalid.
  auto denied = compile(snapshot_of(base + root));
  EXPECT_EQ(status_of(denied.model, "app/r")->status, RouteStatus::kInvalid);
  EXPECT_EQ(status_of(denied.model, "app/r")->description,
            "TLS Secret \"certs/wild\" is not delegated to namespace \"app\" by a "
            "TLSCertificateDelegation");
  EXPECT_EQ(route_of(denied, "http", "secure.example.com", "/"), "404");

  std::string delegation = R"(
---
apiVersion: ingress.kop.dev/v1beta1
kind: TLSCertificateDelegation
metadata: {name: d, namespace: certs}
spec: {delegations: [{secretName: wild, targetNamespaces: [app]}]}
)";
  auto c = compile(snapshot_of(base + root + delegation));
  EXPECT_EQ(status_of(c.model, "app/r")->status, RouteStatus::kValid);
  EXPECT_EQ(route_of(c, "https", "secure.example.com", "/x"), "app/web/80");
  EXPECT_EQ(route_of(c, "http", "secure.example.com", "/x"), "301 https://secure.example.com/x");
  EXPECT_EQ(route_of(c, "http", "secure.example.com", "/insecure"), "app/web/80");
}

TEST(IngressRoute, RouteOptionsReachTheProxyConfig) {
  std::string y = service_yaml("default", "s") + R"(
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: r, namespace: default}
spec:
  virtualhost: {fqdn: opts.com}
  routes:
  - match: /api
    prefixRewrite: /
    enableWebsockets: true
    timeoutPolicy: {request: 1m30s}
    retryPolicy: {count: 3, perTryTimeout: 250ms}
    headersMatch: [{name: X-Env, notexact: prod}, {name: X-Trace, present: true}]
    requestHeadersPolicy: {set: [{name: X-From, value: kop}], remove: [X-Secret]}
    responseHeadersPolicy: {set: [{name: X-Served-By, value: kop}]}
    services:
    - {name: s, port: 80, strategy: Cookie}
    - name: s
      port: 80
      strategy: WeightedLeastRequest
      healthCheck: {path: /health, intervalSeconds: 3, timeoutSeconds: 1, unhealthyThresholdCount: 2, healthyThresholdCount: 1}
)";
  auto c = compile(snapshot_of(y));
  const proxy::RouteConfig* r = route_config(c.config, "http/opts.com", "/api");
  ASSERT_NE(r, nullptr) << proxy::to_json(c.config);
  EXPECT_EQ(r->match.path.type, proxy::PathMatchType::kStringPrefix);
  EXPECT_EQ(r->forward.prefix_rewrite, "/");
  EXPECT_TRUE(r->forward.websocket);
  EXPECT_EQ(r->forward.timeout, std::chrono::milliseconds(90000));
  EXPECT_EQ(r->forward.retry.num_retries, 3u);
  EXPECT_EQ(r->forward.retry.per_try_timeout, std::chrono::milliseconds(250));
  ASSERT_EQ(r->match.headers.size(), 2u);
  EXPECT_EQ(r->match.headers[0].name, "x-env");
  EXPECT_TRUE(r->match.headers[0].invert);
  EXPECT_EQ(r->match.headers[1].type, proxy::HeaderMatchType::kPresent);
  EXPECT_EQ(r->request_headers->set[0].name, "X-From");
  EXPECT_EQ(r->request_headers->remove[0], "X-Secret");
  EXPECT_EQ(r->response_headers->set[0].value, "kop");
  ASSERT_EQ(c.config.clusters.size(), 2u);
  const proxy::ClusterConfig* cookie = nullptr;
  const proxy::ClusterConfig* wlr = nullptr;
  for (const proxy::ClusterConfig& cl : c.config.clusters)
    (cl.lb_policy == proxy::LbPolicy::kRingHash ? cookie : wlr) = &cl;
  ASSERT_TRUE(cookie && wlr);
  EXPECT_EQ(cookie->hash_on->on, proxy::HashOn::kCookie);
  EXPECT_EQ(wlr->lb_policy, proxy::LbPolicy::kLeastRequest);
  ASSERT_TRUE(wlr->health_check.has_value());
  EXPECT_EQ(wlr->health_check->path, "/health");
  EXPECT_EQ(wlr->health_check->interval, std::chrono::milliseconds(3000));
  // Header conditions gate the route: without X-Trace it does not match.
  EXPECT_EQ(route_of(c, "http", "opts.com", "/api/x", {{"x-trace", "1"}}),
            "default/s/80/cookie," + wlr->name);
  EXPECT_EQ(route_of(c, "http", "opts.com", "/api/x", {{"x-trace", "1"}, {"x-env", "prod"}}),
            "404");
  EXPECT_EQ(route_of(c, "http", "opts.com", "/api/x"), "404");
}

TEST(IngressRoute, MissingServiceGives503AndAnEvent) {
  std::string y = R"(
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: r, namespace: default}
spec: {virtualhost: {fqdn: m.com}, routes: [{match: /, services: [{name: gone, port: 80}]}]}
)";
  auto c = compile(snapshot_of(y));
  EXPECT_EQ(route_of(c, "http", "m.com", "/"), "503");
  ASSERT_EQ(c.model.events.size(), 1u);
  EXPECT_EQ(c.model.events[0].reason, "ServiceNotFound");
  EXPECT_EQ(c.model.events[0].field, "spec.routes[0].services[0]");
}

}  // namespace
}  // namespace kop::ingress
