#include "kop/local/resource.h"

#include "kop/api/gvk.h"

namespace kop::local {

namespace {

// The built-in kinds kop::local serves. Names, version, scope and short names come from kop/api's
// table (api::builtin_kind); what the API server's registry strategies add is written here: a
// status subresource, metadata.generation tracking, and DELETE answering with the object
// (ReturnDeletedObject in the pods' and serviceaccounts' storage). As in v1.20+.
struct Served {
  std::string_view group;
  std::string_view kind;
  bool status;
  bool generation;
  bool returns_deleted_object;
};
constexpr Served kServed[] = {
    {"", "Namespace", true, false, false},
    {"", "Service", true, false, false},
    {"", "Endpoints", false, false, false},
    {"", "Secret", false, false, false},
    {"", "ConfigMap", false, false, false},
    {"", "Event", false, false, false},
    {"", "ServiceAccount", false, false, true},
    {"", "Pod", true, false, true},
    {"discovery.k8s.io", "EndpointSlice", false, true, false},
    {"apps", "Deployment", true, true, false},
    {"networking.k8s.io", "Ingress", true, true, false},
    {"networking.k8s.io", "IngressClass", false, true, false},
    {"coordination.k8s.io", "Lease", false, false, false},
    // Stored so that kop::local calls the admission webhooks they register.
    {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration", false, true, false},
    {"admissionregistration.k8s.io", "MutatingWebhookConfiguration", false, true, false},
    {"apiextensions.k8s.io", "CustomResourceDefinition", true, true, false},
};

ResourceType builtin(const Served& s) {
  const api::ResourceInfo* info = api::builtin_kind(s.group, s.kind);
  ResourceType t;
  t.group = std::string(info->group);
  t.version = std::string(info->version);
  t.resource = std::string(info->resource);
  t.kind = std::string(info->kind);
  t.singular = std::string(info->singular);
  t.namespaced = info->namespaced;
  t.has_status = s.status;
  t.tracks_generation = s.generation;
  t.returns_deleted_object = s.returns_deleted_object;
  t.storage_version = t.version;
  t.short_names.assign(info->short_names.begin(), info->short_names.end());
  if (s.kind == "Deployment")
    t.scale = ScalePaths{".spec.replicas", ".status.replicas", ".spec.selector"};
  return t;
}

}  // namespace

Registry::Registry() {
  for (const Served& s : kServed) add(builtin(s));
}

void Registry::add(ResourceType t) {
  auto p = std::make_shared<const ResourceType>(std::move(t));
  absl::MutexLock l(&mu_);
  for (auto& e : types_) {
    if (e->group == p->group && e->version == p->version && e->resource == p->resource) {
      e = p;
      return;
    }
  }
  types_.push_back(std::move(p));
}

void Registry::remove(std::string_view group, std::string_view resource) {
  absl::MutexLock l(&mu_);
  std::erase_if(types_, [&](const ResourceTypePtr& e) {
    return e->group == group && e->resource == resource;
  });
}

ResourceTypePtr Registry::by_resource(std::string_view group, std::string_view version,
                                      std::string_view resource) const {
  absl::MutexLock l(&mu_);
  for (auto& e : types_) {
    if (e->group == group && e->version == version && e->resource == resource) return e;
  }
  return nullptr;
}

ResourceTypePtr Registry::by_kind(std::string_view group, std::string_view version,
                                  std::string_view kind) const {
  absl::MutexLock l(&mu_);
  for (auto& e : types_) {
    if (e->group == group && e->version == version && e->kind == kind) return e;
  }
  return nullptr;
}

ResourceTypePtr Registry::by_api_version_kind(std::string_view api_version,
                                              std::string_view kind) const {
  auto gv = api::GroupVersion::parse(api_version);
  if (!gv.ok()) return nullptr;
  return by_kind(gv->group, gv->version, kind);
}

ResourceTypePtr Registry::any_version(std::string_view group, std::string_view resource) const {
  absl::MutexLock l(&mu_);
  ResourceTypePtr found;
  for (auto& e : types_) {
    if (e->group == group && e->resource == resource) {
      if (e->version == e->storage_version) return e;
      if (!found) found = e;
    }
  }
  return found;
}

std::vector<ResourceTypePtr> Registry::all() const {
  absl::MutexLock l(&mu_);
  return types_;
}

}  // namespace kop::local
