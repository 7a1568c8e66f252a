// kop/cache/shared_informer.h: one store of one collection, shared by many handlers.
//
// A SharedInformer owns a Reflector (list + watch, see reflector.h), the Indexer it fills
// (store.h) and one queue + thread per registered handler (event_handler.h states the event
// guarantees). Controllers and cache readers share it so that each collection is listed and
// watched once per process.
//
// has_synced(): the first complete list is in the store (reads from the indexer then see at
// least that state). A handler's registration has_synced() once it has also processed the
// notifications of that initial state.
//
// Threading: every method is safe from any thread. Handlers run on their own threads.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <memory>
#include <thread>
#include <vector>

#include "kop/cache/clock.h"
#include "kop/cache/event_handler.h"
#include "kop/cache/reflector.h"
#include "kop/cache/store.h"
#include "kop/cache/transform.h"
#include "kop/client/client.h"
#include "kop/metrics/registry.h"

namespace kop::cache {

struct InformerOptions {
  // What to list and watch, and how (ref, selectors, page size, timeouts, backoff, clock).
  // reflector.transform is ignored: use `transform` and `keep_managed_fields` below.
  ReflectorOptions reflector{};
  // Extra indexes; the namespace index is always there. Defaults to none.
  Indexers indexers{};
  // Keep metadata.managedFields in cached objects. Defaults to false (stripped).
  bool keep_managed_fields = false;
  // Store the objects the client returns as they are (managedFields included, whatever
  // keep_managed_fields says) instead of a compact copy of each: for an in-process client whose
  // objects are immutable, exactly sized and held by its store anyway (kop::local), so the
  // process keeps each object once. Not for a REST client: its decoded objects are not compact.
  // Defaults to false.
  bool share_objects = false;
  // Applied to every object before it is stored (after managedFields are stripped). Defaults to
  // none.
  TransformFunc transform{};
  // Resync period of handlers registered without one: every period, each stored object is
  // re-delivered to them as update(obj, obj). Defaults to 0 = never.
  absl::Duration default_resync_period = absl::ZeroDuration();
};

class SharedInformer;

// A handler's registration: its sync state and the key to remove it.
class HandlerRegistration {
 public:
  virtual ~HandlerRegistration() = default;
  // The informer has synced and this handler has processed every notification of the state
  // at that point (the initial list, or the synthetic adds of a late registration).
  virtual bool has_synced() const = 0;
};
using HandlerRegistrationPtr = std::shared_ptr<HandlerRegistration>;

class SharedInformer final : private ReflectorStore {
 public:
  SharedInformer(client::Client& client, InformerOptions options);
  ~SharedInformer() override;  // stops
  SharedInformer(const SharedInformer&) = delete;
  SharedInformer& operator=(const SharedInformer&) = delete;

  // Registers `handler` (kept alive by the informer until removed). `resync_period`: negative
  // (default) = the informer's default_resync_period; 0 = never. Before start(), the handler
  // will see the initial list; after, it first gets a synthetic add per stored object.
  HandlerRegistrationPtr add_event_handler(std::shared_ptr<EventHandler> handler,
                                           absl::Duration resync_period = absl::Seconds(-1));
  // Stops delivering to that handler (waits for a notification in progress to finish, unless
  // called from the handler itself). NotFound if it is not registered.
  absl::Status remove_event_handler(const HandlerRegistrationPtr& registration);

  // Starts listing and watching (once); stop() ends it and all handler threads. Idempotent.
  void start();
  void stop();
  // The collection is gone (its kind is no longer served): stops listing and watching, empties
  // the store reporting each object to every handler as a deletion (final_state_unknown =
  // true), waits up to `drain` for the handlers to process those, then stops as stop() does.
  void retire(absl::Duration drain);

  bool has_synced() const;
  // Waits until synced. DeadlineExceeded names the collection and the reflector's last error.
  absl::Status wait_for_sync(absl::Duration timeout) const;

  // The store; read freely (it is updated before handlers are notified).
  const Indexer& indexer() const { return indexer_; }
  // Adds indexes (also after start; they are computed over the current content).
  absl::Status add_indexers(Indexers indexers) {
    return indexer_.add_indexers(std::move(indexers));
  }
  ReflectorStatus status() const { return reflector_.status(); }
  const std::string& description() const { return reflector_.description(); }

  class Listener;  // one handler's queue and thread (shared_informer.cpp)

 private:
  // ReflectorStore (reflector thread only).
  Indexer::Replacement begin_replace() override { return indexer_.begin_replace(); }
  void replace(Indexer::Replacement replacement, std::string_view resource_version) override;
  void add(api::ObjectPtr obj) override;
  void update(api::ObjectPtr obj) override;
  void remove(api::ObjectPtr obj) override;
  void upsert(api::ObjectPtr obj);
  void resync_loop();

  Indexer indexer_;
  Clock& clock_;
  metrics::Gauge* synced_gauge_;   // kop_cache_informer_synced{resource}
  metrics::Gauge* objects_gauge_;  // kop_cache_objects{resource}
  absl::Duration default_resync_;
  StopSignal stop_;
  std::thread resync_thread_;

  // Held while the store changes and the change is queued to every listener, so a handler
  // registered concurrently sees each change exactly once (in its snapshot or as an event).
  mutable absl::Mutex dispatch_mu_;
  std::vector<std::shared_ptr<Listener>> listeners_ ABSL_GUARDED_BY(dispatch_mu_);
  bool synced_ ABSL_GUARDED_BY(dispatch_mu_) = false;
  bool started_ ABSL_GUARDED_BY(dispatch_mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(dispatch_mu_) = false;

  Reflector reflector_;  // last: it calls back into the members above
};

}  // namespace kop::cache
