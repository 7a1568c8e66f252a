#include "decision.h"

#include <algorithm>
#include <array>
#include <memory>
#include <utility>

#include "kop/log/quote.h"

namespace kop::ingress::admission {
namespace {

enum class Source {
  kNone,
  kIngress,
  kIngressRoute,
  kGateway,
  kHttpRoute,
  kGrpcRoute,
  kTlsRoute,
  kGrant
};

Source source_of(std::string_view group, std::string_view kind) {
  if (group == "networking.k8s.io" && kind == "Ingress") return Source::kIngress;
  if (group == "ingress.kop.dev" && kind == "IngressRoute") return Source::kIngressRoute;
  if (group != gateway::kGroup) return Source::kNone;
  if (kind == "Gateway") return Source::kGateway;
  if (kind == "HTTPRoute") return Source::kHttpRoute;
  if (kind == "GRPCRoute") return Source::kGrpcRoute;
  if (kind == "TLSRoute") return Source::kTlsRoute;
  if (kind == "ReferenceGrant") return Source::kGrant;
  return Source::kNone;
}

// The Event reasons that name a problem in the object's own fields, per kind. Every other
// reason is about another object (a Service, Secret, delegate, parent, a conflict with another
// route) and never refuses.
struct OwnReason {
  std::string_view kind;
  std::string_view reason;
};
constexpr std::array<OwnReason, 15> kOwnReasons{{
    {"Ingress", "HostInvalid"},
    {"Ingress", "PathInvalid"},
    {"Ingress", "BackendInvalid"},
    {"IngressRoute", "HeaderMatchInvalid"},
    {"IngressRoute", "BackendInvalid"},
    {"IngressRoute", "TimeoutInvalid"},
    {"Gateway", "UnsupportedValue"},
    {"Gateway", "UnsupportedProtocol"},
    {"Gateway", "InvalidRouteKinds"},
    // Between the Gateway's own listeners (a TLSRoute's HostnameConflict is with another route).
    {"Gateway", "ProtocolConflict"},
    {"Gateway", "HostnameConflict"},
    {"Gateway", "UnsupportedAddress"},
    {"HTTPRoute", "UnsupportedValue"},
    {"GRPCRoute", "UnsupportedValue"},
    {"TLSRoute", "UnsupportedValue"},
}};

bool own_reason(std::string_view kind, std::string_view reason) {
  return std::any_of(kOwnReasons.begin(), kOwnReasons.end(),
                     [&](const OwnReason& r) { return r.kind == kind && r.reason == reason; });
}

// IngressRoute Invalid descriptions whose cause is in the route itself (model/ingress_route.cpp).
// The others name another object: a TLS Secret not delegated or unusable, a tcpproxy delegate
// missing or not a tcpproxy, a parent's path prefix, a delegation cycle through other routes.
bool own_description(std::string_view d) {
  static constexpr std::array<std::string_view, 7> kOwn{
      "spec.virtualhost.fqdn ",                            // required, no wildcard
      "fqdn \"",                                           // used in multiple IngressRoutes
      "spec.virtualhost.tls: passthrough and secretName",  // mutually exclusive
      "spec.virtualhost.tls.passthrough requires",
      "spec.tcpproxy requires",
      "spec.tcpproxy: services and delegate",
      "spec.tcpproxy.services:",
  };
  for (std::string_view p : kOwn)
    if (d.substr(0, p.size()) == p) return true;
  return d.substr(0, 12) == "spec.routes[" &&
         d.find("].match must start with") != std::string_view::npos;
}

void put(std::vector<api::ObjectPtr>& list, const api::Object& obj) {
  std::erase_if(list, [&](const api::ObjectPtr& o) {
    return o->ns() == obj.ns() && o->name() == obj.name();
  });
  list.push_back(std::make_shared<const api::Object>(obj));
}

void add_events(const std::vector<Event>& events, const ObjectRef& ref, std::vector<Problem>& out) {
  for (const Event& e : events) {
    if (e.object != ref || !own_reason(ref.kind, e.reason)) continue;
    // The Event's message is "<Kind> <ns/name>: <field>: <what>"; the denial names the object
    // once, so only <what> is kept.
    std::string prefix = ref.kind + " " + ref.key() + ": " + e.field + ": ";
    std::string_view what = e.message;
    if (what.substr(0, prefix.size()) == prefix) what.remove_prefix(prefix.size());
    // Some messages name a field within the Event's field themselves: said once.
    bool names_field = what.substr(0, e.field.size()) == e.field;
    out.push_back(Problem{names_field ? "" : e.field, std::string(what)});
  }
}

}  // namespace

bool handles(std::string_view api_group, std::string_view kind) {
  return source_of(api_group, kind) != Source::kNone;
}

std::vector<Problem> own_problems(Inputs inputs, const api::Object& obj,
                                  const DecisionOptions& options) {
  std::string group;
  if (auto gvk = api::GroupVersionKind::from_api_version(obj.api_version(), obj.kind()); gvk.ok())
    group = gvk->group;
  Source source = source_of(group, obj.kind());
  ObjectRef ref{std::string(obj.kind()), std::string(obj.ns()), std::string(obj.name())};
  std::vector<Problem> out;
  Snapshot& base = inputs.base;
  // Endpoints decide which backends have addresses, never whether a field is valid.
  base.endpoint_slices.clear();
  switch (source) {
    case Source::kNone:
      return out;
    case Source::kIngress: {
      // An Ingress' own problems come from its own translation; the other routes only bring
      // conflicts, which are never its own.
      base.ingresses.clear();
      base.ingress_routes.clear();
      put(base.ingresses, obj);
      add_events(build_model(base, options.model).events, ref, out);
      return out;
    }
    case Source::kIngressRoute: {
      base.ingresses.clear();
      put(base.ingress_routes, obj);
      Model model = build_model(base, options.model);
      for (const IngressRouteStatus& s : model.ingress_route_statuses)
        if (s.route == ref && s.status == RouteStatus::kInvalid && own_description(s.description))
          out.push_back(Problem{"", s.description});
      add_events(model.events, ref, out);
      return out;
    }
    case Source::kGateway:
      put(inputs.gateway.gateways, obj);
      break;
    case Source::kHttpRoute:
      put(inputs.gateway.http_routes, obj);
      break;
    case Source::kGrpcRoute:
      put(inputs.gateway.grpc_routes, obj);
      break;
    case Source::kTlsRoute:
      put(inputs.gateway.tls_routes, obj);
      break;
    case Source::kGrant:
      put(inputs.gateway.reference_grants, obj);
      break;
  }
  base.ingresses.clear();
  base.ingress_routes.clear();
  inputs.gateway.base = &base;
  add_events(gateway::translate(inputs.gateway, options.gateway).events, ref, out);
  return out;
}

absl::Status decide(Inputs inputs, const api::Object& obj, const DecisionOptions& options) {
  std::vector<Problem> problems = own_problems(std::move(inputs), obj, options);
  if (problems.empty()) return absl::OkStatus();
  std::string message = std::string(obj.kind()) + " " + log::quote(obj.key()) + ": ";
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i > 0) message += "; ";
    if (!problems[i].field.empty()) message += problems[i].field + ": ";
    message += problems[i].message;
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace kop::ingress::admission
