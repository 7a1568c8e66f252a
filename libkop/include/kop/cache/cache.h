// kop/cache/cache.h: informers per kind and a reader served from them.
//
// A Cache holds at most one Informer per GroupVersionKind, shared by every controller and reader
// in the process (so each kind is listed and watched once). Informers are created by
// get_informer() or add_event_handler() — before start() (started with the cache) or after
// (started at once) — and configured per kind by CacheOptions::by_object: namespaces, label and
// field selectors, transform, managedFields. A kind restricted to several namespaces gets one
// list/watch per namespace, merged behind one Informer (as controller-runtime's multi-namespace
// cache).
//
// Optional kinds (ByObject::optional, e.g. the custom resources of a CRD that may not be
// installed): the cache asks a KindPresence (kind_presence.h: it watches CRDs, or polls when it
// may not) whether the kind is served, and runs its informer only while it is. When the kind
// appears (CRD created and Established), an informer starts and every handler registered through
// add_event_handler() is attached to it (it sees the objects as adds); when the kind goes (CRD
// deleted), the informer stops after reporting each of its objects to those handlers as a
// deletion, and the handlers stay registered for the next time the kind appears. While absent,
// list() returns nothing and get() NotFound, and readiness (wait_for_cache_sync, states(),
// hence the Manager's readyz) does not wait for the kind; it waits only for the first answer to
// "is it served?". get_informer() of an absent optional kind is NotFound.
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
// Threading: every method is safe from any thread. ByObject::presence_changed callbacks run on
// the KindPresence thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kop/api/gvk.h"
#include "kop/api/labels.h"
#include "kop/api/object.h"
#include "kop/cache/informer.h"
#include "kop/cache/kind_presence.h"
#include "kop/cache/shared_informer.h"
#include "kop/client/client.h"

namespace kop::cache {

// Per-kind settings (controller-runtime's ByObject).
struct ByObject {
  // Namespaces to watch. Defaults to CacheOptions::default_namespaces. Ignored for
  // cluster-scoped kinds.
  std::optional<std::vector<std::string>> namespaces{};
  std::string label_selector{};  // Defaults to "" (everything).
  std::string field_selector{};  // Defaults to "" (everything).
  TransformFunc transform{};     // Defaults to none (after managedFields stripping).
  // Defaults to CacheOptions::keep_managed_fields.
  std::optional<bool> keep_managed_fields{};
  // The plural resource (e.g. "ingresses"). Defaults to "" = the client maps the kind to its
  // resource (RESTMapper).
  std::string resource{};
  // Whether the kind is namespaced. Defaults to the built-in answer, else true.
  std::optional<bool> namespaced{};
  // Extra indexes for this kind. Defaults to none (the namespace index is always there).
  Indexers indexers{};
  // The kind may not be served (its CRD not installed, or installed and deleted later): watched
  // only while it is (see the top of this file). Defaults to false: a kind that is not served
  // is an error (its informer retries and reports "could not find the requested resource").
  bool optional = false;
  // Optional kinds only: called with each answer to "is it served?" (false at start when it is
  // not; true when it appears, after its informer started; false when it went, after its
  // objects were reported deleted). The cache logs these changes itself (at info) only when
  // this is unset. Defaults to none.
  std::function<void(bool served)> presence_changed;
};

struct CacheOptions {
  // Namespaces watched for namespaced kinds. Defaults to empty = all namespaces.
  std::vector<std::string> default_namespaces{};
  // Keep metadata.managedFields. Defaults to false (stripped, as controller-runtime).
  bool keep_managed_fields = false;
  // Keep the client's objects instead of compact copies (InformerOptions::share_objects): for a
  // kop::local client. Defaults to false.
  bool share_objects = false;
  // Re-delivers every object to handlers as update(obj, obj) this often. Defaults to 10 h
  // (controller-runtime's SyncPeriod); 0 = never.
  absl::Duration resync_period = absl::Hours(10);
  // Reading a kind without an informer creates and starts one (and waits for its sync), as
  // controller-runtime does by default. Defaults to false: such a read is an error.
  bool read_starts_informer = false;
  // How long such a read waits for the new informer's sync. Defaults to 30 s.
  absl::Duration read_sync_timeout = absl::Seconds(30);
  // Per-kind settings. Defaults to none.
  std::map<api::GroupVersionKind, ByObject> by_object{};
  // How optional kinds are looked for (polling intervals of the fallback). Defaults as
  // KindPresenceOptions; its `reflector` is ignored (`reflector` below is used).
  KindPresenceOptions presence{};
  // How long handlers get to process the deletions of a kind that went before its informer
  // stops. Defaults to 10 s.
  absl::Duration retire_drain = absl::Seconds(10);
  // List/watch tuning shared by all informers (page size, watch timeout, backoff, clock);
  // its ref, selectors and transform are ignored.
  ReflectorOptions reflector{};
};

// get()/list() filters.
struct CacheListOptions {
  std::string namespace_{};  // Defaults to "" = all namespaces the informer watches.
  // Equality label match: every key must be present with the value. Defaults to none.
  std::map<std::string, std::string, std::less<>> match_labels{};
  // A full label selector ("app in (a,b),!canary"), applied with match_labels. Defaults to none.
  std::optional<api::LabelSelector> label_selector{};
  // An index lookup (index name, value), e.g. a field index. Defaults to none.
  std::optional<std::pair<std::string, std::string>> index{};
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
  // For an optional kind: its current informer, NotFound while the kind is not served.
  absl::StatusOr<std::shared_ptr<Informer>> get_informer(const api::GroupVersionKind& gvk);
  // Registers `handler` on the informer of `gvk` (created if missing), as
  // Informer::add_event_handler. For an optional kind the registration outlives the informer:
  // it is attached to each informer the kind gets, and has_synced() is true while the kind is
  // known not to be served. This is how controller sources watch (kind(cache, gvk)).
  absl::StatusOr<HandlerRegistrationPtr> add_event_handler(
      const api::GroupVersionKind& gvk, std::shared_ptr<EventHandler> handler,
      absl::Duration resync_period = absl::Seconds(-1));
  absl::Status remove_event_handler(const api::GroupVersionKind& gvk,
                                    const HandlerRegistrationPtr& registration);
  // Whether by_object marks `gvk` optional.
  bool is_optional(const api::GroupVersionKind& gvk) const;
  // Whether `gvk` is served now: always true for a kind that is not optional; nullopt while
  // an optional kind's first answer is pending.
  std::optional<bool> served(const api::GroupVersionKind& gvk) const;
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
  class OptionalRegistration;  // cache.cpp
  // An optional kind's state: its handlers and indexes, kept across its informers.
  struct OptionalKind {
    std::optional<bool> served;  // the answer, set once its effects are done
    bool absent = false;         // registrations are detached (known not served)
    std::vector<std::shared_ptr<OptionalRegistration>> registrations;
    Indexers indexers;  // added by index_field()
  };

  // nullptr (no error) for an optional kind that is not served now.
  absl::StatusOr<std::shared_ptr<Informer>> informer_for_read(const api::GroupVersionKind& gvk);
  std::shared_ptr<Informer> make_informer(const api::GroupVersionKind& gvk) const;
  // KindPresence's callback for an optional kind.
  void on_presence(const api::GroupVersionKind& gvk, bool served);

  client::Client& client_;
  const CacheOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<api::GroupVersionKind, std::shared_ptr<Informer>> informers_
      ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<api::GroupVersionKind, OptionalKind> optional_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<KindPresence> presence_;  // with optional kinds only
};

}  // namespace kop::cache
