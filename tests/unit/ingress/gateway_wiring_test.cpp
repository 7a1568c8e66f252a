// Gateway API as kop-ingress serves it: front doors rendered as their own proxy listeners
// (compiled by the proxy's RouteTable: a Gateway's routes are reachable only on its own
// listener, Ingress routes only on "http"/"https"), the status JSON written on GatewayClass,
// Gateway and HTTPRoute (transition times kept, other controllers' parents kept), and the
// loopback address each Gateway gets with --manifests.
#include <gtest/gtest.h>

#include "../../../operators/ingress/controllers/gateway_addresses.h"
#include "../../../operators/ingress/controllers/gateway_status.h"
#include "kop/ingress/gateway_api.h"
#include "test_util.h"

namespace kop::ingress {
namespace {

using testing::parse_objects;
using testing::route_of;
using testing::service_yaml;
using testing::snapshot_of;
using testing::tls_secret_yaml;

const char* kClass = R"(---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: kop, generation: 1}
spec: {controllerName: kop.dev/gateway-controller}
)";

std::string gateway_yaml(std::string_view name, std::string_view listeners) {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: " +
         std::string(name) +
         ", namespace: infra, generation: 1}\nspec:\n  gatewayClassName: kop\n  listeners:\n" +
         std::string(listeners);
}

std::string route_yaml(std::string_view name, std::string_view spec) {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " +
         std::string(name) + ", namespace: infra, generation: 1}\nspec:\n" + std::string(spec);
}

// Builds the Ingress model and the Gateway API front doors of one YAML stream, renders both
// (each front door on 127.0.1.<n>:10080) and compiles the Config with the proxy's RouteTable.
struct Served {
  Snapshot base;
  gateway::Result gateways;
  testing::Compiled compiled;
};

std::unique_ptr<Served> serve(const std::string& yaml) {
  auto s = std::make_unique<Served>();
  s->base = snapshot_of(yaml);
  gateway::Snapshot g;
  g.base = &s->base;
  for (auto& o : parse_objects(yaml)) {
    if (o->kind() == "GatewayClass") g.gateway_classes.push_back(o);
    if (o->kind() == "Gateway") g.gateways.push_back(o);
    if (o->kind() == "HTTPRoute") g.http_routes.push_back(o);
  }
  s->gateways = gateway::translate(g, {});
  Model m = build_model(s->base, Options{.ingress_class = "kop"});
  for (auto& [name, c] : s->gateways.clusters) m.clusters.emplace(name, c);
  std::vector<BoundFrontDoor> doors;
  for (const auto& d : s->gateways.front_doors)
    doors.push_back(BoundFrontDoor{
        &d, proxy::SocketAddress{"127.0.1." + std::to_string(doors.size() + 1), 10080}});
  RenderOptions ro;
  ro.admin.enabled = false;
  s->compiled.model = m;
  s->compiled.config = render(m, ro, doors);
  auto table = proxy::RouteTable::compile(s->compiled.config);
  EXPECT_TRUE(table.ok()) << table.status();
  if (table.ok()) s->compiled.table = *table;
  return s;
}

const proxy::ListenerConfig* listener(const proxy::Config& c, std::string_view name) {
  for (const auto& l : c.listeners)
    if (l.name == name) return &l;
  return nullptr;
}

TEST(GatewayFrontDoors, EachGatewayServesOnlyItsOwnRoutesAndIngressStaysOnItsListeners) {
  auto s = serve(std::string(kClass) +
                 gateway_yaml("one", "  - {name: http, port: 80, protocol: HTTP}\n") +
                 gateway_yaml("two", "  - {name: http, port: 80, protocol: HTTP}\n") +
                 service_yaml("infra", "v1", 1, 1) + service_yaml("infra", "v2", 1, 2) +
                 service_yaml("infra", "web", 1, 3) +
                 route_yaml("to-one",
                            "  parentRefs: [{name: one}]\n"
                            "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n") +
                 route_yaml("to-two",
                            "  parentRefs: [{name: two}]\n"
                            "  hostnames: [two.example.com]\n"
                            "  rules: [{backendRefs: [{name: v2, port: 80}]}]\n") +
                 R"(---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: infra}
spec:
  ingressClassName: kop
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: kop}
spec: {controller: kop.dev/ingress-controller}
)");
  const auto& c = s->compiled;
  ASSERT_NE(listener(c.config, "gw/infra/one/80"), nullptr);
  ASSERT_NE(listener(c.config, "gw/infra/two/80"), nullptr);
  EXPECT_EQ(listener(c.config, "gw/infra/one/80")->address.host, "127.0.1.1");
  EXPECT_EQ(listener(c.config, "gw/infra/two/80")->address.host, "127.0.1.2");
  // Each Gateway's socket reaches its own route only.
  EXPECT_EQ(route_of(c, "gw/infra/one/80", "anything.example.com", "/"), "infra/v1/80");
  EXPECT_EQ(route_of(c, "gw/infra/one/80", "two.example.com", "/"), "infra/v1/80");
  EXPECT_EQ(route_of(c, "gw/infra/two/80", "two.example.com", "/"), "infra/v2/80");
  EXPECT_EQ(route_of(c, "gw/infra/two/80", "anything.example.com", "/"), "404");
  EXPECT_EQ(route_of(c, "gw/infra/two/80", "web.example.com", "/"), "404");
  // The Ingress listener selects its own hosts: no Gateway route there, and vice versa.
  EXPECT_EQ(route_of(c, "http", "web.example.com", "/"), "infra/web/80");
  EXPECT_EQ(route_of(c, "http", "two.example.com", "/"), "404");
  EXPECT_EQ(route_of(c, "http", "anything.example.com", "/"), "404");
  EXPECT_EQ(listener(c.config, "http")->virtual_host_prefix, "http/");
  // Gateway API order is the translator's: rendered as "config" order.
  for (const proxy::VirtualHostConfig& vh : c.config.virtual_hosts)
    if (vh.name.rfind("gw/", 0) == 0) {
      EXPECT_EQ(vh.route_order, proxy::RouteOrder::kConfig) << vh.name;
    }
}

