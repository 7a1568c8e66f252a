#include "kop/webhook/conversion.h"

#include "text.h"

namespace kop::webhook {

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
    // The API server's own checks, so a converter's mistake is named here, not at the caller.
    absl::Status st =
        converted.ok() ? api::check_converted_object(obj, *converted, request.desired_api_version)
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
