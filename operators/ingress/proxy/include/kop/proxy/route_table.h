// RouteTable: the compiled, immutable routing configuration shared by all worker threads.
//
// compile() validates a Config and builds lookup structures so that, per request,
//   find_virtual_host(listener, Host)  and  match(virtual_host, request)
// take no lock and do not allocate: domains are lowercased ahead of time and kept in
// flat_hash_maps, exact paths in a hash map, prefixes in a hash map probed by length, regexes
// precompiled with RE2.
//
// Virtual host selection (per listener; a listener serves the virtual hosts it lists, or all):
// Host is compared case-insensitively with its port stripped ("[v6]:port" handled); an exact
// domain beats a wildcard "*.example.com" (which matches exactly one extra label, or with the
// listener's DomainWildcards::kOneOrMoreLabels any number of them, the longest suffix winning),
// which beats the catch-all "*".
//
// Route precedence (RouteOrder::kSpecificity, the default; docs/proxy-config.md):
//   1. Exact paths;
//   2. Regex paths, in the order listed;
//   3. Prefix and StringPrefix paths, longest first (Kubernetes Ingress: "longest matching
//      path"); at equal length a segment Prefix comes before a StringPrefix.
//   Among routes with the same path and type: a method match first, then more header matches,
//   then more query parameter matches (Gateway API's order), then listed order.
//   A route whose method, header or query matches fail is skipped and the search continues.
// With RouteOrder::kConfig the first route in listed order that matches wins.
//
// Clusters are held by shared_ptr: compile(config, previous) reuses every cluster whose
// ClusterConfig is unchanged and the whole routing part when only clusters changed (the
// ingress controller's endpoint fast path), so workers keep their load balancers and pools.
// When the clusters have the previous table's names in the same order (a change of endpoints
// or settings), the name index is the previous table's and only the changed clusters are
// validated and compiled: no walk over the names.
// Virtual hosts are compiled one by one and shared between tables: compile(config, previous)
// keeps the compiled form of every virtual host equal to one of `previous` (the same Shared
// first, else an equal value), so a change to one host of 10k compiles that host. What makes
// this work: a cluster keeps its index while it exists (clusters() may hold null at the index of
// a removed cluster until a new one takes it), and route ids are unique per table, not dense
// (arrays indexed by id are sized route_id_limit()).
// When the listeners are the previous table's, the name index and the listeners' host maps are
// the previous ones patched (copy-on-write shards, ShardedMap): the hosts that went are taken
// out, the new ones checked against the rest and put in, so such a compile touches the changed
// hosts and a pointer per host, no map of every host.
// Threading: immutable; any thread may call any method concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>
#include "kop/proxy/access_control.h"
#include "kop/proxy/basic_auth.h"
#include "kop/proxy/certificate.h"
#include "kop/proxy/chunked_vector.h"
#include "kop/proxy/client_auth.h"
#include "kop/proxy/cluster.h"
#include "kop/proxy/config.h"
#include "kop/proxy/cors.h"
#include "kop/proxy/ext_auth.h"
#include "kop/proxy/rate_limit.h"
#include "kop/proxy/request_view.h"
#include "kop/proxy/sharded_map.h"
#include "kop/proxy/string_map.h"

namespace re2 {
class RE2;
}

