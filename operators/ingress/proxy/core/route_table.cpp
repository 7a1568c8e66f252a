// RouteTable: compile() builds the indexes; find_virtual_host() and match() read them.
#include "kop/proxy/route_table.h"

#include <algorithm>
#include <cstring>

#include <absl/container/flat_hash_set.h>
#include <absl/strings/match.h>
#include <re2/re2.h>
#include "core/text.h"
#include "core/validate.h"

namespace kop::proxy {

using internal::absl_view;
using internal::cat;
using internal::quote;

struct RouteTable::Routing {
  // A virtual host in the name index, with the listeners whose host lists name it (bit l:
  // listeners[l]; a table with more than 64 listeners is never patched).
  struct HostEntry {
    Shared<VirtualHost> host;
    uint64_t served = 0;
  };
  std::shared_ptr<const Config> source;  // ListenerConfig/TcpProxyConfig pointers point here
  // In the config's order; each compiled once and shared by the tables that keep it.
  std::vector<Shared<VirtualHost>> virtual_hosts;
  // Name (the compiled host's) -> host; shards shared with the tables patched from this one.
  ShardedMap<std::string_view, HostEntry, StringHash, StringEq> vhost_index;
  std::vector<bool> ids_taken;  // by route id: some route has it
  std::vector<Listener> listeners;
  StringMap<uint32_t> listener_index;
  // The clusters the listeners' relays reference (the virtual hosts' are in their
  // cluster_names): what must still exist for a table to reuse this routing.
  std::vector<std::string_view> relay_clusters;  // views into `source`
  std::size_t route_count = 0;
  uint32_t route_id_limit = 0;  // above every Route::id
};

struct RouteTable::ClusterIndex {
  std::string names;            // the keys' bytes (sized once: views into it stay valid)
  StringViewMap<uint32_t> ids;  // name -> cluster index
  std::vector<uint32_t> slots;  // config position -> cluster index
};

namespace {

using HostEntry = RouteTable::Routing::HostEntry;
constexpr std::size_t kMaxPatchedListeners = 64;

// Host header -> the name compared (case-insensitively) with domains: port and one trailing
// dot stripped. "[v6]:port" keeps the bracketed address (it can only hit the catch-all).
std::string_view normalize_host(std::string_view h) {
  if (!h.empty() && h.front() != '[') {
    // A port is at most 5 digits after the last ':'.
    std::size_t n = h.size();
    std::size_t stop = n > 6 ? n - 6 : 0;
    for (std::size_t i = n; i > stop; --i) {
      char c = h[i - 1];
      if (c == ':') {
        h = std::string_view(h.data(), i - 1);
        break;
      }
      if (static_cast<unsigned char>(c - '0') > 9) break;
    }
  }
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);
  return h;
}

std::shared_ptr<const re2::RE2> compile_regex(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(pattern, options);
  return re->ok() ? re : nullptr;
}

bool full_match(const re2::RE2& re, std::string_view s) {
  return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), re);
}

int type_rank(PathMatchType t) {
  switch (t) {
    case PathMatchType::kExact:
      return 0;
    case PathMatchType::kRegex:
      return 1;
    case PathMatchType::kPrefix:
      return 2;
    case PathMatchType::kStringPrefix:
      return 3;
  }
  return 4;
}

// Kubernetes Prefix: trailing slashes do not count ("/foo/" == "/foo"; "/" == "").
std::string normalize_prefix(std::string_view p) {
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  return std::string(p);
}

// Sort order of RouteOrder::kSpecificity; `index` is the listed position.
struct SortKey {
  int rank;
  std::size_t length;
  std::string_view path;
  bool method;
  std::size_t headers;
  std::size_t query_params;
  std::size_t index;
};

bool before(const SortKey& a, const SortKey& b) {
  if (a.rank != b.rank) {
    // Prefix and StringPrefix interleave by length; segment first at equal length and path.
    bool a_prefix = a.rank >= 2;
    bool b_prefix = b.rank >= 2;
    if (!(a_prefix && b_prefix)) return a.rank < b.rank;
  }
  if (a.rank == 1) return a.index < b.index;  // regex: listed order
  if (a.rank >= 2) {
    if (a.length != b.length) return a.length > b.length;  // longest prefix first
    if (a.path != b.path) return a.path < b.path;          // groups equal keys together
    if (a.rank != b.rank) return a.rank < b.rank;          // segment before string prefix
  } else if (a.path != b.path) {
    return a.path < b.path;  // exact: group equal paths
  }
  if (a.method != b.method) return a.method;                 // a method match first
  if (a.headers != b.headers) return a.headers > b.headers;  // more header matches first
  if (a.query_params != b.query_params) return a.query_params > b.query_params;
  return a.index < b.index;
}

// The names clusters are referenced by, resolved to the table's cluster indexes (which a
// cluster keeps while it exists), and the names resolved so far, each once: a virtual host's
// own (a short list), or views of the relays' (a listener may have many; `seen` holds them).
struct ClusterRefs {
  const StringViewMap<uint32_t>& ids;
  std::vector<std::string>* used = nullptr;
  std::vector<std::string_view>* used_views = nullptr;
  StringViewSet* seen = nullptr;
  uint32_t resolve(const std::string& name) const {
    if (used != nullptr && std::find(used->begin(), used->end(), name) == used->end())
      used->push_back(name);
    if (used_views != nullptr && seen->insert(name).second) used_views->push_back(name);
    return ids.find(name)->second;  // validated: every referenced cluster exists
  }
};

// Resolves a cluster choice to cluster indexes with running weight sums (weight 0 dropped:
// such a cluster is never picked); direct answers keep their status instead.
void compile_clusters(const std::vector<WeightedCluster>& choice, const ClusterRefs& refs,
                      std::vector<RouteClusterRef>* out, uint64_t* total_weight) {
  for (const WeightedCluster& wc : choice) {
    if (wc.weight == 0) continue;
    *total_weight += wc.weight;
    RouteClusterRef& ref = out->emplace_back();
    ref.weight = wc.weight;
    ref.cumulative = *total_weight;
    ref.config = &wc;
    if (wc.direct_status != 0) {
      ref.cluster = UINT32_MAX;
      ref.direct_status = wc.direct_status;
      continue;
    }
    ref.cluster = refs.resolve(wc.cluster);
    for (const MirrorPolicy& m : wc.mirrors)
      ref.mirrors.emplace_back(refs.resolve(m.cluster), m.per_million);
  }
}