// The controller passes the translator's clusters to render beside the cache's Model instead of
// joining them into a copy of it: the same Config as rendering the joined Model, clusters in
// name order, and on a name both have the model's cluster (the sources build a name the same
// way, so they only share equal clusters).
TEST(GatewayFrontDoors, TranslatorClustersRenderedBesideTheModelAsIfJoined) {
  auto s = serve(std::string(kClass) +
                 gateway_yaml("one", "  - {name: http, port: 80, protocol: HTTP}\n") +
                 service_yaml("infra", "v1", 1, 1) + service_yaml("infra", "web", 1, 3) +
                 route_yaml("to-one",
                            "  parentRefs: [{name: one}]\n"
                            "  rules: [{backendRefs: [{name: v1, port: 80}, "
                            "{name: web, port: 80}]}]\n") +
                 R"(---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: infra}
spec:
  ingressClassName: kop
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: kop}
spec: {controller: kop.dev/ingress-controller}
)");
  Model model = build_model(s->base, Options{.ingress_class = "kop"});
  std::map<std::string, proxy::Shared<Cluster>> gateway_clusters = s->gateways.clusters;
  ASSERT_EQ(gateway_clusters.count("infra/web/80"), 1u);  // both sources use it
  ASSERT_EQ(model.clusters.count("infra/web/80"), 1u);
  ASSERT_EQ(model.clusters.count("infra/v1/80"), 0u);  // the Gateway's alone
  // Names before, between and after the model's; a shared one that differs: the model's wins.
  for (const char* name : {"aaa/first/80", "zzz/last/80"}) {
    Cluster c = gateway_clusters.at("infra/v1/80");
    c.name = name;
    gateway_clusters.emplace(name, std::move(c));
  }
  Cluster emptied = gateway_clusters.at("infra/web/80");
  emptied.endpoints.clear();
  gateway_clusters.at("infra/web/80") = std::move(emptied);
  std::vector<BoundFrontDoor> doors;
  for (const auto& d : s->gateways.front_doors)
    doors.push_back(BoundFrontDoor{&d, proxy::SocketAddress{"127.0.1.1", 10080}});
  RenderOptions ro;
  ro.admin.enabled = false;
  Model joined = model;
  for (const auto& [name, c] : gateway_clusters) joined.clusters.emplace(name, c);
  proxy::Config beside = render(model, ro, doors, gateway_clusters);
  EXPECT_EQ(beside, render(joined, ro, doors));
  std::vector<std::string> names;
  names.reserve(beside.clusters.size());
  for (const proxy::ClusterConfig& c : beside.clusters) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"aaa/first/80", "infra/v1/80", "infra/web/80",
                                             "zzz/last/80"}));
  for (const proxy::ClusterConfig& c : beside.clusters)
    if (c.name == "infra/web/80") {
      EXPECT_FALSE(c.endpoints.empty());
    }
}

