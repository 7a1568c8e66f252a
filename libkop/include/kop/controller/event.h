// kop/controller/event.h: the events sources hand to predicates and handlers.
//
// They mirror controller-runtime's event package: a create, an update (old and new state), a
// delete (last known state; `delete_state_unknown` when only a relist noticed it) and a generic
// event (anything else that should trigger a reconcile, e.g. from a channel source). Objects are
// the cache's shared immutable instances.
//
// Threading: plain values; safe to copy between threads.
#pragma once

#include "kop/api/object.h"

namespace kop::controller {

struct CreateEvent {
  api::ObjectPtr object{};
};
struct UpdateEvent {
  api::ObjectPtr object_old{};
  api::ObjectPtr object_new{};
};
struct DeleteEvent {
  api::ObjectPtr object{};
  bool delete_state_unknown = false;
};
struct GenericEvent {
  api::ObjectPtr object{};
};

}  // namespace kop::controller
