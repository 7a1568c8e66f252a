// kop/cache/reflector.h: keeps a store equal to one collection on the API server.
//
// A Reflector lists a collection (in pages of `page_size`), hands the whole result to its store
// as one replace, then watches from the list's resourceVersion and applies each event. What it
// guarantees (the same contract as client-go's reflector):
//   - After a replace, the store holds exactly the listed objects; objects that vanished are
//     reported as deletions (with their last known state) by the store's replace.
//   - A watch that ends (server timeout, dropped connection, transport error) is resumed from the
//     last resourceVersion seen, including BOOKMARK events, so no event is lost or repeated.
//   - A 410 Gone/Expired (on the watch call or as an ERROR event) means the server no longer has
//     the history: the reflector lists again and replaces the store.
//   - Every failure is followed by an exponential backoff with jitter (backoff.h: 800 ms to 30 s,
//     reset after 2 min healthy). A watch closing with no event within 1 s counts as a failure
//     (a server that closes every watch at once must not be hammered). Unlike client-go, a
//     watch that failed after it had been running (it delivered an event, or stayed open 1 s)
//     starts the backoff again from 800 ms: on a flaky network each cut costs about a second
//     instead of climbing to 30-60 s, while a list or watch that keeps failing at once still
//     backs off to 30 s.
//   - A watch that stays silent past its timeoutSeconds plus `watch_silence_grace` (a stuck
//     connection or server) is cancelled and restarted from the last resourceVersion.
//   - Errors name the kind and the verb ("list networking.k8s.io/v1, Kind=Ingress: ...
//     forbidden"); they are logged, counted in status().errors and kept in status().last_error
//     (cleared by the next successful list or watch) for readiness checks, and counted in the
//     metric kop_cache_reflector_errors_total{resource,verb,reason}.
// Lists are consistent reads (resourceVersion ""), paginated; a continue token that expired
// mid-list (410) restarts the list from its first page.
//
// Threading: start() and stop() from one owner thread; status(), has_synced() and
// last_sync_resource_version() from any thread. The store is called only from the reflector's
// own thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "kop/api/object.h"
#include "kop/cache/backoff.h"
#include "kop/cache/clock.h"
#include "kop/cache/store.h"
#include "kop/cache/transform.h"
#include "kop/client/client.h"
#include "kop/log/log.h"
#include "kop/metrics/registry.h"

namespace kop::cache {

// Where a reflector writes. Called only from the reflector's thread, one call at a time.
class ReflectorStore {
 public:
  virtual ~ReflectorStore() = default;
  // A fresh replacement for a relist (it shares unchanged objects with the current content).
  virtual Indexer::Replacement begin_replace() = 0;
  // The complete listed state at `resource_version`.
  virtual void replace(Indexer::Replacement replacement, std::string_view resource_version) = 0;
  virtual void add(api::ObjectPtr obj) = 0;     // ADDED
  virtual void update(api::ObjectPtr obj) = 0;  // MODIFIED
  virtual void remove(api::ObjectPtr obj) = 0;  // DELETED (the object's last state)
};

struct ReflectorOptions {
  // The collection: group/version/resource (or kind), namespace ("" = all namespaces).
  client::ResourceRef ref{};
  // For messages: defaults to ref's "group/version, Kind=K" or "group/version, Resource=r".
  std::string description{};
  std::string label_selector{};  // Defaults to "" (everything).
  std::string field_selector{};  // Defaults to "" (everything).
  int64_t page_size = 500;       // List page size (limit). Defaults to 500 (client-go's pager).
  // The watch's timeoutSeconds is drawn uniformly from [min, 2*min) so watches of many
  // informers do not all restart together. Defaults to 5 min (client-go's minWatchTimeout).
  absl::Duration min_watch_timeout = absl::Minutes(5);
  // Extra silence tolerated past timeoutSeconds before the watch is cancelled client-side.
  // Defaults to 30 s.
  absl::Duration watch_silence_grace = absl::Seconds(30);
  BackoffOptions backoff{};  // Defaults to client-go's (see backoff.h).
  Clock* clock = nullptr;    // For backoff sleeps. Defaults to RealClock::instance().
  // Applied to every object before it reaches the store. Defaults to strip_managed_fields.
  TransformFunc transform{};
  uint64_t seed = 0;  // Randomness for jitter and timeouts; 0 (default) = random.
  // Where the reflector's metrics go (kop_cache_reflector_*; see docs/cache.md). Defaults to
  // metrics::default_registry().
  metrics::Registry* registry = nullptr;
  // Called on the reflector's thread with each list/watch failure (after it is recorded).
  // Returning true says the failure is expected and handled by the caller (e.g. a 404 for a
  // kind whose CRD was just deleted): it is then logged at debug level, not as an error.
  // Defaults to none.
  std::function<bool(const absl::Status&)> on_error;
};

// A snapshot of a reflector's health, for readiness checks, metrics and tests.
struct ReflectorStatus {
  bool synced = false;           // the first list has been stored
  absl::Status last_error;       // OK while healthy; else names verb and kind
  std::string resource_version;  // last seen
  uint64_t lists = 0;            // successful lists (initial + relists)
  uint64_t relists_gone = 0;     // lists caused by 410 Gone/Expired
  uint64_t watches = 0;          // watches started
  uint64_t watch_events = 0;     // events applied (bookmarks included)
  uint64_t silent_restarts = 0;  // watches cancelled for silence
  uint64_t errors = 0;           // failed list/watch attempts
};

class Reflector {
 public:
  Reflector(client::Client& client, ReflectorStore& store, ReflectorOptions options);
  ~Reflector();  // stops
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Starts the list/watch thread (once).
  void start();
  // Stops it: interrupts a backoff sleep, cancels the watch, joins. Idempotent.
  void stop();

  bool has_synced() const { return synced_.load(std::memory_order_acquire); }
  ReflectorStatus status() const;
  std::string last_sync_resource_version() const;
  const std::string& description() const { return options_.description; }

 private:
  void run();
  absl::Status list();
  // OK when the watch ended normally (resume at once); an error otherwise.
  absl::Status watch();
  void watchdog();
  absl::Status named(std::string_view verb, const absl::Status& st) const;
  void record_error(std::string_view verb, const absl::Status& st);
  void set_resource_version(std::string_view rv);

  client::Client& client_;
  ReflectorStore& store_;
  ReflectorOptions options_;
  Clock& clock_;
  Backoff backoff_;
  // Whether the last watch() ran before it ended (an event, or open for 1 s): the next failure
  // then restarts the backoff. Reflector thread only.
  bool watch_ran_ = false;
  StopSignal stop_;
  std::atomic<bool> synced_{false};
  std::atomic<int64_t> last_event_ns_{0};  // real time of the last watch event (watchdog)
  std::thread thread_;
  std::thread watchdog_thread_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  client::WatchStream* active_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Duration active_deadline_ ABSL_GUARDED_BY(mu_);  // silence allowed for active_
  bool silence_cancelled_ ABSL_GUARDED_BY(mu_) = false;
  ReflectorStatus status_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_;  // reflector thread only
  log::Logger log_;
  metrics::CounterVec* errors_total_;
  metrics::Counter* lists_total_;
  metrics::Counter* events_total_;
};

// "group/version, Kind=K" for a ResourceRef naming a kind, else "group/version, Resource=r"
// ("/v1, Kind=Pod" for the core group, as apimachinery prints it).
std::string describe(const client::ResourceRef& ref);

}  // namespace kop::cache
