// ingress.kop.dev/v1beta1 IngressRoute (+ TLSCertificateDelegation) -> candidate routes, TLS
// bindings and statuses. Semantics in docs/ingress.md ("IngressRoute").
#include <algorithm>
#include <map>
#include <set>

#include <absl/strings/str_join.h>
#include "builder.h"
#include "ingress_crd_types.h"
#include "paths.h"
#include "text_cat.h"

namespace kop::ingress::internal {
namespace {

// kop-gen's views of ingress.kop.dev/v1beta1 (from crds/, at build time).
namespace crd = ::kop::ingress::crd::v1beta1;

struct Judgement {
  RouteStatus status = RouteStatus::kOrphaned;
  std::string description =
      "this IngressRoute is not part of a delegation chain from a root IngressRoute";
  bool decided = false;
};

struct RootContext {
  std::string host;
  bool tls = false;
  Age age;
};

class RouteTranslator {
 public:
  explicit RouteTranslator(Builder& b) : b_(b) {}

  void run() {
    const auto& all = b_.snapshot().ingress_routes;
    std::map<std::string, std::vector<const api::Object*>> by_fqdn;
    for (const auto& ir : all) {
      if (ir->is_being_deleted()) continue;
      judgements_[key(*ir)];
      crd::IngressRoute route(*ir);
      if (!route.spec().has_virtualhost()) continue;
      std::string_view fqdn = route.spec().virtualhost().fqdn().value_or("");
      auto host = normalize_host(fqdn);
      if (fqdn.empty() || !host.ok() || host->front() == '*') {
        judge(*ir, RouteStatus::kInvalid,
              fqdn.empty() ? "spec.virtualhost.fqdn is required"
                           : cat("spec.virtualhost.fqdn \"", fqdn,
                                 "\" must be a DNS name without wildcard"));
        continue;
      }
      by_fqdn[*host].push_back(ir.get());
    }
    for (auto& [fqdn, roots] : by_fqdn) {
      if (roots.size() > 1) {
        std::vector<std::string> names;
        for (const api::Object* r : roots) names.push_back(r->key());
        std::sort(names.begin(), names.end());
        std::string desc = cat(
            "fqdn \"", fqdn, "\" is used in multiple IngressRoutes: ", absl::StrJoin(names, ", "));
        for (const api::Object* r : roots) judge(*r, RouteStatus::kInvalid, desc);
        continue;
      }
      translate_root(*roots.front(), fqdn);
    }
    for (const auto& ir : all) {
      auto it = judgements_.find(key(*ir));
      if (it == judgements_.end()) continue;
      b_.route_statuses.push_back(IngressRouteStatus{
          ObjectRef{"IngressRoute", std::string(ir->ns()), std::string(ir->name())},
          ir->generation(), it->second.status, it->second.description});
    }
  }

 private:
  static std::string key(const api::Object& o) { return o.key(); }

  void judge(const api::Object& ir, RouteStatus status, std::string description) {
    Judgement& j = judgements_[key(ir)];
    // Invalid is final: a route valid through one root and invalid through another is shown
    // as invalid, so the problem is seen.
    if (j.decided && j.status == RouteStatus::kInvalid) return;
    j.status = status;
    j.description = std::move(description);
    j.decided = true;
  }

  static ObjectRef ref(const api::Object& ir) {
    return ObjectRef{"IngressRoute", std::string(ir.ns()), std::string(ir.name())};
  }

  bool delegation_allows(std::string_view secret_ns, std::string_view secret,
                         std::string_view target_ns) {
    for (const auto& d : b_.snapshot().tls_delegations) {
      if (d->ns() != secret_ns) continue;
      for (const auto& e : crd::TLSCertificateDelegation(*d).spec().delegations()) {
        if (e.secret_name() != secret) continue;
        for (std::string_view t : e.target_namespaces())
          if (t == target_ns || t == "*") return true;
      }
    }
    return false;
  }

