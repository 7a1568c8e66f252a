// kop/controller/builder.h: wiring a controller in a few lines (controller-runtime's builder).
//
//   auto c = kop::controller::Builder(cache)
//                .for_(kWebsite)                      // reconcile Websites
//                .owns(kConfigMap)                    // ...and their owners when a ConfigMap
//                changes .with_event_filter(generation_changed())
//                .with_options({.max_concurrent_reconciles = 2})
//                .build(std::make_shared<MyReconciler>());
//
// for_(gvk) watches gvk with enqueue_request_for_object(); owns(gvk) watches gvk with
// enqueue_request_for_owner(for-kind) (controller references only); watches() adds any source
// and handler. with_event_filter() predicates apply to every watch, the per-call predicates to
// that watch only. The name defaults to the for_() kind in lower case; a builder without for_()
// needs named().
//
// Threading: a Builder is used by one thread; the Controller it builds is not started.
#pragma once

#include <absl/status/statusor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kop/api/gvk.h"
#include "kop/cache/cache.h"
#include "kop/controller/controller.h"

namespace kop::controller {

class Builder {
 public:
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

  // The controller, not started. InvalidArgument without for_() and name, or with for_() twice.
  absl::StatusOr<std::unique_ptr<Controller>> build(std::shared_ptr<Reconciler> reconciler);

 private:
  struct Pending {
    SourcePtr source;
    HandlerPtr handler;
    std::vector<Predicate> predicates;
  };
  cache::Cache& cache_;
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
