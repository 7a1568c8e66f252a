// The incremental Gateway API translation (gateway::translate with a TranslateCache) against the
// reference (translate without one): random sequences of changes to Gateways, HTTPRoutes,
// GRPCRoutes, ReferenceGrants, BackendTLSPolicies, Services, EndpointSlices and Namespaces, and
// after every step the same Result (front doors, clusters, statuses, Events), the same Config
// rendered with a RenderCache, and a RouteTable compiled against the previous step's that
// compiles as a fresh one; status writes on the routes are interleaved, most recorded as the
// controller's event filter records them (ingress::Snapshot::status_only). Plus what a change
// translates again: one HTTPRoute changed among many translates its own rules only and keeps
// every other host as the same object; a round of status writes translates no rules.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <sstream>

#include "gateway_test_util.h"
#include "kop/ingress/gateway_api.h"
#include "kop/ingress/render.h"
#include "kop/ingress/status_only_replacements.h"
#include "kop/proxy/route_table.h"

namespace kop::ingress::gateway {
namespace {

using testing::parse_objects;
using testing::service_yaml;

api::ObjectPtr one(const std::string& yaml) {
  auto objects = parse_objects(yaml);
  EXPECT_EQ(objects.size(), 1u) << yaml;
  return objects.at(0);
}

void put(std::vector<api::ObjectPtr>& list, api::ObjectPtr o) {
  for (auto& p : list)
    if (p->ns() == o->ns() && p->name() == o->name()) {
      p = std::move(o);
      return;
    }
  list.push_back(std::move(o));
}

void drop(std::vector<api::ObjectPtr>& list, std::string_view ns, std::string_view name) {
  std::erase_if(list, [&](const api::ObjectPtr& p) { return p->ns() == ns && p->name() == name; });
}

// Status writes on some routes (`all`: every HTTPRoute and GRPCRoute, a status round): new objects
// with a status.parents entry and a new resourceVersion, recorded in `writes` unless `rng` says
// the record was missed. Says how many.
std::string write_route_statuses(Snapshot& snap, std::mt19937& rng, bool all,
                                 ingress::StatusOnlyReplacements& writes) {
  size_t n = 0;
  for (auto* routes : {&snap.http_routes, &snap.grpc_routes})
    for (api::ObjectPtr& r : *routes) {
      if (!all && rng() % 3 != 0) continue;
      api::Object w(*r);
      EXPECT_TRUE(w.set_json("/status", R"({"parents":[{"controllerName":"kop.dev/gateway-)"
                                        R"(controller","parentRef":{"name":"g0"}}]})")
                      .ok());
      w.set_resource_version(std::string(r->resource_version()) + "s");
      api::ObjectPtr after = api::share(std::move(w));
      writes.record(r, after, rng() % 5 != 0);
      r = std::move(after);
      ++n;
    }
  return " + " + std::to_string(n) + " route status writes";
}

// Everything translate() reads, kept apart from the Snapshot that points into it.
struct State {
  ingress::Snapshot base;
  Snapshot snap;
  State() {
    snap.base = &base;
    snap.gateway_classes.push_back(one(gwtest::kClass));
    base.secrets.push_back(one(testing::tls_secret_yaml("default", "cert", "example")));
  }
};

// Random objects over a small world, so that routes share Gateways, listeners, hostnames,
// Services and grants.
class World {
 public:
  explicit World(uint32_t seed) : rng_(seed) {}

