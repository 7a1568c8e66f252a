// The networking.k8s.io/v1 semantics, table-driven, checked through the compiled proxy
// RouteTable (so each case is what a request would really hit): the Kubernetes docs' path
// matching table, host wildcards, precedence, default backend, class selection, TLS host
// binding, conflicts, bad input.
#include <gtest/gtest.h>

#include <sstream>

#include "test_util.h"

namespace kop::ingress {
namespace {

using testing::compile;
using testing::route_of;
using testing::service_yaml;
using testing::snapshot_of;

struct PathCase {
  std::vector<std::pair<std::string, std::string>> paths;  // (pathType, path) -> svc<i>
  std::string request;
  std::string want;  // "svc<i>" or "404"
};

std::string ingress_with_paths(const std::vector<std::pair<std::string, std::string>>& paths) {
  std::ostringstream y;
  for (size_t i = 0; i < paths.size(); ++i) y << service_yaml("default", "svc" + std::to_string(i));
  y << "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: paths, "
       "namespace: default}\nspec:\n  rules:\n  - host: foo.example.com\n    http:\n"
       "      paths:\n";
  for (size_t i = 0; i < paths.size(); ++i)
    y << "      - {pathType: " << paths[i].first << ", path: \"" << paths[i].second
      << "\", backend: {service: {name: svc" << i << ", port: {number: 80}}}}\n";
  return y.str();
}

// https://kubernetes.io/docs/concepts/services-networking/ingress/#examples (path matching).
TEST(IngressSemantics, KubernetesPathMatchingTable) {
  const std::vector<PathCase> cases = {
      {{{"Prefix", "/"}}, "/", "svc0"},
      {{{"Prefix", "/"}}, "/anything/at/all", "svc0"},
      {{{"Exact", "/foo"}}, "/foo", "svc0"},
      {{{"Exact", "/foo"}}, "/bar", "404"},
      {{{"Exact", "/foo"}}, "/foo/", "404"},
      {{{"Exact", "/foo/"}}, "/foo", "404"},
      {{{"Prefix", "/foo"}}, "/foo", "svc0"},
      {{{"Prefix", "/foo"}}, "/foo/", "svc0"},
      {{{"Prefix", "/foo/"}}, "/foo", "svc0"},
      {{{"Prefix", "/foo/"}}, "/foo/", "svc0"},
      {{{"Prefix", "/aaa/bb"}}, "/aaa/bbb", "404"},
      {{{"Prefix", "/aaa/bbb"}}, "/aaa/bbb", "svc0"},
      {{{"Prefix", "/aaa/bbb/"}}, "/aaa/bbb", "svc0"},
      {{{"Prefix", "/aaa/bbb"}}, "/aaa/bbb/", "svc0"},
      {{{"Prefix", "/aaa/bbb"}}, "/aaa/bbb/ccc", "svc0"},
      {{{"Prefix", "/aaa/bbb"}}, "/aaa/bbbxyz", "404"},
      {{{"Prefix", "/"}, {"Prefix", "/aaa"}}, "/aaa/ccc", "svc1"},
      {{{"Prefix", "/"}, {"Prefix", "/aaa"}, {"Prefix", "/aaa/bbb"}}, "/aaa/bbb", "svc2"},
      {{{"Prefix", "/"}, {"Prefix", "/aaa"}, {"Prefix", "/aaa/bbb"}}, "/ccc", "svc0"},
      {{{"Prefix", "/aaa"}}, "/ccc", "404"},
      {{{"Prefix", "/foo"}, {"Exact", "/foo"}}, "/foo", "svc1"},
      {{{"Exact", "/foo"}, {"Prefix", "/foo"}}, "/foo", "svc0"},
      {{{"Exact", "/foo"}, {"Prefix", "/foo"}}, "/foo/x", "svc1"},
      // ImplementationSpecific: Prefix semantics, or RE2 full match when it looks like a regex.
      {{{"ImplementationSpecific", "/foo"}}, "/foo/bar", "svc0"},
      {{{"ImplementationSpecific", "/foo"}}, "/foobar", "404"},
      {{{"ImplementationSpecific", "/api/v[0-9]+/.*"}}, "/api/v2/users", "svc0"},
      {{{"ImplementationSpecific", "/api/v[0-9]+/.*"}}, "/api/vx/users", "404"},
  };
  for (const auto& c : cases) {
    auto compiled = compile(snapshot_of(ingress_with_paths(c.paths)));
    std::string want = c.want == "404" ? "404" : "default/" + c.want + "/80";
    std::string what;
    for (const auto& [t, p] : c.paths) what.append(t).append(" ").append(p).append("; ");
    EXPECT_EQ(route_of(compiled, "http", "foo.example.com", c.request), want)
        << "paths: " << what << "request " << c.request;
  }
}

std::string host_rules(const std::vector<std::string>& hosts) {
  std::ostringstream y;
  for (size_t i = 0; i < hosts.size(); ++i) y << service_yaml("default", "svc" + std::to_string(i));
  y << "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: hosts, "
       "namespace: default}\nspec:\n  rules:\n";
  for (size_t i = 0; i < hosts.size(); ++i)
    y << "  - host: \"" << hosts[i] << "\"\n    http: {paths: [{pathType: Prefix, path: /, "
      << "backend: {service: {name: svc" << i << ", port: {number: 80}}}}]}\n";
  return y.str();
}

TEST(IngressSemantics, HostsExactWildcardAndEmpty) {
  struct Case {
    std::vector<std::string> hosts;
    std::string request_host;
    std::string want;
  };
  const std::vector<Case> cases = {
      {{"foo.bar.com"}, "foo.bar.com", "svc0"},
      {{"foo.bar.com"}, "FOO.Bar.com:8080", "svc0"},  // case-insensitive, port stripped
      {{"foo.bar.com"}, "bar.com", "404"},
      {{"*.foo.com"}, "bar.foo.com", "svc0"},
      {{"*.foo.com"}, "baz.bar.foo.com", "404"},  // one label only
      {{"*.foo.com"}, "foo.com", "404"},
      {{"*.foo.com", "bar.foo.com"}, "bar.foo.com", "svc1"},  // exact beats wildcard
      {{"*.foo.com", "bar.foo.com"}, "x.foo.com", "svc0"},
      {{""}, "anything.example", "svc0"},  // empty host matches all
      {{"", "a.com"}, "a.com", "svc1"},
      {{"", "a.com"}, "b.com", "svc0"},
  };
  for (const auto& c : cases) {
    auto compiled = compile(snapshot_of(host_rules(c.hosts)));
    std::string want = c.want == "404" ? "404" : "default/" + c.want + "/80";
    EXPECT_EQ(route_of(compiled, "http", c.request_host, "/"), want)
        << "host " << c.request_host << " hosts[0]=" << c.hosts[0];
  }
}

TEST(IngressSemantics, EmptyHostRulesApplyToNamedHostsWhenTheyDoNotRouteThePath) {
  std::string y = service_yaml("default", "a") + service_yaml("default", "b") + R"(
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: default}
spec:
  rules:
  - http: {paths: [{pathType: Prefix, path: /all, backend: {service: {name: a, port: {number: 80}}}}]}
  - host: x.com
    http: {paths: [{pathType: Prefix, path: /, backend: {service: {name: b, port: {number: 80}}}}]}
)";
  auto c = compile(snapshot_of(y));
  EXPECT_EQ(route_of(c, "http", "x.com", "/all/1"), "default/a/80");
  EXPECT_EQ(route_of(c, "http", "x.com", "/other"), "default/b/80");
  EXPECT_EQ(route_of(c, "http", "y.com", "/other"), "404");
}