absl::Status compile_route(const RouteConfig& rc, std::string default_name, const ClusterRefs& refs,
                           Route* out) {
  out->config = &rc;
  if (rc.name.empty())
    out->name = std::move(default_name);
  else
    out->name = rc.name;
  out->path_type = rc.match.path.type;
  switch (out->path_type) {
    case PathMatchType::kPrefix:
      out->path = normalize_prefix(rc.match.path.value);
      break;
    case PathMatchType::kRegex:
      out->path = rc.match.path.value;
      out->path_regex = compile_regex(rc.match.path.value);
      if (!out->path_regex)
        return absl::InvalidArgumentError(cat("invalid regex ", quote(rc.match.path.value)));
      break;
    default:
      out->path = rc.match.path.value;
      break;
  }
  if (rc.source_ranges) {
    auto filter = SourceRangeFilter::compile(*rc.source_ranges);
    if (!filter.ok()) return filter.status();
    out->source_filter = std::make_shared<const SourceRangeFilter>(*std::move(filter));
  }
  if (rc.basic_auth) {
    auto auth = BasicAuth::compile(*rc.basic_auth);
    if (!auth.ok()) return auth.status();
    out->basic_auth = std::move(*auth);
  }
  if (rc.cors) out->cors = std::make_shared<const CorsRules>(*rc.cors);
  if (rc.action == ActionType::kForward && rc.forward.regex_rewrite) {
    out->rewrite_regex = compile_regex(rc.forward.regex_rewrite->regex);
    if (!out->rewrite_regex)
      return absl::InvalidArgumentError(
          cat("invalid regex ", quote(rc.forward.regex_rewrite->regex)));
  }
  for (const HeaderMatch& hm : rc.match.headers) {
    CompiledHeaderMatch c;
    c.name = internal::to_lower(hm.name);
    c.type = hm.type;
    c.value = hm.value;
    c.invert = hm.invert;
    if (hm.type == HeaderMatchType::kRegex) {
      c.regex = compile_regex(hm.value);
      if (!c.regex) return absl::InvalidArgumentError(cat("invalid regex ", quote(hm.value)));
    }
    out->headers.push_back(std::move(c));
  }
  out->method = rc.match.method;
  for (const QueryParamMatch& qm : rc.match.query_params) {
    CompiledQueryParamMatch c;
    c.name = qm.name;
    c.type = qm.type;
    c.value = qm.value;
    if (qm.type == QueryParamMatchType::kRegex) {
      c.regex = compile_regex(qm.value);
      if (!c.regex) return absl::InvalidArgumentError(cat("invalid regex ", quote(qm.value)));
    }
    out->query_params.push_back(std::move(c));
  }
  out->action = rc.action;
  if (rc.action == ActionType::kForward) {
    compile_clusters(rc.forward.clusters, refs, &out->clusters, &out->total_weight);
    for (const RouteClusterRef& ref : out->clusters)
      out->entry_headers |=
          !ref.config->request_headers->empty() || !ref.config->response_headers->empty();
    for (const MirrorPolicy& m : rc.forward.mirrors)
      out->mirrors.emplace_back(refs.resolve(m.cluster), m.per_million);
    if (const auto& e = rc.forward.error_pages) out->error_cluster = refs.resolve(e->cluster);
    if (rc.ext_auth) {
      auto auth = ExtAuth::compile(*rc.ext_auth);
      if (!auth.ok()) return auth.status();
      out->ext_auth = std::move(*auth);
      out->ext_auth_cluster = refs.resolve(rc.ext_auth->cluster);
    }
  }
  return absl::OkStatus();
}

// A TCP relay entry; its names go to `relays`' maps.
void compile_relay(const TcpProxyConfig& pc, std::string_view kind, const ClusterRefs& refs,
                   SniRelays& relays) {
  ListenerTcpProxy pt;
  pt.name = cat(kind, "/", pc.server_names.empty() ? "" : pc.server_names[0]);
  pt.config = &pc;
  compile_clusters(pc.clusters, refs, &pt.clusters, &pt.total_weight);
  auto index = static_cast<uint32_t>(relays.entries.size());
  for (const std::string& sn : pc.server_names) {
    std::string low = internal::normalize_domain(sn);
    if (low.size() > 2 && low[0] == '*' && low[1] == '.') {
      relays.wildcard.emplace(low.substr(2), index);
    } else {
      relays.exact.emplace(low, index);
    }
  }
  relays.entries.push_back(std::move(pt));
}

void build_indexes(VirtualHost& vh) {
  if (vh.order != RouteOrder::kSpecificity) return;
  std::vector<uint32_t> lengths;
  absl::flat_hash_map<uint32_t, bool> segment_only;
  for (uint32_t i = 0; i < vh.routes.size(); ++i) {
    const Route& r = vh.routes[i];
    switch (r.path_type) {
      case PathMatchType::kExact:
        vh.exact.emplace(r.path, i);  // keeps the first of a group
        vh.exact_lengths |= uint64_t{1} << std::min<std::size_t>(r.path.size(), 63);
        break;
      case PathMatchType::kRegex:
        vh.regex_routes.push_back(i);
        break;
      case PathMatchType::kPrefix:
      case PathMatchType::kStringPrefix: {
        vh.prefixes.emplace(r.path, i);
        if (r.path.empty() && vh.root_prefix == UINT32_MAX) vh.root_prefix = i;
        uint32_t len = static_cast<uint32_t>(r.path.size());
        auto [it, inserted] = segment_only.emplace(len, r.path_type == PathMatchType::kPrefix);
        if (inserted) lengths.push_back(len);
        if (r.path_type == PathMatchType::kStringPrefix) it->second = false;
        break;
      }
    }
  }
  std::sort(lengths.begin(), lengths.end(), std::greater<>());
  vh.prefix_lengths = lengths;
  for (uint32_t len : lengths) vh.length_segment_only.push_back(segment_only[len]);
}

// Route ids: unique in a table, not dense over it (a kept virtual host keeps its routes' ids):
// new routes take the ids the previous table's dropped hosts freed, lowest first, then new ones.
class RouteIds {
 public:
  explicit RouteIds(const std::vector<bool>& taken) : next_(static_cast<uint32_t>(taken.size())) {
    for (auto i = static_cast<uint32_t>(taken.size()); i > 0; --i)
      if (!taken[i - 1]) free_.push_back(i - 1);
  }
  uint32_t next() {
    if (free_.empty()) return next_++;
    uint32_t id = free_.back();
    free_.pop_back();
    return id;
  }

 private:
  std::vector<uint32_t> free_;  // highest first
  uint32_t next_;
};

// One virtual host compiled: its routes in precedence order, their indexes, the clusters they
// reference. `v` is its position in the config (for errors).
absl::StatusOr<std::shared_ptr<const VirtualHost>> compile_virtual_host(
    const Shared<VirtualHostConfig>& source, std::size_t v,
    const StringViewMap<uint32_t>& cluster_ids, RateLimitZones& zones, RouteIds& ids) {
  const VirtualHostConfig& vc = *source;
  auto vh = std::make_shared<VirtualHost>();
  vh->name = vc.name;
  vh->source = source.ptr();
  vh->config = &vc;
  vh->order = vc.route_order;
  ClusterRefs refs{cluster_ids, &vh->cluster_names};
  std::vector<Route> routes(vc.routes.size());
  for (std::size_t r = 0; r < vc.routes.size(); ++r) {
    if (auto s = compile_route(vc.routes[r], cat(vc.name, "/", r), refs, &routes[r]); !s.ok())
      return absl::InvalidArgumentError(
          cat("virtual_hosts[", v, "].routes[", r, "]: ", s.message()));
    if (const auto& policy = vc.routes[r].rate_limit) {
      auto zone = zones.get(*policy);
      if (!zone.ok())
        return absl::InvalidArgumentError(
            cat("virtual_hosts[", v, "].routes[", r, "].", zone.status().message()));
      routes[r].rate_limiter = *std::move(zone);
    }
    routes[r].virtual_host = vh.get();
  }
  if (vh->order == RouteOrder::kSpecificity) {
    std::vector<uint32_t> order(routes.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    auto key = [&](uint32_t i) {
      const Route& r = routes[i];
      return SortKey{type_rank(r.path_type), r.path.size(),         r.path, !r.method.empty(),
                     r.headers.size(),       r.query_params.size(), i};
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return before(key(a), key(b)); });
    vh->routes.reserve(routes.size());
    for (uint32_t i : order) vh->routes.push_back(std::move(routes[i]));
  } else {
    vh->routes = std::move(routes);
  }
  for (Route& r : vh->routes) r.id = ids.next();
  build_indexes(*vh);
  return std::shared_ptr<const VirtualHost>(std::move(vh));
}

