// IngressStatuses: copy-on-write shards (ingress_statuses.h).
#include "ingress_statuses.h"

#include <functional>
#include <utility>

namespace kop::ingress {

size_t IngressStatuses::shard_of(std::string_view key) {
  return std::hash<std::string_view>()(key) % kShards;
}

void IngressStatuses::set(std::string_view key, DesiredIngressStatus status) {
  std::shared_ptr<const Shard>& shard = shards_[shard_of(key)];
  if (shard) {
    auto it = shard->find(key);
    if (it != shard->end() && it->second == status) return;  // nothing to copy
  }
  auto changed = shard ? std::make_shared<Shard>(*shard) : std::make_shared<Shard>();
  if (changed->insert_or_assign(std::string(key), std::move(status)).second) ++size_;
  shard = std::move(changed);
}

void IngressStatuses::erase(std::string_view key) {
  std::shared_ptr<const Shard>& shard = shards_[shard_of(key)];
  if (!shard || shard->find(key) == shard->end()) return;
  auto changed = std::make_shared<Shard>(*shard);
  changed->erase(changed->find(key));
  --size_;
  shard = changed->empty() ? nullptr : std::move(changed);
}

void IngressStatuses::assign(std::vector<std::pair<std::string, DesiredIngressStatus>> all) {
  std::array<std::shared_ptr<Shard>, kShards> fresh;
  size_ = 0;
  for (auto& entry : all) {
    std::shared_ptr<Shard>& shard = fresh[shard_of(entry.first)];
    if (!shard) shard = std::make_shared<Shard>();
    if (shard->insert_or_assign(std::move(entry.first), std::move(entry.second)).second) ++size_;
  }
  for (size_t i = 0; i < kShards; ++i) shards_[i] = std::move(fresh[i]);
}

const DesiredIngressStatus* IngressStatuses::find(std::string_view key) const {
  const std::shared_ptr<const Shard>& shard = shards_[shard_of(key)];
  if (!shard) return nullptr;
  auto it = shard->find(key);
  return it == shard->end() ? nullptr : &it->second;
}

}  // namespace kop::ingress
