// Store writes with admission webhooks around them (admission.h), called outside the store's
// lock as the API server calls them outside its storage transaction. What a validating webhook
// judges is the object as the write would store it (a dry run of the same write); an update is
// then pinned to the resourceVersion it was judged against, so a concurrent change makes it a
// Conflict (retried here when the caller did not ask for a resourceVersion) instead of storing
// an object no webhook saw. Without a matching webhook a write goes straight to the store.
// Webhooks see objects in the version requested (converted by the CRD's conversion webhook
// when it serves that version).
#include "admission.h"
#include "kop/client/errors.h"
#include "kop/local/store.h"

namespace kop::local {

namespace {

// The API server never calls webhooks for webhook configurations (a bad webhook could
// otherwise lock its own configuration).
bool exempt(const ResourceType& t) {
  return t.group == "admissionregistration.k8s.io";
}

std::string name_of(const JsonValue& obj) {
  return std::string(json::path_string(obj, {"metadata", "name"}));
}

void set_meta(JsonDoc& d, std::string_view key, std::string_view value) {
  auto& a = d.GetAllocator();
  json::set_string(json::ensure_object(d, "metadata", a), key, value, a);
}

constexpr int kConflictRetries = 3;

}  // namespace

absl::StatusOr<ObjectPtr> Store::admitted_create(const ResourceType& t, std::string_view ns,
                                                 JsonDoc obj, const CreateOptions& o) {
  if (exempt(t)) return create_now(t, ns, std::move(obj), o);
  std::string req_ns(t.namespaced
                         ? (ns.empty() ? json::path_string(obj, {"metadata", "namespace"}) : ns)
                         : std::string_view());
  admission::Request r{t,         req_ns, name_of(obj), "", api::AdmissionOperation::kCreate,
                       o.dry_run, &obj,   nullptr};
  auto mutating = admission::matching(*this, true, r);
  auto validating = admission::matching(*this, false, r);
  if (mutating.empty() && validating.empty()) return create_now(t, ns, std::move(obj), o);
  if (auto st = admission::mutate(*this, mutating, r, obj); !st.ok()) return st;
  if (!validating.empty()) {
    CreateOptions dry = o;
    dry.dry_run = true;
    auto would = create_now(t, ns, json::clone(obj), dry);
    if (!would.ok()) return would;
    // A generated name: store the one the webhooks saw.
    set_meta(obj, "name", (*would)->name());
    r.name = std::string((*would)->name());
    r.object = &(*would)->doc();
    if (auto st = admission::validate(*this, validating, r); !st.ok()) return st;
  }
  return create_now(t, ns, std::move(obj), o);
}

absl::StatusOr<ObjectPtr> Store::admitted_update(const ResourceType& t, std::string_view ns,
                                                 std::string_view name, JsonDoc obj,
                                                 const UpdateOptions& o, bool status) {
  if (exempt(t)) return update_now(t, ns, name, std::move(obj), o, status);
  admission::Request r{t,
                       t.namespaced ? std::string(ns) : std::string(),
                       std::string(name),
                       status ? "status" : "",
                       api::AdmissionOperation::kUpdate,
                       o.dry_run};
  auto mutating = admission::matching(*this, true, r);
  auto validating = admission::matching(*this, false, r);
  if (mutating.empty() && validating.empty()) {
    return update_now(t, ns, name, std::move(obj), o, status);
  }
  const bool unconditional = json::path_string(obj, {"metadata", "resourceVersion"}).empty();
  for (int attempt = 0;; ++attempt) {
    auto read = stored_as(t, ns, name);
    if (!read.ok()) return read.status();
    ObjectPtr old = *read;
    if (old == nullptr) return update_now(t, ns, name, std::move(obj), o, status);
    r.old_object = &old->doc();
    JsonDoc d = json::clone(obj);
    r.object = &d;
    if (auto st = admission::mutate(*this, mutating, r, d); !st.ok()) return st;
    if (unconditional) set_meta(d, "resourceVersion", old->resource_version());
    if (!validating.empty()) {
      UpdateOptions dry = o;
      dry.dry_run = true;
      auto would = update_now(t, ns, name, json::clone(d), dry, status);
      if (!would.ok()) return would;
      r.object = &(*would)->doc();
      if (auto st = admission::validate(*this, validating, r); !st.ok()) return st;
    }
    auto written = update_now(t, ns, name, std::move(d), o, status);
    if (unconditional && client::is_conflict(written.status()) && attempt < kConflictRetries) {
      continue;
    }
    return written;
  }
}

absl::StatusOr<ObjectPtr> Store::admitted_patch(const ResourceType& t, std::string_view ns,
                                                std::string_view name, PatchType pt,
                                                std::string_view body, const PatchOptions& o,
                                                bool status) {
  if (exempt(t)) return patch_now(t, ns, name, pt, body, o, status);
  auto read = stored_as(t, ns, name);
  if (!read.ok()) return read.status();
  ObjectPtr old = *read;
  // Only an apply patch creates; any other patch of a missing object is the store's NotFound.
  if (old == nullptr && pt != PatchType::kApply) {
    return patch_now(t, ns, name, pt, body, o, status);
  }
  const bool creating = old == nullptr;
  admission::Request r{
      t,
      t.namespaced ? std::string(ns) : std::string(),
      std::string(name),
      status ? "status" : "",
      creating ? api::AdmissionOperation::kCreate : api::AdmissionOperation::kUpdate,
      o.dry_run,
      nullptr,
      creating ? nullptr : &old->doc()};
  auto mutating = admission::matching(*this, true, r);
  auto validating = admission::matching(*this, false, r);
  if (mutating.empty() && validating.empty()) return patch_now(t, ns, name, pt, body, o, status);
  // The patched object, as the patch would store it.
  PatchOptions dry = o;
  dry.dry_run = true;
  auto patched = patch_now(t, ns, name, pt, body, dry, status);
  if (!patched.ok()) return patched;
  JsonDoc d = json::clone((*patched)->doc());
  r.object = &d;
  if (auto st = admission::mutate(*this, mutating, r, d); !st.ok()) return st;
  if (json::equal(d, (*patched)->doc())) {
    // Nothing mutated: judge the patched object and apply the patch itself (its field manager
    // and operation stay as sent).
    r.object = &(*patched)->doc();
    if (auto st = admission::validate(*this, validating, r); !st.ok()) return st;
    return patch_now(t, ns, name, pt, body, o, status);
  }
  // Mutated: store the result as a write of the whole object (managedFields then record an
  // Update by the patch's field manager).
  if (creating) {
    for (auto key : {"resourceVersion", "uid", "creationTimestamp"}) {
      json::remove_member(json::ensure_object(d, "metadata", d.GetAllocator()), key);
    }
    return admitted_create(t, ns, std::move(d), {o.field_manager, o.dry_run});
  }
  set_meta(d, "resourceVersion", old->resource_version());
  if (!validating.empty()) {
    auto would = update_now(t, ns, name, json::clone(d), {o.field_manager, true}, status);
    if (!would.ok()) return would;
    r.object = &(*would)->doc();
    if (auto st = admission::validate(*this, validating, r); !st.ok()) return st;
  }
  return update_now(t, ns, name, std::move(d), {o.field_manager, o.dry_run}, status);
}

absl::StatusOr<DeleteResult> Store::admitted_remove(const ResourceType& t, std::string_view ns,
                                                    std::string_view name, const DeleteOptions& o) {
  if (exempt(t)) return remove_now(t, ns, name, o);
  admission::Request r{t,
                       t.namespaced ? std::string(ns) : std::string(),
                       std::string(name),
                       "",
                       api::AdmissionOperation::kDelete,
                       o.dry_run};
  // Mutating webhooks are called for DELETE too (they can refuse; there is nothing to patch).
  auto hooks = admission::matching(*this, true, r);
  auto validating = admission::matching(*this, false, r);
  hooks.insert(hooks.end(), validating.begin(), validating.end());
  ObjectPtr old;
  if (!hooks.empty()) {
    auto read = stored_as(t, ns, name);
    if (!read.ok()) return read.status();
    old = *read;
  }
  if (old == nullptr) return remove_now(t, ns, name, o);
  r.old_object = &old->doc();
  if (auto st = admission::validate(*this, hooks, r); !st.ok()) return st;
  return remove_now(t, ns, name, o);
}

}  // namespace kop::local