TEST(GatewayFrontDoors, WildcardHostnamesCoverSeveralLabelsOnGatewaysOnly) {
  // Gateway API's "*.example.com" covers a.b.example.com (upstream
  // HTTPRouteListenerHostnameMatching); an Ingress wildcard host keeps Ingress's one label.
  auto s = serve(std::string(kClass) +
                 gateway_yaml("one",
                              "  - {name: http, port: 80, protocol: HTTP, hostname: "
                              "\"*.example.com\"}\n") +
                 service_yaml("infra", "v1", 1, 1) + service_yaml("infra", "web", 1, 3) +
                 route_yaml("to-one",
                            "  parentRefs: [{name: one}]\n"
                            "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n") +
                 R"(---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: infra}
spec:
  ingressClassName: kop
  rules:
  - host: "*.example.org"
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: kop}
spec: {controller: kop.dev/ingress-controller}
)");
  const auto& c = s->compiled;
  ASSERT_NE(listener(c.config, "gw/infra/one/80"), nullptr);
  EXPECT_EQ(listener(c.config, "gw/infra/one/80")->domain_wildcards,
            proxy::DomainWildcards::kOneOrMoreLabels);
  EXPECT_EQ(route_of(c, "gw/infra/one/80", "a.example.com", "/"), "infra/v1/80");
  EXPECT_EQ(route_of(c, "gw/infra/one/80", "a.b.example.com", "/"), "infra/v1/80");
  EXPECT_EQ(route_of(c, "gw/infra/one/80", "example.com", "/"), "404");
  EXPECT_EQ(route_of(c, "http", "a.example.org", "/"), "infra/web/80");
  EXPECT_EQ(route_of(c, "http", "a.b.example.org", "/"), "404");
}

TEST(GatewayFrontDoors, IngressListenerWithoutHostsServesNoGatewayRoute) {
  auto s = serve(std::string(kClass) +
                 gateway_yaml("one", "  - {name: http, port: 80, protocol: HTTP}\n") +
                 service_yaml("infra", "v1", 1, 1) +
                 route_yaml("to-one",
                            "  parentRefs: [{name: one}]\n"
                            "  rules: [{backendRefs: [{name: v1, port: 80}]}]\n"));
  const auto& c = s->compiled;
  // The Ingress listener serves its own hosts by name ("http/..."), not the front doors'.
  EXPECT_EQ(listener(c.config, "http")->virtual_host_prefix, "http/");
  EXPECT_TRUE(listener(c.config, "http")->virtual_hosts.empty());
  EXPECT_EQ(route_of(c, "http", "anything.example.com", "/"), "404");
  EXPECT_EQ(route_of(c, "gw/infra/one/80", "anything.example.com", "/"), "infra/v1/80");
}

TEST(GatewayFrontDoors, HttpsFrontDoorServesEachListenerCertificateEvenWithoutRoutes) {
  auto s = serve(std::string(kClass) +
                 gateway_yaml("secure",
                              "  - name: a\n    port: 443\n    protocol: HTTPS\n"
                              "    hostname: a.example.com\n"
                              "    tls: {certificateRefs: [{name: a-cert}]}\n"
                              "  - name: b\n    port: 443\n    protocol: HTTPS\n"
                              "    hostname: b.example.com\n"
                              "    tls: {certificateRefs: [{name: b-cert}]}\n") +
                 tls_secret_yaml("infra", "a-cert", "example") +
                 tls_secret_yaml("infra", "b-cert", "other"));
  const auto* l = listener(s->compiled.config, "gw/infra/secure/443");
  ASSERT_NE(l, nullptr) << gateway::describe(s->gateways);
  ASSERT_TRUE(l->tls.has_value());
  ASSERT_EQ(l->tls->certificates.size(), 2u);
  EXPECT_EQ(l->tls->certificates[0].server_names, std::vector<std::string>{"a.example.com"});
  EXPECT_EQ(l->tls->certificates[1].server_names, std::vector<std::string>{"b.example.com"});
  // No route attached yet: a listener that selects its own hosts by name (none), not one that
  // serves them all.
  EXPECT_EQ(l->virtual_host_prefix, "gw/infra/secure/443/");
  EXPECT_TRUE(l->virtual_hosts.empty());
  EXPECT_EQ(route_of(s->compiled, "gw/infra/secure/443", "a.example.com", "/"), "404");
}

api::Object object(std::string_view json) {
  auto o = api::Object::parse(json);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : api::Object();
}

