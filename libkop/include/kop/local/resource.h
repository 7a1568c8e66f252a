// The resource types kop::local serves: GVR <-> GVK, scope, subresources, and (for custom
// resources) the CRD's schema and printer columns.
//
// The registry starts with the built-in kinds kop needs (namespaces, services, endpoints,
// endpointslices, secrets, configmaps, events, serviceaccounts, pods, deployments, ingresses,
// ingressclasses, leases, customresourcedefinitions), named as kop/api's built-in kinds table
// (api::builtin_kind) names them. Creating a CustomResourceDefinition in the
// store registers each of its served versions; deleting it removes them. Thread-safe: lookups
// return shared pointers to immutable ResourceType values.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/local/names.h"

namespace kop::local {

struct PrinterColumn {
  std::string name, type, json_path, description, format;
  int priority = 0;
};

// The scale subresource's JSON paths into the object (".spec.replicas", ...); a CRD's
// subresources.scale, or the built-in kinds' own.
struct ScalePaths {
  std::string spec_replicas;
  std::string status_replicas;
  std::string
      label_selector;  // "" = none; for built-ins the metav1.LabelSelector at .spec.selector
};

struct ResourceType {
  std::string group;     // "" for the core group
  std::string version;   // the version this entry serves
  std::string resource;  // plural, lower case
  std::string kind;
  std::string singular;
  bool namespaced = true;
  bool has_status = false;              // the /status subresource exists
  bool tracks_generation = false;       // metadata.generation is set and bumped on spec changes
  bool custom = false;                  // served from a CRD
  bool returns_deleted_object = false;  // DELETE answers with the object, not a Success Status
  std::string storage_version;          // the version objects are stored at (same group/resource)
  // The CRD's spec.conversion.strategy is Webhook: objects read or written in another version
  // than storage_version go through the CRD's conversion webhook (None only changes apiVersion).
  bool webhook_conversion = false;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  ObjectPtr schema;                    // CRD openAPIV3Schema for this version (null for built-ins)
  std::vector<PrinterColumn> columns;  // CRD additionalPrinterColumns
  std::optional<ScalePaths> scale;     // the /scale subresource exists

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  std::string list_kind() const { return kind + "List"; }
  // "ingresses.networking.k8s.io" / "pods": the storage identity shared by all versions.
  std::string group_resource() const { return group.empty() ? resource : resource + "." + group; }
};
using ResourceTypePtr = std::shared_ptr<const ResourceType>;

class Registry {
 public:
  Registry();  // with the built-in kinds

  void add(ResourceType t);  // replaces an entry with the same group/version/resource
  // Removes every version of group/resource.
  void remove(std::string_view group, std::string_view resource);

  ResourceTypePtr by_resource(std::string_view group, std::string_view version,
                              std::string_view resource) const;
  ResourceTypePtr by_kind(std::string_view group, std::string_view version,
                          std::string_view kind) const;
  // apiVersion ("v1", "apps/v1") + kind.
  ResourceTypePtr by_api_version_kind(std::string_view api_version, std::string_view kind) const;
  // Any served version of group/resource (the storage version when there is one).
  ResourceTypePtr any_version(std::string_view group, std::string_view resource) const;
  std::vector<ResourceTypePtr> all() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<ResourceTypePtr> types_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::local
