// kop/webhook/admission.h: admission handlers — what an operator author writes to validate or
// default (mutate) objects at the API server's admission time (controller-runtime's
// CustomValidator / CustomDefaulter).
//
//   class WebsiteValidator : public kop::webhook::Validator {
//     absl::Status validate_create(kop::webhook::Context& ctx, const kop::Object& obj) override {
//       if (obj.get_int("/spec/replicas").value_or(1) > 10)
//         return absl::InvalidArgumentError("spec.replicas: at most 10");
//       return absl::OkStatus();
//     }
//     ...
//   };
//   server.register_validator("/validate-website", std::make_shared<WebsiteValidator>());
//
// Validator: an error status denies the request (HTTP 403 Forbidden in the answer's status,
// the status's message as the reason the user sees: `admission webhook "..." denied the request:
// spec.replicas: at most 10`); ctx.warn() adds warnings kubectl prints either way.
// Defaulter: changes the object in place; the server answers with the JSON patch from the
// object as received to the object as left (patchType JSONPatch); an error denies.
// TypedValidator / TypedDefaulter take a kop-gen view / builder type (docs/typed-crds.md)
// instead of the Object.
//
// Handlers run on the webhook server's threads, several at once: they must be thread-safe.
// They must answer well within the webhook configuration's timeoutSeconds (default 10 s).
#pragma once

#include <absl/status/status.h>

#include <memory>
#include <string>
#include <vector>

#include "kop/api/object.h"
#include "kop/api/review.h"

namespace kop::webhook {

// What a handler sees of the request, and where its warnings go.
struct Context {
  const api::AdmissionRequest& request;
  std::vector<std::string> warnings{};

  void warn(std::string warning) { warnings.push_back(std::move(warning)); }
};

class Validator {
 public:
  virtual ~Validator() = default;
  virtual absl::Status validate_create(Context& ctx, const Object& obj) = 0;
  virtual absl::Status validate_update(Context& ctx, const Object& old_obj, const Object& obj) = 0;
  // Defaults to allowing every deletion.
  virtual absl::Status validate_delete(Context& ctx, const Object& obj);
};

class Defaulter {
 public:
  virtual ~Defaulter() = default;
  // Called for CREATE and UPDATE (the object as it will be stored).
  virtual absl::Status default_object(Context& ctx, Object& obj) = 0;
};

// A Validator over a typed view `View` (constructible from const Object&).
template <typename View>
class TypedValidator : public Validator {
 public:
  virtual absl::Status create(Context& ctx, const View& obj) = 0;
  virtual absl::Status update(Context& ctx, const View& old_obj, const View& obj) = 0;
  virtual absl::Status remove(Context& /*ctx*/, const View& /*obj*/) { return absl::OkStatus(); }

  absl::Status validate_create(Context& ctx, const Object& obj) final {
    return create(ctx, View(obj));
  }
  absl::Status validate_update(Context& ctx, const Object& old_obj, const Object& obj) final {
    return update(ctx, View(old_obj), View(obj));
  }
  absl::Status validate_delete(Context& ctx, const Object& obj) final {
    return remove(ctx, View(obj));
  }
};

// A Defaulter over a typed builder `Builder` (constructible from Object&).
template <typename Builder>
class TypedDefaulter : public Defaulter {
 public:
  virtual absl::Status apply_defaults(Context& ctx, Builder obj) = 0;

  absl::Status default_object(Context& ctx, Object& obj) final {
    return apply_defaults(ctx, Builder(obj));
  }
};

// The answer of `validator` / `defaulter` to one request (allowed or denied, with the patch).
api::AdmissionResponse validate(Validator& validator, const api::AdmissionRequest& request);
api::AdmissionResponse mutate(Defaulter& defaulter, const api::AdmissionRequest& request);

}  // namespace kop::webhook
