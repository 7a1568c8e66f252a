// Cluster: the compiled, immutable form of a ClusterConfig, shared by all workers.
//
// Holds the endpoints, the precomputed load-balancing tables (cumulative weights, the hash ring
// or the Maglev table) and the shared OutlierDetector. RouteTable keeps clusters by
// shared_ptr, so a new table whose cluster is unchanged reuses the same object (and every
// worker's LoadBalancer and connection pool for it stays valid).
// Threading: immutable after compile_cluster() except the OutlierDetector, which is
// thread-safe. Any thread may read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include "kop/proxy/config.h"
#include "kop/proxy/hash_expression.h"
#include "kop/proxy/outlier_detector.h"
#include "kop/proxy/request_view.h"

namespace kop::proxy {

// One endpoint of a compiled Cluster, 24 bytes: its address is the one in the cluster's config
// (which the Cluster keeps) and its text is in the cluster's one buffer of texts, where a copy
// of each was 80 bytes and a heap block per endpoint at 200k endpoints (13 MB at 10k apps).
class Endpoint {
 public:
  Endpoint(const SocketAddress& address, std::string_view text, uint32_t weight)
      : address_(&address),
        text_(text.data()),
        text_size_(static_cast<uint32_t>(text.size())),
        weight(weight) {}
  const SocketAddress& address() const { return *address_; }
  // "host:port" / "[v6]:port", for logs, metrics and pool keys.
  std::string_view address_text() const { return {text_, text_size_}; }

 private:
  const SocketAddress* address_;
  const char* text_;
  uint32_t text_size_;

 public:
  uint32_t weight = 1;
};

struct Cluster {
  // Compiled from `part` (not null), which it keeps.
  explicit Cluster(std::shared_ptr<const ClusterConfig> part);
  // An empty cluster (tests fill in what they read).
  Cluster();

  // The Config's part this cluster was compiled from: RouteTable::compile() keeps this cluster
  // for a Config that holds the same part (a pointer comparison) or an equal one.
  std::shared_ptr<const ClusterConfig> source;
  // *source, as given: read through the part, not copied (a copy per compiled cluster was the
  // third form of every cluster in memory, beside the model's and the rendered one).
  const ClusterConfig& config;
  std::string name;
  LbPolicy lb_policy = LbPolicy::kRoundRobin;
  HashPolicy hash_on;  // name lowercased for headers
  // hash_on.name compiled (HashOn::kExpression only).
  std::shared_ptr<const HashExpression> hash_expression;
  // Point into *source and endpoint_texts: a copy of the vector is only valid while this
  // cluster lives.
  std::vector<Endpoint> endpoints;
  std::unique_ptr<char[]> endpoint_texts;  // the endpoints' address texts, one after another
  uint64_t total_weight = 0;
  bool equal_weights = true;
  std::vector<uint64_t> cumulative_weights;  // kRandom with unequal weights
  // kRingHash: sorted (hash, endpoint) points.
  std::vector<std::pair<uint64_t, uint32_t>> ring;
  // kMaglev: table of endpoint indexes (size = a prime >= maglev_table_size).
  std::vector<uint32_t> maglev;
  // Shared passive/active health state (thread-safe).
  std::unique_ptr<OutlierDetector> outlier;

  OutlierDetector& health() const { return *outlier; }
  // The hash key for consistent hashing from the request, per hash_on. False when the
  // policy is not hashing or the header/cookie/client address is absent.
  bool hash_key(const RequestView& request, uint64_t* key) const;

  // ---- Cookie affinity (hash_on.set_cookie; core/affinity.cpp).
  // (affinity id, endpoint) sorted by id; the id is a stable hash of the endpoint's address, so
  // it is the same in every worker, every replica and after a reload.
  std::vector<std::pair<uint64_t, uint32_t>> affinity_ids;
  // The endpoint a cookie value names, or kNoEndpoint (unknown or malformed value).
  uint32_t affinity_endpoint(std::string_view cookie_value) const;
  // The cookie value naming `endpoint` (16 lowercase hex digits).
  std::string affinity_value(uint32_t endpoint) const;
  // Appends "Set-Cookie: name=value; Path=...; [Max-Age=N; ]HttpOnly\r\n" for `endpoint`;
  // `route_path` is used when hash_on.cookie_path is empty ("/" when that is empty too).
  void append_set_cookie(uint32_t endpoint, std::string_view route_path, std::string& out) const;
  // The same with the cookie's value given (a balanced session key or affinity_value()), for a
  // client sending `user_agent` (hash_on.cookie_samesite_none_conditional).
  void append_set_cookie(std::string_view value, std::string_view route_path,
                         std::string_view user_agent, std::string& out) const;
  // kRingHash: the endpoint the ring gives `hash` to (before any exclusion); kNoEndpoint when
  // the ring is empty.
  uint32_t ring_endpoint(uint64_t hash) const;
};

// Whether a client sending this User-Agent is known to refuse a SameSite=None cookie (the
// incompatible clients Chromium lists).
bool samesite_none_incompatible(std::string_view user_agent);

// The affinity id of an endpoint address ("10.0.0.1:8080"): a stable hash with its own seed.
uint64_t affinity_id(std::string_view address_text);

// The value of cookie `name` in the request's Cookie headers (quotes stripped). False if absent.
bool find_cookie(const RequestView& request, std::string_view name, std::string_view* value);

// Compiles one cluster. When `previous` is given (an older compiled cluster of the same name),
// endpoints present in both keep their outlier/health state.
absl::StatusOr<std::shared_ptr<const Cluster>> compile_cluster(const Shared<ClusterConfig>& part,
                                                               const Cluster* previous = nullptr);

// A stable 64-bit hash (same value in every process and run) used for consistent hashing.
uint64_t stable_hash(std::string_view data, uint64_t seed = 0);

// What changed between two configs' clusters, so the server can update endpoints and pools
// without rebuilding routing. Clusters are matched by name; endpoints by address.
struct EndpointChange {
  std::vector<SocketAddress> added;
  std::vector<SocketAddress> removed;
  std::vector<SocketAddress> reweighted;
};
struct ClusterDiff {
  std::vector<std::string> added;    // cluster names only in `next`
  std::vector<std::string> removed;  // cluster names only in `prev`
  // Clusters whose settings (anything but endpoints) changed: pools should be rebuilt.
  std::vector<std::string> settings_changed;
  // Clusters whose endpoint list changed, with the per-endpoint changes.
  std::vector<std::pair<std::string, EndpointChange>> endpoints_changed;
  bool empty() const {
    return added.empty() && removed.empty() && settings_changed.empty() &&
           endpoints_changed.empty();
  }
};
ClusterDiff diff_clusters(const Config& prev, const Config& next);

// True when everything but clusters is equal: a RouteTable for `next` may then reuse the
// compiled routing of the table for `prev` (RouteTable::compile does this by itself).
bool routing_equal(const Config& prev, const Config& next);

}  // namespace kop::proxy
