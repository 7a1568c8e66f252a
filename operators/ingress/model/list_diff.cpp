// ListTracker::update(): a positional pointer compare, then the moved objects matched by pointer
// and the status-only replacements by lookup (list_diff.h states the contract).
#include "kop/ingress/list_diff.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <algorithm>

namespace kop::ingress {
namespace {

// The added objects that replaced a removed one by status-only updates in another place (a
// listing in another order) moved to d.status_only with it.
void pair_status_only(ListDiff& d, const StatusOnlyReplacements& status_only) {
  if (d.added.empty() || d.removed.empty()) return;
  absl::flat_hash_map<const api::Object*, size_t> at;  // removed object -> its index
  at.reserve(d.removed.size());
  for (size_t i = 0; i < d.removed.size(); ++i) at.emplace(d.removed[i].get(), i);
  std::vector<bool> paired(d.removed.size());
  std::erase_if(d.added, [&](const api::ObjectPtr& o) {
    auto it = at.find(status_only.replaced(o.get()));
    if (it == at.end() || paired[it->second]) return false;
    paired[it->second] = true;
    d.status_only.push_back({d.removed[it->second], o});
    return true;
  });
  size_t kept = 0;
  for (size_t i = 0; i < d.removed.size(); ++i)
    if (!paired[i]) d.removed[kept++] = std::move(d.removed[i]);
  d.removed.resize(kept);
}

}  // namespace

ListDiff ListTracker::update(const std::vector<api::ObjectPtr>& now,
                             const StatusOnlyReplacements* status_only) {
  ListDiff d;
  if (status_only != nullptr && status_only->empty()) status_only = nullptr;
  const size_t common = std::min(last_.size(), now.size());
  for (size_t i = 0; i < common; ++i) {
    if (last_[i] == now[i]) continue;  // the usual case: unchanged, in the same place
    if (status_only != nullptr && status_only->replaced(now[i].get()) == last_[i].get()) {
      d.status_only.push_back({std::move(last_[i]), now[i]});  // a status write, in place
      last_[i] = now[i];
      continue;
    }
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
  if (!moved.empty()) {
    auto was_moved = [&](const api::ObjectPtr& o) { return moved.contains(o.get()); };
    std::erase_if(d.added, was_moved);
    std::erase_if(d.removed, was_moved);
  }
  if (status_only != nullptr) pair_status_only(d, *status_only);
  return d;
}

}  // namespace kop::ingress
