// kop-ingress in a cluster: each Gateway's front doors reached through a Service of its own
// (docs/gateway-api/design.md, "In a cluster").
//
// The leader keeps one Service per Gateway of ours in kop-ingress' own namespace (a Service can
// only select pods of its namespace), named gateway_service_name(), labelled with the Gateway's
// namespace and name, selecting kop-ingress' pods, with one port per front door: port = the
// listener port, targetPort = an internal port of --gateway-port-range, name "p<port>". The
// Service is the record of the mapping: a new front door gets the lowest port of the range no
// owned Service uses, an existing mapping never changes, and every replica binds exactly the
// targetPorts the owned Services name, so replicas agree without talking to each other and a
// restart keeps the mapping. A Gateway's status.addresses come from its Service (the load
// balancer's ingress, else the clusterIP). Owned Services of Gateways that are gone (or no
// longer ours, or have no listener to serve) are deleted: an owner reference cannot cross
// namespaces. With type None no Service is made and each front door binds its listener port
// itself; a port already bound (by an older Gateway, or by kop-ingress' own listeners) refuses
// the later listener with PortUnavailable.
//
// Everything here is a pure function of its arguments; the IngressController calls it on its
// build thread and hands the desired Services to the StatusWriter, which writes them as leader.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/status/statusor.h>
#include "kop/api/object.h"
#include "kop/ingress/gateway_api.h"

namespace kop::ingress {

enum class GatewayServiceType { kLoadBalancer, kNodePort, kClusterIP, kNone };

// "LoadBalancer", "NodePort", "ClusterIP" or "None".
absl::StatusOr<GatewayServiceType> parse_gateway_service_type(std::string_view text);
std::string_view to_string(GatewayServiceType type);
// --gateway-port-range "MIN-MAX" (1 <= MIN <= MAX <= 65535) into `options`.
absl::Status parse_gateway_port_range(std::string_view text, uint16_t& min, uint16_t& max);
// --gateway-pod-selector "key=value[,key=value...]" (a Service selector: equality only).
absl::StatusOr<api::StringMap> parse_pod_selector(std::string_view text);

inline constexpr std::string_view kGatewayNamespaceLabel = "gateway.kop.dev/namespace";
inline constexpr std::string_view kGatewayNameLabel = "gateway.kop.dev/name";
// "namespace/name" of the Gateway in full (the name label is left out past 63 characters).
inline constexpr std::string_view kGatewayAnnotation = "gateway.kop.dev/gateway";
// Marks the Services kop-ingress made, so cleanup never touches anyone else's.
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedBy = "kop-ingress";

struct GatewayServiceOptions {
  // --gateway-service-type. Default LoadBalancer.
  GatewayServiceType type = GatewayServiceType::kLoadBalancer;
  // Namespace of the Services: kop-ingress' own ($POD_NAMESPACE). Default "default".
  std::string ns = "default";
  // --gateway-port-range: the internal ports front doors bind. Default 20000-29999.
  uint16_t port_min = 20000;
  uint16_t port_max = 29999;
  // --gateway-pod-selector: the Services' selector, kop-ingress' pod labels.
  // Default app.kubernetes.io/name=kop-ingress.
  api::StringMap pod_selector{{"app.kubernetes.io/name", "kop-ingress"}};
};

// "gw-<gateway name>-<8 hex of a hash of namespace/name>", at most 63 characters, a valid
// Service name (dots of the Gateway name become dashes).
std::string gateway_service_name(std::string_view ns, std::string_view name);

// What one Gateway's Service should hold.
struct DesiredGatewayService {
  ObjectRef gateway;
  std::string name;
  std::vector<std::pair<uint16_t, uint16_t>> ports;  // (listener port, targetPort), by port
  bool operator==(const DesiredGatewayService&) const = default;
};

// A front door: Gateway "namespace/name" and listener port.
using FrontDoorKey = std::pair<std::string, uint16_t>;

struct GatewayBindings {
  // The front doors served now and the port each binds.
  std::map<FrontDoorKey, uint16_t> bound;
  // Front doors refused because their port is taken (type None), with the reason's message.
  std::map<FrontDoorKey, std::string> unavailable;
  // Provisioned: what the owned Services should be (one per Gateway with front doors), and
  // the owned Services to delete, by name.
  std::vector<DesiredGatewayService> services;
  std::vector<std::string> stale;
  bool operator==(const GatewayBindings&) const = default;
};

// The Services of `services` that kop-ingress made for Gateways (options.ns, our labels).
std::vector<api::ObjectPtr> owned_gateway_services(const std::vector<api::ObjectPtr>& services,
                                                   const GatewayServiceOptions& options);

// status.addresses of each Gateway ("namespace/name") that has an owned Service with an
// address: its load balancer's ingress (ip or hostname) for type LoadBalancer, else its
// clusterIP.
std::map<std::string, std::vector<std::string>> gateway_service_addresses(
    const std::vector<api::ObjectPtr>& services, const GatewayServiceOptions& options);

// Provisioned types: the Services `doors` need given the owned ones (mappings kept, new ports
// the lowest free of the range; a front door with no free port gets no Service port), and the
// front doors bound now (those whose Service already maps them).
GatewayBindings plan_gateway_services(const std::vector<gateway::FrontDoor>& doors,
                                      const std::vector<api::ObjectPtr>& services,
                                      const GatewayServiceOptions& options);

// Type None: each front door binds its listener port; a port in `taken` (kop-ingress' own
// listeners) or bound by an older Gateway (creation time, then namespace/name) is unavailable.
GatewayBindings plan_direct_ports(const std::vector<gateway::FrontDoor>& doors,
                                  const std::vector<api::ObjectPtr>& gateways,
                                  const std::set<uint16_t>& taken);

// Brings the translator's Gateway statuses in line with what is bound: a listener whose front
// door is unavailable gets Accepted=False/PortUnavailable (and an Event), one whose front door
// is not bound yet Programmed=False/Pending; a Gateway none of whose listeners is bound is not
// Programmed.
void apply_bindings(const GatewayBindings& bindings, const std::vector<api::ObjectPtr>& gateways,
                    gateway::Result& result);

// The Service object to create for `want`.
api::Object gateway_service_object(const DesiredGatewayService& want,
                                   const GatewayServiceOptions& options);
// Whether `current` already is what `want` asks (type, selector, our labels, ports).
bool gateway_service_matches(const api::Object& current, const DesiredGatewayService& want,
                             const GatewayServiceOptions& options);
// `current` changed to match `want`, keeping what the API server filled in (clusterIP, the
// nodePorts of ports that stay; dropping the fields a ClusterIP Service may not carry).
api::Object gateway_service_update(const api::Object& current, const DesiredGatewayService& want,
                                   const GatewayServiceOptions& options);

// Addresses from a status.loadBalancer.ingress JSON array ([{"ip":..}|{"hostname":..}]).
std::vector<std::string> addresses_of_json(std::string_view load_balancer_ingress);

}  // namespace kop::ingress
