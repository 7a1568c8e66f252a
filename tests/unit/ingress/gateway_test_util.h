// Shared helpers of the Gateway API translator tests (gateway_api_test.cpp, tls_route_test.cpp):
// objects from YAML into a gateway::Snapshot, object builders, status lookups, and the proxy
// route a translation serves for a path.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kop/ingress/gateway_api.h"
#include "test_util.h"

namespace kop::ingress::gateway::gwtest {

// Everything translate() reads, from one YAML stream.
struct Input {
  ingress::Snapshot base;  // Services, EndpointSlices, Secrets
  Snapshot snap;
};

inline std::unique_ptr<Input> input(const std::string& yaml) {
  auto in = std::make_unique<Input>();
  in->base = ingress::testing::snapshot_of(yaml);
  in->snap.base = &in->base;
  for (auto& o : ingress::testing::parse_objects(yaml)) {
    std::string_view k = o->kind();
    if (k == "GatewayClass") in->snap.gateway_classes.push_back(o);
    if (k == "Gateway") in->snap.gateways.push_back(o);
    if (k == "HTTPRoute") in->snap.http_routes.push_back(o);
    if (k == "GRPCRoute") in->snap.grpc_routes.push_back(o);
    if (k == "TLSRoute") in->snap.tls_routes.push_back(o);
    if (k == "ReferenceGrant") in->snap.reference_grants.push_back(o);
    if (k == "Namespace") in->snap.namespaces.push_back(o);
    if (k == "BackendTLSPolicy") in->snap.backend_tls_policies.push_back(o);
    if (k == "ConfigMap") in->snap.config_maps.push_back(o);
  }
  return in;
}

inline Result run(const std::string& yaml, const Options& options = {}) {
  auto in = input(yaml);
  return translate(in->snap, options);
}

inline const char* const kClass = R"(---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: kop, generation: 1}
spec: {controllerName: kop.dev/gateway-controller}
)";

inline std::string gateway(std::string_view ns, std::string_view name, std::string_view listeners) {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: " +
         std::string(name) + ", namespace: " + std::string(ns) +
         ", generation: 2}\nspec:\n  gatewayClassName: kop\n  listeners:\n" +
         std::string(listeners);
}

// A route of `kind` (HTTPRoute, TLSRoute) with generation 3, created at `created`.
inline std::string route_of_kind(std::string_view kind, std::string_view ns, std::string_view name,
                                 std::string_view spec, std::string_view created) {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: " + std::string(kind) +
         "\nmetadata: {name: " + std::string(name) + ", namespace: " + std::string(ns) +
         ", generation: 3, creationTimestamp: \"" + std::string(created) + "\"}\nspec:\n" +
         std::string(spec);
}

inline const Condition* find(const std::vector<Condition>& cs, std::string_view type) {
  for (const Condition& c : cs)
    if (c.type == type) return &c;
  return nullptr;
}

// "Status Reason" of condition `type`, or "absent".
inline std::string cond(const std::vector<Condition>& cs, std::string_view type) {
  const Condition* c = find(cs, type);
  return c ? c->status + " " + c->reason : "absent";
}

inline const GatewayStatus& gw_status(const Result& r, std::string_view name) {
  for (const GatewayStatus& g : r.gateway_statuses)
    if (g.gateway.name == name) return g;
  ADD_FAILURE() << "no status for Gateway " << name << "\n" << describe(r);
  static GatewayStatus none;
  return none;
}

inline const ListenerStatus& listener(const Result& r, std::string_view gw, std::string_view name) {
  for (const ListenerStatus& l : gw_status(r, gw).listeners)
    if (l.name == name) return l;
  ADD_FAILURE() << "no listener " << name << "\n" << describe(r);
  static ListenerStatus none;
  return none;
}

inline const RouteParentStatus& parent(const Result& r, std::string_view route_name, size_t i = 0) {
  for (const RouteStatus& s : r.route_statuses)
    if (s.route.name == route_name && i < s.parents.size()) return s.parents[i];
  ADD_FAILURE() << "no parent " << i << " for route " << route_name << "\n" << describe(r);
  static RouteParentStatus none;
  return none;
}

inline std::string route(std::string_view ns, std::string_view name, std::string_view spec,
                         std::string_view created = "2026-01-01T00:00:00Z") {
  return route_of_kind("HTTPRoute", ns, name, spec, created);
}

// The first front door's hosts as the proxy serves them (on a plain listener named "http"):
// rendered and compiled by the proxy's RouteTable (a failed compile fails the test).
inline ingress::testing::Compiled compile_front_door(const Result& r) {
  ingress::testing::Compiled c;
  if (r.front_doors.empty()) return c;
  const auto& hosts = r.front_doors[0].virtual_hosts;
  c.model.virtual_hosts.assign(hosts.begin(), hosts.end());
  c.model.clusters = decltype(c.model.clusters)(r.clusters.begin(), r.clusters.end());
  RenderOptions ro;
  ro.http_address = {"127.0.0.1", 0};
  ro.https_address.reset();
  ro.admin.enabled = false;
  c.config = render(c.model, ro);
  auto table = proxy::RouteTable::compile(c.config);
  EXPECT_TRUE(table.ok()) << table.status();
  if (table.ok()) c.table = *table;
  return c;
}

// The proxy's route serving GET `path` on host "x" of the first front door (nullptr, failing
// the test, when there is none); `keep` holds the config and the compiled table it lives in.
inline const proxy::Route* served_route(const Result& r, std::string_view path,
                                        ingress::testing::Compiled& keep) {
  keep = compile_front_door(r);
  if (!keep.table) {
    ADD_FAILURE() << "no front door compiled for " << path;
    return nullptr;
  }
  const proxy::VirtualHost* vh = keep.table->find_virtual_host("http", "x");
  proxy::RequestView req;
  req.method = "GET";
  req.path = path;
  const proxy::Route* route = vh ? keep.table->match(*vh, req) : nullptr;
  EXPECT_NE(route, nullptr) << path;
  return route;
}

}  // namespace kop::ingress::gateway::gwtest
