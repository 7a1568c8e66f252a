// Fuzz target: the review parsers (kop/api/review.h), which read bodies from the network: the
// webhook server's, and kop::local's reading of a webhook's answer (admission and conversion). A
// body either parses or is refused with InvalidArgument; a parsed admission review answered by a
// validator and a defaulter gives an AdmissionReview the API server reads (valid JSON, the
// request's uid and apiVersion); a parsed conversion review's answer too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "check.h"
#include "kop/api/object.h"
#include "kop/api/review.h"
#include "kop/webhook/admission.h"
#include "kop/webhook/conversion.h"

namespace {

class Allow : public kop::webhook::Validator {
 public:
  absl::Status validate_create(kop::webhook::Context& ctx, const kop::Object& obj) override {
    ctx.warn(std::string(obj.name()));
    return obj.has_label("deny") ? absl::InvalidArgumentError("denied") : absl::OkStatus();
  }
  absl::Status validate_update(kop::webhook::Context& ctx, const kop::Object& /*old_obj*/,
                               const kop::Object& obj) override {
    return validate_create(ctx, obj);
  }
};

class Label : public kop::webhook::Defaulter {
 public:
  absl::Status default_object(kop::webhook::Context& /*ctx*/, kop::Object& obj) override {
    obj.set_label("fuzzed", "yes");
    obj.remove("/spec");
    return absl::OkStatus();
  }
};

class Identity : public kop::webhook::Converter {
 public:
  absl::StatusOr<kop::Object> convert(const kop::Object& obj, std::string_view to) override {
    kop::Object out(obj);
    out.set_api_version(to);
    return out;
  }
};

void check_answer(std::string_view json, std::string_view uid, std::string_view api_version) {
  auto answer = kop::Object::parse(json);
  if (!answer.ok()) kop::fuzz::fail("the answer is not JSON", json);
  if (answer->get_string("/response/uid") != uid || answer->api_version() != api_version) {
    kop::fuzz::fail("the answer lost the uid or apiVersion", json, uid);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(bytes), size);
  auto admission = kop::api::parse_admission_review(body);
  if (admission.ok()) {
    Allow allow;
    Label label;
    for (const auto& response :
         {kop::webhook::validate(allow, *admission), kop::webhook::mutate(label, *admission)}) {
      check_answer(kop::api::admission_review_json(response, admission->review_api_version),
                   admission->uid, admission->review_api_version);
    }
  } else if (admission.status().code() != absl::StatusCode::kInvalidArgument) {
    kop::fuzz::fail("admission review refused without InvalidArgument", body);
  }
  auto conversion = kop::api::parse_conversion_review(body);
  if (conversion.ok()) {
    Identity identity;
    check_answer(kop::api::conversion_review_json(kop::webhook::convert(identity, *conversion),
                                                  conversion->review_api_version),
                 conversion->uid, conversion->review_api_version);
  } else if (conversion.status().code() != absl::StatusCode::kInvalidArgument) {
    kop::fuzz::fail("conversion review refused without InvalidArgument", body);
  }
  for (bool mutating : {true, false}) {
    auto answer = kop::api::parse_admission_response(body, "u", mutating);
    if (!answer.ok() && answer.status().code() != absl::StatusCode::kInvalidArgument) {
      kop::fuzz::fail("admission answer refused without InvalidArgument", body);
    }
  }
  for (std::string_view version :
       {kop::api::kConversionReviewV1, kop::api::kConversionReviewV1beta1}) {
    auto answer = kop::api::parse_conversion_response(body, "u", version);
    if (!answer.ok() && answer.status().code() != absl::StatusCode::kInvalidArgument) {
      kop::fuzz::fail("conversion answer refused without InvalidArgument", body);
    }
  }
  return 0;
}