// Per listener and certificate position: the previous table's compiled certificate for an
// equal CertificateConfig (same listener name and TLS floor, a name of its own, PEM given, not
// a file, which may have changed), else null. Such a certificate is neither loaded nor
// validated again, and the proxy keeps its TLS context.
using KeptCertificates = std::vector<std::vector<const Shared<ListenerCertificate>*>>;

KeptCertificates kept_certificates(const Config& config, const RouteTable::Routing* before) {
  KeptCertificates out(config.listeners.size());
  for (std::size_t l = 0; l < config.listeners.size(); ++l) {
    const ListenerConfig& lc = config.listeners[l];
    if (!lc.tls) continue;
    out[l].assign(lc.tls->certificates.size(), nullptr);
    if (before == nullptr) continue;
    auto it = before->listener_index.find(lc.name);
    if (it == before->listener_index.end()) continue;
    const Listener& pl = before->listeners[it->second];
    if (!pl.config->tls || pl.config->tls->min_version != lc.tls->min_version) continue;
    const std::vector<CertificateConfig>& prev = pl.config->tls->certificates;
    StringViewMap<std::size_t> by_name;
    by_name.reserve(prev.size());
    for (std::size_t i = 0; i < prev.size(); ++i) by_name.emplace(prev[i].name, i);
    for (std::size_t c = 0; c < lc.tls->certificates.size(); ++c) {
      const CertificateConfig& cc = lc.tls->certificates[c];
      if (cc.name.empty() || !cc.cert_file.empty() || !cc.key_file.empty()) continue;
      auto found = by_name.find(cc.name);
      if (found != by_name.end() && prev[found->second] == cc)
        out[l][c] = &pl.certificates[found->second];
    }
  }
  return out;
}

std::vector<std::vector<bool>> known(const KeptCertificates& kept) {
  std::vector<std::vector<bool>> out(kept.size());
  for (std::size_t l = 0; l < kept.size(); ++l)
    for (const auto* cert : kept[l]) out[l].push_back(cert != nullptr);
  return out;
}

// Two policies under one zone name are found while compiling; a fresh compile meets them in
// config order, one from the previous table meets the kept hosts' zones first. So a conflict is
// reported where a fresh compile finds it: the first route, in config order, whose policy
// differs from its zone's first. Other errors pass through.
absl::Status in_config_order(const Config& config, absl::Status error) {
  if (!absl::StrContains(error.message(), "has two different policies")) return error;
  absl::flat_hash_map<std::string_view, const RateLimitPolicy*> zones;
  for (std::size_t v = 0; v < config.virtual_hosts.size(); ++v) {
    const std::vector<RouteConfig>& routes = config.virtual_hosts[v]->routes;
    for (std::size_t r = 0; r < routes.size(); ++r) {
      const auto& policy = routes[r].rate_limit;
      if (!policy) continue;
      auto [it, inserted] = zones.emplace(policy->zone, &*policy);
      if (!inserted && !(*it->second == *policy))
        return absl::InvalidArgumentError(cat("virtual_hosts[", v, "].routes[", r,
                                              "].rate_limit: zone ", quote(policy->zone),
                                              " has two different policies"));
    }
  }
  return error;
}

// `previous`: the routing of the table being replaced, whose rate limit zones are reused
// (rate_limit.h). kept[v]: the compiled virtual host of `previous` to keep for the config's
// virtual host v (its config is equal and its clusters exist), else null.
absl::StatusOr<std::shared_ptr<const RouteTable::Routing>> build_routing(
    const std::shared_ptr<const Config>& source, const RouteTable::Routing* previous,
    const StringViewMap<uint32_t>& cluster_ids, std::vector<const Shared<VirtualHost>*> kept,
    const KeptCertificates& kept_certs) {
  RateLimitZones zones;
  if (previous != nullptr)
    for (const VirtualHost& vh : previous->virtual_hosts)
      for (const Route& r : vh.routes)
        if (r.rate_limiter) zones.offer(r.rate_limiter);
  auto routing = std::make_shared<RouteTable::Routing>();
  routing->source = source;
  const Config& config = *source;
  const std::size_t n = config.virtual_hosts.size();
  std::vector<std::shared_ptr<const VirtualHost>> hosts(n);
  // Kept hosts first: their routes keep their zones (a zone whose policy changed is a new one,
  // so such a host is compiled again) and their ids.
  std::vector<bool> taken(previous != nullptr ? previous->route_id_limit : 0, false);
  for (std::size_t v = 0; v < n; ++v) {
    if (kept[v] == nullptr) continue;
    const VirtualHost& vh = **kept[v];
    for (std::size_t r = 0; r < vh.routes.size() && kept[v] != nullptr; ++r) {
      const Route& route = vh.routes[r];
      if (!route.rate_limiter) continue;
      auto zone = zones.get(*route.config->rate_limit);
      if (!zone.ok())
        return in_config_order(
            config, absl::InvalidArgumentError(
                        cat("virtual_hosts[", v, "].routes[", r, "].", zone.status().message())));
      if (*zone != route.rate_limiter) kept[v] = nullptr;
    }
    if (kept[v] == nullptr) continue;
    hosts[v] = kept[v]->ptr();
    for (const Route& route : vh.routes) taken[route.id] = true;
  }
  RouteIds ids(taken);
  for (std::size_t v = 0; v < n; ++v) {
    if (hosts[v]) continue;
    auto vh = compile_virtual_host(config.virtual_hosts[v], v, cluster_ids, zones, ids);
    if (!vh.ok()) return in_config_order(config, vh.status());
    hosts[v] = *std::move(vh);
  }
  routing->virtual_hosts.reserve(n);
  for (std::size_t v = 0; v < n; ++v) {
    const VirtualHost& vh = *hosts[v];
    routing->vhost_index.emplace(vh.name, HostEntry{Shared<VirtualHost>(hosts[v])});
    routing->route_count += vh.routes.size();
    for (const Route& r : vh.routes)
      routing->route_id_limit = std::max(routing->route_id_limit, r.id + 1);
    routing->virtual_hosts.emplace_back(std::move(hosts[v]));
  }
  routing->ids_taken.assign(routing->route_id_limit, false);
  for (const VirtualHost& vh : routing->virtual_hosts)
    for (const Route& r : vh.routes) routing->ids_taken[r.id] = true;

  // Every cluster a relay references, once (compile() checks them when it reuses the routing).
  StringViewSet seen;
  ClusterRefs relay_refs{cluster_ids, nullptr, &routing->relay_clusters, &seen};
  routing->listeners.resize(config.listeners.size());
  for (std::size_t l = 0; l < config.listeners.size(); ++l) {
    const ListenerConfig& lc = config.listeners[l];
    Listener& li = routing->listeners[l];
    li.id = static_cast<uint32_t>(l);
    li.name = lc.name;
    li.config = &lc;
    li.domain_wildcards = lc.domain_wildcards;
    routing->listener_index.emplace(lc.name, static_cast<uint32_t>(l));
    // Keys are views into the hosts' configs (the maps ignore case, as normalize_domain()).
    auto serve = [&](const VirtualHost& vh) {
      for (const std::string& d : vh.config->domains) {
        std::string_view low = internal::domain_key(d);
        if (low == "*") {
          li.host_catch_all = &vh;
        } else if (low.size() > 2 && low[0] == '*' && low[1] == '.') {
          li.host_wildcard.emplace(low.substr(2), &vh);
        } else {
          li.host_exact.emplace(low, &vh);
        }
      }
    };
    if (lc.virtual_hosts.empty()) {
      for (const VirtualHost& vh : routing->virtual_hosts)
        if (vh.name.starts_with(lc.virtual_host_prefix)) serve(vh);
    } else {
      for (const std::string& name : lc.virtual_hosts) {
        HostEntry& entry = *routing->vhost_index.find_mutable(name);
        serve(*entry.host);
        if (l < kMaxPatchedListeners) entry.served |= uint64_t{1} << l;
      }
    }
    if (lc.tls) {
      li.tls = true;
      for (std::size_t c = 0; c < lc.tls->certificates.size(); ++c) {
        const CertificateConfig& cc = lc.tls->certificates[c];
        if (const Shared<ListenerCertificate>* same = kept_certs[l][c]) {
          const ListenerCertificate& cert = **same;
          for (const std::string& low : cert.server_names) {
            if (low.size() > 2 && low[0] == '*' && low[1] == '.') {
              li.sni_wildcard.emplace(low.substr(2), static_cast<uint32_t>(c));
            } else {
              li.sni_exact.emplace(low, static_cast<uint32_t>(c));
            }
          }
          li.client_auth = li.client_auth || cert.client_auth != nullptr;
          if (cert.name == lc.tls->default_certificate)
            li.default_certificate = static_cast<uint32_t>(c);
          li.certificates.push_back(*same);
          continue;
        }
        ListenerCertificate cert;
        cert.name = cc.name.empty() ? cat("cert", c) : cc.name;
        auto material = load_certificate(cc);
        if (!material.ok())
          return absl::InvalidArgumentError(
              cat("listeners[", l, "].tls.certificates[", c, "]: ", material.status().message()));
        cert.material = std::move(*material);
        for (const std::string& sn : cc.server_names) {
          std::string low = internal::normalize_domain(sn);
          if (low.size() > 2 && low[0] == '*' && low[1] == '.') {
            li.sni_wildcard.emplace(low.substr(2), static_cast<uint32_t>(c));
          } else {
            li.sni_exact.emplace(low, static_cast<uint32_t>(c));
          }
          cert.server_names.push_back(std::move(low));
        }
        cert.min_version = lc.tls->min_version;
        if (cc.min_version && *cc.min_version == TlsVersion::kTls13)
          cert.min_version = TlsVersion::kTls13;
        if (cc.client_auth) {
          auto auth = ClientAuth::compile(*cc.client_auth);
          if (!auth.ok())
            return absl::InvalidArgumentError(cat("listeners[", l, "].tls.certificates[", c,
                                                  "].client_auth: ", auth.status().message()));
          cert.client_auth = std::move(*auth);
          li.client_auth = true;
        }
        if (cert.name == lc.tls->default_certificate)
          li.default_certificate = static_cast<uint32_t>(c);
        li.certificates.emplace_back(std::move(cert));
      }
      for (const TcpProxyConfig& pc : lc.tls->passthrough)
        compile_relay(pc, "passthrough", relay_refs, li.passthrough);
      for (const TcpProxyConfig& pc : lc.tls->tcp_proxy)
        compile_relay(pc, "tcp_proxy", relay_refs, li.tcp_proxy);
    }
  }
  return std::shared_ptr<const RouteTable::Routing>(std::move(routing));
}

