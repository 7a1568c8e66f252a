#include "kop/cache/store.h"

#include <absl/strings/str_cat.h>

#include <algorithm>

namespace kop::cache {
namespace {

std::vector<std::string> namespace_of(const api::Object& obj) {
  return {std::string(obj.namespace_())};
}

Indexers with_namespace_index(Indexers indexers) {
  indexers[std::string(kNamespaceIndex)] = namespace_of;
  return indexers;
}

absl::Status unknown_index(std::string_view index) {
  return absl::NotFoundError(absl::StrCat("cache: no index named \"",
                                          absl::string_view(index.data(), index.size()), "\""));
}

}  // namespace

std::string object_key(std::string_view ns, std::string_view name) {
  if (ns.empty()) return std::string(name);
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  key.append(ns).append("/").append(name);
  return key;
}

Indexer::Indexer(Indexers indexers) : indexers_(with_namespace_index(std::move(indexers))) {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, fn] : indexers_) indices_[name];
}

void Indexer::index_add(const Indexers& indexers, absl::flat_hash_map<std::string, IndexMap>& idx,
                        const api::ObjectPtr& obj) {
  for (const auto& [name, fn] : indexers) {
    IndexMap& index = idx[name];
    for (std::string& value : fn(*obj)) index[std::move(value)].insert(obj);
  }
}

// `obj` must be the object the index holds (the one stored under its key until now).
void Indexer::index_remove(const Indexers& indexers,
                           absl::flat_hash_map<std::string, IndexMap>& idx,
                           const api::ObjectPtr& obj) {
  for (const auto& [name, fn] : indexers) {
    IndexMap& index = idx[name];
    for (const std::string& value : fn(*obj)) {
      auto it = index.find(value);
      if (it == index.end()) continue;
      it->second.erase(obj);
      // Drop empty value sets so index_values() only lists live values and memory is returned.
      if (it->second.empty()) index.erase(it);
    }
  }
}

api::ObjectPtr Indexer::upsert(api::ObjectPtr obj) {
  if (!obj) return nullptr;
  std::string key = obj->key();
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = items_.try_emplace(key, obj);
  api::ObjectPtr old;
  if (!inserted) {
    old = std::move(it->second);
    it->second = obj;
    index_remove(indexers_, indices_, old);
  }
  index_add(indexers_, indices_, obj);
  log_write(generation_.fetch_add(1, std::memory_order_release) + 1, key);
  return old;
}

api::ObjectPtr Indexer::remove(std::string_view key) {
  absl::MutexLock lock(&mu_);
  auto it = items_.find(std::string(key));
  if (it == items_.end()) return nullptr;
  api::ObjectPtr old = std::move(it->second);
  std::string k = it->first;
  items_.erase(it);
  index_remove(indexers_, indices_, old);
  log_write(generation_.fetch_add(1, std::memory_order_release) + 1, k);
  return old;
}

void Indexer::log_write(uint64_t generation, const std::string& key) {
  written_.emplace_back(generation, key);
  if (written_.size() > kWrittenKeysKept) {
    written_floor_ = written_.front().first;  // a reader at or past it missed nothing
    written_.pop_front();
  }
}

std::optional<WrittenKeys> Indexer::keys_written_since(uint64_t since) const {
  absl::ReaderMutexLock lock(&mu_);
  WrittenKeys out;
  out.generation = generation_.load(std::memory_order_acquire);
  if (since < written_floor_ || since > out.generation) return std::nullopt;
  auto it = std::upper_bound(
      written_.begin(), written_.end(), since,
      [](uint64_t g, const std::pair<uint64_t, std::string>& w) { return g < w.first; });
  for (; it != written_.end(); ++it) out.keys.push_back(it->second);
  return out;
}

api::ObjectPtr Indexer::get(std::string_view key) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = items_.find(std::string(key));
  return it == items_.end() ? nullptr : it->second;
}

api::ObjectPtr Indexer::get(std::string_view ns, std::string_view name) const {
  return get(object_key(ns, name));
}

std::vector<api::ObjectPtr> Indexer::list() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<api::ObjectPtr> out;
  out.reserve(items_.size());
  for (const auto& [key, obj] : items_) out.push_back(obj);
  return out;
}

std::vector<std::string> Indexer::list_keys() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [key, obj] : items_) out.push_back(key);
  return out;
}

size_t Indexer::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return items_.size();
}

absl::StatusOr<std::vector<api::ObjectPtr>> Indexer::by_index(std::string_view index,
                                                              std::string_view value) const {
  absl::ReaderMutexLock lock(&mu_);
  auto idx = indices_.find(std::string(index));
  if (idx == indices_.end()) return unknown_index(index);
  std::vector<api::ObjectPtr> out;
  auto keys = idx->second.find(std::string(value));
  if (keys == idx->second.end()) return out;
  out.assign(keys->second.begin(), keys->second.end());
  return out;
}

