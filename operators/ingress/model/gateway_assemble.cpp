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

// A host's own routes: its placements (indexes into t.placements, in the order placed) in
// precedence order, a match already served by one that precedes it left out (never reached).
VirtualHost own_routes(const Translation& t, const std::string& host, std::vector<size_t> placed) {
  std::stable_sort(placed.begin(), placed.end(),
                   [&](size_t a, size_t b) { return precedes(t.placements[a], t.placements[b]); });
  VirtualHost vh;
  vh.host = host;
  const Placement& first = t.placements[placed.front()];
  vh.tls = t.gateways[first.gateway].listeners[first.listener].tls;
  for (size_t i : placed) {
    const Placement& p = t.placements[i];
    const Route& route = p.route();
    if (std::any_of(vh.routes.begin(), vh.routes.end(),
                    [&](const Route& r) { return same_match(r, route); }))
      continue;
    Route r = route;
    // A redirect without scheme and port goes to the listener's port.
    if (r.redirect && !r.redirect->scheme && !r.redirect->port) r.redirect->port = uint16_t(p.port);
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

// What the placements' listener indexes stand for in this translation.
ListenersKey listeners_key(const Translation& t) {
  ListenersKey out;
  out.reserve(t.gateways.size());
  for (const Gateway& g : t.gateways) {
    std::vector<ListenerKey> ls;
    ls.reserve(g.listeners.size());
    for (const Listener& l : g.listeners)
      ls.push_back(ListenerKey{l.name, l.port, l.hostname, l.usable, l.tls});
    out.emplace_back(g.ref, std::move(ls));
  }
  return out;
}

// The front door hosts of one door (`by_host`: host -> its placements) into `d`. With a cache, a
// host placed as at the last translation (same route translations, rules, matches, listeners)
// whose covering hosts did not change is taken as it was, without being assembled; a host
// assembled again that equals the last one is that same object, so render and compile keep it.
void assemble_door(Translation& t, FrontDoor& d,
                   const std::map<std::string, std::vector<size_t>>& by_host, bool same_listeners,
                   std::unordered_map<std::string, HostRecord>& next) {
  struct Host {
    const std::string* name;
    HostRecord rec;
    const HostRecord* last = nullptr;
    bool own_new = true;
  };
  std::vector<Host> hosts;
  hosts.reserve(by_host.size());
  std::vector<std::string> covering_names;
  bool covering_changed = false;
  for (const auto& [host, placed] : by_host) {
    Host h{&host, {}, nullptr, true};
    if (t.cache != nullptr) {
      for (size_t i : placed) {
        const Placement& p = t.placements[i];
        h.rec.placed.emplace_back(p.entry->serial, p.rule, p.match, p.listener);
      }
      std::sort(h.rec.placed.begin(), h.rec.placed.end());
      auto last = t.cache->hosts.find(cat(d.gateway.key(), ":", d.port, "/", host));
      if (last != t.cache->hosts.end()) h.last = &last->second;
      h.own_new = !(same_listeners && h.last != nullptr && h.last->placed == h.rec.placed);
    }
    h.rec.own =
        h.own_new ? std::make_shared<const VirtualHost>(own_routes(t, host, placed)) : h.last->own;
    // Placed anew (its route translated again, as after every status write) but assembled as
    // before: the previous object, else the cache would keep this copy beside the previous one
    // that `served` keeps below (every host twice after a round of status writes).
    if (h.own_new && h.last != nullptr && *h.last->own == *h.rec.own) h.rec.own = h.last->own;
    if (host[0] == '*') {
      covering_names.push_back(host);
      covering_changed = covering_changed || h.own_new;
    }
    hosts.push_back(std::move(h));
  }
  std::string door = cat(d.gateway.key(), ":", d.port);
  if (t.cache != nullptr) {
    auto last = t.cache->covering.find(door);
    if (last == t.cache->covering.end() ? !covering_names.empty() : last->second != covering_names)
      covering_changed = true;
  }
  std::vector<const VirtualHost*> covering;
  for (const Host& h : hosts)
    if ((*h.name)[0] == '*') covering.push_back(h.rec.own.get());
  sort_covering(covering);
  d.virtual_hosts.reserve(hosts.size());
  for (Host& h : hosts) {
    if (!h.own_new && !covering_changed) {
      h.rec.served = h.last->served;
    } else {
      std::shared_ptr<const VirtualHost> served = with_covering(*h.rec.own, covering);
      if (!served) served = h.rec.own;
      bool same =
          h.last != nullptr && (h.last->served.ptr() == served || *h.last->served == *served);
      h.rec.served = same ? h.last->served : proxy::Shared<VirtualHost>(std::move(served));
    }
    d.virtual_hosts.push_back(h.rec.served);
    if (t.cache == nullptr) continue;
    ++(h.last != nullptr && h.last->served.ptr() == h.rec.served.ptr() ? t.cache->hosts_kept
                                                                       : t.cache->hosts_made);
    next.emplace(cat(door, "/", *h.name), std::move(h.rec));
  }
  if (t.cache != nullptr && !covering_names.empty())
    t.cache->covering[door] = std::move(covering_names);
  else if (t.cache != nullptr)
    t.cache->covering.erase(door);
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

Translation::Translation(const Snapshot& s, const Options& o,
                         const ingress::internal::SnapshotIndex* index)
    : snapshot(s),
      options(o),
      builder(index != nullptr ? Builder(s.base ? *s.base : empty_base(), ingress_options, *index)
                               : Builder(s.base ? *s.base : empty_base(), ingress_options)) {}

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
  // Each door's hosts from the placements that name them.
  std::map<std::pair<size_t, int64_t>, std::map<std::string, std::vector<size_t>>> placed;
  for (size_t i = 0; i < t.placements.size(); ++i) {
    const Placement& p = t.placements[i];
    placed[{p.gateway, p.port}][p.host].push_back(i);
  }
  bool same_listeners = false;
  std::unordered_map<std::string, HostRecord> next;
  if (t.cache != nullptr) {
    ListenersKey listeners = listeners_key(t);
    same_listeners = listeners == t.cache->listeners;
    if (!same_listeners) t.cache->listeners = std::move(listeners);
    next.reserve(t.cache->hosts.size());
  }
  for (const auto& [key, by_host] : placed)
    assemble_door(t, doors[key], by_host, same_listeners, next);
  if (t.cache != nullptr) {
    t.cache->hosts = std::move(next);
    // Doors gone: their covering hosts are forgotten.
    std::erase_if(t.cache->covering, [&](const auto& c) {
      return std::none_of(doors.begin(), doors.end(), [&](const auto& d) {
        return cat(d.second.gateway.key(), ":", d.second.port) == c.first;
      });
    });
  }
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
  std::sort(t.result.route_statuses.begin(), t.result.route_statuses.end(),
            [](const RouteStatus& a, const RouteStatus& b) { return a.route < b.route; });
  std::sort(t.result.events.begin(), t.result.events.end());
  t.result.events.erase(std::unique(t.result.events.begin(), t.result.events.end()),
                        t.result.events.end());
}

}  // namespace internal

Result translate(const Snapshot& snapshot, const Options& options) {
  return translate(snapshot, options, nullptr);
}

Result translate(const Snapshot& snapshot, const Options& options, TranslateCache* cache) {
  // Without any of these there is nothing to serve or report (ReferenceGrants, Namespaces and
  // ConfigMaps are only read on their behalf): skip the Builder, whose indexes of every Service,
  // EndpointSlice and Secret cost O(objects) in a cluster that serves Ingresses only.
  if (snapshot.gateway_classes.empty() && snapshot.gateways.empty() &&
      snapshot.http_routes.empty() && snapshot.grpc_routes.empty() && snapshot.tls_routes.empty() &&
      snapshot.backend_tls_policies.empty()) {
    if (cache != nullptr) cache->state_ = std::make_unique<internal::TranslateState>();
    return Result{};
  }
  if (cache != nullptr && !cache->state_)
    cache->state_ = std::make_unique<internal::TranslateState>();
  // The cache's index of the base snapshot, patched: indexing every Service and EndpointSlice
  // again was 5.5 % of the process per HTTPRoute change at 10k.
  internal::Translation t(snapshot, options,
                          cache != nullptr && snapshot.base != nullptr
                              ? &cache->state_->index.update(*snapshot.base)
                              : nullptr);
  if (cache != nullptr) {
    t.cache = cache->state_.get();
    ++t.cache->translations;
    t.cache->reused = t.cache->translated = t.cache->hosts_kept = t.cache->hosts_made = 0;
  }
  internal::translate_classes(t);
  internal::translate_gateways(t);
  internal::read_backend_tls_policies(t);
  internal::route_kind_conflicts(t);
  internal::translate_http_routes(t);
  internal::translate_grpc_routes(t);
  internal::translate_tls_routes(t);
  internal::backend_tls_policy_statuses(t);
  internal::assemble(t);
  if (t.cache != nullptr)  // routes gone (or no longer ours) are forgotten
    std::erase_if(t.cache->routes,
                  [&](const auto& e) { return e.second.seen != t.cache->translations; });
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