// Puts `vh`'s domains into the host maps of the listeners in `served` (bit l: listeners[l]);
// false when another host already has one of them there (the full build reports it).
bool serve_host(std::vector<Listener>& listeners, uint64_t served, const VirtualHost& vh) {
  for (std::size_t l = 0; l < listeners.size(); ++l) {
    if (((served >> l) & 1U) == 0) continue;
    Listener& li = listeners[l];
    for (const std::string& d : vh.config->domains) {
      std::string_view low = internal::domain_key(d);
      if (low == "*") {
        if (li.host_catch_all != nullptr) return false;
        li.host_catch_all = &vh;
      } else if (low.size() > 2 && low[0] == '*' && low[1] == '.') {
        if (!li.host_wildcard.emplace(low.substr(2), &vh).second) return false;
      } else if (!li.host_exact.emplace(low, &vh).second) {
        return false;
      }
    }
  }
  return true;
}

// Takes `vh`'s domains out of the host maps of the listeners in `served`.
void unserve_host(std::vector<Listener>& listeners, uint64_t served, const VirtualHost& vh) {
  auto other = [&](const VirtualHost* owner) { return owner != &vh; };
  for (std::size_t l = 0; l < listeners.size(); ++l) {
    if (((served >> l) & 1U) == 0) continue;
    Listener& li = listeners[l];
    for (const std::string& d : vh.config->domains) {
      std::string_view low = internal::domain_key(d);
      if (low == "*") {
        if (li.host_catch_all == &vh) li.host_catch_all = nullptr;
      } else if (low.size() > 2 && low[0] == '*' && low[1] == '.') {
        li.host_wildcard.erase_unless(low.substr(2), other);
      } else {
        li.host_exact.erase_unless(low, other);
      }
    }
  }
}

// Whether `config`'s listeners can be patched from `before`'s: the same (compared as values: the
// host lists are strings), at most kMaxPatchedListeners, no certificate read from a file (a
// file may have changed: a full build reads it again), the same admin address (validated
// against theirs), the relays' clusters still there.
bool listeners_patchable(const Config& config, const RouteTable::Routing& before,
                         const internal::ClusterNames& names) {
  const Config& prev = *before.source;
  if (config.listeners.size() != before.listeners.size() ||
      config.listeners.size() > kMaxPatchedListeners || !(config.admin == prev.admin))
    return false;
  for (std::size_t l = 0; l < config.listeners.size(); ++l) {
    const ListenerConfig& lc = config.listeners[l];
    if (lc.tls)
      for (const CertificateConfig& c : lc.tls->certificates)
        if (!c.cert_file.empty() || !c.key_file.empty()) return false;
    if (!(lc == *before.listeners[l].config)) return false;
  }
  for (std::string_view name : before.relay_clusters)
    if (!names.contains(name)) return false;
  return true;
}

// Whether a route of `vh` has a rate limit.
bool rate_limited(const VirtualHost& vh) {
  return std::any_of(vh.routes.begin(), vh.routes.end(),
                     [](const Route& r) { return r.rate_limiter != nullptr; });
}

