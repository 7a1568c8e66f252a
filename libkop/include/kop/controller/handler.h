// kop/controller/handler.h: turning events into reconcile requests.
//
// A Handler (controller-runtime's handler.EventHandler) gets each event that passed the
// predicates and adds requests to the controller's queue. Three are built in:
//   - enqueue_request_for_object(): the object itself (what Builder::for_ uses);
//   - enqueue_request_for_owner(owner_gvk): the owners of the object of kind owner_gvk, by
//     ownerReferences — only the controller reference by default (what Builder::owns uses); the
//     owner's version is ignored, group and kind must match;
//   - enqueue_requests_from_map_func(fn): whatever fn maps the object to.
// An update enqueues for both the old and the new object (an owner or mapping may have
// changed), each distinct request once.
//
// The contract of an update event (UpdateEvent), for predicates and handlers alike:
//   - object_old is the state the cache held before this change (the previous event's new
//     object), object_new the state now; both are set, immutable and shared with the cache;
//   - a periodic resync delivers update(obj, obj): the same pointer twice (same
//     resourceVersion), which resource_version_changed() drops;
//   - the watch's predicates run first, on the whole event (a predicate built with
//     new_predicate_func() looks at object_new only); if all pass, the handler runs and a map
//     function is then called on object_old AND on object_new.
// So a map function also sees objects no predicate checked (the old state of an update whose
// new state passed): it must accept any object of the watched kind. Example: copies name their
// source (same namespace) in an annotation, and only copies should trigger:
//   auto is_copy = new_predicate_func([](const api::Object& o) {
//     return o.has_annotation("from");
//   });
//   auto to_source = [](const api::Object& o) -> std::vector<Request> {
//     auto from = o.annotation("from");  // absent on object_old when the update added it
//     if (!from) return {};
//     return {Request{std::string(o.namespace_()), std::string(*from)}};
//   };
//   builder.watches(kConfigMap, enqueue_requests_from_map_func(to_source), {is_copy});
//
// Threading: called on informer handler threads; implementations must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "kop/api/gvk.h"
#include "kop/controller/event.h"
#include "kop/controller/reconciler.h"
#include "kop/workqueue/rate_limiting_queue.h"

namespace kop::controller {

using Queue = workqueue::RateLimitingQueueInterface<Request>;

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void create(const CreateEvent& e, Queue& q) = 0;
  virtual void update(const UpdateEvent& e, Queue& q) = 0;
  virtual void del(const DeleteEvent& e, Queue& q) = 0;
  virtual void generic(const GenericEvent& e, Queue& q) = 0;
};
using HandlerPtr = std::shared_ptr<Handler>;

using MapFunc = std::function<std::vector<Request>(const api::Object& object)>;

HandlerPtr enqueue_request_for_object();

struct OwnerOptions {
  // Only the ownerReference with controller=true. Defaults to true (controller-runtime's
  // OnlyControllerOwner, which Builder::owns uses).
  bool only_controller = true;
  // The owner kind is namespaced: requests get the object's namespace. Defaults to true; false
  // for cluster-scoped owners (namespace "").
  bool owner_namespaced = true;
};
HandlerPtr enqueue_request_for_owner(api::GroupVersionKind owner, OwnerOptions options = {});

HandlerPtr enqueue_requests_from_map_func(MapFunc fn);

// The requests enqueue_request_for_owner would add for `object` (exposed for tests and for
// custom handlers).
std::vector<Request> owner_requests(const api::Object& object, const api::GroupKind& owner,
                                    const OwnerOptions& options);

}  // namespace kop::controller
