// IngressController: caches -> model -> render -> proxy, then (leader) statuses and Events.
#include "ingress_controller.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kop/client/errors.h"
#include "kop/controller/builder.h"
#include "kop/controller/handler.h"
#include "kop/controller/predicate.h"
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
    };
    return m;
  }
};

std::string now_rfc3339() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

std::string json_string(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

std::string value_json(const rapidjson::Value* v) {
  if (v == nullptr) return "null";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v->Accept(w);
  return buf.GetString();
}

bool is_ip(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789.:abcdefABCDEF") == std::string_view::npos &&
         (s.find('.') != std::string_view::npos || s.find(':') != std::string_view::npos) &&
         s.find_first_of("ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ") == std::string_view::npos &&
         !(s.find(':') == std::string_view::npos &&
           s.find_first_of("abcdefABCDEF") != std::string_view::npos);
}

// client-go's recorder names Events "<object>.<unix nanoseconds in hex>".
std::string event_name(const std::string& object) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx",
                static_cast<unsigned long long>(absl::ToUnixNanos(absl::Now())));
  return object + "." + buf;
}

}  // namespace

void configure_cache(cache::CacheOptions& options, const Kinds& kinds) {
  cache::ByObject secrets;
  secrets.field_selector = "type=kubernetes.io/tls";
  options.by_object[kinds.secret] = secrets;
  cache::ByObject routes;
  routes.resource = "ingressroutes";
  routes.namespaced = true;
  options.by_object[kinds.ingress_route] = routes;
  cache::ByObject delegations;
  delegations.resource = "tlscertificatedelegations";
  delegations.namespaced = true;
  options.by_object[kinds.tls_delegation] = delegations;
  cache::ByObject slices;
  slices.resource = "endpointslices";
  slices.namespaced = true;
  options.by_object[kinds.endpoint_slice] = slices;
}

