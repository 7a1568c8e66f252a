// gateway::translate(): runs the translators in order (classes, Gateways, routes) and puts
// their results together: front doors with their hosts in Gateway API precedence and their
// TLS relays, clusters, sorted statuses and Events.
#include <algorithm>
#include <map>
#include <memory>
#include <sstream>
#include <unordered_map>

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
bool precedes(const Placement& pa, const Placement& pb) {
  const Route& a = pa.route();
  const Route& b = pb.route();
  if (path_rank(a.path) != path_rank(b.path)) return path_rank(a.path) < path_rank(b.path);
  if (a.path.kind == PathKind::kPrefix && a.path.value.size() != b.path.value.size())
    return a.path.value.size() > b.path.value.size();
  if (a.method.empty() != b.method.empty()) return b.method.empty();
  if (a.headers.size() != b.headers.size()) return a.headers.size() > b.headers.size();
  if (a.query_params.size() != b.query_params.size())
    return a.query_params.size() > b.query_params.size();
  if (pa.age() < pb.age() || pb.age() < pa.age()) return pa.age() < pb.age();
  if (pa.rule != pb.rule) return pa.rule < pb.rule;
  return pa.match < pb.match;
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

// A host's own routes: its placements (in the order placed) in precedence order, a match already
// served by one that precedes it left out (never reached).
VirtualHost own_routes(const Translation& t, const std::string& host,
                       std::vector<const Placement*> placed) {
  std::stable_sort(placed.begin(), placed.end(),
                   [&](const Placement* a, const Placement* b) { return precedes(*a, *b); });
  VirtualHost vh;
  vh.host = host;
  const Placement& first = *placed.front();
  vh.tls = t.gateways[first.gateway].listeners[first.listener].tls;
  for (const Placement* p : placed) {
    const Route& route = p->route();
    if (std::any_of(vh.routes.begin(), vh.routes.end(),
                    [&](const Route& r) { return same_match(r, route); }))
      continue;
    Route r = route;
    // A redirect without scheme and port goes to the listener's port.
    if (r.redirect && !r.redirect->scheme && !r.redirect->port)
      r.redirect->port = uint16_t(p->port);
    vh.routes.emplace_back(std::move(r));
  }
  return vh;
}

// A request is matched against the rules of every hostname that covers its host, the most
// specific hostname first. The proxy picks one virtual host per request, so each host also
// carries, after its own routes, those of the wildcards covering it (narrowest first) and of
// "*"; a match the host already serves is not repeated. `covering`: the door's wildcard hosts
// and "*", own routes only, in that order. Null when no host of `covering` covers `own`.
std::shared_ptr<const VirtualHost> with_covering(const VirtualHost& own,
                                                 const std::vector<const VirtualHost*>& covering) {
  std::shared_ptr<VirtualHost> out;
  for (const VirtualHost* g : covering) {
    if (!covers(g->host, own.host)) continue;
    if (!out) out = std::make_shared<VirtualHost>(own);
    for (const proxy::Shared<Route>& r : g->routes)
      if (std::none_of(out->routes.begin(), out->routes.end(),
                       [&](const Route& o) { return same_match(o, *r); }))
        out->routes.push_back(r);  // the covering host's object, shared
  }
  return out;
}

// The order in which covering hosts lend their routes: narrowest wildcard first, "*" last.
void sort_covering(std::vector<const VirtualHost*>& covering) {
  std::sort(covering.begin(), covering.end(), [](const VirtualHost* a, const VirtualHost* b) {
    if ((a->host == "*") != (b->host == "*")) return b->host == "*";
    return a->host.size() > b->host.size();
  });
}

// What attaching and placing routes reads of our Gateways in this translation.
GatewaysKey gateways_key(const Translation& t) {
  GatewaysKey out;
  out.gateways.reserve(t.gateways.size());
  bool selects = false;
  for (const Gateway& g : t.gateways) {
    std::vector<ListenerKey> ls;
    ls.reserve(g.listeners.size());
    for (const Listener& l : g.listeners) {
      ls.push_back(ListenerKey{l.name, l.port, l.hostname, l.usable, l.admits_routes, l.kinds,
                               l.from, l.selector, l.tls, l.status});
      selects = selects || l.from == "Selector";
    }
    out.gateways.emplace_back(g.ref, g.admits_routes, std::move(ls));
  }
  if (selects) out.namespaces = t.snapshot.namespaces;
  return out;
}

// The key under which a host's last assembly is kept aside (check_gateways()) and looked up
// (assemble_door()) when the doors are rebuilt: by the Gateway's name, not its index.
std::string host_key(const ObjectRef& gateway, int64_t port, std::string_view host) {
  return cat(gateway.key(), ":", port, "/", host);
}

// The hosts of one door into `d`: a host whose placements did not change is taken as it was;
// one assembled again that equals its last assembly is that same object, so render and compile
// keep it. Every host's served routes are put together again when the door's covering hosts
// changed.
void assemble_door(Translation& t, FrontDoor& d, DoorState& door) {
  TranslateState& c = t.cache;
  std::vector<const VirtualHost*> covering;
  for (auto it = door.hosts.begin(); it != door.hosts.end();) {
    const std::string& host = it->first;
    HostState& h = it->second;
    if (h.placed.empty()) {  // its last placement went
      door.covering = door.covering || host[0] == '*';
      it = door.hosts.erase(it);
      continue;
    }
    if (!h.own) {  // new here: as the doors were before check_gateways() rebuilt them, if it was
      if (auto last = c.last_hosts.find(host_key(d.gateway, d.port, host));
          last != c.last_hosts.end())
        std::tie(h.own, h.served) = last->second;
      h.changed = true;
    }
    if (h.changed) {
      auto own = std::make_shared<const VirtualHost>(own_routes(t, host, h.placed));
      // Placed anew (its route translated again) but assembled as before: the previous object.
      h.changed = !h.own || !(*h.own == *own);
      if (h.changed) h.own = std::move(own);
      door.covering = door.covering || (h.changed && host[0] == '*');
    }
    if (host[0] == '*') covering.push_back(h.own.get());
    ++it;
  }
  sort_covering(covering);
  d.virtual_hosts.reserve(door.hosts.size());
  for (auto& [host, h] : door.hosts) {
    if (h.changed || door.covering || !h.served) {
      std::shared_ptr<const VirtualHost> served = with_covering(*h.own, covering);
      if (!served) served = h.own;
      if (!h.served || !(h.served->ptr() == served || **h.served == *served)) {
        h.served = proxy::Shared<VirtualHost>(std::move(served));
        ++c.hosts_made;
      } else {
        ++c.hosts_kept;
      }
    } else {
      ++c.hosts_kept;
    }
    h.changed = false;
    d.virtual_hosts.push_back(*h.served);
  }
  door.covering = false;
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

Translation::Translation(const Snapshot& s, const Options& o, TranslateState& c,
                         const ingress::internal::SnapshotIndex* index)
    : snapshot(s),
      options(o),
      builder(index != nullptr ? Builder(s.base ? *s.base : empty_base(), ingress_options, *index)
                               : Builder(s.base ? *s.base : empty_base(), ingress_options)),
      cache(c) {}

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
  // Each door's hosts, as the routes' placements left them.
  for (auto it = t.cache.doors.begin(); it != t.cache.doors.end();) {
    assemble_door(t, doors[it->first], it->second);
    it = it->second.hosts.empty() ? t.cache.doors.erase(it) : std::next(it);
  }
  t.cache.last_hosts.clear();
  place_relays(t, doors);
  for (auto& [key, d] : doors) {
    std::sort(d.certificates.begin(), d.certificates.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    t.result.front_doors.push_back(std::move(d));
  }
  for (Gateway& g : t.gateways) t.result.gateway_statuses.push_back(std::move(g.status));
  // The cached routes' clusters are in already (shared); the others were registered here.
  for (auto& [name, c] : t.builder.clusters) t.result.clusters.try_emplace(name, std::move(c));
  t.result.events = std::move(t.builder.events);
  std::sort(t.result.class_statuses.begin(), t.result.class_statuses.end(),
            [](const ClassStatus& a, const ClassStatus& b) { return a.name < b.name; });
  // Sorted as pointers (a RouteStatus is costly to move), then copied in that order.
  std::sort(t.route_statuses.begin(), t.route_statuses.end(),
            [](const RouteStatus* a, const RouteStatus* b) { return a->route < b->route; });
  std::vector<RouteStatus> statuses;
  statuses.reserve(t.route_statuses.size());
  for (const RouteStatus* s : t.route_statuses) statuses.push_back(*s);
  t.result.route_statuses = std::move(statuses);
  std::sort(t.result.events.begin(), t.result.events.end());
  t.result.events.erase(std::unique(t.result.events.begin(), t.result.events.end()),
                        t.result.events.end());
}

void check_gateways(Translation& t) {
  TranslateState& c = t.cache;
  GatewaysKey now = gateways_key(t);
  if (now == c.gateways) return;
  // Every route attaches again, onto doors rebuilt from scratch; each host's last assembly is
  // kept aside by name (the doors' Gateway indexes may change) so that a host assembled the
  // same stays the same object.
  c.last_hosts.clear();
  for (auto& [door, state] : c.doors) {
    const ObjectRef& gw = std::get<0>(c.gateways.gateways.at(door.first));
    for (auto& [host, h] : state.hosts)
      if (h.own && h.served)
        c.last_hosts.try_emplace(host_key(gw, door.second, host), std::move(h.own),
                                 std::move(*h.served));
  }
  c.doors.clear();
  for (auto& [key, e] : c.routes) e.attachment.valid = false;
  c.gateways = std::move(now);
}

}  // namespace internal

Result translate(const Snapshot& snapshot, const Options& options) {
  TranslateCache fresh;  // the reference: everything translated, nothing kept
  return translate(snapshot, options, &fresh);
}

Result translate(const Snapshot& snapshot, const Options& options, TranslateCache* cache) {
  if (cache == nullptr) return translate(snapshot, options);
  // Without any of these there is nothing to serve or report (ReferenceGrants, Namespaces and
  // ConfigMaps are only read on their behalf): skip the Builder, whose indexes of every Service,
  // EndpointSlice and Secret cost O(objects) in a cluster that serves Ingresses only.
  if (snapshot.gateway_classes.empty() && snapshot.gateways.empty() &&
      snapshot.http_routes.empty() && snapshot.grpc_routes.empty() && snapshot.tls_routes.empty() &&
      snapshot.backend_tls_policies.empty()) {
    cache->state_ = std::make_unique<internal::TranslateState>();
    return Result{};
  }
  if (!cache->state_) cache->state_ = std::make_unique<internal::TranslateState>();
  internal::TranslateState& c = *cache->state_;
  ++c.translations;
  c.reused = c.translated = c.hosts_kept = c.hosts_made = 0;
  // The cache's index of the base snapshot, patched: indexing every Service and EndpointSlice
  // again was 5.5 % of the process per HTTPRoute change at 10k.
  internal::Translation t(snapshot, options, c,
                          snapshot.base != nullptr ? &c.index.update(*snapshot.base) : nullptr);
  // Every route kept has its reads checked (or made) against the last translation's index.
  t.reads_as_before = c.indexed && snapshot.base != nullptr && !c.index.changed();
  c.indexed = snapshot.base != nullptr;
  internal::translate_classes(t);
  internal::translate_gateways(t);
  internal::check_gateways(t);
  internal::read_backend_tls_policies(t);
  internal::route_kind_conflicts(t);
  internal::translate_http_routes(t);
  internal::translate_grpc_routes(t);
  internal::translate_tls_routes(t);
  for (const RouteStatus& s : t.result.route_statuses) t.route_statuses.push_back(&s);
  internal::forget_unseen_routes(t);
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
            for (const Header& h : c.request_headers->set) os << "(req-set " << h.name << ")";
            for (const Header& h : c.response_headers->set) os << "(resp-set " << h.name << ")";
          }
          if (rt.invalid_weight > 0) os << " 500*" << rt.invalid_weight;
        }
        if (rt.prefix_rewrite) os << " rewrite=" << *rt.prefix_rewrite;
        if (rt.path_rewrite) os << " path=" << *rt.path_rewrite;
        if (rt.host_rewrite) os << " host=" << *rt.host_rewrite;
        if (rt.cors) os << " cors=" << rt.cors->allow_origins.size() << "-origins";
        if (rt.timeout) os << " timeout=" << rt.timeout->count() << "ms";
        if (rt.per_try_timeout) os << " backend-timeout=" << rt.per_try_timeout->count() << "ms";
        if (const auto& rp = rt.retry_policy) {
          os << " retry=" << rp->num_retries;
          for (uint32_t s : rp->statuses) os << "," << s;
          if (rp->backoff.count() > 0) os << " backoff=" << rp->backoff.count() << "ms";
        }
        for (const Header& h : rt.request_headers->set)
          os << " req-set " << h.name << "=" << h.value;
        for (const Header& h : rt.request_headers->add)
          os << " req-add " << h.name << "=" << h.value;
        for (const std::string& h : rt.request_headers->remove) os << " req-remove " << h;
        for (const Header& h : rt.response_headers->set)
          os << " resp-set " << h.name << "=" << h.value;
        for (const Header& h : rt.response_headers->add)
          os << " resp-add " << h.name << "=" << h.value;
        for (const std::string& h : rt.response_headers->remove) os << " resp-remove " << h;
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