  void translate_root(const api::Object& root, const std::string& fqdn) {
    crd::IngressRouteSpec spec = crd::IngressRoute(root).spec();
    crd::IngressRouteSpecVirtualhostTls tls = spec.virtualhost().tls();
    std::string_view secret_name = tls.secret_name().value_or("");
    ObjectRef src = ref(root);
    RootContext ctx{fqdn, false, age_of(root, "IngressRoute")};
    bool passthrough = tls.passthrough().value_or(false);
    const bool tcpproxy = spec.has_tcpproxy();
    if (passthrough && !secret_name.empty()) {
      judge(root, RouteStatus::kInvalid,
            "spec.virtualhost.tls: passthrough and secretName are mutually exclusive");
      return;
    }
    if (passthrough && !tcpproxy) {
      judge(root, RouteStatus::kInvalid, "spec.virtualhost.tls.passthrough requires spec.tcpproxy");
      return;
    }
    if (tcpproxy && !passthrough && secret_name.empty()) {
      judge(root, RouteStatus::kInvalid,
            "spec.tcpproxy requires spec.virtualhost.tls with secretName (TLS terminated by "
            "kop-ingress) or passthrough: true");
      return;
    }
    std::optional<Tls> certificate;
    if (tls.present() && !passthrough) {
      std::string_view secret = secret_name;
      std::string_view secret_ns = root.ns();
      if (auto slash = secret.find('/'); slash != std::string_view::npos) {
        secret_ns = secret.substr(0, slash);
        secret = secret.substr(slash + 1);
        if (secret_ns != root.ns() && !delegation_allows(secret_ns, secret, root.ns())) {
          judge(root, RouteStatus::kInvalid,
                cat("TLS Secret \"", secret_ns, "/", secret, "\" is not delegated to namespace \"",
                    root.ns(), "\" by a TLSCertificateDelegation"));
          return;
        }
      }
      certificate = b_.load_tls(src, "spec.virtualhost.tls.secretName", secret_ns, secret);
      if (certificate)
        certificate->min_version =
            tls.minimum_protocol_version() ==
                    crd::IngressRouteVirtualhostTlsMinimumProtocolVersion::k13
                ? "1.3"
                : "1.2";
      if (!tcpproxy && certificate) {
        b_.tls.push_back(TlsCandidate{fqdn, *certificate, ctx.age, "spec.virtualhost.tls"});
        ctx.tls = true;
      }
      if (tcpproxy && !certificate) {
        // Without its certificate the TLS-terminated tcpproxy cannot serve anything (as
        // Contour, the root is invalid; the Event says what is wrong with the Secret).
        judge(root, RouteStatus::kInvalid,
              cat("spec.virtualhost.tls.secretName: TLS Secret \"", secret_ns, "/", secret,
                  "\" cannot be used (see Events); spec.tcpproxy needs its certificate"));
        return;
      }
    }
    // With a tcpproxy, TLS connections for the fqdn are relayed: the root's routes are served
    // on plain HTTP only, without a redirect to https (as Contour).
    if (tcpproxy && !translate_tcpproxy(root, fqdn, ctx, certificate)) return;
    std::vector<std::string> chain{key(root)};
    if (walk(root, ctx, "", {}, chain)) judge(root, RouteStatus::kValid, "valid IngressRoute");
  }

