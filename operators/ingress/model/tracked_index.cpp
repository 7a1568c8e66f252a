// TrackedIndex: a SnapshotIndex patched from listing differences (tracked_index.h).
#include "tracked_index.h"

namespace kop::ingress::internal {

const SnapshotIndex& TrackedIndex::update(const Snapshot& snapshot) {
  index_.patch_services(services_.update(snapshot.services));
  index_.patch_endpoint_slices(slices_.update(snapshot.endpoint_slices));
  index_.patch_secrets(secrets_.update(snapshot.secrets));
  index_.patch_config_maps(config_maps_.update(snapshot.config_maps));
  return index_;
}

}  // namespace kop::ingress::internal
