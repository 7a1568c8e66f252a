// BuildCache::build(): the incremental build (model.h states the contract). The Ingresses'
// translations come from the IngressCache (build_cache.h); each host is assembled from the
// candidates that name it, so a change re-assembles only the hosts whose candidates changed and
// patches the Model kept from the previous build. assemble.cpp's whole-snapshot assembly stays
// the reference (tests/unit/ingress/incremental_build_test.cpp compares them after random
// changes); the rules both apply are in assembly_rules.h.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "assembly_rules.h"
#include "build_cache.h"
#include "nginx_ingress.h"
#include "paths.h"
#include "text_cat.h"

namespace kop::ingress {
namespace internal {
namespace {

// A tcpproxy host: a certificate bound to it by another object is not served.
struct TcpHost {
  ObjectRef source;
  bool tls = false;
};

// The candidates that name one host.
struct HostInputs {
  std::vector<const RouteCandidate*> routes;
  std::vector<const TlsCandidate*> tls;
};

bool same_age(const Age& a, const Age& b) {
  return a.created == b.created && a.ref == b.ref;
}

bool same_routes(const std::vector<RouteCandidate>& a, const std::vector<RouteCandidate>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].host != b[i].host || a[i].order != b[i].order || !same_age(a[i].age, b[i].age) ||
        a[i].nginx_path != b[i].nginx_path || a[i].nginx_regex != b[i].nginx_regex ||
        a[i].host_fallback != b[i].host_fallback || a[i].canary.has_value() ||
        b[i].canary.has_value() || !(a[i].route == b[i].route))
      return false;
  return true;
}

bool same_tls(const std::vector<TlsCandidate>& a, const std::vector<TlsCandidate>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].host != b[i].host || a[i].field != b[i].field || !same_age(a[i].age, b[i].age) ||
        !(a[i].tls == b[i].tls))
      return false;
  return true;
}

bool same_tcp(const std::vector<TcpProxyCandidate>& a, const std::vector<TcpProxyCandidate>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_age(a[i].age, b[i].age) || !(a[i].tcp_proxy == b[i].tcp_proxy)) return false;
  return true;
}

const std::vector<RouteCandidate> kNoRoutes;

std::string ns_name(const api::Object& o) {
  return cat(o.ns(), "/", o.name());
}

}  // namespace

struct IncrementalState {
  // The listings of the last build and the Builder's indexes of them, patched at each build
  // with what the caches changed.
  ListTracker ingress_list, service_list, slice_list, secret_list, config_map_list;
  SnapshotIndex index;
  IngressCache ingresses;
  // `model` and the fields below describe the last build (false: the next one is full).
  bool valid = false;
  bool full = true;
  size_t hosts_assembled = 0;
  // The clusters assemble_changed() replaced (the build assembled no host when clusters_only).
  bool clusters_only = false;
  std::vector<BuildCache::ClusterChange> replaced;
  Model model;
  // The IngressRoutes' candidates of the last build (IngressRoutes are translated whole at
  // every build; a difference makes the build full).
  std::vector<RouteCandidate> ir_routes;
  std::vector<RouteCandidate> ir_defaults;
  std::vector<TlsCandidate> ir_tls;
  std::vector<TcpProxyCandidate> ir_tcp;
  // Rules without host after conflicts (merged into every host), and the default backend.
  HostRoutes star;
  std::optional<proxy::Shared<Route>> default_route;
  std::vector<Event> default_events;
  std::map<std::string, TcpHost> tcp_hosts;
  // host -> keys of the Ingress entries with a route or TLS candidate for it.
  std::unordered_map<std::string, std::vector<EntryKey>> host_entries;
  // host -> the Events its assembly recorded (conflicts); only hosts that have some.
  std::unordered_map<std::string, std::vector<Event>> host_events;
  // cluster name -> references from the model's routes and tcp proxies.
  std::unordered_map<std::string, size_t> cluster_uses;
  // "namespace/name" of an Ingress -> its entry key, to find the entry behind a route's source.
  std::unordered_map<std::string, EntryKey> entry_of;

