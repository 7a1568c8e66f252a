// The two halves of validate(), so RouteTable::compile() can re-validate only the clusters
// when it reuses the routing of the previous table (private to core/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_set.h>
#include <absl/status/status.h>
#include "kop/proxy/config.h"
#include "kop/proxy/string_map.h"

namespace kop::proxy::internal {

// The cluster names a Config defines: a set of names, or a compiled table's name -> index map
// (a table whose clusters have the previous table's names shares that map).
class ClusterNames {
 public:
  explicit ClusterNames(const StringViewSet& set) : set_(&set) {}
  explicit ClusterNames(const StringViewMap<uint32_t>& ids) : ids_(&ids) {}
  bool contains(std::string_view name) const {
    return set_ != nullptr ? set_->contains(name) : ids_->contains(name);
  }

 private:
  const StringViewSet* set_ = nullptr;
  const StringViewMap<uint32_t>* ids_ = nullptr;
};

// One cluster's settings (not its name), at position `i` (for errors).
absl::Status validate_cluster(const ClusterConfig& c, std::size_t i);
// Clusters alone; fills `names` with the cluster names (views into `config`). Clusters i with
// (*known_valid)[i] (equal to a cluster of the previous, valid table) only get the name checks.
absl::Status validate_clusters(const Config& config, StringViewSet* names,
                               const std::vector<bool>* known_valid);
// One virtual host at position `i` (for errors): its name present, its domains valid and
// distinct, its routes and header mutations (not: its name or domains against other hosts').
absl::Status validate_virtual_host(const VirtualHostConfig& vh, std::size_t i,
                                   const ClusterNames& cluster_names);
// Listeners and virtual hosts (loads certificates), given the valid cluster names. Virtual
// hosts i with (*known_valid)[i] (compiled before, their clusters checked by the caller) only get
// the name checks.
// Certificates c of listener l with (*known_certificates)[l][c] (equal to one the previous table
// loaded) are not loaded again.
absl::Status validate_routing(const Config& config, const ClusterNames& cluster_names,
                              const std::vector<bool>* known_valid,
                              const std::vector<std::vector<bool>>* known_certificates = nullptr);

}  // namespace kop::proxy::internal
