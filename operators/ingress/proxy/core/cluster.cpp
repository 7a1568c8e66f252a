// compile_cluster(): endpoints and load-balancing tables; diff_clusters(); stable_hash().
#include "kop/proxy/cluster.h"

#include <algorithm>
#include <numeric>

#include <absl/container/flat_hash_map.h>
#include "core/text.h"

namespace kop::proxy {
namespace {

constexpr uint32_t kNoEntry = UINT32_MAX;

uint64_t mix(uint64_t h) {
  // murmur3 fmix64
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

void build_ring(Cluster& c, uint32_t ring_size) {
  std::size_t n = c.endpoints.size();
  if (n == 0) return;
  // Each endpoint gets weight * 2^k points, 2^k the largest power of two keeping the ring within
  // ring_size (at least one point per unit of weight). Because 2^k only changes when the total
  // weight crosses a power-of-two boundary, adding or removing an endpoint usually leaves every
  // other endpoint's points (and so its keys) exactly where they were.
  uint64_t per_weight = 1;
  while (c.total_weight * per_weight * 2 <= ring_size) per_weight *= 2;
  c.ring.reserve(c.total_weight * per_weight);
  std::string key;
  for (uint32_t i = 0; i < n; ++i) {
    const Endpoint& e = c.endpoints[i];
    uint64_t replicas = e.weight * per_weight;
    for (uint64_t k = 0; k < replicas; ++k) {
      key = internal::cat(e.address_text(), "_", k);
      c.ring.emplace_back(stable_hash(key), i);
    }
  }
  std::sort(c.ring.begin(), c.ring.end());
}

void build_maglev(Cluster& c, uint32_t table_size) {
  std::size_t n = c.endpoints.size();
  if (n == 0) return;
  const uint64_t m = table_size;
  std::vector<uint64_t> offset(n);
  std::vector<uint64_t> skip(n);
  std::vector<uint64_t> next(n, 0);
  std::vector<uint64_t> count(n, 0);
  uint32_t max_weight = 1;
  for (std::size_t i = 0; i < n; ++i) {
    std::string_view name = c.endpoints[i].address_text();
    offset[i] = stable_hash(name, 0x6d61676c6576ULL) % m;
    skip[i] = stable_hash(name, 0x736b6970ULL) % (m - 1) + 1;
    max_weight = std::max(max_weight, c.endpoints[i].weight);
  }
  c.maglev.assign(m, kNoEntry);
  uint64_t filled = 0;
  for (uint64_t round = 1; filled < m; ++round) {
    for (std::size_t i = 0; i < n && filled < m; ++i) {
      // Weighted Maglev: endpoint i takes a slot in this round only while its share of slots
      // stays within weight_i / max_weight of the rounds so far.
      if (static_cast<uint64_t>(c.endpoints[i].weight) * round < count[i] * max_weight) continue;
      uint64_t slot;
      do {
        slot = (offset[i] + next[i] * skip[i]) % m;
        ++next[i];
      } while (c.maglev[slot] != kNoEntry);
      c.maglev[slot] = static_cast<uint32_t>(i);
      ++count[i];
      ++filled;
    }
  }
}

}  // namespace

uint64_t stable_hash(std::string_view data, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ mix(seed + 0x9e3779b97f4a7c15ULL);
  for (unsigned char ch : data) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return mix(h ^ data.size());
}

bool Cluster::hash_key(const RequestView& request, uint64_t* key) const {
  switch (hash_on.on) {
    case HashOn::kNone:
      return false;
    case HashOn::kSourceIp:
      if (request.client_address.empty()) return false;
      *key = stable_hash(request.client_address);
      return true;
    case HashOn::kHeader: {
      std::string_view v;
      if (!request.header(hash_on.name, &v)) return false;
      *key = stable_hash(v);
      return true;
    }
    case HashOn::kCookie: {
      std::string_view value;
      if (!find_cookie(request, hash_on.name, &value)) return false;
      *key = stable_hash(value);
      return true;
    }
    case HashOn::kExpression: {
      // nginx hashes whatever the expression gives, the empty string included.
      thread_local std::string text;
      text.clear();
      hash_expression->evaluate(request, text);
      *key = stable_hash(text);
      return true;
    }
  }
  return false;
}

Cluster::Cluster(std::shared_ptr<const ClusterConfig> part)
    : source(std::move(part)), config(*source) {}

Cluster::Cluster() : Cluster(std::make_shared<const ClusterConfig>()) {}

absl::StatusOr<std::shared_ptr<const Cluster>> compile_cluster(const Shared<ClusterConfig>& part,
                                                               const Cluster* previous) {
  const ClusterConfig& config = *part;
  auto c = std::make_shared<Cluster>(part.ptr());
  c->name = config.name;
  c->lb_policy = config.lb_policy;
  c->hash_on = config.hash_on;
  if (c->hash_on.on == HashOn::kHeader) c->hash_on.name = internal::to_lower(c->hash_on.name);
  if (c->hash_on.on == HashOn::kExpression) {
    auto e = HashExpression::parse(c->hash_on.name);
    if (!e.ok()) return e.status();
    c->hash_expression = std::make_shared<const HashExpression>(*std::move(e));
  }
  std::vector<std::string> texts;
  texts.reserve(config.endpoints.size());
  std::size_t text_bytes = 0;
  for (const EndpointConfig& e : config.endpoints) {
    if (e.weight == 0) return absl::InvalidArgumentError("endpoint weight must be positive");
    text_bytes += texts.emplace_back(e.address.to_string()).size();
  }
  c->endpoint_texts = std::make_unique<char[]>(text_bytes == 0 ? 1 : text_bytes);
  c->endpoints.reserve(config.endpoints.size());
  char* at = c->endpoint_texts.get();
  for (std::size_t i = 0; i < config.endpoints.size(); ++i) {
    const EndpointConfig& e = config.endpoints[i];
    std::copy(texts[i].begin(), texts[i].end(), at);
    c->endpoints.emplace_back(e.address, std::string_view(at, texts[i].size()), e.weight);
    at += texts[i].size();
    c->total_weight += e.weight;
    if (e.weight != config.endpoints.front().weight) c->equal_weights = false;
  }
  if (c->lb_policy == LbPolicy::kRandom && !c->equal_weights) {
    c->cumulative_weights.reserve(c->endpoints.size());
    uint64_t sum = 0;
    for (const Endpoint& e : c->endpoints) c->cumulative_weights.push_back(sum += e.weight);
  }
  if (c->hash_on.on == HashOn::kCookie && c->hash_on.set_cookie) {
    c->affinity_ids.reserve(c->endpoints.size());
    for (uint32_t i = 0; i < c->endpoints.size(); ++i)
      c->affinity_ids.emplace_back(affinity_id(c->endpoints[i].address_text()), i);
    std::sort(c->affinity_ids.begin(), c->affinity_ids.end());
  }
  if (c->lb_policy == LbPolicy::kRingHash) build_ring(*c, config.ring_size);
  if (c->lb_policy == LbPolicy::kMaglev) {
    if (c->endpoints.size() >= config.maglev_table_size)
      return absl::InvalidArgumentError("maglev_table_size must exceed the number of endpoints");
    build_maglev(*c, config.maglev_table_size);
  }
  c->outlier = std::make_unique<OutlierDetector>(
      config.outlier_detection, config.health_check ? &*config.health_check : nullptr,
      c->endpoints.size());
  if (previous != nullptr && previous->outlier) {
    absl::flat_hash_map<std::string_view, uint32_t> old_index;
    for (uint32_t i = 0; i < previous->endpoints.size(); ++i)
      old_index.emplace(previous->endpoints[i].address_text(), i);
    for (uint32_t i = 0; i < c->endpoints.size(); ++i) {
      auto it = old_index.find(c->endpoints[i].address_text());
      if (it != old_index.end()) c->outlier->copy_state_from(*previous->outlier, it->second, i);
    }
  }
  return std::shared_ptr<const Cluster>(std::move(c));
}

namespace {

bool settings_equal(const ClusterConfig& a, const ClusterConfig& b) {
  if (a.endpoints.size() < 64 && b.endpoints.size() < 64) {
    ClusterConfig x = a;
    ClusterConfig y = b;
    x.endpoints.clear();
    y.endpoints.clear();
    return x == y;
  }
  // Large clusters: compare without copying the endpoints.
  ClusterConfig x;
  ClusterConfig y;
  auto shallow = [](const ClusterConfig& from, ClusterConfig& to) {
    to.name = from.name;
    to.lb_policy = from.lb_policy;
    to.protocol = from.protocol;
    to.hash_on = from.hash_on;
    to.ring_size = from.ring_size;
    to.ring_subset_size = from.ring_subset_size;
    to.maglev_table_size = from.maglev_table_size;
    to.connect_timeout = from.connect_timeout;
    to.idle_timeout = from.idle_timeout;
    to.max_connections_per_endpoint = from.max_connections_per_endpoint;
    to.max_connections = from.max_connections;
    to.max_pending_requests = from.max_pending_requests;
    to.outlier_detection = from.outlier_detection;
    to.health_check = from.health_check;
  };
  shallow(a, x);
  shallow(b, y);
  // Guard: if a field is added to ClusterConfig and not copied above, the small-cluster path
  // still compares it; this path is only an optimization for big endpoint lists.
  return x == y;
}

}  // namespace

ClusterDiff diff_clusters(const Config& prev, const Config& next) {
  ClusterDiff d;
  absl::flat_hash_map<std::string, const ClusterConfig*> old_by_name;
  for (const ClusterConfig& c : prev.clusters) old_by_name.emplace(c.name, &c);
  absl::flat_hash_map<std::string, const ClusterConfig*> new_by_name;
  for (const ClusterConfig& c : next.clusters) new_by_name.emplace(c.name, &c);
  for (const ClusterConfig& c : prev.clusters)
    if (!new_by_name.contains(c.name)) d.removed.push_back(c.name);
  for (const ClusterConfig& c : next.clusters) {
    auto it = old_by_name.find(c.name);
    if (it == old_by_name.end()) {
      d.added.push_back(c.name);
      continue;
    }
    const ClusterConfig& o = *it->second;
    if (!settings_equal(o, c)) d.settings_changed.push_back(c.name);
    if (o.endpoints == c.endpoints) continue;
    EndpointChange ch;
    absl::flat_hash_map<std::string, uint32_t> old_weight;
    for (const auto& e : o.endpoints) old_weight.emplace(e.address.to_string(), e.weight);
    absl::flat_hash_map<std::string, bool> present;
    for (const auto& e : c.endpoints) {
      std::string key = e.address.to_string();
      present.emplace(key, true);
      auto w = old_weight.find(key);
      if (w == old_weight.end()) {
        ch.added.push_back(e.address);
      } else if (w->second != e.weight) {
        ch.reweighted.push_back(e.address);
      }
    }
    for (const auto& e : o.endpoints)
      if (!present.contains(e.address.to_string())) ch.removed.push_back(e.address);
    // Pure reordering changes nothing a pool cares about, but LB tables differ: still report.
    d.endpoints_changed.emplace_back(c.name, std::move(ch));
  }
  return d;
}

bool routing_equal(const Config& prev, const Config& next) {
  for (const auto& l : next.listeners) {
    if (!l.tls) continue;
    // Certificate files may have changed on disk: always re-read them.
    for (const auto& c : l.tls->certificates)
      if (!c.cert_file.empty() || !c.key_file.empty()) return false;
  }
  // Hosts first: a pointer comparison each, where a change usually is; the listeners' host
  // name lists are strings.
  return prev.virtual_hosts == next.virtual_hosts && prev.listeners == next.listeners;
}

}  // namespace kop::proxy
