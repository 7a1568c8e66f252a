#include "kop/controller/handler.h"

#include <algorithm>

namespace kop::controller {
namespace {

// Applies `requests_for` to the objects of each event and adds the results to the queue.
class MappingHandler : public Handler {
 public:
  explicit MappingHandler(std::function<std::vector<Request>(const api::Object&)> fn)
      : fn_(std::move(fn)) {}
  void create(const CreateEvent& e, Queue& q) override { add(e.object, q); }
  // Old and new may map to the same requests: add each once, or a worker that picks up the
  // first add at once would see the second as a new change and reconcile twice.
  void update(const UpdateEvent& e, Queue& q) override {
    std::vector<Request> all;
    for (const auto* obj : {&e.object_old, &e.object_new}) {
      if (*obj == nullptr) continue;
      for (auto& r : fn_(**obj)) {
        if (std::find(all.begin(), all.end(), r) == all.end()) all.push_back(std::move(r));
      }
    }
    for (const auto& r : all) q.add(r);
  }
  void del(const DeleteEvent& e, Queue& q) override { add(e.object, q); }
  void generic(const GenericEvent& e, Queue& q) override { add(e.object, q); }

 private:
  void add(const api::ObjectPtr& obj, Queue& q) {
    if (obj == nullptr) return;
    for (const auto& r : fn_(*obj)) q.add(r);
  }
  std::function<std::vector<Request>(const api::Object&)> fn_;
};

// The group of an apiVersion ("apps/v1" -> "apps", "v1" -> "").
std::string_view group_of(std::string_view api_version) {
  auto slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

}  // namespace

HandlerPtr enqueue_request_for_object() {
  return std::make_shared<MappingHandler>([](const api::Object& o) {
    return std::vector<Request>{{std::string(o.namespace_()), std::string(o.name())}};
  });
}

std::vector<Request> owner_requests(const api::Object& object, const api::GroupKind& owner,
                                    const OwnerOptions& options) {
  std::vector<Request> out;
  for (const auto& ref : object.owner_references()) {
    if (options.only_controller && !ref.is_controller()) continue;
    if (ref.kind != owner.kind || group_of(ref.api_version) != owner.group) continue;
    out.push_back(
        Request{options.owner_namespaced ? std::string(object.namespace_()) : "", ref.name});
  }
  return out;
}

HandlerPtr enqueue_request_for_owner(api::GroupVersionKind owner, OwnerOptions options) {
  return std::make_shared<MappingHandler>([gk = owner.group_kind(), options](const api::Object& o) {
    return owner_requests(o, gk, options);
  });
}

HandlerPtr enqueue_requests_from_map_func(MapFunc fn) {
  return std::make_shared<MappingHandler>(std::move(fn));
}

}  // namespace kop::controller