gateway::Condition cond(std::string type, std::string status, std::string reason) {
  gateway::Condition c;
  c.type = std::move(type);
  c.status = std::move(status);
  c.reason = std::move(reason);
  c.observed_generation = 2;
  return c;
}

TEST(GatewayStatusJson, TransitionTimeKeptWhileTheStatusStays) {
  api::Object current = object(R"({"apiVersion":"gateway.networking.k8s.io/v1",
    "kind":"GatewayClass","metadata":{"name":"kop","generation":2},
    "status":{"conditions":[
      {"type":"Accepted","status":"True","reason":"Accepted","message":"","observedGeneration":1,
       "lastTransitionTime":"2026-01-01T00:00:00Z"},
      {"type":"SupportedVersion","status":"False","reason":"UnsupportedVersion","message":"",
       "observedGeneration":1,"lastTransitionTime":"2026-01-01T00:00:00Z"}]}})");
  gateway::ClassStatus want{
      "kop",
      {cond("Accepted", "True", "Accepted"), cond("SupportedVersion", "True", "SupportedVersion")}};
  std::string json = gateway_status::gateway_class(current, want, "2026-02-02T00:00:00Z");
  EXPECT_NE(json.find(R"("type":"Accepted","status":"True","observedGeneration":2,)"
                      R"("lastTransitionTime":"2026-01-01T00:00:00Z")"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("type":"SupportedVersion","status":"True","observedGeneration":2,)"
                      R"("lastTransitionTime":"2026-02-02T00:00:00Z")"),
            std::string::npos)
      << json;
  EXPECT_FALSE(gateway_status::unchanged(current, json));
  // Written back, the same desired status is "unchanged", even with fields the server added.
  api::Object written(current);
  ASSERT_TRUE(written.set_json("/status", json).ok());
  ASSERT_TRUE(written.set_json("/status/supportedFeatures", "[]").ok());
  EXPECT_TRUE(gateway_status::unchanged(
      written, gateway_status::gateway_class(written, want, "2026-03-03T00:00:00Z")));
}

TEST(GatewayStatusJson, RouteParentsOfOtherControllersKeptOursReplaced) {
  api::Object current = object(R"({"apiVersion":"gateway.networking.k8s.io/v1",
    "kind":"HTTPRoute","metadata":{"name":"r","namespace":"infra","generation":2},
    "status":{"parents":[
      {"parentRef":{"name":"gone"},"controllerName":"kop.dev/gateway-controller",
       "conditions":[]},
      {"parentRef":{"name":"theirs"},"controllerName":"example.com/other","conditions":[]},
      {"parentRef":{"name":"one"},"controllerName":"kop.dev/gateway-controller",
       "conditions":[{"type":"Accepted","status":"True","reason":"Accepted","message":"",
                      "observedGeneration":1,"lastTransitionTime":"2026-01-01T00:00:00Z"}]}]}})");
  gateway::RouteStatus want;
  want.route = {"HTTPRoute", "infra", "r"};
  gateway::RouteParentStatus p;
  p.parent = {"gateway.networking.k8s.io", "Gateway", "infra", "one", "", std::nullopt};
  p.conditions = {cond("Accepted", "True", "Accepted")};
  want.parents.push_back(p);
  std::string json =
      gateway_status::route(current, want, "kop.dev/gateway-controller", "2026-02-02T00:00:00Z");
  EXPECT_EQ(json,
            R"({"parents":[{"parentRef":{"name":"theirs"},"controllerName":"example.com/other",)"
            R"("conditions":[]},{"parentRef":{"group":"gateway.networking.k8s.io","kind":)"
            R"("Gateway","namespace":"infra","name":"one"},"controllerName":)"
            R"("kop.dev/gateway-controller","conditions":[{"type":"Accepted","status":"True",)"
            R"("observedGeneration":2,"lastTransitionTime":"2026-01-01T00:00:00Z","reason":)"
            R"("Accepted","message":"Accepted"}]}]})");
  EXPECT_TRUE(gateway_status::has_parent_of(current, "kop.dev/gateway-controller"));
  EXPECT_FALSE(gateway_status::has_parent_of(current, "example.com/none"));
}