TEST(IngressSemantics, DefaultBackendTakesWhatNoRuleMatches) {
  std::string y = service_yaml("default", "web") + service_yaml("default", "fallback") + R"(
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: default}
spec:
  defaultBackend: {service: {name: fallback, port: {name: http}}}
  rules:
  - host: web.com
    http: {paths: [{pathType: Exact, path: /app, backend: {service: {name: web, port: {number: 80}}}}]}
)";
  auto c = compile(snapshot_of(y));
  EXPECT_EQ(route_of(c, "http", "web.com", "/app"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "web.com", "/other"), "default/fallback/80");
  EXPECT_EQ(route_of(c, "http", "unknown.com", "/x"), "default/fallback/80");
}

TEST(IngressSemantics, NoMatchAndNoDefaultBackendIs404) {
  auto c = compile(snapshot_of(host_rules({"a.com"})));
  EXPECT_EQ(route_of(c, "http", "b.com", "/"), "404");
}

std::string classy_ingress(std::string_view name, std::string_view annotation,
                           std::string_view class_name) {
  std::ostringstream y;
  y << "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: " << name
    << "\n  namespace: default\n";
  if (!annotation.empty())
    y << "  annotations: {kubernetes.io/ingress.class: \"" << annotation << "\"}\n";
  y << "spec:\n";
  if (!class_name.empty()) y << "  ingressClassName: " << class_name << "\n";
  y << "  rules:\n  - host: " << name
    << ".com\n    http: {paths: [{pathType: Prefix, path: /, "
       "backend: {service: {name: svc0, port: {number: 80}}}}]}\n";
  return y.str();
}