class IngressController::BuildReconciler : public controller::Reconciler {
 public:
  explicit BuildReconciler(IngressController& owner) : owner_(owner) {}
  absl::StatusOr<controller::Result> reconcile(const controller::Context&,
                                               const controller::Request&) override {
    absl::Status s = owner_.reconcile();
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
      options_(std::move(options)) {}

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
  for (const auto* gvk : {&k.ingress, &k.ingress_class, &k.service, &k.secret, &k.endpoint_slice,
                          &k.ingress_route, &k.tls_delegation})
    b.watches(*gvk, to_build);
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
        leading_.store(true);
        logger().info("leading: writing statuses and Events");
        // Write the statuses now, not at the next change.
        controller_->queue().add(kBuildRequest);
        return absl::OkStatus();
      },
      [this](absl::Duration) {
        leading_.store(false);
        if (!shutting_down_.load()) {
          lease_lost_.store(true);
          logger().error("leadership lost: statuses and Events are no longer written here");
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
  manager_.add_healthz_check("leader-election", [this]() -> absl::Status {
    return lease_lost() ? absl::UnavailableError("the Lease was lost; restart to campaign again")
                        : absl::OkStatus();
  });
  return absl::OkStatus();
}

absl::Status IngressController::start_controller() {
  // Controller::start() waits for the caches to sync; the Manager wants start() to return at
  // once, so it runs on its own thread.
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
  return s;
}

absl::StatusOr<std::vector<api::ObjectPtr>> IngressController::list(
    const api::GroupVersionKind& gvk) {
  std::shared_ptr<cache::Informer> informer = cache_.find_informer(gvk);
  if (!informer) return absl::FailedPreconditionError("no informer for " + gvk.kind);
  return informer->list();
}

absl::Status IngressController::reconcile() {
  auto start = std::chrono::steady_clock::now();
  const Kinds& k = options_.kinds;
  Snapshot snap;
  struct Part {
    const api::GroupVersionKind* gvk;
    std::vector<api::ObjectPtr>* out;
  };
  for (const Part& p :
       {Part{&k.ingress, &snap.ingresses}, Part{&k.ingress_class, &snap.ingress_classes},
        Part{&k.service, &snap.services}, Part{&k.secret, &snap.secrets},
        Part{&k.endpoint_slice, &snap.endpoint_slices},
        Part{&k.ingress_route, &snap.ingress_routes},
        Part{&k.tls_delegation, &snap.tls_delegations}}) {
    auto objects = list(*p.gvk);
    if (!objects.ok()) return objects.status();
    *p.out = std::move(*objects);
  }
  Model model = build_model(snap, options_.model);
  proxy::Config config = render(model, options_.render);
  builds_.fetch_add(1);
  Metrics& m = Metrics::get();
  m.builds.inc();
  m.virtual_hosts.set(static_cast<double>(model.virtual_hosts.size()));
  m.clusters.set(static_cast<double>(model.clusters.size()));
  m.events.set(static_cast<double>(model.events.size()));
  if (!last_applied_ || !(*last_applied_ == config)) {
    config.generation = std::to_string(applies_.load() + 1);
    proxy::Config compare = config;
    absl::Status s = proxy_.apply(config);
    if (!s.ok()) {
      m.apply_errors.inc();
      return s;
    }
    compare.generation.clear();
    last_applied_ = std::move(compare);
    applies_.fetch_add(1);
    m.applies.inc();
    logger().info("config applied", "virtual_hosts", model.virtual_hosts.size(), "clusters",
                  model.clusters.size(), "events", model.events.size(), "proxy_version",
                  proxy_.version());
  }
  ready_.store(true);
  m.build_seconds.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (leading_.load()) {
    write_ingress_status(snap, model);
    write_route_status(snap, model);
    record_events(model);
    status_passes_.fetch_add(1);
  }
  return absl::OkStatus();
}

std::string IngressController::published_addresses_json(const Snapshot& snapshot) const {
  // status.loadBalancer.ingress entries: {"ip": ...} or {"hostname": ...}.
  if (!options_.publish_address.empty()) {
    std::string out = "[";
    for (absl::string_view a : absl::StrSplit(options_.publish_address, ',', absl::SkipEmpty())) {
      std::string_view addr(a.data(), a.size());
      if (out.size() > 1) out += ",";
      out +=
          std::string("{\"") + (is_ip(addr) ? "ip" : "hostname") + "\":" + json_string(addr) + "}";
    }
    return out + "]";
  }
  if (!options_.publish_service.empty()) {
    auto slash = options_.publish_service.find('/');
    std::string ns = options_.publish_service.substr(0, slash);
    std::string name = slash == std::string::npos ? "" : options_.publish_service.substr(slash + 1);
    for (const auto& s : snapshot.services)
      if (s->ns() == ns && s->name() == name) {
        const rapidjson::Value* v = s->at("/status/loadBalancer/ingress");
        return v && v->IsArray() ? value_json(v) : "[]";
      }
  }
  return "[]";
}

void IngressController::write_ingress_status(const Snapshot& snapshot, const Model& model) {
  std::string desired = published_addresses_json(snapshot);
  std::set<std::string> owned;
  for (const auto& r : model.owned_ingresses) owned.insert(r.key());
  for (const auto& ing : snapshot.ingresses) {
    const rapidjson::Value* current = ing->at("/status/loadBalancer/ingress");
    std::string current_json =
        current && current->IsArray() && current->Size() > 0 ? value_json(current) : "[]";
    std::string want;
    if (owned.count(ing->key()))
      want = desired;
    else if (desired != "[]" && current_json == desired)
      want = "[]";  // no longer ours
    else
      continue;
    if (want == current_json) continue;
    api::Object next(*ing);
    absl::Status s =
        next.set_json("/status/loadBalancer", want == "[]" ? "{}" : "{\"ingress\":" + want + "}");
    if (s.ok()) {
      auto r = client_.update_status(
          client::ResourceRef::of(options_.kinds.ingress, ing->ns(), ing->name()), next);
      s = r.status();
    }
    if (!s.ok()) logger().warn("cannot update Ingress status", "ingress", ing->key(), "error", s);
  }
}

void IngressController::write_route_status(const Snapshot& snapshot, const Model& model) {
  for (const auto& st : model.ingress_route_statuses) {
    api::ObjectPtr ir;
    for (const auto& o : snapshot.ingress_routes)
      if (o->ns() == st.route.ns && o->name() == st.route.name) ir = o;
    if (!ir) continue;
    std::string_view current = ir->get_string("/status/currentStatus").value_or("");
    std::string_view desc = ir->get_string("/status/description").value_or("");
    int64_t observed = ir->get_int("/status/observedGeneration").value_or(-1);
    std::string status(to_string(st.status));
    if (current == status && desc == st.description && observed == st.generation) continue;
    std::string reason = st.status == RouteStatus::kValid     ? "Valid"
                         : st.status == RouteStatus::kInvalid ? "Invalid"
                                                              : "Orphaned";
    std::string gen = std::to_string(st.generation);
    std::string json =
        "{\"currentStatus\":" + json_string(status) +
        ",\"description\":" + json_string(st.description) + ",\"observedGeneration\":" + gen +
        ",\"conditions\":[{\"type\":\"Valid\",\"status\":\"" +
        (st.status == RouteStatus::kValid ? "True" : "False") + "\",\"observedGeneration\":" + gen +
        ",\"lastTransitionTime\":\"" + now_rfc3339() + "\",\"reason\":\"" + reason +
        "\",\"message\":" + json_string(st.description) + "}]}";
    api::Object next(*ir);
    absl::Status s = next.set_json("/status", json);
    if (s.ok())
      s = client_
              .update_status(
                  client::ResourceRef::of(options_.kinds.ingress_route, ir->ns(), ir->name()), next)
              .status();
    if (!s.ok()) logger().warn("cannot update IngressRoute status", "route", ir->key(), "error", s);
  }
}

void IngressController::record_events(const Model& model) {
  // The same rejection is recorded once per process (the API server would aggregate repeats
  // into a count anyway); the set is bounded by the number of distinct rejections.
  for (const auto& e : model.events) {
    std::string key =
        e.object.kind + "|" + e.object.key() + "|" + e.reason + "|" + e.field + "|" + e.message;
    if (!recorded_events_.insert(key).second) continue;
    logger().warn("rejected", "kind", e.object.kind, "object", e.object.key(), "reason", e.reason,
                  "field", e.field, "message", e.message);
    std::string api_version = e.object.kind == "IngressRoute" ? "ingress.kop.dev/v1beta1"
                              : e.object.kind == "Ingress"    ? "networking.k8s.io/v1"
                                                              : "v1";
    std::string ns = e.object.ns.empty() ? "default" : e.object.ns;
    std::string now = now_rfc3339();
    std::string json =
        "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":" +
        json_string(event_name(e.object.name)) + ",\"namespace\":" + json_string(ns) +
        "},\"involvedObject\":{\"apiVersion\":" + json_string(api_version) +
        ",\"kind\":" + json_string(e.object.kind) + ",\"namespace\":" + json_string(e.object.ns) +
        ",\"name\":" + json_string(e.object.name) + ",\"fieldPath\":" + json_string(e.field) +
        "},\"reason\":" + json_string(e.reason) + ",\"message\":" + json_string(e.message) +
        ",\"type\":" + json_string(e.type) +
        ",\"source\":{\"component\":" + json_string(options_.component) +
        "},\"firstTimestamp\":\"" + now + "\",\"lastTimestamp\":\"" + now + "\",\"count\":1}";
    auto obj = api::Object::parse(json);
    if (!obj.ok()) continue;
    auto r = client_.create(client::ResourceRef{"", "v1", "events", "Event", ns, ""}, *obj);
    if (!r.ok()) logger().warn("cannot record Event", "error", r.status());
  }
}

}  // namespace kop::ingress
