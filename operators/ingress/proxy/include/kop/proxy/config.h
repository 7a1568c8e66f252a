// kop::proxy::Config: the declarative configuration the embedded proxy serves.
//
// The proxy knows nothing of Kubernetes: the ingress controller (or a file given to kop-proxy)
// produces a Config, which is parsed from / rendered to the versioned JSON schema
// "kop.proxy/v1" documented field by field in docs/proxy-config.md.
//
// Guarantees:
//  - parse_config() rejects unknown fields and every error names the JSON path of the offending
//    value, e.g. `clusters[2].endpoints[0].address: invalid port "99999"`.
//  - to_json(parse_config(x)) parses back to an equal Config (operator== is defined on every
//    struct), which is what the admin /config_dump shows.
//  - validate() performs the semantic checks (references, duplicates, regexes, domains, weights,
//    listener conflicts, certificates that fail to load). RouteTable::compile() calls it.
// Threading: these are plain values; the functions are pure and may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include "kop/proxy/boxed.h"
#include "kop/proxy/on_heap.h"
#include "kop/proxy/shared.h"

namespace kop::proxy {

// The only schema version this build understands (JSON field "version").
inline constexpr std::string_view kSchemaVersion = "kop.proxy/v1";

using Millis = std::chrono::milliseconds;

// host:port. `host` is stored without brackets ("::1" for "[::1]:80"); it is an IP literal or
// a DNS name. Listener ports may be 0 (ephemeral, for tests); endpoint ports are 1..65535.
struct SocketAddress {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const;  // "[v6]:port" or "host:port"
  bool operator==(const SocketAddress&) const = default;
};
// Parses "host:port", "[v6]:port". Error messages are meant to follow a JSON path.
absl::StatusOr<SocketAddress> parse_socket_address(std::string_view text, bool allow_port_zero);

// ---------------------------------------------------------------------------------------------
// Listeners and TLS

enum class TlsVersion { kTls12, kTls13 };

// How a certificate's handshakes ask for the client's certificate (nginx's ssl_verify_client).
enum class ClientVerify {
  kOn,            // requested and required: none, or one that fails verification, gets 400
  kOff,           // not requested (no CertificateRequest); only ssl-client-verify: NONE is sent
  kOptional,      // requested: none is accepted; one that fails verification gets 400
  kOptionalNoCa,  // requested: none, or one whose issuer is not trusted, is accepted
};

// Client certificates for the connections whose SNI selects a certificate (nginx's
// ssl_client_certificate / ssl_verify_client / ssl_verify_depth as ingress-nginx's auth-tls-*
// annotations write them; client_auth.h has the rules). The handshake always completes; the
// request is answered 400 (or redirected to `error_page`) when the policy refuses the
// certificate, and the upstream request carries the ssl-client-* fields.
struct ClientAuthConfig {
  std::string ca_pem;   // required: the trusted CA certificates, PEM
  std::string crl_pem;  // revocation lists, PEM; default "": none (then no revocation check)
  ClientVerify verify = ClientVerify::kOn;  // default on
  uint32_t depth = 1;  // certificates above the client's in its chain; default 1 (nginx's)
  // A refused certificate (none, or one that fails verification) is answered 302 to this URL
  // instead of 400. Default "": 400.
  std::string error_page;
  // ssl-client-cert (the URL-escaped PEM) is sent upstream too. Default false.
  bool pass_certificate = false;
  // RE2 searched in the subject DN (RFC 2253, "CN=client,O=Example"); a request whose
  // certificate's subject does not match is answered 403. Default "": any subject.
  std::string match_subject;
  bool operator==(const ClientAuthConfig&) const = default;
};

struct CertificateConfig {
  std::string name;  // unique within the listener; defaults to "cert<index>"
  // SNI names this certificate serves: exact ("a.example.com") or one-label wildcards
  // ("*.example.com"). Lowercased at compile time. Empty: only used as the default.
  std::vector<std::string> server_names;
  // Exactly one of (cert_pem, cert_file) and one of (key_pem, key_file) must be set.
  std::string cert_pem;   // PEM chain, leaf first
  std::string key_pem;    // PEM private key
  std::string cert_file;  // path read at validation/compile time
  std::string key_file;
  // Minimum TLS version for connections whose SNI selects this certificate (a virtual host's
  // own floor). Default: unset, the listener's min_version. It can only raise the listener's
  // floor (the stricter of the two applies); TLS 1.2 is the floor everywhere.
  std::optional<TlsVersion> min_version;
  // Client certificates asked of the connections whose SNI selects this certificate. Default
  // unset: none asked (no CertificateRequest).
  std::optional<ClientAuthConfig> client_auth;
  bool operator==(const CertificateConfig&) const = default;
};

struct HeaderValue {
  std::string name;
  std::string value;
  bool operator==(const HeaderValue&) const = default;
};

struct HeaderMutation {
  std::vector<HeaderValue> add;     // appended (an existing header of that name is kept)
  std::vector<HeaderValue> set;     // replaces every header of that name
  std::vector<std::string> remove;  // removed (applied before add/set)
  bool empty() const { return add.empty() && set.empty() && remove.empty(); }
  bool operator==(const HeaderMutation&) const = default;
};

// A copy of a forward route's requests sent to another cluster, its response dropped (Gateway
// API's RequestMirror). Sampled per request: `per_million` of 1,000,000 requests are copied.
struct MirrorPolicy {
  std::string cluster;             // required, a cluster of the config
  uint32_t per_million = 1000000;  // 0..1000000; default 1000000 (every request)
  bool operator==(const MirrorPolicy&) const = default;
};

struct WeightedCluster {
  std::string cluster;  // required unless direct_status is set
  uint32_t weight = 1;  // default 1
  // Forward actions only (TCP relays refuse them):
  // Instead of forwarding, this share of the requests is answered with this status and no
  // body (Gateway API: the weight of a rule's invalid backendRefs answers 500). Default 0: off.
  uint32_t direct_status = 0;
  // Applied to requests sent to this cluster before the route's own, and to its responses
  // before the route's (Gateway API backendRef filters). Default empty.
  OnHeap<HeaderMutation> request_headers;
  OnHeap<HeaderMutation> response_headers;
  // Requests sent to this entry are also copied to these, after the route's own mirrors
  // (Gateway API RequestMirror on one of a rule's backendRefs). Default none.
  std::vector<MirrorPolicy> mirrors;
  bool operator==(const WeightedCluster&) const = default;
};

// A TCP relay of a TLS listener, used two ways:
//  - TLS passthrough (TlsConfig::passthrough): connections whose ClientHello names one of
//    `server_names` (SNI) are not terminated; their bytes, the ClientHello included, are
//    relayed as raw TCP.
//  - TLS-terminated TCP proxy (TlsConfig::tcp_proxy): the proxy completes the handshake with
//    the certificate the SNI selects (no ALPN protocol is negotiated for these names), then
//    relays the decrypted byte stream as TCP.
// Each connection picks one of `clusters` by weight, then an endpoint of that cluster (its
// load balancing, connect timeout, outlier ejection and health checks apply).
struct TcpProxyConfig {
  // Exact ("db.example.com") or one-label wildcard ("*.example.com") SNI names; required.
  // Exact beats wildcard, and a passthrough name beats a certificate's.
  std::vector<std::string> server_names;
  // One cluster ("cluster": "name") or several with relative weights ("clusters": [...]);
  // either way stored here (a single cluster has weight 1). Weight 0 takes no connection.
  std::vector<WeightedCluster> clusters;
  Millis idle_timeout{3600000};  // no byte either way for this long closes both; default 1h
  bool operator==(const TcpProxyConfig&) const = default;
};

struct TlsConfig {
  // At least one certificate, or none when `passthrough` is not empty (then a ClientHello
  // matching no passthrough name is refused).
  std::vector<CertificateConfig> certificates;
  // Name of the certificate served when SNI is absent or matches no server_name.
  // Default: the first certificate.
  std::string default_certificate;
  TlsVersion min_version = TlsVersion::kTls12;         // default TLS 1.2; "1.3" selectable
  std::vector<std::string> alpn = {"h2", "http/1.1"};  // default h2, http/1.1
  std::vector<TcpProxyConfig> passthrough;             // default none
  // TLS-terminated TCP proxy entries; default none. Every name must be one a certificate
  // serves (exact, or under a wildcard certificate) and no passthrough name.
  std::vector<TcpProxyConfig> tcp_proxy;
  bool operator==(const TlsConfig&) const = default;
};

// What a "*.example.com" domain or server name covers on a listener.
enum class DomainWildcards {
  kOneLabel,         // default: exactly one more label ("a.example.com"), as Ingress
  kOneOrMoreLabels,  // any number of labels ("a.b.example.com" too), as Gateway API
};

struct ListenerConfig {
  std::string name;              // unique, required
  SocketAddress address;         // required
  std::optional<TlsConfig> tls;  // absent: plain text (HTTP/1.1 and h2c prior knowledge)
  // Names of the virtual hosts this listener serves. Default (empty): all virtual hosts (or
  // those virtual_host_prefix selects).
  std::vector<std::string> virtual_hosts;
  // Serve the virtual hosts whose name starts with this, instead of listing them (exclusive
  // with virtual_hosts): a listener of 10k hosts then names none, so a host that comes or goes
  // changes no listener. Default empty: virtual_hosts decides.
  std::string virtual_host_prefix;
  // How wildcard domains (Host), certificate server names and passthrough names (SNI) match on
  // this listener. Defaults to kOneLabel. With kOneOrMoreLabels the longest matching suffix
  // wins ("*.b.example.com" over "*.example.com" for "a.b.example.com").
  DomainWildcards domain_wildcards = DomainWildcards::kOneLabel;
  bool operator==(const ListenerConfig&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Routes

enum class PathMatchType {
  kExact,         // byte equality with the request path (query string excluded)
  kPrefix,        // Kubernetes Prefix: element-wise on '/', trailing slash ignored
  kStringPrefix,  // plain byte prefix
  kRegex,         // RE2 full match of the path
};

struct PathMatch {
  PathMatchType type = PathMatchType::kPrefix;
  std::string value = "/";  // default: Prefix "/" (matches every path)
  bool operator==(const PathMatch&) const = default;
};

enum class HeaderMatchType { kExact, kPresent, kRegex, kPrefix, kSuffix, kContains };

struct HeaderMatch {
  std::string name;  // case-insensitive; lowercased at compile time
  HeaderMatchType type = HeaderMatchType::kExact;
  std::string value;    // unused for kPresent; an RE2 pattern (full match) for kRegex
  bool invert = false;  // match when the condition does NOT hold (absent header: not present)
  bool operator==(const HeaderMatch&) const = default;
};

enum class QueryParamMatchType { kExact, kPresent, kRegex };

// A query parameter condition. The query string is split on '&', each part on its first '='
// ("flag" alone has the value ""); names and values are compared as they are on the wire (no
// percent-decoding), case-sensitively. Of several parameters with the name, the first counts.
struct QueryParamMatch {
  std::string name;
  QueryParamMatchType type = QueryParamMatchType::kExact;
  std::string value;  // unused for kPresent; an RE2 pattern (full match) for kRegex
  bool operator==(const QueryParamMatch&) const = default;
};

struct RouteMatch {
  PathMatch path;
  // The request method, compared exactly and case-sensitively ("GET"); default "": any.
  std::string method;
  std::vector<HeaderMatch> headers;           // all must match
  std::vector<QueryParamMatch> query_params;  // all must match; default none
  bool operator==(const RouteMatch&) const = default;
};

enum class RetryOn : uint32_t {
  kConnectFailure = 1u << 0,        // the upstream connection could not be established
  k5xx = 1u << 1,                   // any 5xx response (and the cases below)
  kGatewayError = 1u << 2,          // 502, 503, 504
  kReset = 1u << 3,                 // the upstream reset/closed before a response began
  kRetriableStatusCodes = 1u << 4,  // a status listed in retriable_status_codes
};

struct RetryPolicy {
  uint32_t retry_on = static_cast<uint32_t>(RetryOn::kConnectFailure);  // bit set of RetryOn
  uint32_t num_retries = 1;           // default 1; 0 disables retries
  Millis per_try_timeout{0};          // default 0: no per-try timeout (the route timeout applies)
  bool retry_non_idempotent = false;  // default false: only connect-failure retries for POST...
  std::vector<uint32_t> retriable_status_codes;  // with kRetriableStatusCodes
  // A retry starts only this long after the request arrived (nginx's
  // proxy_next_upstream_timeout). Default 0: no limit.
  Millis retry_window{0};
  // A retry starts this long after the failed attempt ended (Gateway API retry.backoff).
  // Default 0: at once.
  Millis backoff{0};
  bool operator==(const RetryPolicy&) const = default;
};

// nginx's `rewrite REGEX SUBSTITUTION break` (ingress-nginx rewrite-target).
struct RegexRewrite {
  std::string regex;         // RE2, searched anywhere in the path (unanchored); required
  std::string substitution;  // the new path: $1..$9 are the regex's groups ("" when unset)
  bool operator==(const RegexRewrite&) const = default;
};

// nginx's proxy_intercept_errors with error_page to another upstream (ingress-nginx's
// custom-http-errors with default-backend): an upstream response with one of `statuses`, given
// before any of it went to the client and once the whole request was sent, is dropped and the
// request is sent again to `cluster`, with path "/", no body and the fields x-code (the
// status), x-format (the client's Accept), x-original-uri (the request target) plus
// `request_headers`; that response, whatever its status, is the answer. The error request is
// never intercepted itself, so one request makes at most one error request. The proxy's own
// 502 / 503 / 504 answers (no endpoint, connect failure, timeout) are intercepted the same way.
struct ErrorPagePolicy {
  std::vector<uint32_t> statuses;  // required, each 300..599
  std::string cluster;             // required, a cluster of the config (HTTP/1.1 or h2c)
  // Set on the error request (x-namespace, x-ingress-name...); default none.
  std::vector<HeaderValue> request_headers;
  bool operator==(const ErrorPagePolicy&) const = default;
};

struct ForwardAction {
  // One cluster ("cluster": "name") or several with weights ("clusters": [...]); either way
  // stored here (a single cluster has weight 1).
  std::vector<WeightedCluster> clusters;
  // Replaces the matched path prefix (Prefix / StringPrefix / Exact routes) before forwarding.
  Boxed<std::string> prefix_rewrite;
  // Replaces the whole path (the query string is kept); not with prefix_rewrite. Default unset.
  Boxed<std::string> path_rewrite;
  // When `regex` matches the path, the whole path becomes `substitution`; a '?' in it starts
  // query arguments, followed by the request's own ("&"-joined). A path that does not match is
  // sent as it is. Not with prefix_rewrite or path_rewrite. Default unset.
  Boxed<RegexRewrite> regex_rewrite;
  // Replaces the Host header sent upstream (x-forwarded-host keeps the client's). Default unset.
  Boxed<std::string> host_rewrite;
  Millis timeout{15000};   // whole-request timeout; default 15s; 0 = none
  Millis idle_timeout{0};  // stream idle timeout; default 0 = none
  // Connecting to an endpoint for this route's requests takes at most this long. Default 0:
  // the cluster's connect_timeout.
  Millis connect_timeout{0};
  RetryPolicy retry;       // default: one retry on connect failure
  bool websocket = false;  // allow Upgrade: websocket; default false
  // Clusters that also get a copy of each request (docs/proxy-config.md). Default none.
  std::vector<MirrorPolicy> mirrors;
  Boxed<ErrorPagePolicy> error_pages;  // default none
  // The response body goes to the client at most this many bytes per second, per request (an
  // HTTP/2 stream is one), nginx's limit_rate: the first second's worth and
  // `response_rate_after_bytes` are sent at once (response_pacer.h). Default 0: no limit.
  uint64_t response_bytes_per_second = 0;
  uint64_t response_rate_after_bytes = 0;  // nginx's limit_rate_after; default 0
  bool operator==(const ForwardAction&) const = default;
};

struct RedirectAction {
  std::optional<std::string> scheme;          // "http" / "https"; default: keep
  std::optional<std::string> host;            // default: keep
  std::optional<uint16_t> port;               // default: keep (dropped when scheme or host changes)
  std::optional<std::string> path;            // replaces the whole path
  std::optional<std::string> prefix_rewrite;  // replaces the matched prefix
  bool strip_query = false;                   // default false
  uint32_t code = 301;                        // 301 (default), 302, 303, 307, 308
  bool operator==(const RedirectAction&) const = default;
};

struct DirectResponseAction {
  uint32_t status = 200;                    // 100..599, default 200
  std::string body;                         // default empty
  std::string content_type = "text/plain";  // default text/plain (only sent with a body)
  bool operator==(const DirectResponseAction&) const = default;
};

// Cross-origin resource sharing for a forward route (Gateway API's CORS filter): the proxy
// answers preflight requests from allowed origins itself and adds the allow headers to the
// responses of their other requests (cors.h has the rules).
struct CorsPolicy {
  // "*", an exact origin ("https://www.example.com", compared case-insensitively) or one with a
  // wildcard for the leading host labels ("https://*.example.com": one or more labels).
  std::vector<std::string> allow_origins;
  std::vector<std::string> allow_methods;   // "GET"...; "*": whatever the preflight asks
  std::vector<std::string> allow_headers;   // header names; "*": whatever the preflight asks
  std::vector<std::string> expose_headers;  // header names
  bool allow_credentials = false;           // default false
  uint32_t max_age = 5;                     // seconds a preflight answer may be cached; default 5
  bool operator==(const CorsPolicy&) const = default;
};

// HTTP Basic authentication of a forward route (basic_auth.h): a request without the
// credentials of one of `users` is answered 401 with the realm's challenge.
struct BasicAuthUser {
  std::string name;  // required
  std::string hash;  // an htpasswd hash (password_hash.h lists the schemes); required
  bool operator==(const BasicAuthUser&) const = default;
};
struct BasicAuthConfig {
  std::string realm;                 // default "" (nginx's auth_basic "")
  std::vector<BasicAuthUser> users;  // default none: every request is refused
  bool operator==(const BasicAuthConfig&) const = default;
};

// External authentication of a forward route (nginx's auth_request as ingress-nginx's auth-url
// writes it; ext_auth.h has the rules). Before the request goes upstream, a request with the
// client's method (or `method`), its fields and no body goes to `cluster`; a 2xx answer lets the
// request through with `response_headers` copied from that answer, 401 and 403 are passed to
// the client (401 becomes a redirect to `signin` when set), anything else, a timeout or a failed
// connection is answered 500.
struct ExtAuthCacheRule {
  // The auth answers kept; default none: 200, 301 and 302 (nginx's proxy_cache_valid).
  std::vector<uint32_t> statuses;
  bool any = false;  // every status; default false
  Millis ttl{0};     // required, > 0
  bool operator==(const ExtAuthCacheRule&) const = default;
};
struct ExtAuthConfig {
  std::string cluster;     // required: a cluster of the config, HTTP/1.1 (plain or TLS)
  std::string path = "/";  // the auth request's path and query; default "/"
  std::string host;        // the auth request's Host field; required
  std::string method;      // default "": the client's method
  // Fields copied from an allowing answer into the upstream request; the client's own fields of
  // these names never reach the upstream. Default none.
  std::vector<std::string> response_headers;
  // x-auth-request-redirect of the auth request, an expression (hash_expression.h). Default "":
  // the request target.
  std::string request_redirect;
  // Where a 401 is redirected (302), an expression; the original URL is added as the query
  // parameter `signin_redirect_param` unless the URL names that parameter. Default "": the 401
  // is passed on.
  std::string signin;
  std::string signin_redirect_param = "rd";
  // The auth answer's Set-Cookie fields go on every response, not only on 2xx and 3xx ones.
  bool always_set_cookie = false;
  Millis timeout{60000};  // the whole auth request; default 60s (nginx's proxy_read_timeout)
  // Answers are remembered per value of this expression (with `cache_valid`); default "": none.
  std::string cache_key;
  std::vector<ExtAuthCacheRule> cache_valid;  // required with cache_key
  bool operator==(const ExtAuthConfig&) const = default;
};

// Which client addresses may use a route (nginx allow/deny; access_control.h has the rules):
// IPv4 or IPv6 CIDRs or bare addresses, judged against the TCP peer's address. A client in a
// `deny` range, or outside every `allow` range when `allow` is not empty, is answered 403.
struct SourceRanges {
  std::vector<std::string> allow;  // default none: every address not denied
  std::vector<std::string> deny;   // default none
  bool operator==(const SourceRanges&) const = default;
};

// Per-client-address limits of a forward route (nginx's limit_req / limit_conn as ingress-nginx's
// limit-* annotations write them; rate_limit.h has the rules). Routes naming the same zone share
// its counters and must carry the same policy.
struct RateLimitPolicy {
  std::string zone;                  // required
  uint32_t requests_per_second = 0;  // default 0: no per-second rate
  uint32_t requests_per_minute = 0;  // default 0: no per-minute rate
  uint32_t burst_multiplier = 5;     // burst = rate * this, requests over the rate; default 5
  uint32_t max_connections = 0;      // requests in progress per address; default 0: no limit
  std::vector<std::string> exempt;   // CIDRs never limited; default none
  uint32_t status = 503;             // the answer past a limit, 400..599; default 503
  bool operator==(const RateLimitPolicy&) const = default;
};

enum class ActionType { kForward, kRedirect, kDirectResponse };

// Ten thousand hosts hold twenty thousand of these: the parts few routes set are Boxed (a
// pointer while unset) and the redirect, direct answer and header mutations OnHeap (a pointer
// while at their defaults), where inline they made a route 1.6 KB.
struct RouteConfig {
  std::string name;  // optional; used in metrics and logs. Default "<vhost>/<index>"
  RouteMatch match;
  ActionType action = ActionType::kForward;  // exactly one of forward/redirect/direct_response
  ForwardAction forward;
  OnHeap<RedirectAction> redirect;
  OnHeap<DirectResponseAction> direct_response;
  OnHeap<HeaderMutation> request_headers;
  OnHeap<HeaderMutation> response_headers;
  Boxed<CorsPolicy> cors;  // forward routes only; default none
  // Checked before anything else the route does (CORS preflights, redirects included).
  Boxed<SourceRanges> source_ranges;  // default none: every client
  // Forward routes: checked after redirects and CORS preflights (nginx's access phase comes
  // after its rewrite phase). Default none.
  Boxed<BasicAuthConfig> basic_auth;
  // Forward routes: checked after basic_auth (nginx's auth_request runs after auth_basic in
  // its access phase). Default none.
  Boxed<ExtAuthConfig> ext_auth;
  // Forward routes: a request body larger than this many bytes is answered 413 (a declared
  // Content-Length at once; a chunked or HTTP/2 body when it grows past it, the upstream
  // request then abandoned). Default 0: no limit.
  uint64_t max_request_body_bytes = 0;
  // Forward routes: per-client-address limits, checked after redirects and CORS preflights
  // (nginx's preaccess phase comes after its rewrite phase). Default none.
  Boxed<RateLimitPolicy> rate_limit;
  bool operator==(const RouteConfig&) const = default;
};

enum class RouteOrder {
  kSpecificity,  // default: documented precedence (Exact, Regex, longest Prefix...)
  kConfig,       // first match in the listed order
};

struct VirtualHostConfig {
  std::string name;  // unique, required
  // "example.com" (exact), "*.example.com" (exactly one extra label), "*" (catch-all).
  std::vector<std::string> domains;
  std::vector<RouteConfig> routes;
  RouteOrder route_order = RouteOrder::kSpecificity;
  HeaderMutation request_headers;   // applied after the route's
  HeaderMutation response_headers;  // applied after the route's
  bool operator==(const VirtualHostConfig&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Clusters

enum class LbPolicy {
  kRoundRobin,          // default; ignores weights
  kWeightedRoundRobin,  // smooth weighted (earliest deadline first)
  kLeastRequest,        // power of two choices on in-flight requests / weight
  kRandom,              // weighted random
  kRingHash,            // consistent hashing (ketama-like ring) on hash_on
  kMaglev,              // consistent hashing (Maglev table) on hash_on
};

enum class HashOn { kNone, kHeader, kCookie, kSourceIp, kExpression };

// The protocol spoken to a cluster's endpoints.
enum class UpstreamProtocol {
  kHttp1,  // default: HTTP/1.1, one request per pooled connection at a time (TLS: ALPN http/1.1)
  kH2c,    // HTTP/2 with prior knowledge over plain TCP: streams multiplexed per connection
  kH2,     // HTTP/2 over TLS (ALPN h2; the cluster's `tls` is required)
};

// TLS from the proxy to a cluster's endpoints (the endpoint's certificate is checked unless
// `verify` is false). Validation refuses CA bundles, client certificates and cipher lists that
// do not load.
struct UpstreamTlsConfig {
  // SNI sent in the ClientHello, and the name the endpoint's certificate must carry when
  // subject_alt_names is empty. Default "": no SNI, and the name checked is the endpoint's
  // host (a DNS name or an IP address).
  std::string server_name;
  bool verify = true;  // default true: chain to `ca` and the name check
  // Trusted CA certificates, PEM (one of ca_pem, ca_file). Neither: the system trust store.
  std::string ca_pem;
  std::string ca_file;
  // The certificate must carry one of these: DNS names ("*.example.com" in the certificate
  // matches one label) or URIs ("spiffe://..."). Default empty: server_name (or the host).
  std::vector<std::string> subject_alt_names;
  uint32_t verify_depth = 0;  // intermediate certificates allowed; default 0: OpenSSL's (100)
  // Client certificate presented to the endpoint (mutual TLS); default none. `name` unused.
  std::optional<CertificateConfig> client_certificate;
  TlsVersion min_version = TlsVersion::kTls12;  // default TLS 1.2
  TlsVersion max_version = TlsVersion::kTls13;  // default TLS 1.3
  // TLS 1.2 cipher list in OpenSSL's syntax; default "": OpenSSL's default list.
  std::string ciphers;
  bool operator==(const UpstreamTlsConfig&) const = default;
};

struct HashPolicy {
  HashOn on = HashOn::kNone;  // kNone with ring_hash/maglev: random endpoint
  // Header or cookie name (header lowercased at compile time); for kExpression an nginx-style
  // expression of variables and text ("$host$request_uri"; hash_expression.h).
  std::string name;
  // Cookie affinity (kCookie only). When set, a request without the cookie, or whose cookie
  // names an endpoint that is gone or unavailable, gets an endpoint from the load balancer and
  // the response carries `Set-Cookie: <name>=<value>` where the value identifies that
  // endpoint; later requests with the cookie go to it while it is available. Default false
  // (the cookie is only hashed, never set).
  bool set_cookie = false;
  Millis cookie_ttl{0};         // Max-Age of the cookie; default 0 = a session cookie
  std::string cookie_path;      // Path attribute; default "": the matched route's path prefix
  std::string cookie_samesite;  // SameSite attribute: "None", "Lax", "Strict"; default "": none
  bool cookie_secure = false;   // the Secure attribute; default false
  // What the cookie's value is. false (default): it names the endpoint, kept while that
  // endpoint is available (ingress-nginx's affinity-mode persistent). true: a random session
  // key hashed onto the ring like every later request carrying it, so a change of endpoints
  // moves only its share of the sessions (affinity-mode balanced).
  bool cookie_balanced = false;
  // A retry of a request with the cookie goes to another endpoint and the cookie is set anew
  // for it. Default true; false: the retry goes back to the cookie's endpoint and the cookie
  // stays (ingress-nginx's session-cookie-change-on-failure false).
  bool cookie_change_on_failure = true;
  // SameSite=None is left out for the user agents known to refuse it (the list Chromium
  // publishes: Chrome 51-66, UC Browser before 12.13.2, iOS 12, Safari on macOS 10.14).
  // Default false.
  bool cookie_samesite_none_conditional = false;
  bool operator==(const HashPolicy&) const = default;
};

struct EndpointConfig {
  SocketAddress address;
  uint32_t weight = 1;  // 1..128, default 1 (0 is rejected)
  bool operator==(const EndpointConfig&) const = default;
};

struct OutlierDetectionConfig {
  bool enabled = true;                        // default on
  uint32_t consecutive_5xx = 5;               // default 5; 0 disables this trigger
  uint32_t consecutive_connect_failures = 5;  // default 5 (also counts timeouts); 0 disables
  Millis base_ejection_time{30000};           // default 30s; doubled at each repeat ejection
  Millis max_ejection_time{300000};           // default 300s cap
  uint32_t max_ejection_percent = 10;         // default 10; at least one endpoint may be ejected
  bool operator==(const OutlierDetectionConfig&) const = default;
};

struct StatusRange {
  uint32_t start = 200;  // inclusive
  uint32_t end = 399;    // inclusive
  bool operator==(const StatusRange&) const = default;
};

struct HealthCheckConfig {
  std::string path = "/healthz";     // default /healthz
  std::string host;                  // Host header; default: the endpoint address
  Millis interval{5000};             // default 5s
  Millis timeout{1000};              // default 1s
  uint32_t healthy_threshold = 2;    // default 2 consecutive successes
  uint32_t unhealthy_threshold = 3;  // default 3 consecutive failures
  std::vector<StatusRange> expected_statuses = {StatusRange{200, 399}};  // default 200-399
  bool operator==(const HealthCheckConfig&) const = default;
};

// One per Service port at scale: the rarely set TLS and health check are Boxed and the hash
// policy OnHeap (inline they made a cluster 936 bytes).
struct ClusterConfig {
  std::string name;                       // unique, required
  std::vector<EndpointConfig> endpoints;  // may be empty (requests get 503)
  LbPolicy lb_policy = LbPolicy::kRoundRobin;
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;  // default http1
  Boxed<UpstreamTlsConfig> tls;                          // default: plain TCP
  OnHeap<HashPolicy> hash_on;                            // for ring_hash / maglev
  // ring_hash: upper bound of the ring's points, default 4096. Each endpoint gets weight * 2^k
  // points with 2^k the largest power of two that fits (at least 1 per unit of weight).
  uint32_t ring_size = 4096;
  // ring_hash: a key goes to the subset of this many endpoints that follow it on the ring,
  // one of them at random per request (ingress-nginx's upstream-hash-by-subset). Default 0: the
  // key's own endpoint.
  uint32_t ring_subset_size = 0;
  uint32_t maglev_table_size = 65537;  // maglev: prime table size, default 65537
  Millis connect_timeout{5000};        // default 5s
  Millis idle_timeout{60000};          // pooled upstream connection idle timeout, default 60s
  uint32_t max_connections_per_endpoint = 0;  // default 0 = unlimited
  uint32_t max_connections = 0;               // per cluster per proxy; default 0 = unlimited
  uint32_t max_pending_requests = 1024;       // waiting for a connection; default 1024
  OutlierDetectionConfig outlier_detection;
  Boxed<HealthCheckConfig> health_check;  // default: no active health check
  bool operator==(const ClusterConfig&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Process-level settings

struct AdminConfig {
  bool enabled = true;                       // default true
  SocketAddress address{"127.0.0.1", 9901};  // default 127.0.0.1:9901 (loopback)
  bool operator==(const AdminConfig&) const = default;
};

enum class AccessLogFormat { kOff, kJson, kText };

// What the proxy does with the `server` response header (Envoy's three policies), for every
// response, proxied or answered by the proxy itself, over HTTP/1.1 and HTTP/2.
enum class ServerHeader {
  kOverwrite,       // `server: kop`, replacing the upstream's value
  kAppendIfAbsent,  // the upstream's value when it sent one, else `server: kop`
  kPassThrough,     // the upstream's value or none; the proxy never adds one
};

struct ServerSettings {
  uint32_t workers = 0;                                   // default 0: one per core
  Millis request_header_timeout{10000};                   // default 10s (slowloris)
  Millis idle_timeout{60000};                             // client keep-alive idle; default 60s
  Millis drain_timeout{10000};                            // graceful shutdown; default 10s
  uint32_t max_request_header_bytes = 65536;              // default 64 KiB -> 431 beyond
  uint32_t max_uri_bytes = 8192;                          // default 8 KiB -> 414 beyond
  uint32_t http2_max_concurrent_streams = 128;            // default 128
  AccessLogFormat access_log = AccessLogFormat::kOff;     // default off
  std::string access_log_path;                            // default "" = stdout
  ServerHeader server_header = ServerHeader::kOverwrite;  // default overwrite
  bool operator==(const ServerSettings&) const = default;
};

struct Config {
  std::string version = std::string(kSchemaVersion);
  std::string generation;  // opaque revision label shown by /config_dump; default ""
  std::vector<ListenerConfig> listeners;
  // Held shared (shared.h): a Config built from the previous one keeps its unchanged virtual
  // hosts and clusters by pointer, and RouteTable::compile() reuses their compiled form.
  std::vector<Shared<VirtualHostConfig>> virtual_hosts;
  std::vector<Shared<ClusterConfig>> clusters;
  AdminConfig admin;
  ServerSettings server;
  bool operator==(const Config&) const = default;
};

// Parses the JSON schema. Syntax and shape errors only (plus value ranges that are checkable
// locally); semantic checks are validate()'s. Error messages start with the JSON path.
absl::StatusOr<Config> parse_config(std::string_view json);

// Renders every field (defaults included), so the output is self-describing and parses back
// to an equal Config. With Secrets::kRedact (the admin /config_dump) inline private keys and
// htpasswd hashes are written as "<redacted>": that output shows the config, it does not parse
// back to it.
enum class Secrets { kInclude, kRedact };
std::string to_json(const Config& config, bool pretty = true, Secrets secrets = Secrets::kInclude);

// Semantic checks: duplicate names, unknown cluster / virtual host references, invalid RE2
// regexes, malformed domains and SNI names, zero total weights, listener address conflicts,
// certificates that fail to load or whose key does not match. The error names the JSON path.
absl::Status validate(const Config& config);

// Names used in the JSON schema (also handy for logs and metrics labels).
std::string_view to_string(DomainWildcards wildcards);
std::string_view to_string(LbPolicy policy);
std::string_view to_string(UpstreamProtocol protocol);
std::string_view to_string(PathMatchType type);
std::string_view to_string(ServerHeader policy);
std::string_view to_string(ClientVerify verify);  // on, off, optional, optional_no_ca
// The policy named `name` (overwrite, append_if_absent, pass_through); nullopt when unknown.
std::optional<ServerHeader> parse_server_header(std::string_view name);

}  // namespace kop::proxy
