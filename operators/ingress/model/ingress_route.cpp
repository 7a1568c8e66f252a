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
    crd::IngressRouteSpecVirtualhostTls tls = crd::IngressRoute(root).spec().virtualhost().tls();
    std::string_view secret_name = tls.secret_name().value_or("");
    ObjectRef src = ref(root);
    RootContext ctx{fqdn, false, age_of(root, "IngressRoute")};
    bool passthrough = tls.passthrough().value_or(false);
    const rapidjson::Value* tcpproxy = member(root.spec(), "tcpproxy");
    if (passthrough && !secret_name.empty()) {
      judge(root, RouteStatus::kInvalid,
            "spec.virtualhost.tls: passthrough and secretName are mutually exclusive");
      return;
    }
    if (passthrough && tcpproxy == nullptr) {
      judge(root, RouteStatus::kInvalid, "spec.virtualhost.tls.passthrough requires spec.tcpproxy");
      return;
    }
    if (tcpproxy != nullptr && !passthrough && secret_name.empty()) {
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
      if (tcpproxy == nullptr && certificate) {
        b_.tls.push_back(TlsCandidate{fqdn, *certificate, ctx.age, "spec.virtualhost.tls"});
        ctx.tls = true;
      }
      if (tcpproxy != nullptr && !certificate) {
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
    if (tcpproxy != nullptr && !translate_tcpproxy(root, fqdn, ctx, tcpproxy, certificate)) return;
    std::vector<std::string> chain{key(root)};
    if (walk(root, ctx, "", {}, chain)) judge(root, RouteStatus::kValid, "valid IngressRoute");
  }

  // spec.tcpproxy of a root: the fqdn's TLS connections are relayed to its services (or those
  // of the IngressRoute it delegates to), one picked per connection by weight; `certificate`
  // set: TLS is terminated with it first. False (and the root judged invalid) when the
  // tcpproxy is not one kop-ingress serves.
  bool translate_tcpproxy(const api::Object& root, const std::string& fqdn, const RootContext& ctx,
                          const rapidjson::Value* tcpproxy, const std::optional<Tls>& certificate) {
    const api::Object* owner = &root;  // the IngressRoute whose tcpproxy.services is used
    if (member(tcpproxy, "delegate") != nullptr && member(tcpproxy, "services") != nullptr) {
      judge(root, RouteStatus::kInvalid,
            "spec.tcpproxy: services and delegate are mutually exclusive");
      return false;
    }
    if (const rapidjson::Value* d = member(tcpproxy, "delegate")) {
      // One level, as Contour: the delegate (not a root) holds the services.
      std::string ns(str_of(d, "namespace"));
      if (ns.empty()) ns = std::string(root.ns());
      std::string name(str_of(d, "name"));
      const api::Object* child = b_.find(b_.snapshot().ingress_routes, ns, name);
      if (child == nullptr || child->is_being_deleted()) {
        judge(root, RouteStatus::kInvalid,
              cat("spec.tcpproxy.delegate: IngressRoute \"", ns, "/", name, "\" not found"));
        return false;
      }
      if (member(child->spec(), "virtualhost") != nullptr ||
          member(member(child->spec(), "tcpproxy"), "delegate") != nullptr ||
          items_of(member(child->spec(), "tcpproxy"), "services").empty()) {
        judge(root, RouteStatus::kInvalid,
              cat("spec.tcpproxy.delegate: IngressRoute \"", ns, "/", name,
                  "\" must have no virtualhost and a tcpproxy with services"));
        return false;
      }
      owner = child;
      tcpproxy = member(child->spec(), "tcpproxy");
    }
    auto services = items_of(tcpproxy, "services");
    if (services.empty()) {
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
    tp.clusters = weighted_clusters(*owner, ref(*owner), "spec.tcpproxy", services, false);
    b_.tcp_proxies.push_back(TcpProxyCandidate{std::move(tp), ctx.age});
    if (owner != &root) judge(*owner, RouteStatus::kValid, "valid IngressRoute");
    return true;
  }

  // Adds the routes of `ir` (a root, or a child reached by delegation under `prefix` with the
  // inherited header conditions). Returns false when `ir` is invalid.
  bool walk(const api::Object& ir, const RootContext& ctx, const std::string& prefix,
            const std::vector<HeaderCondition>& inherited, std::vector<std::string>& chain) {
    auto routes = items_of(ir.spec(), "routes");
    for (size_t i = 0; i < routes.size(); ++i) {
      std::string_view match = str_of(routes[i], "match");
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
      const rapidjson::Value* r = routes[i];
      std::string field = cat("spec.routes[", i, "]");
      std::string match(str_of(r, "match"));
      std::vector<HeaderCondition> headers = inherited;
      if (!header_conditions(src, field, r, headers)) continue;
      if (const rapidjson::Value* d = member(r, "delegate")) {
        std::string ns(str_of(d, "namespace"));
        if (ns.empty()) ns = std::string(ir.ns());
        std::string name(str_of(d, "name"));
        const api::Object* child = b_.find(b_.snapshot().ingress_routes, ns, name);
        std::string child_key = cat(ns, "/", name);
        if (child == nullptr || child->is_being_deleted()) {
          b_.event(src, "DelegateNotFound", field + ".delegate",
                   cat("IngressRoute \"", child_key, "\" not found"));
          continue;
        }
        if (member(child->spec(), "virtualhost") != nullptr) {
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

  bool header_conditions(const ObjectRef& src, const std::string& field, const rapidjson::Value* r,
                         std::vector<HeaderCondition>& out) {
    auto list = items_of(r, "headersMatch");
    for (size_t k = 0; k < list.size(); ++k) {
      const rapidjson::Value* h = list[k];
      HeaderCondition c;
      std::string name(str_of(h, "name"));
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      c.name = name;
      if (member(h, "exact"))
        c.op = HeaderOp::kExact, c.value = str_of(h, "exact");
      else if (member(h, "contains"))
        c.op = HeaderOp::kContains, c.value = str_of(h, "contains");
      else if (member(h, "notexact"))
        c.op = HeaderOp::kNotExact, c.value = str_of(h, "notexact");
      else if (bool_of(h, "present") == true)
        c.op = HeaderOp::kPresent;
      else if (bool_of(h, "notpresent") == true)
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

  static HeaderPolicy header_policy(const rapidjson::Value* p) {
    HeaderPolicy hp;
    for (const rapidjson::Value* s : items_of(p, "set"))
      hp.set.push_back(Header{std::string(str_of(s, "name")), std::string(str_of(s, "value"))});
    for (const rapidjson::Value* s : items_of(p, "remove"))
      if (s->IsString()) hp.remove.emplace_back(s->GetString());
    return hp;
  }

  static Strategy strategy(std::string_view s) {
    if (s == "WeightedLeastRequest") return Strategy::kWeightedLeastRequest;
    if (s == "Random") return Strategy::kRandom;
    if (s == "Cookie") return Strategy::kCookie;
    return Strategy::kRoundRobin;
  }

  // The clusters of `services` (a route's, or a tcpproxy's under `field`) with their weights:
  // relative, an absent weight is 0 when another service sets one, all 0 share evenly, and a
  // weight-0 service takes nothing. A Service that cannot be resolved is left out (Event).
  // `http`: health checks and the Cookie strategy apply (a TCP relay has neither).
  std::vector<WeightedCluster> weighted_clusters(
      const api::Object& ir, const ObjectRef& src, const std::string& field,
      const std::vector<const rapidjson::Value*>& services, bool http) {
    std::vector<WeightedCluster> out;
    bool any_weight = std::any_of(services.begin(), services.end(),
                                  [](const rapidjson::Value* s) { return member(s, "weight"); });
    for (size_t k = 0; k < services.size(); ++k) {
      const rapidjson::Value* s = services[k];
      std::string sfield = cat(field, ".services[", k, "]");
      BackendSpec spec;
      spec.ns = std::string(ir.ns());
      spec.service = std::string(str_of(s, "name"));
      spec.port_number = int_of(s, "port");
      spec.strategy = strategy(str_of(s, "strategy"));
      if (!http && spec.strategy == Strategy::kCookie) spec.strategy = Strategy::kRoundRobin;
      if (const rapidjson::Value* hc = member(s, "healthCheck"); hc != nullptr && http)
        spec.health_check = health_check(hc);
      uint32_t weight = any_weight ? static_cast<uint32_t>(int_of(s, "weight").value_or(0)) : 1;
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

  static HealthCheck health_check(const rapidjson::Value* hc) {
    HealthCheck h;
    if (auto p = str_of(hc, "path"); !p.empty()) h.path = std::string(p);
    h.host = std::string(str_of(hc, "host"));
    if (auto v = int_of(hc, "intervalSeconds")) h.interval = std::chrono::seconds(*v);
    if (auto v = int_of(hc, "timeoutSeconds")) h.timeout = std::chrono::seconds(*v);
    if (auto v = int_of(hc, "unhealthyThresholdCount"))
      h.unhealthy_threshold = static_cast<uint32_t>(*v);
    if (auto v = int_of(hc, "healthyThresholdCount"))
      h.healthy_threshold = static_cast<uint32_t>(*v);
    return h;
  }

  void add_route(const api::Object& ir, const RootContext& ctx, const ObjectRef& src,
                 const std::string& field, const rapidjson::Value* r, const std::string& match,
                 std::vector<HeaderCondition> headers, int order) {
    Route route;
    route.path = PathRule{PathKind::kStringPrefix, match};
    route.headers = std::move(headers);
    route.source = src;
    route.field = field;
    route.websocket = bool_of(r, "enableWebsockets").value_or(false);
    route.https_redirect = ctx.tls && !bool_of(r, "permitInsecure").value_or(false);
    if (std::string_view rw = str_of(r, "prefixRewrite"); !rw.empty())
      route.prefix_rewrite = std::string(rw);
    if (std::string_view t = str_of(member(r, "timeoutPolicy"), "request"); !t.empty()) {
      route.timeout = parse_duration(t);
      if (!route.timeout)
        b_.event(src, "TimeoutInvalid", field + ".timeoutPolicy.request",
                 cat("invalid duration \"", t, "\""));
    }
    if (const rapidjson::Value* rp = member(r, "retryPolicy")) {
      route.retries =
          static_cast<uint32_t>(std::clamp<int64_t>(int_of(rp, "count").value_or(1), 0, 10));
      if (std::string_view t = str_of(rp, "perTryTimeout"); !t.empty())
        route.per_try_timeout = parse_duration(t);
    }
    route.request_headers = header_policy(member(r, "requestHeadersPolicy"));
    route.response_headers = header_policy(member(r, "responseHeadersPolicy"));

    route.clusters = weighted_clusters(ir, src, field, items_of(r, "services"), true);
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
