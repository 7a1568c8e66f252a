// kop::ingress model: the validated routing model kop-ingress builds from Kubernetes objects.
//
// build_model() is a pure function (no I/O, no clock, no globals): it takes a Snapshot of the
// watched objects (Ingress, IngressClass, Service, EndpointSlice, TLS Secret, IngressRoute,
// TLSCertificateDelegation, as the caches hold them) and returns the routing model: virtual
// hosts with their routes, the clusters (Service ports with their ready endpoints) the routes
// forward to, which Ingresses are ours, the status of every IngressRoute, and one Event per
// rejected object or field. render() (render.h) turns a Model into a kop::proxy::Config.
//
// Guarantees:
//  - The same Snapshot (in any order) gives the same Model: every list is sorted.
//  - Bad input never takes other routes down: a missing Service, a Service port that does not
//    exist, a missing or malformed Secret, an invalid path or regex affects only its own route
//    (the route answers 503 or is skipped) or its own host's TLS, and yields an Event naming
//    the object and the field.
//  - Conflicts (two sources claiming the same host + path match, or the same TLS host) are
//    resolved by oldest creationTimestamp, then namespace/name; each loser gets an Event.
//  - Every Secret accepted carries a certificate and key that load and match (checked with the
//    proxy's own loader), so the rendered Config never fails on a certificate.
// Semantics are written down in docs/ingress.md.
// Incremental builds: BuildCache::build() (or build_model(snapshot, options, &cache)) gives
// exactly the Model of build_model(snapshot, options), re-translating only the Ingresses whose
// inputs changed and re-assembling only the hosts they contribute to (BuildCache below).
// Threading: plain values and pure functions; call from any thread. A BuildCache is used by
// one build at a time (the caller serialises builds that share it).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/object.h"
#include "kop/proxy/boxed.h"
#include "kop/proxy/config.h"
#include "kop/proxy/on_heap.h"
#include "kop/proxy/shared.h"

