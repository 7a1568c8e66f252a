#include "kop/client/client.h"

#include <fmt/format.h>

namespace kop::client {

std::string ResourceRef::to_string() const {
  std::string what = resource.empty() ? kind : resource;
  if (!group.empty()) what = fmt::format("{}.{}", what, group);
  if (!version.empty()) what = fmt::format("{}/{}", what, version);
  if (!namespace_.empty()) what = fmt::format("{} namespace={}", what, namespace_);
  if (!name.empty()) what = fmt::format("{} name={}", what, name);
  return what;
}

ResourceRef ResourceRef::of(const api::Object& object) {
  api::GroupVersionKind gvk = object.gvk();
  return {gvk.group,
          gvk.version,
          {},
          gvk.kind,
          std::string(object.namespace_()),
          std::string(object.name())};
}

std::string_view content_type(PatchType type) {
  switch (type) {
    case PatchType::kJsonMerge:
      return "application/merge-patch+json";
    case PatchType::kJsonPatch:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

std::string_view to_string(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
    case WatchEvent::Type::kBookmark:
      return "BOOKMARK";
    case WatchEvent::Type::kError:
      return "ERROR";
  }
  return "ERROR";
}

}  // namespace kop::client
