// IngressStatuses: the status.loadBalancer every Ingress should have, as one build decided it
// (a DesiredStatus' part, status_writer.h), kept by the IngressController across builds and
// changed per Ingress.
//
// Copies share what they did not change: the statuses sit in 256 shards by a hash of the key,
// each an immutable map held by every copy that has it; set() and erase() copy only the shard
// they change. So a build that changes one Ingress neither copies nor frees the 10k others when
// it hands its statuses to the status writer, and the writer's previous DesiredStatus is freed
// in O(shards).
// Threading: a value; a copy may be read from any thread while another copy is changed.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kop::ingress {

struct DesiredIngressStatus {
  // status.loadBalancer.ingress wanted, as a JSON array ("[]" = none).
  std::string want;
  // Set on Ingresses we do not own: clear the status only when it is exactly this (the
  // addresses we publish), so what another controller wrote is left alone.
  std::string clear_only_if;
  bool operator==(const DesiredIngressStatus&) const = default;
};

class IngressStatuses {
 public:
  static constexpr size_t kShards = 256;
  using Shard = std::map<std::string, DesiredIngressStatus, std::less<>>;

  // By "namespace/name".
  void set(std::string_view key, DesiredIngressStatus status);
  void erase(std::string_view key);
  // Replaces every status (one pass, no shard copied per key).
  void assign(std::vector<std::pair<std::string, DesiredIngressStatus>> all);
  const DesiredIngressStatus* find(std::string_view key) const;
  size_t size() const { return size_; }

  // Every status: the shards in order (null ones are empty), each sorted by key.
  const std::array<std::shared_ptr<const Shard>, kShards>& shards() const { return shards_; }
  // The shard that holds `key`'s status.
  static size_t shard_of(std::string_view key);

 private:
  std::array<std::shared_ptr<const Shard>, kShards> shards_;
  size_t size_ = 0;
};

}  // namespace kop::ingress
