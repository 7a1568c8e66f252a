#include "website_reconciler.h"

#include <kop/api/conditions.h>
#include <kop/client/errors.h>
#include <kop/manager/helpers.h>

#include <functional>
#include <string>

namespace website {
namespace {

using kop::Object;

std::string labels_json(std::string_view site) {
  return std::string(R"({"app.kubernetes.io/name":"website","app.kubernetes.io/instance":")") +
         std::string(site) + "\"}";
}

// Sets only the fields the operator owns, so a create_or_update of an unchanged object writes
// nothing (fields the server defaults are left alone).
absl::Status own(const Object& site, Object& obj) {
  obj.set_label("app.kubernetes.io/name", "website");
  obj.set_label("app.kubernetes.io/instance", site.name());
  return kop::manager::set_controller_reference(site, obj);
}

}  // namespace

absl::StatusOr<kop::controller::Result> WebsiteReconciler::reconcile(
    const kop::controller::Context&, const kop::controller::Request& req) {
  auto cached = cache_.get(kWebsite, req.namespace_, req.name);
  if (!cached.ok()) {
    // Gone: its children are garbage-collected through their ownerReferences.
    if (kop::client::is_not_found(cached.status())) return kop::controller::Result{};
    return cached.status();
  }
  const Object& site = **cached;
  if (site.is_being_deleted()) {
    if (!site.has_finalizer(kFinalizer)) return kop::controller::Result{};
    events_
        .event(site, kop::record::kEventTypeNormal, "Finalized",
               "website deleted; its ConfigMap, Deployment and Service are garbage-collected")
        .IgnoreError();
    auto removed = kop::manager::remove_finalizer(client_, site, kFinalizer);
    if (!removed.ok() && !kop::client::is_not_found(removed.status())) return removed.status();
    return kop::controller::Result{};
  }
  if (!site.has_finalizer(kFinalizer)) {
    auto added = kop::manager::add_finalizer(client_, site, kFinalizer);
    if (!added.ok()) return added.status();
    // The update brings the Website back through the watch; continue with the stored state.
    if (auto s = reconcile_children(**added); !s.ok()) return s;
    if (auto s = update_status(**added); !s.ok()) return s;
    return kop::controller::Result{};
  }
  if (auto s = reconcile_children(site); !s.ok()) return s;
  if (auto s = update_status(site); !s.ok()) return s;
  return kop::controller::Result{};
}

absl::Status WebsiteReconciler::reconcile_children(const Object& site) {
  std::string name(site.name());
  std::string ns(site.namespace_());
  v1alpha1::WebsiteSpec spec = v1alpha1::Website(site).spec();
  std::string content(spec.content().value_or(""));
  int64_t replicas = spec.replicas();  // the CRD's default (1) when unset

  Object cm(kConfigMap);
  cm.set_namespace(ns);
  cm.set_name(name + "-content");
  auto r = kop::manager::create_or_update(client_, cm, [&](Object& o) {
    if (auto s = own(site, o); !s.ok()) return s;
    return o.set_string("/data/index.html", content);
  });
  if (!r.ok()) return r.status();

  Object dep(kDeployment);
  dep.set_namespace(ns);
  dep.set_name(name);
  r = kop::manager::create_or_update(client_, dep, [&](Object& o) {
    if (auto s = own(site, o); !s.ok()) return s;
    absl::Status s = o.set_int("/spec/replicas", replicas);
    s.Update(o.set_json("/spec/selector/matchLabels", labels_json(name)));
    s.Update(o.set_json("/spec/template/metadata/labels", labels_json(name)));
    s.Update(o.set_json(
        "/spec/template/spec",
        R"({"containers":[{"name":"web","image":"nginx:1.25","ports":[{"containerPort":80}],)"
        R"("volumeMounts":[{"name":"content","mountPath":"/usr/share/nginx/html"}]}],)"
        R"("volumes":[{"name":"content","configMap":{"name":")" +
            name + R"(-content"}}]})"));
    return s;
  });
  if (!r.ok()) return r.status();

  Object svc(kService);
  svc.set_namespace(ns);
  svc.set_name(name);
  r = kop::manager::create_or_update(client_, svc, [&](Object& o) {
    if (auto s = own(site, o); !s.ok()) return s;
    absl::Status s = o.set_json("/spec/selector", labels_json(name));
    s.Update(o.set_json("/spec/ports", R"([{"name":"http","port":80,"targetPort":80}])"));
    return s;
  });
  return r.status();
}

absl::Status WebsiteReconciler::update_status(const Object& site) {
  // Read the latest state: the status write carries its resourceVersion.
  auto fresh = client_.get(kop::client::ResourceRef::of(site));
  if (!fresh.ok()) return fresh.status();
  Object updated(**fresh);
  bool changed =
      v1alpha1::Website(**fresh).status().observed_generation() != (*fresh)->generation();
  v1alpha1::WebsiteBuilder(updated).mutable_status().set_observed_generation(
      (*fresh)->generation());
  auto cond = kop::api::set_condition(
      updated, {.type = "Ready",
                .status = std::string(kop::api::kConditionTrue),
                .observed_generation = (*fresh)->generation(),
                .reason = "Reconciled",
                .message = "ConfigMap, Deployment and Service are up to date"});
  if (!cond.ok()) return cond.status();
  if (!changed && !*cond) return absl::OkStatus();
  auto written = client_.update_status(kop::client::ResourceRef::of(updated), updated);
  return written.status();
}

absl::Status add_controller(kop::controller::ControllerHost& manager,
                            std::shared_ptr<WebsiteReconciler> reconciler) {
  return kop::controller::Builder(manager)
      .for_(kWebsite)
      .owns(kConfigMap)
      .owns(kDeployment)
      .owns(kService)
      .named("website")
      .complete(std::move(reconciler));
}

}  // namespace website