namespace kop::proxy {

struct VirtualHost;
class RouteTable;

struct CompiledHeaderMatch {
  std::string name;  // lowercase
  HeaderMatchType type = HeaderMatchType::kExact;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;  // kRegex
  bool invert = false;
  bool matches(const RequestView& request) const;
};

struct CompiledQueryParamMatch {
  std::string name;
  QueryParamMatchType type = QueryParamMatchType::kExact;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;  // kRegex
  bool matches(const RequestView& request) const;
};

struct RouteClusterRef {
  // Index into RouteTable::clusters() (stable while the cluster exists); unused with
  // direct_status.
  uint32_t cluster = 0;
  uint32_t weight = 1;
  uint64_t cumulative = 0;  // running sum including this one
  // Forward actions: answer this status instead of forwarding (0 = forward to `cluster`).
  uint32_t direct_status = 0;
  const WeightedCluster* config = nullptr;  // forward actions: the entry (header mutations)
  // Forward actions: the entry's own mirrors (config->mirrors) as (cluster index, per million).
  std::vector<std::pair<uint32_t, uint32_t>> mirrors;
};

struct Route {
  uint32_t id = 0;   // unique in the table, below RouteTable::route_id_limit(): metrics arrays
  std::string name;  // config name or "<vhost>/<index>"
  const VirtualHost* virtual_host = nullptr;
  const RouteConfig* config = nullptr;  // points into RouteTable::config()
  PathMatchType path_type = PathMatchType::kPrefix;
  std::string path;  // Exact: as given; Prefix: without trailing '/'; StringPrefix: as given
  std::shared_ptr<const re2::RE2> path_regex;
  std::shared_ptr<const re2::RE2> rewrite_regex;  // forward.regex_rewrite
  std::vector<CompiledHeaderMatch> headers;
  std::string method;  // "" = any
  std::vector<CompiledQueryParamMatch> query_params;
  ActionType action = ActionType::kForward;
  // kForward: one or more clusters (weights), resolved to indexes.
  std::vector<RouteClusterRef> clusters;
  uint64_t total_weight = 0;
  // kForward: the clusters that get a copy of the request (forward.mirrors), as (cluster
  // index, per_million).
  std::vector<std::pair<uint32_t, uint32_t>> mirrors;
  // kForward with forward.error_pages: the index of its cluster; kNoErrorCluster otherwise.
  static constexpr uint32_t kNoErrorCluster = UINT32_MAX;
  uint32_t error_cluster = kNoErrorCluster;
  // Whether an answer with this status is replaced by an error page (forward.error_pages).
  bool intercepts(int status) const;

  // Does the path part match? (exposed for tests; match() uses the indexes instead)
  bool path_matches(std::string_view request_path) const;
  bool headers_match(const RequestView& request) const;
  // Everything but the path: method, headers, query parameters.
  bool conditions_match(const RequestView& request) const;

  // Picks a cluster index among `clusters` from a uniformly random number.
  uint32_t pick_cluster(uint64_t random) const;
  // Picks the weighted entry (a cluster, or a direct answer) from a uniformly random number.
  const RouteClusterRef& pick(uint64_t random) const;
  // The weighted entry that forwards to the cluster `cluster` points to (the first such entry),
  // or null; used to apply that entry's header mutations.
  const RouteClusterRef* entry_for(const RouteTable& table, const Cluster* cluster) const;
  // Whether some weighted entry carries header mutations (so entry_for() is worth a call).
  bool entry_headers = false;

  // Appends to `out` the upstream path (with "?query" when non-empty) after prefix_rewrite,
  // path_rewrite or regex_rewrite.
  void rewrite_path(std::string_view path, std::string_view query, std::string& out) const;

  // Appends to `out` the Location of a redirect route, from the request and the scheme and
  // port it arrived on.
  void redirect_location(const RequestView& request, std::string_view request_scheme,
                         std::string& out) const;

  // config->source_ranges, compiled; null: every client may use the route.
  std::shared_ptr<const SourceRangeFilter> source_filter;
  // config->rate_limit's zone (shared with the routes naming it); null: no limits.
  std::shared_ptr<RateLimiter> rate_limiter;
  // config->basic_auth, compiled (its cache of verified credentials lives as long as the
  // table); null: no authentication.
  std::shared_ptr<const BasicAuth> basic_auth;
  // config->cors, compiled; null: no CORS policy.
  std::shared_ptr<const CorsRules> cors;
  // config->ext_auth, compiled (its answer cache lives as long as this compiled route, which a
  // new table keeps with its unchanged virtual host), and the index of its cluster; null: no
  // external authentication.
  std::shared_ptr<const ExtAuth> ext_auth;
  uint32_t ext_auth_cluster = 0;
};

struct VirtualHost {
  std::string name;
  const VirtualHostConfig* config = nullptr;  // source.get(); routes' configs point into it
  std::shared_ptr<const VirtualHostConfig> source;
  std::vector<std::string> cluster_names;  // the clusters its routes reference
  std::vector<Route> routes;  // in precedence order (kSpecificity) or listed order (kConfig)
  RouteOrder order = RouteOrder::kSpecificity;

