// ControllerServices: the few Services the IngressController reads itself (besides the model's
// backends): the --publish-service Service, and the Gateway Services kop-ingress made
// (gateway_services.h). Kept from the Service listing's differences (kop/ingress/list_diff.h),
// so a build finds them without reading every Service's labels.
// Threading: used by the reconciling thread only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gateway_services.h"
#include "kop/api/object.h"
#include "kop/ingress/list_diff.h"

namespace kop::ingress {

class ControllerServices {
 public:
  // `publish_service`: "namespace/name" (--publish-service), or empty.
  ControllerServices(std::string_view publish_service, GatewayServiceOptions gateway);

  // The Services of this build's snapshot (the cache's listing).
  void update(const std::vector<api::ObjectPtr>& services);

  // The --publish-service Service; null when not asked for or absent.
  const api::ObjectPtr& published() const { return published_; }
  // owned_gateway_services() of the listing.
  const std::vector<api::ObjectPtr>& gateway_owned() const { return gateway_owned_; }

 private:
  ListTracker list_;
  std::string publish_ns_;
  std::string publish_name_;
  GatewayServiceOptions gateway_;
  api::ObjectPtr published_;
  std::vector<api::ObjectPtr> gateway_owned_;
};

}  // namespace kop::ingress
