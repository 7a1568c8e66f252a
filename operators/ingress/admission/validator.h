// kop-ingress validating admission webhook (--webhook-addr): a kop::webhook::Validator that
// answers with the translation's own verdict (decision.h) on the objects the controller's
// caches hold now.
//
//   auto validator = std::make_shared<kop::ingress::admission::Validator>(
//       kop::ingress::admission::cache_inputs(manager.cache(), kinds, true), decision_options);
//   server.register_validator(kop::ingress::admission::kPath, validator);
//
// Creates and updates of the kinds decision.h handles are decided; deletes and other kinds are
// allowed. When the inputs cannot be read (the caches are not synced yet), the object is allowed
// with a warning kubectl prints: the controller reports its problems in status as before, and a
// starting replica does not refuse every write (failurePolicy decides only when we are down).
//
// Threading: validate_*() from the webhook server's threads, several at once (the inputs are
// copies of the caches' shared immutable objects; the decision is pure).
#pragma once

#include <functional>
#include <string_view>

#include "../controllers/ingress_controller.h"
#include "decision.h"
#include "kop/cache/cache.h"
#include "kop/webhook/admission.h"

namespace kop::ingress::admission {

// The path kop-ingress serves the validating webhook on.
inline constexpr std::string_view kPath = "/validate-kop-ingress";

using InputSource = std::function<absl::StatusOr<Inputs>()>;

// Inputs read from `cache` (the kinds the controller watches; the Gateway API kinds with
// `gateway_api`). `cache` must outlive the returned function.
InputSource cache_inputs(cache::Cache& cache, Kinds kinds, bool gateway_api);

class Validator : public webhook::Validator {
 public:
  Validator(InputSource inputs, DecisionOptions options);

  absl::Status validate_create(webhook::Context& ctx, const api::Object& obj) override;
  absl::Status validate_update(webhook::Context& ctx, const api::Object& old_obj,
                               const api::Object& obj) override;

 private:
  absl::Status check(webhook::Context& ctx, const api::Object& obj);

  InputSource inputs_;
  DecisionOptions options_;
};

}  // namespace kop::ingress::admission
