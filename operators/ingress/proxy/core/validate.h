// The two halves of validate(), so RouteTable::compile() can re-validate only the clusters
// when it reuses the routing of the previous table (private to core/).
#pragma once

#include <string>
#include <vector>

#include <absl/container/flat_hash_set.h>
#include <absl/status/status.h>
#include "kop/proxy/config.h"
#include "kop/proxy/string_map.h"

namespace kop::proxy::internal {

// Clusters alone; fills `names` with the cluster names (views into `config`). Clusters i with
// (*known_valid)[i] (equal to a cluster of the previous, valid table) only get the name checks.
absl::Status validate_clusters(const Config& config, StringViewSet* names,
                               const std::vector<bool>* known_valid);
// Listeners and virtual hosts (loads certificates), given the valid cluster names. Virtual
// hosts i with (*known_valid)[i] (compiled before, their clusters checked by the caller) only get
// the name checks.
absl::Status validate_routing(const Config& config, const StringViewSet& cluster_names,
                              const std::vector<bool>* known_valid);

}  // namespace kop::proxy::internal
