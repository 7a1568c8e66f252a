// GatewayClass: which classes are ours (spec.controllerName), and their status.
#include "gateway_internal.h"

namespace kop::ingress::gateway::internal {

void translate_classes(Translation& t) {
  for (const auto& ptr : t.snapshot.gateway_classes) {
    const api::Object& gc = *ptr;
    if (str_of(gc.spec(), "controllerName") != t.options.controller_name) continue;
    if (gc.is_being_deleted()) continue;
    int64_t gen = gc.generation();
    ClassStatus st;
    st.name = std::string(gc.name());
    // kop-ingress takes no parameters: any parametersRef is one it cannot honour.
    if (const rapidjson::Value* params = member(gc.spec(), "parametersRef")) {
      std::string message =
          cat("spec.parametersRef: ", str_of(params, "kind"), " \"", str_of(params, "name"),
              "\" is not supported: kop-ingress takes "
              "no parameters");
      st.conditions.push_back(condition("Accepted", kFalse, "InvalidParameters", message, gen));
      t.builder.event(ObjectRef{"GatewayClass", "", st.name}, "InvalidParameters",
                      "spec.parametersRef", "kop-ingress takes no parameters");
    } else {
      st.conditions.push_back(condition("Accepted", kTrue, "Accepted", "", gen));
      t.classes.insert(st.name);
    }
    st.conditions.push_back(condition("SupportedVersion", kTrue, "SupportedVersion",
                                      cat("Gateway API ", kBundleVersion), gen));
    t.result.class_statuses.push_back(std::move(st));
  }
}

}  // namespace kop::ingress::gateway::internal