  std::string change(State& s) {
    int what = pick(100);
    if (what < 8) return put_gateway(s);
    if (what < 38) return put_http_route(s);
    if (what < 44) return delete_route(s.snap.http_routes, "h", 6, "HTTPRoute");
    if (what < 54) return put_grpc_route(s);
    if (what < 57) return delete_route(s.snap.grpc_routes, "c", 3, "GRPCRoute");
    if (what < 64) return put_grant(s);
    if (what < 78) {
      std::string ns = any_ns(), name = "s" + std::to_string(pick(4));
      for (const auto& o : parse_objects(service_yaml(ns, name, pick(3), pick(4)))) {
        if (o->kind() == "Service") put(s.base.services, o);
        if (o->kind() == "EndpointSlice") put(s.base.endpoint_slices, o);
      }
      return "endpoints of " + ns + "/" + name;
    }
    if (what < 82) {
      std::string ns = any_ns(), name = "s" + std::to_string(pick(4));
      drop(s.base.services, ns, name);
      return "delete Service " + ns + "/" + name;
    }
    if (what < 90) return put_policy(s);
    if (what < 96) {
      std::ostringstream y;
      y << "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps, labels: {team: "
        << (pick(2) ? "a" : "b") << "}}\n";
      put(s.snap.namespaces, one(y.str()));
      return "Namespace apps:\n" + y.str();
    }
    return "nothing";
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string any_ns() { return pick(3) ? "default" : "apps"; }
  std::string created() { return "2026-01-0" + std::to_string(1 + pick(3)) + "T00:00:00Z"; }

  std::string put_gateway(State& s) {
    std::string name = "g" + std::to_string(pick(2));
    if (pick(5) == 0) {
      drop(s.snap.gateways, "default", name);
      return "delete Gateway " + name;
    }
    static const char* const kListeners[] = {
        "  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}\n",
        "  - {name: wild, port: 80, protocol: HTTP, hostname: \"*.example.com\"}\n",
        "  - {name: https, port: 443, protocol: HTTPS, hostname: a.example.com,\n"
        "     tls: {certificateRefs: [{name: cert}]},\n"
        "     allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: "
        "a}}}}}\n"};
    std::string listeners;
    for (const char* l : kListeners)
      if (pick(3) != 0) listeners += l;
    if (listeners.empty()) listeners = kListeners[0];
    std::string y = gwtest::gateway("default", name, listeners);
    put(s.snap.gateways, one(y));
    return "Gateway " + name + ":\n" + y;
  }

  std::string parent_refs() {
    static const char* const kParents[] = {"{name: g0, namespace: default}",
                                           "{name: g1, namespace: default}",
                                           "{name: g0, namespace: default, sectionName: http}",
                                           "{name: g1, namespace: default, port: 443}"};
    std::string out = "  parentRefs: [" + std::string(kParents[pick(4)]);
    if (pick(3) == 0) out += std::string(", ") + kParents[pick(4)];
    return out + "]\n";
  }

  std::string hostnames() {
    static const char* const kHosts[] = {"a.example.com", "b.example.com", "\"*.example.com\"",
                                         "x.other.org"};
    int n = pick(3);
    if (n == 0) return "";
    std::string out = "  hostnames: [";
    for (int i = 0; i < n; ++i) out += std::string(i ? ", " : "") + kHosts[pick(4)];
    return out + "]\n";
  }

  std::string backend_ref() {
    std::ostringstream y;
    y << "{name: s" << pick(4);
    if (pick(4) == 0) y << ", namespace: " << (pick(2) ? "apps" : "default");
    y << ", port: " << (pick(6) ? 80 : 81);
    if (pick(4) == 0) y << ", weight: " << pick(3);
    return y.str() + "}";
  }

  std::string put_http_route(State& s) {
    std::string name = "h" + std::to_string(pick(6));
    std::ostringstream y;
    y << parent_refs() << hostnames() << "  rules:\n";
    for (int r = 0, rules = 1 + pick(2); r < rules; ++r) {
      static const char* const kPaths[] = {"{type: PathPrefix, value: /}",
                                           "{type: PathPrefix, value: /x}",
                                           "{type: Exact, value: /x/y}"};
      y << "  - matches: [{path: " << kPaths[pick(3)];
      if (pick(4) == 0) y << ", headers: [{name: v, value: \"2\"}]";
      y << "}]\n";
      int filter = pick(8);
      if (filter == 0)
        y << "    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301}}]\n";
      if (filter == 1)
        y << "    filters: [{type: RequestMirror, requestMirror: {backendRef: " << backend_ref()
          << "}}]\n";
      if (filter == 2)
        y << "    filters: [{type: RequestHeaderModifier, requestHeaderModifier: "
          << "{set: [{name: x-a, value: b}]}}]\n";
      y << "    backendRefs: [" << backend_ref();
      if (pick(3) == 0) y << ", " << backend_ref();
      y << "]\n";
    }
    std::string route = gwtest::route(any_ns(), name, y.str(), created());
    put(s.snap.http_routes, one(route));
    return "HTTPRoute " + name + ":\n" + route;
  }

  std::string put_grpc_route(State& s) {
    std::string name = "c" + std::to_string(pick(3));
    std::ostringstream y;
    y << parent_refs() << hostnames() << "  rules:\n  - matches: [{method: {service: pkg.Svc"
      << (pick(2) ? ", method: Get" : "") << "}}]\n    backendRefs: [" << backend_ref() << "]\n";
    std::string route = gwtest::route_of_kind("GRPCRoute", any_ns(), name, y.str(), created());
    put(s.snap.grpc_routes, one(route));
    return "GRPCRoute " + name + ":\n" + route;
  }

  std::string delete_route(std::vector<api::ObjectPtr>& routes, const char* prefix, int n,
                           const char* kind) {
    std::string name = prefix + std::to_string(pick(n));
    std::erase_if(routes, [&](const api::ObjectPtr& p) { return p->name() == name; });
    return std::string("delete ") + kind + " " + name;
  }

  std::string put_grant(State& s) {
    std::string to = pick(2) ? "default" : "apps";
    std::string from = to == "default" ? "apps" : "default";
    if (pick(3) == 0) {
      drop(s.snap.reference_grants, to, "grant");
      return "delete ReferenceGrant " + to + "/grant";
    }
    std::ostringstream y;
    y << "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: "
      << "{name: grant, namespace: " << to << "}\nspec:\n  from: [{group: "
      << "gateway.networking.k8s.io, kind: " << (pick(3) ? "HTTPRoute" : "GRPCRoute")
      << ", namespace: " << from << "}]\n  to: [{group: \"\", kind: Service"
      << (pick(2) ? ", name: s" + std::to_string(pick(4)) : "") << "}]\n";
    put(s.snap.reference_grants, one(y.str()));
    return "ReferenceGrant:\n" + y.str();
  }

  std::string put_policy(State& s) {
    if (pick(3) == 0) {
      drop(s.snap.backend_tls_policies, "default", "tls");
      return "delete BackendTLSPolicy default/tls";
    }
    std::ostringstream y;
    y << "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: "
      << "tls, namespace: default, generation: " << ++version_
      << "}\nspec:\n  targetRefs: [{group: \"\", kind: Service, name: s" << pick(4)
      << (pick(2) ? ", sectionName: http" : "")
      << "}]\n  validation: {hostname: " << (pick(2) ? "s.example.com" : "t.example.com")
      << ", wellKnownCACertificates: System}\n";
    put(s.snap.backend_tls_policies, one(y.str()));
    return "BackendTLSPolicy:\n" + y.str();
  }

  std::mt19937 rng_;
  int version_ = 0;
};

// The Result's front doors rendered (no Ingress model), with `cache` when given.
proxy::Config render_doors(const Result& r, RenderCache* cache) {
  std::vector<BoundFrontDoor> doors;
  doors.reserve(r.front_doors.size());
  uint16_t port = 10000;
  for (const FrontDoor& d : r.front_doors)
    doors.push_back(BoundFrontDoor{&d, proxy::SocketAddress{"127.0.0.1", port++}});
  RenderOptions ro;
  ro.https_address.reset();
  ro.admin.enabled = false;
  return render(Model{}, ro, doors, r.clusters, cache);
}

TEST(GatewayIncremental, EqualsTheFullTranslationAfterEveryRandomChange) {
  size_t steps = 0, reused = 0, hosts_kept = 0, render_reused = 0, compiled = 0;
  Options options;
  options.addresses["default/g0"] = {"127.0.1.1"};
  // 25 x 50 steps: a few seconds of CPU, about 15 under ASan.
  for (uint32_t seed = 1; seed <= 25; ++seed) {
    World world(seed);
    State s;
    TranslateCache cache;
    RenderCache rendered;
    std::shared_ptr<const proxy::RouteTable> table;
    std::string history;
    std::mt19937 statuses(seed);
    for (int step = 0; step < 50; ++step) {
      std::string what = world.change(s);
      ingress::StatusOnlyReplacements writes;  // taken by this translation
      if (statuses() % 3 == 0) what += write_route_statuses(s.snap, statuses, false, writes);
      history += "--- step " + std::to_string(step) + ": " + what + "\n";
      s.base.status_only = &writes;
      Result incremental = translate(s.snap, options, &cache);
      s.base.status_only = nullptr;
      Result full = translate(s.snap, options);
      ASSERT_EQ(describe(incremental), describe(full)) << "seed " << seed << "\n" << history;
      ASSERT_TRUE(incremental == full) << "seed " << seed << "\n" << history;
      reused += cache.reused();
      hosts_kept += cache.hosts_kept();
      proxy::Config config = render_doors(incremental, &rendered);
      render_reused += rendered.reused();
      ASSERT_TRUE(config == render_doors(full, nullptr)) << "seed " << seed << "\n" << history;
      // The compile against the last table keeps what did not change; it fails or succeeds as a
      // fresh one does.
      auto next = proxy::RouteTable::compile(config, table.get());
      auto fresh = proxy::RouteTable::compile(config);
      ASSERT_EQ(next.status(), fresh.status()) << "seed " << seed << "\n" << history;
      if (next.ok()) {
        table = *next;
        ++compiled;
      }
      ++steps;
    }
  }
  // Most steps must have reused something, or the test proves little.
  EXPECT_GT(reused, steps) << "route rules reused: " << reused;
  EXPECT_GT(hosts_kept, steps) << "front door hosts kept: " << hosts_kept;
  EXPECT_GT(render_reused, steps) << "rendered hosts reused: " << render_reused;
  EXPECT_GT(compiled, steps / 2);
}

std::string app(int i, std::string_view host_suffix = "") {
  std::ostringstream spec;
  spec << "  parentRefs: [{name: gw}]\n  hostnames: [app" << i << host_suffix
       << ".example.com]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /api}}]\n"
       << "    backendRefs: [{name: app" << i << ", port: 80}]\n";
  return gwtest::route("default", "app" + std::to_string(i), spec.str());
}

// HTTPRoutes of namespace default may use every Service of namespace other.
const char* const kGrantToOther = R"(apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: grant, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
)";

