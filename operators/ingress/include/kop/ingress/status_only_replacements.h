// StatusOnlyReplacements: which cached objects replaced an earlier one by status-only updates,
// recorded as the updates arrive, so that a build takes each such object by pointer instead of
// comparing it with the object it replaced.
//
// A status round writes the status of every Ingress (10k at scale); each write comes back as a
// new cached object that differs in its status only, and starts no build (the controller's event
// filter compares the update's two objects with only_status_changed(), status_only_change.h).
// The next build finds every one of them replaced in its listing. The filter records its answer
// here; that build's ListTracker (list_diff.h) then reports each such object as a status-only
// replacement, found by one hash lookup, instead of an object removed and one added that the
// build compares again (10k comparisons of cold objects, the translation cache's lookups, the
// desired statuses recomputed).
// A run of status-only updates of one object (A -> B -> C) is kept as its first and last objects:
// C replaced A. Any other update of C ends the run. The record holds both objects, so no other
// object can take either address while it exists; a build takes the record whole and drops it,
// so it holds nothing past the next build.
// Threading: a value, no locking of its own (the IngressController fills one under its lock from
// the watches' threads, in each object's update order, and a build takes it whole).
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstddef>

#include "kop/api/object.h"

namespace kop::ingress {

class StatusOnlyReplacements {
 public:
  // An update of `before` to `after`, as the watch reported it; `status_only`: they differ in
  // their status only (only_status_changed()).
  void record(const api::ObjectPtr& before, const api::ObjectPtr& after, bool status_only);
  // The object `after` replaced by status-only updates (the first of the run); null when no
  // such run ends at `after`.
  const api::Object* replaced(const api::Object* after) const;
  size_t size() const { return runs_.size(); }
  bool empty() const { return runs_.empty(); }

 private:
  struct Run {
    api::ObjectPtr first;
    api::ObjectPtr last;
  };
  absl::flat_hash_map<const api::Object*, Run> runs_;  // by the run's last object
};

}  // namespace kop::ingress
