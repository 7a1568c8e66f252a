// Internal to the model: the state one gateway::translate() call shares between the
// GatewayClass, Gateway, HTTPRoute, GRPCRoute, TLSRoute and BackendTLSPolicy translators
// (gateway_class.cpp, gateway_listeners.cpp, http_route.cpp, grpc_route.cpp, tls_route.cpp,
// backend_tls_policy.cpp, gateway_assemble.cpp), and
// the ReferenceGrant, hostname and parentRef rules they use (gateway_route_parents.cpp), and what
// a TranslateCache keeps across translations (TranslateState): each route's rules and attachment
// (gateway_routes.cpp) and each front door's hosts (gateway_assemble.cpp). Threading: one
// Translation per translate() call, used by that call only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "builder.h"
#include "kop/api/labels.h"
#include "kop/ingress/gateway_api.h"
#include "kop/proxy/boxed.h"
#include "text_cat.h"
#include "tracked_index.h"

namespace kop::ingress::gateway::internal {

// The model's shared helpers (builder.h, text_cat.h), used by every Gateway API translator.
using ingress::internal::Age;
using ingress::internal::age_of;
using ingress::internal::Builder;
using ingress::internal::cat;
using ingress::internal::int_of;
using ingress::internal::items_of;
using ingress::internal::member;
using ingress::internal::str_of;

inline constexpr std::string_view kTrue = "True";
inline constexpr std::string_view kFalse = "False";

Condition condition(std::string_view type, std::string_view status, std::string_view reason,
                    std::string message, int64_t generation);

// One listener of one of our Gateways, after its own checks and the conflict checks.
struct Listener {
  std::string name;
  int64_t port = 0;
  std::string protocol;
  std::string hostname;  // lowercase; "" = every host
  bool usable = false;   // served: accepted, not conflicted, its certificate (if any) loaded
  // Routes may attach and are counted in attachedRoutes: accepted and not conflicted, on a
  // Gateway not refused as a whole, even when not served (a certificateRef that does not
  // resolve leaves it unprogrammed; the spec counts attachment by allowedRoutes and parentRefs
  // alone).
  bool admits_routes = false;
  std::vector<RouteGroupKind> kinds;                            // route kinds that may attach
  std::string from = "Same";                                    // allowedRoutes.namespaces.from
  api::LabelSelector selector = api::LabelSelector::nothing();  // with from Selector
  std::optional<Tls> tls;  // HTTPS and TLS Terminate: the certificate
  std::string tls_mode;    // TLS: "Passthrough" or "Terminate"
  size_t status = 0;       // index into the Gateway's status.listeners
};

struct Gateway {
  const api::Object* object = nullptr;
  ObjectRef ref;
  Age age;
  bool accepted = false;
  bool admits_routes = false;  // some listener admits routes
  std::vector<Listener> listeners;
  GatewayStatus status;
};

struct RouteEntry;

// One route rule's match, placed on one front door's host: match `match` of rule `rule` of the
// route whose rules `entry` holds (kept in the entry's attachment, across translations). A
// redirect without scheme and port goes to `port`.
struct Placement {
  size_t gateway = 0;   // index into Translation::gateways
  size_t listener = 0;  // index into that Gateway's listeners (its certificate)
  int64_t port = 0;
  std::string host;  // "*" = every host
  const RouteEntry* entry = nullptr;
  int rule = 0;
  int match = 0;
  const Route& route() const;
  const Age& age() const;  // of the route, for precedence
};

// One TLSRoute hostname on one TLS listener: connections whose SNI is `relay.host` are relayed
// (Passthrough: untouched; Terminate: decrypted with the listener's certificate).
struct RelayPlacement {
  size_t gateway = 0;
  size_t listener = 0;
  int64_t port = 0;
  TcpProxy relay;
  Age age;  // of the route: the oldest route keeps a hostname two routes claim
};

// A BackendTLSPolicy as read (backend_tls_policy.cpp).
struct BackendTlsPolicy {
  const api::Object* object = nullptr;
  ObjectRef ref;
  Age age;
  // The cluster TLS settings; unset when the policy cannot be used (Accepted=False other than
  // Conflicted): a backend it targets then fails closed, never plain text.
  std::optional<proxy::UpstreamTlsConfig> tls;
  Condition accepted;       // Accepted, Invalid or NoValidCACertificate
  Condition resolved_refs;  // ResolvedRefs, InvalidCACertificateRef or InvalidKind
  bool conflicted = false;  // an older policy (then namespace/name) holds one of its targets
};

// What a BackendTLSPolicy targetRef names: a Service of the policy's namespace, and the port
// name (sectionName; "" = every port).
struct PolicyTarget {
  std::string ns;
  std::string service;
  std::string section;
  auto operator<=>(const PolicyTarget&) const = default;
};

// One target: the policy that holds it, every policy naming it (the holder and those it
// conflicts with: their status has the same ancestors) and the routes using it.
struct PolicyTargetUse {
  size_t holder = 0;             // index into Translation::policies
  std::vector<size_t> named_by;  // indexes, the holder first
  std::set<ObjectRef> routes;    // routes whose backendRefs reach the target
};

struct TranslateState;
struct RouteQuery;

struct Translation {
  // `index` (may be null: the Builder indexes the base snapshot itself) must index the base
  // snapshot and outlive the Translation (a TranslateCache keeps it patched).
  Translation(const Snapshot& snapshot, const Options& options, TranslateState& cache,
              const ingress::internal::SnapshotIndex* index);

