// render(): Model -> proxy::Config (render.h describes the layout).
#include "kop/ingress/render.h"

#include <algorithm>
#include <unordered_map>

#include <absl/strings/str_cat.h>

#include "kop/proxy/client_auth.h"

namespace kop::ingress {
namespace internal {

// One model virtual host rendered: its plain virtual host and, when it has TLS and there is an
// https listener, its secure one.
struct RenderedHost {
  std::shared_ptr<const VirtualHost> model;
  proxy::Shared<proxy::VirtualHostConfig> plain;
  std::optional<proxy::Shared<proxy::VirtualHostConfig>> secure;
  uint64_t seen = 0;  // the render() that last had the host
};

// One model cluster rendered.
struct RenderedCluster {
  std::shared_ptr<const Cluster> model;  // keeps the key's address from being reused
  proxy::Shared<proxy::ClusterConfig> rendered;
  uint64_t seen = 0;
  size_t order = 0;  // its place in RenderedHosts::cluster_order
};

struct RenderedHosts {
  // What a rendered host depends on besides the model host: the port of https redirects and
  // whether an https listener exists. A render() with others starts afresh.
  uint16_t https_port = 0;
  bool https = false;
  // What a rendered cluster depends on besides the model cluster: the affinity cookie.
  std::string affinity_cookie;
  std::chrono::milliseconds affinity_cookie_ttl{0};
  uint64_t renders = 0;
  std::unordered_map<std::string, RenderedHost> by_host;
  std::unordered_map<const Cluster*, RenderedCluster> clusters;  // by model cluster
  // The last render()'s entries of by_host and clusters in the model's order, so the next one
  // finds an unchanged host or cluster by a pointer compare at the same place instead of
  // hashing its name or address: only what came, went or changed is looked up (at 10k hosts
  // the lookups were most of an Ingress change's render). Every entry listed is alive: an
  // entry goes only when a render() did not have it (then it is not in that render's order)
  // or with the whole map (the order with it).
  std::vector<RenderedHost*> host_order;
  std::vector<RenderedCluster*> cluster_order;
  // Gateway front door hosts, by rendered name ("gw/<ns>/<gateway>/<port>/<host>"): the model
  // host (a TranslateCache keeps unchanged ones) and its rendering.
  struct DoorHost {
    std::shared_ptr<const VirtualHost> model;
    proxy::Shared<proxy::VirtualHostConfig> rendered;
    uint64_t seen = 0;
  };
  std::unordered_map<std::string, DoorHost> door_hosts;
  // Per front door listener, the last render()'s entries of door_hosts in the door's order: an
  // unchanged host is found by a pointer compare at its place, without making its name and
  // hashing it (10k names per build at 10k HTTPRoutes). Only the doors of the last render().
  using DoorOrders = std::unordered_map<std::string, std::vector<DoorHost*>>;
  DoorOrders door_order;
  size_t door_hosts_live = 0;  // hosts of the last render()'s doors
  size_t rendered = 0;
  size_t reused = 0;
  size_t clusters_rendered = 0;
};

}  // namespace internal

RenderCache::RenderCache() : hosts_(std::make_unique<internal::RenderedHosts>()) {}
RenderCache::~RenderCache() = default;
RenderCache::RenderCache(RenderCache&&) noexcept = default;
RenderCache& RenderCache::operator=(RenderCache&&) noexcept = default;
size_t RenderCache::rendered() const {
  return hosts_ ? hosts_->rendered : 0;
}
size_t RenderCache::reused() const {
  return hosts_ ? hosts_->reused : 0;
}
size_t RenderCache::clusters_rendered() const {
  return hosts_ ? hosts_->clusters_rendered : 0;
}

namespace {

// The cluster of tcpproxy hosts whose Services cannot be resolved (model cluster names have
// a '/', so this one cannot collide).
constexpr std::string_view kUnavailableCluster = "passthrough-unavailable";

proxy::PathMatchType path_type(PathKind k) {
  switch (k) {
    case PathKind::kExact:
      return proxy::PathMatchType::kExact;
    case PathKind::kPrefix:
      return proxy::PathMatchType::kPrefix;
    case PathKind::kStringPrefix:
      return proxy::PathMatchType::kStringPrefix;
    case PathKind::kRegex:
      return proxy::PathMatchType::kRegex;
  }
  return proxy::PathMatchType::kPrefix;
}

proxy::HeaderMatch header_match(const HeaderCondition& c) {
  proxy::HeaderMatch h;
  h.name = c.name;
  h.value = c.value;
  switch (c.op) {
    case HeaderOp::kExact:
      h.type = proxy::HeaderMatchType::kExact;
      break;
    case HeaderOp::kPresent:
      h.type = proxy::HeaderMatchType::kPresent;
      break;
    case HeaderOp::kContains:
      h.type = proxy::HeaderMatchType::kContains;
      break;
    case HeaderOp::kNotExact:
      h.type = proxy::HeaderMatchType::kExact, h.invert = true;
      break;
    case HeaderOp::kNotPresent:
      h.type = proxy::HeaderMatchType::kPresent, h.invert = true;
      break;
    case HeaderOp::kNotContains:
      h.type = proxy::HeaderMatchType::kContains, h.invert = true;
      break;
    case HeaderOp::kRegex:
      h.type = proxy::HeaderMatchType::kRegex;
      break;
    case HeaderOp::kNotRegex:
      h.type = proxy::HeaderMatchType::kRegex, h.invert = true;
      break;
  }
  if (h.type == proxy::HeaderMatchType::kPresent) h.value.clear();
  return h;
}

proxy::HeaderMutation mutation(const HeaderPolicy& p) {
  proxy::HeaderMutation m;
  for (const auto& s : p.set) m.set.push_back(proxy::HeaderValue{s.name, s.value});
  for (const auto& s : p.add) m.add.push_back(proxy::HeaderValue{s.name, s.value});
  m.remove = p.remove;
  return m;
}

proxy::RetryPolicy retry_policy(const RetryPolicy& p) {
  proxy::RetryPolicy out;
  out.num_retries = p.num_retries;
  out.retry_on = 0;
  if (p.on_connect_failure) out.retry_on |= static_cast<uint32_t>(proxy::RetryOn::kConnectFailure);
  if (p.on_reset) out.retry_on |= static_cast<uint32_t>(proxy::RetryOn::kReset);
  if (!p.statuses.empty()) {
    out.retry_on |= static_cast<uint32_t>(proxy::RetryOn::kRetriableStatusCodes);
    out.retriable_status_codes = p.statuses;
  }
  out.retry_non_idempotent = p.non_idempotent;
  out.retry_window = p.window;
  out.backoff = p.backoff;
  return out;
}

proxy::RouteConfig route_config(const Route& r, bool plain, uint16_t https_port) {
  proxy::RouteConfig rc;
  rc.name = absl::StrCat(r.source.kind, "/", r.source.key(), "/", r.field);
  rc.match.path = proxy::PathMatch{path_type(r.path.kind), r.path.value};
  for (const auto& h : r.headers) rc.match.headers.push_back(header_match(h));
  rc.match.method = r.method;
  for (const auto& q : r.query_params)
    rc.match.query_params.push_back(proxy::QueryParamMatch{
        q.name, q.regex ? proxy::QueryParamMatchType::kRegex : proxy::QueryParamMatchType::kExact,
        q.value});
  // Before any other answer of the route, its redirects included.
  if (r.source_ranges)
    rc.source_ranges = proxy::SourceRanges{r.source_ranges->allow, r.source_ranges->deny};
  if (plain && r.https_redirect) {
    rc.action = proxy::ActionType::kRedirect;
    proxy::RedirectAction& redirect = rc.redirect.edit();
    redirect.scheme = "https";
    if (https_port != 443) redirect.port = https_port;
    redirect.code = r.https_redirect_code;
    return rc;
  }
  if (r.action == RouteAction::kRedirect && r.redirect) {
    rc.action = proxy::ActionType::kRedirect;
    proxy::RedirectAction& redirect = rc.redirect.edit();
    redirect.scheme = r.redirect->scheme;
    redirect.host = r.redirect->host;
    redirect.port = r.redirect->port;
    redirect.path = r.redirect->path;
    redirect.prefix_rewrite = r.redirect->prefix_rewrite;
    redirect.code = r.redirect->code;
    redirect.strip_query = r.redirect->strip_query;
    rc.request_headers = mutation(r.request_headers);
    rc.response_headers = mutation(r.response_headers);
    return rc;
  }
  if (r.action == RouteAction::kForbidden) {
    rc.action = proxy::ActionType::kDirectResponse;
    rc.direct_response = proxy::DirectResponseAction{
        403, "this route's access restriction is not supported by kop-ingress\n"};
    return rc;
  }
  if (r.action == RouteAction::kNoBackend) {
    rc.action = proxy::ActionType::kDirectResponse;
    rc.direct_response = proxy::DirectResponseAction{500, "no valid backend for this route\n"};
    return rc;
  }
  if (r.action == RouteAction::kUnavailable) {
    rc.action = proxy::ActionType::kDirectResponse;
    rc.direct_response = proxy::DirectResponseAction{503, "no backend available for this route\n"};
    return rc;
  }
  rc.action = proxy::ActionType::kForward;
  for (const auto& c : r.clusters) {
    proxy::WeightedCluster wc{c.cluster, c.weight};
    wc.request_headers = mutation(c.request_headers);
    for (const auto& [cluster, per_million] : c.mirrors)
      wc.mirrors.push_back(proxy::MirrorPolicy{cluster, per_million});
    wc.response_headers = mutation(c.response_headers);
    rc.forward.clusters.push_back(std::move(wc));
  }
  if (r.invalid_weight > 0) {
    proxy::WeightedCluster invalid;
    invalid.direct_status = r.invalid_status;
    invalid.weight = r.invalid_weight;
    rc.forward.clusters.push_back(std::move(invalid));
  }
  rc.forward.prefix_rewrite = r.prefix_rewrite;
  rc.forward.path_rewrite = r.path_rewrite;
  rc.forward.host_rewrite = r.host_rewrite;
  for (const auto& [cluster, per_million] : r.mirrors)
    rc.forward.mirrors.push_back(proxy::MirrorPolicy{cluster, per_million});
  if (r.timeout) rc.forward.timeout = *r.timeout;
  if (r.retries) {
    rc.forward.retry.retry_on = static_cast<uint32_t>(proxy::RetryOn::kConnectFailure) |
                                static_cast<uint32_t>(proxy::RetryOn::k5xx);
    rc.forward.retry.num_retries = *r.retries;
  }
  if (r.retry_policy) rc.forward.retry = retry_policy(*r.retry_policy);
  // Gateway API timeouts.backendRequest holds with or without retries.
  if (r.per_try_timeout) rc.forward.retry.per_try_timeout = *r.per_try_timeout;
  if (r.idle_timeout) rc.forward.idle_timeout = *r.idle_timeout;
  if (r.connect_timeout) rc.forward.connect_timeout = *r.connect_timeout;
  if (r.error_pages) {
    proxy::ErrorPagePolicy e{r.error_pages->statuses, r.error_pages->cluster, {}};
    for (const auto& h : r.error_pages->headers)
      e.request_headers.push_back(proxy::HeaderValue{h.name, h.value});
    rc.forward.error_pages = std::move(e);
  }
  if (r.regex_rewrite)
    rc.forward.regex_rewrite =
        proxy::RegexRewrite{r.regex_rewrite->regex, r.regex_rewrite->substitution};
  rc.forward.websocket = r.websocket;
  rc.forward.response_bytes_per_second = r.response_bytes_per_second;
  rc.forward.response_rate_after_bytes = r.response_rate_after_bytes;
  rc.request_headers = mutation(r.request_headers);
  rc.response_headers = mutation(r.response_headers);
  if (r.cors)
    rc.cors =
        proxy::CorsPolicy{r.cors->allow_origins,  r.cors->allow_methods,     r.cors->allow_headers,
                          r.cors->expose_headers, r.cors->allow_credentials, r.cors->max_age};
  rc.max_request_body_bytes = r.max_body_bytes;
  if (r.basic_auth) {
    rc.basic_auth = proxy::BasicAuthConfig{r.basic_auth->realm, {}};
    for (const auto& [name, hash] : r.basic_auth->users)
      rc.basic_auth->users.push_back(proxy::BasicAuthUser{name, hash});
  }
  rc.ext_auth = r.ext_auth;
  if (r.rate_limit) {
    const RateLimit& l = *r.rate_limit;
    rc.rate_limit = proxy::RateLimitPolicy{
        l.zone,  l.requests_per_second, l.requests_per_minute, l.burst_multiplier, l.connections,
        l.exempt};
  }
  return rc;
}

proxy::ClusterConfig cluster_config(const Cluster& c, const RenderOptions& options) {
  proxy::ClusterConfig cc;
  cc.name = c.name;
  if (c.tls) {
    cc.tls = *c.tls;
    cc.protocol = c.h2c ? proxy::UpstreamProtocol::kH2 : proxy::UpstreamProtocol::kHttp1;
  } else if (c.h2c) {
    cc.protocol = proxy::UpstreamProtocol::kH2c;
  }
  for (const auto& e : c.endpoints)
    cc.endpoints.push_back(proxy::EndpointConfig{proxy::SocketAddress{e.address, e.port}, 1});
  switch (c.strategy) {
    case Strategy::kRoundRobin:
      cc.lb_policy = proxy::LbPolicy::kRoundRobin;
      break;
    case Strategy::kWeightedLeastRequest:
      cc.lb_policy = proxy::LbPolicy::kLeastRequest;
      break;
    case Strategy::kRandom:
      cc.lb_policy = proxy::LbPolicy::kRandom;
      break;
    case Strategy::kCookie: {
      // Sticky sessions: the proxy sets the cookie (naming the chosen endpoint) when a request
      // lacks it; a cookie naming no available endpoint is hashed onto the ring.
      cc.lb_policy = proxy::LbPolicy::kRingHash;
      proxy::HashPolicy& hash = cc.hash_on.edit();
      hash.on = proxy::HashOn::kCookie;
      hash.name = c.cookie ? c.cookie->name : options.affinity_cookie;
      hash.set_cookie = true;
      hash.cookie_ttl = c.cookie ? c.cookie->max_age : options.affinity_cookie_ttl;
      if (c.cookie) {
        hash.cookie_path = c.cookie->path;
        hash.cookie_samesite = c.cookie->samesite;
        hash.cookie_secure = c.cookie->secure;
        hash.cookie_balanced = c.cookie->balanced;
        hash.cookie_change_on_failure = c.cookie->change_on_failure;
        hash.cookie_samesite_none_conditional = c.cookie->samesite_none_conditional;
      }
      break;
    }
    case Strategy::kHash:
      // ingress-nginx's chash: a ring, so an endpoint change moves only its share of the keys.
      cc.lb_policy = proxy::LbPolicy::kRingHash;
      cc.hash_on.edit().on = proxy::HashOn::kExpression;
      cc.hash_on.edit().name = c.hash_by;
      cc.ring_subset_size = c.hash_subset_size;
      break;
  }
  if (c.health_check) {
    proxy::HealthCheckConfig h;
    h.path = c.health_check->path;
    h.host = c.health_check->host;
    h.interval = c.health_check->interval;
    h.timeout = c.health_check->timeout;
    h.healthy_threshold = c.health_check->healthy_threshold;
    h.unhealthy_threshold = c.health_check->unhealthy_threshold;
    cc.health_check = h;
  }
  return cc;
}

proxy::CertificateConfig certificate(const std::string& host, const Tls& t) {
  proxy::CertificateConfig cert;
  cert.name = host;
  if (host != "*") cert.server_names = {host};
  cert.cert_pem = t.cert_pem;
  cert.key_pem = t.key_pem;
  // minimumProtocolVersion per virtual host: the proxy applies it to the SNI that selects
  // this certificate; the listener keeps TLS 1.2 as the floor.
  if (t.min_version == "1.3") cert.min_version = proxy::TlsVersion::kTls13;
  if (t.client_auth) cert.client_auth = *t.client_auth;
  return cert;
}

// A relay entry: its clusters by weight, plus the unavailable cluster (no endpoints: such
// connections are closed) for the share of invalid backends or when no Service resolves.
proxy::TcpProxyConfig relay_config(const TcpProxy& p, bool& unavailable) {
  proxy::TcpProxyConfig relay;
  relay.server_names = {p.host};
  for (const auto& c : p.clusters)
    relay.clusters.push_back(proxy::WeightedCluster{c.cluster, c.weight});
  if (p.invalid_weight > 0 || relay.clusters.empty()) {
    relay.clusters.push_back(proxy::WeightedCluster{std::string(kUnavailableCluster),
                                                    std::max<uint32_t>(p.invalid_weight, 1)});
    unavailable = true;
  }
  return relay;
}

internal::RenderedHost render_host(const proxy::Shared<VirtualHost>& shared, bool https,
                                   uint16_t https_port) {
  const VirtualHost& vh = *shared;
  proxy::VirtualHostConfig plain;
  plain.name = "http/" + vh.host;
  plain.domains = {vh.host};
  // A host that requires client certificates (ingress-nginx auth-tls-verify-client: on) has
  // none on plain HTTP: its routes there answer as a TLS request without one would (400),
  // unless they redirect to https.
  bool certificate_required =
      vh.tls && vh.tls->client_auth && vh.tls->client_auth->verify == proxy::ClientVerify::kOn;
  for (const Route& r : vh.routes) {
    proxy::RouteConfig rc = route_config(r, true, https_port);
    if (certificate_required && !r.https_redirect) {
      proxy::RouteConfig refused;
      refused.name = std::move(rc.name);
      refused.match = std::move(rc.match);
      refused.source_ranges = std::move(rc.source_ranges);
      refused.action = proxy::ActionType::kDirectResponse;
      refused.direct_response =
          proxy::DirectResponseAction{400, std::string(proxy::kNoCertificateBody)};
      rc = std::move(refused);
    }
    plain.routes.push_back(std::move(rc));
  }
  std::optional<proxy::Shared<proxy::VirtualHostConfig>> secure;
  if (vh.tls && https) {
    proxy::VirtualHostConfig s;
    s.name = "https/" + vh.host;
    s.domains = {vh.host};
    for (const Route& r : vh.routes) s.routes.push_back(route_config(r, false, https_port));
    secure = std::move(s);
  }
  return internal::RenderedHost{shared.ptr(), std::move(plain), std::move(secure), 0};
}

// The entry of the last render's `order` for model object `model` at place `at`, or at the next
// place when the one at `at` went; `at` moves past it. Null when neither is it (the object came,
// changed or moved): then the caller looks it up.
template <typename Entry, typename Model>
Entry* next_in_order(const std::vector<Entry*>& order, size_t& at, const Model* model) {
  if (at < order.size() && order[at]->model.get() == model) return order[at++];
  if (at + 1 < order.size() && order[at + 1]->model.get() == model) {
    at += 2;
    return order[at - 1];
  }
  return nullptr;
}

// How many entries a RenderCache keeps for `live` parts before it drops those no render() had
// since (a sweep walks every entry: not at every change of a host among 10k).
size_t stale_limit(size_t live) {
  return live + live / 8 + 16;
}

// A front door host rendered under `name`.
proxy::VirtualHostConfig render_door_host(const std::string& name, const VirtualHost& vh) {
  proxy::VirtualHostConfig v;
  v.name = name;
  v.domains = {vh.host};
  v.route_order = proxy::RouteOrder::kConfig;
  for (const Route& r : vh.routes) v.routes.push_back(route_config(r, false, 0));
  return v;
}

// One Gateway front door: its own listener and virtual hosts, routes in the translator's order,
// and its TLSRoute relays by SNI. With `kept`, a host that is the same model object as at the
// last render() is not rendered again; `door_order` (with `kept`) gets its hosts' entries in order.
void render_front_door(const BoundFrontDoor& bound, proxy::Config& config, bool& unavailable,
                       internal::RenderedHosts* kept,
                       internal::RenderedHosts::DoorOrders* door_order) {
  const gateway::FrontDoor& d = *bound.door;
  proxy::ListenerConfig l;
  l.name = absl::StrCat("gw/", d.gateway.ns, "/", d.gateway.name, "/", d.port);
  l.address = bound.address;
  // Gateway API's "*.example.com" covers every depth of subdomain, not Ingress's one label.
  l.domain_wildcards = proxy::DomainWildcards::kOneOrMoreLabels;
  // Its hosts are named "<listener>/<host>" and selected by that prefix (names and namespaces
  // hold no '/', so no other listener's hosts share it).
  l.virtual_host_prefix = l.name + "/";
  using DoorHost = internal::RenderedHosts::DoorHost;
  std::vector<DoorHost*> order;
  const std::vector<DoorHost*>* last = nullptr;
  if (kept != nullptr) {
    if (auto it = kept->door_order.find(l.name); it != kept->door_order.end()) last = &it->second;
    order.reserve(d.virtual_hosts.size());
    kept->door_hosts_live += d.virtual_hosts.size();
  }
  size_t at = 0;  // in *last
  for (const proxy::Shared<VirtualHost>& vh : d.virtual_hosts) {
    if (kept == nullptr) {
      config.virtual_hosts.emplace_back(
          render_door_host(absl::StrCat(l.virtual_host_prefix, vh->host), *vh));
      continue;
    }
    DoorHost* r = last != nullptr ? next_in_order(*last, at, &*vh) : nullptr;
    if (r != nullptr) {
      ++kept->reused;
    } else {
      std::string name = absl::StrCat(l.virtual_host_prefix, vh->host);
      r = &kept->door_hosts[name];
      if (r->model != vh.ptr()) {
        r->model = vh.ptr();
        r->rendered = render_door_host(name, *vh);
        ++kept->rendered;
      } else {
        ++kept->reused;
      }
      // A host changed (the same name) takes its predecessor's place.
      if (last != nullptr && at < last->size() && (*last)[at] == r) ++at;
    }
    r->seen = kept->renders;
    config.virtual_hosts.push_back(r->rendered);
    order.push_back(r);
  }
  if (door_order != nullptr) (*door_order)[l.name] = std::move(order);
  if (d.protocol != "HTTP") {
    proxy::TlsConfig tls;
    for (const auto& [host, t] : d.certificates) tls.certificates.push_back(certificate(host, t));
    for (const TcpProxy& p : d.relays)
      (p.tls ? tls.tcp_proxy : tls.passthrough).push_back(relay_config(p, unavailable));
    if (tls.certificates.empty() && tls.passthrough.empty()) {
      // A Passthrough-only front door before any TLSRoute attaches: the socket exists (and
      // closes every connection) under a name no client is meant to send (RFC 2606 .invalid),
      // since the proxy wants a certificate or a passthrough entry on a TLS listener.
      TcpProxy none;
      none.host = "no-tlsroute.invalid";
      tls.passthrough.push_back(relay_config(none, unavailable));
    }
    l.tls = std::move(tls);
  }
  config.listeners.push_back(std::move(l));
}

}  // namespace

proxy::Config render(const Model& model, const RenderOptions& options) {
  return render(model, options, {});
}

proxy::Config render(const Model& model, const RenderOptions& options,
                     const std::vector<BoundFrontDoor>& front_doors,
                     const std::map<std::string, proxy::Shared<Cluster>>& gateway_clusters,
                     RenderCache* cache) {
  proxy::Config config;
  config.admin = options.admin;
  config.server = options.server;
  uint16_t https_port = options.redirect_https_port;
  if (https_port == 0) https_port = options.https_address ? options.https_address->port : 443;
  const bool secure_listener = options.https_address.has_value();
  internal::RenderedHosts* kept = cache != nullptr ? cache->hosts_.get() : nullptr;
  if (kept != nullptr) {
    if (kept->https != secure_listener || kept->https_port != https_port) {
      kept->by_host.clear();
      kept->host_order.clear();
      kept->https = secure_listener;
      kept->https_port = https_port;
    }
    if (kept->affinity_cookie != options.affinity_cookie ||
        kept->affinity_cookie_ttl != options.affinity_cookie_ttl) {
      kept->clusters.clear();
      kept->cluster_order.clear();
      kept->affinity_cookie = options.affinity_cookie;
      kept->affinity_cookie_ttl = options.affinity_cookie_ttl;
    }
    ++kept->renders;
    kept->rendered = kept->reused = kept->clusters_rendered = 0;
  }

  // A model or gateway cluster rendered, or taken from the cache when it is the same object as
  // before.
  std::vector<internal::RenderedCluster*> cluster_order;
  size_t cluster_at = 0;  // in kept->cluster_order
  auto model_cluster = [&](const proxy::Shared<Cluster>& c) {
    if (kept == nullptr) return proxy::Shared<proxy::ClusterConfig>(cluster_config(*c, options));
    const std::vector<internal::RenderedCluster*>& last = kept->cluster_order;
    internal::RenderedCluster* r = next_in_order(last, cluster_at, &*c);
    if (r == nullptr) {
      auto it = kept->clusters.find(&*c);
      if (it == kept->clusters.end()) {
        it = kept->clusters
                 .emplace(&*c, internal::RenderedCluster{c.ptr(), cluster_config(*c, options), 0})
                 .first;
        ++kept->clusters_rendered;
      }
      r = &it->second;
      // A cluster replaced (the same name) takes its predecessor's place.
      if (cluster_at < last.size() && last[cluster_at]->model->name == c->name) ++cluster_at;
    }
    r->seen = kept->renders;
    r->order = cluster_order.size();
    cluster_order.push_back(r);
    return r->rendered;
  };
  // Both maps' clusters in name order, as from their union (the model's on a shared name). The
  // gateway's go through the cache as the model's do: a TranslateCache keeps unchanged ones as
  // the same objects, so only those that changed are rendered (at 10k HTTPRoutes, rendering
  // every gateway cluster again was most of render).
  config.clusters.reserve(model.clusters.size() + gateway_clusters.size());
  auto gw = gateway_clusters.begin();
  for (const auto& [name, c] : model.clusters) {
    for (; gw != gateway_clusters.end() && gw->first <= name; ++gw)
      if (gw->first != name) config.clusters.push_back(model_cluster(gw->second));
    config.clusters.push_back(model_cluster(c));
  }
  for (; gw != gateway_clusters.end(); ++gw) config.clusters.push_back(model_cluster(gw->second));
  if (kept != nullptr) kept->cluster_order = std::move(cluster_order);
  // Clusters gone from the model are forgotten (with the model clusters they hold), once they
  // are more than a few: a sweep walks every entry.
  if (kept != nullptr &&
      kept->clusters.size() > stale_limit(model.clusters.size() + gateway_clusters.size()))
    std::erase_if(kept->clusters, [&](const auto& e) { return e.second.seen != kept->renders; });

  // The two listeners select their hosts by name ("http/<host>", "https/<host>") instead of
  // listing them: a host that comes or goes changes neither, and render copies no name per host.
  proxy::ListenerConfig http;
  http.name = "http";
  http.address = options.http_address;
  http.virtual_host_prefix = "http/";
  proxy::ListenerConfig https;
  https.name = "https";
  https.virtual_host_prefix = "https/";
  if (options.https_address) https.address = *options.https_address;
  proxy::TlsConfig tls;
  std::vector<proxy::Shared<proxy::VirtualHostConfig>> secure;

  config.virtual_hosts.reserve(model.virtual_hosts.size());
  auto emit = [&](const internal::RenderedHost& r) {
    config.virtual_hosts.push_back(r.plain);
    if (r.secure) {
      secure.push_back(*r.secure);
      tls.certificates.push_back(certificate(r.model->host, *r.model->tls));
    }
  };
  std::vector<internal::RenderedHost*> host_order;
  if (kept != nullptr) host_order.reserve(model.virtual_hosts.size());
  size_t host_at = 0;  // in kept->host_order
  for (const proxy::Shared<VirtualHost>& shared : model.virtual_hosts) {
    if (kept == nullptr) {
      emit(render_host(shared, secure_listener, https_port));
      continue;
    }
    const std::vector<internal::RenderedHost*>& last = kept->host_order;
    internal::RenderedHost* r = next_in_order(last, host_at, &*shared);
    if (r != nullptr) {
      ++kept->reused;
    } else {
      auto it = kept->by_host.find(shared->host);
      if (it == kept->by_host.end()) {
        it = kept->by_host.emplace(shared->host, render_host(shared, secure_listener, https_port))
                 .first;
        ++kept->rendered;
      } else if (it->second.model != shared.ptr()) {
        it->second = render_host(shared, secure_listener, https_port);
        ++kept->rendered;
      } else {
        ++kept->reused;
      }
      r = &it->second;
      // A host changed (the same name) takes its predecessor's place.
      if (host_at < last.size() &&
          (last[host_at] == r || last[host_at]->model->host == shared->host))
        ++host_at;
    }
    r->seen = kept->renders;
    emit(*r);
    host_order.push_back(r);
  }
  if (kept != nullptr) kept->host_order = std::move(host_order);
  // Hosts gone from the model are forgotten (with the model hosts they hold), as clusters are.
  if (kept != nullptr && kept->by_host.size() > stale_limit(model.virtual_hosts.size()))
    std::erase_if(kept->by_host, [&](const auto& e) { return e.second.seen != kept->renders; });
  bool unavailable = false;
  if (options.https_address) {
    for (const auto& p : model.tcp_proxies) {
      proxy::TcpProxyConfig relay = relay_config(p, unavailable);
      if (!p.tls) {
        tls.passthrough.push_back(std::move(relay));
        continue;
      }
      // TLS terminated with the tcpproxy's own certificate (the SNI selects it), then relayed.
      tls.certificates.push_back(certificate(p.host, *p.tls));
      tls.tcp_proxy.push_back(std::move(relay));
    }
  }
  config.listeners.push_back(std::move(http));
  if (!tls.certificates.empty() || !tls.passthrough.empty()) {
    for (auto& s : secure) config.virtual_hosts.push_back(std::move(s));
    https.tls = std::move(tls);
    config.listeners.push_back(std::move(https));
  }
  internal::RenderedHosts::DoorOrders door_order;
  if (kept != nullptr) kept->door_hosts_live = 0;
  for (const BoundFrontDoor& d : front_doors)
    render_front_door(d, config, unavailable, kept, kept != nullptr ? &door_order : nullptr);
  if (kept != nullptr) {
    // Only this render's doors, whose entries are all alive: the sweep below keeps what it saw.
    kept->door_order = std::move(door_order);
    // Front door hosts gone are forgotten (with the model hosts they hold), once they are more
    // than a few: a sweep walks every entry.
    if (kept->door_hosts.size() > stale_limit(kept->door_hosts_live))
      std::erase_if(kept->door_hosts,
                    [&](const auto& e) { return e.second.seen != kept->renders; });
  }
  if (unavailable) {
    proxy::ClusterConfig none;  // no endpoints: such connections are closed
    none.name = std::string(kUnavailableCluster);
    config.clusters.emplace_back(std::move(none));
  }
  return config;
}

std::optional<PatchedConfig> render_replaced_clusters(
    const proxy::Config& last, const std::vector<BuildCache::ClusterChange>& replaced,
    const RenderOptions& options, RenderCache& cache) {
  internal::RenderedHosts* kept = cache.hosts_.get();
  uint16_t https_port = options.redirect_https_port;
  if (https_port == 0) https_port = options.https_address ? options.https_address->port : 443;
  if (kept == nullptr || kept->renders == 0 || kept->https != options.https_address.has_value() ||
      kept->https_port != https_port || kept->affinity_cookie != options.affinity_cookie ||
      kept->affinity_cookie_ttl != options.affinity_cookie_ttl)
    return std::nullopt;
  // The clusters are in name order, but for the unavailable cluster appended last.
  auto end = last.clusters.end();
  if (!last.clusters.empty() && last.clusters.back()->name == kUnavailableCluster) --end;
  std::vector<std::pair<size_t, proxy::Shared<proxy::ClusterConfig>>> patches;
  patches.reserve(replaced.size());
  for (const BuildCache::ClusterChange& change : replaced) {
    auto pos = std::lower_bound(last.clusters.begin(), end, change.before->name,
                                [](const proxy::Shared<proxy::ClusterConfig>& c,
                                   const std::string& name) { return c->name < name; });
    auto was = kept->clusters.find(&*change.before);
    // `last` must hold what the cache rendered of the replaced cluster, by pointer.
    if (pos == end || was == kept->clusters.end() || pos->ptr() != was->second.rendered.ptr() ||
        change.after->name != change.before->name)
      return std::nullopt;
    patches.emplace_back(pos - last.clusters.begin(), cluster_config(*change.after, options));
  }
  PatchedConfig out{last, true};
  kept->rendered = kept->reused = kept->clusters_rendered = 0;
  for (size_t i = 0; i < replaced.size(); ++i) {
    auto& [index, rendered] = patches[i];
    // An equal rendering keeps the last one's object, which the compiled table knows.
    if (*rendered == *out.config.clusters[index])
      rendered = out.config.clusters[index];
    else
      out.same = false;
    out.config.clusters[index] = rendered;
    // The cache follows the model: the replaced cluster's entry goes (and the model cluster it
    // holds with it), its successor's comes in its place, as a render() of this model would
    // leave them.
    auto was = kept->clusters.find(&*replaced[i].before);
    size_t order = kept->cluster_order.size();
    if (was != kept->clusters.end()) {
      if (was->second.order < order && kept->cluster_order[was->second.order] == &was->second)
        order = was->second.order;
      kept->clusters.erase(was);
    }
    auto now = kept->clusters.insert_or_assign(
        &*replaced[i].after, internal::RenderedCluster{replaced[i].after.ptr(), std::move(rendered),
                                                       kept->renders, order});
    if (order < kept->cluster_order.size())
      kept->cluster_order[order] = &now.first->second;
    else
      kept->cluster_order.clear();  // not where it should be: the next render() looks all up
    ++kept->clusters_rendered;
  }
  return out;
}

}  // namespace kop::ingress