  const Model& build(const Snapshot& snapshot, const Options& options);

 private:
  void assemble_all(Builder& b);
  bool assemble_changed(Builder& b);
  // The host's virtual host (none when it has no route), and the Events of its conflicts.
  std::optional<VirtualHost> assemble_host(const std::string& host, HostInputs in,
                                           std::vector<Event>& events) const;
  HostRoutes resolve(const std::string& host, std::vector<const RouteCandidate*> candidates,
                     std::vector<Event>& events) const;
  void use(const VirtualHost& vh, std::map<std::string, ObjectRef>* acquired);
  void release(const VirtualHost& vh, std::set<std::string>& released);
  void link_entry(const EntryKey& key, const IngressEntry& e);
  void unlink_entry(std::string_view key, const IngressEntry& e);
  void collect(Builder& b);
};

HostRoutes IncrementalState::resolve(const std::string& host,
                                     std::vector<const RouteCandidate*> candidates,
                                     std::vector<Event>& events) const {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const RouteCandidate* x, const RouteCandidate* y) { return older(*x, *y); });
  HostRoutes routes;
  for (const RouteCandidate* c : candidates) {
    const Route& route = *c->route;
    MatchKey key{route.path, route.headers};
    auto it = routes.find(key);
    if (it == routes.end()) {
      routes.emplace(std::move(key), c->route);
      continue;
    }
    const Route& taken = *it->second;
    events.push_back(make_event(
        route.source, "HostPathConflict", route.field,
        cat("host \"", host, "\" path ", kind_name(route.path.kind), " \"", route.path.value,
            "\" is already routed by ", taken.source.kind, " ", taken.source.key(), " (",
            taken.field, "), which is older; this path is ignored")));
  }
  return routes;
}

std::optional<VirtualHost> IncrementalState::assemble_host(const std::string& host, HostInputs in,
                                                           std::vector<Event>& events) const {
  HostRoutes routes = resolve(host, in.routes, events);
  // TLS: one Secret per host, the oldest binding wins.
  std::stable_sort(in.tls.begin(), in.tls.end(),
                   [](const TlsCandidate* x, const TlsCandidate* y) { return x->age < y->age; });
  const TlsCandidate* winner = nullptr;
  ClientAuthChoice client_auth;
  for (const TlsCandidate* t : in.tls) {
    if (auto e = client_auth.add(host, *t)) events.push_back(std::move(*e));
    if (winner == nullptr) {
      winner = t;
    } else if (winner->tls.secret != t->tls.secret) {
      events.push_back(
          make_event(t->age.ref, "TLSConflict", t->field,
                     cat("host \"", host, "\" already takes its certificate from Secret ",
                         winner->tls.secret.key(), " of ", winner->age.ref.kind, " ",
                         winner->age.ref.key(), ", which is older")));
    }
  }
  auto tcp = tcp_hosts.find(host);
  if (winner != nullptr && tcp != tcp_hosts.end()) {
    events.push_back(make_event(
        winner->age.ref, tcp->second.tls ? "TLSHostIsTCPProxy" : "TLSHostIsPassthrough",
        winner->field,
        tcp->second.tls ? cat("host \"", host, "\" is the TLS-terminated tcpproxy of IngressRoute ",
                              tcp->second.source.key(), ": this certificate is not served")
                        : cat("host \"", host, "\" is TLS passthrough of IngressRoute ",
                              tcp->second.source.key(), ": this certificate is not served")));
    winner = nullptr;
  }
  bool exists = !in.routes.empty() || winner != nullptr || (host == "*" && default_route);
  if (!exists) return std::nullopt;
  if (host != "*")
    for (const auto& [key, route] : star)
      if (!covered(routes, key)) routes.emplace(key, route);
  if (default_route) {
    MatchKey root{PathRule{}, {}};
    if (!covered(routes, root)) routes.emplace(root, *default_route);
  }
  if (routes.empty()) return std::nullopt;
  VirtualHost vh;
  vh.host = host;
  if (winner != nullptr) {
    vh.tls = winner->tls;
    client_auth.apply(*vh.tls);
  }
  vh.routes.reserve(routes.size());
  bool can_redirect = vh.tls || tcp != tcp_hosts.end();
  for (auto& [key, route] : routes) vh.routes.push_back(served_route(route, can_redirect));
  std::sort(vh.routes.begin(), vh.routes.end(), route_precedes);
  return vh;
}

