// TLSRoute (v1): each parentRef resolved against our Gateways' TLS listeners (sectionName, port,
// allowedRoutes, hostname intersection), its backendRefs to Services by weight, and per
// attached listener one relay per hostname: Passthrough listeners relay the encrypted bytes by
// SNI, Terminate listeners decrypt with their certificate and relay the plaintext.
#include "gateway_internal.h"

namespace kop::ingress::gateway::internal {

namespace {

// The route's backends by weight, over all its rules (the API allows one); the weight of
// those that cannot be used is `invalid_weight` (that share of connections is closed).
struct Backends {
  std::vector<WeightedCluster> clusters;
  uint32_t invalid_weight = 0;
  std::string refs_reason;  // first backendRef problem (ResolvedRefs=False), "" = none
  std::string refs_message;
  std::string unsupported;  // a field the route cannot be served with, "" = none
};

Backends backends(Translation& t, const api::Object& route, const ObjectRef& src) {
  Backends out;
  size_t ri = 0;
  for (const rapidjson::Value* rule : items_of(route.spec(), "rules")) {
    size_t i = 0;
    for (const rapidjson::Value* ref : items_of(rule, "backendRefs")) {
      std::string field = cat("spec.rules[", ri, "].backendRefs[", i++, "]");
      int64_t weight = int_of(ref, "weight").value_or(1);
      if (weight < 0 || weight > 1000000) {
        out.unsupported = field + ".weight: must be 0-1000000";
        t.builder.event(src, "UnsupportedValue", field + ".weight", "must be 0-1000000");
        continue;
      }
      ServiceBackend b = service_backend(t, route, src, ref, field, /*h2c=*/false,
                                         /*backend_tls=*/false);
      if (!b.cluster) {
        out.invalid_weight += uint32_t(weight);
        if (out.refs_reason.empty()) {
          out.refs_reason = b.reason;
          out.refs_message = cat(field, ": ", b.message);
        }
        continue;
      }
      if (weight == 0) continue;
      auto same = std::find_if(out.clusters.begin(), out.clusters.end(),
                               [&](const WeightedCluster& c) { return c.cluster == *b.cluster; });
      if (same != out.clusters.end()) {
        same->weight += uint32_t(weight);  // two refs to one Service port: one entry
      } else {
        WeightedCluster entry;
        entry.cluster = *b.cluster;
        entry.weight = uint32_t(weight);
        out.clusters.push_back(std::move(entry));
      }
    }
    ++ri;
  }
  return out;
}

}  // namespace

void translate_tls_routes(Translation& t) {
  for (const auto& ptr : t.snapshot.tls_routes) {
    const api::Object& route = *ptr;
    if (route.is_being_deleted()) continue;
    ObjectRef src{"TLSRoute", std::string(route.ns()), std::string(route.name())};
    Age age = age_of(route, "TLSRoute");

    std::vector<std::pair<ParentRef, Gateway*>> parents = our_parents(t, route, src);
    if (parents.empty()) continue;  // not ours to touch
    size_t given = 0;
    std::vector<std::string> hosts = route_hostnames(t, route, src, given);
    Backends be = backends(t, route, src);

    RuleOutcome outcome;
    outcome.served = be.unsupported.empty() ? 1 : 0;  // the API allows one rule
    outcome.dropped = 1 - outcome.served;
    outcome.unsupported = be.unsupported;
    outcome.refs_reason = be.refs_reason;
    outcome.refs_message = be.refs_message;
    RouteStatus st;
    st.route = src;
    for (auto& [ref, gw] : parents) {
      st.parents.emplace_back();
      std::vector<size_t> listeners =
          attach(t, *gw, ref, route, src, "TLSRoute", hosts, given > 0, outcome, st.parents.back());
      size_t gi = size_t(gw - t.gateways.data());
      for (size_t li : listeners) {
        Listener& l = gw->listeners[li];
        if (!l.usable) continue;  // attached, but the listener is not served
        // A relay is chosen by SNI: a route without hostnames relays the listener's hostname.
        std::vector<std::string> served;
        if (hosts.empty() && !l.hostname.empty()) served.push_back(l.hostname);
        for (const std::string& h : hosts)
          if (auto i = intersect_hostnames(l.hostname, h)) served.push_back(*i);
        for (const std::string& host : served) {
          RelayPlacement p;
          p.gateway = gi;
          p.listener = li;
          p.port = l.port;
          p.age = age;
          p.relay.host = host;
          p.relay.clusters = be.clusters;
          p.relay.invalid_weight = be.invalid_weight;
          if (l.tls_mode == "Terminate") p.relay.tls = l.tls;
          p.relay.source = src;
          t.relays.push_back(std::move(p));
        }
      }
    }
    t.result.route_statuses.push_back(std::move(st));
  }
}

}  // namespace kop::ingress::gateway::internal
