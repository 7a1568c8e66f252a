// SnapshotIndex: built whole, or patched from listing differences (snapshot_index.h).
#include "snapshot_index.h"

#include <algorithm>

namespace kop::ingress::internal {

SnapshotIndex::SnapshotIndex(const Snapshot& snapshot) {
  // The first object of a name wins, as a scan of the snapshot would find it.
  auto index = [](ByName& out, const std::vector<api::ObjectPtr>& objects) {
    out.reserve(objects.size());
    for (const api::ObjectPtr& o : objects) out.emplace(NsName{o->ns(), o->name()}, o);
  };
  index(services_, snapshot.services);
  index(secrets_, snapshot.secrets);
  index(config_maps_, snapshot.config_maps);
  slices_.reserve(snapshot.endpoint_slices.size());
  for (const api::ObjectPtr& slice : snapshot.endpoint_slices) add_slice(slice);
}

void SnapshotIndex::patch(ByName& index, const ListDiff& d) {
  for (const api::ObjectPtr& o : d.removed)
    if (auto it = index.find(NsName{o->ns(), o->name()}); it != index.end() && it->second == o)
      index.erase(it);
  for (const api::ObjectPtr& o : d.added) {
    // The key must view into the object held: a replaced entry takes the new object's key.
    index.erase(NsName{o->ns(), o->name()});
    index.emplace(NsName{o->ns(), o->name()}, o);
  }
}

const api::ObjectPtr* SnapshotIndex::find(const ByName& index, std::string_view ns,
                                          std::string_view name) {
  auto it = index.find(NsName{ns, name});
  return it == index.end() ? nullptr : &it->second;
}

void SnapshotIndex::patch_endpoint_slices(const ListDiff& d) {
  for (const api::ObjectPtr& o : d.removed) remove_slice(o);
  for (const api::ObjectPtr& o : d.added) add_slice(o);
}

void SnapshotIndex::add_slice(const api::ObjectPtr& slice) {
  std::optional<std::string_view> service = slice->label(kServiceNameLabel);
  if (!service) return;
  slices_[NsName{slice->ns(), *service}].push_back(slice);
}

void SnapshotIndex::remove_slice(const api::ObjectPtr& slice) {
  std::optional<std::string_view> service = slice->label(kServiceNameLabel);
  if (!service) return;
  auto it = slices_.find(NsName{slice->ns(), *service});
  if (it == slices_.end()) return;
  std::vector<api::ObjectPtr>& list = it->second;
  auto pos = std::find(list.begin(), list.end(), slice);
  if (pos == list.end()) return;
  list.erase(pos);
  if (list.empty()) {
    slices_.erase(it);
    return;
  }
  if (it->first.ns.data() != slice->ns().data()) return;
  // The key viewed into the slice going away: it views into the first one left now.
  auto node = slices_.extract(it);
  const api::ObjectPtr& first = node.mapped().front();
  node.key() = NsName{first->ns(), *first->label(kServiceNameLabel)};
  slices_.insert(std::move(node));
}

const std::vector<api::ObjectPtr>& SnapshotIndex::slices(std::string_view ns,
                                                         std::string_view service) const {
  static const std::vector<api::ObjectPtr> kNone;
  auto it = slices_.find(NsName{ns, service});
  return it == slices_.end() ? kNone : it->second;
}

}  // namespace kop::ingress::internal