void IncrementalState::use(const VirtualHost& vh, std::map<std::string, ObjectRef>* acquired) {
  for (const Route& r : vh.routes)
    for_each_cluster(r, [&](const std::string& c) {
      if (cluster_uses[c]++ == 0 && acquired != nullptr) acquired->emplace(c, r.source);
    });
}

void IncrementalState::release(const VirtualHost& vh, std::set<std::string>& released) {
  for (const Route& r : vh.routes)
    for_each_cluster(r, [&](const std::string& c) {
      auto it = cluster_uses.find(c);
      if (it == cluster_uses.end()) return;
      if (--it->second == 0) {
        cluster_uses.erase(it);
        released.insert(c);
      }
    });
}

void IncrementalState::link_entry(const EntryKey& key, const IngressEntry& e) {
  entry_of[ns_name(*e.ingress)] = key;
  auto add = [&](const std::string& host) {
    auto& keys = host_entries[host];
    if (keys.empty() || keys.back() != key) keys.push_back(key);
  };
  for (const RouteCandidate& c : e.routes) add(c.host);
  for (const TlsCandidate& t : e.tls) add(t.host);
}

void IncrementalState::unlink_entry(std::string_view key, const IngressEntry& e) {
  if (auto it = entry_of.find(ns_name(*e.ingress)); it != entry_of.end() && it->second == key)
    entry_of.erase(it);
  auto drop = [&](const std::string& host) {
    auto it = host_entries.find(host);
    if (it == host_entries.end()) return;
    std::erase(it->second, key);
    if (it->second.empty()) host_entries.erase(it);
  };
  for (const RouteCandidate& c : e.routes) drop(c.host);
  for (const TlsCandidate& t : e.tls) drop(t.host);
}