// The routing of `source` as `before` patched: the previous hosts not kept (`removed`, positions
// in before.virtual_hosts) taken out of the name index and the listeners' host maps, the
// config's hosts not kept (kept[v] null) validated, compiled and put in, each checked against
// the hosts already there. Listeners, certificates and relays are `before`'s (the listeners'
// configs are equal: listeners_patchable()). Null when a new host is invalid or collides with
// another one, or a host that comes or goes has a rate limit (zones are shared by name across
// hosts: the full build handles them; the kept hosts' zones stay as they are): the caller
// builds the routing whole, which reports the error where it is.
std::shared_ptr<const RouteTable::Routing> patch_routing(
    const std::shared_ptr<const Config>& source, const RouteTable::Routing& before,
    const internal::ClusterNames& names, const StringViewMap<uint32_t>& cluster_ids,
    const std::vector<const Shared<VirtualHost>*>& kept, const std::vector<std::size_t>& removed) {
  const Config& config = *source;
  auto routing = std::make_shared<RouteTable::Routing>();
  routing->source = source;
  routing->vhost_index = before.vhost_index;
  routing->ids_taken = before.ids_taken;
  routing->route_count = before.route_count;
  routing->route_id_limit = before.route_id_limit;
  routing->listener_index = before.listener_index;
  routing->listeners = before.listeners;
  // The listeners that serve a host without naming it: no list, and the name starts with
  // their prefix (if any).
  auto unlisted = [&](std::string_view name) {
    uint64_t served = 0;
    for (std::size_t l = 0; l < config.listeners.size(); ++l) {
      const ListenerConfig& lc = config.listeners[l];
      if (lc.virtual_hosts.empty() && name.starts_with(lc.virtual_host_prefix))
        served |= uint64_t{1} << l;
    }
    return served;
  };
  StringViewSet seen;
  ClusterRefs relay_refs{cluster_ids, nullptr, &routing->relay_clusters, &seen};
  for (std::size_t l = 0; l < config.listeners.size(); ++l) {
    const ListenerConfig& lc = config.listeners[l];
    Listener& li = routing->listeners[l];
    li.config = &lc;
    if (!lc.tls) continue;
    // Relays point into the config: compiled again (a few entries).
    li.passthrough = {};
    li.tcp_proxy = {};
    for (const TcpProxyConfig& pc : lc.tls->passthrough)
      compile_relay(pc, "passthrough", relay_refs, li.passthrough);
    for (const TcpProxyConfig& pc : lc.tls->tcp_proxy)
      compile_relay(pc, "tcp_proxy", relay_refs, li.tcp_proxy);
  }

  // The hosts that go. A listed one must come back under its name (else a list names a host
  // that is gone: the full build reports it); `listed` carries its lists to the new host.
  StringViewMap<uint64_t> listed;
  for (std::size_t j : removed) {
    const Shared<VirtualHost>& old = before.virtual_hosts[j];
    if (rate_limited(*old)) return nullptr;
    const HostEntry* entry = routing->vhost_index.find(std::string_view(old->name));
    if (entry == nullptr || entry->host.ptr() != old.ptr()) return nullptr;
    if (entry->served != 0) listed.emplace(old->name, entry->served);
    unserve_host(routing->listeners, unlisted(old->name) | entry->served, *old);
    routing->vhost_index.erase_unless(std::string_view(old->name),
                                      [](const HostEntry&) { return false; });
    for (const Route& r : old->routes) routing->ids_taken[r.id] = false;
    routing->route_count -= old->routes.size();
  }

  // The hosts that come.
  RateLimitZones zones;  // stays empty: a host with a rate limit is not patched
  RouteIds ids(routing->ids_taken);
  const std::size_t n = config.virtual_hosts.size();
  routing->virtual_hosts.reserve(n);
  for (std::size_t v = 0; v < n; ++v) {
    if (kept[v] != nullptr) {
      routing->virtual_hosts.push_back(*kept[v]);
      continue;
    }
    const Shared<VirtualHostConfig>& vc = config.virtual_hosts[v];
    for (const RouteConfig& rc : vc->routes)
      if (rc.rate_limit) return nullptr;
    if (!internal::validate_virtual_host(*vc, v, names).ok()) return nullptr;
    auto compiled = compile_virtual_host(vc, v, cluster_ids, zones, ids);
    if (!compiled.ok()) return nullptr;
    Shared<VirtualHost> vh(*std::move(compiled));
    uint64_t lists = 0;
    if (auto it = listed.find(vh->name); it != listed.end()) {
      lists = it->second;
      listed.erase(it);
    }
    if (!routing->vhost_index.emplace(vh->name, HostEntry{vh, lists}).second) return nullptr;
    if (!serve_host(routing->listeners, unlisted(vh->name) | lists, *vh)) return nullptr;
    for (const Route& r : vh->routes) {
      if (r.id >= routing->ids_taken.size()) routing->ids_taken.resize(r.id + 1, false);
      routing->ids_taken[r.id] = true;
      routing->route_id_limit = std::max(routing->route_id_limit, r.id + 1);
    }
    routing->route_count += vh->routes.size();
    routing->virtual_hosts.push_back(std::move(vh));
  }
  if (!listed.empty()) return nullptr;
  return routing;
}

// Whether every cluster the routing references is in `names`.
bool references_exist(const RouteTable::Routing& routing, const internal::ClusterNames& names) {
  for (const VirtualHost& vh : routing.virtual_hosts)
    for (const std::string& name : vh.cluster_names)
      if (!names.contains(name)) return false;
  for (std::string_view name : routing.relay_clusters)
    if (!names.contains(name)) return false;
  return true;
}

// Whether `next` names its clusters as `prev` does, position by position (the same part, or a
// changed one of the same name): a contiguous scan, comparing names only where parts differ.
bool same_cluster_names(const Config& prev, const Config& next) {
  if (prev.clusters.size() != next.clusters.size()) return false;
  for (std::size_t i = 0; i < next.clusters.size(); ++i) {
    const Shared<ClusterConfig>& a = prev.clusters[i];
    const Shared<ClusterConfig>& b = next.clusters[i];
    if (a.ptr() != b.ptr() && a->name != b->name) return false;
  }
  return true;
}

// The name index of `config`'s clusters placed at `index` (per config position); keys are views
// into the index's own copy of the names, so tables that share it need not keep this config.
std::shared_ptr<const RouteTable::ClusterIndex> make_cluster_index(
    const Config& config, const std::vector<uint32_t>& index) {
  auto ids = std::make_shared<RouteTable::ClusterIndex>();
  std::size_t bytes = 0;
  for (const Shared<ClusterConfig>& c : config.clusters) bytes += c->name.size();
  ids->names.reserve(bytes);
  ids->ids.reserve(config.clusters.size());
  for (std::size_t i = 0; i < config.clusters.size(); ++i) {
    const std::string& name = config.clusters[i]->name;
    std::size_t at = ids->names.size();
    ids->names.append(name);
    ids->ids.emplace(std::string_view(ids->names).substr(at, name.size()), index[i]);
  }
  ids->slots = index;
  return ids;
}

// Looks a host (or SNI) name up in maps that ignore case: exact, then the wildcard of the
// longest suffix after a first label (only that suffix with kOneLabel).
template <typename V>
const V* find_value(const ICaseStringMap<V>& map, std::string_view key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}
const VirtualHost* const* find_value(const HostMap& map, std::string_view key) {
  return map.find(key);
}

