// only_status_changed(): whether an update of an object is a status write, which changes
// nothing a build reads. Used where updates are filtered (the controller's event filter) and
// where a build decides what to translate again (the BuildCache). Pure; any thread.
#pragma once

#include "kop/api/object.h"

namespace kop::ingress {

// Whether `after` differs from `before` in its status only (and in the resourceVersion and
// managedFields that every write changes): a status write, such as the status writer's own,
// changes nothing a build reads.
bool only_status_changed(const api::Object& before, const api::Object& after);

}  // namespace kop::ingress