// Every host from every candidate: the first build, and whenever a change reaches beyond the
// hosts it names.
void IncrementalState::assemble_all(Builder& b) {
  model = Model{};
  star.clear();
  default_route.reset();
  default_events.clear();
  tcp_hosts.clear();
  host_entries.clear();
  host_events.clear();
  cluster_uses.clear();
  entry_of.clear();

  std::map<std::string, HostInputs> inputs;
  std::vector<const RouteCandidate*> defaults;
  for (const auto& [key, e] : ingresses.entries) {
    link_entry(key, e);
    for (const RouteCandidate& c : e.routes) inputs[c.host].routes.push_back(&c);
    for (const TlsCandidate& t : e.tls) inputs[t.host].tls.push_back(&t);
    for (const RouteCandidate& d : e.default_backends) defaults.push_back(&d);
  }
  for (const RouteCandidate& c : ir_routes) inputs[c.host].routes.push_back(&c);
  for (const TlsCandidate& t : ir_tls) inputs[t.host].tls.push_back(&t);
  for (const RouteCandidate& d : ir_defaults) defaults.push_back(&d);

  std::vector<const TcpProxyCandidate*> tcp;
  tcp.reserve(ir_tcp.size());
  for (const TcpProxyCandidate& p : ir_tcp) tcp.push_back(&p);
  std::stable_sort(tcp.begin(), tcp.end(),
                   [](const auto* x, const auto* y) { return x->age < y->age; });
  std::map<std::string, const TcpProxy*> tcp_by_host;
  for (const TcpProxyCandidate* p : tcp)
    if (tcp_by_host.emplace(p->tcp_proxy.host, &p->tcp_proxy).second)
      tcp_hosts[p->tcp_proxy.host] = TcpHost{p->tcp_proxy.source, p->tcp_proxy.tls.has_value()};

  std::stable_sort(defaults.begin(), defaults.end(),
                   [](const RouteCandidate* x, const RouteCandidate* y) { return older(*x, *y); });
  if (!defaults.empty()) {
    const Route& winner = *defaults.front()->route;
    for (size_t i = 1; i < defaults.size(); ++i)
      default_events.push_back(
          make_event(defaults[i]->route->source, "DefaultBackendConflict", "spec.defaultBackend",
                     cat("the default backend of ", winner.source.kind, " ", winner.source.key(),
                         " is older and is used instead")));
    default_route = defaults.front()->route;
    inputs["*"];
  }
  if (auto all = inputs.find("*"); all != inputs.end()) {
    std::vector<Event> ignored;  // recorded once, when "*" itself is assembled below
    star = resolve("*", all->second.routes, ignored);
  }

  for (auto& [host, in] : inputs) {
    std::vector<Event> events;
    auto vh = assemble_host(host, std::move(in), events);
    if (!events.empty()) host_events[host] = std::move(events);
    if (!vh) continue;
    use(*vh, nullptr);
    model.virtual_hosts.emplace_back(std::move(*vh));
  }
  hosts_assembled = model.virtual_hosts.size();
  for (const auto& [host, p] : tcp_by_host) {
    for (const WeightedCluster& wc : p->clusters) ++cluster_uses[wc.cluster];
    model.tcp_proxies.push_back(*p);
  }

  // Every cluster is registered by the translations that route to it: an Ingress entry's (the
  // model shares it) or this build's IngressRoutes' (b.clusters). Only those some route uses
  // are in the model.
  std::unordered_map<std::string_view, const proxy::Shared<Cluster>*> shared;
  for (const auto& [key, e] : ingresses.entries)
    for (const proxy::Shared<Cluster>& c : e.recording.clusters) shared[c->name] = &c;
  for (const auto& [name, uses] : cluster_uses) {
    if (auto s = shared.find(name); s != shared.end())
      model.clusters.emplace(name, *s->second);
    else if (auto c = b.clusters.find(name); c != b.clusters.end())
      model.clusters.emplace(name, c->second);
  }

  for (const auto& [key, e] : ingresses.entries)
    if (e.owned) model.owned_ingresses.push_back(owned_ref(e));
  std::sort(model.owned_ingresses.begin(), model.owned_ingresses.end());
}

