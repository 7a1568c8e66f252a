// kop/client/rest_mapper.h: from a kind to the REST resource that serves it.
//
// Objects name their type by apiVersion + kind ("networking.k8s.io/v1", "Ingress"); URLs need
// the plural resource and whether it is namespaced ("ingresses", namespaced). RestMapper answers
// that. DiscoveryRestMapper asks the API server's discovery documents (/api, /api/v1, /apis,
// /apis/GROUP/VERSION), keeps what it learnt per group-version, and asks again when a kind is
// missing from what it knows (a CRD installed since). When discovery cannot be reached, it falls
// back to the built-in table of kop/api/gvk.h (built-in kinds only: custom resources need
// discovery).
//
// Threading: mapping() may be called from any number of threads; a refresh is done by one
// caller while the others wait for it.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include "kop/api/gvk.h"

namespace kop::client {

struct RestMapping {
  api::GroupVersionKind kind;
  api::GroupVersionResource resource;
  bool namespaced = true;
  bool operator==(const RestMapping&) const = default;
};

class RestMapper {
 public:
  virtual ~RestMapper() = default;
  // The mapping for `gvk`. An empty version means the group's preferred version. NotFound
  // ("no matches for kind ...") when the server serves no such kind.
  virtual absl::StatusOr<RestMapping> mapping(const api::GroupVersionKind& gvk) = 0;
  // The mapping for a resource given by its plural (to learn its kind and scope).
  virtual absl::StatusOr<RestMapping> mapping_for_resource(
      const api::GroupVersionResource& gvr) = 0;
};

class DiscoveryRestMapper final : public RestMapper {
 public:
  // GETs a discovery path and returns the body (RestClient::get_raw, or a test fake).
  using Fetch = std::function<absl::StatusOr<std::string>(std::string_view path)>;
  explicit DiscoveryRestMapper(Fetch fetch);

  absl::StatusOr<RestMapping> mapping(const api::GroupVersionKind& gvk) override;
  absl::StatusOr<RestMapping> mapping_for_resource(const api::GroupVersionResource& gvr) override;

  // Forgets everything learnt; the next lookup asks the server again.
  void reset() ABSL_LOCKS_EXCLUDED(mu_);
  // How many discovery documents were fetched (for tests).
  int fetches() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct GroupVersionInfo {
    std::vector<RestMapping> mappings;  // top-level resources only (no subresources)
  };
  absl::Status load_groups_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<const GroupVersionInfo*> load_version_locked(const api::GroupVersion& gv,
                                                              bool refresh)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::string> preferred_version_locked(std::string_view group, bool refresh)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Fetch fetch_;
  mutable absl::Mutex mu_;
  bool groups_loaded_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::string> preferred_ ABSL_GUARDED_BY(mu_);  // group -> version
  std::map<std::string, std::vector<std::string>> versions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<api::GroupVersion, GroupVersionInfo> cache_ ABSL_GUARDED_BY(mu_);
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

// The built-in table alone (no server): kop/api/gvk.h's kinds.
class BuiltinRestMapper final : public RestMapper {
 public:
  absl::StatusOr<RestMapping> mapping(const api::GroupVersionKind& gvk) override;
  absl::StatusOr<RestMapping> mapping_for_resource(const api::GroupVersionResource& gvr) override;
};

}  // namespace kop::client