  // Indexes (kSpecificity only). Values index `routes`: the first route of a group with the
  // same key; the group continues while routes[i] has the same path and type.
  StringMap<uint32_t> exact;
  std::vector<uint32_t> regex_routes;
  // Prefix index: key = normalized prefix. prefix_lengths lists the distinct lengths,
  // longest first; segment_only[k] tells that length k has only segment Prefix routes.
  StringMap<uint32_t> prefixes;
  std::vector<uint32_t> prefix_lengths;
  std::vector<bool> length_segment_only;
  // Shortcuts: the routes of Prefix "/" (normalized ""), probed without hashing; bit k of
  // exact_lengths is set when an Exact path of length k (k >= 63: any long one) exists.
  uint32_t root_prefix = UINT32_MAX;
  uint64_t exact_lengths = 0;
};

struct ListenerCertificate {
  std::string name;
  std::vector<std::string> server_names;  // lowercase
  CertificateMaterial material;
  // The stricter of the listener's min_version and the certificate's own.
  TlsVersion min_version = TlsVersion::kTls12;
  // config's client_auth, compiled; null: no client certificate is asked for.
  std::shared_ptr<const ClientAuth> client_auth;
};

// A TCP relay entry of a listener (TLS passthrough or TLS-terminated tcp_proxy), compiled.
struct ListenerTcpProxy {
  std::string name;  // "passthrough/<first server name>" or "tcp_proxy/<...>", for logs
  std::vector<RouteClusterRef> clusters;  // weight > 0 only; at least one
  uint64_t total_weight = 0;
  const TcpProxyConfig* config = nullptr;
  // Picks a cluster index (into RouteTable::clusters()) by weight from a uniform random number.
  uint32_t pick_cluster(uint64_t random) const;
};

// SNI names (exact, and wildcard suffixes: "example.com" for "*.example.com") -> entry.
struct SniRelays {
  std::vector<ListenerTcpProxy> entries;
  ICaseStringMap<uint32_t> exact;
  ICaseStringMap<uint32_t> wildcard;
  bool empty() const { return entries.empty(); }
};

// Host name (ignoring case) -> the virtual host serving it; copy-on-write shards, so a table
// shares those no changed host touches with the previous one.
using HostMap = ShardedMap<std::string_view, const VirtualHost*, ICaseStringHash, ICaseStringEq>;

struct Listener {
  uint32_t id = 0;
  std::string name;
  const ListenerConfig* config = nullptr;
  bool tls = false;
  // Each shared with the tables that got an equal CertificateConfig (loaded once; the proxy
  // keeps its TLS context by this object).
  std::vector<Shared<ListenerCertificate>> certificates;
  uint32_t default_certificate = 0;
  bool client_auth = false;  // some certificate asks for client certificates
  // SNI: exact names and wildcard suffixes ("example.com" for "*.example.com") -> certificate.
  ICaseStringMap<uint32_t> sni_exact;
  ICaseStringMap<uint32_t> sni_wildcard;
  SniRelays passthrough;  // TLS passthrough entries
  SniRelays tcp_proxy;    // TLS-terminated TCP proxy entries
  // Host -> virtual host for the virtual hosts this listener serves. Keys are views into the
  // virtual hosts' domains (their configs live as long as the hosts, which the table holds).
  HostMap host_exact;
  HostMap host_wildcard;  // key: suffix after "*."
  const VirtualHost* host_catch_all = nullptr;
  DomainWildcards domain_wildcards = DomainWildcards::kOneLabel;  // for all three lookups above
};

class RouteTable {
 public:
  // Validates and compiles. With `previous`, unchanged clusters are reused (same shared_ptr),
  // surviving endpoints keep their outlier state, unchanged virtual hosts keep their compiled
  // form (only their names and cluster references are checked again), and when routing_equal()
  // the listeners are shared with `previous` too.
  static absl::StatusOr<std::shared_ptr<const RouteTable>> compile(
      const Config& config, const RouteTable* previous = nullptr);
  // The same without copying the Config (the table keeps `config`).
  static absl::StatusOr<std::shared_ptr<const RouteTable>> compile(
      std::shared_ptr<const Config> config, const RouteTable* previous = nullptr);