// Only the hosts the changed Ingresses name; false when the change reaches further (the caller
// then assembles everything).
bool IncrementalState::assemble_changed(Builder& b) {
  std::set<std::string> dirty;
  for (const EntryChange& ch : ingresses.changes) {
    const IngressEntry* before = ch.before ? &*ch.before : nullptr;
    const IngressEntry* after = ch.after;
    if (!same_routes(before ? before->default_backends : kNoRoutes,
                     after ? after->default_backends : kNoRoutes))
      return false;
    if (before && after && same_routes(before->routes, after->routes) &&
        same_tls(before->tls, after->tls))
      continue;
    for (const IngressEntry* e : {before, after}) {
      if (e == nullptr) continue;
      for (const RouteCandidate& c : e->routes) dirty.insert(c.host);
      for (const TlsCandidate& t : e->tls) dirty.insert(t.host);
    }
  }
  if (dirty.count("*") != 0) return false;

  // The entries' links and owned Ingresses.
  for (const EntryChange& ch : ingresses.changes) {
    std::string key;
    if (ch.before) {
      key = ch.before->ingress->uid().empty()
                ? cat("/", ch.before->ingress->ns(), "/", ch.before->ingress->name())
                : std::string(ch.before->ingress->uid());
      unlink_entry(key, *ch.before);
      if (ch.before->owned) {
        const ObjectRef o = owned_ref(*ch.before);
        auto it = std::lower_bound(model.owned_ingresses.begin(), model.owned_ingresses.end(), o);
        if (it != model.owned_ingresses.end() && *it == o) model.owned_ingresses.erase(it);
      }
    }
    if (ch.after) {
      key = ch.after->ingress->uid().empty()
                ? cat("/", ch.after->ingress->ns(), "/", ch.after->ingress->name())
                : std::string(ch.after->ingress->uid());
      // The entry's own key, shared by the indexes.
      if (auto it = ingresses.entries.find(key); it != ingresses.entries.end())
        link_entry(it->first, *ch.after);
      if (ch.after->owned) {
        const ObjectRef o = owned_ref(*ch.after);
        model.owned_ingresses.insert(
            std::upper_bound(model.owned_ingresses.begin(), model.owned_ingresses.end(), o), o);
      }
    }
  }

  std::set<std::string> released;
  std::map<std::string, ObjectRef> acquired;  // cluster -> a route source that uses it
  for (const std::string& host : dirty) {
    HostInputs in;
    if (auto keys = host_entries.find(host); keys != host_entries.end())
      for (const EntryKey& key : keys->second) {
        const IngressEntry& e = ingresses.entries.at(key);
        for (const RouteCandidate& c : e.routes)
          if (c.host == host) in.routes.push_back(&c);
        for (const TlsCandidate& t : e.tls)
          if (t.host == host) in.tls.push_back(&t);
      }
    for (const RouteCandidate& c : ir_routes)
      if (c.host == host) in.routes.push_back(&c);
    for (const TlsCandidate& t : ir_tls)
      if (t.host == host) in.tls.push_back(&t);
    std::vector<Event> events;
    auto vh = assemble_host(host, std::move(in), events);
    if (events.empty())
      host_events.erase(host);
    else
      host_events[host] = std::move(events);
    auto& hosts = model.virtual_hosts;
    auto pos =
        std::lower_bound(hosts.begin(), hosts.end(), host,
                         [](const VirtualHost& v, const std::string& h) { return v.host < h; });
    bool had = pos != hosts.end() && (*pos)->host == host;
    if (had) release(*pos, released);
    if (vh) {
      use(*vh, &acquired);
      if (had)
        *pos = std::move(*vh);
      else
        hosts.insert(pos, std::move(*vh));
    } else if (had) {
      hosts.erase(pos);
    }
  }
  hosts_assembled = dirty.size();

  for (const std::string& name : released)
    if (cluster_uses.count(name) == 0) model.clusters.erase(name);
  // A cluster a route starts to use: shared with the Ingress entry of that route, else this
  // build's translation of it (an IngressRoute's).
  for (const auto& [name, source] : acquired) {
    if (cluster_uses.count(name) == 0 || model.clusters.count(name) != 0) continue;
    if (auto key = entry_of.find(source.key()); source.kind == "Ingress" && key != entry_of.end())
      for (const proxy::Shared<Cluster>& c : ingresses.entries.at(key->second).recording.clusters)
        if (c->name == name) model.clusters.emplace(name, c);
    if (model.clusters.count(name) != 0) continue;
    if (auto c = b.clusters.find(name); c != b.clusters.end())
      model.clusters.emplace(name, c->second);
  }
  // Clusters translated again (their Service or EndpointSlices changed) replace the kept ones,
  // shared with an entry translated this build when one registered them.
  std::unordered_map<std::string_view, const proxy::Shared<Cluster>*> translated;
  for (const EntryChange& ch : ingresses.changes)
    if (ch.after != nullptr)
      for (const proxy::Shared<Cluster>& c : ch.after->recording.clusters) translated[c->name] = &c;
  for (const auto& [name, c] : b.clusters) {
    auto it = model.clusters.find(name);
    if (it == model.clusters.end() || *it->second == c) continue;
    auto t = translated.find(name);
    proxy::Shared<Cluster> after = t != translated.end() ? *t->second : proxy::Shared<Cluster>(c);
    replaced.push_back(BuildCache::ClusterChange{it->second, after});
    it->second = std::move(after);
  }
  clusters_only = dirty.empty();
  return true;
}