namespace kop::ingress {

class StatusOnlyReplacements;

// The controller name IngressClasses must carry for kop-ingress to own them.
inline constexpr std::string_view kControllerName = "kop.dev/ingress-controller";
// The legacy class annotation and the default-class annotation of IngressClass.
inline constexpr std::string_view kClassAnnotation = "kubernetes.io/ingress.class";
inline constexpr std::string_view kDefaultClassAnnotation =
    "ingressclass.kubernetes.io/is-default-class";
inline constexpr std::string_view kForceSslRedirectAnnotation =
    "ingress.kubernetes.io/force-ssl-redirect";

struct ObjectRef {
  std::string kind;  // "Ingress", "IngressRoute", "Service", "Secret", ...
  std::string ns;
  std::string name;
  std::string key() const { return ns.empty() ? name : ns + "/" + name; }
  auto operator<=>(const ObjectRef&) const = default;
};

// A Kubernetes Event to record against `object` (type Warning unless said otherwise).
struct Event {
  ObjectRef object;
  std::string type = "Warning";
  std::string reason;   // CamelCase, e.g. "ServiceNotFound", "HostPathConflict"
  std::string field;    // JSON path of the field at fault, e.g. "spec.rules[0].http.paths[1]"
  std::string message;  // human-readable, names the object and the field
  auto operator<=>(const Event&) const = default;
};

struct Options {
  // Value of the legacy annotation kubernetes.io/ingress.class that selects us. Default "kop".
  std::string ingress_class = "kop";
  // IngressClass.spec.controller that selects us. Default kop.dev/ingress-controller.
  std::string controller_name = std::string(kControllerName);
  // Own Ingresses that name no class at all. Default true (as Contour).
  bool watch_ingress_without_class = true;
  // Read Ingresses' nginx.ingress.kubernetes.io/* annotations as ingress-nginx does
  // (nginx_annotations.h). Default false (kop-ingress turns it on for --ingress-class nginx).
  bool nginx_annotations = false;
};

// The watched objects, as the caches hold them. Order does not matter.
struct Snapshot {
  std::vector<api::ObjectPtr> ingresses;
  std::vector<api::ObjectPtr> ingress_classes;
  std::vector<api::ObjectPtr> services;
  std::vector<api::ObjectPtr> endpoint_slices;
  std::vector<api::ObjectPtr> secrets;  // only type kubernetes.io/tls are considered
  std::vector<api::ObjectPtr> ingress_routes;
  std::vector<api::ObjectPtr> tls_delegations;
  // Read for ingress-nginx's custom-headers (with Options::nginx_annotations); may be empty
  // otherwise.
  std::vector<api::ObjectPtr> config_maps;
  // Optional, for incremental builds (BuildCache, the Gateway API's TranslateCache): listed
  // objects known to have replaced an earlier one by status-only updates since the previous
  // build (status_only_replacements.h), taken by pointer instead of compared again. Not owned;
  // null: every replaced object is compared. A full build_model() ignores it.
  const StatusOnlyReplacements* status_only = nullptr;
};

enum class PathKind {
  kExact,         // byte equality
  kPrefix,        // Kubernetes Prefix: element-wise on '/', trailing slash ignored
  kStringPrefix,  // plain byte prefix (IngressRoute match)
  kRegex,         // RE2 full match (Ingress ImplementationSpecific with regex characters)
};

struct PathRule {
  PathKind kind = PathKind::kPrefix;
  std::string value = "/";
  auto operator<=>(const PathRule&) const = default;
};

// kRegex: RE2 full match of the value (Gateway API RegularExpression header matches).
// kNotRegex: the value does not fully match (or the header is absent).
enum class HeaderOp {
  kExact,
  kPresent,
  kContains,
  kNotExact,
  kNotPresent,
  kNotContains,
  kRegex,
  kNotRegex
};

struct HeaderCondition {
  std::string name;  // lowercase
  HeaderOp op = HeaderOp::kExact;
  std::string value;
  auto operator<=>(const HeaderCondition&) const = default;
};

// A query parameter condition (Gateway API queryParams): the first parameter of that name, as
// on the wire, equals `value` or (regex) fully matches it as an RE2 pattern.
struct QueryCondition {
  std::string name;  // case-sensitive
  bool regex = false;
  std::string value;
  auto operator<=>(const QueryCondition&) const = default;
};

// kHash: consistent hashing on an nginx expression (ingress-nginx upstream-hash-by).
enum class Strategy { kRoundRobin, kWeightedLeastRequest, kRandom, kCookie, kHash };

struct HealthCheck {
  std::string path = "/healthz";
  std::string host;
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{2000};
  uint32_t unhealthy_threshold = 3;
  uint32_t healthy_threshold = 2;
  auto operator<=>(const HealthCheck&) const = default;
};

struct Endpoint {
  std::string address;  // IP literal, or a DNS name for ExternalName Services
  uint16_t port = 0;
  auto operator<=>(const Endpoint&) const = default;
};

// One Service port as traffic reaches it. Name: "ns/service/port" (its number, however named) plus
// "/strategy" and "/hc<n>" suffixes when an IngressRoute asks for a non-default strategy or a
// health check. The cookie of the Cookie strategy, when a source names its own (ingress-nginx
// session-cookie-*); unset: RenderOptions' (kop-session, a session cookie).
struct AffinityCookie {
  std::string name;
  std::chrono::milliseconds max_age{0};  // 0 = a session cookie
  std::string path;                      // "" = the matched route's path prefix
  std::string samesite;                  // "None", "Lax", "Strict"; "" = not sent
  bool secure = false;                   // the Secure attribute
  // A random session key hashed onto the endpoints (affinity-mode balanced) instead of one
  // naming its endpoint (persistent). Default false.
  bool balanced = false;
  // A retry moves the session to the endpoint that answers. Default true.
  bool change_on_failure = true;
  bool samesite_none_conditional = false;  // no SameSite=None for clients that refuse it
  auto operator<=>(const AffinityCookie&) const = default;
};

// Held once per Service port (shared through proxy::Shared): the rarely set parts are Boxed too.
struct Cluster {
  std::string name;
  ObjectRef service;
  std::string port;                 // the Service port's number ("80"; "53-udp": not TCP)
  std::vector<Endpoint> endpoints;  // sorted; ready endpoints only
  bool external_name = false;       // endpoints is the Service's externalName, resolved by DNS
  // The Service port's appProtocol is kubernetes.io/h2c: the proxy speaks HTTP/2 with prior
  // knowledge to the endpoints. Default false (HTTP/1.1).
  bool h2c = false;
  // TLS to the endpoints (ingress-nginx backend-protocol HTTPS/GRPCS and proxy-ssl-*); with h2c
  // it is HTTP/2 over TLS. Unset: plain TCP.
  proxy::Boxed<proxy::UpstreamTlsConfig> tls;
  Strategy strategy = Strategy::kRoundRobin;
  proxy::Boxed<HealthCheck> health_check;
  proxy::Boxed<AffinityCookie> cookie;  // with Strategy::kCookie
  std::string hash_by;                  // with Strategy::kHash: "$request_uri"...
  // With Strategy::kHash: each key goes to a subset of this many endpoints, one at random per
  // request (ingress-nginx upstream-hash-by-subset). Default 0: one endpoint per key.
  uint32_t hash_subset_size = 0;
  bool operator==(const Cluster&) const = default;
};

struct Header {
  std::string name;
  std::string value;
  bool operator==(const Header&) const = default;
};

struct HeaderPolicy {
  std::vector<Header> set;
  std::vector<Header> add;  // appended, existing values of that name kept (Gateway API `add`)
  std::vector<std::string> remove;
  bool operator==(const HeaderPolicy&) const = default;
};

struct WeightedCluster {
  std::string cluster;
  uint32_t weight = 1;
  // Gateway API backendRef filters: applied to the requests this cluster gets and to its
  // responses, before the route's own. Default empty. OnHeap (proxy/on_heap.h): a pointer while
  // empty, where a HeaderPolicy is 72 bytes in every route's cluster entry.
  proxy::OnHeap<HeaderPolicy> request_headers;
  proxy::OnHeap<HeaderPolicy> response_headers;
  // Gateway API RequestMirror on this backendRef: the requests this entry gets are also copied
  // to these clusters, each with its share per million. Default none.
  std::vector<std::pair<std::string, uint32_t>> mirrors;
  bool operator==(const WeightedCluster&) const = default;
};

// Gateway API's CORS filter; the proxy answers preflights and marks responses (proxy/cors.h).
struct Cors {
  std::vector<std::string> allow_origins;  // "*", or scheme://host[:port], host maybe "*."-led
  std::vector<std::string> allow_methods;  // or "*"
  std::vector<std::string> allow_headers;  // or "*"
  std::vector<std::string> expose_headers;
  bool allow_credentials = false;
  uint32_t max_age = 5;  // seconds
  bool operator==(const Cors&) const = default;
};

// HTTP Basic authentication (ingress-nginx's auth-type basic): users and their htpasswd hashes
// from a Secret, checked by the proxy (proxy/basic_auth.h); 401 with the realm otherwise.
struct BasicAuth {
  std::string realm;
  std::vector<std::pair<std::string, std::string>> users;  // (name, hash), sorted by name
  bool operator==(const BasicAuth&) const = default;
};

// Client addresses allowed / denied (ingress-nginx's allowlist / denylist-source-range): IPv4
// and IPv6 CIDRs, judged by the proxy against the TCP peer (proxy/access_control.h).
struct SourceRanges {
  std::vector<std::string> allow;  // empty: every address not denied
  std::vector<std::string> deny;
  bool operator==(const SourceRanges&) const = default;
};

// Per-client-address limits (ingress-nginx's limit-* annotations), enforced by the proxy
// (proxy/rate_limit.h). Routes with the same zone share one set of counters.
struct RateLimit {
  std::string zone;                  // ingress-nginx: one zone per Ingress ("namespace/name")
  uint32_t requests_per_second = 0;  // 0: none
  uint32_t requests_per_minute = 0;  // 0: none
  uint32_t burst_multiplier = 5;     // burst = rate * multiplier
  uint32_t connections = 0;          // requests in progress per address; 0: none
  std::vector<std::string> exempt;   // CIDRs never limited
  bool operator==(const RateLimit&) const = default;
};

enum class RouteAction {
  kForward,      // to `clusters`
  kUnavailable,  // 503: the backend cannot be resolved (missing Service, port...)
  kRedirect,     // answers with `redirect` (Gateway API RequestRedirect)
  kNoBackend,    // 500: a Gateway API rule with no valid backendRef (omitted, invalid, weight 0)
  kForbidden,    // 403: the source restricts access in a way kop-ingress cannot enforce
};

// An HTTP redirect; unset parts keep the request's.
struct Redirect {
  std::optional<std::string> scheme;  // "http" / "https"
  std::optional<std::string> host;
  std::optional<uint16_t> port;
  std::optional<std::string> path;            // replaces the whole path
  std::optional<std::string> prefix_rewrite;  // replaces the matched prefix
  uint32_t code = 302;                        // 301, 302, 303, 307, 308
  bool strip_query = false;                   // default false: the query string is kept
  bool operator==(const Redirect&) const = default;
};

// nginx's `rewrite REGEX SUBSTITUTION` (ingress-nginx rewrite-target): when `regex` is found in
// the path, the whole path becomes `substitution` with $1..$9 expanded.
struct RegexRewrite {
  std::string regex;
  std::string substitution;
  bool operator==(const RegexRewrite&) const = default;
};

// Retries of a forwarded request (ingress-nginx's proxy-next-upstream annotations, Gateway API
// HTTPRoute retry).
struct RetryPolicy {
  uint32_t num_retries = 0;
  bool on_connect_failure = true;  // the connection could not be made (or timed out)
  bool on_reset = false;           // the upstream closed before a response began
  std::vector<uint32_t> statuses;  // response statuses retried
  bool non_idempotent = false;     // POST, PATCH... retried too
  // Retries start only this long after the request arrived (proxy-next-upstream-timeout).
  // Default 0: no limit.
  std::chrono::milliseconds window{0};
  std::chrono::milliseconds backoff{0};  // a retry waits this long first; default 0
  bool operator==(const RetryPolicy&) const = default;
};

// Error pages (ingress-nginx custom-http-errors with default-backend): an answer with one of
// `statuses` is replaced by the answer of `cluster` to an error request (path "/", x-code,
// x-format, x-original-uri added by the proxy) that carries `headers` too.
struct ErrorPages {
  std::vector<uint32_t> statuses;  // sorted
  std::string cluster;
  std::vector<Header> headers;
  bool operator==(const ErrorPages&) const = default;
};

// Routes are held many times over (per source's candidates, per host), so the parts few routes
// set are proxy::Boxed (a pointer while unset) rather than std::optional (their whole size).
struct Route {
  PathRule path;
  std::string method;                        // "" = any
  std::vector<HeaderCondition> headers;      // all must hold; sorted
  std::vector<QueryCondition> query_params;  // all must hold; sorted
  RouteAction action = RouteAction::kForward;
  std::vector<WeightedCluster> clusters;
  // kForward: the weight of backends that cannot be resolved (Gateway API invalid backendRefs);
  // that share of the requests is answered `invalid_status`. Default 0.
  uint32_t invalid_weight = 0;
  // Default 500 (HTTPRoute); 503 for GRPCRoute, which gRPC clients read as UNAVAILABLE.
  uint32_t invalid_status = 500;
  proxy::Boxed<Redirect> redirect;  // with RouteAction::kRedirect
  // Boxed (proxy/boxed.h) like the other rarely set parts: a pointer while unset.
  proxy::Boxed<std::string> prefix_rewrite;
  proxy::Boxed<std::string> path_rewrite;  // replaces the whole path (query kept)
  proxy::Boxed<std::string> host_rewrite;  // replaces the Host header sent upstream
  // The durations are Boxed too (8 bytes unset, where an optional takes 16).
  proxy::Boxed<std::chrono::milliseconds> timeout;  // 0 = none; unset = proxy default
  std::optional<uint32_t> retries;
  proxy::Boxed<std::chrono::milliseconds> per_try_timeout;
  proxy::Boxed<RetryPolicy> retry_policy;  // replaces `retries` when set
  proxy::Boxed<RegexRewrite> regex_rewrite;
  proxy::Boxed<std::chrono::milliseconds> idle_timeout;  // unset = proxy default
  // Connecting to an endpoint takes at most this long; unset: the cluster's (5 s).
  proxy::Boxed<std::chrono::milliseconds> connect_timeout;
  proxy::Boxed<ErrorPages> error_pages;  // forwarded routes only; unset: none
  bool websocket = false;
  // OnHeap (proxy/on_heap.h): most routes change no header (72 bytes each inline).
  proxy::OnHeap<HeaderPolicy> request_headers;
  proxy::OnHeap<HeaderPolicy> response_headers;
  proxy::Boxed<Cors> cors;                   // forwarded routes only
  proxy::Boxed<SourceRanges> source_ranges;  // unset: every client
  proxy::Boxed<BasicAuth> basic_auth;        // forwarded routes only; unset: no authentication
  uint64_t max_body_bytes = 0;               // forwarded routes: larger bodies get 413; 0: none
  proxy::Boxed<RateLimit> rate_limit;        // forwarded routes; unset: no limits
  // Forwarded routes: the response body leaves at most this fast per request, after the first
  // `response_rate_after_bytes` (ingress-nginx limit-rate, limit-rate-after). 0: no limit.
  uint64_t response_bytes_per_second = 0;
  uint64_t response_rate_after_bytes = 0;
  // External authentication (ingress-nginx's auth-url), as the proxy takes it; its cluster is
  // one of the model's. Forwarded routes only; unset: none. Boxed: 328 bytes inline.
  proxy::Boxed<proxy::ExtAuthConfig> ext_auth;
  // Clusters that also get a copy of each request (HTTPRoute RequestMirror), each with the
  // share of requests copied, per million. Forwarded routes only; default none.
  std::vector<std::pair<std::string, uint32_t>> mirrors;
  // On the plain-HTTP listener this route answers 301 to https (TLS host with
  // force-ssl-redirect, or an IngressRoute TLS virtual host without permitInsecure).
  bool https_redirect = false;
  uint32_t https_redirect_code = 301;  // 308 for ingress-nginx Ingresses
  ObjectRef source;                    // the Ingress / IngressRoute that defined it
  std::string field;                   // where in `source`
  bool operator==(const Route&) const = default;
};

struct Tls {
  ObjectRef secret;
  std::string cert_pem;
  std::string key_pem;
  std::string min_version = "1.2";  // "1.2" or "1.3"
  // Client certificates asked of the connections to this host (ingress-nginx's auth-tls-*),
  // its CA checked to compile. Unset: none asked.
  proxy::Boxed<proxy::ClientAuthConfig> client_auth;
  bool operator==(const Tls&) const = default;
};

struct VirtualHost {
  std::string host;  // "example.com", "*.example.com", or "*" (all hosts)
  // Sorted by precedence (longest first, Exact before Prefix). Shared (proxy/shared.h): an
  // Ingress' route is one object in its BuildCache entry and in every host that serves it (a
  // rule without host or a default backend joins each host) instead of a copy per holder.
  std::vector<proxy::Shared<Route>> routes;
  proxy::Boxed<Tls> tls;  // Boxed: most hosts of ten thousand have none (200 bytes inline)
  bool operator==(const VirtualHost&) const = default;
};

// IngressRoute tcpproxy: TLS connections whose SNI is `host` are relayed as TCP to one of
// `clusters`, picked per connection by weight. Without `tls` (virtualhost.tls.passthrough) the
// encrypted bytes are relayed untouched; with it (virtualhost.tls.secretName) the proxy
// terminates TLS with that certificate and relays the plaintext.
struct TcpProxy {
  std::string host;                       // the fqdn, lowercase
  std::vector<WeightedCluster> clusters;  // weights > 0; empty: no Service resolves (closed)
  // Gateway API: the weight of backendRefs that cannot be used; that share of the connections
  // is closed (the API wants rejections to respect weights). Default 0.
  uint32_t invalid_weight = 0;
  std::optional<Tls> tls;  // TLS terminated here
  ObjectRef source;
  bool operator==(const TcpProxy&) const = default;
};

enum class RouteStatus { kValid, kInvalid, kOrphaned };
std::string_view to_string(RouteStatus status);

struct IngressRouteStatus {
  ObjectRef route;
  int64_t generation = 0;
  RouteStatus status = RouteStatus::kValid;
  std::string description;
  bool operator==(const IngressRouteStatus&) const = default;
};

struct Model {
  // Sorted by host. Shared (proxy/shared.h): a BuildCache's Model keeps the unchanged hosts of
  // the previous build as the same objects, and render() with a RenderCache renders only the
  // others again.
  std::vector<proxy::Shared<VirtualHost>> virtual_hosts;
  std::vector<TcpProxy> tcp_proxies;  // sorted by host
  // By name. Shared like the hosts: a BuildCache keeps a cluster as the same object while its
  // Service and EndpointSlices are unchanged (the translations that use it share it too), and
  // render() with a RenderCache renders only the clusters it has not seen.
  std::map<std::string, proxy::Shared<Cluster>> clusters;
  std::vector<ObjectRef> owned_ingresses;                  // Ingresses of our class, sorted
  std::vector<IngressRouteStatus> ingress_route_statuses;  // sorted by route
  std::vector<Event> events;                               // sorted, no duplicates
  bool operator==(const Model&) const = default;
};

// Whether `ingress` belongs to us by the rules of docs/ingress.md ("Class selection").
bool is_ours(const api::Object& ingress, const std::vector<api::ObjectPtr>& ingress_classes,
             const Options& options);

Model build_model(const Snapshot& snapshot, const Options& options);

namespace internal {
struct IncrementalState;
}

// An incremental build: what build_model() derived from each Ingress and each host, kept
// across builds. Objects are "the same" when they are the same ObjectPtr (the caches share
// unchanged objects) or carry the same non-empty uid and resourceVersion; an Ingress that
// differs in its status only (status_only_change.h's only_status_changed()) is not translated
// again. An Ingress whose inputs (itself, the Services, EndpointSlices and Secrets it read, the
// IngressClasses, the Options) are unchanged is not translated again; only the hosts whose
// candidate routes or TLS bindings changed are assembled again (conflicts, catch-all and
// default-backend merge), and the kept Model is patched: unchanged virtual hosts and clusters are
// not copied. Some changes assemble every host (see full_assembly()). The cache holds the objects
// it remembers (an ObjectPtr each) until the next build drops those no longer in the snapshot.
class BuildCache {
 public:
  BuildCache();
  ~BuildCache();
  BuildCache(BuildCache&&) noexcept;
  BuildCache& operator=(BuildCache&&) noexcept;

