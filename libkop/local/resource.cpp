#include "kop/local/resource.h"

namespace kop::local {

namespace {
ResourceType builtin(std::string group, std::string version, std::string resource, std::string kind,
                     bool namespaced, bool status, bool generation,
                     std::vector<std::string> short_names) {
  ResourceType t;
  t.group = std::move(group);
  t.version = std::move(version);
  t.resource = std::move(resource);
  t.kind = std::move(kind);
  t.singular.reserve(t.kind.size());
  for (char c : t.kind)
    t.singular += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  t.namespaced = namespaced;
  t.has_status = status;
  t.tracks_generation = generation;
  t.storage_version = t.version;
  t.short_names = std::move(short_names);
  return t;
}
}  // namespace

Registry::Registry() {
  // Scope, status subresource and generation tracking as the v1.20+ registry strategies set them.
  add(builtin("", "v1", "namespaces", "Namespace", false, true, false, {"ns"}));
  add(builtin("", "v1", "services", "Service", true, true, false, {"svc"}));
  add(builtin("", "v1", "endpoints", "Endpoints", true, false, false, {"ep"}));
  add(builtin("", "v1", "secrets", "Secret", true, false, false, {}));
  add(builtin("", "v1", "configmaps", "ConfigMap", true, false, false, {"cm"}));
  add(builtin("", "v1", "events", "Event", true, false, false, {"ev"}));
  {
    // pods and serviceaccounts answer DELETE with the object (ReturnDeletedObject in their
    // storage).
    auto sa = builtin("", "v1", "serviceaccounts", "ServiceAccount", true, false, false, {"sa"});
    sa.returns_deleted_object = true;
    add(std::move(sa));
    auto po = builtin("", "v1", "pods", "Pod", true, true, false, {"po"});
    po.returns_deleted_object = true;
    add(std::move(po));
  }
  add(builtin("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, false, true, {}));
  add(builtin("apps", "v1", "deployments", "Deployment", true, true, true, {"deploy"}));
  add(builtin("networking.k8s.io", "v1", "ingresses", "Ingress", true, true, true, {"ing"}));
  add(builtin("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, false, true, {}));
  add(builtin("coordination.k8s.io", "v1", "leases", "Lease", true, false, false, {}));
  add(builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
              false, true, true, {"crd", "crds"}));
}

void Registry::add(ResourceType t) {
  auto p = std::make_shared<const ResourceType>(std::move(t));
  std::lock_guard<std::mutex> l(mu_);
  for (auto& e : types_) {
    if (e->group == p->group && e->version == p->version && e->resource == p->resource) {
      e = p;
      return;
    }
  }
  types_.push_back(std::move(p));
}

void Registry::remove(std::string_view group, std::string_view resource) {
  std::lock_guard<std::mutex> l(mu_);
  std::erase_if(types_, [&](const ResourceTypePtr& e) {
    return e->group == group && e->resource == resource;
  });
}

ResourceTypePtr Registry::by_resource(std::string_view group, std::string_view version,
                                      std::string_view resource) const {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& e : types_) {
    if (e->group == group && e->version == version && e->resource == resource) return e;
  }
  return nullptr;
}

ResourceTypePtr Registry::by_kind(std::string_view group, std::string_view version,
                                  std::string_view kind) const {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& e : types_) {
    if (e->group == group && e->version == version && e->kind == kind) return e;
  }
  return nullptr;
}

ResourceTypePtr Registry::by_api_version_kind(std::string_view api_version,
                                              std::string_view kind) const {
  auto [g, v] = split_api_version(api_version);
  return by_kind(g, v, kind);
}

ResourceTypePtr Registry::any_version(std::string_view group, std::string_view resource) const {
  std::lock_guard<std::mutex> l(mu_);
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
  std::lock_guard<std::mutex> l(mu_);
  return types_;
}

std::pair<std::string, std::string> split_api_version(std::string_view api_version) {
  auto slash = api_version.find('/');
  if (slash == std::string_view::npos) return {"", std::string(api_version)};
  return {std::string(api_version.substr(0, slash)), std::string(api_version.substr(slash + 1))};
}

}  // namespace kop::local
