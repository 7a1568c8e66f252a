// The Website operator's reconciler: a Website (examples.kop.dev/v1alpha1) becomes a ConfigMap
// "<name>-content" holding spec.content as index.html, a Deployment "<name>" running
// spec.replicas nginx replicas that serve it, and a Service "<name>" in front of them — all
// owned by the Website through controller ownerReferences, so deleting the Website lets the
// garbage collector remove them, and changing or deleting one of them reconciles the Website
// again (Builder::owns). Status: observedGeneration and a Ready condition. A finalizer
// ("examples.kop.dev/finalizer") lets the operator record the deletion (an Event) before the
// Website goes away.
//
// Written only against libkop's public headers, as a user would; the Website is read and its
// status written through the typed view and builder kop-gen makes from the CRD.
#pragma once

#include <kop/cache/cache.h>
#include <kop/client/client.h>
#include <kop/controller/builder.h>
#include <kop/controller/reconciler.h>
#include <kop/record/recorder.h>

#include <memory>

#include "website_types.h"  // kop-gen's typed views of the CRD (examples/website/meson.build)

namespace website {

namespace v1alpha1 = api::v1alpha1;
inline const kop::api::GroupVersionKind kWebsite = v1alpha1::Website::gvk();
inline const kop::api::GroupVersionKind kConfigMap{"", "v1", "ConfigMap"};
inline const kop::api::GroupVersionKind kDeployment{"apps", "v1", "Deployment"};
inline const kop::api::GroupVersionKind kService{"", "v1", "Service"};
inline constexpr std::string_view kFinalizer = "examples.kop.dev/finalizer";

class WebsiteReconciler : public kop::controller::Reconciler {
 public:
  WebsiteReconciler(kop::Client& client, kop::cache::Cache& cache, kop::record::Recorder& events)
      : client_(client), cache_(cache), events_(events) {}
  absl::StatusOr<kop::controller::Result> reconcile(const kop::controller::Context& ctx,
                                                    const kop::controller::Request& req) override;

 private:
  absl::Status reconcile_children(const kop::Object& site);
  absl::Status update_status(const kop::Object& site);
  kop::Client& client_;
  kop::cache::Cache& cache_;
  kop::record::Recorder& events_;
};

// The controller (for Website, owns ConfigMap, Deployment and Service), registered with the
// manager, which runs it.
absl::Status add_controller(kop::controller::ControllerHost& manager,
                            std::shared_ptr<WebsiteReconciler> reconciler);

}  // namespace website