  // spec.tcpproxy of a root: the fqdn's TLS connections are relayed to its services (or those
  // of the IngressRoute it delegates to), one picked per connection by weight; `certificate`
  // set: TLS is terminated with it first. False (and the root judged invalid) when the
  // tcpproxy is not one kop-ingress serves.
  bool translate_tcpproxy(const api::Object& root, const std::string& fqdn, const RootContext& ctx,
                          const std::optional<Tls>& certificate) {
    const api::Object* owner = &root;  // the IngressRoute whose tcpproxy.services is used
    crd::IngressRouteSpecTcpproxy tcpproxy = crd::IngressRoute(root).spec().tcpproxy();
    if (tcpproxy.has_delegate() && tcpproxy.has_services()) {
      judge(root, RouteStatus::kInvalid,
            "spec.tcpproxy: services and delegate are mutually exclusive");
      return false;
    }
    if (tcpproxy.has_delegate()) {
      // One level, as Contour: the delegate (not a root) holds the services.
      crd::IngressRouteSpecTcpproxyDelegate d = tcpproxy.delegate();
      std::string ns(d.namespace_().value_or(""));
      if (ns.empty()) ns = std::string(root.ns());
      std::string name(d.name().value_or(""));
      const api::Object* child = b_.find(b_.snapshot().ingress_routes, ns, name);
      if (child == nullptr || child->is_being_deleted()) {
        judge(root, RouteStatus::kInvalid,
              cat("spec.tcpproxy.delegate: IngressRoute \"", ns, "/", name, "\" not found"));
        return false;
      }
      crd::IngressRouteSpec child_spec = crd::IngressRoute(*child).spec();
      if (child_spec.has_virtualhost() || child_spec.tcpproxy().has_delegate() ||
          child_spec.tcpproxy().services().empty()) {
        judge(root, RouteStatus::kInvalid,
              cat("spec.tcpproxy.delegate: IngressRoute \"", ns, "/", name,
                  "\" must have no virtualhost and a tcpproxy with services"));
        return false;
      }
      owner = child;
      tcpproxy = child_spec.tcpproxy();
    }
    if (tcpproxy.services().empty()) {
      judge(root, RouteStatus::kInvalid,
            "spec.tcpproxy.services: at least one Service is required (or spec.tcpproxy.delegate)");
      return false;
    }
    TcpProxy tp;
    tp.host = fqdn;
    tp.source = ref(root);
    tp.tls = certificate;
    // A Service that cannot be resolved takes no connection (Event); none left: the
    // connections are closed.
    tp.clusters =
        weighted_clusters(*owner, ref(*owner), "spec.tcpproxy", tcpproxy.services(), false);
    b_.tcp_proxies.push_back(TcpProxyCandidate{std::move(tp), ctx.age});
    if (owner != &root) judge(*owner, RouteStatus::kValid, "valid IngressRoute");
    return true;
  }

  // Adds the routes of `ir` (a root, or a child reached by delegation under `prefix` with the
  // inherited header conditions). Returns false when `ir` is invalid.
  bool walk(const api::Object& ir, const RootContext& ctx, const std::string& prefix,
            const std::vector<HeaderCondition>& inherited, std::vector<std::string>& chain) {
    crd::IngressRouteSpecRoutes routes = crd::IngressRoute(ir).spec().routes();
    for (size_t i = 0; i < routes.size(); ++i) {
      std::string_view match = routes[i].match().value_or("");
      if (match.empty() || match.front() != '/') {
        judge(ir, RouteStatus::kInvalid, cat("spec.routes[", i, "].match must start with '/'"));
        return false;
      }
      if (!prefix.empty() && match.substr(0, prefix.size()) != prefix) {
        judge(ir, RouteStatus::kInvalid,
              cat("the path prefix \"", match,
                  "\" does not match the parent's path "
                  "prefix \"",
                  prefix, "\""));
        return false;
      }
    }
    ObjectRef src = ref(ir);
    for (size_t i = 0; i < routes.size(); ++i) {
      crd::IngressRouteSpecRoutesItem r = routes[i];
      std::string field = cat("spec.routes[", i, "]");
      std::string match(r.match().value_or(""));
      std::vector<HeaderCondition> headers = inherited;
      if (!header_conditions(src, field, r, headers)) continue;
      if (r.has_delegate()) {
        crd::IngressRouteSpecRoutesItemDelegate d = r.delegate();
        std::string ns(d.namespace_().value_or(""));
        if (ns.empty()) ns = std::string(ir.ns());
        std::string name(d.name().value_or(""));
        const api::Object* child = b_.find(b_.snapshot().ingress_routes, ns, name);
        std::string child_key = cat(ns, "/", name);
        if (child == nullptr || child->is_being_deleted()) {
          b_.event(src, "DelegateNotFound", field + ".delegate",
                   cat("IngressRoute \"", child_key, "\" not found"));
          continue;
        }
        if (crd::IngressRoute(*child).spec().has_virtualhost()) {
          b_.event(src, "DelegateInvalid", field + ".delegate",
                   cat("IngressRoute \"", child_key,
                       "\" is a root (has a virtualhost) and cannot be delegated to"));
          continue;
        }
        if (std::find(chain.begin(), chain.end(), child_key) != chain.end()) {
          chain.push_back(child_key);
          judge(*child, RouteStatus::kInvalid,
                cat("route creates a delegation cycle: ", absl::StrJoin(chain, " -> ")));
          chain.pop_back();
          continue;
        }
        chain.push_back(child_key);
        if (walk(*child, ctx, match, headers, chain))
          judge(*child, RouteStatus::kValid, "valid IngressRoute");
        chain.pop_back();
        continue;
      }
      add_route(ir, ctx, src, field, r, match, std::move(headers), static_cast<int>(i));
    }
    return true;
  }

