// Gateway: which Gateways are ours (an accepted GatewayClass of ours), each listener's own
// checks (protocol, TLS, certificateRefs, allowedRoutes), the conflicts between listeners on
// one port, and the Gateway and listener status those decisions give.
#include <algorithm>
#include <map>

#include "gateway_internal.h"
#include "paths.h"

namespace kop::ingress::gateway::internal {

namespace {

// A listener's own verdict before conflicts: accepted, or refused with a reason and message.
struct Verdict {
  std::string accepted_reason = "Accepted";  // else UnsupportedProtocol / UnsupportedValue
  std::string accepted_message;
  std::string refs_reason = "ResolvedRefs";  // else InvalidCertificateRef / RefNotPermitted /
                                             // InvalidRouteKinds
  std::string refs_message;
  bool accepted() const { return accepted_reason == "Accepted"; }
  bool resolved() const { return refs_reason == "ResolvedRefs"; }
  void refuse(std::string reason, std::string message) {
    if (!accepted()) return;  // the first reason stays
    accepted_reason = std::move(reason);
    accepted_message = std::move(message);
  }
  void unresolved(std::string reason, std::string message) {
    if (!resolved()) return;
    refs_reason = std::move(reason);
    refs_message = std::move(message);
  }
};

// The route kinds a protocol can carry (what kop-ingress translates today).
std::vector<RouteGroupKind> kinds_for(std::string_view protocol) {
  if (protocol == "HTTP" || protocol == "HTTPS")
    return {{std::string(kGroup), "HTTPRoute"}, {std::string(kGroup), "GRPCRoute"}};
  if (protocol == "TLS") return {{std::string(kGroup), "TLSRoute"}};
  return {};
}

void check_kinds(const rapidjson::Value* allowed, const std::string& field, Listener& l,
                 Verdict& v) {
  std::vector<RouteGroupKind> possible = kinds_for(l.protocol);
  const rapidjson::Value* kinds = member(allowed, "kinds");
  if (kinds == nullptr) {
    l.kinds = possible;
    return;
  }
  size_t i = 0;
  for (const rapidjson::Value* k : items_of(allowed, "kinds")) {
    RouteGroupKind want{std::string(str_of(k, "group")), std::string(str_of(k, "kind"))};
    if (member(k, "group") == nullptr) want.group = std::string(kGroup);
    if (std::find(possible.begin(), possible.end(), want) != possible.end()) {
      if (std::find(l.kinds.begin(), l.kinds.end(), want) == l.kinds.end()) l.kinds.push_back(want);
    } else {
      v.unresolved("InvalidRouteKinds", cat(field, ".kinds[", i, "]: ", want.group, "/", want.kind,
                                            " cannot attach to a ", l.protocol, " listener"));
    }
    ++i;
  }
}

void check_tls(Translation& t, const Gateway& gw, const rapidjson::Value* ls,
               const std::string& field, Listener& l, Verdict& v) {
  const rapidjson::Value* tls = member(ls, "tls");
  if (l.protocol == "HTTP") {
    if (tls != nullptr) v.refuse("UnsupportedValue", cat(field, ".tls: not allowed on HTTP"));
    return;
  }
  if (tls == nullptr) {
    v.refuse("UnsupportedValue", cat(field, ".tls: required for ", l.protocol));
    return;
  }
  std::string_view mode = str_of(tls, "mode");
  if (mode.empty()) mode = "Terminate";  // the API's default
  if (l.protocol == "HTTPS" && mode != "Terminate") {
    v.refuse("UnsupportedValue",
             cat(field, ".tls.mode: HTTPS listeners terminate TLS, \"", mode, "\" is not allowed"));
    return;
  }
  if (mode != "Terminate" && mode != "Passthrough") {
    v.refuse("UnsupportedValue", cat(field, ".tls.mode: \"", mode, "\" is not supported"));
    return;
  }
  l.tls_mode = std::string(mode);
  // Passthrough: the proxy never decrypts these connections, certificateRefs go unused.
  if (mode == "Passthrough") return;
  std::vector<const rapidjson::Value*> refs = items_of(tls, "certificateRefs");
  if (refs.empty()) {
    v.unresolved("InvalidCertificateRef", cat(field, ".tls.certificateRefs: none given"));
    return;
  }
  // The first usable certificate serves the listener (SNI choice between several is later work
  // of the proxy config); every ref is checked and reported.
  for (size_t i = 0; i < refs.size(); ++i) {
    const rapidjson::Value* ref = refs[i];
    std::string rfield = cat(field, ".tls.certificateRefs[", i, "]");
    std::string_view group = str_of(ref, "group");
    std::string_view kind = member(ref, "kind") ? str_of(ref, "kind") : "Secret";
    std::string ns(member(ref, "namespace") ? str_of(ref, "namespace") : gw.ref.ns);
    std::string name(str_of(ref, "name"));
    if (!group.empty() || kind != "Secret") {
      v.unresolved("InvalidCertificateRef", cat(rfield, ": ", group.empty() ? "core" : group, "/",
                                                kind, " is not supported, only Secrets"));
      continue;
    }
    if (ns != gw.ref.ns &&
        !reference_permitted(t.snapshot, "Gateway", gw.ref.ns, "", "Secret", ns, name)) {
      v.unresolved("RefNotPermitted", cat(rfield, ": Secret \"", ns, "/", name,
                                          "\" is in another namespace and no ReferenceGrant "
                                          "allows it"));
      continue;
    }
    std::optional<Tls> cert = t.builder.load_tls(gw.ref, rfield, ns, name);
    if (!cert) {
      v.unresolved("InvalidCertificateRef", cat(rfield, ": Secret \"", ns, "/", name,
                                                "\" is missing or not a valid "
                                                "kubernetes.io/tls certificate"));
      continue;
    }
    if (!l.tls) l.tls = std::move(cert);
  }
}

void check_namespaces(const rapidjson::Value* allowed, const std::string& field, Listener& l,
                      Verdict& v) {
  const rapidjson::Value* nss = member(allowed, "namespaces");
  std::string_view from = str_of(nss, "from");
  l.from = from.empty() ? "Same" : std::string(from);
  if (l.from == "Selector") {
    auto sel = api::LabelSelector::from_json(member(nss, "selector"));
    if (member(nss, "selector") == nullptr || !sel.ok()) {
      v.refuse("UnsupportedValue",
               cat(field, ".namespaces.selector: ",
                   member(nss, "selector") == nullptr ? std::string("required with from Selector")
                                                      : std::string(sel.status().message())));
      return;
    }
    l.selector = *sel;
  } else if (l.from != "Same" && l.from != "All") {
    v.refuse("UnsupportedValue", cat(field, ".namespaces.from: \"", l.from, "\" is not supported"));
  }
}

// Listeners on one port must agree on the protocol family and not repeat a hostname.
void mark_conflicts(Gateway& gw, std::vector<std::string>& conflict) {
  std::map<int64_t, std::vector<size_t>> by_port;
  for (size_t i = 0; i < gw.listeners.size(); ++i)
    if (gw.listeners[i].usable) by_port[gw.listeners[i].port].push_back(i);
  for (auto& [port, idx] : by_port) {
    bool has_http = false, has_tls = false;
    for (size_t i : idx) (gw.listeners[i].protocol == "HTTP" ? has_http : has_tls) = true;
    if (has_http && has_tls) {
      for (size_t i : idx) conflict[i] = "ProtocolConflict";
      continue;
    }
    for (size_t a = 0; a < idx.size(); ++a)
      for (size_t b = a + 1; b < idx.size(); ++b)
        if (gw.listeners[idx[a]].hostname == gw.listeners[idx[b]].hostname)
          conflict[idx[a]] = conflict[idx[b]] = "HostnameConflict";
  }
}

}  // namespace

void translate_gateways(Translation& t) {
  for (const auto& ptr : t.snapshot.gateways) {
    const api::Object& obj = *ptr;
    if (obj.is_being_deleted()) continue;
    if (!t.classes.count(str_of(obj.spec(), "gatewayClassName"))) continue;
    Gateway gw;
    gw.object = &obj;
    gw.ref = ObjectRef{"Gateway", std::string(obj.ns()), std::string(obj.name())};
    gw.age = age_of(obj, "Gateway");
    gw.status.gateway = gw.ref;
    int64_t gen = obj.generation();

    std::vector<Verdict> verdicts;
    for (const rapidjson::Value* ls : items_of(obj.spec(), "listeners")) {
      std::string field = cat("spec.listeners[", gw.listeners.size(), "]");
      Listener l;
      l.name = std::string(str_of(ls, "name"));
      l.port = int_of(ls, "port").value_or(0);
      l.protocol = std::string(str_of(ls, "protocol"));
      l.status = gw.listeners.size();
      Verdict v;
      if (l.protocol != "HTTP" && l.protocol != "HTTPS" && l.protocol != "TLS") {
        v.refuse("UnsupportedProtocol",
                 cat(field, ".protocol: \"", l.protocol, "\" is not supported (HTTP, HTTPS, TLS)"));
      }
      if (l.port < 1 || l.port > 65535)
        v.refuse("UnsupportedValue", cat(field, ".port: must be 1-65535"));
      if (std::string_view host = str_of(ls, "hostname"); !host.empty()) {
        auto h = ingress::internal::normalize_host(host);
        if (h.ok())
          l.hostname = *h;
        else
          v.refuse("UnsupportedValue",
                   cat(field, ".hostname: ", std::string(h.status().message())));
      }
      if (v.accepted()) {
        const rapidjson::Value* allowed = member(ls, "allowedRoutes");
        check_kinds(allowed, field + ".allowedRoutes", l, v);
        check_namespaces(allowed, field + ".allowedRoutes", l, v);
        check_tls(t, gw, ls, field, l, v);
      }
      if (!v.accepted()) {
        t.builder.event(gw.ref, v.accepted_reason, field, v.accepted_message);
      } else if (!v.resolved()) {
        t.builder.event(gw.ref, v.refs_reason, field, v.refs_message);
      }
      // A listener that terminates TLS without a usable certificate cannot be served.
      bool terminates = l.protocol == "HTTPS" || (l.protocol == "TLS" && l.tls_mode == "Terminate");
      l.usable = v.accepted() && (!terminates || l.tls.has_value());
      verdicts.push_back(std::move(v));
      gw.listeners.push_back(std::move(l));
    }
    std::vector<std::string> conflict(gw.listeners.size());
    mark_conflicts(gw, conflict);

    bool unsupported_address = !items_of(obj.spec(), "addresses").empty();
    // kop-ingress takes no Gateway parameters: a parametersRef is one it cannot honour.
    const rapidjson::Value* params = member(member(obj.spec(), "infrastructure"), "parametersRef");
    bool invalid_parameters = params != nullptr && !unsupported_address;
    size_t usable = 0;
    for (size_t i = 0; i < gw.listeners.size(); ++i) {
      Listener& l = gw.listeners[i];
      const Verdict& v = verdicts[i];
      if (!conflict[i].empty()) {
        l.usable = false;
        t.builder.event(gw.ref, conflict[i], cat("spec.listeners[", i, "]"),
                        cat("conflicts with another listener on port ", l.port));
      }
      if (unsupported_address || invalid_parameters) l.usable = false;
      if (l.usable) ++usable;
      l.admits_routes =
          v.accepted() && conflict[i].empty() && !unsupported_address && !invalid_parameters;
      gw.admits_routes = gw.admits_routes || l.admits_routes;
      ListenerStatus ls;
      ls.name = l.name;
      ls.supported_kinds = v.accepted() ? l.kinds : std::vector<RouteGroupKind>{};
      ls.conditions.push_back(condition("Accepted", v.accepted() ? kTrue : kFalse,
                                        v.accepted_reason, v.accepted_message, gen));
      ls.conditions.push_back(
          conflict[i].empty()
              ? condition("Conflicted", kFalse, "NoConflicts", "", gen)
              : condition("Conflicted", kTrue, conflict[i],
                          cat("another listener on port ", l.port,
                              conflict[i] == "ProtocolConflict" ? " has an incompatible protocol"
                                                                : " has the same hostname"),
                          gen));
      ls.conditions.push_back(condition("ResolvedRefs", v.resolved() ? kTrue : kFalse,
                                        v.refs_reason, v.refs_message, gen));
      ls.conditions.push_back(
          l.usable ? condition("Programmed", kTrue, "Programmed", "", gen)
                   : condition("Programmed", kFalse, "Invalid", "the listener is not served", gen));
      gw.status.listeners.push_back(std::move(ls));
    }

    if (unsupported_address) {
      gw.status.conditions.push_back(
          condition("Accepted", kFalse, "UnsupportedAddress",
                    "spec.addresses: kop-ingress assigns each Gateway its address itself", gen));
      t.builder.event(gw.ref, "UnsupportedAddress", "spec.addresses",
                      "requesting addresses is not supported");
    } else if (invalid_parameters) {
      gw.status.conditions.push_back(
          condition("Accepted", kFalse, "InvalidParameters",
                    cat("spec.infrastructure.parametersRef: ", str_of(params, "kind"), " \"",
                        str_of(params, "name"),
                        "\" is not supported: kop-ingress takes no Gateway parameters"),
                    gen));
      t.builder.event(gw.ref, "InvalidParameters", "spec.infrastructure.parametersRef",
                      "kop-ingress takes no Gateway parameters");
    } else if (usable == gw.listeners.size() && usable > 0) {
      gw.status.conditions.push_back(condition("Accepted", kTrue, "Accepted", "", gen));
    } else {
      gw.status.conditions.push_back(
          condition("Accepted", usable > 0 ? kTrue : kFalse, "ListenersNotValid",
                    cat(gw.listeners.size() - usable, " of ", gw.listeners.size(),
                        " listeners cannot be served"),
                    gen));
    }
    gw.accepted = !unsupported_address && !invalid_parameters && usable > 0;
    auto addr = t.options.addresses.find(gw.ref.key());
    if (addr != t.options.addresses.end()) gw.status.addresses = addr->second;
    if (!gw.accepted) {
      gw.status.conditions.push_back(
          condition("Programmed", kFalse, "Invalid", "no listener can be served", gen));
    } else if (gw.status.addresses.empty()) {
      gw.status.conditions.push_back(
          condition("Programmed", kFalse, "AddressNotAssigned", "no address assigned yet", gen));
    } else {
      gw.status.conditions.push_back(condition("Programmed", kTrue, "Programmed", "", gen));
    }
    t.gateways.push_back(std::move(gw));
  }
  std::sort(t.gateways.begin(), t.gateways.end(),
            [](const Gateway& a, const Gateway& b) { return a.ref < b.ref; });
}

}  // namespace kop::ingress::gateway::internal
