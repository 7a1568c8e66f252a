#include "kop/webhook/conversion.h"

#include "text.h"

namespace kop::webhook {

namespace {

// What the API server checks of a converted object, named for the author.
absl::Status check_converted(const Object& from, const Object& to, std::string_view desired) {
  if (to.api_version() != desired) {
    return absl::InternalError(
        detail::cat("apiVersion is \"", to.api_version(), "\", want \"", desired, "\""));
  }
  if (to.kind() != from.kind()) {
    return absl::InternalError(
        detail::cat("kind changed from \"", from.kind(), "\" to \"", to.kind(), "\""));
  }
  if (to.name() != from.name() || to.namespace_() != from.namespace_() || to.uid() != from.uid()) {
    return absl::InternalError("metadata name, namespace and uid must not change");
  }
  return absl::OkStatus();
}

}  // namespace

api::ConversionResponse convert(Converter& converter, const api::ConversionRequest& request) {
  api::ConversionResponse out;
  out.uid = request.uid;
  out.converted_objects.reserve(request.objects.size());
  for (const Object& obj : request.objects) {
    if (obj.api_version() == request.desired_api_version) {
      out.converted_objects.push_back(obj);
      continue;
    }
    auto converted = converter.convert(obj, request.desired_api_version);
    absl::Status st = converted.ok() ? check_converted(obj, *converted, request.desired_api_version)
                                     : converted.status();
    if (!st.ok()) {
      out.converted_objects.clear();
      out.result =
          absl::Status(st.code(), detail::cat("converting ", obj.kind(), " ", obj.key(), " from ",
                                              obj.api_version(), " to ",
                                              request.desired_api_version, ": ", st.message()));
      return out;
    }
    out.converted_objects.push_back(std::move(*converted));
  }
  return out;
}

}  // namespace kop::webhook
