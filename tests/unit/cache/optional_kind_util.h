// Helpers of the optional-kind tests (kop::local and real API server): a Widget CRD, a client
// that counts a group's requests and can forbid CRDs, and a handler that tracks what it holds.
#pragma once

#include <absl/synchronization/mutex.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>

#include "kop/api/object.h"
#include "kop/cache/event_handler.h"
#include "kop/client/client.h"
#include "kop/client/errors.h"

namespace kop::cache::testing {

inline const client::ResourceRef kCrds{
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", "", ""};

// The CRD of kind Widget (plural widgets, version v1) in `group`.
inline api::Object widget_crd(std::string_view group = "example.com", bool served = true) {
  auto crd = api::Object::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.)" +
                                std::string(group) + R"("},
    "spec": {"group": ")" + std::string(group) +
                                R"(", "scope": "Namespaced",
      "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
      "versions": [{"name": "v1", "served": )" +
                                std::string(served ? "true" : "false") + R"(, "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})");
  EXPECT_TRUE(crd.ok()) << crd.status();
  return *crd;
}

inline api::Object widget(const api::GroupVersionKind& gvk, std::string_view name) {
  api::Object w(gvk);
  w.set_name(name);
  w.set_namespace("default");
  return w;
}

// Forwards to another client, counting lists and watches of `group`, and answering CRD requests
// with 403 when told to (RBAC without apiextensions rights).
class CountingClient final : public client::Client {
 public:
  CountingClient(client::Client& next, std::string group) : next_(next), group_(std::move(group)) {}
  std::atomic<bool> forbid_crds{false};
  std::atomic<int> widget_requests{0};

  absl::StatusOr<api::ObjectPtr> get(const client::ResourceRef& r,
                                     const client::GetOptions& o) override {
    return next_.get(r, o);
  }
  absl::StatusOr<client::ObjectList> list(const client::ResourceRef& r,
                                          const client::ListOptions& o) override {
    if (absl::Status s = check(r); !s.ok()) return s;
    return next_.list(r, o);
  }
  absl::StatusOr<client::WatchStreamPtr> watch(const client::ResourceRef& r,
                                               const client::WatchOptions& o) override {
    if (absl::Status s = check(r); !s.ok()) return s;
    return next_.watch(r, o);
  }
  absl::StatusOr<api::ObjectPtr> create(const client::ResourceRef& r, const api::Object& obj,
                                        const client::CreateOptions& o) override {
    return next_.create(r, obj, o);
  }
  absl::StatusOr<api::ObjectPtr> update(const client::ResourceRef& r, const api::Object& obj,
                                        const client::UpdateOptions& o) override {
    return next_.update(r, obj, o);
  }
  absl::StatusOr<api::ObjectPtr> patch(const client::ResourceRef& r, client::PatchType t,
                                       std::string_view body,
                                       const client::PatchOptions& o) override {
    return next_.patch(r, t, body, o);
  }
  absl::StatusOr<api::ObjectPtr> remove(const client::ResourceRef& r,
                                        const client::DeleteOptions& o) override {
    return next_.remove(r, o);
  }
  absl::StatusOr<api::ObjectPtr> get_status(const client::ResourceRef& r,
                                            const client::GetOptions& o) override {
    return next_.get_status(r, o);
  }
  absl::StatusOr<api::ObjectPtr> update_status(const client::ResourceRef& r, const api::Object& obj,
                                               const client::UpdateOptions& o) override {
    return next_.update_status(r, obj, o);
  }
  absl::StatusOr<api::ObjectPtr> patch_status(const client::ResourceRef& r, client::PatchType t,
                                              std::string_view body,
                                              const client::PatchOptions& o) override {
    return next_.patch_status(r, t, body, o);
  }

 private:
  absl::Status check(const client::ResourceRef& r) {
    if (r.group == "apiextensions.k8s.io" && forbid_crds.load()) {
      return client::forbidden(r.group, "customresourcedefinitions", "",
                               "cannot list resource in API group at the cluster scope");
    }
    if (r.group == group_) widget_requests.fetch_add(1);
    return absl::OkStatus();
  }
  client::Client& next_;
  const std::string group_;
};

// Keys of the objects a handler holds (adds minus deletes), and how many deletes it saw.
struct Tracker : EventHandler {
  void on_add(const api::ObjectPtr& o, bool) override {
    absl::MutexLock lock(&mu);
    keys.insert(o->key());
  }
  void on_update(const api::ObjectPtr&, const api::ObjectPtr&) override {}
  void on_delete(const api::ObjectPtr& o, bool) override {
    absl::MutexLock lock(&mu);
    keys.erase(o->key());
    ++deletes;
  }
  std::set<std::string> held() {
    absl::MutexLock lock(&mu);
    return keys;
  }
  int deleted() {
    absl::MutexLock lock(&mu);
    return deletes;
  }
  absl::Mutex mu;
  std::set<std::string> keys ABSL_GUARDED_BY(mu);
  int deletes ABSL_GUARDED_BY(mu) = 0;
};

}  // namespace kop::cache::testing
