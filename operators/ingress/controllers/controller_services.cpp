// ControllerServices: patched from the Service listing's differences (controller_services.h).
#include "controller_services.h"

#include <algorithm>
#include <utility>

namespace kop::ingress {

ControllerServices::ControllerServices(std::string_view publish_service,
                                       GatewayServiceOptions gateway)
    : gateway_(std::move(gateway)) {
  if (auto slash = publish_service.find('/'); slash != std::string_view::npos) {
    publish_ns_ = std::string(publish_service.substr(0, slash));
    publish_name_ = std::string(publish_service.substr(slash + 1));
  }
}

void ControllerServices::update(const std::vector<api::ObjectPtr>& services) {
  ListDiff d = list_.update(services);
  for (const api::ObjectPtr& s : d.removed) {
    if (published_ == s) published_ = nullptr;
    std::erase(gateway_owned_, s);
  }
  for (const api::ObjectPtr& s : d.added) {
    if (!publish_name_.empty() && s->ns() == publish_ns_ && s->name() == publish_name_)
      published_ = s;
    if (s->ns() == gateway_.ns && !owned_gateway_services({s}, gateway_).empty())
      gateway_owned_.push_back(s);
  }
}

}  // namespace kop::ingress
