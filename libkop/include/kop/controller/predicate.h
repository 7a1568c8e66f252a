// kop/controller/predicate.h: filters deciding which events reach a handler.
//
// A Predicate answers per event type whether the event should be handled (controller-runtime's
// predicate.Funcs); an unset function lets the event through. The built-in ones only filter
// updates (create, delete and generic events pass), as controller-runtime's do:
//   generation_changed()        metadata.generation differs (spec changes, not status ones)
//   resource_version_changed()  metadata.resourceVersion differs (drops resyncs)
//   label_changed()             metadata.labels differ
//   annotation_changed()        metadata.annotations differ
// Combine with all_of / any_of / negate (and, or, not). A controller lets an event through only
// when every predicate of its watch passes. What object_old and object_new of an update are, and
// which of them a map function sees after the predicates: handler.h.
//
// Threading: predicates are called on informer handler threads, possibly concurrently for
// different watches: keep them free of shared mutable state.
#pragma once

#include <functional>
#include <vector>

#include "kop/controller/event.h"

namespace kop::controller {

struct Predicate {
  std::function<bool(const CreateEvent&)> create{};    // Defaults to unset = true.
  std::function<bool(const UpdateEvent&)> update{};    // Defaults to unset = true.
  std::function<bool(const DeleteEvent&)> del{};       // Defaults to unset = true.
  std::function<bool(const GenericEvent&)> generic{};  // Defaults to unset = true.

  bool on_create(const CreateEvent& e) const { return !create || create(e); }
  bool on_update(const UpdateEvent& e) const { return !update || update(e); }
  bool on_delete(const DeleteEvent& e) const { return !del || del(e); }
  bool on_generic(const GenericEvent& e) const { return !generic || generic(e); }
};

// A predicate applying `fn` to the (new) object of every event type.
Predicate new_predicate_func(std::function<bool(const api::Object&)> fn);

Predicate generation_changed();
Predicate resource_version_changed();
Predicate label_changed();
Predicate annotation_changed();

// True when every (all_of) / any (any_of) predicate is true; all_of({}) is true, any_of({}) false.
Predicate all_of(std::vector<Predicate> predicates);
Predicate any_of(std::vector<Predicate> predicates);
Predicate negate(Predicate predicate);

// Whether every predicate lets the event through.
bool pass(const std::vector<Predicate>& predicates, const CreateEvent& e);
bool pass(const std::vector<Predicate>& predicates, const UpdateEvent& e);
bool pass(const std::vector<Predicate>& predicates, const DeleteEvent& e);
bool pass(const std::vector<Predicate>& predicates, const GenericEvent& e);

}  // namespace kop::controller
