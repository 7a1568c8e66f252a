// kop::ingress::IngressController: the control loop of kop-ingress, run by a kop::manager.
//
// It watches, through the Manager's Cache, Ingress and IngressClass (networking.k8s.io/v1),
// Service and Secret (v1; fieldSelector type=kubernetes.io/tls unless nginx annotations are read,
// see configure_cache()), EndpointSlice (discovery.k8s.io/v1, or v1beta1 on older servers),
// IngressRoute and TLSCertificateDelegation (ingress.kop.dev/v1beta1; optional kinds of the
// cache: watched only while their CRDs are installed, logged once at start when they are not,
// their routes removed when their CRD is deleted, see configure_cache()). It is a libkop
// controller::Controller whose sources map every event of any of these kinds to one singleton
// request (kBuildRequest): the workqueue's dedup makes a burst of changes one build, and a
// change during a build one more build after it. A build reads the caches into a Snapshot,
// builds the Model (model.h) incrementally through a BuildCache (only the Ingresses whose
// inputs changed are translated again), renders a proxy::Config (render.h) and applies it to the
// embedded Proxy only when it differs from the last one applied; the proxy reuses its compiled
// routing when only clusters (endpoints) changed, so an EndpointSlice change never rebuilds the
// route table, and new endpoints are live in the same atomic swap as any route that needs them.
//
// Every replica builds and applies (the controller is an all-replica runnable of the Manager:
// every replica serves traffic). A build never waits on the API: after applying the config it
// publishes the statuses and Events the model asks for to a StatusWriter (status_writer.h),
// whose own thread writes, on the leader only, what differs from the cached objects, retrying
// failures with backoff. A leader-only runnable turns writing on when this replica wins the
// Lease (every replica when the Manager has no leader election): the writer then writes at
// once from the last build, without waiting for a change; it turns writing off when
// leadership ends. Losing the Lease while running (not stopping) keeps the replica serving;
// the Manager (exit_on_lost_lease = false) campaigns again and writing resumes when it wins.
// Updates of Ingresses and IngressRoutes that change only their status (our own writes) do
// not trigger builds.
// Gateway API (GatewayApiOptions; docs/gateway-api/design.md): GatewayClass, Gateway, HTTPRoute,
// GRPCRoute, TLSRoute, ReferenceGrant, BackendTLSPolicy (optional kinds, like IngressRoute),
// Namespace and ConfigMap (the CA certificates of BackendTLSPolicies; with the ingress-nginx
// reading, the ConfigMaps of custom-headers too) are watched too; a build
// translates them (gateway::translate) into front doors, each rendered as its own proxy listener
// (with --manifests on the Gateway's own loopback address), and their clusters join the
// model's. The status writer writes GatewayClass and Gateway status, the routes'
// status.parents and the BackendTLSPolicies' status.ancestors.
// Statuses: Ingress status.loadBalancer (from --publish-service or --publish-address) on our
// Ingresses, cleared on Ingresses we stopped owning; IngressRoute status (currentStatus,
// description, conditions with type Valid and observedGeneration); a Warning Event per
// rejected object and field through kop::record::Recorder (message "<Kind> <ns/name>: <field>:
// <what>"), recorded when the rejection appears.
// Probes added to the Manager: readyz "proxy-config" (a config has been applied), healthz
// "ingress-controller" (the controller started: its caches synced within cache_sync_timeout).
//
// Threading: setup() before Manager::start(), from the owning thread; begin_shutdown() from any
// thread before Manager::stop(); the accessors from any thread. Reconciles run on the
// controller's single worker thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>
#include "controller_services.h"
#include "gateway_addresses.h"
#include "gateway_services.h"
#include "kind_listing.h"
#include "kop/cache/cache.h"
#include "kop/client/client.h"
#include "kop/controller/controller.h"
#include "kop/ingress/gateway_api.h"
#include "kop/ingress/list_diff.h"
#include "kop/ingress/model.h"
#include "kop/ingress/render.h"
#include "kop/ingress/status_only_replacements.h"
#include "kop/manager/manager.h"
#include "kop/proxy/proxy.h"
#include "status_writer.h"

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
  // Gateway API (optional kinds) and the Namespaces its allowedRoutes selectors read.
  api::GroupVersionKind gateway_class{"gateway.networking.k8s.io", "v1", "GatewayClass"};
  api::GroupVersionKind gateway{"gateway.networking.k8s.io", "v1", "Gateway"};
  api::GroupVersionKind http_route{"gateway.networking.k8s.io", "v1", "HTTPRoute"};
  api::GroupVersionKind grpc_route{"gateway.networking.k8s.io", "v1", "GRPCRoute"};
  api::GroupVersionKind tls_route{"gateway.networking.k8s.io", "v1", "TLSRoute"};
  api::GroupVersionKind reference_grant{"gateway.networking.k8s.io", "v1beta1", "ReferenceGrant"};
  api::GroupVersionKind backend_tls_policy{"gateway.networking.k8s.io", "v1", "BackendTLSPolicy"};
  api::GroupVersionKind namespace_{"", "v1", "Namespace"};
  api::GroupVersionKind config_map{"", "v1", "ConfigMap"};
};

