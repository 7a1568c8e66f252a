#include "kop/webhook/admission.h"

#include "kop/webhook/json_patch.h"

namespace kop::webhook {

namespace {

api::AdmissionResponse answer(const Context& ctx, const absl::Status& verdict) {
  api::AdmissionResponse out;
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

api::AdmissionResponse validate(Validator& validator, const api::AdmissionRequest& request) {
  Context ctx{request};
  absl::Status verdict;
  switch (request.operation) {
    case api::AdmissionOperation::kCreate:
      verdict = validator.validate_create(ctx, *request.object);
      break;
    case api::AdmissionOperation::kUpdate:
      verdict = validator.validate_update(ctx, *request.old_object, *request.object);
      break;
    case api::AdmissionOperation::kDelete:
      // The API server sends the object being deleted as oldObject (absent only from very old
      // servers: nothing to judge then).
      if (request.old_object) verdict = validator.validate_delete(ctx, *request.old_object);
      break;
    case api::AdmissionOperation::kConnect:
      break;
  }
  return answer(ctx, verdict);
}

api::AdmissionResponse mutate(Defaulter& defaulter, const api::AdmissionRequest& request) {
  Context ctx{request};
  if (request.operation != api::AdmissionOperation::kCreate &&
      request.operation != api::AdmissionOperation::kUpdate) {
    return answer(ctx, absl::OkStatus());
  }
  Object changed(*request.object);
  absl::Status verdict = defaulter.default_object(ctx, changed);
  api::AdmissionResponse out = answer(ctx, verdict);
  if (verdict.ok()) {
    std::string patch = json_patch(request.object->doc(), changed.doc());
    if (patch != "[]") out.patch = std::move(patch);
  }
  return out;
}

}  // namespace kop::webhook
