// ShardedMap: a hash map split into 256 copy-on-write shards picked by the key's hash, so that
// a route table compiled from the previous one shares every shard a change did not touch and
// copies only the ones it patches (one virtual host changed among 10k copies a shard of about
// 40 entries, not a map of 10k).
//
// A lookup hashes the key once: the top 8 bits pick the shard, the shard's own lookup takes the
// same hash. Copying a ShardedMap copies 256 pointers; a write to a shard another map also holds
// copies it first (the other map keeps reading the old one).
// Threading: like any container; a shard another map holds is never written, and copying a map
// writes nothing to it (tables compiled from one previous table may copy its maps at once).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <utility>

#include <absl/container/flat_hash_map.h>

namespace kop::proxy {

template <typename K, typename V, typename Hash, typename Eq>
class ShardedMap {
 public:
  using Map = absl::flat_hash_map<K, V, Hash, Eq>;
  static constexpr std::size_t kShards = 256;

  // Copies share every shard: neither map writes one without copying it first.

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  // The value of `key`, or null.
  template <typename Key>
  const V* find(const Key& key) const {
    std::size_t hash = Hash{}(key);
    const Map* shard = shards_[shard_of(hash)].get();
    if (shard == nullptr) return nullptr;
    auto it = shard->find(key, hash);
    return it == shard->end() ? nullptr : &it->second;
  }

  // The value of `key` to change in place (its shard copied first when shared), or null.
  template <typename Key>
  V* find_mutable(const Key& key) {
    std::size_t hash = Hash{}(key);
    if (shards_[shard_of(hash)] == nullptr) return nullptr;
    Map& shard = own(shard_of(hash));
    auto it = shard.find(key, hash);
    return it == shard.end() ? nullptr : &it->second;
  }

  // Inserts when `key` is absent; returns the value under `key` and whether it was inserted.
  std::pair<V*, bool> emplace(const K& key, V value) {
    std::size_t hash = Hash{}(key);
    Map& shard = own(shard_of(hash));
    auto [it, inserted] = shard.emplace(key, std::move(value));
    if (inserted) ++size_;
    return {&it->second, inserted};
  }

  // Removes `key` when `keep(value)` is false; returns whether it was removed.
  template <typename Key, typename Keep>
  bool erase_unless(const Key& key, Keep keep) {
    std::size_t hash = Hash{}(key);
    const Map* shared = shards_[shard_of(hash)].get();
    if (shared == nullptr) return false;
    auto found = shared->find(key, hash);
    if (found == shared->end() || keep(found->second)) return false;
    Map& shard = own(shard_of(hash));
    shard.erase(shard.find(key, hash));
    --size_;
    return true;
  }

  // Calls f(key, value) for every entry, shard by shard.
  template <typename F>
  void for_each(F f) const {
    for (const auto& shard : shards_)
      if (shard != nullptr)
        for (const auto& [key, value] : *shard) f(key, value);
  }

 private:
  // The top bits: the shard's own table probes with the low ones.
  static std::size_t shard_of(std::size_t hash) { return hash >> (sizeof(std::size_t) * 8 - 8); }

  // Shard `s`, copied first unless this map is its only holder (no other map can be reading it:
  // gaining a holder means copying this map, which a writer's caller must not do meanwhile).
  Map& own(std::size_t s) {
    std::shared_ptr<Map>& shard = shards_[s];
    if (shard == nullptr) {
      shard = std::make_shared<Map>();
    } else if (shard.use_count() != 1) {
      shard = std::make_shared<Map>(*shard);
    }
    return *shard;
  }

  std::array<std::shared_ptr<Map>, kShards> shards_;  // null: empty
  std::size_t size_ = 0;
};

}  // namespace kop::proxy
