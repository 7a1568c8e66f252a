// IngressController: caches -> model -> render -> proxy, then (leader) statuses and Events.
#include "ingress_controller.h"

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <optional>
#include <tuple>

#include <absl/cleanup/cleanup.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <absl/time/clock.h>
#include <absl/time/time.h>
#include "endpoint_slice_summary.h"
#include "gateway_status.h"
#include "json_text.h"
#include "kop/client/errors.h"
#include "kop/controller/builder.h"
#include "kop/controller/handler.h"
#include "kop/controller/predicate.h"
#include "kop/ingress/nginx_annotations.h"
#include "kop/ingress/status_only_change.h"
#include "kop/ingress/status_only_replacements.h"
#include "kop/log/log.h"
#include "kop/metrics/registry.h"

namespace kop::ingress {
namespace {

const kop::log::Logger& logger() {
  static const kop::log::Logger l = kop::log::Logger().with_name("ingress");
  return l;
}

struct Metrics {
  metrics::Counter& builds;
  metrics::Counter& applies;
  metrics::Counter& apply_errors;
  metrics::Histogram& build_seconds;
  metrics::Gauge& virtual_hosts;
  metrics::Gauge& clusters;
  metrics::Gauge& events;
  metrics::Gauge& nginx_ignored;
  metrics::Gauge& nginx_differ;
  static Metrics& get() {
    metrics::Registry& r = metrics::default_registry();
    static Metrics m{
        r.counter("kop_ingress_builds_total", "Model builds run."),
        r.counter("kop_ingress_config_applies_total", "Configs applied to the proxy."),
        r.counter("kop_ingress_config_apply_errors_total", "Configs the proxy refused."),
        r.histogram("kop_ingress_build_seconds", "Time to build, render and apply."),
        r.gauge("kop_ingress_virtual_hosts", "Virtual hosts in the last model."),
        r.gauge("kop_ingress_clusters", "Clusters in the last model."),
        r.gauge("kop_ingress_events", "Events (rejected objects) in the last model."),
        r.gauge("kop_ingress_nginx_annotations_ignored",
                "nginx.ingress.kubernetes.io annotations not applied (not supported or invalid; "
                "each has an AnnotationIgnored Event) in the last model."),
        r.gauge("kop_ingress_nginx_annotations_differ",
                "nginx.ingress.kubernetes.io annotations applied with a difference from "
                "ingress-nginx (each has an AnnotationDiffers Event) in the last model."),
    };
    return m;
  }
};

bool is_ip(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789.:abcdefABCDEF") == std::string_view::npos &&
         (s.find('.') != std::string_view::npos || s.find(':') != std::string_view::npos) &&
         s.find_first_of("ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ") == std::string_view::npos &&
         !(s.find(':') == std::string_view::npos &&
           s.find_first_of("abcdefABCDEF") != std::string_view::npos);
}

// A ConfigMap as the builds read it: its identity and `data` (only data's ca.crt unless
// `all_data`), in a pool of its own size. Labels, annotations (kubectl's last-applied copy of
// the data among them) and binaryData stay out of the cache.
api::ObjectPtr config_map_summary(const api::Object& map, bool all_data) {
  api::Object out(map.gvk());
  out.set_name(map.name());
  out.set_namespace(map.ns());
  if (!map.uid().empty()) out.set_uid(map.uid());
  if (!map.resource_version().empty()) out.set_resource_version(map.resource_version());
  if (map.is_being_deleted()) out.set_deletion_timestamp(map.deletion_timestamp());
  if (all_data) {
    if (const rapidjson::Value* data = map.at("/data"); data != nullptr && data->IsObject())
      out.set("/data", *data).IgnoreError();
  } else if (auto ca = map.get_string("/data/ca.crt")) {
    out.set_string("/data/ca.crt", *ca).IgnoreError();
  }
  return api::share(api::Object(out));  // the copy is sized to the object
}

// One kind of a build's snapshot: where its listing goes and the KindListing that keeps it.
struct ListedKind {
  const api::GroupVersionKind* gvk;
  std::vector<api::ObjectPtr>* out;
  KindListing* listing;
};

// Brings each kind's listing up to the cache (kind_listing.h); the first error stops.
absl::Status refresh(cache::Cache& cache, std::initializer_list<ListedKind> kinds) {
  for (const ListedKind& k : kinds)
    if (absl::Status s = k.listing->refresh(cache, *k.gvk, *k.out); !s.ok()) return s;
  return absl::OkStatus();
}

}  // namespace

void configure_cache(cache::CacheOptions& options, const Kinds& kinds, bool gateway_api,
                     bool all_secrets) {
  cache::ByObject secrets;
  if (!all_secrets) secrets.field_selector = "type=kubernetes.io/tls";
  options.by_object[kinds.secret] = secrets;
  cache::ByObject maps;
  maps.transform = [all_data = all_secrets](const api::ObjectPtr& map) {
    return config_map_summary(*map, all_data);
  };
  options.by_object[kinds.config_map] = std::move(maps);
  struct CrdKind {
    const api::GroupVersionKind* gvk;
    const char* plural;
    bool namespaced;
  };
  // kop's own CRDs and Gateway API's are optional: Ingress users need not install them, and
  // they may come and go.
  std::vector<CrdKind> crd_kinds = {{&kinds.ingress_route, "ingressroutes", true},
                                    {&kinds.tls_delegation, "tlscertificatedelegations", true}};
  if (gateway_api)
    crd_kinds.insert(crd_kinds.end(), {{&kinds.gateway_class, "gatewayclasses", false},
                                       {&kinds.gateway, "gateways", true},
                                       {&kinds.http_route, "httproutes", true},
                                       {&kinds.grpc_route, "grpcroutes", true},
                                       {&kinds.tls_route, "tlsroutes", true},
                                       {&kinds.reference_grant, "referencegrants", true},
                                       {&kinds.backend_tls_policy, "backendtlspolicies", true}});
  for (auto [gvk, plural, namespaced] : crd_kinds) {
    cache::ByObject crd_kind;
    crd_kind.resource = plural;
    crd_kind.namespaced = namespaced;
    crd_kind.optional = true;
    std::string kinds = gvk->kind + (gvk->kind.back() == 's' ? "es" : "s");
    crd_kind.presence_changed = [kind = gvk->kind, kinds,
                                 was_served = std::make_shared<bool>(false)](bool served) {
      if (served) {
        logger().info(absl::StrCat(kind, " CRD installed: ", kinds, " are served"));
      } else if (*was_served) {
        logger().info(absl::StrCat(kind, " CRD removed: ", kinds, " are no longer served"));
      } else {
        logger().info(absl::StrCat(kind, " CRD not installed: ", kinds, " are not served"));
      }
      *was_served = served;
    };
    options.by_object[*gvk] = std::move(crd_kind);
  }
  cache::ByObject slices;
  slices.resource = "endpointslices";
  slices.namespaced = true;
  // What a build reads of each slice; a cache that shares kop::local's objects keeps them whole
  // (a summary would be a second copy).
  if (!options.share_objects)
    slices.transform = [](const api::ObjectPtr& slice) { return endpoint_slice_summary(*slice); };
  options.by_object[kinds.endpoint_slice] = slices;
}

class IngressController::BuildReconciler : public controller::Reconciler {
 public:
  explicit BuildReconciler(IngressController& owner) : owner_(owner) {}
  absl::StatusOr<controller::Result> reconcile(const controller::Context&,
                                               const controller::Request&) override {
    const auto start = std::chrono::steady_clock::now();
    absl::Status s = owner_.reconcile();
    // With its snapshot released: dropping the listings is part of a build's cost.
    logger().debug(
        "build done (ms)", "total",
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    if (!s.ok()) {
      logger().error(s, "build failed");
      return s;  // retried through the controller's rate limiter
    }
    return controller::Result{};
  }

 private:
  IngressController& owner_;
};

IngressController::IngressController(manager::Manager& manager, proxy::Proxy& proxy,
                                     ControllerOptions options)
    : manager_(manager),
      client_(manager.client()),
      cache_(manager.cache()),
      proxy_(proxy),
      options_(std::move(options)),
      services_(options_.publish_service, options_.gateway.services),
      status_(
          options_.status_client != nullptr ? *options_.status_client : client_, cache_,
          StatusWriterOptions{.ingress = options_.kinds.ingress,
                              .ingress_route = options_.kinds.ingress_route,
                              .gateway_class = options_.kinds.gateway_class,
                              .gateway = options_.kinds.gateway,
                              .http_route = options_.kinds.http_route,
                              .service = options_.kinds.service,
                              .gateway_services = options_.gateway.services,
                              .gateway_controller_name = options_.gateway.translate.controller_name,
                              .component = options_.component,
                              .retry_base = options_.status_retry_base,
                              .may_write = [&manager] { return manager.is_leader(); }}) {}

IngressController::~IngressController() {
  if (controller_) stop_controller(absl::ZeroDuration()).IgnoreError();
}

absl::Status IngressController::setup() {
  if (controller_) return absl::FailedPreconditionError("IngressController: setup() twice");
  // Every event of every watched kind asks for the one build.
  auto to_build = controller::enqueue_requests_from_map_func(
      [](const api::Object&) { return std::vector<controller::Request>{kBuildRequest}; });
  controller::ControllerOptions co;
  co.name = options_.name;
  co.max_concurrent_reconciles = 1;
  co.cache_sync_timeout = options_.cache_sync_timeout;
  co.registry = &manager_.registry();
  controller::Builder b(cache_);
  b.named(options_.name)
      .with_options(co)
      .with_event_filter(controller::resource_version_changed());  // resyncs change nothing
  const Kinds& k = options_.kinds;
  // Status-only updates of Ingresses and IngressRoutes (the status writer's own writes) change
  // nothing a build reads. Services keep them: --publish-service reads a Service's status.
  // The answer is recorded for the next build, which then takes the replaced objects by pointer
  // (status_only_replacements.h: after a status round, every Ingress); past
  // status_only_build_at of them, a build is asked for so the record lets the old objects go.
  controller::Predicate not_status_only;
  not_status_only.update = [this](const controller::UpdateEvent& e) {
    if (!e.object_old || !e.object_new) return true;
    const bool status_only = only_status_changed(*e.object_old, *e.object_new);
    absl::MutexLock lock(&status_only_mu_);
    status_only_.record(e.object_old, e.object_new, status_only);
    return !status_only || status_only_.size() >= options_.status_only_build_at;
  };
  for (const auto* gvk :
       {&k.ingress_class, &k.service, &k.secret, &k.endpoint_slice, &k.tls_delegation})
    b.watches(*gvk, to_build);
  for (const auto* gvk : {&k.ingress, &k.ingress_route})
    b.watches(*gvk, to_build, {not_status_only});
  const bool gateway = options_.gateway.enabled;
  const bool nginx = options_.model.nginx_annotations;
  if (gateway || nginx) {
    // ConfigMaps matter for their ca.crt (BackendTLSPolicy CAs) and as custom-headers: an update
    // of any other (leader-election locks, application settings) asks for no build.
    controller::Predicate read_maps;
    read_maps.update = [this, gateway, nginx](const controller::UpdateEvent& e) {
      auto has_ca = [](const auto& o) { return o && o->get_string("/data/ca.crt").has_value(); };
      if (gateway && (has_ca(e.object_old) || has_ca(e.object_new))) return true;
      return nginx && e.object_new && names_header_map(*e.object_new);
    };
    b.watches(k.config_map, to_build, {read_maps});
  }
  if (gateway) {
    for (const auto* gvk : {&k.reference_grant, &k.namespace_}) b.watches(*gvk, to_build);
    for (const auto* gvk : {&k.gateway_class, &k.gateway, &k.http_route, &k.grpc_route,
                            &k.tls_route, &k.backend_tls_policy})
      b.watches(*gvk, to_build, {not_status_only});
  }
  auto built = b.build(std::make_shared<BuildReconciler>(*this));
  if (!built.ok()) return built.status();
  controller_ = std::move(*built);
  // An empty cluster still gets its (empty) config and listeners: one build after the sync.
  controller_->queue().add(kBuildRequest);

  manager_.add_runnable(
      "ingress-build", [this] { return start_controller(); },
      [this](absl::Duration timeout) { return stop_controller(timeout); }, /*leader_only=*/false);
  manager_.add_runnable(
      "ingress-status",
      [this] {
        // Called again each time the Lease is won again: the writer writes at once what
        // differs from the last build.
        status_.set_writing(true);
        logger().info("leading: writing statuses and Events");
        return absl::OkStatus();
      },
      [this](absl::Duration) {
        status_.set_writing(false);
        if (!shutting_down_.load()) {
          lease_losses_.fetch_add(1);
          logger().warn(
              "leadership lost: still serving; statuses and Events are written again when this "
              "replica wins the Lease again");
        }
        return absl::OkStatus();
      },
      /*leader_only=*/true);
  manager_.add_readyz_check("proxy-config", [this]() -> absl::Status {
    return ready() ? absl::OkStatus() : absl::UnavailableError("no config applied yet");
  });
  manager_.add_healthz_check("ingress-controller", [this]() -> absl::Status {
    absl::MutexLock lock(&start_mu_);
    return start_status_;
  });
  return absl::OkStatus();
}

absl::Status IngressController::start_controller() {
  // Controller::start() waits for the caches to sync; the Manager wants start() to return at
  // once, so it runs on its own thread.
  status_.start();
  starter_ = std::thread([this] {
    absl::Status s = controller_->start();
    if (!s.ok() && !absl::IsCancelled(s) && !shutting_down_.load()) {
      logger().error(s, "the ingress controller did not start");
      absl::MutexLock lock(&start_mu_);
      start_status_ = s;
    }
  });
  return absl::OkStatus();
}

absl::Status IngressController::stop_controller(absl::Duration timeout) {
  absl::Status s = controller_->stop(timeout);
  if (starter_.joinable()) starter_.join();
  status_.stop();
  return s;
}

bool IngressController::names_header_map(const api::Object& o) const {
  std::string key(o.ns());
  key.append("/").append(o.name());
  absl::MutexLock lock(&header_maps_mu_);
  return header_maps_.count(key) != 0;
}

absl::Status IngressController::reconcile() {
  // Stage times for the debug log: what one change costs between the event and the proxy.
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  Clock::time_point mark = start;
  auto lap = [&mark] {
    const Clock::time_point now = Clock::now();
    const double ms = std::chrono::duration<double, std::milli>(now - mark).count();
    mark = now;
    return ms;
  };
  const Kinds& k = options_.kinds;
  // Kept between builds: each kind's listing is patched with what was written since the last.
  Snapshot& snap = snapshot_;
  Listings& l = listings_;
  // The status-only updates recorded so far, taken before the listings: each replacement they
  // name is then in the listings (or replaced again since, and compared). Dropped with this
  // build: they hold the objects replaced.
  StatusOnlyReplacements status_only;
  {
    absl::MutexLock lock(&status_only_mu_);
    std::swap(status_only, status_only_);
  }
  snap.status_only = &status_only;
  absl::Cleanup forget_status_only = [&snap] { snap.status_only = nullptr; };
  if (absl::Status s =
          refresh(cache_, {{&k.ingress, &snap.ingresses, &l.ingresses},
                           {&k.ingress_class, &snap.ingress_classes, &l.ingress_classes},
                           {&k.service, &snap.services, &l.services},
                           {&k.secret, &snap.secrets, &l.secrets},
                           {&k.endpoint_slice, &snap.endpoint_slices, &l.endpoint_slices},
                           {&k.ingress_route, &snap.ingress_routes, &l.ingress_routes},
                           {&k.tls_delegation, &snap.tls_delegations, &l.tls_delegations}});
      !s.ok())
    return s;
  services_.update(snap.services);
  if (options_.model.nginx_annotations) {
    std::set<std::string, std::less<>> maps;
    for (const auto& ing : snap.ingresses)
      if (auto key = nginx_custom_headers_key(*ing)) maps.insert(*std::move(key));
    {
      absl::MutexLock lock(&header_maps_mu_);
      header_maps_ = std::move(maps);
    }
    if (absl::Status s = refresh(cache_, {{&k.config_map, &snap.config_maps, &l.config_maps}});
        !s.ok())
      return s;
  }
  const double list_ms = lap();
  // Patched in place by the cache: only what the changes reach is built again.
  const Model& model = build_cache_.build(snap, options_.model);
  status_only_taken_.fetch_add(build_cache_.status_only_taken());
  // What the last render made, if this build gets to render: a build that returns early leaves
  // none, so the next renders in full.
  std::shared_ptr<const proxy::Config> last_rendered = std::move(last_rendered_);
  const double model_ms = lap();
  // Kept between builds as the Snapshot is.
  gateway::Snapshot& gsnap = gateway_snapshot_;
  gateway::Result gw;
  std::vector<BoundFrontDoor> doors;
  if (options_.gateway.enabled) {
    gsnap.base = &snap;
    if (absl::Status listed = list_gateway_objects(gsnap); !listed.ok()) return listed;
    const bool empty = gsnap.gateway_classes.empty() && gsnap.gateways.empty() &&
                       gsnap.http_routes.empty() && gsnap.grpc_routes.empty() &&
                       gsnap.tls_routes.empty() && gsnap.reference_grants.empty() &&
                       gsnap.backend_tls_policies.empty() && services_.gateway_owned().empty();
    // Translated once empty (so the translation cache, statuses and bindings are empty too),
    // nothing to do while it stays so: a cluster serving Ingresses only pays nothing for it.
    if (!(empty && gateway_empty_)) {
      auto translated = translate_gateways(gsnap);
      if (!translated.ok()) return translated.status();
      gw = *std::move(translated);
      doors = bind_front_doors(gw, gsnap);
    }
    gateway_empty_ = empty;
  }
  const double gateway_ms = lap();
  // The translator's clusters join the model's in render, not in a copy of the cache's Model
  // (a whole Model per build). Same names, same rules: a cluster both use is one cluster.
  // A build that replaced clusters only (an EndpointSlice changed) patches the last Config: no
  // host looked up, no listener list built.
  const bool plain = doors.empty() && gw.clusters.empty();
  std::optional<PatchedConfig> patched;
  if (plain && last_rendered && build_cache_.clusters_only())
    patched = render_replaced_clusters(*last_rendered, build_cache_.replaced_clusters(),
                                       options_.render, render_cache_);
  proxy::Config config = patched
                             ? std::move(patched->config)
                             : render(model, options_.render, doors, gw.clusters, &render_cache_);
  gw.clusters.clear();
  const double render_ms = lap();
  builds_.fetch_add(1);
  Metrics& m = Metrics::get();
  m.builds.inc();
  m.virtual_hosts.set(static_cast<double>(model.virtual_hosts.size()));
  const size_t clusters = config.clusters.size();
  m.clusters.set(static_cast<double>(clusters));
  m.events.set(static_cast<double>(model.events.size()));
  auto reasons = [&](std::string_view reason) {
    return static_cast<double>(std::count_if(model.events.begin(), model.events.end(),
                                             [&](const Event& e) { return e.reason == reason; }));
  };
  m.nginx_ignored.set(reasons("AnnotationIgnored"));
  m.nginx_differ.set(reasons("AnnotationDiffers"));
  // The generation label is the only field that differs between two equal builds: borrow the
  // applied one for the comparison.
  if (last_applied_) config.generation = last_applied_->generation;
  // A patch of the applied Config compares its replaced clusters only.
  const bool changed = patched && last_rendered == last_applied_
                           ? !patched->same
                           : !last_applied_ || !(*last_applied_ == config);
  const double compare_ms = lap();
  if (changed) {
    config.generation = std::to_string(applies_.load() + 1);
    // Moved, not copied: the proxy's table and last_applied_ share this one Config.
    auto applied = std::make_shared<const proxy::Config>(std::move(config));
    absl::Status s = proxy_.apply(applied);
    if (!s.ok()) {
      m.apply_errors.inc();
      return s;
    }
    last_applied_ = std::move(applied);
    if (plain) last_rendered_ = last_applied_;
    applies_.fetch_add(1);
    m.applies.inc();
    logger().info("config applied", "virtual_hosts", model.virtual_hosts.size(),
                  "gateway_front_doors", doors.size(), "clusters", clusters, "events",
                  model.events.size(), "ingresses_translated", build_cache_.translated(),
                  "ingresses_reused", build_cache_.reused(), "ingresses_status_only",
                  build_cache_.status_only_taken(), "hosts_assembled",
                  build_cache_.hosts_assembled(), "gateway_routes_translated",
                  gateway_cache_.translated(), "gateway_routes_reused", gateway_cache_.reused(),
                  "hosts_rendered", render_cache_.rendered(), "clusters_patched",
                  patched.has_value(), "proxy_version", proxy_.version());
  } else if (plain) {
    last_rendered_ = last_rendered == last_applied_ && patched && patched->same
                         ? last_applied_
                         : std::make_shared<const proxy::Config>(std::move(config));
  }
  const double apply_ms = lap();
  log_front_doors(doors);
  ready_.store(true);
  m.build_seconds.observe(std::chrono::duration<double>(Clock::now() - start).count());
  // The API is written on the status writer's thread, never here.
  status_.publish(desired_status(snap, model, gsnap, std::move(gw)));
  const double status_ms = lap();
  logger().debug("build stages (ms)", "list", list_ms, "model", model_ms, "gateway", gateway_ms,
                 "render", render_ms, "compare", compare_ms, "apply", apply_ms, "status", status_ms,
                 "applied", changed);
  return absl::OkStatus();
}

absl::Status IngressController::list_gateway_objects(gateway::Snapshot& snapshot) {
  const Kinds& k = options_.kinds;
  GatewayListings& l = gateway_listings_;
  return refresh(
      cache_, {{&k.gateway_class, &snapshot.gateway_classes, &l.gateway_classes},
               {&k.gateway, &snapshot.gateways, &l.gateways},
               {&k.http_route, &snapshot.http_routes, &l.http_routes},
               {&k.grpc_route, &snapshot.grpc_routes, &l.grpc_routes},
               {&k.tls_route, &snapshot.tls_routes, &l.tls_routes},
               {&k.reference_grant, &snapshot.reference_grants, &l.reference_grants},
               {&k.backend_tls_policy, &snapshot.backend_tls_policies, &l.backend_tls_policies}});
}

absl::StatusOr<gateway::Result> IngressController::translate_gateways(gateway::Snapshot& snapshot) {
  const Kinds& k = options_.kinds;
  // What the translation reads besides the Gateway API's own objects.
  GatewayListings& l = gateway_listings_;
  if (absl::Status s = refresh(cache_, {{&k.config_map, &snapshot.config_maps, &l.config_maps},
                                        {&k.namespace_, &snapshot.namespaces, &l.namespaces}});
      !s.ok())
    return s;
  gateway::Options go = options_.gateway.translate;
  if (options_.gateway.local) {
    // Gateways whose class names our controller (the translator decides the rest).
    std::set<std::string, std::less<>> classes;
    for (const auto& c : snapshot.gateway_classes)
      if (c->get_string("/spec/controllerName").value_or("") == go.controller_name)
        classes.insert(std::string(c->name()));
    std::vector<api::ObjectPtr> ours;
    for (const auto& g : snapshot.gateways)
      if (classes.count(g->get_string("/spec/gatewayClassName").value_or("")) != 0)
        ours.push_back(g);
    gateway_addresses_ = local_addresses_.assign(ours);
    for (const auto& [key, addr] : gateway_addresses_) go.addresses[key] = {addr};
  } else if (options_.gateway.services.type != GatewayServiceType::kNone) {
    go.addresses = gateway_service_addresses(services_.gateway_owned(), options_.gateway.services);
  } else if (auto published = addresses_of_json(published_addresses_json()); !published.empty()) {
    for (const auto& g : snapshot.gateways) go.addresses[g->key()] = published;
  }
  return gateway::translate(snapshot, go, &gateway_cache_);
}

std::vector<BoundFrontDoor> IngressController::bind_front_doors(gateway::Result& result,
                                                                const gateway::Snapshot& snapshot) {
  std::vector<BoundFrontDoor> out;
  if (!options_.gateway.local) {
    const GatewayServiceOptions& so = options_.gateway.services;
    if (so.type == GatewayServiceType::kNone) {
      std::set<uint16_t> taken{options_.render.http_address.port,
                               options_.render.admin.address.port};
      if (options_.render.https_address) taken.insert(options_.render.https_address->port);
      bindings_ = plan_direct_ports(result.front_doors, snapshot.gateways, taken);
      for (const auto& s : services_.gateway_owned())
        bindings_.stale.emplace_back(s->name());  // provisioned before: no longer
    } else {
      bindings_ = plan_gateway_services(result.front_doors, services_.gateway_owned(), so);
    }
    apply_bindings(bindings_, snapshot.gateways, result);
    for (const gateway::FrontDoor& d : result.front_doors)
      if (auto b = bindings_.bound.find({d.gateway.key(), d.port}); b != bindings_.bound.end())
        out.push_back(
            BoundFrontDoor{&d, proxy::SocketAddress{options_.render.http_address.host, b->second}});
    return out;
  }
  for (const gateway::FrontDoor& d : result.front_doors) {
    auto addr = gateway_addresses_.find(d.gateway.key());
    uint32_t port = d.port + options_.gateway.local_port_offset;
    if (addr == gateway_addresses_.end() || port > 65535) continue;
    out.push_back(BoundFrontDoor{&d, proxy::SocketAddress{addr->second, uint16_t(port)}});
  }
  return out;
}

void IngressController::log_front_doors(const std::vector<BoundFrontDoor>& doors) {
  std::set<std::string> now;
  for (const BoundFrontDoor& b : doors) {
    std::string bound = b.address.host + ":" + std::to_string(b.address.port);
    std::string key = b.door->gateway.key() + "|" + std::to_string(b.door->port) + "|" + bound;
    now.insert(key);
    if (logged_doors_.count(key) != 0) continue;
    logger().info("gateway front door", "gateway", b.door->gateway.key(), "address", b.address.host,
                  "port", b.door->port, "protocol", b.door->protocol, "bound", bound);
  }
  logged_doors_ = std::move(now);
}

std::string IngressController::published_addresses_json() const {
  // status.loadBalancer.ingress entries: {"ip": ...} or {"hostname": ...}.
  if (!options_.publish_address.empty()) {
    std::string out = "[";
    for (absl::string_view a : absl::StrSplit(options_.publish_address, ',', absl::SkipEmpty())) {
      std::string_view addr(a.data(), a.size());
      if (out.size() > 1) out += ",";
      out += std::string("{\"") + (is_ip(addr) ? "ip" : "hostname") +
             "\":" + json_text::quote(addr) + "}";
    }
    return out + "]";
  }
  if (const api::ObjectPtr& s = services_.published()) {
    const rapidjson::Value* v = s->at("/status/loadBalancer/ingress");
    return v && v->IsArray() ? json_text::of(v) : "[]";
  }
  return "[]";
}

void IngressController::update_ingress_statuses(const Snapshot& snapshot, const Model& model) {
  std::string published = published_addresses_json();
  // A status write changes no desired status (status_of() reads no status): not in the diff.
  const ListDiff ingresses = status_ingress_list_.update(snapshot.ingresses, snapshot.status_only);
  const ListDiff classes = status_class_list_.update(snapshot.ingress_classes);
  // An Ingress' status follows from whether it is ours (a function of the Ingress, the
  // IngressClasses and the options) and the published addresses: only a changed Ingress changes
  // its own, unless the classes or the addresses changed.
  const bool all =
      !ingress_statuses_valid_ || !classes.empty() || published != ingress_statuses_published_;
  auto status_of = [&](const api::Object& ing) -> std::optional<DesiredIngressStatus> {
    ObjectRef ref{"Ingress", std::string(ing.ns()), std::string(ing.name())};
    if (std::binary_search(model.owned_ingresses.begin(), model.owned_ingresses.end(), ref))
      return DesiredIngressStatus{published, ""};
    if (published != "[]") return DesiredIngressStatus{"[]", published};  // no longer ours
    return std::nullopt;
  };
  auto key_of = [](const api::Object& ing) {
    std::string key(ing.ns());
    return key.append("/").append(ing.name());
  };
  if (all) {
    std::vector<std::pair<std::string, DesiredIngressStatus>> statuses;
    statuses.reserve(snapshot.ingresses.size());
    for (const auto& ing : snapshot.ingresses)
      if (auto s = status_of(*ing)) statuses.emplace_back(key_of(*ing), *std::move(s));
    ingress_statuses_.assign(std::move(statuses));
  } else {
    // Added first: an Ingress updated (its status written, say) keeps its key, and set()
    // copies nothing when its status stays the same.
    std::set<std::string, std::less<>> added;
    for (const auto& ing : ingresses.added) {
      std::string key = key_of(*ing);
      if (auto s = status_of(*ing))
        ingress_statuses_.set(key, *std::move(s));
      else
        ingress_statuses_.erase(key);
      added.insert(std::move(key));
    }
    for (const auto& ing : ingresses.removed)
      if (std::string key = key_of(*ing); added.count(key) == 0) ingress_statuses_.erase(key);
  }
  ingress_statuses_valid_ = true;
  ingress_statuses_published_ = std::move(published);
}

std::shared_ptr<const DesiredStatus> IngressController::desired_status(
    const Snapshot& snapshot, const Model& model, const gateway::Snapshot& gateway_snapshot,
    gateway::Result gateway_result) {
  auto d = std::make_shared<DesiredStatus>();
  update_ingress_statuses(snapshot, model);
  d->ingresses = ingress_statuses_;  // shares every shard
  d->routes = model.ingress_route_statuses;
  d->events = model.events;
  d->gateway_classes = std::move(gateway_result.class_statuses);
  d->gateways = std::move(gateway_result.gateway_statuses);
  // Sorted by route (gateway::Result says so; checked, as a route missed here would lose its
  // status): the routes with a status are found by binary search, no set of 10k names made.
  std::vector<gateway::RouteStatus>& statuses = gateway_result.route_statuses;
  auto by_route = [](const gateway::RouteStatus& a, const gateway::RouteStatus& b) {
    return a.route < b.route;
  };
  if (!std::is_sorted(statuses.begin(), statuses.end(), by_route))
    std::sort(statuses.begin(), statuses.end(), by_route);
  auto has_status = [&statuses](std::string_view kind, std::string_view ns, std::string_view name) {
    auto key = [](const ObjectRef& r) {
      return std::tuple<std::string_view, std::string_view, std::string_view>(r.kind, r.ns, r.name);
    };
    const std::tuple<std::string_view, std::string_view, std::string_view> want{kind, ns, name};
    auto it = std::lower_bound(
        statuses.begin(), statuses.end(), want,
        [&key](const gateway::RouteStatus& s, const auto& w) { return key(s.route) < w; });
    return it != statuses.end() && key(it->route) == want;
  };
  // Routes that no longer name one of our Gateways: our old status.parents entries go.
  std::vector<gateway::RouteStatus> unparented;
  for (auto [kind, routes] : {std::pair{"HTTPRoute", &gateway_snapshot.http_routes},
                              std::pair{"GRPCRoute", &gateway_snapshot.grpc_routes},
                              std::pair{"TLSRoute", &gateway_snapshot.tls_routes}}) {
    for (const auto& r : *routes)
      if (!has_status(kind, r->ns(), r->name()) &&
          gateway_status::has_parent_of(*r, options_.gateway.translate.controller_name))
        unparented.push_back(gateway::RouteStatus{
            ObjectRef{kind, std::string(r->ns()), std::string(r->name())}, {}});
  }
  for (std::vector<gateway::RouteStatus>* list : {&statuses, &unparented})
    for (gateway::RouteStatus& r : *list)
      (r.route.kind == "TLSRoute"    ? d->tls_routes
       : r.route.kind == "GRPCRoute" ? d->grpc_routes
                                     : d->http_routes)
          .push_back(std::move(r));
  // BackendTLSPolicies: ours, and those no route of ours uses any more (our entries go).
  std::set<ObjectRef> policies;
  for (const gateway::PolicyStatus& p : gateway_result.policy_statuses) policies.insert(p.policy);
  d->backend_tls_policies = std::move(gateway_result.policy_statuses);
  for (const auto& p : gateway_snapshot.backend_tls_policies) {
    ObjectRef ref{"BackendTLSPolicy", std::string(p->ns()), std::string(p->name())};
    if (policies.count(ref) == 0 &&
        gateway_status::has_ancestor_of(*p, options_.gateway.translate.controller_name))
      d->backend_tls_policies.push_back(gateway::PolicyStatus{ref, {}});
  }
  d->events.insert(d->events.end(), gateway_result.events.begin(), gateway_result.events.end());
  d->gateway_services = bindings_.services;
  d->gateway_services_stale = bindings_.stale;
  return d;
}

}  // namespace kop::ingress