  const Snapshot& snapshot;
  const Options& options;
  ingress::Options ingress_options;  // unused by the Builder's services we call
  Builder builder;
  std::set<std::string, std::less<>> classes;  // our accepted GatewayClasses
  std::vector<Gateway> gateways;               // ours, sorted by ref
  std::vector<RelayPlacement> relays;
  // (route, gateway index, listener index): an HTTPRoute or GRPCRoute that lost a hostname it
  // shares on that listener with a route of the other kind (route_kind_conflicts()).
  std::set<std::tuple<ObjectRef, size_t, size_t>> lost;
  std::vector<BackendTlsPolicy> policies;  // oldest first, then namespace/name
  std::map<PolicyTarget, PolicyTargetUse> policy_targets;
  // Every route's status, in the order translated: the HTTPRoutes' and GRPCRoutes' in their
  // cache entries, the TLSRoutes' in result.route_statuses (pointed to once all are there);
  // assemble() sorts the pointers and copies each status into the Result once.
  std::vector<const RouteStatus*> route_statuses;
  Result result;
  // What the last translations kept (a fresh one for translate() without a TranslateCache: the
  // reference the incremental path is tested against).
  TranslateState& cache;
  // Nothing a route's rules read (Services, EndpointSlices, Secrets, ConfigMaps) changed since
  // the last translation: a route kept then still reads the same (no reads_unchanged() each).
  bool reads_as_before = false;
  // While set, service_backend() notes each ReferenceGrant and BackendTLSPolicy answer into it
  // (a route's rules being translated for the cache).
  std::vector<RouteQuery>* queries = nullptr;