// What is rebuilt at every build, from the entries and the IngressRoutes' translation.
void IncrementalState::collect(Builder& b) {
  std::vector<Event> events = std::move(b.events);
  for (const EntryKey& key : ingresses.with_events) {
    const IngressEntry& e = ingresses.entries.at(key);
    events.insert(events.end(), e.events.begin(), e.events.end());
  }
  events.insert(events.end(), default_events.begin(), default_events.end());
  for (const auto& [host, host_evts] : host_events)
    events.insert(events.end(), host_evts.begin(), host_evts.end());
  std::sort(events.begin(), events.end());
  events.erase(std::unique(events.begin(), events.end()), events.end());
  model.events = std::move(events);
  model.ingress_route_statuses = std::move(b.route_statuses);
  std::sort(model.ingress_route_statuses.begin(), model.ingress_route_statuses.end(),
            [](const auto& x, const auto& y) { return x.route < y.route; });
}

const Model& IncrementalState::build(const Snapshot& snapshot, const Options& options) {
  const ListDiff ingress_diff = ingress_list.update(snapshot.ingresses, snapshot.status_only);
  const ListDiff service_diff = service_list.update(snapshot.services);
  const ListDiff slice_diff = slice_list.update(snapshot.endpoint_slices);
  const ListDiff secret_diff = secret_list.update(snapshot.secrets);
  const ListDiff config_map_diff = config_map_list.update(snapshot.config_maps);
  index.patch_services(service_diff);
  index.patch_endpoint_slices(slice_diff);
  index.patch_secrets(secret_diff);
  index.patch_config_maps(config_map_diff);
  const SnapshotChanges changed{ingress_diff, service_diff, slice_diff, secret_diff,
                                config_map_diff};
  clusters_only = false;
  replaced.clear();
  Builder b(snapshot, options, index);
  if (options.nginx_annotations) {
    // ingress-nginx host rules rewrite candidates across hosts: assembled whole every time.
    ingresses.translate(b, /*replay=*/true);
    translate_ingress_routes(b);
    apply_nginx_host_rules(b);
    model = assemble(b);
    valid = false;
    full = true;
    hosts_assembled = model.virtual_hosts.size();
    return model;
  }
  ingresses.translate(b, /*replay=*/false, &changed);
  translate_ingress_routes(b);  // b now holds the IngressRoutes' candidates only
  bool same_routes_part = valid && same_routes(b.routes, ir_routes) &&
                          same_routes(b.default_backends, ir_defaults) && same_tls(b.tls, ir_tls) &&
                          same_tcp(b.tcp_proxies, ir_tcp);
  if (!same_routes_part) {
    ir_routes = std::move(b.routes);
    ir_defaults = std::move(b.default_backends);
    ir_tls = std::move(b.tls);
    ir_tcp = std::move(b.tcp_proxies);
  }
  full = !same_routes_part || ingresses.context_reset || !assemble_changed(b);
  if (full) {
    clusters_only = false;
    replaced.clear();
    assemble_all(b);
  }
  collect(b);
  valid = true;
  return model;
}

}  // namespace internal

BuildCache::BuildCache() : state_(std::make_unique<internal::IncrementalState>()) {}
BuildCache::~BuildCache() = default;
BuildCache::BuildCache(BuildCache&&) noexcept = default;
BuildCache& BuildCache::operator=(BuildCache&&) noexcept = default;

const Model& BuildCache::build(const Snapshot& snapshot, const Options& options) {
  if (!state_) state_ = std::make_unique<internal::IncrementalState>();  // moved from
  return state_->build(snapshot, options);
}
size_t BuildCache::reused() const {
  return state_ ? state_->ingresses.reused : 0;
}
size_t BuildCache::translated() const {
  return state_ ? state_->ingresses.translated : 0;
}
size_t BuildCache::status_only_taken() const {
  return state_ ? state_->ingresses.status_only : 0;
}
bool BuildCache::full_assembly() const {
  return !state_ || state_->full;
}
size_t BuildCache::hosts_assembled() const {
  return state_ ? state_->hosts_assembled : 0;
}
bool BuildCache::clusters_only() const {
  return state_ && !state_->full && state_->clusters_only;
}
const std::vector<BuildCache::ClusterChange>& BuildCache::replaced_clusters() const {
  static const std::vector<ClusterChange> kNone;
  return state_ ? state_->replaced : kNone;
}

}  // namespace kop::ingress
