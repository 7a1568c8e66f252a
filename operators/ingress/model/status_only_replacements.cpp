// StatusOnlyReplacements: runs of status-only updates by their last object
// (status_only_replacements.h).
#include "kop/ingress/status_only_replacements.h"

#include <utility>

namespace kop::ingress {

void StatusOnlyReplacements::record(const api::ObjectPtr& before, const api::ObjectPtr& after,
                                    bool status_only) {
  if (!before || !after || before == after) return;  // a resync changes nothing
  auto it = runs_.find(before.get());
  if (!status_only) {
    if (it != runs_.end()) runs_.erase(it);  // `after` replaced `before` otherwise: the run ends
    return;
  }
  api::ObjectPtr first = before;
  if (it != runs_.end()) {  // the run goes on from its first object
    first = std::move(it->second.first);
    runs_.erase(it);
  }
  runs_.insert_or_assign(after.get(), Run{std::move(first), after});
}

const api::Object* StatusOnlyReplacements::replaced(const api::Object* after) const {
  auto it = runs_.find(after);
  return it == runs_.end() ? nullptr : it->second.first.get();
}

}  // namespace kop::ingress