// Adds the per-kind cache settings kop-ingress needs (TLS Secrets only, selected by the
// server; plural names of the CRDs; the CRD kinds optional, with an info line when their CRD
// is not installed, installed or removed) to `options` (the Manager's ManagerOptions::cache).
// With `gateway_api`, the Gateway API kinds are added too (optional), Namespaces and ConfigMaps.
// With `all_secrets` (ingress-nginx annotations read: auth-secret names Opaque Secrets), every
// Secret is watched, as ingress-nginx does, and ConfigMaps keep all their data (custom-headers);
// otherwise only their ca.crt. ConfigMaps are cached without labels, annotations or binaryData
// (nothing a build reads). EndpointSlices are cached as endpoint_slice_summary() makes them,
// unless `options.share_objects` is already set (then whole: kop::local's own objects).
void configure_cache(cache::CacheOptions& options, const Kinds& kinds = {}, bool gateway_api = true,
                     bool all_secrets = false);

// The one request every event maps to.
inline const controller::Request kBuildRequest{"", "build"};

// Gateway API (docs/gateway-api/design.md): each Gateway its own front door.
struct GatewayApiOptions {
  // Watch and serve Gateway API objects. Default true (--gateway-api).
  bool enabled = true;
  // Controller name (--gateway-controller-name). Defaults as gateway::Options.
  gateway::Options translate;
  // --manifests: each Gateway gets its own loopback address (gateway_addresses.h) and binds its
  // listener ports plus local_port_offset there. Default false: in a cluster, each Gateway's
  // front doors are reached through a Service of its own (gateway_services.h), bound on the
  // host of RenderOptions::http_address.
  bool local = false;
  // Added to every listener port with `local`. Default 10000 (80 -> 10080); 0 keeps them.
  uint32_t local_port_offset = 10000;
  // In a cluster: the Gateway Services (type, namespace, port range, pod selector); type None
  // binds the listener ports themselves, addresses from --publish-service/--publish-address.
  GatewayServiceOptions services;
};

struct ControllerOptions {
  Options model;  // class selection; defaults as Options
  GatewayApiOptions gateway;
  RenderOptions render;  // listeners; defaults as RenderOptions
  Kinds kinds;
  // "namespace/name" of the Service whose status.loadBalancer.ingress we publish. Default "".
  std::string publish_service;
  // Addresses (IPs or host names, comma-separated) published instead. Default "".
  std::string publish_address;
  // Event source component. Default "kop-ingress".
  std::string component = "kop-ingress";
  // The libkop controller's name (metrics label, queue name, logs). Default "kop-ingress".
  std::string name = "kop-ingress";
  // How long the controller waits for every watched kind to sync before it gives up (healthz
  // "ingress-controller" then fails). Default 2 minutes (controller-runtime's).
  absl::Duration cache_sync_timeout = absl::Minutes(2);
  // First retry delay of a failed status or Event write (doubles up to 30 s). Default 100 ms.
  absl::Duration status_retry_base = absl::Milliseconds(100);
  // Statuses and Events are written through this client (kop-ingress gives it its own rate
  // limit, --status-qps, so that 10k statuses do not queue behind the watches' limit). Must
  // outlive the controller. Default nullptr: the Manager's client.
  client::Client* status_client = nullptr;
  // Status-only updates recorded for the next build (status_only_replacements.h) past which one
  // of them asks for a build: the record holds the objects they replaced until a build takes it,
  // so without a bound a status round with no change after it held every old object (10k
  // Ingresses or HTTPRoutes, 100k at scale). Such a build takes them by pointer. Default 4096.
  size_t status_only_build_at = 4096;
};

