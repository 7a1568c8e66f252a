// kop/controller/builder.h: wiring a controller in a few lines (controller-runtime's builder).
//
//   auto done = kop::controller::Builder(mgr)                 // a kop::manager::Manager
//                   .for_(kWebsite)                           // reconcile Websites
//                   .owns(kConfigMap)                         // ...and their owner when a
//                                                             // ConfigMap they own changes
//                   .with_event_filter(generation_changed())
//                   .with_options({.max_concurrent_reconciles = 2})
//                   .complete(std::make_shared<MyReconciler>());  // built and registered
//
// Builder(manager) takes the manager's cache, metrics registry and controller clock (unless the
// options name their own) and complete() registers the controller with the manager, which starts
// it. Builder(cache) is the form without a manager (a controller started by hand, or a unit test of
// the wiring alone): build() returns the controller, not started and registered nowhere, and
// its metrics go to options.registry (default: the process-wide registry).
//
// for_(gvk) watches gvk with enqueue_request_for_object(); owns(gvk) watches gvk with
// enqueue_request_for_owner(for-kind) (controller references only); watches() adds any source
// and handler. with_event_filter() predicates apply to every watch, the per-call predicates to
// that watch only. The name defaults to the for_() kind in lower case; a builder without for_()
// needs named(). What a map function and a predicate see of an update: handler.h.
//
// Threading: a Builder is used by one thread, before the manager starts.
#pragma once

#include <absl/status/statusor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kop/api/gvk.h"
#include "kop/cache/cache.h"
#include "kop/controller/controller.h"
#include "kop/metrics/registry.h"

namespace kop::controller {

// What a Builder needs from the manager that will run the controller: its cache, its metrics
// registry and a place to register the controller. kop::manager::Manager is one.
class ControllerHost {
 public:
  virtual ~ControllerHost() = default;
  virtual cache::Cache& cache() = 0;
  virtual metrics::Registry& registry() = 0;
  // The clock of controllers whose options name none; nullptr = the real clock.
  virtual workqueue::Clock* controller_clock() { return nullptr; }
  // Takes the controller; the host starts it with its other leader-only work.
  virtual void add_controller(std::unique_ptr<Controller> controller) = 0;
};

class Builder {
 public:
  explicit Builder(ControllerHost& manager) : cache_(manager.cache()), host_(&manager) {}
  explicit Builder(cache::Cache& cache) : cache_(cache) {}

  Builder& for_(api::GroupVersionKind gvk, std::vector<Predicate> predicates = {});
  Builder& owns(api::GroupVersionKind gvk, std::vector<Predicate> predicates = {});
  // `owner_namespaced`: false when the for_() kind is cluster-scoped.
  Builder& owns(api::GroupVersionKind gvk, OwnerOptions options,
                std::vector<Predicate> predicates = {});
  Builder& watches(SourcePtr source, HandlerPtr handler, std::vector<Predicate> predicates = {});
  // watches(kind(cache, gvk), handler, predicates).
  Builder& watches(api::GroupVersionKind gvk, HandlerPtr handler,
                   std::vector<Predicate> predicates = {});
  Builder& with_event_filter(Predicate predicate);
  Builder& with_options(ControllerOptions options);
  Builder& named(std::string name);

  // Builds the controller and registers it with the manager (Builder(manager) only;
  // FailedPrecondition for a Builder(cache)). Errors as build().
  absl::Status complete(std::shared_ptr<Reconciler> reconciler);
  // The controller, not started and not registered. InvalidArgument without for_() and name,
  // with for_() twice, or with owns() and no for_().
  absl::StatusOr<std::unique_ptr<Controller>> build(std::shared_ptr<Reconciler> reconciler);

 private:
  struct Pending {
    SourcePtr source;
    HandlerPtr handler;
    std::vector<Predicate> predicates;
  };
  cache::Cache& cache_;
  ControllerHost* host_ = nullptr;
  std::optional<api::GroupVersionKind> for_gvk_;
  int for_count_ = 0;
  std::vector<Predicate> for_predicates_;
  std::vector<std::pair<api::GroupVersionKind, std::pair<OwnerOptions, std::vector<Predicate>>>>
      owns_;
  std::vector<Pending> watches_;
  std::vector<Predicate> global_predicates_;
  ControllerOptions options_;
  std::string name_;
};

}  // namespace kop::controller
