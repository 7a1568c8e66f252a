// kop::ingress::gateway: Gateway API (gateway.networking.k8s.io, standard channel v1.6.1) ->
// the routing model, one front door per Gateway, and the status every decision implies.
//
// translate() is a pure function (no I/O, no clock, no globals), like build_model(): it reads
// GatewayClasses, Gateways, HTTPRoutes, GRPCRoutes, TLSRoutes, ReferenceGrants, BackendTLSPolicies
// (with the ConfigMaps holding their CA certificates) and Namespaces, plus the Services,
// EndpointSlices and TLS Secrets of an ingress::Snapshot, and returns
//  - front doors: per Gateway and listener port, the virtual hosts (model VirtualHost/Route)
//    that socket serves, and the TLS connections it relays by SNI (TLSRoute); a request on one
//    Gateway's socket never reaches another's routes;
//  - the clusters those routes forward to (same names and rules as build_model's);
//  - the status of each GatewayClass whose controllerName is ours, each Gateway of such a
//    class (conditions, listeners with supportedKinds and attachedRoutes), and each HTTPRoute,
//    GRPCRoute and TLSRoute parent that is such a Gateway, computed where the decision is taken;
//  - the status of each BackendTLSPolicy per Gateway (ancestor) that a route using its target
//    Service attaches to;
//  - one Event per refused object or field, naming the object and the field.
// Objects of other controllers get no status and no Event. What is served and why:
// docs/gateway-api/design.md and docs/gateway-api/translation.md.
//
// Guarantees: the same input in any order gives the same Result (lists sorted); bad input only
// affects its own listener, route rule or backendRef; conditions carry the object's
// metadata.generation as observedGeneration.
// Incremental: translate(snapshot, options, &cache) gives exactly translate(snapshot, options),
// translating again only the HTTPRoute and GRPCRoute rules whose inputs changed, and keeps the
// front doors' unchanged hosts as the same objects (TranslateCache below).
// Threading: plain values and pure functions; call from any thread. A TranslateCache is used by
// one translate() at a time (the caller serialises translations that share it).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kop/api/conditions.h"
#include "kop/ingress/model.h"