  Gateway* find_gateway(std::string_view ns, std::string_view name);
  // Labels of Namespace `name` (empty when unknown), with kubernetes.io/metadata.name=<name>
  // where the server did not set it (before Kubernetes 1.21).
  api::StringMap namespace_labels(std::string_view name) const;
};

void translate_classes(Translation& t);
void translate_gateways(Translation& t);
// Before the route translators: an HTTPRoute and a GRPCRoute attached to one listener with
// intersecting hostnames cannot both be served there (GRPCRoute spec.hostnames); the older
// (then namespace/name first) keeps the listener, the other's entry goes to Translation::lost.
void route_kind_conflicts(Translation& t);
void translate_http_routes(Translation& t);
void translate_grpc_routes(Translation& t);
void translate_tls_routes(Translation& t);
// Before the route translators: every BackendTLSPolicy read (settings, conditions, Events) and
// each target given to the oldest policy naming it (the others are Conflicted).
void read_backend_tls_policies(Translation& t);
// The policy that applies to port `port_name` ("" = unnamed) of Service ns/service: one naming
// the port, else one naming the whole Service; null when none. Notes `route` as a user of it.
const BackendTlsPolicy* backend_tls_policy(Translation& t, std::string_view ns,
                                           std::string_view service, std::string_view port_name,
                                           const ObjectRef& route);
// After the route translators: each policy's status.ancestors (the Gateways of ours that accept
// a route using it) into Result::policy_statuses.
void backend_tls_policy_statuses(Translation& t);
// Front doors from the placements (Gateway API precedence), clusters, sorted statuses, events.
void assemble(Translation& t);

// Whether a ReferenceGrant in `to_ns` lets objects of `from_kind` (group
// gateway.networking.k8s.io) in `from_ns` refer to `to_kind` (group `to_group`) `to_name`.
bool reference_permitted(const Snapshot& snapshot, std::string_view from_kind,
                         std::string_view from_ns, std::string_view to_group,
                         std::string_view to_kind, std::string_view to_ns,
                         std::string_view to_name);

// The spec.parentRefs of `route` that name one of our Gateways (defaults filled in).
std::vector<std::pair<ParentRef, Gateway*>> our_parents(Translation& t, const api::Object& route,
                                                        const ObjectRef& src);
// spec.hostnames, lowercase; an invalid one gets an Event and is left out. `given` = how many
// the route wrote (all invalid: the route matches no host, not every host).
std::vector<std::string> route_hostnames(Translation& t, const api::Object& route,
                                         const ObjectRef& src, size_t& given);
// Which of `gw`'s listeners `ref` selects and admits for a route of `kind`; sets `reason` and
// `message` (NoMatchingParent, NotAllowedByListeners, NoMatchingListenerHostname) when none.
// `hosts` empty: every host, unless the route named hostnames that were all invalid (`named`).
std::vector<size_t> attachable(const Translation& t, const Gateway& gw, const ParentRef& ref,
                               const api::Object& route, std::string_view kind,
                               const std::vector<std::string>& hosts, bool named,
                               std::string& reason, std::string& message);

// What a route's rules came to, for its parent statuses.
struct RuleOutcome {
  size_t served = 0;        // rules served
  size_t dropped = 0;       // rules that cannot be served
  std::string unsupported;  // the first dropped rule's "field: why"
  std::string refs_reason;  // the first backendRef problem (ResolvedRefs=False), "" = none
  std::string refs_message;
};
// The status of `route` on parent `ref` (our Gateway `gw`) into `ps`: Accepted (attachable()'s
// reason with an Event; HostnameConflict when every listener went to a route of the other kind
// (Translation::lost); UnsupportedValue when no rule can be served; PartiallyInvalid when some
// cannot), ResolvedRefs. Returns the listeners the route attaches to, counted in their
// attachedRoutes (served or not: a listener whose certificate does not load still counts).
std::vector<size_t> attach(Translation& t, Gateway& gw, const ParentRef& ref,
                           const api::Object& route, const ObjectRef& src, std::string_view kind,
                           const std::vector<std::string>& hosts, bool named,
                           const RuleOutcome& rules, RouteParentStatus& ps);

// One backendRef to a core Service port: its cluster, or why not (reason InvalidKind,
// RefNotPermitted with a ReferenceGrant from the route's kind, BackendNotFound), with an Event
// naming `field`. No cluster and an empty reason: the port's BackendTLSPolicy cannot be used,
// so the backend fails closed (its share answered 5xx) while the route's refs stay resolved.
struct ServiceBackend {
  std::optional<std::string> cluster;
  std::string reason;
  std::string message;
};
// `h2c`: the cluster speaks HTTP/2 with prior knowledge whatever the port's appProtocol
// (GRPCRoute backends). `backend_tls`: a BackendTLSPolicy targeting the port makes the cluster
// TLS (HTTP/2 over TLS with h2c or an h2c port); TLSRoute relays pass false.
ServiceBackend service_backend(Translation& t, const api::Object& route, const ObjectRef& src,
                               const rapidjson::Value* ref, const std::string& field,
                               bool h2c = false, bool backend_tls = true);

// What HTTPRoute and GRPCRoute rules share (http_route.cpp).
// A rule as the model can serve it, or why it cannot be.
struct RouteRule {
  std::vector<Route> routes;  // one per match
  std::string unsupported;    // field and reason when the rule cannot be served
  std::string refs_reason;    // first backendRef problem (ResolvedRefs=False), "" = none
  std::string refs_message;
};
// Counts `rule` into `outcome`: served or dropped, the first unsupported reason and the first
// backendRef problem kept.
void count_rule(RuleOutcome& outcome, const RouteRule& rule);
// A route's hosts as served on listener `l`: its hostnames intersected with the listener's, or,
// when it names none, the listener's own ("*" = every host).
std::vector<std::string> served_hosts(const Listener& l, const std::vector<std::string>& hosts);
// What the proxy refuses in a whole config is refused for one rule only: header names are
// HTTP tokens, values have no CR, LF or NUL.
bool is_token(std::string_view name);
// A RequestHeaderModifier/ResponseHeaderModifier added to `policy`; else "field: why".
std::string header_policy(const rapidjson::Value* mod, const std::string& field,
                          proxy::OnHeap<HeaderPolicy>& policy);
// The `headers` of match `m` (Exact, RegularExpression; the first of one name counts) into
// `r`; else "field: why".
std::string header_matches(const rapidjson::Value* m, const std::string& field, Route& r);
// The RequestMirror filters of `owner` (a rule, or a GRPCRoute's only backendRef) into
// `base.mirrors`: each backendRef's cluster and the share of requests copied (percent, or
// fraction numerator/denominator; all when neither). A backendRef that cannot be used sets the
// rule's ResolvedRefs reason and that mirror is left out; a bad share makes the rule
// unsupported. `field` names `owner`; `h2c` as for service_backend() (a GRPCRoute's mirrors
// get gRPC calls, HTTP/2 like its backends).
void request_mirrors(Translation& t, const api::Object& route, const ObjectRef& src,
                     const rapidjson::Value* owner, const std::string& field, RouteRule& out,
                     Route& base, bool h2c);
// The rule's backendRefs by weight (with their header filters and RequestMirror filters: the
// copies of the requests sent to that backendRef) into `clusters`; the weight of those that
// cannot be used adds to `invalid_weight`; problems into `out`. `h2c` as for service_backend();
// with it (GRPCRoute), the mirrors of a rule's only backendRef are left to the caller (every
// call forwarded goes to that backend, so its mirrors are the rule's).
void rule_backends(Translation& t, const api::Object& route, const ObjectRef& src,
                   const rapidjson::Value* rule, const std::string& field, RouteRule& out,
                   std::vector<WeightedCluster>& clusters, uint32_t& invalid_weight, bool h2c);

// One rule translator (HTTPRoute's, GRPCRoute's): rule `index` of `route` into a RouteRule.
using RuleTranslator = RouteRule (*)(Translation& t, const api::Object& route, const ObjectRef& src,
                                     const rapidjson::Value* rule, size_t index);
// Every HTTPRoute or GRPCRoute of `routes` (`kind`) that names one of our Gateways: its rules by
// `rule_of`, its parent statuses, and a placement per rule match on each host of each served
// listener it attaches to, all taken from the cache while the route, what its rules read and
// our Gateways' listeners are unchanged (gateway_routes.cpp).
void translate_routes(Translation& t, const std::vector<api::ObjectPtr>& routes,
                      std::string_view kind, RuleTranslator rule_of);
// After the route translators: the routes no translator saw this time (deleted, or no longer
// ours) taken off their hosts and forgotten.
void forget_unseen_routes(Translation& t);
// Before the route translators: whether our Gateways' listeners (and the Namespaces a listener
// selects) are as at the last translation; if not, every route is attached and placed again
// onto doors rebuilt from scratch (gateway_assemble.cpp, beside the doors' assembly).
void check_gateways(Translation& t);

// One answer a route's rules got besides Services and EndpointSlices (those are in the
// Recording), in the order asked: whether a ReferenceGrant lets the route's kind in `from_ns`
// refer to Service ns/name, or which BackendTLSPolicy applies to port `port` of Service
// ns/name (and its settings).
struct RouteQuery {
  bool policy = false;
  std::string from_kind;
  std::string from_ns;
  std::string ns;
  std::string name;
  std::string port;
  bool permitted = false;
  std::optional<ObjectRef> holder;
  proxy::Boxed<proxy::UpstreamTlsConfig> tls;  // kept per backend of every route: rarely set
};

// What a route came to on our Gateways, for the statuses and the front doors: its parent
// statuses, the Events of its hostnames and parents, the listeners it counts in and where its
// rule matches are placed. Kept while the route, its rules and our Gateways are unchanged.
struct RouteAttachment {
  bool valid = false;
  RouteStatus status;
  std::vector<Event> events;
  std::vector<std::pair<size_t, size_t>> attached;  // (gateway, its status.listeners index)
  // Translation::lost's listeners of the route when attached: (gateway, listener).
  std::vector<std::pair<size_t, size_t>> lost;
  std::vector<Placement> placements;  // on the hosts of TranslateState::doors
};

// An HTTPRoute's or GRPCRoute's rules as translated, the Events they recorded and what they
// read: a TranslateCache keeps one per route and takes it again while the route is the same
// object, the Services and EndpointSlices read are, and every query gets the same answer.
struct RouteEntry {
  api::ObjectPtr route;
  Age age;
  std::vector<RouteRule> rules;
  RuleOutcome outcome;
  std::vector<Event> events;
  ingress::internal::Recording recording;  // Services, EndpointSlices, clusters registered
  std::vector<RouteQuery> queries;
  RouteAttachment attachment;
  uint64_t seen = 0;  // the last translation that had the route
};

inline const Route& Placement::route() const {
  return entry->rules[size_t(rule)].routes[size_t(match)];
}
inline const Age& Placement::age() const {
  return entry->age;
}

// One host of a front door: the rule matches placed on it (into the routes' attachments) and
// the host as the last translation assembled it: its own routes, and the host served (its own
// routes plus those of the hosts covering it). `changed`: placements came or went since the
// last assembly (place()/unplace()); during assemble_door(), whether its own routes differ.
struct HostState {
  std::vector<const Placement*> placed;
  bool changed = true;
  std::shared_ptr<const VirtualHost> own;
  std::optional<proxy::Shared<VirtualHost>> served;  // unset until first assembled
};

// The hosts of one front door, by name (the order FrontDoor::virtual_hosts has). `covering`:
// its wildcard hosts and "*" changed (came, went or were placed on) since the last assembly,
// so every host's served routes are put together again.
struct DoorState {
  std::map<std::string, HostState, std::less<>> hosts;
  bool covering = true;
};

// What attaching a route reads of our Gateways and what a placement's listener index stands for
// (its port and certificate): while equal, an unchanged route attaches and places as before.
struct ListenerKey {
  std::string name;
  int64_t port = 0;
  std::string hostname;
  bool usable = false;
  bool admits_routes = false;
  std::vector<RouteGroupKind> kinds;
  std::string from;
  api::LabelSelector selector = api::LabelSelector::nothing();
  std::optional<Tls> tls;
  size_t status = 0;
  bool operator==(const ListenerKey&) const = default;
};
struct GatewaysKey {
  std::vector<std::tuple<ObjectRef, bool, std::vector<ListenerKey>>> gateways;
  // The Namespaces, when a listener selects them by label (their labels then decide).
  std::vector<api::ObjectPtr> namespaces;
  bool operator==(const GatewaysKey&) const = default;
};

// What a TranslateCache keeps (gateway_api.h).
struct TranslateState {
  // By "<kind>/<uid>" ("<kind>//<namespace>/<name>" when the object has no uid).
  std::unordered_map<std::string, RouteEntry> routes;
  GatewaysKey gateways;
  // Front door hosts by (index of the Gateway in Translation::gateways, port): valid while
  // `gateways` is; rebuilt from every route's placements when it changes.
  std::map<std::pair<size_t, int64_t>, DoorState> doors;
  // Set by check_gateways() when `gateways` changed: the hosts of the last translation, by
  // "<gateway ns/name>:<port>/<host>", so a host assembled again equal to its last assembly
  // stays the same object (render and compile keep it).
  std::unordered_map<std::string,
                     std::pair<std::shared_ptr<const VirtualHost>, proxy::Shared<VirtualHost>>>
      last_hosts;
  // The Builder's index of the base snapshot (Services, EndpointSlices, Secrets), patched from
  // what its listings changed instead of built again at every translation.
  ingress::internal::TrackedIndex index;
  bool indexed = false;  // the last translation's Builder used `index`
  uint64_t translations = 0;
  size_t reused = 0;
  size_t translated = 0;
  size_t hosts_kept = 0;
  size_t hosts_made = 0;
};

}  // namespace kop::ingress::gateway::internal
