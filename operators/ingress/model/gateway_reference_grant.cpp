// ReferenceGrant (gateway.networking.k8s.io/v1beta1 and v1): may an object of one namespace
// refer to an object of another? Read from the snapshot at every translation, so a change on
// either side is seen at the next build.
#include "gateway_internal.h"

namespace kop::ingress::gateway::internal {

bool reference_permitted(const Snapshot& snapshot, std::string_view from_kind,
                         std::string_view from_ns, std::string_view to_group,
                         std::string_view to_kind, std::string_view to_ns,
                         std::string_view to_name) {
  for (const auto& ptr : snapshot.reference_grants) {
    const api::Object& grant = *ptr;
    if (grant.ns() != to_ns || grant.is_being_deleted()) continue;
    bool from_ok = false;
    for (const rapidjson::Value* f : items_of(grant.spec(), "from")) {
      if (str_of(f, "group") == kGroup && str_of(f, "kind") == from_kind &&
          str_of(f, "namespace") == from_ns) {
        from_ok = true;
        break;
      }
    }
    if (!from_ok) continue;
    for (const rapidjson::Value* to : items_of(grant.spec(), "to")) {
      // An unset name grants every object of that kind in the namespace.
      if (str_of(to, "group") == to_group && str_of(to, "kind") == to_kind &&
          (member(to, "name") == nullptr || str_of(to, "name") == to_name))
        return true;
    }
  }
  return false;
}

}  // namespace kop::ingress::gateway::internal
