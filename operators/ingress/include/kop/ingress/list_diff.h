// ListTracker: what changed in one kind's listing from the caches since the previous listing,
// found by object pointer.
//
// The caches share an unchanged object between listings and replace an object when it changes
// (kop/cache), so comparing a listing with the previous one position by position finds the
// changes with pointer compares only: O(objects) compares, O(changes) copies. Objects that only
// moved (the cache's map grew and reordered) are matched by pointer and are no change.
// An updated object is one removed (the old object) and one added (the new one), unless the
// caller knows it replaced the old one by status-only updates (StatusOnlyReplacements): then it
// is reported apart, in ListDiff::status_only, found by a lookup and not compared.
// Threading: a ListTracker is used by one thread at a time (a build).
#pragma once

#include <vector>

#include "kop/api/object.h"
#include "kop/ingress/status_only_replacements.h"

namespace kop::ingress {

struct ListDiff {
  std::vector<api::ObjectPtr> added;    // in the new listing, not in the previous one
  std::vector<api::ObjectPtr> removed;  // in the previous listing, not in the new one
  // An object of the previous listing and the one of the new listing that replaced it by
  // status-only updates (in neither list above).
  struct Replaced {
    api::ObjectPtr before;
    api::ObjectPtr after;
  };
  std::vector<Replaced> status_only;
  bool empty() const { return added.empty() && removed.empty() && status_only.empty(); }
};

class ListTracker {
 public:
  // The difference between `now` and the listing given last (the first time: everything is
  // added); `now` becomes the previous listing. The tracker holds the listing's objects.
  // `status_only` (optional): the replacements known to be status-only, reported apart.
  ListDiff update(const std::vector<api::ObjectPtr>& now,
                  const StatusOnlyReplacements* status_only = nullptr);
  // Forgets the previous listing: the next update() adds everything.
  void reset() { last_.clear(); }

 private:
  std::vector<api::ObjectPtr> last_;
};

}  // namespace kop::ingress
