// build_model(): runs the translators, then resolves conflicts and lays out virtual hosts.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "assembly_rules.h"
#include "builder.h"
#include "nginx_ingress.h"
#include "paths.h"
#include "text_cat.h"

namespace kop::ingress {
namespace {

using internal::cat;
using internal::covered;
using internal::HostRoutes;
using internal::kind_name;
using internal::MatchKey;
using internal::older;
using internal::RouteCandidate;

}  // namespace

Model build_model(const Snapshot& snapshot, const Options& options) {
  internal::Builder b(snapshot, options);
  internal::translate_ingresses(b);
  internal::translate_ingress_routes(b);
  if (options.nginx_annotations) internal::apply_nginx_host_rules(b);
  return internal::assemble(b);
}

Model build_model(const Snapshot& snapshot, const Options& options, BuildCache* cache) {
  if (cache == nullptr) return build_model(snapshot, options);
  return cache->build(snapshot, options);
}

// The reference: every candidate of every source, whole. incremental.cpp must agree with it.
Model internal::assemble(Builder& b) {
  // 1. One winner per (host, path, header conditions): the oldest source.
  std::sort(b.routes.begin(), b.routes.end(), older);
  std::map<std::string, HostRoutes> hosts;
  for (auto& c : b.routes) {
    auto& routes = hosts[c.host];
    MatchKey key{c.route->path, c.route->headers};
    auto [it, inserted] = routes.try_emplace(std::move(key), c.route);
    if (!inserted) {
      const Route& taken = *it->second;
      b.event(
          c.route->source, "HostPathConflict", c.route->field,
          cat("host \"", c.host, "\" path ", kind_name(c.route->path.kind), " \"",
              c.route->path.value, "\" is already routed by ", taken.source.kind, " ",
              taken.source.key(), " (", taken.field, "), which is older; this path is ignored"));
    }
  }

  // 2. TLS: one Secret per host, the oldest binding wins.
  std::stable_sort(b.tls.begin(), b.tls.end(),
                   [](const auto& x, const auto& y) { return x.age < y.age; });
  std::map<std::string, internal::TlsCandidate> tls_by_host;
  std::map<std::string, internal::ClientAuthChoice> client_auth;
  for (auto& t : b.tls) {
    if (auto e = client_auth[t.host].add(t.host, t)) b.events.push_back(std::move(*e));
    auto [it, inserted] = tls_by_host.emplace(t.host, t);
    if (!inserted && it->second.tls.secret != t.tls.secret)
      b.event(t.age.ref, "TLSConflict", t.field,
              cat("host \"", t.host, "\" already takes its certificate from Secret ",
                  it->second.tls.secret.key(), " of ", it->second.age.ref.kind, " ",
                  it->second.age.ref.key(), ", which is older"));
  }
  // A tcpproxy host's TLS connections are relayed (passthrough) or terminated with the
  // tcpproxy's own certificate: a certificate another object binds to that host is not served
  // (with an Event), so the proxy config stays valid.
  std::stable_sort(b.tcp_proxies.begin(), b.tcp_proxies.end(),
                   [](const auto& x, const auto& y) { return x.age < y.age; });
  std::map<std::string, TcpProxy> tcp_by_host;
  for (auto& p : b.tcp_proxies) tcp_by_host.emplace(p.tcp_proxy.host, p.tcp_proxy);
  for (auto& [host, p] : tcp_by_host) {
    auto t = tls_by_host.find(host);
    if (t == tls_by_host.end()) continue;
    if (p.tls)
      b.event(t->second.age.ref, "TLSHostIsTCPProxy", t->second.field,
              cat("host \"", host, "\" is the TLS-terminated tcpproxy of IngressRoute ",
                  p.source.key(), ": this certificate is not served"));
    else
      b.event(t->second.age.ref, "TLSHostIsPassthrough", t->second.field,
              cat("host \"", host, "\" is TLS passthrough of IngressRoute ", p.source.key(),
                  ": this certificate is not served"));
    tls_by_host.erase(t);
  }
  for (auto& [host, t] : tls_by_host) {
    client_auth[host].apply(t.tls);
    hosts[host];  // a TLS host gets the catch-all routes
  }

  // 3. Rules without a host apply to every host: they join each host's routes unless that
  //    host already routes the same match.
  if (auto all = hosts.find("*"); all != hosts.end()) {
    for (auto& [host, routes] : hosts)
      if (host != "*")
        for (const auto& [key, route] : all->second)
          if (!covered(routes, key)) routes.emplace(key, route);
  }

  // 4. The default backend (oldest Ingress that has one) takes what no rule matches.
  std::sort(b.default_backends.begin(), b.default_backends.end(), older);
  if (!b.default_backends.empty()) {
    const RouteCandidate& winner = b.default_backends.front();
    for (size_t i = 1; i < b.default_backends.size(); ++i)
      b.event(b.default_backends[i].route->source, "DefaultBackendConflict", "spec.defaultBackend",
              cat("the default backend of ", winner.route->source.kind, " ",
                  winner.route->source.key(), " is older and is used instead"));
    hosts["*"];
    MatchKey root{PathRule{}, {}};
    for (auto& [host, routes] : hosts)
      if (!covered(routes, root)) routes.emplace(root, winner.route);
  }

  Model m;
  std::set<std::string> used_clusters;
  for (auto& [host, routes] : hosts) {
    if (routes.empty()) continue;
    VirtualHost vh;
    vh.host = host;
    if (auto t = tls_by_host.find(host); t != tls_by_host.end()) vh.tls = t->second.tls;
    bool can_redirect = vh.tls || tcp_by_host.count(host) != 0;
    for (auto& [key, route] : routes) {
      internal::for_each_cluster(*route, [&](const std::string& c) { used_clusters.insert(c); });
      vh.routes.push_back(internal::served_route(route, can_redirect));
    }
    std::sort(vh.routes.begin(), vh.routes.end(), internal::route_precedes);
    m.virtual_hosts.emplace_back(std::move(vh));
  }
  for (auto& [host, p] : tcp_by_host) {
    for (const auto& wc : p.clusters) used_clusters.insert(wc.cluster);
    m.tcp_proxies.push_back(std::move(p));
  }
  for (auto& [name, c] : b.clusters)
    if (used_clusters.count(name)) m.clusters.emplace(name, std::move(c));
  m.owned_ingresses = std::move(b.owned_ingresses);
  std::sort(m.owned_ingresses.begin(), m.owned_ingresses.end());
  m.ingress_route_statuses = std::move(b.route_statuses);
  std::sort(m.ingress_route_statuses.begin(), m.ingress_route_statuses.end(),
            [](const auto& x, const auto& y) { return x.route < y.route; });
  m.events = std::move(b.events);
  std::sort(m.events.begin(), m.events.end());
  m.events.erase(std::unique(m.events.begin(), m.events.end()), m.events.end());
  return m;
}

std::string describe(const Model& m) {
  std::string out;
  for (const VirtualHost& vh : m.virtual_hosts) {
    out += cat("vhost ", vh.host,
               vh.tls ? cat(" tls=", vh.tls->secret.key(), " min=", vh.tls->min_version,
                            vh.tls->client_auth ? " client-auth" : "")
                      : std::string(),
               "\n");
    for (const Route& r : vh.routes) {
      out += cat("  ", kind_name(r.path.kind), " ", r.path.value);
      for (const auto& h : r.headers)
        out += cat(" [", h.name, " op", static_cast<int>(h.op), " ", h.value, "]");
      if (r.action == RouteAction::kUnavailable) out += cat(" -> 503");
      for (const auto& c : r.clusters) out += cat(" -> ", c.cluster, "*", c.weight);
      if (r.https_redirect) out += cat(" (http: 301 https)");
      out += cat(" from ", r.source.kind, " ", r.source.key(), "\n");
    }
  }
  for (const auto& p : m.tcp_proxies) {
    out += cat(
        p.tls ? cat("tcpproxy ", p.host, " tls=", p.tls->secret.key(), " min=", p.tls->min_version)
              : cat("passthrough ", p.host));
    if (p.clusters.empty()) out += " -> (unavailable)";
    for (const auto& c : p.clusters) out += cat(" -> ", c.cluster, "*", c.weight);
    out += cat(" from ", p.source.kind, " ", p.source.key(), "\n");
  }
  for (const auto& [name, c] : m.clusters) {
    out += cat("cluster ", name, c->external_name ? " (ExternalName)" : "", ":");
    for (const auto& e : c->endpoints) out += cat(" ", e.address, ":", e.port);
    out += cat("\n");
  }
  for (const auto& o : m.owned_ingresses) out += cat("owned ", o.key(), "\n");
  for (const auto& s : m.ingress_route_statuses)
    out += cat("status ", s.route.key(), " ", to_string(s.status), ": ", s.description, "\n");
  for (const auto& e : m.events) out += cat("event ", e.type, " ", e.reason, " ", e.message, "\n");
  return out;
}

}  // namespace kop::ingress