  // Exactly build_model(snapshot, options), kept here: valid until the next build() or the
  // cache's destruction.
  const Model& build(const Snapshot& snapshot, const Options& options);

  // Ingresses whose translation the last build took from the cache / translated again.
  size_t reused() const;
  size_t translated() const;
  // Of the reused: Ingresses replaced by status-only updates that the last build took by
  // pointer, neither compared nor looked at further (Snapshot::status_only).
  size_t status_only_taken() const;
  // Whether the last build assembled every host: the first build, Options, IngressClasses or
  // IngressRoutes (or TLSCertificateDelegations, or their Services) changed, a change touched
  // the rules without host ("*") or a default backend, or the ingress-nginx reading is on
  // (its host rules span hosts). Otherwise hosts_assembled() hosts were assembled again.
  bool full_assembly() const;
  size_t hosts_assembled() const;
  // Whether the last build changed clusters only: it assembled no host, so the virtual hosts,
  // tcp proxies and cluster names are those of the build before, and the clusters that differ
  // are exactly replaced_clusters() (an EndpointSlice or Service change). A Config rendered
  // from the build before then needs those clusters rendered again, nothing else
  // (render_replaced_clusters(), render.h).
  bool clusters_only() const;
  // A model cluster the last build replaced: the build before's object and its successor.
  struct ClusterChange {
    proxy::Shared<Cluster> before;
    proxy::Shared<Cluster> after;
  };
  // The clusters the last build replaced (meaningful when clusters_only()).
  const std::vector<ClusterChange>& replaced_clusters() const;

 private:
  std::unique_ptr<internal::IncrementalState> state_;
};

// The same Model as build_model(snapshot, options); `cache` (may be null) makes it incremental.
Model build_model(const Snapshot& snapshot, const Options& options, BuildCache* cache);

// Human-readable dump of a model (events and statuses included), for tests and debugging.
std::string describe(const Model& model);

}  // namespace kop::ingress
