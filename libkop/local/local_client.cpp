#include "kop/local/local_client.h"

#include "errors.h"
#include "kop/api/object.h"
#include "kop/client/errors.h"

namespace kop::local {

namespace {

JsonDoc to_doc(const api::Object& o) {
  return json::clone(o.doc());
}

std::string rvm(client::ResourceVersionMatch m) {
  switch (m) {
    case client::ResourceVersionMatch::kExact:
      return "Exact";
    case client::ResourceVersionMatch::kNotOlderThan:
      return "NotOlderThan";
    default:
      return "";
  }
}

PatchType patch_type(client::PatchType t) {
  switch (t) {
    case client::PatchType::kJsonMerge:
      return PatchType::Merge;
    case client::PatchType::kJsonPatch:
      return PatchType::Json;
    case client::PatchType::kStrategicMerge:
      return PatchType::StrategicMerge;
    case client::PatchType::kApply:
      return PatchType::Apply;
  }
  return PatchType::Merge;
}

client::WatchEvent::Type event_type(EventType t) {
  switch (t) {
    case EventType::Added:
      return client::WatchEvent::Type::kAdded;
    case EventType::Modified:
      return client::WatchEvent::Type::kModified;
    case EventType::Deleted:
      return client::WatchEvent::Type::kDeleted;
    case EventType::Bookmark:
      return client::WatchEvent::Type::kBookmark;
    case EventType::Error:
      return client::WatchEvent::Type::kError;
  }
  return client::WatchEvent::Type::kError;
}

class LocalWatchStream : public client::WatchStream {
 public:
  LocalWatchStream(WatchPtr w, std::chrono::milliseconds poll) : w_(std::move(w)), poll_(poll) {}
  ~LocalWatchStream() override { cancel(); }

  absl::StatusOr<std::optional<client::WatchEvent>> next() override {
    for (;;) {
      auto ev = w_->next(poll_);
      if (ev) {
        client::WatchEvent out;
        out.type = event_type(ev->type);
        out.object = ev->object;
        out.error = ev->error;
        return std::optional<client::WatchEvent>(std::move(out));
      }
      if (w_->ended()) return std::optional<client::WatchEvent>();
    }
  }

  void cancel() override { w_->stop(); }

