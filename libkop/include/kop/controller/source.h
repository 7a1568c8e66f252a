// kop/controller/source.h: where a controller's events come from.
//
// A Source delivers events, filtered by predicates, to a handler that fills the controller's
// queue (controller-runtime's source.Source). Two kinds:
//   - kind(cache, gvk): the informer of gvk in a kop::cache::Cache (shared with every other
//     controller and reader of that kind). Its wait_for_sync() returns once the informer has
//     listed and this source's handler has seen that initial state, so the first reconcile
//     sees a complete cache. When the cache marks gvk optional (cache::ByObject::optional: a
//     CRD's kind that may not be installed), the source follows the kind: nothing is delivered
//     and wait_for_sync() returns at once while it is not served; when it appears, its objects
//     arrive as creates; when it goes, each object it had arrives as a delete (DeleteEvent with
//     delete_state_unknown), so reconcilers drop what they built from them.
//   - ChannelSource: events pushed by user code (send()) as generic events — for triggers that
//     do not come from the API (a timer, an external system).
// stop() stops delivery (the controller's "stop intake" on shutdown); start() after stop()
// delivers again (a kind source then replays the informer's current objects as adds).
//
// Threading: start/stop/wait_for_sync are called by the controller; ChannelSource::send from
// any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <memory>
#include <string>
#include <vector>

#include "kop/api/gvk.h"
#include "kop/cache/cache.h"
#include "kop/controller/handler.h"
#include "kop/controller/predicate.h"

namespace kop::controller {

class Source {
 public:
  virtual ~Source() = default;
  // Starts delivering events through `predicates` to `handler`, which adds to `queue`. The
  // queue must outlive the source's delivery (until stop()).
  virtual absl::Status start(HandlerPtr handler, Queue& queue,
                             std::vector<Predicate> predicates) = 0;
  // OK once the initial state has been delivered; DeadlineExceeded (naming the kind and the
  // last list/watch error) after `timeout`.
  virtual absl::Status wait_for_sync(absl::Duration timeout) = 0;
  virtual void stop() = 0;
  // e.g. "kind source: apps/v1, Kind=Deployment".
  virtual std::string description() const = 0;
};
using SourcePtr = std::shared_ptr<Source>;

SourcePtr kind(cache::Cache& cache, api::GroupVersionKind gvk);

class ChannelSource : public Source {
 public:
  absl::Status start(HandlerPtr handler, Queue& queue, std::vector<Predicate> predicates) override;
  absl::Status wait_for_sync(absl::Duration) override { return absl::OkStatus(); }
  void stop() override;
  std::string description() const override { return "channel source"; }
  // Delivers a generic event for `object` (dropped before start() and after stop()).
  void send(api::ObjectPtr object);

 private:
  absl::Mutex mu_;
  HandlerPtr handler_ ABSL_GUARDED_BY(mu_);
  Queue* queue_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<Predicate> predicates_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::controller
