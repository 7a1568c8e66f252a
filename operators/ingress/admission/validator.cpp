#include "validator.h"

#include <string>
#include <utility>

namespace kop::ingress::admission {

InputSource cache_inputs(cache::Cache& cache, Kinds kinds, bool gateway_api) {
  return [&cache, kinds = std::move(kinds), gateway_api]() -> absl::StatusOr<Inputs> {
    Inputs in;
    using List = std::vector<api::ObjectPtr>;
    std::vector<std::pair<const api::GroupVersionKind*, List*>> parts = {
        {&kinds.ingress, &in.base.ingresses},
        {&kinds.ingress_class, &in.base.ingress_classes},
        {&kinds.service, &in.base.services},
        {&kinds.secret, &in.base.secrets},
        {&kinds.ingress_route, &in.base.ingress_routes},
        {&kinds.tls_delegation, &in.base.tls_delegations}};
    if (gateway_api) {
      parts.insert(parts.end(), {{&kinds.gateway_class, &in.gateway.gateway_classes},
                                 {&kinds.gateway, &in.gateway.gateways},
                                 {&kinds.http_route, &in.gateway.http_routes},
                                 {&kinds.grpc_route, &in.gateway.grpc_routes},
                                 {&kinds.tls_route, &in.gateway.tls_routes},
                                 {&kinds.reference_grant, &in.gateway.reference_grants},
                                 {&kinds.namespace_, &in.gateway.namespaces}});
    }
    for (auto [gvk, out] : parts) {
      // An optional kind whose CRD is not installed lists as empty.
      auto objects = cache.list(*gvk);
      if (!objects.ok()) return objects.status();
      *out = *std::move(objects);
    }
    return in;
  };
}

Validator::Validator(InputSource inputs, DecisionOptions options)
    : inputs_(std::move(inputs)), options_(std::move(options)) {}

absl::Status Validator::validate_create(webhook::Context& ctx, const api::Object& obj) {
  return check(ctx, obj);
}

absl::Status Validator::validate_update(webhook::Context& ctx, const api::Object& /*old_obj*/,
                                        const api::Object& obj) {
  return check(ctx, obj);
}

absl::Status Validator::check(webhook::Context& ctx, const api::Object& obj) {
  if (!handles(ctx.request.kind.group, ctx.request.kind.kind)) return absl::OkStatus();
  auto inputs = inputs_();
  if (!inputs.ok()) {
    ctx.warn("kop-ingress could not check this object now (" +
             std::string(inputs.status().message()) + "); its status will show any problem");
    return absl::OkStatus();
  }
  // A create's body may leave the namespace to the URL and the name to generateName: the
  // translation keys objects by both.
  api::Object object(obj);
  if (object.ns().empty() && !ctx.request.namespace_.empty())
    object.set_namespace(ctx.request.namespace_);
  if (object.name().empty()) object.set_name(std::string(object.generate_name()) + "under-review");
  return decide(*std::move(inputs), object, options_);
}

}  // namespace kop::ingress::admission