TEST(IngressSemantics, ClassSelection) {
  std::string classes = R"(
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: kop}
spec: {controller: kop.dev/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
)";
  struct Case {
    std::string annotation, class_name;
    Options options;
    bool ours;
  };
  Options contour;
  contour.ingress_class = "contour";
  Options strict;
  strict.watch_ingress_without_class = false;
  const std::vector<Case> cases = {
      {"kop", "", {}, true},
      {"contour", "", {}, false},
      {"contour", "", contour, true},
      {"nginx", "kop", {}, false},  // the annotation decides when present
      {"", "kop", {}, true},
      {"", "nginx", {}, false},
      {"", "missing", {}, false},  // unknown class: never ours
      {"", "", {}, true},          // no class, --watch-ingress-without-class (default on)
      {"", "", strict, false},
  };
  for (const auto& c : cases) {
    auto snap = snapshot_of(service_yaml("default", "svc0") + classes +
                            classy_ingress("x", c.annotation, c.class_name));
    auto m = build_model(snap, c.options);
    EXPECT_EQ(m.owned_ingresses.size() == 1, c.ours)
        << "annotation=" << c.annotation << " class=" << c.class_name;
    EXPECT_EQ(!m.virtual_hosts.empty(), c.ours);
  }
  // A default IngressClass of ours adopts class-less Ingresses even with the flag off.
  auto snap = snapshot_of(service_yaml("default", "svc0") + classes + R"(
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: kop-default, annotations: {ingressclass.kubernetes.io/is-default-class: "true"}}
spec: {controller: kop.dev/ingress-controller}
)" + classy_ingress("x", "", ""));
  EXPECT_EQ(build_model(snap, strict).owned_ingresses.size(), 1u);
}

