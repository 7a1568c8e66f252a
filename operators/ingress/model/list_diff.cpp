// ListTracker::update(): a positional pointer compare, then the moved objects matched by pointer
// (list_diff.h states the contract).
#include "kop/ingress/list_diff.h"

#include <absl/container/flat_hash_set.h>

#include <algorithm>

namespace kop::ingress {

ListDiff ListTracker::update(const std::vector<api::ObjectPtr>& now) {
  ListDiff d;
  const size_t common = std::min(last_.size(), now.size());
  for (size_t i = 0; i < common; ++i) {
    if (last_[i] == now[i]) continue;  // the usual case: unchanged, in the same place
    d.removed.push_back(std::move(last_[i]));
    last_[i] = now[i];
    d.added.push_back(now[i]);
  }
  for (size_t i = common; i < last_.size(); ++i) d.removed.push_back(std::move(last_[i]));
  last_.resize(common);
  for (size_t i = common; i < now.size(); ++i) {
    last_.push_back(now[i]);
    d.added.push_back(now[i]);
  }
  if (d.added.empty() || d.removed.empty()) return d;
  // An object on both sides only moved: after an insertion or a removal every later position
  // differs.
  absl::flat_hash_set<const api::Object*> removed;
  removed.reserve(d.removed.size());
  for (const api::ObjectPtr& o : d.removed) removed.insert(o.get());
  absl::flat_hash_set<const api::Object*> moved;
  for (const api::ObjectPtr& o : d.added)
    if (removed.contains(o.get())) moved.insert(o.get());
  if (moved.empty()) return d;
  auto was_moved = [&](const api::ObjectPtr& o) { return moved.contains(o.get()); };
  std::erase_if(d.added, was_moved);
  std::erase_if(d.removed, was_moved);
  return d;
}

}  // namespace kop::ingress
