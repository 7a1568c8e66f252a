// kop/cache/cache.h: informers per kind and a reader served from them.
//
// A Cache holds at most one Informer per GroupVersionKind, shared by every controller and reader
// in the process (so each kind is listed and watched once). Informers are created by
// get_informer() — before start() (started with the cache) or after (started at once) — and
// configured per kind by CacheOptions::by_object: namespaces, label and field selectors,
// transform, managedFields. A kind restricted to several namespaces gets one list/watch per
// namespace, merged behind one Informer (as controller-runtime's multi-namespace cache).
//
// Reading: get() and list() answer from the informers' stores: no API call, shared immutable
// objects, possibly stale (eventually consistent with the server, like every informer cache).
// Reading a kind that no informer watches is an error (FailedPrecondition naming the kind),
// not a silent new list+watch: set read_starts_informer to get controller-runtime's default
// behaviour instead. A get of a missing object returns the API's NotFound (client::is_not_found).
//
// Sync: wait_for_cache_sync() waits for every informer's first list; its error names each kind
// that is not synced and the last list/watch error of each (e.g. "list /v1, Kind=Secret:
// forbidden"), so a missing RBAC rule is visible without reading logs.
//
// Threading: every method is safe from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kop/api/gvk.h"
#include "kop/api/labels.h"
#include "kop/api/object.h"
#include "kop/cache/informer.h"
#include "kop/cache/shared_informer.h"
#include "kop/client/client.h"

namespace kop::cache {

// Per-kind settings (controller-runtime's ByObject).
struct ByObject {
  // Namespaces to watch. Defaults to CacheOptions::default_namespaces. Ignored for
  // cluster-scoped kinds.
  std::optional<std::vector<std::string>> namespaces;
  std::string label_selector;  // Defaults to "" (everything).
  std::string field_selector;  // Defaults to "" (everything).
  TransformFunc transform;     // Defaults to none (after managedFields stripping).
  // Defaults to CacheOptions::keep_managed_fields.
  std::optional<bool> keep_managed_fields;
  // The plural resource (e.g. "ingresses"). Defaults to "" = the client maps the kind to its
  // resource (RESTMapper).
  std::string resource;
  // Whether the kind is namespaced. Defaults to the built-in answer, else true.
  std::optional<bool> namespaced;
  // Extra indexes for this kind. Defaults to none (the namespace index is always there).
  Indexers indexers;
};

struct CacheOptions {
  // Namespaces watched for namespaced kinds. Defaults to empty = all namespaces.
  std::vector<std::string> default_namespaces;
  // Keep metadata.managedFields. Defaults to false (stripped, as controller-runtime).
  bool keep_managed_fields = false;
  // Re-delivers every object to handlers as update(obj, obj) this often. Defaults to 10 h
  // (controller-runtime's SyncPeriod); 0 = never.
  absl::Duration resync_period = absl::Hours(10);
  // Reading a kind without an informer creates and starts one (and waits for its sync), as
  // controller-runtime does by default. Defaults to false: such a read is an error.
  bool read_starts_informer = false;
  // How long such a read waits for the new informer's sync. Defaults to 30 s.
  absl::Duration read_sync_timeout = absl::Seconds(30);
  // Per-kind settings. Defaults to none.
  std::map<api::GroupVersionKind, ByObject> by_object;
  // List/watch tuning shared by all informers (page size, watch timeout, backoff, clock);
  // its ref, selectors and transform are ignored.
  ReflectorOptions reflector;
};

// get()/list() filters.
struct CacheListOptions {
  std::string namespace_;  // Defaults to "" = all namespaces the informer watches.
  // Equality label match: every key must be present with the value. Defaults to none.
  std::map<std::string, std::string, std::less<>> match_labels;
  // A full label selector ("app in (a,b),!canary"), applied with match_labels. Defaults to none.
  std::optional<api::LabelSelector> label_selector;
  // An index lookup (index name, value), e.g. a field index. Defaults to none.
  std::optional<std::pair<std::string, std::string>> index;
};

// One informer's state, for /readyz and logs.
struct InformerState {
  api::GroupVersionKind gvk;
  std::string description;
  bool synced = false;
  absl::Status last_error;
};

class Cache {
 public:
  Cache(client::Client& client, CacheOptions options = {});
  ~Cache();  // stops
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // The informer for `gvk`, created if missing (and started now if the cache is running).
  absl::StatusOr<std::shared_ptr<Informer>> get_informer(const api::GroupVersionKind& gvk);
  // The informer for `gvk` if one exists (never creates).
  std::shared_ptr<Informer> find_informer(const api::GroupVersionKind& gvk) const;
  // Adds an index to the informer of `gvk` (created if missing), like controller-runtime's
  // IndexField. AlreadyExists if the name is taken.
  absl::Status index_field(const api::GroupVersionKind& gvk, std::string name, IndexFunc fn);

  // Starts every informer created so far; later ones start on creation. Idempotent.
  void start();
  void stop();
  bool started() const;

  // Waits until every informer has synced. DeadlineExceeded names the kinds that have not and
  // their last errors; Cancelled when the cache was stopped.
  absl::Status wait_for_cache_sync(absl::Duration timeout) const;
  bool has_synced() const;
  std::vector<InformerState> states() const;

  // The object `namespace_/name` of `gvk` from the cache. NotFound (client::is_not_found) when
  // absent; FailedPrecondition when no informer watches `gvk` (or not that namespace).
  absl::StatusOr<api::ObjectPtr> get(const api::GroupVersionKind& gvk, std::string_view ns,
                                     std::string_view name);
  absl::StatusOr<std::vector<api::ObjectPtr>> list(const api::GroupVersionKind& gvk,
                                                   const CacheListOptions& options = {});

 private:
  absl::StatusOr<std::shared_ptr<Informer>> informer_for_read(const api::GroupVersionKind& gvk);
  std::shared_ptr<Informer> make_informer(const api::GroupVersionKind& gvk) const;

  client::Client& client_;
  const CacheOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<api::GroupVersionKind, std::shared_ptr<Informer>> informers_
      ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kop::cache
