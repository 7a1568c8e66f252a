// GRPCRoute: parentRefs, hostnames and status as for HTTPRoute (gateway_route_parents.cpp);
// each rule's method match becomes a path match on /<service>/<method>, its header matches,
// header filters, request mirrors and weighted backendRefs are HTTPRoute's, and its backends and
// mirrors speak HTTP/2 with prior knowledge (gRPC needs HTTP/2 end to end). Also the rule between
// HTTPRoutes and GRPCRoutes that share a hostname on a listener.
#include <re2/re2.h>

#include <algorithm>
#include <map>

#include "gateway_internal.h"

namespace kop::ingress::gateway::internal {

namespace {

// The characters the API allows in an Exact service and method (what the CRD's validation
// rules check, which servers older than 1.25 do not run).
bool valid_service(std::string_view s) {
  static const RE2 re(R"(\.?[a-zA-Z_][a-zA-Z_0-9]*(\.[a-zA-Z_][a-zA-Z_0-9]*)*)");
  return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), re);
}
bool valid_method(std::string_view m) {
  static const RE2 re(R"([A-Za-z_][A-Za-z_0-9]*)");
  return RE2::FullMatch(re2::StringPiece(m.data(), m.size()), re);
}

// spec.rules[].matches[].method as a path condition: gRPC calls are POST /<service>/<method>.
std::string method_match(const rapidjson::Value* mm, const std::string& field, Route& r) {
  std::string_view type = member(mm, "type") ? str_of(mm, "type") : "Exact";
  std::string service(str_of(mm, "service"));
  std::string method(str_of(mm, "method"));
  if (service.empty() && method.empty())
    return field + ": one or both of service and method must be set";
  if (type == "Exact") {
    if (!service.empty() && !valid_service(service))
      return field + ".service: not a valid gRPC service name";
    if (!method.empty() && !valid_method(method))
      return field + ".method: not a valid gRPC method name";
    if (method.empty())
      r.path = PathRule{PathKind::kPrefix, "/" + service};  // every method of the service
    else if (service.empty())
      r.path = PathRule{PathKind::kRegex, cat("/[^/]+/", method)};  // that method of any one
    else
      r.path = PathRule{PathKind::kExact, cat("/", service, "/", method)};
    return "";
  }
  if (type != "RegularExpression") return cat(field, ".type: \"", type, "\" is not supported");
  for (auto [key, value] : {std::pair{"service", &service}, std::pair{"method", &method}}) {
    RE2 re(*value, RE2::Quiet);
    if (!value->empty() && !re.ok())
      return cat(field, ".", key, ": invalid regular expression: ", re.error());
  }
  r.path = PathRule{PathKind::kRegex, cat("/(?:", service.empty() ? "[^/]+" : service,
                                          ")/(?:", method.empty() ? "[^/]+" : method, ")")};
  return "";
}

// Rule filters: RequestHeaderModifier (core), ResponseHeaderModifier; RequestMirror (extended)
// is request_mirrors()'.
std::string grpc_filters(const rapidjson::Value* rule, const std::string& field, Route& r) {
  size_t i = 0;
  for (const rapidjson::Value* f : items_of(rule, "filters")) {
    std::string ff = cat(field, ".filters[", i++, "]");
    std::string_view type = str_of(f, "type");
    std::string err;
    if (type == "RequestHeaderModifier")
      err = header_policy(member(f, "requestHeaderModifier"), ff + ".requestHeaderModifier",
                          r.request_headers);
    else if (type == "ResponseHeaderModifier")
      err = header_policy(member(f, "responseHeaderModifier"), ff + ".responseHeaderModifier",
                          r.response_headers);
    else if (type == "RequestMirror")
      continue;  // resolved once per rule by request_mirrors()
    else
      err = cat(ff, ".type: ", type, " is not supported");
    if (!err.empty()) return err;
  }
  return "";
}