  bool header_conditions(const ObjectRef& src, const std::string& field,
                         const crd::IngressRouteSpecRoutesItem& r,
                         std::vector<HeaderCondition>& out) {
    crd::IngressRouteSpecRoutesItemHeadersMatch list = r.headers_match();
    for (size_t k = 0; k < list.size(); ++k) {
      crd::IngressRouteSpecRoutesItemHeadersMatchItem h = list[k];
      HeaderCondition c;
      std::string name(h.name().value_or(""));
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      c.name = name;
      if (h.has_exact())
        c.op = HeaderOp::kExact, c.value = h.exact().value_or("");
      else if (h.has_contains())
        c.op = HeaderOp::kContains, c.value = h.contains().value_or("");
      else if (h.has_notexact())
        c.op = HeaderOp::kNotExact, c.value = h.notexact().value_or("");
      else if (h.present_() == true)
        c.op = HeaderOp::kPresent;
      else if (h.notpresent() == true)
        c.op = HeaderOp::kNotPresent;
      else
        c.name.clear();
      if (c.name.empty()) {
        b_.event(src, "HeaderMatchInvalid", cat(field, ".headersMatch[", k, "]"),
                 "a header condition needs a name and one of exact, present, contains, "
                 "notexact, notpresent");
        return false;
      }
      out.push_back(std::move(c));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return true;
  }

  // requestHeadersPolicy / responseHeadersPolicy (two generated types of one shape).
  template <typename Policy>
  static HeaderPolicy header_policy(const Policy& p) {
    HeaderPolicy hp;
    for (const auto& s : p.set())
      hp.set.push_back(
          Header{std::string(s.name().value_or("")), std::string(s.value().value_or(""))});
    // An item that is not a string reads as "": a header without a name removes nothing.
    for (std::string_view name : p.remove())
      if (!name.empty()) hp.remove.emplace_back(name);
    return hp;
  }

  // A route's or a tcpproxy's services[].strategy (two generated enums of the same values).
  template <typename E>
  static Strategy strategy(E s) {
    if (s == E::kWeightedLeastRequest) return Strategy::kWeightedLeastRequest;
    if (s == E::kRandom) return Strategy::kRandom;
    if (s == E::kCookie) return Strategy::kCookie;
    return Strategy::kRoundRobin;
  }

  // The clusters of `services` (a route's, or a tcpproxy's under `field`) with their weights:
  // relative, an absent weight is 0 when another service sets one, all 0 share evenly, and a
  // weight-0 service takes nothing. A Service that cannot be resolved is left out (Event).
  // `http`: health checks and the Cookie strategy apply (a TCP relay has neither).
  template <typename Services>
  std::vector<WeightedCluster> weighted_clusters(const api::Object& ir, const ObjectRef& src,
                                                 const std::string& field, const Services& services,
                                                 bool http) {
    std::vector<WeightedCluster> out;
    bool any_weight =
        std::any_of(services.begin(), services.end(), [](const auto& s) { return s.has_weight(); });
    for (size_t k = 0; k < services.size(); ++k) {
      const auto s = services[k];
      std::string sfield = cat(field, ".services[", k, "]");
      BackendSpec spec;
      spec.ns = std::string(ir.ns());
      spec.service = std::string(s.name().value_or(""));
      spec.port_number = s.port();
      spec.strategy = strategy(s.strategy());
      if (!http && spec.strategy == Strategy::kCookie) spec.strategy = Strategy::kRoundRobin;
      if (s.has_health_check() && http) spec.health_check = health_check(s.health_check());
      uint32_t weight = any_weight ? static_cast<uint32_t>(s.weight().value_or(0)) : 1;
      if (spec.service.empty() || !spec.port_number) {
        b_.event(src, "BackendInvalid", sfield, "service name and port are required");
        continue;
      }
      auto cluster = b_.resolve_backend(src, sfield, spec);
      if (cluster) out.push_back(WeightedCluster{*cluster, weight});
    }
    // Weight 0 takes no traffic; when every weight is 0 the services share evenly.
    if (std::all_of(out.begin(), out.end(), [](const WeightedCluster& w) { return w.weight == 0; }))
      for (auto& w : out) w.weight = 1;
    std::erase_if(out, [](const WeightedCluster& w) { return w.weight == 0; });
    return out;
  }

  // services[].healthCheck; the schema's defaults are HealthCheck's own.
  template <typename View>
  static HealthCheck health_check(const View& hc) {
    HealthCheck h;
    if (auto p = hc.path().value_or(""); !p.empty()) h.path = std::string(p);
    h.host = std::string(hc.host().value_or(""));
    h.interval = std::chrono::seconds(hc.interval_seconds());
    h.timeout = std::chrono::seconds(hc.timeout_seconds());
    h.unhealthy_threshold = static_cast<uint32_t>(hc.unhealthy_threshold_count());
    h.healthy_threshold = static_cast<uint32_t>(hc.healthy_threshold_count());
    return h;
  }

  void add_route(const api::Object& ir, const RootContext& ctx, const ObjectRef& src,
                 const std::string& field, const crd::IngressRouteSpecRoutesItem& r,
                 const std::string& match, std::vector<HeaderCondition> headers, int order) {
    Route route;
    route.path = PathRule{PathKind::kStringPrefix, match};
    route.headers = std::move(headers);
    route.source = src;
    route.field = field;
    route.websocket = r.enable_websockets();
    route.https_redirect = ctx.tls && !r.permit_insecure();
    if (std::string_view rw = r.prefix_rewrite().value_or(""); !rw.empty())
      route.prefix_rewrite = std::string(rw);
    if (std::string_view t = r.timeout_policy().request().value_or(""); !t.empty()) {
      route.timeout = parse_duration(t);
      if (!route.timeout)
        b_.event(src, "TimeoutInvalid", field + ".timeoutPolicy.request",
                 cat("invalid duration \"", t, "\""));
    }
    if (r.has_retry_policy()) {
      crd::IngressRouteSpecRoutesItemRetryPolicy rp = r.retry_policy();
      route.retries = static_cast<uint32_t>(std::clamp<int64_t>(rp.count(), 0, 10));
      if (std::string_view t = rp.per_try_timeout().value_or(""); !t.empty())
        route.per_try_timeout = parse_duration(t);
    }
    route.request_headers = header_policy(r.request_headers_policy());
    route.response_headers = header_policy(r.response_headers_policy());

    route.clusters = weighted_clusters(ir, src, field, r.services(), true);
    if (route.clusters.empty()) route.action = RouteAction::kUnavailable;
    b_.routes.push_back(RouteCandidate{ctx.host, std::move(route), ctx.age, order});
  }

  Builder& b_;
  std::map<std::string, Judgement> judgements_;
};

}  // namespace

void translate_ingress_routes(Builder& b) {
  RouteTranslator(b).run();
}

}  // namespace kop::ingress::internal
