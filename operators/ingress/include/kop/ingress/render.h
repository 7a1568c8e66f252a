// kop::ingress::render: the routing Model -> the embedded proxy's Config.
//
// A pure function with golden-file tests (tests/unit/ingress/render_golden_test.cpp): the same
// Model and options always give the same Config, byte for byte once serialised.
// Layout of the output:
//  - listener "http" (plain) serves every virtual host as "http/<host>"; routes of TLS hosts
//    that must not stay insecure (force-ssl-redirect, IngressRoute without permitInsecure)
//    answer 301 to https there;
//  - listener "https" (only when some host has a certificate and an https address is given)
//    serves the TLS hosts as "https/<host>", one certificate per host chosen by SNI, each with
//    its host's minimum TLS version (1.3 set on the certificate, 1.2 the listener's floor),
//    relays the TLS passthrough hosts (IngressRoute tls.passthrough + tcpproxy) as raw TCP
//    ("passthrough" entries), and terminates the TLS-terminated tcpproxy hosts (tls.secretName
//    + tcpproxy) with their certificate before relaying the plaintext ("tcp_proxy" entries);
//    both pick a cluster per connection by the services' weights (cluster
//    "passthrough-unavailable", without endpoints, when no Service can be resolved);
//  - the Cookie strategy renders ring_hash on the affinity cookie with set_cookie: the proxy
//    sets the cookie on the first response and keeps the session on that endpoint;
//  - one cluster per model Cluster, same name; routes that cannot be resolved answer 503;
//  - Gateway API front doors (gateway_api.h), each its own listener "gw/<ns>/<gateway>/<port>"
//    on the address the caller bound it to, serving only its own virtual hosts
//    "gw/<ns>/<gateway>/<port>/<host>" in the translator's order (route_order "config"); an
//    HTTPS front door serves each listener's certificate by SNI, and a front door with TLS
//    listeners relays its TLSRoute hosts by SNI ("passthrough" for Passthrough listeners,
//    "tcp_proxy" for Terminate ones; the share of invalid backendRefs goes to
//    "passthrough-unavailable", so those connections are closed). Listeners never share virtual
//    hosts: once a front door exists, "http" and "https" list theirs explicitly (a listener
//    with an empty list would serve every virtual host), a never-matching one when they have
//    none.
// Incremental: with a RenderCache, a model virtual host or cluster that is the same object as at
// the previous render() (a BuildCache keeps unchanged ones so) gives the same rendered virtual
// hosts or cluster, by pointer, without being rendered again; so does a front door host or a
// gateway cluster that is the same object (a gateway::TranslateCache keeps unchanged ones so);
// RouteTable::compile()
// then keeps their compiled form. The Config is the same as without the cache.
// Threading: pure without a cache; a RenderCache is used by one render() at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kop/ingress/gateway_api.h"
#include "kop/ingress/model.h"
#include "kop/proxy/config.h"

namespace kop::ingress {

struct RenderOptions {
  // Plain HTTP listener. Default 0.0.0.0:8080.
  proxy::SocketAddress http_address{"0.0.0.0", 8080};
  // HTTPS listener; nullopt disables it. Default 0.0.0.0:8443.
  std::optional<proxy::SocketAddress> https_address = proxy::SocketAddress{"0.0.0.0", 8443};
  // Port written into HTTP -> HTTPS redirects. Default 0: the https listener's port (dropped
  // from the Location when it is 443).
  uint16_t redirect_https_port = 0;
  // Copied as they are. Defaults: the proxy's.
  proxy::AdminConfig admin;
  proxy::ServerSettings server;
  // Cookie name for the Cookie strategy (consistent hashing on it). Default "kop-session".
  std::string affinity_cookie = "kop-session";
  // Max-Age of that cookie. Default 0: a session cookie (no Max-Age), like Contour's.
  std::chrono::milliseconds affinity_cookie_ttl{0};
};

// One Gateway front door and the address its proxy listener binds.
struct BoundFrontDoor {
  const gateway::FrontDoor* door = nullptr;  // not owned; not null
  proxy::SocketAddress address;
};

// A Config patched for a build that replaced clusters only.
struct PatchedConfig {
  proxy::Config config;
  // Every replaced cluster rendered to a value equal to the one it replaces: `config` equals
  // the Config it was patched from.
  bool same = false;
};

namespace internal {
struct RenderedHosts;
}

// What render() made of each model virtual host and cluster, for the next render() (see above).
// It holds the model hosts and clusters it has seen (a reference each) until a render() no
// longer has them, once those are more than an eighth of the live ones.
class RenderCache {
 public:
  RenderCache();
  ~RenderCache();
  RenderCache(RenderCache&&) noexcept;
  RenderCache& operator=(RenderCache&&) noexcept;

  // Model virtual hosts the last render() rendered / took from the cache.
  size_t rendered() const;
  size_t reused() const;
  // Model clusters the last render() rendered (the others it took from the cache).
  size_t clusters_rendered() const;

 private:
  friend proxy::Config render(const Model&, const RenderOptions&,
                              const std::vector<BoundFrontDoor>&,
                              const std::map<std::string, proxy::Shared<Cluster>>&, RenderCache*);
  friend std::optional<PatchedConfig> render_replaced_clusters(
      const proxy::Config&, const std::vector<BuildCache::ClusterChange>&, const RenderOptions&,
      RenderCache&);
  std::unique_ptr<internal::RenderedHosts> hosts_;
};

proxy::Config render(const Model& model, const RenderOptions& options);
// The same plus a listener per front door. Their routes' clusters must be in model.clusters or
// in `gateway_clusters` (the translator's; a name in both is one cluster: model.clusters' is
// rendered), so the Model need not be copied to join them. `cache` (may be null) makes it
// incremental.
proxy::Config render(const Model& model, const RenderOptions& options,
                     const std::vector<BoundFrontDoor>& front_doors,
                     const std::map<std::string, proxy::Shared<Cluster>>& gateway_clusters = {},
                     RenderCache* cache = nullptr);

// What render(model, options, {}, {}, &cache) gives after a build that changed clusters only
// (BuildCache::clusters_only(): no host assembled, the same cluster names), from `last`, the
// Config the same `cache` rendered from the build before without front doors or gateway
// clusters: a copy of `last` with the `replaced` clusters rendered again. No host is looked up
// and no listener list is built, so it costs the copy and the replaced clusters. nullopt when
// `last` is not what `cache` rendered (a replaced cluster's rendering is not the one `last`
// holds, or the options differ): then render() as usual.
std::optional<PatchedConfig> render_replaced_clusters(
    const proxy::Config& last, const std::vector<BuildCache::ClusterChange>& replaced,
    const RenderOptions& options, RenderCache& cache);

}  // namespace kop::ingress
