#include "kop/controller/predicate.h"

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
  Predicate p;
  p.create = [fn](const CreateEvent& e) { return e.object != nullptr && fn(*e.object); };
  p.update = [fn](const UpdateEvent& e) { return e.object_new != nullptr && fn(*e.object_new); };
  p.del = [fn](const DeleteEvent& e) { return e.object != nullptr && fn(*e.object); };
  p.generic = [fn](const GenericEvent& e) { return e.object != nullptr && fn(*e.object); };
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

Predicate all_of(std::vector<Predicate> ps) {
  Predicate p;
  p.create = [ps](const CreateEvent& e) { return pass(ps, e); };
  p.update = [ps](const UpdateEvent& e) { return pass(ps, e); };
  p.del = [ps](const DeleteEvent& e) { return pass(ps, e); };
  p.generic = [ps](const GenericEvent& e) { return pass(ps, e); };
  return p;
}

Predicate any_of(std::vector<Predicate> ps) {
  Predicate p;
  p.create = [ps](const CreateEvent& e) {
    for (const auto& q : ps)
      if (q.on_create(e)) return true;
    return false;
  };
  p.update = [ps](const UpdateEvent& e) {
    for (const auto& q : ps)
      if (q.on_update(e)) return true;
    return false;
  };
  p.del = [ps](const DeleteEvent& e) {
    for (const auto& q : ps)
      if (q.on_delete(e)) return true;
    return false;
  };
  p.generic = [ps](const GenericEvent& e) {
    for (const auto& q : ps)
      if (q.on_generic(e)) return true;
    return false;
  };
  return p;
}

Predicate negate(Predicate q) {
  Predicate p;
  p.create = [q](const CreateEvent& e) { return !q.on_create(e); };
  p.update = [q](const UpdateEvent& e) { return !q.on_update(e); };
  p.del = [q](const DeleteEvent& e) { return !q.on_delete(e); };
  p.generic = [q](const GenericEvent& e) { return !q.on_generic(e); };
  return p;
}

bool pass(const std::vector<Predicate>& ps, const CreateEvent& e) {
  for (const auto& p : ps)
    if (!p.on_create(e)) return false;
  return true;
}
bool pass(const std::vector<Predicate>& ps, const UpdateEvent& e) {
  for (const auto& p : ps)
    if (!p.on_update(e)) return false;
  return true;
}
bool pass(const std::vector<Predicate>& ps, const DeleteEvent& e) {
  for (const auto& p : ps)
    if (!p.on_delete(e)) return false;
  return true;
}
bool pass(const std::vector<Predicate>& ps, const GenericEvent& e) {
  for (const auto& p : ps)
    if (!p.on_generic(e)) return false;
  return true;
}

}  // namespace kop::controller
