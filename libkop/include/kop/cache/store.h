// kop/cache/store.h: the thread-safe, indexed object store behind every informer.
//
// An Indexer maps a key ("namespace/name", or "name" for cluster-scoped objects, as
// api::Object::key() and client-go's MetaNamespaceKeyFunc) to a shared immutable object
// (api::ObjectPtr). Readers get the same shared_ptr the store holds: no copy per read, and a
// reader's object never changes under it (an update replaces the pointer, never the object).
//
// Indexes: "namespace" (kNamespaceIndex) is always present; more are added as named index
// functions, each mapping an object to any number of values (an object with no values is simply
// not in that index). by_index(index, value) lists the objects with that value; index_keys()
// returns their keys. An index holds the objects themselves (the stored pointers, 16 bytes
// each), not copies of their keys: at 100,000 objects a copied "namespace/name" in the
// namespace index alone was about 64 bytes per object.
//
// Relists: replace is done in two steps so a relist never blocks readers and never holds two full
// copies of the data. begin_replace() returns a Replacement that the caller fills page by page
// (objects whose key and resourceVersion match the current store are shared with it, not
// duplicated), then commit_replace() swaps it in under the write lock and reports what was added,
// updated (with old and new) and deleted.
//
// Threading: every method may be called from any thread. Reads take a shared lock; writes an
// exclusive one. A Replacement belongs to the one thread filling it.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kop/api/object.h"

namespace kop::cache {

// The built-in index: an object's namespace ("" for cluster-scoped objects).
inline constexpr std::string_view kNamespaceIndex = "namespace";

// Maps an object to the values under which an index lists it (may be empty).
using IndexFunc = std::function<std::vector<std::string>(const api::Object&)>;
// Index name -> function.
using Indexers = std::map<std::string, IndexFunc, std::less<>>;

// "namespace/name", or "name" when the namespace is empty.
std::string object_key(std::string_view ns, std::string_view name);

// The keys written after some generation (Indexer::keys_written_since), oldest first; a key
// written twice is listed twice. `generation` is the store's as of the list.
struct WrittenKeys {
  uint64_t generation = 0;
  std::vector<std::string> keys;
};

// What commit_replace() changed, for the informer to turn into events.
struct ReplaceResult {
  std::vector<api::ObjectPtr> added{};
  std::vector<std::pair<api::ObjectPtr, api::ObjectPtr>> updated{};  // (old, new), RV differs
  std::vector<api::ObjectPtr> deleted{};                             // last known state
  size_t unchanged = 0;  // same key and resourceVersion as before
};

class Indexer {
 public:
  using ItemMap = absl::flat_hash_map<std::string, api::ObjectPtr>;
  // index name -> value -> the stored objects with that value
  using IndexMap = absl::flat_hash_map<std::string, absl::flat_hash_set<api::ObjectPtr>>;

  // The namespace index is always added; `indexers` may add more (a name clash with
  // kNamespaceIndex is ignored: the built-in stays).
  explicit Indexer(Indexers indexers = {});
  Indexer(const Indexer&) = delete;
  Indexer& operator=(const Indexer&) = delete;

  // Adds or replaces the object under its key. Returns the previous object (nullptr if none).
  api::ObjectPtr upsert(api::ObjectPtr obj);
  // Removes the object under `key`. Returns it (nullptr if there was none).
  api::ObjectPtr remove(std::string_view key);

  api::ObjectPtr get(std::string_view key) const;
  api::ObjectPtr get(std::string_view ns, std::string_view name) const;
  std::vector<api::ObjectPtr> list() const;
  std::vector<std::string> list_keys() const;
  size_t size() const;
  // Counts the writes (upsert, remove, commit_replace): a reader that sees the same generation
  // twice saw the same objects both times, so it may skip looking at them again.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // The keys upserted or removed since generation `since`, so a reader that compared every
  // object at `since` need look at those only (the Ingress status writer at 100k Ingresses).
  // The store keeps the last kWrittenKeysKept; nullopt when they do not reach back to `since`,
  // or a replace (a relist) came after it: then everything may have changed.
  static constexpr size_t kWrittenKeysKept = 256;
  std::optional<WrittenKeys> keys_written_since(uint64_t since) const;

  // Objects whose index `index` has `value`. NotFound names an unknown index.
  absl::StatusOr<std::vector<api::ObjectPtr>> by_index(std::string_view index,
                                                       std::string_view value) const;
  absl::StatusOr<std::vector<std::string>> index_keys(std::string_view index,
                                                      std::string_view value) const;
  // Every value present in `index`.
  absl::StatusOr<std::vector<std::string>> index_values(std::string_view index) const;
  std::vector<std::string> index_names() const;

  // Adds indexes, computing them over the objects already stored. AlreadyExists when a name is
  // taken (the store is then unchanged).
  absl::Status add_indexers(Indexers indexers);

  // A new content being built for commit_replace().
  class Replacement {
   public:
    // Adds one object; a later object with the same key wins (as in a list).
    void add(api::ObjectPtr obj);
    size_t size() const { return items_.size(); }

   private:
    friend class Indexer;
    Replacement(const Indexer* owner, Indexers indexers);
    const Indexer* owner_;
    Indexers indexers_;
    ItemMap items_;
    absl::flat_hash_map<std::string, IndexMap> indices_;
    size_t shared_ = 0;
  };
  Replacement begin_replace() const;
  // Swaps in `replacement` (which must come from this store's begin_replace() with the same
  // indexers; FailedPrecondition otherwise) and reports the differences.
  absl::StatusOr<ReplaceResult> commit_replace(Replacement replacement);

 private:
  static void index_add(const Indexers& indexers, absl::flat_hash_map<std::string, IndexMap>& idx,
                        const api::ObjectPtr& obj);
  static void index_remove(const Indexers& indexers,
                           absl::flat_hash_map<std::string, IndexMap>& idx,
                           const api::ObjectPtr& obj);
  // The stored object under `key` when its resourceVersion is `rv` (for sharing in relists).
  api::ObjectPtr same_version(const std::string& key, std::string_view rv) const;

  // Under mu_, after the generation moved to `generation`.
  void log_write(uint64_t generation, const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  Indexers indexers_ ABSL_GUARDED_BY(mu_);
  // (generation after the write, key) of the last kWrittenKeysKept writes; a reader's `since`
  // below written_floor_ is older than the log.
  std::deque<std::pair<uint64_t, std::string>> written_ ABSL_GUARDED_BY(mu_);
  uint64_t written_floor_ ABSL_GUARDED_BY(mu_) = 0;
  ItemMap items_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, IndexMap> indices_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> generation_{0};  // bumped under mu_, read without it
};

}  // namespace kop::cache
