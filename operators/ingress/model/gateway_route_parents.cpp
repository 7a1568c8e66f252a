// What every route kind (HTTPRoute, GRPCRoute, TLSRoute) shares: which of its parentRefs name our
// Gateways, its spec.hostnames, which listeners of a parent admit it (sectionName, port,
// allowedRoutes kinds and namespaces, hostname intersection) and the parent status that gives,
// and a Service backendRef resolved to a cluster.
#include <algorithm>

#include "gateway_internal.h"
#include "kop/api/views.h"
#include "paths.h"

namespace kop::ingress::gateway::internal {

using ingress::internal::BackendSpec;

std::vector<std::pair<ParentRef, Gateway*>> our_parents(Translation& t, const api::Object& route,
                                                        const ObjectRef& src) {
  std::vector<std::pair<ParentRef, Gateway*>> parents;
  for (const rapidjson::Value* p : items_of(route.spec(), "parentRefs")) {
    ParentRef ref;
    ref.group = member(p, "group") ? std::string(str_of(p, "group")) : std::string(kGroup);
    ref.kind = member(p, "kind") ? std::string(str_of(p, "kind")) : "Gateway";
    ref.ns = member(p, "namespace") ? std::string(str_of(p, "namespace")) : src.ns;
    ref.name = std::string(str_of(p, "name"));
    ref.section_name = std::string(str_of(p, "sectionName"));
    if (auto port = int_of(p, "port")) ref.port = int32_t(*port);
    if (ref.group != kGroup || ref.kind != "Gateway") continue;
    if (Gateway* gw = t.find_gateway(ref.ns, ref.name)) parents.emplace_back(ref, gw);
  }
  return parents;
}

std::vector<std::string> route_hostnames(Translation& t, const api::Object& route,
                                         const ObjectRef& src, size_t& given) {
  std::vector<std::string> hosts;
  given = 0;
  for (const rapidjson::Value* h : items_of(route.spec(), "hostnames")) {
    auto host = h->IsString() ? ingress::internal::normalize_host(
                                    std::string_view(h->GetString(), h->GetStringLength()))
                              : absl::InvalidArgumentError("not a string");
    if (host.ok())
      hosts.push_back(*host);
    else
      t.builder.event(src, "UnsupportedValue", cat("spec.hostnames[", given, "]"),
                      cat("not a valid host name: ", std::string(host.status().message())));
    ++given;
  }
  return hosts;
}

std::vector<size_t> attachable(const Translation& t, const Gateway& gw, const ParentRef& ref,
                               const api::Object& route, std::string_view kind,
                               const std::vector<std::string>& hosts, bool named,
                               std::string& reason, std::string& message) {
  std::vector<size_t> selected, allowed, out;
  for (size_t i = 0; i < gw.listeners.size(); ++i) {
    const Listener& l = gw.listeners[i];
    if (!ref.section_name.empty() && l.name != ref.section_name) continue;
    if (ref.port && l.port != *ref.port) continue;
    if (l.admits_routes) selected.push_back(i);
  }
  if (selected.empty()) {
    reason = "NoMatchingParent";
    message = "no served listener matches sectionName/port";
    return out;
  }
  RouteGroupKind want{std::string(kGroup), std::string(kind)};
  for (size_t i : selected) {
    const Listener& l = gw.listeners[i];
    if (std::find(l.kinds.begin(), l.kinds.end(), want) == l.kinds.end()) continue;
    bool ns_ok = l.from == "All" || (l.from == "Same" && route.ns() == gw.ref.ns) ||
                 (l.from == "Selector" && l.selector.matches(t.namespace_labels(route.ns())));
    if (ns_ok) allowed.push_back(i);
  }
  if (allowed.empty()) {
    reason = "NotAllowedByListeners";
    message = cat("no listener selected admits a ", kind,
                  " from this namespace (protocol, allowedRoutes)");
    return out;
  }
  for (size_t i : allowed) {
    bool any = hosts.empty() && !named;
    for (const std::string& h : hosts)
      if (intersect_hostnames(gw.listeners[i].hostname, h)) any = true;
    if (any) out.push_back(i);
  }
  if (out.empty()) {
    reason = "NoMatchingListenerHostname";
    message = "no listener hostname intersects spec.hostnames";
  }
  return out;
}

std::vector<size_t> attach(Translation& t, Gateway& gw, const ParentRef& ref,
                           const api::Object& route, const ObjectRef& src, std::string_view kind,
                           const std::vector<std::string>& hosts, bool named,
                           const RuleOutcome& rules, RouteParentStatus& ps) {
  int64_t gen = route.generation();
  ps.parent = ref;
  std::string reason = "NoMatchingParent", message = "the Gateway is not accepted";
  std::vector<size_t> listeners =
      gw.admits_routes ? attachable(t, gw, ref, route, kind, hosts, named, reason, message)
                       : std::vector<size_t>{};
  size_t gi = size_t(&gw - t.gateways.data());
  size_t before = listeners.size();
  std::erase_if(listeners, [&](size_t li) { return t.lost.count({src, gi, li}) > 0; });
  if (before > 0 && listeners.empty()) {
    reason = "HostnameConflict";
    message = cat("an older ", kind == "GRPCRoute" ? "HTTPRoute" : "GRPCRoute",
                  " has a hostname of this route on every listener it would attach to");
  }
  if (listeners.empty()) {
    ps.conditions.push_back(condition("Accepted", kFalse, reason, message, gen));
    t.builder.event(src, reason, "spec.parentRefs", cat(gw.ref.key(), ": ", message));
  } else if (rules.served == 0 && rules.dropped > 0) {
    ps.conditions.push_back(
        condition("Accepted", kFalse, "UnsupportedValue", rules.unsupported, gen));
    listeners.clear();  // not attached: nothing to serve, not counted in attachedRoutes
  } else {
    ps.conditions.push_back(condition("Accepted", kTrue, "Accepted", "", gen));
    if (rules.dropped > 0)
      ps.conditions.push_back(
          condition("PartiallyInvalid", kTrue, "UnsupportedValue",
                    cat(rules.dropped, " rule(s) not served: ", rules.unsupported), gen));
  }
  ps.conditions.push_back(
      rules.refs_reason.empty()
          ? condition("ResolvedRefs", kTrue, "ResolvedRefs", "", gen)
          : condition("ResolvedRefs", kFalse, rules.refs_reason, rules.refs_message, gen));
  for (size_t li : listeners) {
    gw.status.listeners[gw.listeners[li].status].attached_routes++;
    ps.listeners.push_back(gw.listeners[li].name);
  }
  return listeners;
}

namespace {

// reference_permitted() for a backendRef to a Service, the answer noted for the TranslateCache.
bool service_permitted(Translation& t, std::string_view from_kind, std::string_view from_ns,
                       std::string_view ns, std::string_view name) {
  bool ok = reference_permitted(t.snapshot, from_kind, from_ns, "", "Service", ns, name);
  if (t.queries != nullptr) {
    RouteQuery q;
    q.from_kind = std::string(from_kind);
    q.from_ns = std::string(from_ns);
    q.ns = std::string(ns);
    q.name = std::string(name);
    q.permitted = ok;
    t.queries->push_back(std::move(q));
  }
  return ok;
}

}  // namespace

ServiceBackend service_backend(Translation& t, const api::Object& route, const ObjectRef& src,
                               const rapidjson::Value* ref, const std::string& field, bool h2c,
                               bool backend_tls) {
  ServiceBackend out;
  std::string_view group = str_of(ref, "group");
  std::string_view kind = member(ref, "kind") ? str_of(ref, "kind") : "Service";
  std::string ns(member(ref, "namespace") ? str_of(ref, "namespace") : route.ns());
  std::string name(str_of(ref, "name"));
  auto problem = [&](std::string reason, std::string message) {
    t.builder.event(src, reason, field, message);
    out.reason = std::move(reason);
    out.message = std::move(message);
    return out;
  };
  if (!group.empty() || kind != "Service")
    return problem("InvalidKind", cat(group.empty() ? "core" : group, "/", kind,
                                      " is not a supported backend kind"));
  if (ns != route.ns() && !service_permitted(t, src.kind, route.ns(), ns, name))
    return problem("RefNotPermitted", cat("Service \"", ns, "/", name,
                                          "\" is in another namespace and no ReferenceGrant "
                                          "allows it"));
  if (!int_of(ref, "port")) return problem("BackendNotFound", "port is required for a Service");
  BackendSpec spec;
  spec.ns = ns;
  spec.service = name;
  spec.port_number = int_of(ref, "port");
  spec.h2c = h2c;
  // Its port's name and appProtocol are read below: a TranslateCache must see the Service change.
  if (backend_tls) t.builder.note_service_read(ns, name);
  if (backend_tls) {
    std::string_view port_name, app_protocol;
    if (const api::ObjectPtr* svc = t.builder.service(ns, name))
      if (auto port = api::ServiceView(**svc).find_port(*spec.port_number)) {
        port_name = port->name;
        app_protocol = port->app_protocol;
      }
    const BackendTlsPolicy* policy = backend_tls_policy(t, ns, name, port_name, src);
    // GEP-1911: WebSocket over TLS to an HTTPRoute backend only with a BackendTLSPolicy.
    if (policy == nullptr && app_protocol == "kubernetes.io/wss")
      return problem("UnsupportedProtocol",
                     cat("Service \"", ns, "/", name, "\" port ", *spec.port_number,
                         " is kubernetes.io/wss: it needs a BackendTLSPolicy"));
    if (policy != nullptr) {
      if (!policy->tls) {
        // Fail closed: without the TLS the policy asks for, nothing is sent in plain text.
        out.message = cat("Service \"", ns, "/", name, "\": BackendTLSPolicy \"", policy->ref.key(),
                          "\" cannot be used");
        return out;
      }
      spec.tls = policy->tls;
      // HTTP/2 over TLS where the port or the route wants h2.
      spec.h2c = h2c || app_protocol == "kubernetes.io/h2c";
    }
  }
  out.cluster = t.builder.resolve_backend(src, field, spec);  // its own Event when missing
  if (!out.cluster) {
    out.reason = "BackendNotFound";
    out.message =
        cat("Service \"", ns, "/", name, "\" or its port ", *spec.port_number, " not found");
  }
  return out;
}

}  // namespace kop::ingress::gateway::internal
