// Gateway Services in a cluster (controllers/gateway_services.h): the Service name, the port
// mapping kept and extended from the owned Services, the addresses read back, cleanup of
// Services whose Gateway is gone, type None's port conflicts, and the listener and route
// statuses the bindings correct.
#include <gtest/gtest.h>

#include "../../../operators/ingress/controllers/gateway_services.h"
#include "gateway_test_util.h"
#include "test_util.h"

namespace kop::ingress {
namespace {

using gateway::Condition;
using testing::parse_objects;

gateway::FrontDoor door(std::string ns, std::string name, uint16_t port) {
  gateway::FrontDoor d;
  d.gateway = ObjectRef{"Gateway", std::move(ns), std::move(name)};
  d.port = port;
  d.protocol = "HTTP";
  return d;
}

// An owned Service as kop-ingress would have made it, with `ports` ("port:target" pairs).
std::string owned_service(std::string_view gw_ns, std::string_view gw_name,
                          const std::vector<std::pair<int, int>>& ports,
                          std::string_view extra = "") {
  std::string name = gateway_service_name(gw_ns, gw_name);
  std::string y = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
                  "\n  namespace: kop-system\n  labels: {app.kubernetes.io/managed-by: "
                  "kop-ingress, gateway.kop.dev/namespace: " +
                  std::string(gw_ns) + ", gateway.kop.dev/name: " + std::string(gw_name) +
                  "}\n  annotations: {gateway.kop.dev/gateway: " + std::string(gw_ns) + "/" +
                  std::string(gw_name) +
                  "}\nspec:\n  type: LoadBalancer\n  selector: "
                  "{app.kubernetes.io/name: kop-ingress}\n  ports:\n";
  for (auto [p, t] : ports)
    y += "  - {name: p" + std::to_string(p) + ", protocol: TCP, port: " + std::to_string(p) +
         ", targetPort: " + std::to_string(t) + ", nodePort: " + std::to_string(30000 + p) + "}\n";
  return y + std::string(extra);
}

GatewayServiceOptions options() {
  GatewayServiceOptions o;
  o.ns = "kop-system";
  o.port_min = 20000;
  o.port_max = 20003;
  return o;
}

TEST(GatewayServiceName, ShortValidAndStable) {
  std::string a = gateway_service_name("infra", "web");
  EXPECT_EQ(a.rfind("gw-web-", 0), 0U) << a;
  EXPECT_EQ(a.size(), std::string("gw-web-").size() + 8);
  EXPECT_EQ(a, gateway_service_name("infra", "web"));
  EXPECT_NE(a, gateway_service_name("other", "web"));  // the namespace is in the hash
  std::string long_name = gateway_service_name("ns", std::string(200, 'a') + ".example");
  EXPECT_LE(long_name.size(), 63U);
  EXPECT_EQ(gateway_service_name("ns", "a.b").find('.'), std::string::npos);
}

TEST(GatewayServicePlan, NewDoorsTakeTheLowestFreePortsAndAreNotBoundYet) {
  auto p = plan_gateway_services(
      {door("infra", "a", 80), door("infra", "a", 443), door("infra", "b", 80)}, {}, options());
  ASSERT_EQ(p.services.size(), 2U);
  EXPECT_TRUE(p.bound.empty());  // nothing maps them yet: the leader writes the Services first
  std::map<std::string, std::vector<std::pair<uint16_t, uint16_t>>> ports;
  for (const auto& s : p.services) ports[s.gateway.name] = s.ports;
  EXPECT_EQ(ports["a"], (std::vector<std::pair<uint16_t, uint16_t>>{{80, 20000}, {443, 20001}}));
  EXPECT_EQ(ports["b"], (std::vector<std::pair<uint16_t, uint16_t>>{{80, 20002}}));
  EXPECT_TRUE(p.stale.empty());
}

TEST(GatewayServicePlan, ExistingMappingsAreKeptAndBoundNewPortsAvoidThem) {
  auto services = parse_objects(owned_service("infra", "a", {{80, 20001}}) +
                                owned_service("infra", "b", {{80, 20000}}));
  auto p = plan_gateway_services(
      {door("infra", "a", 80), door("infra", "a", 8080), door("infra", "b", 80)}, services,
      options());
  EXPECT_EQ(p.bound,
            (std::map<FrontDoorKey, uint16_t>{{{"infra/a", 80}, 20001}, {{"infra/b", 80}, 20000}}));
  ASSERT_EQ(p.services.size(), 2U);
  EXPECT_EQ(p.services[0].gateway.name, "a");
  EXPECT_EQ(p.services[0].ports,
            (std::vector<std::pair<uint16_t, uint16_t>>{{80, 20001}, {8080, 20002}}));
  // b's Service is already right: matches() says so, nothing to write.
  EXPECT_TRUE(gateway_service_matches(*services[1], p.services[1], options()));
  EXPECT_FALSE(gateway_service_matches(*services[0], p.services[0], options()));
}

TEST(GatewayServicePlan, ATargetPortTwoServicesNameStaysWithTheOlderOne) {
  // b's Service was made from a plan that did not see a's creation yet: both name 20000.
  auto services = parse_objects(owned_service("infra", "b", {{80, 20000}}) +
                                owned_service("infra", "a", {{80, 20000}}));
  for (auto& s : services)
    if (s->name() == gateway_service_name("infra", "b")) {
      api::Object later(*s);
      later.set_creation_timestamp("2026-01-02T00:00:00Z");
      s = std::make_shared<const api::Object>(std::move(later));
    } else {
      api::Object older(*s);
      older.set_creation_timestamp("2026-01-01T00:00:00Z");
      s = std::make_shared<const api::Object>(std::move(older));
    }
  auto p =
      plan_gateway_services({door("infra", "a", 80), door("infra", "b", 80)}, services, options());
  EXPECT_EQ(p.bound, (std::map<FrontDoorKey, uint16_t>{{{"infra/a", 80}, 20000}}));
  ASSERT_EQ(p.services.size(), 2U);
  EXPECT_EQ(p.services[1].gateway.name, "b");
  EXPECT_EQ(p.services[1].ports, (std::vector<std::pair<uint16_t, uint16_t>>{{80, 20001}}));
}

TEST(GatewayServicePlan, AFullRangeLeavesTheDoorUnservedNotAnotherGatewaysPort) {
  GatewayServiceOptions o = options();
  o.port_max = 20000;  // one port
  auto p = plan_gateway_services({door("infra", "a", 80), door("infra", "b", 80)}, {}, o);
  ASSERT_EQ(p.services.size(), 1U);
  EXPECT_EQ(p.services[0].gateway.name, "a");
  EXPECT_EQ(p.services[0].ports, (std::vector<std::pair<uint16_t, uint16_t>>{{80, 20000}}));
}

TEST(GatewayServicePlan, ServicesOfGoneGatewaysAreStaleOthersUntouched) {
  auto services = parse_objects(
      owned_service("infra", "gone", {{80, 20000}}) + owned_service("infra", "a", {{80, 20001}}) +
      // Not ours: no managed-by label, or another namespace.
      "---\napiVersion: v1\nkind: Service\nmetadata: {name: user, namespace: kop-system, "
      "labels: {gateway.kop.dev/namespace: infra}}\nspec: {ports: [{port: 80}]}\n" +
      "---\napiVersion: v1\nkind: Service\nmetadata: {name: elsewhere, namespace: apps, labels: "
      "{app.kubernetes.io/managed-by: kop-ingress, gateway.kop.dev/namespace: infra}}\n");
  auto p = plan_gateway_services({door("infra", "a", 80)}, services, options());
  EXPECT_EQ(p.stale, std::vector<std::string>{gateway_service_name("infra", "gone")});
  // With no front doors at all (the Gateway API switched off for our classes), all go.
  EXPECT_EQ(plan_gateway_services({}, services, options()).stale.size(), 2U);
}

TEST(GatewayServiceAddresses, LoadBalancerIngressElseClusterIp) {
  auto services =
      parse_objects(owned_service("infra", "lb", {{80, 20000}},
                                  "status: {loadBalancer: {ingress: [{ip: 203.0.113.7}, {hostname: "
                                  "lb.example.com}]}}\n") +
                    owned_service("infra", "waiting", {{80, 20001}}));
  auto a = gateway_service_addresses(services, options());
  EXPECT_EQ(a, (std::map<std::string, std::vector<std::string>>{
                   {"infra/lb", {"203.0.113.7", "lb.example.com"}}}));
  auto cip = parse_objects(
      "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: " +
      gateway_service_name("infra", "c") +
      "\n  namespace: kop-system\n  labels: {app.kubernetes.io/managed-by: kop-ingress, "
      "gateway.kop.dev/namespace: infra}\n  annotations: {gateway.kop.dev/gateway: infra/c}\n"
      "spec: {type: ClusterIP, clusterIP: 10.96.0.12}\n");
  EXPECT_EQ(gateway_service_addresses(cip, options())["infra/c"],
            std::vector<std::string>{"10.96.0.12"});
}

TEST(GatewayServiceObject, CreateAndUpdateKeepWhatTheServerFilledIn) {
  DesiredGatewayService want{
      ObjectRef{"Gateway", "infra", "a"}, gateway_service_name("infra", "a"), {{80, 20000}}};
  api::Object made = gateway_service_object(want, options());
  EXPECT_EQ(made.ns(), "kop-system");
  EXPECT_EQ(made.get_string("/spec/type").value_or(""), "LoadBalancer");
  EXPECT_EQ(made.get_string("/spec/selector/app.kubernetes.io~1name").value_or(""), "kop-ingress");
  EXPECT_EQ(made.get_int("/spec/ports/0/targetPort").value_or(0), 20000);
  EXPECT_TRUE(gateway_service_matches(made, want, options()));

  auto current = parse_objects(owned_service("infra", "a", {{80, 20000}},
                                             "  clusterIP: 10.0.0.1\n"
                                             "  externalTrafficPolicy"
                                             ": Local\n"));
  want.ports.emplace_back(443, 20001);
  api::Object next = gateway_service_update(*current[0], want, options());
  EXPECT_EQ(next.get_int("/spec/ports/0/nodePort").value_or(0), 30080);  // kept
  EXPECT_FALSE(next.get_int("/spec/ports/1/nodePort").has_value());      // the server picks
  EXPECT_EQ(next.get_string("/spec/clusterIP").value_or(""), "10.0.0.1");
  EXPECT_TRUE(gateway_service_matches(next, want, options()));
  GatewayServiceOptions cluster_ip = options();
  cluster_ip.type = GatewayServiceType::kClusterIP;
  EXPECT_FALSE(gateway_service_matches(next, want, cluster_ip));
  api::Object internal = gateway_service_update(*current[0], want, cluster_ip);
  EXPECT_FALSE(internal.get_int("/spec/ports/0/nodePort").has_value());
  EXPECT_FALSE(internal.get_string("/spec/externalTrafficPolicy").has_value());
  EXPECT_TRUE(gateway_service_matches(internal, want, cluster_ip));
}

TEST(GatewayDirectPorts, OldestGatewayWinsAPortOwnListenersAreTaken) {
  auto gateways = parse_objects(
      "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: new, "
      "namespace: a, creationTimestamp: '2026-01-02T00:00:00Z'}\n"
      "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: old, "
      "namespace: z, creationTimestamp: '2026-01-01T00:00:00Z'}\n");
  auto p = plan_direct_ports(
      {door("a", "new", 80), door("a", "new", 8080), door("a", "new", 81), door("z", "old", 80)},
      gateways, {8080});
  EXPECT_EQ(p.bound, (std::map<FrontDoorKey, uint16_t>{{{"z/old", 80}, 80}, {{"a/new", 81}, 81}}));
  ASSERT_EQ(p.unavailable.size(), 2U);
  EXPECT_NE(p.unavailable.at({"a/new", 80}).find("z/old"), std::string::npos);
  EXPECT_NE(p.unavailable.at({"a/new", 8080}).find("own listeners"), std::string::npos);
}

gateway::ListenerStatus programmed_listener(std::string name) {
  gateway::ListenerStatus ls;
  ls.name = std::move(name);
  ls.conditions = {Condition{.type = "Accepted", .status = "True", .reason = "Accepted"},
                   Condition{.type = "Programmed", .status = "True", .reason = "Programmed"}};
  return ls;
}

TEST(GatewayBindingsStatus, PendingAndPortUnavailableListeners) {
  auto gateways = parse_objects(
      "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g, "
      "namespace: infra, generation: 3}\nspec:\n  gatewayClassName: kop\n  listeners:\n"
      "  - {name: web, port: 80, protocol: HTTP}\n  - {name: alt, port: 81, protocol: HTTP}\n"
      "  - {name: taken, port: 82, protocol: HTTP}\n");
  gateway::Result r;
  gateway::GatewayStatus gs;
  gs.gateway = ObjectRef{"Gateway", "infra", "g"};
  gs.conditions = {Condition{.type = "Programmed", .status = "True", .reason = "Programmed"}};
  gs.listeners = {programmed_listener("web"), programmed_listener("alt"),
                  programmed_listener("taken")};
  r.gateway_statuses.push_back(gs);
  GatewayBindings b;
  b.bound[{"infra/g", 80}] = 20000;
  b.unavailable[{"infra/g", 82}] = "port 82 is already served for Gateway x/y";
  gateway::Result bound = r;
  apply_bindings(b, gateways, bound);
  const auto& l = bound.gateway_statuses[0].listeners;
  EXPECT_EQ(l[0].conditions[1].status, "True");
  EXPECT_EQ(l[1].conditions[1].reason, "Pending");
  EXPECT_EQ(l[1].conditions[1].observed_generation, 3);
  EXPECT_EQ(l[2].conditions[0].reason, "PortUnavailable");
  EXPECT_EQ(l[2].conditions[1].status, "False");
  EXPECT_EQ(bound.gateway_statuses[0].conditions[0].status, "True");  // one listener is served
  ASSERT_EQ(bound.events.size(), 1U);
  EXPECT_EQ(bound.events[0].reason, "PortUnavailable");
  // Nothing bound yet: the Gateway itself is not Programmed.
  gateway::Result none = r;
  apply_bindings(GatewayBindings{}, gateways, none);
  EXPECT_EQ(none.gateway_statuses[0].conditions[0].reason, "Pending");
}

// Type None, two Gateways on port 80: the younger one's listener is PortUnavailable, and a route
// attached only to it is not Accepted (nor counted); one that also attaches elsewhere is.
TEST(GatewayBindingsStatus, RoutesOnlyOnAnUnavailablePortAreNotAccepted) {
  auto gw = [](std::string_view name, std::string_view created, std::string_view listeners) {
    return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: " +
           std::string(name) + ", namespace: infra, generation: 2, creationTimestamp: \"" +
           std::string(created) + "\"}\nspec:\n  gatewayClassName: kop\n  listeners:\n" +
           std::string(listeners);
  };
  auto rt = [](std::string_view name, std::string_view parent) {
    return gateway::gwtest::route("infra", name,
                                  "  parentRefs: [" + std::string(parent) +
                                      "]\n  rules:\n  - backendRefs: [{name: v1, port: 80}]\n");
  };
  std::string yaml =
      std::string(gateway::gwtest::kClass) +
      gw("old", "2026-01-01T00:00:00Z", "  - {name: web, port: 80, protocol: HTTP}\n") +
      gw("late", "2026-01-02T00:00:00Z",
         "  - {name: web, port: 80, protocol: HTTP}\n"
         "  - {name: alt, port: 81, protocol: HTTP}\n") +
      testing::service_yaml("infra", "v1", 1, 1) +
      rt("only-web", "{name: late, sectionName: web}") + rt("both", "{name: late}") +
      rt("on-old", "{name: old}");
  auto in = gateway::gwtest::input(yaml);
  gateway::Result r = gateway::translate(in->snap, {});
  EXPECT_EQ(gateway::gwtest::cond(gateway::gwtest::parent(r, "only-web").conditions, "Accepted"),
            "True Accepted");  // the translator does not know the ports
  GatewayBindings b = plan_direct_ports(r.front_doors, in->snap.gateways, {});
  ASSERT_EQ(b.unavailable.count({"infra/late", 80}), 1U);
  apply_bindings(b, in->snap.gateways, r);
  const gateway::RouteParentStatus& only = gateway::gwtest::parent(r, "only-web");
  EXPECT_EQ(gateway::gwtest::cond(only.conditions, "Accepted"), "False NoMatchingParent");
  const Condition* accepted = gateway::gwtest::find(only.conditions, "Accepted");
  ASSERT_NE(accepted, nullptr);
  EXPECT_NE(accepted->message.find("PortUnavailable"), std::string::npos) << accepted->message;
  EXPECT_EQ(accepted->observed_generation, 3);
  EXPECT_EQ(gateway::gwtest::cond(only.conditions, "ResolvedRefs"), "True ResolvedRefs");
  EXPECT_EQ(gateway::gwtest::cond(gateway::gwtest::parent(r, "both").conditions, "Accepted"),
            "True Accepted");
  EXPECT_EQ(gateway::gwtest::cond(gateway::gwtest::parent(r, "on-old").conditions, "Accepted"),
            "True Accepted");
  // attachedRoutes counts Accepted routes only: "both" on late's listeners, "on-old" on old's.
  EXPECT_EQ(gateway::gwtest::listener(r, "late", "web").attached_routes, 1);
  EXPECT_EQ(gateway::gwtest::listener(r, "late", "alt").attached_routes, 1);
  EXPECT_EQ(gateway::gwtest::listener(r, "old", "web").attached_routes, 1);
  EXPECT_EQ(
      gateway::gwtest::cond(gateway::gwtest::listener(r, "late", "web").conditions, "Accepted"),
      "False PortUnavailable");
  bool event = false;
  for (const Event& e : r.events)
    event |= e.object.name == "only-web" && e.reason == "NoMatchingParent" &&
             e.field == "spec.parentRefs";
  EXPECT_TRUE(event);
}

TEST(GatewayServiceFlags, PortRangeAndPodSelector) {
  uint16_t lo = 0, hi = 0;
  EXPECT_TRUE(parse_gateway_port_range("20000-20010", lo, hi).ok());
  EXPECT_EQ(lo, 20000);
  EXPECT_EQ(hi, 20010);
  for (const char* bad : {"20010-20000", "0-5", "1-70000", "20000", "a-b"})
    EXPECT_FALSE(parse_gateway_port_range(bad, lo, hi).ok()) << bad;
  auto sel = parse_pod_selector("app=kop, tier = edge");
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(*sel, (api::StringMap{{"app", "kop"}, {"tier", "edge"}}));
  for (const char* bad : {"", "app", "app!=x", "=x"})
    EXPECT_FALSE(parse_pod_selector(bad).ok()) << bad;
  EXPECT_EQ(*parse_gateway_service_type("NodePort"), GatewayServiceType::kNodePort);
  EXPECT_FALSE(parse_gateway_service_type("ExternalName").ok());
}

}  // namespace
}  // namespace kop::ingress
