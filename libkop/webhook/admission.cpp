#include "kop/webhook/admission.h"

#include "kop/webhook/json_patch.h"

namespace kop::webhook {

namespace {

AdmissionResponse answer(const Context& ctx, const absl::Status& verdict) {
  AdmissionResponse out;
  out.uid = ctx.request.uid;
  out.warnings = ctx.warnings;
  if (!verdict.ok()) {
    // As controller-runtime's Denied: 403 Forbidden, the handler's message as the reason.
    out.allowed = false;
    out.code = 403;
    out.reason = "Forbidden";
    out.message = std::string(verdict.message());
  }
  return out;
}

}  // namespace

absl::Status Validator::validate_delete(Context& /*ctx*/, const Object& /*obj*/) {
  return absl::OkStatus();
}

AdmissionResponse validate(Validator& validator, const AdmissionRequest& request) {
  Context ctx{request};
  absl::Status verdict;
  switch (request.operation) {
    case Operation::kCreate:
      verdict = validator.validate_create(ctx, *request.object);
      break;
    case Operation::kUpdate:
      verdict = validator.validate_update(ctx, *request.old_object, *request.object);
      break;
    case Operation::kDelete:
      // The API server sends the object being deleted as oldObject (absent only from very old
      // servers: nothing to judge then).
      if (request.old_object) verdict = validator.validate_delete(ctx, *request.old_object);
      break;
    case Operation::kConnect:
      break;
  }
  return answer(ctx, verdict);
}

AdmissionResponse mutate(Defaulter& defaulter, const AdmissionRequest& request) {
  Context ctx{request};
  if (request.operation != Operation::kCreate && request.operation != Operation::kUpdate) {
    return answer(ctx, absl::OkStatus());
  }
  Object changed(*request.object);
  absl::Status verdict = defaulter.default_object(ctx, changed);
  AdmissionResponse out = answer(ctx, verdict);
  if (verdict.ok()) {
    std::string patch = json_patch(request.object->doc(), changed.doc());
    if (patch != "[]") out.patch = std::move(patch);
  }
  return out;
}

}  // namespace kop::webhook
