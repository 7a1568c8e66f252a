// gateway::translate(): runs the translators in order (classes, Gateways, routes) and puts
// their results together: front doors with their hosts in Gateway API precedence and their
// TLS relays, clusters, sorted statuses and Events.
#include <algorithm>
#include <map>
#include <numeric>
#include <sstream>

#include "gateway_internal.h"
#include "text_cat.h"

namespace kop::ingress::gateway {
namespace internal {

namespace {
const ingress::Snapshot& empty_base() {
  static const ingress::Snapshot empty;
  return empty;
}

// Gateway API precedence within one host: Exact paths, then regular expressions, then the
// longest prefix; then a method match; then more header matches; then more query parameter
// matches; then the oldest route (then namespace/name); then rule and match order.
int path_rank(const PathRule& p) {
  switch (p.kind) {
    case PathKind::kExact:
      return 0;
    case PathKind::kRegex:
      return 1;
    default:
      return 2;
  }
}
bool precedes(const Placement& a, const Placement& b) {
  if (path_rank(a.route.path) != path_rank(b.route.path))
    return path_rank(a.route.path) < path_rank(b.route.path);
  if (a.route.path.kind == PathKind::kPrefix &&
      a.route.path.value.size() != b.route.path.value.size())
    return a.route.path.value.size() > b.route.path.value.size();
  if (a.route.method.empty() != b.route.method.empty()) return b.route.method.empty();
  if (a.route.headers.size() != b.route.headers.size())
    return a.route.headers.size() > b.route.headers.size();
  if (a.route.query_params.size() != b.route.query_params.size())
    return a.route.query_params.size() > b.route.query_params.size();
  if (a.age < b.age || b.age < a.age) return a.age < b.age;
  if (a.rule != b.rule) return a.rule < b.rule;
  return a.match < b.match;
}
// Whether two routes match the same requests (the second could never be reached).
bool same_match(const Route& a, const Route& b) {
  return a.path == b.path && a.method == b.method && a.headers == b.headers &&
         a.query_params == b.query_params;
}
// Whether host `g` ("*" or a wildcard) covers the other host `h` of the same front door.
bool covers(const std::string& g, const std::string& h) {
  if (g == h) return false;
  if (g == "*") return true;
  return g[0] == '*' && intersect_hostnames(g, h) == h;
}

// A request is matched against the rules of every hostname that covers its host, the most
// specific hostname first. The proxy picks one virtual host per request, so each host also
// carries, after its own routes, those of the wildcards covering it (narrowest first) and of
// "*"; a match the host already serves is not repeated.
void inherit_covering_routes(std::map<std::string, VirtualHost>& by_host) {
  std::vector<const VirtualHost*> covering;
  for (const auto& [g, vh] : by_host)
    if (g[0] == '*') covering.push_back(&vh);
  std::sort(covering.begin(), covering.end(), [](const VirtualHost* a, const VirtualHost* b) {
    if ((a->host == "*") != (b->host == "*")) return b->host == "*";
    return a->host.size() > b->host.size();
  });
  std::map<std::string, std::vector<Route>> extra;
  for (const auto& [h, vh] : by_host) {
    for (const VirtualHost* g : covering) {
      if (!covers(g->host, h)) continue;
      for (const Route& r : g->routes) {
        auto same = [&](const Route& o) { return same_match(o, r); };
        std::vector<Route>& mine = extra[h];
        if (std::none_of(vh.routes.begin(), vh.routes.end(), same) &&
            std::none_of(mine.begin(), mine.end(), same))
          mine.push_back(r);
      }
    }
  }
  for (auto& [h, routes] : extra)
    for (Route& r : routes) by_host[h].routes.push_back(std::move(r));
}

// TLSRoute relays onto their front doors. One relay per SNI name and door: the oldest route
// keeps a name two routes claim; a name a certificate of another listener on the port already
// serves stays that listener's (the proxy refuses a name used twice). A Terminate relay needs
// a certificate named exactly its host (the proxy's wildcard certificates cover one label,
// Gateway API's several): its listener's certificate is added under that name.
void place_relays(Translation& t, std::map<std::pair<size_t, int64_t>, FrontDoor>& doors) {
  std::stable_sort(t.relays.begin(), t.relays.end(),
                   [](const RelayPlacement& a, const RelayPlacement& b) { return a.age < b.age; });
  for (RelayPlacement& p : t.relays) {
    FrontDoor& d = doors[{p.gateway, p.port}];
    const Listener& l = t.gateways[p.gateway].listeners[p.listener];
    const std::string& host = p.relay.host;
    auto taken = [&](const TcpProxy& r) { return r.host == host; };
    if (std::any_of(d.relays.begin(), d.relays.end(), taken)) {
      t.builder.event(p.relay.source, "HostnameConflict", "spec.hostnames",
                      cat("\"", host, "\" on ", d.gateway.key(), " port ", d.port,
                          " is already relayed for an older TLSRoute"));
      continue;
    }
    auto cert = std::find_if(d.certificates.begin(), d.certificates.end(),
                             [&](const auto& c) { return c.first == host; });
    bool own_cert = cert != d.certificates.end() && p.relay.tls && cert->second == *p.relay.tls &&
                    l.hostname == host;
    if (cert != d.certificates.end() && !own_cert) {
      t.builder.event(p.relay.source, "HostnameConflict", "spec.hostnames",
                      cat("\"", host, "\" on ", d.gateway.key(), " port ", d.port,
                          " is served by another listener's certificate"));
      continue;
    }
    if (p.relay.tls && cert == d.certificates.end())
      d.certificates.emplace_back(host, *p.relay.tls);
    d.relays.push_back(std::move(p.relay));
  }
  for (auto& [key, d] : doors)
    std::sort(d.relays.begin(), d.relays.end(),
              [](const TcpProxy& a, const TcpProxy& b) { return a.host < b.host; });
}

}  // namespace

Condition condition(std::string_view type, std::string_view status, std::string_view reason,
                    std::string message, int64_t generation) {
  Condition c;
  c.type = std::string(type);
  c.status = std::string(status);
  c.reason = std::string(reason);
  c.message = std::move(message);
  c.observed_generation = generation;
  return c;
}

Translation::Translation(const Snapshot& s, const Options& o)
    : snapshot(s), options(o), builder(s.base ? *s.base : empty_base(), ingress_options) {}

Gateway* Translation::find_gateway(std::string_view ns, std::string_view name) {
  for (Gateway& g : gateways)
    if (g.ref.ns == ns && g.ref.name == name) return &g;
  return nullptr;
}

api::StringMap Translation::namespace_labels(std::string_view name) const {
  for (const auto& n : snapshot.namespaces) {
    if (n->name() != name) continue;
    api::StringMap labels = n->labels();
    // Kubernetes 1.21 and later label every Namespace with its name (immutable); older servers
    // do not, so a listener selecting namespaces by name (as upstream conformance's
    // GatewayWithAttachedRoutes does) would select nothing there.
    labels.try_emplace("kubernetes.io/metadata.name", std::string(name));
    return labels;
  }
  return {};
}

void assemble(Translation& t) {
  // One front door per (Gateway, port) with a served listener, even before a route attaches.
  std::map<std::pair<size_t, int64_t>, FrontDoor> doors;
  for (size_t g = 0; g < t.gateways.size(); ++g) {
    for (const Listener& l : t.gateways[g].listeners) {
      if (!l.usable) continue;
      FrontDoor& d = doors[{g, l.port}];
      d.gateway = t.gateways[g].ref;
      d.port = uint16_t(l.port);
      if (d.protocol.empty() || l.protocol == "HTTPS") d.protocol = l.protocol;
      if (l.tls) d.certificates.emplace_back(l.hostname.empty() ? "*" : l.hostname, *l.tls);
    }
  }
  // Their order sorted, not the placements: each holds a whole Route (a sort of 20,000
  // placements moved every Route about 15 times, a tenth of a translation at 10k HTTPRoutes).
  std::vector<size_t> order(t.placements.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return precedes(t.placements[a], t.placements[b]); });
  std::map<std::pair<size_t, int64_t>, std::map<std::string, VirtualHost>> hosts;
  for (size_t i : order) {
    Placement& p = t.placements[i];
    VirtualHost& vh = hosts[{p.gateway, p.port}][p.host];
    if (vh.host.empty()) {
      vh.host = p.host;
      vh.tls = t.gateways[p.gateway].listeners[p.listener].tls;
    }
    // A match already served on this host by a route that precedes it is never reached.
    bool shadowed = std::any_of(vh.routes.begin(), vh.routes.end(),
                                [&](const Route& r) { return same_match(r, p.route); });
    if (!shadowed) vh.routes.push_back(std::move(p.route));
  }
  for (auto& [key, by_host] : hosts) {
    FrontDoor& d = doors[key];
    inherit_covering_routes(by_host);
    for (auto& [host, vh] : by_host) d.virtual_hosts.push_back(std::move(vh));
  }
  place_relays(t, doors);
  for (auto& [key, d] : doors) {
    std::sort(d.certificates.begin(), d.certificates.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    t.result.front_doors.push_back(std::move(d));
  }
  for (Gateway& g : t.gateways) t.result.gateway_statuses.push_back(std::move(g.status));
  t.result.clusters = std::move(t.builder.clusters);
  t.result.events = std::move(t.builder.events);
  std::sort(t.result.class_statuses.begin(), t.result.class_statuses.end(),
            [](const ClassStatus& a, const ClassStatus& b) { return a.name < b.name; });
  std::sort(t.result.route_statuses.begin(), t.result.route_statuses.end(),
            [](const RouteStatus& a, const RouteStatus& b) { return a.route < b.route; });
  std::sort(t.result.events.begin(), t.result.events.end());
  t.result.events.erase(std::unique(t.result.events.begin(), t.result.events.end()),
                        t.result.events.end());
}

}  // namespace internal

Result translate(const Snapshot& snapshot, const Options& options) {
  internal::Translation t(snapshot, options);
  internal::translate_classes(t);
  internal::translate_gateways(t);
  internal::read_backend_tls_policies(t);
  internal::route_kind_conflicts(t);
  internal::translate_http_routes(t);
  internal::translate_grpc_routes(t);
  internal::translate_tls_routes(t);
  internal::backend_tls_policy_statuses(t);
  internal::assemble(t);
  return std::move(t.result);
}

namespace {
void conditions_to(std::ostream& os, const std::vector<Condition>& cs, const char* indent) {
  for (const Condition& c : cs) {
    os << indent << c.type << "=" << c.status << " " << c.reason
       << " gen=" << c.observed_generation;
    if (!c.message.empty()) os << " \"" << c.message << "\"";
    os << "\n";
  }
}
}  // namespace

std::string describe(const Result& r) {
  std::ostringstream os;
  for (const FrontDoor& d : r.front_doors) {
    os << "front door " << d.gateway.key() << " :" << d.port << " " << d.protocol << "\n";
    for (const VirtualHost& vh : d.virtual_hosts) {
      os << "  host " << vh.host;
      if (vh.tls) os << " tls=" << vh.tls->secret.key();
      os << "\n";
      for (const Route& rt : vh.routes) {
        static const char* kinds[] = {"exact", "prefix", "string-prefix", "regex"};
        os << "    " << kinds[int(rt.path.kind)] << " " << rt.path.value;
        if (!rt.method.empty()) os << " " << rt.method;
        for (const HeaderCondition& h : rt.headers)
          os << " [" << h.name << (h.op == HeaderOp::kRegex ? "~" : "=") << h.value << "]";
        for (const QueryCondition& q : rt.query_params)
          os << " [?" << q.name << (q.regex ? "~" : "=") << q.value << "]";
        if (rt.action == RouteAction::kNoBackend) {
          os << " -> 500";
        } else if (rt.action == RouteAction::kRedirect && rt.redirect) {
          const Redirect& rd = *rt.redirect;
          os << " -> redirect " << rd.code;
          if (rd.scheme) os << " scheme=" << *rd.scheme;
          if (rd.host) os << " host=" << *rd.host;
          if (rd.port) os << " port=" << *rd.port;
          if (rd.path) os << " path=" << *rd.path;
          if (rd.prefix_rewrite) os << " prefix=" << *rd.prefix_rewrite;
        } else {
          os << " ->";
          for (const WeightedCluster& c : rt.clusters) {
            os << " " << c.cluster << "*" << c.weight;
            for (const Header& h : c.request_headers.set) os << "(req-set " << h.name << ")";
            for (const Header& h : c.response_headers.set) os << "(resp-set " << h.name << ")";
          }
          if (rt.invalid_weight > 0) os << " 500*" << rt.invalid_weight;
        }
        if (rt.prefix_rewrite) os << " rewrite=" << *rt.prefix_rewrite;
        if (rt.path_rewrite) os << " path=" << *rt.path_rewrite;
        if (rt.host_rewrite) os << " host=" << *rt.host_rewrite;
        if (rt.cors) os << " cors=" << rt.cors->allow_origins.size() << "-origins";
        if (rt.timeout) os << " timeout=" << rt.timeout->count() << "ms";
        if (rt.per_try_timeout) os << " backend-timeout=" << rt.per_try_timeout->count() << "ms";
        for (const Header& h : rt.request_headers.set)
          os << " req-set " << h.name << "=" << h.value;
        for (const Header& h : rt.request_headers.add)
          os << " req-add " << h.name << "=" << h.value;
        for (const std::string& h : rt.request_headers.remove) os << " req-remove " << h;
        for (const Header& h : rt.response_headers.set)
          os << " resp-set " << h.name << "=" << h.value;
        for (const Header& h : rt.response_headers.add)
          os << " resp-add " << h.name << "=" << h.value;
        for (const std::string& h : rt.response_headers.remove) os << " resp-remove " << h;
        os << "  (" << rt.source.key() << " " << rt.field << ")\n";
      }
    }
    for (const TcpProxy& p : d.relays) {
      os << "  relay " << p.host << (p.tls ? " terminate tls=" + p.tls->secret.key() : "") << " ->";
      for (const WeightedCluster& c : p.clusters) os << " " << c.cluster << "*" << c.weight;
      if (p.invalid_weight > 0) os << " closed*" << p.invalid_weight;
      os << "  (" << p.source.key() << ")\n";
    }
  }
  for (const ClassStatus& c : r.class_statuses) {
    os << "GatewayClass " << c.name << "\n";
    conditions_to(os, c.conditions, "  ");
  }
  for (const GatewayStatus& g : r.gateway_statuses) {
    os << "Gateway " << g.gateway.key();
    for (const std::string& a : g.addresses) os << " address=" << a;
    os << "\n";
    conditions_to(os, g.conditions, "  ");
    for (const ListenerStatus& l : g.listeners) {
      os << "  listener " << l.name << " attachedRoutes=" << l.attached_routes << " kinds=";
      for (const RouteGroupKind& k : l.supported_kinds) os << k.kind << ",";
      os << "\n";
      conditions_to(os, l.conditions, "    ");
    }
  }
  for (const RouteStatus& rs : r.route_statuses) {
    os << rs.route.kind << " " << rs.route.key() << "\n";
    for (const RouteParentStatus& p : rs.parents) {
      os << "  parent " << p.parent.ns << "/" << p.parent.name;
      if (!p.parent.section_name.empty()) os << " section=" << p.parent.section_name;
      if (p.parent.port) os << " port=" << *p.parent.port;
      os << "\n";
      conditions_to(os, p.conditions, "    ");
    }
  }
  for (const PolicyStatus& ps : r.policy_statuses) {
    os << ps.policy.kind << " " << ps.policy.key() << "\n";
    for (const RouteParentStatus& a : ps.ancestors) {
      os << "  ancestor " << a.parent.ns << "/" << a.parent.name << "\n";
      conditions_to(os, a.conditions, "    ");
    }
  }
  for (const Event& e : r.events) os << "event " << e.reason << " " << e.message << "\n";
  return os.str();
}

}  // namespace kop::ingress::gateway
