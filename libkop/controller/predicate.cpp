#include "kop/controller/predicate.h"

#include <memory>

namespace kop::controller {
namespace {

// Built-in predicates only judge updates; the others pass (controller-runtime's behaviour).
Predicate update_only(std::function<bool(const api::Object&, const api::Object&)> changed) {
  Predicate p;
  p.update = [changed = std::move(changed)](const UpdateEvent& e) {
    if (e.object_old == nullptr || e.object_new == nullptr) return false;
    return changed(*e.object_old, *e.object_new);
  };
  return p;
}

}  // namespace

Predicate new_predicate_func(std::function<bool(const api::Object&)> fn) {
  // One function shared by the four lambdas instead of four copies of it.
  auto shared_fn = [f = std::make_shared<const std::function<bool(const api::Object&)>>(
                        std::move(fn))](const api::Object& o) { return (*f)(o); };
  Predicate p;
  p.create = [shared_fn](const CreateEvent& e) {
    return e.object != nullptr && shared_fn(*e.object);
  };
  p.update = [shared_fn](const UpdateEvent& e) {
    return e.object_new != nullptr && shared_fn(*e.object_new);
  };
  p.del = [shared_fn](const DeleteEvent& e) { return e.object != nullptr && shared_fn(*e.object); };
  p.generic = [shared_fn](const GenericEvent& e) {
    return e.object != nullptr && shared_fn(*e.object);
  };
  return p;
}

Predicate generation_changed() {
  return update_only(
      [](const api::Object& a, const api::Object& b) { return a.generation() != b.generation(); });
}

Predicate resource_version_changed() {
  return update_only([](const api::Object& a, const api::Object& b) {
    return a.resource_version() != b.resource_version();
  });
}

Predicate label_changed() {
  return update_only(
      [](const api::Object& a, const api::Object& b) { return a.labels() != b.labels(); });
}

Predicate annotation_changed() {
  return update_only([](const api::Object& a, const api::Object& b) {
    return a.annotations() != b.annotations();
  });
}

Predicate all_of(std::vector<Predicate> predicates) {
  // One list shared by the four lambdas instead of four copies of it.
  auto shared = std::make_shared<const std::vector<Predicate>>(std::move(predicates));
  Predicate p;
  p.create = [shared](const CreateEvent& e) { return pass(*shared, e); };
  p.update = [shared](const UpdateEvent& e) { return pass(*shared, e); };
  p.del = [shared](const DeleteEvent& e) { return pass(*shared, e); };
  p.generic = [shared](const GenericEvent& e) { return pass(*shared, e); };
  return p;
}

Predicate any_of(std::vector<Predicate> predicates) {
  auto shared = std::make_shared<const std::vector<Predicate>>(std::move(predicates));
  Predicate p;
  p.create = [shared](const CreateEvent& e) {
    for (const auto& q : *shared)
      if (q.on_create(e)) return true;
    return false;
  };
  p.update = [shared](const UpdateEvent& e) {
    for (const auto& q : *shared)
      if (q.on_update(e)) return true;
    return false;
  };
  p.del = [shared](const DeleteEvent& e) {
    for (const auto& q : *shared)
      if (q.on_delete(e)) return true;
    return false;
  };
  p.generic = [shared](const GenericEvent& e) {
    for (const auto& q : *shared)
      if (q.on_generic(e)) return true;
    return false;
  };
  return p;
}

Predicate negate(Predicate predicate) {
  auto shared = std::make_shared<const Predicate>(std::move(predicate));
  Predicate p;
  p.create = [shared](const CreateEvent& e) { return !shared->on_create(e); };
  p.update = [shared](const UpdateEvent& e) { return !shared->on_update(e); };
  p.del = [shared](const DeleteEvent& e) { return !shared->on_delete(e); };
  p.generic = [shared](const GenericEvent& e) { return !shared->on_generic(e); };
  return p;
}

bool pass(const std::vector<Predicate>& predicates, const CreateEvent& e) {
  for (const auto& p : predicates)
    if (!p.on_create(e)) return false;
  return true;
}
bool pass(const std::vector<Predicate>& predicates, const UpdateEvent& e) {
  for (const auto& p : predicates)
    if (!p.on_update(e)) return false;
  return true;
}
bool pass(const std::vector<Predicate>& predicates, const DeleteEvent& e) {
  for (const auto& p : predicates)
    if (!p.on_delete(e)) return false;
  return true;
}
bool pass(const std::vector<Predicate>& predicates, const GenericEvent& e) {
  for (const auto& p : predicates)
    if (!p.on_generic(e)) return false;
  return true;
}

}  // namespace kop::controller
