// Internal to the model: the rules assemble.cpp (the reference, whole-snapshot build) and
// incremental.cpp (the per-host build of a BuildCache) both apply, so that their conflict
// decisions and Event texts cannot drift apart.
// Threading: pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "builder.h"
#include "text_cat.h"

namespace kop::ingress::internal {

// Within one host, one route per (path, header conditions).
using MatchKey = std::pair<PathRule, std::vector<HeaderCondition>>;
// A host's routes by match while it is assembled: the candidates' own objects (shared).
using HostRoutes = std::map<MatchKey, proxy::Shared<Route>>;

inline std::string_view kind_name(PathKind k) {
  switch (k) {
    case PathKind::kExact:
      return "Exact";
    case PathKind::kPrefix:
      return "Prefix";
    case PathKind::kStringPrefix:
      return "StringPrefix";
    case PathKind::kRegex:
      return "Regex";
  }
  return "";
}

// Whether `routes` already answers what a merged-in route with `key` would: the same match,
// or, for prefixes, the same path as a Prefix or StringPrefix with the same conditions.
inline bool covered(const HostRoutes& routes, const MatchKey& key) {
  if (routes.count(key)) return true;
  auto prefixish = [](PathKind k) {
    return k == PathKind::kPrefix || k == PathKind::kStringPrefix;
  };
  if (!prefixish(key.first.kind)) return false;
  for (const auto& [k, r] : routes)
    if (prefixish(k.first.kind) && k.first.value == key.first.value && k.second == key.second)
      return true;
  return false;
}

// The route as a host serves it: the candidate's own object, unless it redirects plain HTTP to
// https and the host has nowhere to redirect to (no certificate, no tcpproxy): then a copy
// without the redirect.
inline proxy::Shared<Route> served_route(const proxy::Shared<Route>& route, bool can_redirect) {
  if (can_redirect || !route->https_redirect) return route;
  Route r = *route;
  r.https_redirect = false;
  return r;
}

// Conflict order of route candidates: the oldest source, then its own order.
inline bool older(const RouteCandidate& a, const RouteCandidate& b) {
  if (a.age < b.age) return true;
  if (b.age < a.age) return false;
  return a.order < b.order;
}

// The client certificates a host asks for (ingress-nginx's auth-tls-*): those of the oldest
// TLS binding of the host that has some, whichever binding's certificate is served, so that a
// newer Ingress can neither drop nor weaken them. add() takes the host's bindings oldest first
// and returns the Event of one whose own settings differ (they are not used).
class ClientAuthChoice {
 public:
  std::optional<Event> add(const std::string& host, const TlsCandidate& t) {
    if (!t.tls.client_auth) return std::nullopt;
    if (from_ == nullptr) {
      from_ = &t;
      return std::nullopt;
    }
    if (*from_->tls.client_auth == *t.tls.client_auth) return std::nullopt;
    return make_event(t.age.ref, "ClientAuthConflict", t.field,
                      cat("host \"", host, "\" already asks for client certificates as ",
                          from_->age.ref.kind, " ", from_->age.ref.key(),
                          " (older) sets them; this Ingress' auth-tls-* settings are not used "
                          "for it"));
  }
  void apply(Tls& served) const {
    if (from_ != nullptr) served.client_auth = from_->tls.client_auth;
  }

 private:
  const TlsCandidate* from_ = nullptr;
};

// Calls f(name) for each cluster `route` sends requests to: what keeps a cluster in the Model.
// The reference and the incremental build count uses through this one place.
template <typename F>
void for_each_cluster(const Route& route, F&& f) {
  for (const WeightedCluster& wc : route.clusters) {
    f(wc.cluster);
    for (const auto& [cluster, per_million] : wc.mirrors) f(cluster);  // a backendRef's mirrors
  }
  for (const auto& [cluster, per_million] : route.mirrors) f(cluster);  // RequestMirror copies
  if (route.ext_auth) f(route.ext_auth->cluster);                       // ingress-nginx auth-url
}

}  // namespace kop::ingress::internal