TEST(GatewayIncremental, OneChangedRouteTranslatesItsRulesOnly) {
  std::string y = std::string(gwtest::kClass) +
                  gwtest::gateway("default", "gw", "  - {name: http, port: 80, protocol: HTTP}\n");
  for (int i = 0; i < 50; ++i) y += app(i) + service_yaml("default", "app" + std::to_string(i));
  auto in = gwtest::input(y);
  TranslateCache cache;
  RenderCache rendered;
  Result first = translate(in->snap, {}, &cache);
  EXPECT_EQ(cache.translated(), 50u);
  ASSERT_EQ(first.front_doors.size(), 1u);
  ASSERT_EQ(first.front_doors[0].virtual_hosts.size(), 50u);
  render_doors(first, &rendered);
  EXPECT_EQ(rendered.rendered(), 50u);
  EXPECT_EQ(rendered.clusters_rendered(), 50u);

  // app7 moves to another host: its rules are translated again, every other host is kept.
  put(in->snap.http_routes, one(app(7, "-moved")));
  Result moved = translate(in->snap, {}, &cache);
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_EQ(cache.reused(), 49u);
  EXPECT_EQ(cache.hosts_kept(), 49u);
  EXPECT_EQ(cache.hosts_made(), 1u);
  EXPECT_TRUE(moved == translate(in->snap, {}));
  size_t same = 0;
  for (const auto& vh : moved.front_doors[0].virtual_hosts)
    for (const auto& before : first.front_doors[0].virtual_hosts)
      same += vh.ptr() == before.ptr() ? 1 : 0;
  EXPECT_EQ(same, 49u);
  // Every cluster is the same object (app7's translated again to an equal value), so none is
  // rendered again.
  size_t same_clusters = 0;
  for (const auto& [name, c] : moved.clusters)
    same_clusters += first.clusters.count(name) && first.clusters.at(name).ptr() == c.ptr();
  EXPECT_EQ(same_clusters, 50u);
  render_doors(moved, &rendered);
  EXPECT_EQ(rendered.rendered(), 1u);
  EXPECT_EQ(rendered.reused(), 49u);
  EXPECT_EQ(rendered.clusters_rendered(), 0u);

  // Only app3's endpoints: its rules are translated again (their cluster changed), its host is
  // the same and is kept.
  for (const auto& o : parse_objects(service_yaml("default", "app3", 3, 250)))
    if (o->kind() == "EndpointSlice") put(in->base.endpoint_slices, o);
  Result endpoints = translate(in->snap, {}, &cache);
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_EQ(cache.hosts_made(), 0u);
  ASSERT_EQ(endpoints.clusters.count("default/app3/80"), 1u);
  EXPECT_EQ(endpoints.clusters.at("default/app3/80")->endpoints.size(), 3u);
  EXPECT_TRUE(endpoints == translate(in->snap, {}));
  // Only the cluster that read the EndpointSlice is rendered again; no host is.
  render_doors(endpoints, &rendered);
  EXPECT_EQ(rendered.clusters_rendered(), 1u);
  EXPECT_EQ(rendered.rendered(), 0u);

  // A ReferenceGrant no route asked about changes nothing; one a route needs is seen.
  put(in->snap.reference_grants, one(kGrantToOther));
  translate(in->snap, {}, &cache);
  EXPECT_EQ(cache.translated(), 0u);
  EXPECT_EQ(cache.reused(), 50u);
  std::ostringstream cross;
  cross << "  parentRefs: [{name: gw}]\n  hostnames: [app9.example.com]\n  rules:\n"
        << "  - backendRefs: [{name: far, namespace: other, port: 80}]\n";
  put(in->snap.http_routes, one(gwtest::route("default", "app9", cross.str())));
  Result granted = translate(in->snap, {}, &cache);
  EXPECT_EQ(gwtest::cond(gwtest::parent(granted, "app9").conditions, "ResolvedRefs"),
            "False BackendNotFound");
  drop(in->snap.reference_grants, "other", "grant");
  Result refused = translate(in->snap, {}, &cache);
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_EQ(gwtest::cond(gwtest::parent(refused, "app9").conditions, "ResolvedRefs"),
            "False RefNotPermitted");
  EXPECT_TRUE(refused == translate(in->snap, {}));
}

