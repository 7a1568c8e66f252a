// The two halves of validate(), so RouteTable::compile() can re-validate only the clusters
// when it reuses the routing of the previous table (private to core/).
#pragma once

#include <string>
#include <vector>

#include <absl/container/flat_hash_set.h>
#include <absl/status/status.h>
#include "kop/proxy/config.h"

namespace kop::proxy::internal {

// Clusters alone; fills `names` with the cluster names. Clusters i with (*known_valid)[i]
// (equal to a cluster of the previous, valid table) only get the name checks.
absl::Status validate_clusters(const Config& config, absl::flat_hash_set<std::string>* names,
                               const std::vector<bool>* known_valid);
// Listeners and virtual hosts (loads certificates), given the valid cluster names. Virtual
// hosts i with (*known_valid)[i] (compiled before, their clusters checked by the caller) only get
// the name checks.
absl::Status validate_routing(const Config& config,
                              const absl::flat_hash_set<std::string>& cluster_names,
                              const std::vector<bool>* known_valid);

}  // namespace kop::proxy::internal