  const Config& config() const { return *config_; }
  std::shared_ptr<const Config> config_ptr() const { return config_; }

  // ---- Listeners and TLS.
  const std::vector<Listener>& listeners() const;
  const Listener* find_listener(std::string_view name) const;
  // Certificate index in listener.certificates for an SNI name (the default when no name
  // matches or sni is empty). Exact names beat wildcards.
  uint32_t certificate_for_sni(const Listener& listener, std::string_view sni) const;
  // The certificate a Host header's name would select as SNI (port stripped).
  uint32_t certificate_for_host(const Listener& listener, std::string_view host_header) const;
  // The passthrough entry an SNI name selects (exact beats wildcard), or null: terminate TLS.
  const ListenerTcpProxy* passthrough_for_sni(const Listener& listener, std::string_view sni) const;
  // The TLS-terminated tcp_proxy entry an SNI name selects (exact beats wildcard), or null:
  // serve HTTP.
  const ListenerTcpProxy* tcp_proxy_for_sni(const Listener& listener, std::string_view sni) const;
  // False when the request must get 421 Misdirected Request: SNI was sent and the virtual host
  // it selects differs from the one Host selects (`host_vhost`, may be null).
  bool host_allowed_for_sni(const Listener& listener, std::string_view sni,
                            const VirtualHost* host_vhost) const;

  // ---- Routing (no locks, no allocation).
  const VirtualHost* find_virtual_host(const Listener& listener,
                                       std::string_view host_header) const;
  const VirtualHost* find_virtual_host(std::string_view listener,
                                       std::string_view host_header) const;
  const Route* match(const VirtualHost& vhost, const RequestView& request) const;

  // In the config's order; each shared with the tables that kept it.
  const std::vector<Shared<VirtualHost>>& virtual_hosts() const;
  std::size_t route_count() const;
  // Every Route::id is below it (route ids are not dense: size arrays indexed by id with this).
  uint32_t route_id_limit() const;
  // Whether compile() patched the previous table's host maps for the hosts that changed (else
  // it reused the previous routing whole, or built it). For tests and benchmarks.
  bool routing_patched() const { return routing_patched_; }

  // ---- Clusters. Indexed by cluster index: null at the index of a removed cluster until a
  // new cluster takes it (a cluster keeps its index while it exists). A table compiled from
  // the previous one shares the chunks holding no changed cluster with it (ChunkedVector):
  // what changed between the two is in the chunks they do not share.
  const ChunkedVector<std::shared_ptr<const Cluster>>& clusters() const { return clusters_; }
  const Cluster& cluster(uint32_t index) const { return *clusters_[index]; }
  std::optional<uint32_t> cluster_index(std::string_view name) const;

  // Internal: the compiled listeners and virtual hosts (shared between tables).
  struct Routing;
  // Internal: cluster name -> index and config position -> index (shared between tables whose
  // clusters have the same names in the same order).
  struct ClusterIndex;

 private:
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const Routing> routing_;
  ChunkedVector<std::shared_ptr<const Cluster>> clusters_;
  std::shared_ptr<const ClusterIndex> cluster_ids_;
  bool routing_patched_ = false;
};

// Strips the port from a Host header value and validates its shape; returns the host part
// ("[::1]:80" -> "::1", "Example.com:8080" -> "Example.com"). Not lowercased.
std::string_view strip_host_port(std::string_view host_header);

}  // namespace kop::proxy