// kop-ingress writes every route's status after its first translation; those writes start no
// build, so the next translation finds every route replaced. Recorded as the event filter
// records them, no route's rules are translated again and every host is kept.
TEST(GatewayIncremental, AStatusRoundTranslatesNoRulesAgain) {
  std::string y = std::string(gwtest::kClass) +
                  gwtest::gateway("default", "gw", "  - {name: http, port: 80, protocol: HTTP}\n");
  for (int i = 0; i < 50; ++i) y += app(i) + service_yaml("default", "app" + std::to_string(i));
  auto in = gwtest::input(y);
  TranslateCache cache;
  translate(in->snap, {}, &cache);
  EXPECT_EQ(cache.translated(), 50u);

  ingress::StatusOnlyReplacements writes;
  for (api::ObjectPtr& r : in->snap.http_routes) {
    api::Object w(*r);
    ASSERT_TRUE(w.set_json("/status", R"({"parents":[]})").ok());
    w.set_resource_version("written");
    api::ObjectPtr after = api::share(std::move(w));
    writes.record(r, after, true);
    r = std::move(after);
  }
  put(in->snap.http_routes, one(app(7, "-moved")));  // and one real change
  in->base.status_only = &writes;
  Result after = translate(in->snap, {}, &cache);
  in->base.status_only = nullptr;
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_EQ(cache.reused(), 49u);
  EXPECT_EQ(cache.hosts_made(), 1u);
  EXPECT_TRUE(after == translate(in->snap, {}));
  // The kept rules now belong to the written objects: the next translation compares with them.
  translate(in->snap, {}, &cache);
  EXPECT_EQ(cache.translated(), 0u);
  EXPECT_EQ(cache.reused(), 50u);
}

TEST(GatewayIncremental, WithoutGatewayApiObjectsThereIsNothingToTranslate) {
  std::string listener = "  - {name: http, port: 80, protocol: HTTP}\n";
  auto in = gwtest::input(app(1) + service_yaml("default", "app1") + gwtest::kClass +
                          gwtest::gateway("default", "gw", listener));
  TranslateCache cache;
  EXPECT_EQ(translate(in->snap, {}, &cache).front_doors.size(), 1u);
  EXPECT_EQ(cache.translated(), 1u);
  // Every Gateway API object gone (Services and a ReferenceGrant stay): an empty Result, as the
  // reference gives, and the cache forgets the route.
  in->snap.gateway_classes.clear();
  in->snap.gateways.clear();
  in->snap.http_routes.clear();
  put(in->snap.reference_grants, one(kGrantToOther));
  EXPECT_TRUE(translate(in->snap, {}, &cache) == Result{});
  EXPECT_TRUE(translate(in->snap, {}) == Result{});
  EXPECT_EQ(cache.translated() + cache.reused(), 0u);
}

}  // namespace
}  // namespace kop::ingress::gateway