 private:
  WatchPtr w_;
  std::chrono::milliseconds poll_;
};

// The store's options for a write from the client's; the default manager names writes that
// name none (apply must name its own, as on the real server).
template <typename ClientWriteOptions>
WriteOptions write_options(const ClientWriteOptions& o, const std::string& default_manager) {
  WriteOptions wo;
  wo.field_manager = o.field_manager.empty() ? default_manager : o.field_manager;
  wo.dry_run = o.dry_run;
  return wo;
}

PatchOptions patch_options(client::PatchType type, const client::PatchOptions& o,
                           const std::string& default_manager) {
  PatchOptions po;
  po.field_manager = o.field_manager;
  if (po.field_manager.empty() && type != client::PatchType::kApply)
    po.field_manager = default_manager;
  po.dry_run = o.dry_run;
  po.force = o.force.value_or(false);
  return po;
}

}  // namespace

LocalClient::LocalClient(std::shared_ptr<Store> store, LocalClientOptions options)
    : store_(std::move(store)), options_(std::move(options)) {}

absl::StatusOr<ResourceTypePtr> LocalClient::resolve(const client::ResourceRef& ref) const {
  ResourceTypePtr t = ref.resource.empty()
                          ? store_->registry().by_kind(ref.group, ref.version, ref.kind)
                          : store_->registry().by_resource(ref.group, ref.version, ref.resource);
  if (!t) {
    return errors::resource_not_served();
  }
  return t;
}

absl::StatusOr<api::ObjectPtr> LocalClient::get(const client::ResourceRef& ref,
                                                const client::GetOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  auto r = store_->get(**t, ref.namespace_, ref.name, {o.resource_version});
  if (!r.ok()) return r.status();
  return *r;
}

absl::StatusOr<client::ObjectList> LocalClient::list(const client::ResourceRef& ref,
                                                     const client::ListOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  ListOptions lo;
  lo.label_selector = o.label_selector;
  lo.field_selector = o.field_selector;
  lo.limit = o.limit;
  lo.continue_token = o.continue_token;
  lo.resource_version = o.resource_version;
  lo.resource_version_match = rvm(o.resource_version_match);
  auto r = store_->list(**t, ref.namespace_, lo);
  if (!r.ok()) return r.status();
  client::ObjectList out;
  out.api_version = (*t)->api_version();
  out.kind = (*t)->list_kind();
  out.resource_version = r->resource_version;
  out.continue_token = r->continue_token;
  out.remaining_item_count = r->remaining_item_count;
  out.items = std::move(r->items);
  return out;
}

absl::StatusOr<client::WatchStreamPtr> LocalClient::watch(const client::ResourceRef& ref,
                                                          const client::WatchOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  WatchOptions wo;
  wo.label_selector = o.label_selector;
  wo.field_selector = o.field_selector;
  if (!ref.name.empty()) {
    wo.field_selector =
        "metadata.name=" + ref.name + (o.field_selector.empty() ? "" : "," + o.field_selector);
  }
  wo.resource_version = o.resource_version;
  wo.allow_bookmarks = o.allow_watch_bookmarks;
  if (o.timeout_seconds) wo.timeout = std::chrono::seconds(*o.timeout_seconds);
  auto w = store_->watch(**t, ref.namespace_, wo);
  if (!w.ok()) return w.status();
  return client::WatchStreamPtr(
      std::make_unique<LocalWatchStream>(std::move(*w), options_.watch_poll));
}

absl::StatusOr<api::ObjectPtr> LocalClient::create(const client::ResourceRef& ref,
                                                   const api::Object& object,
                                                   const client::CreateOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  WriteOptions wo = write_options(o, options_.default_field_manager);
  auto r = store_->create(**t, ref.namespace_, to_doc(object), wo);
  if (!r.ok()) return r.status();
  return *r;
}

absl::StatusOr<api::ObjectPtr> LocalClient::update(const client::ResourceRef& ref,
                                                   const api::Object& object,
                                                   const client::UpdateOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  WriteOptions wo = write_options(o, options_.default_field_manager);
  std::string name = ref.name.empty() ? std::string(object.name()) : ref.name;
  auto r = store_->update(**t, ref.namespace_, name, to_doc(object), wo);
  if (!r.ok()) return r.status();
  return *r;
}

absl::StatusOr<api::ObjectPtr> LocalClient::patch(const client::ResourceRef& ref,
                                                  client::PatchType type, std::string_view body,
                                                  const client::PatchOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  PatchOptions po = patch_options(type, o, options_.default_field_manager);
  auto r = store_->patch(**t, ref.namespace_, ref.name, patch_type(type), body, po);
  if (!r.ok()) return r.status();
  return *r;
}

absl::StatusOr<api::ObjectPtr> LocalClient::remove(const client::ResourceRef& ref,
                                                   const client::DeleteOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  DeleteOptions d;
  switch (o.propagation_policy) {
    case client::PropagationPolicy::kOrphan:
      d.propagation_policy = "Orphan";
      break;
    case client::PropagationPolicy::kBackground:
      d.propagation_policy = "Background";
      break;
    case client::PropagationPolicy::kForeground:
      d.propagation_policy = "Foreground";
      break;
    default:
      break;
  }
  d.precondition_uid = o.precondition_uid.value_or("");
  d.precondition_resource_version = o.precondition_resource_version.value_or("");
  d.grace_period_seconds = o.grace_period_seconds;
  d.dry_run = o.dry_run;
  auto r = store_->remove(**t, ref.namespace_, ref.name, d);
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
  WriteOptions wo = write_options(o, options_.default_field_manager);
  std::string name = ref.name.empty() ? std::string(object.name()) : ref.name;
  auto r = store_->update_status(**t, ref.namespace_, name, to_doc(object), wo);
  if (!r.ok()) return r.status();
  return *r;
}

absl::StatusOr<api::ObjectPtr> LocalClient::patch_status(const client::ResourceRef& ref,
                                                         client::PatchType type,
                                                         std::string_view body,
                                                         const client::PatchOptions& o) {
  auto t = resolve(ref);
  if (!t.ok()) return t.status();
  PatchOptions po = patch_options(type, o, options_.default_field_manager);
  auto r = store_->patch_status(**t, ref.namespace_, ref.name, patch_type(type), body, po);
  if (!r.ok()) return r.status();
  return *r;
}

}  // namespace kop::local