TEST(GatewayStatusJson, PolicyAncestorsOfOtherControllersKeptOursReplaced) {
  api::Object current = object(R"({"apiVersion":"gateway.networking.k8s.io/v1",
    "kind":"BackendTLSPolicy","metadata":{"name":"p","namespace":"infra","generation":2},
    "status":{"ancestors":[
      {"ancestorRef":{"name":"gone"},"controllerName":"kop.dev/gateway-controller",
       "conditions":[]},
      {"ancestorRef":{"name":"theirs"},"controllerName":"example.com/other","conditions":[]}]}})");
  gateway::PolicyStatus want;
  want.policy = {"BackendTLSPolicy", "infra", "p"};
  gateway::RouteParentStatus a;
  a.parent = {"gateway.networking.k8s.io", "Gateway", "infra", "gw", "", std::nullopt};
  a.conditions = {cond("Accepted", "False", "NoValidCACertificate")};
  want.ancestors.push_back(a);
  std::string json =
      gateway_status::policy(current, want, "kop.dev/gateway-controller", "2026-02-02T00:00:00Z");
  EXPECT_EQ(json,
            R"({"ancestors":[{"ancestorRef":{"name":"theirs"},"controllerName":)"
            R"("example.com/other","conditions":[]},{"ancestorRef":{"group":)"
            R"("gateway.networking.k8s.io","kind":"Gateway","namespace":"infra","name":"gw"},)"
            R"("controllerName":"kop.dev/gateway-controller","conditions":[{"type":"Accepted",)"
            R"("status":"False","observedGeneration":2,"lastTransitionTime":)"
            R"("2026-02-02T00:00:00Z","reason":"NoValidCACertificate","message":)"
            R"("NoValidCACertificate"}]}]})");
  EXPECT_TRUE(gateway_status::has_ancestor_of(current, "kop.dev/gateway-controller"));
  EXPECT_FALSE(gateway_status::has_ancestor_of(current, "example.com/none"));
  EXPECT_FALSE(gateway_status::has_parent_of(current, "kop.dev/gateway-controller"));
  // Written back: unchanged.
  api::Object written(current);
  ASSERT_TRUE(written.set_json("/status", json).ok());
  EXPECT_TRUE(gateway_status::unchanged(
      written,
      gateway_status::policy(written, want, "kop.dev/gateway-controller", "2026-03-03T00:00:00Z")));
}

api::ObjectPtr gateway_object(std::string_view name, std::string_view created,
                              std::string_view status_address = "") {
  std::string json = R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway",)"
                     R"("metadata":{"namespace":"infra","name":")" +
                     std::string(name) + R"(","creationTimestamp":")" + std::string(created) +
                     "\"}";
  if (!status_address.empty())
    json += R"(,"status":{"addresses":[{"type":"IPAddress","value":")" +
            std::string(status_address) + "\"}]}";
  return std::make_shared<const api::Object>(object(json + "}"));
}

TEST(LocalGatewayAddressesTest, OldestFirstStableAndRememberedThroughStatus) {
  LocalGatewayAddresses a;
  auto b = gateway_object("b", "2026-01-01T00:00:00Z");
  auto c = gateway_object("c", "2026-01-02T00:00:00Z");
  auto first = a.assign({c, b});
  EXPECT_EQ(first["infra/b"], "127.0.1.1");
  EXPECT_EQ(first["infra/c"], "127.0.1.2");
  // An older Gateway appearing later does not take an address away.
  auto old = gateway_object("a", "2025-01-01T00:00:00Z");
  auto second = a.assign({old, b, c});
  EXPECT_EQ(second["infra/b"], "127.0.1.1");
  EXPECT_EQ(second["infra/c"], "127.0.1.2");
  EXPECT_EQ(second["infra/a"], "127.0.1.3");
  // A new process: what status.addresses holds is kept when free; a taken or foreign one is not.
  LocalGatewayAddresses restarted;
  auto third = restarted.assign({gateway_object("x", "2026-01-01T00:00:00Z", "127.0.1.7"),
                                 gateway_object("y", "2026-01-02T00:00:00Z", "127.0.1.7"),
                                 gateway_object("z", "2026-01-03T00:00:00Z", "10.0.0.1")});
  EXPECT_EQ(third["infra/x"], "127.0.1.7");
  EXPECT_EQ(third["infra/y"], "127.0.1.1");
  EXPECT_EQ(third["infra/z"], "127.0.1.2");
  // A deleted Gateway frees its address.
  EXPECT_EQ(restarted.assign({gateway_object("z", "2026-01-03T00:00:00Z")})["infra/z"],
            "127.0.1.2");
  EXPECT_EQ(restarted.assign({gateway_object("w", "2026-01-04T00:00:00Z"),
                              gateway_object("z", "2026-01-03T00:00:00Z")})["infra/w"],
            "127.0.1.1");
}

}  // namespace
}  // namespace kop::ingress
