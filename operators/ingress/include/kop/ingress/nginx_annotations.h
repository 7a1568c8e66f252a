// kop::ingress nginx annotations: reads an Ingress' `nginx.ingress.kubernetes.io/*` annotations
// with ingress-nginx's value syntax and defaults, for Ingresses written for ingress-nginx.
//
// read_nginx_annotations() is pure: it looks at the Ingress object only (no Secrets, no
// ConfigMaps: the model reads those it names) and returns what the model applies to the Ingress'
// routes, plus one verdict per annotation of that prefix: supported, supported with a named
// difference, or not supported (ignored; never executed). The model turns every verdict that is not
// "supported" into an Event on the Ingress; `kop-ingress migrate` prints them as a report. The
// table of annotations and their differences is docs/migrating-from-ingress-nginx.md. Threading:
// pure functions over immutable values; any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/object.h"
#include "kop/ingress/model.h"

namespace kop::ingress {

inline constexpr std::string_view kNginxAnnotationPrefix = "nginx.ingress.kubernetes.io/";

enum class NginxSupport {
  kSupported,  // behaves as in ingress-nginx
  kDifferent,  // applied, with the difference named in `note`
  kIgnored,    // not applied: not supported, or an invalid value (`note` says which)
};
std::string_view to_string(NginxSupport support);

struct NginxVerdict {
  std::string annotation;  // without the prefix, e.g. "rewrite-target"
  NginxSupport support = NginxSupport::kSupported;
  std::string note;  // empty when kSupported
  auto operator<=>(const NginxVerdict&) const = default;
};

// What one Ingress' annotations ask for. Every field holds ingress-nginx's default when its
// annotation is absent or ignored.
// A canary Ingress (canary: "true"): its paths are not routes of their own, they divert part
// of the traffic of the same host and path of the main (non-canary) Ingress. The first rule
// that applies decides: the header, then the cookie, then the weight.
struct NginxCanary {
  std::string header;           // canary-by-header: "always" -> canary, "never" -> main
  std::string header_value;     // canary-by-header-value: this value -> canary (else next rule)
  std::string header_pattern;   // canary-by-header-pattern: an RE2 full match -> canary
  std::string cookie;           // canary-by-cookie: "always" -> canary, "never" -> main
  uint32_t weight = 0;          // canary-weight: requests out of weight_total. Default 0
  uint32_t weight_total = 100;  // canary-weight-total. Default 100
  bool operator==(const NginxCanary&) const = default;
};

// auth-type: basic with auth-secret ("name" or "namespace/name", the Ingress' namespace only),
// auth-secret-type (auth-file: the Secret's key `auth` holds htpasswd lines; auth-map: each key
// is a user, its value the hash) and auth-realm (default ""). The model reads the Secret into
// `users`; the reader leaves them empty.
struct NginxBasicAuth {
  std::string secret_namespace;
  std::string secret_name;
  bool auth_map = false;  // auth-secret-type: auth-map; default auth-file
  std::string realm;
  std::vector<std::pair<std::string, std::string>> users;  // (name, hash), sorted by name
  bool operator==(const NginxBasicAuth&) const = default;
};

// auth-url (http or https; no variables) with auth-method, auth-signin (+ -redirect-param),
// auth-response-headers, auth-request-redirect, auth-cache-key (+ auth-cache-duration, default
// "200 202 401 5m") and auth-always-set-cookie. The model turns the URL's host into a cluster:
// a Service's DNS name (name.namespace.svc[.cluster.local]) becomes that Service port's
// endpoints, any other name or address a cluster of its own.
struct NginxExtAuth {
  bool tls = false;             // https
  std::string host;             // the URL's host, lowercase (an IPv6 address without brackets)
  uint16_t port = 0;            // the URL's port; default 80 or 443
  proxy::ExtAuthConfig config;  // all but `cluster` (and `timeout`, the route's read timeout)
  bool operator==(const NginxExtAuth&) const = default;
};

// auth-tls-secret ("namespace/name", the Ingress' namespace only) with auth-tls-verify-client
// (on, off, optional, optional_no_ca; default on), -verify-depth (default 1), -error-page,
// -pass-certificate-to-upstream (default false) and -match-cn ("CN=" then an RE2 searched in
// the subject DN). The model reads the Secret's ca.crt (and optional ca.crl) into
// config.ca_pem / crl_pem; the reader leaves them empty.
struct NginxClientAuth {
  std::string secret_namespace;
  std::string secret_name;
  proxy::ClientAuthConfig config;
  bool operator==(const NginxClientAuth&) const = default;
};

struct NginxAnnotations {
  // canary: "true" (with canary-*). Unset: not a canary Ingress.
  std::optional<NginxCanary> canary;
  // use-regex, or implied by rewrite-target: the paths of every host of this Ingress (and of
  // the other Ingresses on those hosts) are case-insensitive regular expressions matched as
  // prefixes. Default false.
  bool use_regex = false;
  // rewrite-target: the upstream path; `$1`..`$9` are the path regex's groups. Implies
  // use_regex (for the hosts of the Ingress). Default unset.
  std::optional<std::string> rewrite_target;
  // app-root: requests for exactly "/" are redirected (302) here. Default unset.
  std::optional<std::string> app_root;
  // permanent-redirect (+ -code, default 301) / temporal-redirect (302): every path of the
  // Ingress answers this redirect, query string dropped. Default unset.
  std::optional<Redirect> redirect;
  bool ssl_redirect = true;           // ssl-redirect: TLS hosts redirect plain HTTP. Default true
  bool force_ssl_redirect = false;    // force-ssl-redirect: also hosts without TLS. Default false
  bool from_to_www_redirect = false;  // from-to-www-redirect. Default false
  std::vector<std::string> server_aliases;  // server-alias: more hosts with the same routes
  // load-balance: round_robin (default) or ewma (least request here); affinity: cookie.
  Strategy strategy = Strategy::kRoundRobin;
  // affinity: cookie with session-cookie-name (default INGRESSCOOKIE), -path, -max-age/-expires.
  std::optional<AffinityCookie> cookie;
  // upstream-hash-by: consistent hashing on this nginx expression (Strategy::kHash); affinity
  // cookie wins over it, as in ingress-nginx. Default "".
  std::string hash_by;
  // upstream-hash-by-subset "true" with upstream-hash-by: each key goes to a subset of
  // upstream-hash-by-subset-size endpoints (default 3), one at random per request. Default 0:
  // no subset.
  uint32_t hash_subset_size = 0;
  // service-upstream: the Service's ClusterIP as the only endpoint. Default false.
  bool service_upstream = false;
  // backend-protocol GRPC, GRPCS, H2C: HTTP/2 to the backend (h2c, or over TLS with GRPCS).
  bool backend_h2 = false;
  // backend-protocol HTTPS / GRPCS with proxy-ssl-verify, -verify-depth, -name, -server-name,
  // -protocols, -ciphers. Unset: plain TCP. Its CA and client certificate come from
  // proxy-ssl-secret (below), read by the model.
  std::optional<proxy::UpstreamTlsConfig> backend_tls;
  // proxy-ssl-secret "namespace/name" (tls.crt, tls.key, ca.crt); empty: none.
  std::string proxy_ssl_secret;
  // proxy-read-timeout / proxy-send-timeout (seconds, default 60 each): the larger becomes the
  // route's idle timeout; ingress-nginx has no whole-request timeout, so none is set.
  std::chrono::milliseconds idle_timeout{60000};
  // proxy-read-timeout alone: it bounds the auth request of auth-url. Default 60s.
  std::chrono::milliseconds read_timeout{60000};
  // proxy-connect-timeout (seconds). Unset: the cluster's 5 s (ingress-nginx's default too).
  std::optional<std::chrono::milliseconds> connect_timeout;
  // proxy-next-upstream (default "error timeout"), -tries (default 3 attempts) and -timeout
  // (retry.window; default 0, no limit).
  RetryPolicy retry;
  // default-backend: a Service of the Ingress' namespace (its first port, as ingress-nginx's
  // custom default backend) that serves the Ingress' paths whose Service has no ready
  // endpoint, and answers the error requests of custom-http-errors. Default "": none.
  std::string default_backend;
  // custom-http-errors: statuses (300..599, sorted) whose answers the default backend's
  // replace. Default none; ignored without default_backend.
  std::vector<uint32_t> custom_http_errors;
  // upstream-vhost, x-forwarded-prefix, configuration-snippet's proxy_set_header: set on the
  // request; configuration-snippet's more_set_headers: set on the response.
  HeaderPolicy request_headers;
  HeaderPolicy response_headers;
  // enable-cors with cors-* (ingress-nginx's defaults: origin "*", GET PUT POST DELETE PATCH
  // OPTIONS, its header list, credentials true, max-age 1728000). Default unset.
  std::optional<Cors> cors;
  // allowlist-source-range (or its older name whitelist-source-range) and
  // denylist-source-range: CIDR lists. Default unset: every client.
  std::optional<SourceRanges> source_ranges;
  // auth-type basic (NginxBasicAuth). Default unset: no authentication.
  std::optional<NginxBasicAuth> basic_auth;
  // auth-url and its companions (NginxExtAuth). Default unset: no external authentication.
  std::optional<NginxExtAuth> ext_auth;
  // auth-tls-secret and its companions (NginxClientAuth): client certificates asked on the
  // Ingress' TLS hosts. Default unset: none.
  std::optional<NginxClientAuth> client_auth;
  // proxy-body-size: the largest request body (nginx's client_max_body_size; 413 beyond it).
  // ingress-nginx's default 1m; "0": no limit.
  uint64_t max_body_bytes = uint64_t{1} << 20;
  // limit-rps, limit-rpm, limit-connections with limit-burst-multiplier (default 5) and
  // limit-allowlist (or its older name limit-whitelist): per client address, in one zone per
  // Ingress ("namespace/name"). Default unset: no limits.
  std::optional<RateLimit> rate_limit;
  // limit-rate (KB/s) and limit-rate-after (KB), nginx's `k` (1024 bytes): the response body
  // of each request leaves at most this fast after the first limit-rate-after. Default 0: none.
  uint64_t limit_rate_bytes = 0;
  uint64_t limit_rate_after_bytes = 0;
  // custom-headers "namespace/name" (or "name"): a ConfigMap of the Ingress' namespace whose
  // data the model sets on the responses of the Ingress' paths. Empty: none.
  std::string custom_headers_namespace;
  std::string custom_headers_name;
  // What keeps the Ingress' paths answering 503, as ingress-nginx denies a location whose
  // custom-headers cannot be applied (another namespace's ConfigMap; the model adds a missing
  // ConfigMap or an invalid header). Default "": none.
  std::string denied;
  // The first access restriction kop-ingress cannot enforce (auth-type, auth-url,
  // auth-tls-secret, a source range that does not parse): the Ingress' paths then answer 403
  // rather than serve without it (fail closed). Default "": none.
  std::string unenforced_access;
  // One per annotation with the prefix, sorted by annotation.
  std::vector<NginxVerdict> verdicts;
};

NginxAnnotations read_nginx_annotations(const api::Object& ingress);

// The "namespace/name" of the ConfigMap `ingress` names in custom-headers (a bare name is in the
// Ingress' namespace); nullopt without the annotation. The controller builds again when one of
// these ConfigMaps changes, and for no other ConfigMap of the cluster.
std::optional<std::string> nginx_custom_headers_key(const api::Object& ingress);

// nginx's size syntax (client_max_body_size): digits with an optional unit k/K, m/M or g/G
// (1024, 1024^2, 1024^3); nullopt otherwise or on overflow.
std::optional<uint64_t> parse_nginx_size(std::string_view text);

// ingress-nginx's boolean syntax (Go's strconv.ParseBool): 1 t T TRUE true True, 0 f F FALSE
// false False; nullopt otherwise.
std::optional<bool> parse_nginx_bool(std::string_view text);

}  // namespace kop::ingress