namespace kop::ingress::gateway {

inline constexpr std::string_view kGroup = "gateway.networking.k8s.io";
// GatewayClass.spec.controllerName that selects kop-ingress.
inline constexpr std::string_view kControllerName = "kop.dev/gateway-controller";
// The bundle whose API this translator implements (GatewayClass SupportedVersion).
inline constexpr std::string_view kBundleVersion = "v1.6.1";

// Conditions are api::Condition (kop/api/conditions.h) with last_transition_time left empty:
// the status writer keeps the stored time of an unchanged condition or stamps a new one.
using Condition = api::Condition;

struct RouteGroupKind {
  std::string group;  // gateway.networking.k8s.io
  std::string kind;   // HTTPRoute, GRPCRoute, TLSRoute
  auto operator<=>(const RouteGroupKind&) const = default;
};

struct ClassStatus {
  std::string name;
  std::vector<Condition> conditions;  // Accepted, SupportedVersion
  bool operator==(const ClassStatus&) const = default;
};

struct ListenerStatus {
  std::string name;
  std::vector<RouteGroupKind> supported_kinds;
  int32_t attached_routes = 0;
  std::vector<Condition> conditions;  // Accepted, Conflicted, ResolvedRefs, Programmed
  bool operator==(const ListenerStatus&) const = default;
};

struct GatewayStatus {
  ObjectRef gateway;
  std::vector<std::string> addresses;     // from Options::addresses
  std::vector<Condition> conditions;      // Accepted, Programmed
  std::vector<ListenerStatus> listeners;  // in spec order
  bool operator==(const GatewayStatus&) const = default;
};

// A route's parentRef as written (defaults filled in: group, kind, namespace of the route).
struct ParentRef {
  std::string group;
  std::string kind;
  std::string ns;
  std::string name;
  std::string section_name;  // "" = unset
  std::optional<int32_t> port;
  auto operator<=>(const ParentRef&) const = default;
};

struct RouteParentStatus {
  ParentRef parent;
  std::vector<Condition> conditions;  // Accepted, ResolvedRefs
  // The listeners (names) the route attached to under this parent, counted in their
  // attachedRoutes; not written to the status (kop-ingress' port bindings read it).
  std::vector<std::string> listeners;
  bool operator==(const RouteParentStatus&) const = default;
};

struct RouteStatus {
  ObjectRef route;                         // kind HTTPRoute, GRPCRoute or TLSRoute
  std::vector<RouteParentStatus> parents;  // our parents only, in spec order
  bool operator==(const RouteStatus&) const = default;
};

// A policy's status.ancestors entries of ours (BackendTLSPolicy): per Gateway that a route
// using the policy's target attaches to, the same conditions (Accepted, ResolvedRefs).
// `ancestors[i].parent` is the Gateway (group, kind, namespace, name; no sectionName or port).
struct PolicyStatus {
  ObjectRef policy;                          // kind BackendTLSPolicy
  std::vector<RouteParentStatus> ancestors;  // sorted, at most 16 (the CRD's bound)
  bool operator==(const PolicyStatus&) const = default;
};

// One socket of one Gateway: every accepted listener of that Gateway on `port`.
struct FrontDoor {
  ObjectRef gateway;
  uint16_t port = 0;
  // "HTTP"; "HTTPS" when an HTTPS listener is on the port (TLS listeners may share it: SNI
  // tells them apart); "TLS" when only TLS listeners are.
  std::string protocol;
  // Sorted by host; each host's routes in Gateway API precedence order (render keeps it).
  // Shared (proxy/shared.h): with a TranslateCache a host equal to the last translation's is the
  // same object, so render() with a RenderCache and RouteTable::compile() keep it.
  std::vector<proxy::Shared<VirtualHost>> virtual_hosts;
  // HTTPS: the certificate of each served listener on this port, by listener hostname ("*" =
  // no hostname), sorted; the TLS client's SNI picks one. Present even before routes attach.
  // TLS Terminate listeners add theirs under each relayed host they do not cover exactly.
  std::vector<std::pair<std::string, Tls>> certificates;
  // TLSRoutes: connections relayed by SNI, sorted by host, one per host (the oldest route's).
  // Without `tls` (Passthrough) the bytes go untouched; with it (Terminate) the proxy
  // decrypts with that certificate (also in `certificates` under the host) and relays.
  std::vector<TcpProxy> relays;
  bool operator==(const FrontDoor&) const = default;
};

struct Snapshot {
  const ingress::Snapshot* base = nullptr;  // Services, EndpointSlices, Secrets (not owned)
  std::vector<api::ObjectPtr> gateway_classes;
  std::vector<api::ObjectPtr> gateways;
  std::vector<api::ObjectPtr> http_routes;
  std::vector<api::ObjectPtr> grpc_routes;
  std::vector<api::ObjectPtr> tls_routes;
  std::vector<api::ObjectPtr> reference_grants;
  std::vector<api::ObjectPtr> namespaces;  // labels, for allowedRoutes Selector
  std::vector<api::ObjectPtr> backend_tls_policies;
  std::vector<api::ObjectPtr> config_maps;  // ca.crt of BackendTLSPolicy caCertificateRefs
};

struct Options {
  // GatewayClass.spec.controllerName that selects us. Default kop.dev/gateway-controller.
  std::string controller_name = std::string(kControllerName);
  // Addresses per Gateway ("ns/name"), as the front-door provisioning assigned them. A Gateway
  // without one is Programmed=False/AddressNotAssigned. Default: none.
  std::map<std::string, std::vector<std::string>> addresses;
};

struct Result {
  std::vector<FrontDoor> front_doors;  // sorted by gateway, port
  // By name. Shared: with a TranslateCache a cluster of a route whose rules were kept (or
  // translated again to an equal value) is the last Result's object, so render() with a
  // RenderCache takes its rendering back by pointer.
  std::map<std::string, proxy::Shared<Cluster>> clusters;
  std::vector<ClassStatus> class_statuses;      // sorted by name
  std::vector<GatewayStatus> gateway_statuses;  // sorted by gateway
  std::vector<RouteStatus> route_statuses;      // sorted by route
  std::vector<PolicyStatus> policy_statuses;    // sorted by policy; BackendTLSPolicies
  std::vector<Event> events;                    // sorted, no duplicates
  bool operator==(const Result&) const = default;
};

Result translate(const Snapshot& snapshot, const Options& options);

namespace internal {
struct TranslateState;
}

// An incremental translate(): each HTTPRoute's and GRPCRoute's rules are kept with what they read
// (the Services and EndpointSlices of their backendRefs and mirrors, the ReferenceGrant and
// BackendTLSPolicy answers they got) and taken as they are while the route and all of that are
// unchanged. Parents, hostnames, attachment, conflicts between routes and statuses are worked
// out at every translation (they span routes). A front door host equal to the last
// translation's is that same Shared object. Objects are "the same" as for BuildCache (model.h):
// one ObjectPtr, or one uid at one resourceVersion. The cache holds the routes and Services it
// remembers until a translation no longer has them.
class TranslateCache {
 public:
  TranslateCache();
  ~TranslateCache();
  TranslateCache(TranslateCache&&) noexcept;
  TranslateCache& operator=(TranslateCache&&) noexcept;

  // HTTPRoutes and GRPCRoutes whose rules the last translate() took from the cache / translated.
  size_t reused() const;
  size_t translated() const;
  // Front door hosts the last translate() kept as the previous objects / made anew.
  size_t hosts_kept() const;
  size_t hosts_made() const;

 private:
  friend Result translate(const Snapshot&, const Options&, TranslateCache*);
  std::unique_ptr<internal::TranslateState> state_;
};

// The same Result as translate(snapshot, options); `cache` (may be null) makes it incremental.
Result translate(const Snapshot& snapshot, const Options& options, TranslateCache* cache);

// The host a listener hostname ("" = any) and a route hostname ("" = any) both accept, the more
// specific of the two; "*" when both are empty; nullopt when they share no host. A wildcard
// "*.example.com" covers one or more labels in front of example.com, not example.com itself.
// Both lowercase.
std::optional<std::string> intersect_hostnames(std::string_view listener, std::string_view route);

// Human-readable dump (front doors, statuses, events), for tests and debugging.
std::string describe(const Result& result);

}  // namespace kop::ingress::gateway