template <typename Map>
auto lookup_domain(const Map& exact, const Map& wildcard, DomainWildcards wildcards,
                   std::string_view host) -> decltype(find_value(exact, host)) {
  if (!exact.empty()) {
    if (auto* found = find_value(exact, host)) return found;
  }
  if (!wildcard.empty()) {
    std::size_t dot = host.find('.');
    if (dot == 0) return nullptr;
    for (; dot != std::string_view::npos && dot + 1 < host.size(); dot = host.find('.', dot + 1)) {
      if (auto* found = find_value(wildcard, host.substr(dot + 1))) return found;
      if (wildcards == DomainWildcards::kOneLabel) break;
    }
  }
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Route

bool CompiledHeaderMatch::matches(const RequestView& request) const {
  std::string_view v;
  bool present = request.header(name, &v);
  bool ok = false;
  if (present) {
    switch (type) {
      case HeaderMatchType::kExact:
        ok = v == value;
        break;
      case HeaderMatchType::kPresent:
        ok = true;
        break;
      case HeaderMatchType::kRegex:
        ok = full_match(*regex, v);
        break;
      case HeaderMatchType::kPrefix:
        ok = v.starts_with(value);
        break;
      case HeaderMatchType::kSuffix:
        ok = v.ends_with(value);
        break;
      case HeaderMatchType::kContains:
        ok = v.find(value) != std::string_view::npos;
        break;
    }
  }
  return ok != invert;
}

bool Route::headers_match(const RequestView& request) const {
  for (const CompiledHeaderMatch& h : headers)
    if (!h.matches(request)) return false;
  return true;
}

bool CompiledQueryParamMatch::matches(const RequestView& request) const {
  std::string_view v;
  if (!request.query_param(name, &v)) return false;
  switch (type) {
    case QueryParamMatchType::kExact:
      return v == value;
    case QueryParamMatchType::kPresent:
      return true;
    case QueryParamMatchType::kRegex:
      return full_match(*regex, v);
  }
  return false;
}

bool Route::intercepts(int status) const {
  if (error_cluster == kNoErrorCluster) return false;
  for (uint32_t s : config->forward.error_pages->statuses)
    if (static_cast<int>(s) == status) return true;
  return false;
}

bool Route::conditions_match(const RequestView& request) const {
  if (!method.empty() && request.method != method) return false;
  for (const CompiledQueryParamMatch& q : query_params)
    if (!q.matches(request)) return false;
  return headers_match(request);
}

bool Route::path_matches(std::string_view request_path) const {
  switch (path_type) {
    case PathMatchType::kExact:
      return request_path == path;
    case PathMatchType::kStringPrefix:
      return request_path.starts_with(path);
    case PathMatchType::kRegex:
      return full_match(*path_regex, request_path);
    case PathMatchType::kPrefix:
      // Element-wise: the prefix must end at a '/' boundary of the request path.
      return request_path.starts_with(path) &&
             (request_path.size() == path.size() || request_path[path.size()] == '/');
  }
  return false;
}

namespace {
const RouteClusterRef& pick_weighted(const std::vector<RouteClusterRef>& clusters,
                                     uint64_t total_weight, uint64_t random) {
  if (clusters.size() == 1) return clusters[0];
  uint64_t r = static_cast<uint64_t>((static_cast<unsigned __int128>(random) * total_weight) >> 64);
  for (const RouteClusterRef& c : clusters)
    if (r < c.cumulative) return c;
  return clusters.back();
}
}  // namespace

uint32_t Route::pick_cluster(uint64_t random) const {
  return pick_weighted(clusters, total_weight, random).cluster;
}

const RouteClusterRef& Route::pick(uint64_t random) const {
  return pick_weighted(clusters, total_weight, random);
}

const RouteClusterRef* Route::entry_for(const RouteTable& table, const Cluster* cluster) const {
  for (const RouteClusterRef& ref : clusters)
    if (ref.direct_status == 0 && &table.cluster(ref.cluster) == cluster) return &ref;
  return nullptr;
}

uint32_t ListenerTcpProxy::pick_cluster(uint64_t random) const {
  return pick_weighted(clusters, total_weight, random).cluster;
}

namespace {

// The path with the matched part replaced by `replacement` (Exact: the whole path).
void replace_prefix(const Route& route, std::string_view path, std::string_view replacement,
                    std::string& out) {
  std::string_view rest;
  switch (route.path_type) {
    case PathMatchType::kExact:
      rest = {};
      break;
    case PathMatchType::kPrefix:
    case PathMatchType::kStringPrefix:
      rest = path.size() >= route.path.size() ? path.substr(route.path.size()) : std::string_view();
      break;
    case PathMatchType::kRegex:
      rest = path;
      replacement = {};
      break;
  }
  std::size_t start = out.size();
  out.append(replacement);
  // "/foo" -> "/" on "/foo/bar" gives "/bar", not "//bar".
  if (!rest.empty() && rest.front() == '/' && out.size() > start && out.back() == '/')
    rest.remove_prefix(1);
  out.append(rest);
  if (out.size() == start) out.push_back('/');
}

// nginx `rewrite` semantics: on a match the whole path is the substitution with $1..$9
// expanded; its own "?args" come first, then the request's. False (nothing written) when the
// regex does not match.
bool regex_rewrite(const re2::RE2& re, std::string_view substitution, std::string_view path,
                   std::string_view query, std::string& out) {
  constexpr int kMaxGroups = 10;  // $0..$9
  re2::StringPiece groups[kMaxGroups];
  int n = std::min(re.NumberOfCapturingGroups() + 1, kMaxGroups);
  if (!re.Match(re2::StringPiece(path.data(), path.size()), 0, path.size(), RE2::UNANCHORED, groups,
                n))
    return false;
  bool has_query = false;
  for (std::size_t i = 0; i < substitution.size(); ++i) {
    char c = substitution[i];
    if (c == '$' && i + 1 < substitution.size() && substitution[i + 1] >= '0' &&
        substitution[i + 1] <= '9') {
      int g = substitution[++i] - '0';
      if (g < n && groups[g].data() != nullptr) out.append(groups[g].data(), groups[g].size());
      continue;
    }
    if (c == '?') has_query = true;
    out.push_back(c);
  }
  if (!query.empty()) {
    out.push_back(has_query ? '&' : '?');
    out.append(query);
  }
  return true;
}

}  // namespace

void Route::rewrite_path(std::string_view p, std::string_view query, std::string& out) const {
  if (rewrite_regex &&
      regex_rewrite(*rewrite_regex, config->forward.regex_rewrite->substitution, p, query, out))
    return;
  if (action == ActionType::kForward && config->forward.path_rewrite) {
    out.append(*config->forward.path_rewrite);
  } else if (action == ActionType::kForward && config->forward.prefix_rewrite) {
    replace_prefix(*this, p, *config->forward.prefix_rewrite, out);
  } else {
    out.append(p);
  }
  if (!query.empty()) {
    out.push_back('?');
    out.append(query);
  }
}

void Route::redirect_location(const RequestView& request, std::string_view request_scheme,
                              std::string& out) const {
  const RedirectAction& r = config->redirect;
  std::string_view scheme = r.scheme ? std::string_view(*r.scheme) : request_scheme;
  std::string_view host = r.host ? std::string_view(*r.host) : strip_host_port(request.host);
  // Port: explicit; else keep the request's unless the scheme changes.
  std::string_view port;
  std::string port_text;
  if (r.port) {
    port_text = std::to_string(*r.port);
    port = port_text;
  } else if (!r.host && scheme == request_scheme) {
    std::string_view h = request.host;
    std::size_t close = h.rfind(']');
    std::size_t colon = h.rfind(':');
    if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close))
      port = h.substr(colon + 1);
  }
  if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port = {};
  out.append(scheme);
  out.append("://");
  bool v6 = host.find(':') != std::string_view::npos;
  if (v6) out.push_back('[');
  out.append(host);
  if (v6) out.push_back(']');
  if (!port.empty()) {
    out.push_back(':');
    out.append(port);
  }
  if (r.path) {
    out.append(*r.path);
  } else if (r.prefix_rewrite) {
    replace_prefix(*this, request.path, *r.prefix_rewrite, out);
  } else {
    out.append(request.path.empty() ? std::string_view("/") : request.path);
  }
  if (!r.strip_query && !request.query.empty()) {
    out.push_back('?');
    out.append(request.query);
  }
}

// ---------------------------------------------------------------------------------------------
// RouteTable

std::string_view strip_host_port(std::string_view h) {
  if (!h.empty() && h.front() == '[') {
    std::size_t close = h.find(']');
    if (close == std::string_view::npos) return h;
    return h.substr(1, close - 1);
  }
  std::size_t colon = h.find(':');
  if (colon == std::string_view::npos) return h;
  if (h.find(':', colon + 1) != std::string_view::npos) return h;  // bare IPv6: no port
  return h.substr(0, colon);
}