class IngressController {
 public:
  IngressController(manager::Manager& manager, proxy::Proxy& proxy, ControllerOptions options);
  ~IngressController();
  IngressController(const IngressController&) = delete;
  IngressController& operator=(const IngressController&) = delete;

  // Builds the libkop controller and registers it with the Manager (all-replica runnable
  // "ingress-build", leader-only runnable "ingress-status", the probes above). Once, before
  // Manager::start().
  absl::Status setup();
  // The process is stopping: leadership ending from now on is a release, not a lost Lease.
  void begin_shutdown() { shutting_down_.store(true); }

  // A config has been applied to the proxy at least once.
  bool ready() const { return ready_.load(); }
  // This replica writes statuses and Events now (it leads, or there is no leader election).
  bool writing_status() const { return status_.writing(); }
  // Times leadership ended while the process was not stopping (the Manager campaigns again).
  uint64_t lease_losses() const { return lease_losses_.load(); }
  uint64_t builds() const { return builds_.load(); }
  uint64_t applies() const { return applies_.load(); }
  // Ingresses the builds took by pointer as status-only replacements (status writes recorded by
  // the event filter), over all builds.
  uint64_t status_only_taken() const { return status_only_taken_.load(); }
  // Status writer passes (each compares the desired statuses with the cache, as the leader).
  uint64_t status_passes() const { return status_.passes(); }
  // Status subresource writes done, and Events written, by this replica.
  uint64_t status_writes() const { return status_.writes(); }
  uint64_t events_recorded() const { return status_.events_recorded(); }

 private:
  class BuildReconciler;

  // One reconcile of kBuildRequest: build + apply, then publish the desired statuses.
  absl::Status reconcile();
  std::shared_ptr<const DesiredStatus> desired_status(const Snapshot& snapshot, const Model& model,
                                                      const gateway::Snapshot& gateway_snapshot,
                                                      gateway::Result gateway_result);
  // ingress_statuses_ brought to this build's.
  void update_ingress_statuses(const Snapshot& snapshot, const Model& model);
  // Gateway API: the objects of its kinds (optional: empty when not installed); then translate,
  // and the address each front door binds (none when not bound).
  absl::Status list_gateway_objects(gateway::Snapshot& snapshot);
  absl::StatusOr<gateway::Result> translate_gateways(gateway::Snapshot& snapshot);
  // In a cluster the bindings (gateway_services.h) also correct the listeners' status.
  std::vector<BoundFrontDoor> bind_front_doors(gateway::Result& result,
                                               const gateway::Snapshot& snapshot);
  void log_front_doors(const std::vector<BoundFrontDoor>& doors);
  std::string published_addresses_json() const;
  absl::Status start_controller();
  absl::Status stop_controller(absl::Duration timeout);

  // Whether ConfigMap `o` is one an Ingress names in custom-headers (with the ingress-nginx
  // reading): updates of the others start no build. Any thread (the watch's predicate).
  bool names_header_map(const api::Object& o) const;

