// Internal to the model: the Builder's lookups by (namespace, name) into a Snapshot: Services,
// Secrets, ConfigMaps, and the EndpointSlices of each Service (by their
// kubernetes.io/service-name label). Built whole from a Snapshot (build_model()), or kept across
// builds by a BuildCache and patched with the objects the caches added and removed since
// (list_diff.h), so an incremental build does not index every object again.
// A snapshot holds one object per kind, namespace and name, as a cache does; when patching, the
// object added last for a name is the one found.
// Threading: used by one build at a time.
#pragma once

#include <functional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kop/ingress/list_diff.h"
#include "kop/ingress/model.h"

namespace kop::ingress::internal {

// (namespace, name) as views into an object the index holds (or the caller's strings for a
// lookup).
struct NsName {
  std::string_view ns;
  std::string_view name;
  bool operator==(const NsName&) const = default;
};
struct NsNameHash {
  size_t operator()(const NsName& k) const {
    size_t h = std::hash<std::string_view>()(k.ns);
    return h ^
           (std::hash<std::string_view>()(k.name) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

// The label naming an EndpointSlice's Service.
inline constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";

class SnapshotIndex {
 public:
  SnapshotIndex() = default;
  explicit SnapshotIndex(const Snapshot& snapshot);
  SnapshotIndex(const SnapshotIndex&) = delete;
  SnapshotIndex& operator=(const SnapshotIndex&) = delete;

  // The objects of the kind, in one listing's difference from the previous (removed first).
  void patch_services(const ListDiff& d) { patch(services_, d); }
  void patch_secrets(const ListDiff& d) { patch(secrets_, d); }
  void patch_config_maps(const ListDiff& d) { patch(config_maps_, d); }
  void patch_endpoint_slices(const ListDiff& d);

  // Null / empty when absent.
  const api::ObjectPtr* service(std::string_view ns, std::string_view name) const {
    return find(services_, ns, name);
  }
  const api::ObjectPtr* secret(std::string_view ns, std::string_view name) const {
    return find(secrets_, ns, name);
  }
  const api::ObjectPtr* config_map(std::string_view ns, std::string_view name) const {
    return find(config_maps_, ns, name);
  }
  const std::vector<api::ObjectPtr>& slices(std::string_view ns, std::string_view service) const;

 private:
  using ByName = std::unordered_map<NsName, api::ObjectPtr, NsNameHash>;
  static void patch(ByName& index, const ListDiff& d);
  static const api::ObjectPtr* find(const ByName& index, std::string_view ns,
                                    std::string_view name);
  void add_slice(const api::ObjectPtr& slice);
  void remove_slice(const api::ObjectPtr& slice);

  ByName services_;
  ByName secrets_;
  ByName config_maps_;
  // (namespace, Service name) -> its EndpointSlices; the key views into the first of them.
  std::unordered_map<NsName, std::vector<api::ObjectPtr>, NsNameHash> slices_;
};

}  // namespace kop::ingress::internal