RouteRule translate_rule(Translation& t, const api::Object& route, const ObjectRef& src,
                         const rapidjson::Value* rule, size_t index) {
  RouteRule out;
  std::string field = cat("spec.rules[", index, "]");
  if (!rule->IsObject()) {
    out.unsupported = field + ": not an object";
    t.builder.event(src, "UnsupportedValue", field, "not an object");
    return out;
  }
  Route base;
  base.source = src;
  std::vector<WeightedCluster> clusters;
  uint32_t invalid_weight = 0;
  rule_backends(t, route, src, rule, field, out, clusters, invalid_weight, true);
  request_mirrors(t, route, src, rule, field, out, base, true);
  // A rule's only backendRef may carry mirrors too: every call forwarded goes to it.
  if (std::vector<const rapidjson::Value*> refs = items_of(rule, "backendRefs"); refs.size() == 1)
    request_mirrors(t, route, src, refs[0], field + ".backendRefs[0]", out, base, true);
  if (clusters.empty()) {
    // gRPC: a rule whose backends are all invalid answers UNAVAILABLE (HTTP 503).
    base.action = RouteAction::kUnavailable;
  } else {
    base.clusters = std::move(clusters);
    base.invalid_weight = invalid_weight;
    base.invalid_status = 503;  // that share of the calls: UNAVAILABLE, as the spec asks
  }
  std::vector<const rapidjson::Value*> matches = items_of(rule, "matches");
  rapidjson::Value empty(rapidjson::kObjectType);
  if (matches.empty()) matches.push_back(&empty);  // no match = every call
  for (size_t m = 0; m < matches.size() && out.unsupported.empty(); ++m) {
    Route r = base;
    r.field = matches[m] == &empty ? field : cat(field, ".matches[", m, "]");
    std::string err;
    if (!matches[m]->IsObject())
      err = r.field + ": not an object";
    else if (const rapidjson::Value* mm = member(matches[m], "method"))
      err = method_match(mm, r.field + ".method", r);
    if (err.empty()) err = header_matches(matches[m], r.field, r);
    if (err.empty()) err = grpc_filters(rule, field, r);
    if (!err.empty()) {
      out.unsupported = err;
      break;
    }
    out.routes.push_back(std::move(r));
  }
  if (!out.unsupported.empty()) {
    out.routes.clear();
    size_t colon = out.unsupported.find(": ");
    t.builder.event(src, "UnsupportedValue", out.unsupported.substr(0, colon),
                    out.unsupported.substr(colon + 2));
  }
  return out;
}

bool hosts_meet(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const std::string& x : a)
    for (const std::string& y : b)
      if (intersect_hostnames(x == "*" ? "" : x, y == "*" ? "" : y)) return true;
  return false;
}

}  // namespace

void route_kind_conflicts(Translation& t) {
  // Only listeners that carry a GRPCRoute can have a conflict: without GRPCRoutes nothing is
  // done, and HTTPRoutes are looked at only on those listeners (10,000 HTTPRoutes on a
  // listener without GRPCRoutes cost nothing here).
  if (t.snapshot.grpc_routes.empty()) return;
  struct Attached {
    ObjectRef route;
    absl::Time created;
    std::vector<std::string> hosts;
    bool grpc = false;
  };
  std::map<std::pair<size_t, size_t>, std::vector<Attached>> by_listener;
  for (bool grpc : {true, false}) {
    const char* kind = grpc ? "GRPCRoute" : "HTTPRoute";
    for (const auto& ptr : grpc ? t.snapshot.grpc_routes : t.snapshot.http_routes) {
      const api::Object& route = *ptr;
      if (route.is_being_deleted()) continue;
      ObjectRef src{kind, std::string(route.ns()), std::string(route.name())};
      std::vector<std::pair<ParentRef, Gateway*>> parents = our_parents(t, route, src);
      if (parents.empty()) continue;
      size_t given = 0;
      std::vector<std::string> hosts = route_hostnames(t, route, src, given);
      for (auto& [ref, gw] : parents) {
        if (!gw->admits_routes) continue;
        std::string reason, message;
        size_t gi = size_t(gw - t.gateways.data());
        for (size_t li : attachable(t, *gw, ref, route, kind, hosts, given > 0, reason, message)) {
          auto it = by_listener.find({gi, li});
          if (!grpc && it == by_listener.end()) continue;  // no GRPCRoute on that listener
          if (it == by_listener.end()) it = by_listener.try_emplace({gi, li}).first;
          it->second.push_back(Attached{src, age_of(route, kind).created,
                                        served_hosts(gw->listeners[li], hosts), grpc});
        }
      }
    }
  }
  for (auto& [key, routes] : by_listener) {
    // Oldest first, then "{namespace}/{name}": each route loses to an earlier one of the
    // other kind that kept the listener and whose hostnames meet its own. Only the kept routes
    // of the other kind are compared: linear in the routes of the kind that has few.
    std::sort(routes.begin(), routes.end(), [](const Attached& a, const Attached& b) {
      return std::tie(a.created, a.route.ns, a.route.name, a.route.kind) <
             std::tie(b.created, b.route.ns, b.route.name, b.route.kind);
    });
    std::vector<const Attached*> kept[2];  // [0] HTTPRoutes, [1] GRPCRoutes
    for (const Attached& r : routes) {
      const std::vector<const Attached*>& other = kept[r.grpc ? 0 : 1];
      bool lost = std::any_of(other.begin(), other.end(),
                              [&](const Attached* o) { return hosts_meet(o->hosts, r.hosts); });
      if (lost)
        t.lost.insert({r.route, key.first, key.second});
      else
        kept[r.grpc ? 1 : 0].push_back(&r);
    }
  }
}

void translate_grpc_routes(Translation& t) {
  translate_routes(t, t.snapshot.grpc_routes, "GRPCRoute", translate_rule);
}

}  // namespace kop::ingress::gateway::internal
