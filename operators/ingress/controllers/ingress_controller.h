// kop::ingress::IngressController: the control loop of kop-ingress.
//
// It watches, through a libkop Cache, Ingress and IngressClass (networking.k8s.io/v1), Service
// and Secret (v1; Secrets selected server-side with fieldSelector type=kubernetes.io/tls, see
// configure_cache()), EndpointSlice (discovery.k8s.io/v1, or v1beta1 on older servers),
// IngressRoute and TLSCertificateDelegation (ingress.kop.dev/v1beta1). Every change of any of
// them enqueues the one key "build" on a kop::workqueue (deduplicated: a burst of changes makes
// one build). A build reads the caches into a Snapshot, builds the Model (model.h), renders a
// proxy::Config (render.h) and applies it to the embedded Proxy only when it differs from the
// last one applied; the proxy reuses its compiled routing when only clusters (endpoints)
// changed, so an EndpointSlice change never rebuilds the route table, and new endpoints are
// live in the same atomic swap as any route that needs them.
// Then, when write_status is on (the leader; every replica serves traffic): Ingress
// status.loadBalancer (from --publish-service or --publish-address) on our Ingresses, cleared
// on Ingresses we stopped owning; IngressRoute status (currentStatus, description, conditions
// with type Valid and observedGeneration); one Event per rejected object and field.
// The shape follows controller-runtime's Reconciler (one reconcile of a singleton key) so it
// moves onto libkop/controller when that exists.
// Threading: setup() before the cache starts, from the owning thread; run() on one worker
// thread until stop() (any thread); ready()/builds() from any thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "kop/cache/cache.h"
#include "kop/client/client.h"
#include "kop/ingress/model.h"
#include "kop/ingress/render.h"
#include "kop/proxy/proxy.h"
#include "kop/workqueue/queue.h"

namespace kop::ingress {

struct Kinds {
  api::GroupVersionKind ingress{"networking.k8s.io", "v1", "Ingress"};
  api::GroupVersionKind ingress_class{"networking.k8s.io", "v1", "IngressClass"};
  api::GroupVersionKind service{"", "v1", "Service"};
  api::GroupVersionKind secret{"", "v1", "Secret"};
  // discovery.k8s.io/v1; set version "v1beta1" for API servers older than 1.21.
  api::GroupVersionKind endpoint_slice{"discovery.k8s.io", "v1", "EndpointSlice"};
  api::GroupVersionKind ingress_route{"ingress.kop.dev", "v1beta1", "IngressRoute"};
  api::GroupVersionKind tls_delegation{"ingress.kop.dev", "v1beta1", "TLSCertificateDelegation"};
};

// Adds the per-kind cache settings kop-ingress needs (TLS Secrets only, selected by the
// server; plural names of the CRDs) to `options`.
void configure_cache(cache::CacheOptions& options, const Kinds& kinds = {});

struct ControllerOptions {
  Options model;         // class selection; defaults as Options
  RenderOptions render;  // listeners; defaults as RenderOptions
  Kinds kinds;
  // "namespace/name" of the Service whose status.loadBalancer.ingress we publish. Default "".
  std::string publish_service;
  // Addresses (IPs or host names, comma-separated) published instead. Default "".
  std::string publish_address;
  // Write statuses and Events (the leader). Default true.
  bool write_status = true;
  // Event source component. Default "kop-ingress".
  std::string component = "kop-ingress";
};

class IngressController {
 public:
  IngressController(client::Client& client, cache::Cache& cache, proxy::Proxy& proxy,
                    ControllerOptions options);
  ~IngressController();

  // Creates the informers and registers the handlers.
  absl::Status setup();
  // Processes builds until stop().
  void run();
  void stop();
  // A config has been applied to the proxy at least once.
  bool ready() const { return ready_.load(); }
  uint64_t builds() const { return builds_.load(); }
  uint64_t applies() const { return applies_.load(); }

  // One build now, on the calling thread (run() calls it; tests may too).
  absl::Status build();

 private:
  absl::StatusOr<std::vector<api::ObjectPtr>> list(const api::GroupVersionKind& gvk);
  void write_ingress_status(const Snapshot& snapshot, const Model& model);
  void write_route_status(const Snapshot& snapshot, const Model& model);
  void record_events(const Model& model);
  std::string published_addresses_json(const Snapshot& snapshot) const;

  client::Client& client_;
  cache::Cache& cache_;
  proxy::Proxy& proxy_;
  ControllerOptions options_;
  workqueue::Queue<std::string> queue_;
  std::optional<proxy::Config> last_applied_;
  std::set<std::string> recorded_events_;
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> builds_{0};
  std::atomic<uint64_t> applies_{0};
};

}  // namespace kop::ingress
