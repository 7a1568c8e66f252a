// kop-ingress --manifests: each Gateway its own loopback address, so that two Gateways may both
// listen on port 80 (docs/gateway-api/design.md, "With --manifests").
//
// Linux routes all of 127.0.0.0/8 to the loopback device, so any 127.x.y.z can be bound without
// set-up. Addresses start at 127.0.1.1 (127.0.0.x is left to the user's own servers) and skip the
// .0 and .255 of each /24. A Gateway keeps its address while it exists: the one it was given
// earlier in this process, else the 127.x address its status.addresses already holds (the one a
// previous run gave it) when no other Gateway has it, else the lowest free one; new Gateways are
// served oldest first (then namespace/name), so the result does not depend on list order.
// Threading: one caller at a time (the controller's build thread).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kop/api/object.h"

namespace kop::ingress {

class LocalGatewayAddresses {
 public:
  // The address of each of `gateways` by "namespace/name". Gateways not listed lose theirs.
  std::map<std::string, std::string> assign(const std::vector<api::ObjectPtr>& gateways);

 private:
  std::map<std::string, std::string> assigned_;
};

}  // namespace kop::ingress