absl::StatusOr<std::shared_ptr<const RouteTable>> RouteTable::compile(const Config& config,
                                                                      const RouteTable* previous) {
  return compile(std::make_shared<const Config>(config), previous);
}

absl::StatusOr<std::shared_ptr<const RouteTable>> RouteTable::compile(
    std::shared_ptr<const Config> shared_config, const RouteTable* previous) {
  const Config& config = *shared_config;
  if (config.version != kSchemaVersion)
    return absl::InvalidArgumentError(cat("version: unsupported schema ", quote(config.version)));

  // Clusters equal to one of the previous table are reused as they are (same shared_ptr).
  std::vector<std::shared_ptr<const Cluster>> reused;
  // With the previous names: the config positions whose cluster is compiled anew (the others
  // keep the previous table's cluster at their index, in the chunks the tables share).
  std::vector<std::size_t> changed;
  // Where each config position's cluster goes: a cluster keeps its index from table to table
  // while it exists (compiled routes hold indexes); a new one takes the lowest index free.
  std::vector<uint32_t> index;
  std::shared_ptr<const ClusterIndex> ids;
  StringViewSet cluster_names;  // views into `config`; empty when the names are the previous'
  const bool same_names = previous != nullptr && same_cluster_names(previous->config(), config);
  if (same_names) {
    ids = previous->cluster_ids_;
    const std::vector<Shared<ClusterConfig>>& before = previous->config().clusters;
    for (std::size_t i = 0; i < config.clusters.size(); ++i) {
      const Shared<ClusterConfig>& c = config.clusters[i];
      // The previous Config's part at this position first: the compiled cluster there was
      // reused or compiled for an equal part, and the comparison reads the two Configs' arrays,
      // not the compiled cluster (a cache miss per cluster at 10k).
      if (before[i].ptr() == c.ptr()) continue;
      const Cluster& prev = *previous->clusters_[ids->slots[i]];
      if (prev.source == c.ptr() || prev.config == *c) continue;
      if (auto s = internal::validate_cluster(*c, i); !s.ok()) return s;
      changed.push_back(i);
    }
  } else {
    reused.resize(config.clusters.size());
    index.assign(config.clusters.size(), UINT32_MAX);
    std::vector<bool> known_valid(config.clusters.size(), false);
    std::vector<bool> taken(previous != nullptr ? previous->clusters_.size() : 0, false);
    if (previous != nullptr) {
      for (std::size_t i = 0; i < config.clusters.size(); ++i) {
        const Shared<ClusterConfig>& c = config.clusters[i];
        if (auto idx = previous->cluster_index(c->name)) {
          const auto& prev_ptr = previous->clusters_[*idx];
          if (prev_ptr->source == c.ptr() || prev_ptr->config == *c) {
            reused[i] = prev_ptr;
            known_valid[i] = true;
          }
          index[i] = *idx;
        }
      }
    }
    if (auto s = internal::validate_clusters(config, &cluster_names, &known_valid); !s.ok())
      return s;
    uint32_t next_free = 0;
    for (uint32_t idx : index)
      if (idx != UINT32_MAX) taken[idx] = true;
    for (uint32_t& idx : index) {
      if (idx != UINT32_MAX) continue;
      while (next_free < taken.size() && taken[next_free]) ++next_free;
      idx = next_free++;
    }
    ids = make_cluster_index(config, index);
  }
  const internal::ClusterNames names =
      same_names ? internal::ClusterNames(ids->ids) : internal::ClusterNames(cluster_names);

  // The constructor is private: std::make_shared cannot call it.
  auto table = std::shared_ptr<RouteTable>(new RouteTable());  // NOLINT(modernize-make-shared)
  table->config_ = std::move(shared_config);
  table->cluster_ids_ = std::move(ids);
  // Unless a referenced cluster is gone (full validation then reports where).
  // With the previous names every reference still resolves (the previous table was valid).
  bool reuse = previous != nullptr && routing_equal(previous->config(), config) &&
               (same_names || references_exist(*previous->routing_, names));
  if (reuse) {
    table->routing_ = previous->routing_;
  } else {
    // Virtual hosts equal to one of the previous table (the same Shared, or an equal value)
    // keep their compiled form while the clusters they reference exist.
    const std::size_t n = config.virtual_hosts.size();
    std::vector<const Shared<VirtualHost>*> kept(n, nullptr);
    std::vector<bool> known_host(n, false);
    const Routing* before = previous != nullptr ? previous->routing_.get() : nullptr;
    // The previous hosts not kept (positions), to take out when patching.
    std::vector<std::size_t> removed;
    bool patchable = before != nullptr && listeners_patchable(config, *before, names);
    if (before != nullptr) {
      // Hosts are walked side by side with the previous ones (both in config order): a host
      // that is the same part as the next previous one, or the one after (a host removed
      // before it), is found by comparing the configs' pointers, a contiguous scan; a changed
      // host in place by its name; others by hashing their name.
      const std::vector<Shared<VirtualHost>>& hosts = before->virtual_hosts;
      const std::vector<Shared<VirtualHostConfig>>& sources = before->source->virtual_hosts;
      std::vector<bool> kept_at(hosts.size(), false);
      absl::flat_hash_set<const VirtualHost*> kept_elsewhere;  // kept, found by name
      std::size_t next = 0;
      for (std::size_t v = 0; v < n; ++v) {
        const Shared<VirtualHostConfig>& vc = config.virtual_hosts[v];
        std::size_t at = hosts.size();
        for (std::size_t j = next; j < hosts.size() && j < next + 2 && at == hosts.size(); ++j)
          if (sources[j].ptr() == vc.ptr()) at = j;
        if (at == hosts.size() && next < hosts.size() && hosts[next]->name == vc->name) at = next;
        const Shared<VirtualHost>* found = nullptr;
        if (at < hosts.size()) {
          found = &hosts[at];
          next = at + 1;
        } else if (const HostEntry* entry = before->vhost_index.find(std::string_view(vc->name))) {
          found = &entry->host;
        } else {
          continue;
        }
        const Shared<VirtualHost>& pv = *found;
        bool same = at < hosts.size() && sources[at].ptr() == vc.ptr();
        if (!same && pv->source != vc.ptr() && !(*pv->source == *vc)) continue;
        bool clusters_exist = true;
        if (!same_names)
          for (const std::string& name : pv->cluster_names)
            clusters_exist = clusters_exist && names.contains(name);
        if (!clusters_exist) continue;
        kept[v] = &pv;
        known_host[v] = true;
        // A previous host kept twice (two hosts of one name): the full build reports it.
        if (at < hosts.size()) {
          patchable = patchable && !kept_at[at];
          kept_at[at] = true;
        } else {
          patchable = patchable && kept_elsewhere.insert(pv.ptr().get()).second;
        }
      }
      for (std::size_t j = 0; j < hosts.size() && patchable; ++j) {
        bool elsewhere = !kept_elsewhere.empty() && kept_elsewhere.contains(hosts[j].ptr().get());
        if (kept_at[j] && elsewhere) patchable = false;
        if (!kept_at[j] && !elsewhere) removed.push_back(j);
      }
      // Patching pays while few hosts change.
      patchable = patchable && removed.size() + (n - (hosts.size() - removed.size())) <= n / 4 + 16;
    }
    std::shared_ptr<const Routing> patched;
    if (patchable)
      patched =
          patch_routing(table->config_, *before, names, table->cluster_ids_->ids, kept, removed);
    if (patched != nullptr) {
      table->routing_ = std::move(patched);
      table->routing_patched_ = true;
    } else {
      const KeptCertificates certs = kept_certificates(config, before);
      const std::vector<std::vector<bool>> known_certs = known(certs);
      if (auto s = internal::validate_routing(config, names, &known_host, &known_certs); !s.ok())
        return s;
      auto routing =
          build_routing(table->config_, before, table->cluster_ids_->ids, std::move(kept), certs);
      if (!routing.ok()) return routing.status();
      table->routing_ = std::move(*routing);
    }
  }

  if (same_names) {
    // The previous table's clusters, each chunk shared until a changed cluster is put in it.
    table->clusters_ = previous->clusters_;
    for (std::size_t i : changed) {
      const uint32_t at = table->cluster_ids_->slots[i];
      const Shared<ClusterConfig>& c = config.clusters[i];
      auto compiled = compile_cluster(c, previous->clusters_[at].get());
      if (!compiled.ok())
        return absl::InvalidArgumentError(
            cat("cluster ", quote(c->name), ": ", compiled.status().message()));
      table->clusters_.set(at, std::move(*compiled));
    }
    return std::shared_ptr<const RouteTable>(std::move(table));
  }
  uint32_t size = 0;
  for (uint32_t idx : index) size = std::max(size, idx + 1);
  table->clusters_.resize(size);
  for (std::size_t i = 0; i < config.clusters.size(); ++i) {
    const Shared<ClusterConfig>& c = config.clusters[i];
    if (reused[i]) {
      table->clusters_.set(index[i], std::move(reused[i]));
      continue;
    }
    const Cluster* prev = nullptr;
    if (previous != nullptr)
      if (auto idx = previous->cluster_index(c->name)) prev = previous->clusters_[*idx].get();
    auto compiled = compile_cluster(c, prev);
    if (!compiled.ok())
      return absl::InvalidArgumentError(
          cat("cluster ", quote(c->name), ": ", compiled.status().message()));
    table->clusters_.set(index[i], std::move(*compiled));
  }
  return std::shared_ptr<const RouteTable>(std::move(table));
}

