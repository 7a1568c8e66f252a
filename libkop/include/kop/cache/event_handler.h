// kop/cache/event_handler.h: what a SharedInformer tells its handlers.
//
// An informer reports every change of its store to each registered handler, in the order the
// store changed, as add / update(old, new) / delete. Objects are the store's shared immutable
// instances: handlers may keep them (holding an ObjectPtr keeps it alive) but must not cast
// away const. Guarantees and non-guarantees (as client-go's):
//   - Per handler, notifications arrive in store order on that handler's own thread; a slow
//     handler delays only itself (its queue grows), never the store or other handlers.
//   - Intermediate states may be skipped only by a relist: after a 410 Gone the informer reports
//     the difference between the old and the new list (updates for changed objects, deletions
//     with final_state_unknown=true for vanished ones). The last notification for a key always
//     carries the store's current state of that key.
//   - A resync (if configured) re-delivers every stored object as update(obj, obj).
//   - A handler added after the informer started first receives a synthetic add for every
//     stored object (in_initial_list=true), then live changes; nothing is missed or doubled.
//
// Threading: each handler's methods are called from one thread owned by the informer, never
// concurrently with each other. Exceptions thrown by a handler are caught and logged.
#pragma once

#include <functional>
#include <memory>

#include "kop/api/object.h"

namespace kop::cache {

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  // `in_initial_list`: the object came from the first list (or is a synthetic add for a handler
  // registered late), not from a live change.
  virtual void on_add(const api::ObjectPtr& obj, bool in_initial_list) = 0;
  // `old_obj` == `new_obj` (same pointer) for a resync.
  virtual void on_update(const api::ObjectPtr& old_obj, const api::ObjectPtr& new_obj) = 0;
  // `obj` is the last state known; `final_state_unknown` when the deletion was only noticed by
  // a relist (the object may have changed before it was deleted).
  virtual void on_delete(const api::ObjectPtr& obj, bool final_state_unknown) = 0;
};

// An EventHandler from functions; unset functions ignore their events.
struct EventHandlerFuncs : EventHandler {
  std::function<void(const api::ObjectPtr&, bool)> add;
  std::function<void(const api::ObjectPtr&, const api::ObjectPtr&)> update;
  std::function<void(const api::ObjectPtr&, bool)> del;

  void on_add(const api::ObjectPtr& obj, bool in_initial_list) override {
    if (add) add(obj, in_initial_list);
  }
  void on_update(const api::ObjectPtr& old_obj, const api::ObjectPtr& new_obj) override {
    if (update) update(old_obj, new_obj);
  }
  void on_delete(const api::ObjectPtr& obj, bool final_state_unknown) override {
    if (del) del(obj, final_state_unknown);
  }
};

}  // namespace kop::cache
