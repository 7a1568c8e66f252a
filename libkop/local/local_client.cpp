#include "kop/local/local_client.h"

#include "errors.h"
#include "kop/api/object.h"
#include "kop/client/errors.h"

namespace kop::local {

namespace {

JsonDoc to_doc(const api::Object& o) {
  return json::clone(o.doc());
}

// Writes that name no field manager are recorded under the default one (the API server derives
// one from the User-Agent); apply must name its own, as on the real server.
template <typename Options>
Options with_manager(Options o, const std::string& default_manager) {
  if (o.field_manager.empty()) o.field_manager = default_manager;
  return o;
}

}  // namespace

LocalClient::LocalClient(std::shared_ptr<Store> store, LocalClientOptions options)
    : store_(std::move(store)), options_(std::move(options)) {}

absl::StatusOr<ResourceTypePtr> LocalClient::resolve(const client::ResourceRef& ref) const {
  ResourceTypePtr t = ref.resource.empty()
                          ? store_->registry().by_kind(ref.group, ref.version, ref.kind)
                          : store_->registry().by_resource(ref.group, ref.version, ref.resource);
  if (!t) return errors::resource_not_served();
  return t;
}

absl::StatusOr<api::ObjectPtr> LocalClient::get(const client::ResourceRef& ref,
                                                const client::GetOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  return store_->get(**t, ref.namespace_, ref.name, o);
}

absl::StatusOr<client::ObjectList> LocalClient::list(const client::ResourceRef& ref,
                                                     const client::ListOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  return store_->list(**t, ref.namespace_, o);
}

absl::StatusOr<client::WatchStreamPtr> LocalClient::watch(const client::ResourceRef& ref,
                                                          const client::WatchOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  client::WatchOptions wo = o;
  if (!ref.name.empty()) {
    wo.field_selector =
        "metadata.name=" + ref.name + (o.field_selector.empty() ? "" : "," + o.field_selector);
  }
  auto w = store_->watch(**t, ref.namespace_, wo);
  if (!w.ok()) return w.status();
  return client::WatchStreamPtr(*std::move(w));
}

absl::StatusOr<api::ObjectPtr> LocalClient::create(const client::ResourceRef& ref,
                                                   const api::Object& object,
                                                   const client::CreateOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  return store_->create(**t, ref.namespace_, to_doc(object),
                        with_manager(o, options_.default_field_manager));
}

absl::StatusOr<api::ObjectPtr> LocalClient::update(const client::ResourceRef& ref,
                                                   const api::Object& object,
                                                   const client::UpdateOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  std::string name = ref.name.empty() ? std::string(object.name()) : ref.name;
  return store_->update(**t, ref.namespace_, name, to_doc(object),
                        with_manager(o, options_.default_field_manager));
}

absl::StatusOr<api::ObjectPtr> LocalClient::patch(const client::ResourceRef& ref,
                                                  client::PatchType type, std::string_view body,
                                                  const client::PatchOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  return store_->patch(
      **t, ref.namespace_, ref.name, type, body,
      type == client::PatchType::kApply ? o : with_manager(o, options_.default_field_manager));
}

absl::StatusOr<api::ObjectPtr> LocalClient::remove(const client::ResourceRef& ref,
                                                   const client::DeleteOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  auto r = store_->remove(**t, ref.namespace_, ref.name, o);
  if (!r.ok()) return r.status();
  if (r->removed && !(*t)->returns_deleted_object) return api::ObjectPtr();
  return r->object;
}

absl::StatusOr<api::ObjectPtr> LocalClient::get_status(const client::ResourceRef& ref,
                                                       const client::GetOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  if (!(*t)->has_status)
    return client::not_found((*t)->group, (*t)->resource + "/status", ref.name);
  return get(ref, o);
}

absl::StatusOr<api::ObjectPtr> LocalClient::update_status(const client::ResourceRef& ref,
                                                          const api::Object& object,
                                                          const client::UpdateOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  std::string name = ref.name.empty() ? std::string(object.name()) : ref.name;
  return store_->update_status(**t, ref.namespace_, name, to_doc(object),
                               with_manager(o, options_.default_field_manager));
}

absl::StatusOr<api::ObjectPtr> LocalClient::patch_status(const client::ResourceRef& ref,
                                                         client::PatchType type,
                                                         std::string_view body,
                                                         const client::PatchOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  return store_->patch_status(
      **t, ref.namespace_, ref.name, type, body,
      type == client::PatchType::kApply ? o : with_manager(o, options_.default_field_manager));
}

}  // namespace kop::local