absl::StatusOr<std::vector<std::string>> Indexer::index_keys(std::string_view index,
                                                             std::string_view value) const {
  absl::ReaderMutexLock lock(&mu_);
  auto idx = indices_.find(std::string(index));
  if (idx == indices_.end()) return unknown_index(index);
  auto keys = idx->second.find(std::string(value));
  std::vector<std::string> out;
  if (keys == idx->second.end()) return out;
  out.reserve(keys->second.size());
  for (const api::ObjectPtr& obj : keys->second) out.push_back(obj->key());
  return out;
}

absl::StatusOr<std::vector<std::string>> Indexer::index_values(std::string_view index) const {
  absl::ReaderMutexLock lock(&mu_);
  auto idx = indices_.find(std::string(index));
  if (idx == indices_.end()) return unknown_index(index);
  std::vector<std::string> out;
  out.reserve(idx->second.size());
  for (const auto& [value, keys] : idx->second) out.push_back(value);
  return out;
}

std::vector<std::string> Indexer::index_names() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, fn] : indexers_) out.push_back(name);
  return out;
}

absl::Status Indexer::add_indexers(Indexers indexers) {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, fn] : indexers) {
    if (indexers_.count(name) > 0) {
      return absl::AlreadyExistsError(absl::StrCat("cache: index \"", name, "\" already exists"));
    }
  }
  for (auto& entry : indexers) {
    Indexers one;
    one[entry.first] = entry.second;
    indices_[entry.first];
    for (const auto& [key, obj] : items_) index_add(one, indices_, obj);
    indexers_[entry.first] = std::move(entry.second);
  }
  return absl::OkStatus();
}

api::ObjectPtr Indexer::same_version(const std::string& key, std::string_view rv) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = items_.find(key);
  if (it == items_.end() || rv.empty() || it->second->resource_version() != rv) return nullptr;
  return it->second;
}

Indexer::Replacement::Replacement(const Indexer* owner, Indexers indexers)
    : owner_(owner), indexers_(std::move(indexers)) {
  for (const auto& [name, fn] : indexers_) indices_[name];
}

void Indexer::Replacement::add(api::ObjectPtr obj) {
  if (!obj) return;
  std::string key = obj->key();
  // An unchanged object keeps the instance the store already holds, so a relist only costs
  // memory for what actually changed.
  if (api::ObjectPtr current = owner_->same_version(key, obj->resource_version())) {
    obj = std::move(current);
    ++shared_;
  }
  auto [it, inserted] = items_.try_emplace(key, obj);
  if (!inserted) {
    index_remove(indexers_, indices_, it->second);
    it->second = obj;
  }
  index_add(indexers_, indices_, obj);
}

Indexer::Replacement Indexer::begin_replace() const {
  absl::ReaderMutexLock lock(&mu_);
  return Replacement(this, indexers_);
}

absl::StatusOr<ReplaceResult> Indexer::commit_replace(Replacement replacement) {
  if (replacement.owner_ != this) {
    return absl::FailedPreconditionError("cache: replacement built for another store");
  }
  // The differences are computed under the shared lock (readers keep going); only the swap
  // itself takes the exclusive lock.
  ReplaceResult result;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [key, obj] : replacement.items_) {
      auto old = items_.find(key);
      if (old == items_.end()) {
        result.added.push_back(obj);
      } else if (old->second == obj || old->second->resource_version() == obj->resource_version()) {
        ++result.unchanged;
      } else {
        result.updated.emplace_back(old->second, obj);
      }
    }
    for (const auto& [key, obj] : items_) {
      if (!replacement.items_.contains(key)) result.deleted.push_back(obj);
    }
  }
  ItemMap old_items;  // released after the lock, outside the critical section
  {
    absl::MutexLock lock(&mu_);
    // Indexes added while the replacement was filled are computed now over the new items.
    for (const auto& [name, fn] : indexers_) {
      if (replacement.indexers_.count(name) > 0) continue;
      Indexers one;
      one[name] = fn;
      for (const auto& [key, obj] : replacement.items_) {
        index_add(one, replacement.indices_, obj);
      }
    }
    old_items.swap(items_);
    items_.swap(replacement.items_);
    indices_.swap(replacement.indices_);
    // Any key may have changed: a reader from before this generation compares everything.
    written_floor_ = generation_.fetch_add(1, std::memory_order_release) + 1;
    written_.clear();
  }
  return result;
}

}  // namespace kop::cache
