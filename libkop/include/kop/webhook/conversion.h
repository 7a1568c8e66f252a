// kop/webhook/conversion.h: CRD conversion — what an operator author writes when a custom
// resource is served in several versions with `spec.conversion.strategy: Webhook`.
//
//   class WebsiteConverter : public kop::webhook::Converter {
//     absl::StatusOr<kop::Object> convert(const kop::Object& obj,
//                                         std::string_view to_api_version) override;
//   };
//   server.register_converter("/convert", std::make_shared<WebsiteConverter>());
//
// The server calls convert() for each object of a ConversionReview whose apiVersion differs
// from the desired one (objects already there are passed through unchanged) and checks what
// comes back as the API server would: the desired apiVersion, the same kind, and unchanged
// metadata name, namespace and uid. One failure fails the whole review (status Failure with the
// object named), and the API server refuses the request that needed it.
//
// Threads: convert() runs on the webhook server's threads, several at once.
#pragma once

#include <absl/status/statusor.h>

#include <string_view>

#include "kop/api/object.h"
#include "kop/api/review.h"

namespace kop::webhook {

class Converter {
 public:
  virtual ~Converter() = default;
  // `obj` converted to `to_api_version` (kind unchanged).
  virtual absl::StatusOr<Object> convert(const Object& obj, std::string_view to_api_version) = 0;
};

// The answer of `converter` to one review.
api::ConversionResponse convert(Converter& converter, const api::ConversionRequest& request);

}  // namespace kop::webhook