TEST(IngressSemantics, ConflictOldestWinsAndLoserGetsEvent) {
  std::string y = service_yaml("default", "old") + service_yaml("other", "new") + R"(
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: b-new, namespace: other, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  rules:
  - host: x.com
    http: {paths: [{pathType: Prefix, path: /, backend: {service: {name: new, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: a-old, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  rules:
  - host: x.com
    http: {paths: [{pathType: Prefix, path: /, backend: {service: {name: old, port: {number: 80}}}}]}
)";
  auto c = compile(snapshot_of(y));
  EXPECT_EQ(route_of(c, "http", "x.com", "/"), "default/old/80");
  ASSERT_EQ(c.model.events.size(), 1u) << describe(c.model);
  EXPECT_EQ(c.model.events[0].reason, "HostPathConflict");
  EXPECT_EQ(c.model.events[0].object.key(), "other/b-new");
  EXPECT_EQ(c.model.events[0].field, "spec.rules[0].http.paths[0]");
}

TEST(IngressSemantics, ConflictSameAgeFallsBackToNamespaceName) {
  std::string y = service_yaml("a", "s") + service_yaml("b", "s") + R"(
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: b, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {rules: [{host: x.com, http: {paths: [{pathType: Exact, path: /p, backend: {service: {name: s, port: {number: 80}}}}]}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: a, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {rules: [{host: x.com, http: {paths: [{pathType: Exact, path: /p, backend: {service: {name: s, port: {number: 80}}}}]}}]}
)";
  auto c = compile(snapshot_of(y));
  EXPECT_EQ(route_of(c, "http", "x.com", "/p"), "a/s/80");
  ASSERT_EQ(c.model.events.size(), 1u);
  EXPECT_EQ(c.model.events[0].object.key(), "b/i");
}

TEST(IngressSemantics, BadInputOnlyAffectsItsRoute) {
  std::string y = service_yaml("default", "good") + R"(
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: mixed, namespace: default}
spec:
  rules:
  - host: x.com
    http:
      paths:
      - {pathType: Prefix, path: /good, backend: {service: {name: good, port: {number: 80}}}}
      - {pathType: Prefix, path: /missing, backend: {service: {name: nope, port: {number: 80}}}}
      - {pathType: Prefix, path: /badport, backend: {service: {name: good, port: {number: 81}}}}
      - {pathType: ImplementationSpecific, path: "/re(", backend: {service: {name: good, port: {number: 80}}}}
      - {pathType: Exact, path: "relative", backend: {service: {name: good, port: {number: 80}}}}
  - host: "bad..host"
    http: {paths: [{pathType: Prefix, path: /, backend: {service: {name: good, port: {number: 80}}}}]}
)";
  auto c = compile(snapshot_of(y));
  EXPECT_EQ(route_of(c, "http", "x.com", "/good"), "default/good/80");
  EXPECT_EQ(route_of(c, "http", "x.com", "/missing"), "503");
  EXPECT_EQ(route_of(c, "http", "x.com", "/badport"), "503");
  std::vector<std::string> reasons;
  reasons.reserve(c.model.events.size());
  for (const auto& e : c.model.events) reasons.push_back(e.reason + " " + e.field);
  EXPECT_EQ(reasons, (std::vector<std::string>{
                         "HostInvalid spec.rules[1].host",
                         "PathInvalid spec.rules[0].http.paths[3]",
                         "PathInvalid spec.rules[0].http.paths[4]",
                         "ServiceNotFound spec.rules[0].http.paths[1].backend.service",
                         "ServicePortNotFound spec.rules[0].http.paths[2].backend.service",
                     }));
}

TEST(IngressSemantics, EndpointsFromSlicesReadyOnlyTargetPortByName) {
  std::string y = R"(
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec: {ports: [{name: web, port: 80, targetPort: 9999}, {name: admin, port: 81}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s-1, namespace: default, labels: {kubernetes.io/service-name: s}}
addressType: IPv4
ports: [{name: web, port: 8080}, {name: admin, port: 9090}]
endpoints:
- {addresses: ["10.1.0.1"], conditions: {ready: true}}
- {addresses: ["10.1.0.2"]}
- {addresses: ["10.1.0.3"], conditions: {ready: false}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: other, namespace: default, labels: {kubernetes.io/service-name: t}}
addressType: IPv4
ports: [{name: web, port: 7}]
endpoints: [{addresses: ["10.9.9.9"]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: default}
spec:
  rules:
  - http: {paths: [{pathType: Prefix, path: /, backend: {service: {name: s, port: {number: 80}}}}]}
)";
  auto m = build_model(snapshot_of(y), {});
  ASSERT_EQ(m.clusters.count("default/s/80"), 1u) << describe(m);
  EXPECT_EQ(m.clusters.at("default/s/80")->endpoints,
            (std::vector<Endpoint>{{"10.1.0.1", 8080}, {"10.1.0.2", 8080}}));
}

// A Service port named by number in one path and by name in another is one cluster (one set of
// endpoints, compiled and balanced once), named by the port's number; ports of the same number
// and another protocol stay apart.
TEST(IngressSemantics, OneServicePortIsOneClusterHoweverABackendNamesIt) {
  std::string y = service_yaml("default", "web") + R"(
---
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: default}
spec:
  ports:
  - {name: dns-tcp, port: 53, protocol: TCP}
  - {name: dns-udp, port: 53, protocol: UDP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: dns-abc
  namespace: default
  labels: {kubernetes.io/service-name: dns}
addressType: IPv4
ports: [{name: dns-tcp, port: 5353}, {name: dns-udp, port: 5354}]
endpoints: [{addresses: [10.9.0.1], conditions: {ready: true}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: default}
spec:
  rules:
  - host: a.com
    http:
      paths:
      - {pathType: Prefix, path: /api, backend: {service: {name: web, port: {number: 80}}}}
      - {pathType: Prefix, path: /, backend: {service: {name: web, port: {name: http}}}}
      - {pathType: Prefix, path: /tcp, backend: {service: {name: dns, port: {name: dns-tcp}}}}
      - {pathType: Prefix, path: /udp, backend: {service: {name: dns, port: {name: dns-udp}}}}
)";
  auto c = compile(snapshot_of(y));
  EXPECT_EQ(route_of(c, "http", "a.com", "/api"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "a.com", "/"), "default/web/80");
  EXPECT_EQ(route_of(c, "http", "a.com", "/tcp"), "default/dns/53");
  EXPECT_EQ(route_of(c, "http", "a.com", "/udp"), "default/dns/53-udp");
  EXPECT_EQ(c.model.clusters.size(), 3u);
  EXPECT_EQ(c.model.clusters.at("default/web/80")->port, "80");
  EXPECT_EQ(c.model.clusters.at("default/dns/53")->endpoints,
            (std::vector<Endpoint>{{"10.9.0.1", 5353}}));
  EXPECT_EQ(c.model.clusters.at("default/dns/53-udp")->endpoints,
            (std::vector<Endpoint>{{"10.9.0.1", 5354}}));
}

TEST(IngressSemantics, NoReadyEndpointIs503FromTheProxyAndExternalNameUsesDns) {
  std::string y = service_yaml("default", "empty", 0) + R"(
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec: {type: ExternalName, externalName: api.example.org, ports: [{name: https, port: 443}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: default}
spec:
  rules:
  - http:
      paths:
      - {pathType: Prefix, path: /empty, backend: {service: {name: empty, port: {number: 80}}}}
      - {pathType: Prefix, path: /ext, backend: {service: {name: ext, port: {name: https}}}}
)";
  auto c = compile(snapshot_of(y));
  EXPECT_TRUE(c.model.clusters.at("default/empty/80")->endpoints.empty());
  EXPECT_EQ(route_of(c, "http", "a.com", "/empty"), "default/empty/80");
  const Cluster& ext = c.model.clusters.at("default/ext/443");
  EXPECT_TRUE(ext.external_name);
  EXPECT_EQ(ext.endpoints, (std::vector<Endpoint>{{"api.example.org", 443}}));
}

}  // namespace
}  // namespace kop::ingress
