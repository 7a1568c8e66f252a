// Internal to the model: a SnapshotIndex kept across builds with the listings it was last
// patched from, so that indexing a snapshot costs a pointer compare per object and the work of
// what changed, not a hash insert per Service, EndpointSlice, Secret and ConfigMap. The Gateway
// API's TranslateCache keeps one (a BuildCache patches its own index with the ListDiffs it needs
// anyway, incremental.cpp).
// Threading: used by one build at a time.
#pragma once

#include "kop/ingress/list_diff.h"
#include "kop/ingress/model.h"
#include "snapshot_index.h"

namespace kop::ingress::internal {

class TrackedIndex {
 public:
  // The index of `snapshot`'s Services, EndpointSlices, Secrets and ConfigMaps: the one of the
  // last call's snapshot, patched with the objects added and removed since. Valid until the
  // next call; it holds the objects it indexes.
  const SnapshotIndex& update(const Snapshot& snapshot);
  // Whether the last update() changed the index (anything added or removed since the one
  // before; true after the first).
  bool changed() const { return changed_; }

 private:
  bool changed_ = true;
  ListTracker services_, slices_, secrets_, config_maps_;
  SnapshotIndex index_;
};

}  // namespace kop::ingress::internal
