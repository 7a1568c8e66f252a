// TrackedIndex: a SnapshotIndex patched from listing differences (tracked_index.h).
#include "tracked_index.h"

namespace kop::ingress::internal {

const SnapshotIndex& TrackedIndex::update(const Snapshot& snapshot) {
  ListDiff services = services_.update(snapshot.services);
  ListDiff slices = slices_.update(snapshot.endpoint_slices);
  ListDiff secrets = secrets_.update(snapshot.secrets);
  ListDiff config_maps = config_maps_.update(snapshot.config_maps);
  changed_ = !services.empty() || !slices.empty() || !secrets.empty() || !config_maps.empty();
  index_.patch_services(services);
  index_.patch_endpoint_slices(slices);
  index_.patch_secrets(secrets);
  index_.patch_config_maps(config_maps);
  return index_;
}

}  // namespace kop::ingress::internal