const std::vector<Listener>& RouteTable::listeners() const {
  return routing_->listeners;
}
const std::vector<Shared<VirtualHost>>& RouteTable::virtual_hosts() const {
  return routing_->virtual_hosts;
}
std::size_t RouteTable::route_count() const {
  return routing_->route_count;
}
uint32_t RouteTable::route_id_limit() const {
  return routing_->route_id_limit;
}

const Listener* RouteTable::find_listener(std::string_view name) const {
  auto it = routing_->listener_index.find(name);
  return it == routing_->listener_index.end() ? nullptr : &routing_->listeners[it->second];
}

std::optional<uint32_t> RouteTable::cluster_index(std::string_view name) const {
  auto it = cluster_ids_->ids.find(name);
  if (it == cluster_ids_->ids.end()) return std::nullopt;
  return it->second;
}

uint32_t RouteTable::certificate_for_sni(const Listener& listener, std::string_view sni) const {
  if (!sni.empty() && sni.back() == '.') sni.remove_suffix(1);
  if (sni.empty()) return listener.default_certificate;
  const uint32_t* idx =
      lookup_domain(listener.sni_exact, listener.sni_wildcard, listener.domain_wildcards, sni);
  return idx != nullptr ? *idx : listener.default_certificate;
}

uint32_t RouteTable::certificate_for_host(const Listener& listener,
                                          std::string_view host_header) const {
  return certificate_for_sni(listener, normalize_host(host_header));
}

namespace {
const ListenerTcpProxy* relay_for_sni(const SniRelays& relays, DomainWildcards wildcards,
                                      std::string_view sni) {
  if (relays.empty()) return nullptr;
  if (!sni.empty() && sni.back() == '.') sni.remove_suffix(1);
  if (sni.empty()) return nullptr;
  const uint32_t* idx = lookup_domain(relays.exact, relays.wildcard, wildcards, sni);
  return idx != nullptr ? &relays.entries[*idx] : nullptr;
}
}  // namespace

const ListenerTcpProxy* RouteTable::passthrough_for_sni(const Listener& listener,
                                                        std::string_view sni) const {
  return relay_for_sni(listener.passthrough, listener.domain_wildcards, sni);
}

const ListenerTcpProxy* RouteTable::tcp_proxy_for_sni(const Listener& listener,
                                                      std::string_view sni) const {
  return relay_for_sni(listener.tcp_proxy, listener.domain_wildcards, sni);
}

bool RouteTable::host_allowed_for_sni(const Listener& listener, std::string_view sni,
                                      const VirtualHost* host_vhost) const {
  if (sni.empty()) return true;
  return find_virtual_host(listener, sni) == host_vhost;
}

const VirtualHost* RouteTable::find_virtual_host(const Listener& listener,
                                                 std::string_view host_header) const {
  if (listener.host_exact.empty() && listener.host_wildcard.empty()) return listener.host_catch_all;
  std::string_view host = normalize_host(host_header);
  if (!host.empty()) {
    if (const VirtualHost* const* vh = lookup_domain(listener.host_exact, listener.host_wildcard,
                                                     listener.domain_wildcards, host))
      return *vh;
  }
  return listener.host_catch_all;
}

const VirtualHost* RouteTable::find_virtual_host(std::string_view listener,
                                                 std::string_view host_header) const {
  const Listener* l = find_listener(listener);
  return l == nullptr ? nullptr : find_virtual_host(*l, host_header);
}

const Route* RouteTable::match(const VirtualHost& vh, const RequestView& request) const {
  std::string_view path = request.path;
  const std::vector<Route>& routes = vh.routes;
  if (vh.order == RouteOrder::kConfig) {
    for (const Route& r : routes)
      if (r.path_matches(path) && r.conditions_match(request)) return &r;
    return nullptr;
  }
  // 1. Exact.
  if ((vh.exact_lengths >> std::min<std::size_t>(path.size(), 63)) & 1) {
    auto it = vh.exact.find(path);
    if (it != vh.exact.end()) {
      for (uint32_t i = it->second;
           i < routes.size() && routes[i].path_type == PathMatchType::kExact &&
           routes[i].path == path;
           ++i)
        if (routes[i].conditions_match(request)) return &routes[i];
    }
  }
  // 2. Regex, listed order.
  for (uint32_t i : vh.regex_routes) {
    const Route& r = routes[i];
    if (full_match(*r.path_regex, path) && r.conditions_match(request)) return &r;
  }
  // 3. Prefixes, longest first.
  for (std::size_t k = 0; k < vh.prefix_lengths.size(); ++k) {
    uint32_t len = vh.prefix_lengths[k];
    if (len > path.size()) continue;
    bool boundary = len == path.size() || path[len] == '/';
    if (!boundary && vh.length_segment_only[k]) continue;
    std::string_view key = path.substr(0, len);
    uint32_t first;
    if (len == 0) {
      first = vh.root_prefix;  // Prefix "/": no hashing
    } else {
      auto it = vh.prefixes.find(key);
      if (it == vh.prefixes.end()) continue;
      first = it->second;
    }
    for (uint32_t i = first; i < routes.size(); ++i) {
      const Route& r = routes[i];
      if (r.path_type != PathMatchType::kPrefix && r.path_type != PathMatchType::kStringPrefix)
        break;
      if (r.path != key) break;
      if (r.path_type == PathMatchType::kPrefix && !boundary) continue;
      if (r.conditions_match(request)) return &r;
    }
  }
  return nullptr;
}

}  // namespace kop::proxy