  manager::Manager& manager_;
  client::Client& client_;
  cache::Cache& cache_;
  proxy::Proxy& proxy_;
  ControllerOptions options_;
  std::unique_ptr<controller::Controller> controller_;
  std::thread starter_;
  absl::Mutex start_mu_;
  absl::Status start_status_ ABSL_GUARDED_BY(start_mu_);
  // Touched only by the reconciling thread (max_concurrent_reconciles is 1). The last Config
  // applied, shared with the proxy's route table (which keeps it for /config_dump): kept to
  // skip applying an unchanged Config without holding a second copy of it.
  std::shared_ptr<const proxy::Config> last_applied_;
  // The last build's listings, patched by the next build with what was written since
  // (kind_listing.h): a build lists in proportion to the changes.
  Snapshot snapshot_;
  struct Listings {
    KindListing ingresses, ingress_classes, services, secrets, endpoint_slices, ingress_routes,
        tls_delegations, config_maps;
  } listings_;
  // The same for the Gateway API's kinds and what its translation reads besides.
  gateway::Snapshot gateway_snapshot_;
  struct GatewayListings {
    KindListing gateway_classes, gateways, http_routes, grpc_routes, tls_routes, reference_grants,
        backend_tls_policies, config_maps, namespaces;
  } gateway_listings_;
  // The model's incremental state: an Ingress whose inputs did not change since the last build
  // (e.g. only another Service's EndpointSlice did) is not translated again.
  BuildCache build_cache_;
  // The Gateway API's: an HTTPRoute or GRPCRoute whose rules' inputs did not change is not
  // translated again, and unchanged front door hosts stay the same objects.
  gateway::TranslateCache gateway_cache_;
  // The rendered virtual hosts of the hosts build_cache_ and gateway_cache_ kept: rendered once,
  // shared by the Configs, compiled once by the proxy.
  RenderCache render_cache_;
  // The Config render_cache_ rendered from the last build's Model (the same object as
  // last_applied_ when it was applied), when that render had no front door nor gateway cluster:
  // a build that changed clusters only patches it (render_replaced_clusters()) instead of
  // rendering every host. Null after a build that did not get to render.
  std::shared_ptr<const proxy::Config> last_rendered_;
  // Gateway addresses (with GatewayApiOptions::local) and the front doors already logged.
  LocalGatewayAddresses local_addresses_;
  std::map<std::string, std::string> gateway_addresses_;
  std::set<std::string> logged_doors_;
  // In a cluster: the last build's front-door bindings and the Services they need.
  GatewayBindings bindings_;
  // The last build translated a snapshot without any Gateway API object (nor a Gateway Service
  // of ours): until one appears, builds have nothing to translate and skip the translation.
  bool gateway_empty_ = false;
  // The --publish-service Service and our Gateway Services, kept from the Services' changes.
  ControllerServices services_;
  // The Ingresses' desired statuses, changed per Ingress (all again when the published
  // addresses or the IngressClasses change), and what they were computed from.
  IngressStatuses ingress_statuses_;
  bool ingress_statuses_valid_ = false;
  std::string ingress_statuses_published_;
  ListTracker status_ingress_list_;
  ListTracker status_class_list_;
  StatusWriter status_;
  // "namespace/name" of the ConfigMaps the Ingresses name in custom-headers: written by the
  // reconciling thread before it lists ConfigMaps (so an update the predicate drops is one the
  // listing already sees), read by the ConfigMap watch's predicate.
  mutable absl::Mutex header_maps_mu_;
  std::set<std::string, std::less<>> header_maps_ ABSL_GUARDED_BY(header_maps_mu_);
  // Status-only updates of the kinds filtered for them, recorded by the filter (on the watches'
  // threads) and taken by the next build (Snapshot::status_only).
  absl::Mutex status_only_mu_;
  StatusOnlyReplacements status_only_ ABSL_GUARDED_BY(status_only_mu_);
  std::atomic<bool> ready_{false};
  std::atomic<bool> shutting_down_{false};
  std::atomic<uint64_t> lease_losses_{0};
  std::atomic<uint64_t> builds_{0};
  std::atomic<uint64_t> applies_{0};
  std::atomic<uint64_t> status_only_taken_{0};
};

}  // namespace kop::ingress
