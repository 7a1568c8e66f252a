// StatusWriter: the leader's separate path from desired statuses to API writes.
#include "status_writer.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <absl/time/clock.h>
#include "gateway_status.h"
#include "ingress_crd_types.h"
#include "json_text.h"
#include "kop/client/errors.h"
#include "kop/log/log.h"
#include "kop/metrics/registry.h"

namespace kop::ingress {
namespace {

const kop::log::Logger& logger() {
  static const kop::log::Logger l = kop::log::Logger().with_name("ingress-status");
  return l;
}

struct Metrics {
  metrics::Counter& writes;
  metrics::Counter& errors;
  metrics::Counter& events;
  metrics::Counter& throttled;
  metrics::Gauge& round_seconds;
  metrics::Gauge& round_writes;
  static Metrics& get() {
    metrics::Registry& r = metrics::default_registry();
    static Metrics m{
        r.counter("kop_ingress_status_writes_total", "Ingress/IngressRoute status writes done."),
        r.counter("kop_ingress_status_write_errors_total",
                  "Status and Event writes that failed (retried with backoff)."),
        r.counter("kop_ingress_events_recorded_total", "Events written through the recorder."),
        r.counter("kop_ingress_status_throttled_total",
                  "Status writes answered 429 (all writes paused for Retry-After)."),
        r.gauge("kop_ingress_status_round_seconds",
                "Time the last round of status writes took, until every status was as desired."),
        r.gauge("kop_ingress_status_round_writes", "Status writes of the last round."),
    };
    return m;
  }
};

std::string key_of(std::string_view ns, std::string_view name) {
  return std::string(ns) + "/" + std::string(name);
}

std::pair<std::string, std::string> split_key(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

std::string event_key(const Event& e) {
  return e.object.kind + "|" + e.object.key() + "|" + e.reason + "|" + e.field + "|" + e.message;
}

std::string api_version_of(const std::string& kind) {
  if (kind == "IngressRoute" || kind == "TLSCertificateDelegation")
    return "ingress.kop.dev/v1beta1";
  if (kind == "Ingress" || kind == "IngressClass") return "networking.k8s.io/v1";
  if (kind == "EndpointSlice") return "discovery.k8s.io/v1";
  if (kind == "ReferenceGrant") return "gateway.networking.k8s.io/v1beta1";
  if (kind == "GatewayClass" || kind == "Gateway" || kind == "HTTPRoute" || kind == "GRPCRoute" ||
      kind == "TLSRoute" || kind == "BackendTLSPolicy")
    return "gateway.networking.k8s.io/v1";
  return "v1";
}

template <typename Status>
bool equal_statuses(const void* a, const void* b) {
  return *static_cast<const Status*>(a) == *static_cast<const Status*>(b);
}

// `st`, an element of `*desired`, held through it.
template <typename Status>
std::shared_ptr<const void> held(const std::shared_ptr<const DesiredStatus>& desired,
                                 const Status& st) {
  return {desired, &st};
}

}  // namespace

StatusWriter::StatusWriter(client::Client& client, cache::Cache& cache, StatusWriterOptions options)
    : client_(client),
      cache_(cache),
      options_(std::move(options)),
      recorder_(client, record::RecorderOptions{.component = options_.component}) {}

StatusWriter::~StatusWriter() {
  stop();
}

void StatusWriter::start() {
  {
    absl::MutexLock lock(&mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void StatusWriter::stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void StatusWriter::publish(std::shared_ptr<const DesiredStatus> desired) {
  absl::MutexLock lock(&mu_);
  desired_ = std::move(desired);
  dirty_ = true;
  cv_.SignalAll();
}

void StatusWriter::set_writing(bool on) {
  absl::MutexLock lock(&mu_);
  if (on && !writing_) {
    dirty_ = true;  // write at once what differs, no change needed
    rerecord_ = true;
  }
  writing_ = on;
  cv_.SignalAll();
}

bool StatusWriter::writing() const {
  absl::MutexLock lock(&mu_);
  return writing_;
}

void StatusWriter::run() {
  while (true) {
    std::shared_ptr<const DesiredStatus> desired;
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        if (stopping_) return;
        if (writing_ && desired_ &&
            (dirty_ ||
             (earliest_retry_ != absl::InfiniteFuture() && absl::Now() >= earliest_retry_)))
          break;
        absl::Time deadline = writing_ ? earliest_retry_ : absl::InfiniteFuture();
        cv_.WaitWithDeadline(&mu_, deadline);
      }
      dirty_ = false;
      desired = desired_;
      if (rerecord_) {
        rerecord_ = false;
        recorded_.clear();
        checked_informer_ = nullptr;  // a new term compares every Ingress again
        checked_gateway_objects_.clear();
      }
    }
    pass(desired);
  }
}

bool StatusWriter::keep_going(const DesiredStatus& desired) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || !writing_ || desired_.get() != &desired) return false;
  }
  return !options_.may_write || options_.may_write();
}

void StatusWriter::pass(const std::shared_ptr<const DesiredStatus>& desired_ptr) {
  const DesiredStatus& desired = *desired_ptr;
  pass_id_ = passes_.fetch_add(1) + 1;
  absl::Time start = absl::Now();
  earliest_retry_ = absl::InfiniteFuture();
  pass_backoffs_ = 0;
  auto count = [&](Outcome o) {
    if (o == Outcome::kDone) return;
    if (round_start_ == absl::InfiniteFuture()) round_start_ = start;  // work to do: a round
    if (o == Outcome::kWritten) ++round_writes_;
    if (o == Outcome::kBackoff) ++pass_backoffs_;
  };
  // Read before the comparisons: an Ingress written during this pass makes the next one
  // compare again.
  std::shared_ptr<cache::Informer> informer = cache_.find_informer(options_.ingress);
  uint64_t generation = informer ? informer->generation() : 0;
  // Only the shards of the Ingresses written since the last complete pass are compared again.
  std::optional<cache::WrittenKeys> written;
  if (informer != nullptr && informer == checked_informer_)
    written = informer->keys_written_since(checked_generation_);
  if (written) {
    generation = written->generation;
    for (const std::string& key : written->keys)
      checked_shards_[IngressStatuses::shard_of(key)] = nullptr;
  } else {
    checked_shards_.fill(nullptr);
  }
  checked_informer_ = nullptr;  // valid again once this pass has been through every shard
  const auto& shards = desired.ingresses.shards();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::shared_ptr<const IngressStatuses::Shard>& shard = shards[i];
    if (!shard || checked_shards_[i] == shard) continue;
    checked_shards_[i] = nullptr;
    bool as_desired = true;
    for (const auto& [key, want] : *shard) {
      if (!keep_going(desired)) return;
      ingresses_compared_.fetch_add(1, std::memory_order_relaxed);
      const Outcome o = ingress(key, want);
      count(o);
      as_desired = as_desired && o == Outcome::kDone;
    }
    if (as_desired) checked_shards_[i] = shard;
  }
  checked_informer_ = std::move(informer);
  checked_generation_ = generation;
  for (const auto& st : desired.routes) {
    if (!keep_going(desired)) return;
    count(route(st));
  }
  for (const auto& st : desired.gateway_classes) {
    if (!keep_going(desired)) return;
    count(gateway_object(options_.gateway_class, "", st.name,
                         {held(desired_ptr, st), equal_statuses<gateway::ClassStatus>},
                         [&st](const api::Object& o, std::string_view now) {
                           return gateway_status::gateway_class(o, st, now);
                         }));
  }
  for (const auto& st : desired.gateways) {
    if (!keep_going(desired)) return;
    count(gateway_object(options_.gateway, st.gateway.ns, st.gateway.name,
                         {held(desired_ptr, st), equal_statuses<gateway::GatewayStatus>},
                         [&st](const api::Object& o, std::string_view now) {
                           return gateway_status::gateway(o, st, now);
                         }));
  }
  for (auto [gvk, routes] : {std::pair{&options_.http_route, &desired.http_routes},
                             std::pair{&options_.grpc_route, &desired.grpc_routes},
                             std::pair{&options_.tls_route, &desired.tls_routes}}) {
    for (const auto& st : *routes) {
      if (!keep_going(desired)) return;
      count(gateway_object(*gvk, st.route.ns, st.route.name,
                           {held(desired_ptr, st), equal_statuses<gateway::RouteStatus>},
                           [&](const api::Object& o, std::string_view now) {
                             return gateway_status::route(o, st, options_.gateway_controller_name,
                                                          now);
                           }));
    }
  }
  for (const auto& st : desired.backend_tls_policies) {
    if (!keep_going(desired)) return;
    count(gateway_object(options_.backend_tls_policy, st.policy.ns, st.policy.name,
                         {held(desired_ptr, st), equal_statuses<gateway::PolicyStatus>},
                         [&](const api::Object& o, std::string_view now) {
                           return gateway_status::policy(o, st, options_.gateway_controller_name,
                                                         now);
                         }));
  }
  // Every Gateway API object of this DesiredStatus was seen: those not seen are no longer in it.
  std::erase_if(checked_gateway_objects_,
                [this](const auto& entry) { return entry.second.pass != pass_id_; });
  for (const auto& want : desired.gateway_services) {
    if (!keep_going(desired)) return;
    count(gateway_service(want));
  }
  for (const auto& name : desired.gateway_services_stale) {
    if (!keep_going(desired)) return;
    count(delete_gateway_service(name));
  }
  if (!keep_going(desired)) return;
  events(desired);
  if (pass_backoffs_ > 0 || round_start_ == absl::InfiniteFuture()) return;
  // Every status is as desired (or written and on its way back through the watch).
  absl::Duration took = absl::Now() - round_start_;
  round_start_ = absl::InfiniteFuture();
  if (round_writes_ == 0) return;  // someone else wrote them meanwhile
  last_round_writes_.store(round_writes_);
  last_round_nanos_.store(absl::ToInt64Nanoseconds(took));
  Metrics::get().round_seconds.set(absl::ToDoubleSeconds(took));
  Metrics::get().round_writes.set(static_cast<double>(round_writes_));
  logger().info("statuses written", "writes", round_writes_, "seconds", absl::ToDoubleSeconds(took),
                "per_second",
                static_cast<double>(round_writes_) / std::max(absl::ToDoubleSeconds(took), 1e-3));
  round_writes_ = 0;
}

bool StatusWriter::paused(absl::Time now) {
  if (now >= paused_until_) return false;
  earliest_retry_ = std::min(earliest_retry_, paused_until_);
  return true;
}

bool StatusWriter::backing_off(const std::string& key, absl::Time now) {
  auto it = retries_.find(key);
  if (it == retries_.end() || it->second.next <= now) return false;
  earliest_retry_ = std::min(earliest_retry_, it->second.next);
  return true;
}

void StatusWriter::failed(const std::string& key, const absl::Status& status, absl::Time now) {
  Retry& r = retries_[key];
  ++r.failures;
  absl::Duration delay = options_.retry_base;
  for (int i = 1; i < r.failures && delay < options_.retry_max; ++i) delay *= 2;
  delay = std::min(delay, options_.retry_max);
  bool throttled = client::is_too_many_requests(status);
  if (throttled) {
    // The server sheds load (its priority level is full): every write waits, not only this one.
    delay = std::max(delay, client::retry_after(status).value_or(options_.retry_base));
    paused_until_ = now + delay;
    throttled_.fetch_add(1);
    Metrics::get().throttled.inc();
  }
  r.next = now + delay;
  earliest_retry_ = std::min(earliest_retry_, r.next);
  write_errors_.fetch_add(1);
  Metrics::get().errors.inc();
  // A conflict only means the cache was behind: expected now and then, so not a warning.
  if (client::is_conflict(status))
    logger().debug("status write conflict, retrying", "object", key, "retry_in",
                   absl::FormatDuration(delay));
  else
    logger().warn(throttled ? "status writes paused: the API server is throttling"
                            : "status write failed, retrying",
                  "object", key, "error", status, "failures", r.failures, "retry_in",
                  absl::FormatDuration(delay));
}

StatusWriter::Outcome StatusWriter::ingress(const std::string& key,
                                            const DesiredStatus::IngressStatus& want) {
  const std::string wkey = "Ingress|" + key;
  absl::Time now = absl::Now();
  std::shared_ptr<cache::Informer> informer = cache_.find_informer(options_.ingress);
  auto [ns, name] = split_key(key);
  api::ObjectPtr obj = informer ? informer->get(ns, name) : nullptr;
  if (!obj) {  // deleted meanwhile
    retries_.erase(wkey);
    written_.erase(wkey);
    return Outcome::kDone;
  }
  const rapidjson::Value* current = obj->at("/status/loadBalancer/ingress");
  std::string current_json =
      current && current->IsArray() && current->Size() > 0 ? json_text::of(current) : "[]";
  if (current_json == want.want ||
      (!want.clear_only_if.empty() && current_json != want.clear_only_if)) {
    retries_.erase(wkey);
    written_.erase(wkey);
    return Outcome::kDone;
  }
  if (auto w = written_.find(wkey); w != written_.end()) {
    if (w->second.base_resource_version == obj->resource_version() && w->second.value == want.want)
      return Outcome::kDone;  // our write has not come back through the watch yet
    written_.erase(w);
  }
  if (backing_off(wkey, now) || paused(now)) return Outcome::kBackoff;
  api::Object next(*obj);
  absl::Status s = next.set_json("/status/loadBalancer",
                                 want.want == "[]" ? "{}" : "{\"ingress\":" + want.want + "}");
  if (s.ok())
    s = client_.update_status(client::ResourceRef::of(options_.ingress, ns, name), next).status();
  if (!s.ok()) {
    failed(wkey, s, now);
    return Outcome::kBackoff;
  }
  retries_.erase(wkey);
  written_[wkey] = Written{std::string(obj->resource_version()), want.want};
  writes_.fetch_add(1);
  Metrics::get().writes.inc();
  return Outcome::kWritten;
}

StatusWriter::Outcome StatusWriter::route(const IngressRouteStatus& st) {
  const std::string key = key_of(st.route.ns, st.route.name);
  const std::string wkey = "IngressRoute|" + key;
  absl::Time now = absl::Now();
  std::shared_ptr<cache::Informer> informer = cache_.find_informer(options_.ingress_route);
  api::ObjectPtr ir = informer ? informer->get(st.route.ns, st.route.name) : nullptr;
  if (!ir) {
    retries_.erase(wkey);
    written_.erase(wkey);
    return Outcome::kDone;
  }
  namespace crd = ::kop::ingress::crd::v1beta1;  // kop-gen's views of the CRD (crds/)
  const crd::IngressRouteStatusCurrentStatus want_status =
      st.status == RouteStatus::kValid     ? crd::IngressRouteStatusCurrentStatus::kValid
      : st.status == RouteStatus::kInvalid ? crd::IngressRouteStatusCurrentStatus::kInvalid
                                           : crd::IngressRouteStatusCurrentStatus::kOrphaned;
  std::string value = std::string(to_string(st.status)) + "|" + std::to_string(st.generation) +
                      "|" + st.description;
  crd::IngressRouteStatus current = crd::IngressRoute(*ir).status();
  if (current.current_status() == want_status &&
      current.description().value_or("") == st.description &&
      current.observed_generation().value_or(-1) == st.generation) {
    retries_.erase(wkey);
    written_.erase(wkey);
    return Outcome::kDone;
  }
  if (auto w = written_.find(wkey); w != written_.end()) {
    if (w->second.base_resource_version == ir->resource_version() && w->second.value == value)
      return Outcome::kDone;
    written_.erase(w);
  }
  if (backing_off(wkey, now) || paused(now)) return Outcome::kBackoff;
  std::string reason = st.status == RouteStatus::kValid     ? "Valid"
                       : st.status == RouteStatus::kInvalid ? "Invalid"
                                                            : "Orphaned";
  api::Object next(*ir);
  next.remove("/status");  // the whole status is the writer's: written afresh
  auto status = crd::IngressRouteBuilder(next).mutable_status();
  status.set_current_status(want_status)
      .set_description(st.description)
      .set_observed_generation(st.generation);
  status.add_conditions()
      .set_type("Valid")
      .set_status(st.status == RouteStatus::kValid
                      ? crd::IngressRouteStatusConditionsItemStatus::kTrue
                      : crd::IngressRouteStatusConditionsItemStatus::kFalse)
      .set_observed_generation(st.generation)
      .set_last_transition_time(now)
      .set_reason(reason)
      .set_message(st.description);
  absl::Status s =
      client_
          .update_status(
              client::ResourceRef::of(options_.ingress_route, st.route.ns, st.route.name), next)
          .status();
  if (!s.ok()) {
    failed(wkey, s, now);
    return Outcome::kBackoff;
  }
  retries_.erase(wkey);
  written_[wkey] = Written{std::string(ir->resource_version()), value};
  writes_.fetch_add(1);
  Metrics::get().writes.inc();
  return Outcome::kWritten;
}

StatusWriter::Outcome StatusWriter::gateway_object(
    const api::GroupVersionKind& gvk, const std::string& ns, const std::string& name,
    const Wanted& want,
    const std::function<std::string(const api::Object&, std::string_view)>& status_json) {
  const std::string wkey = gvk.kind + "|" + key_of(ns, name);
  std::shared_ptr<cache::Informer> informer = cache_.find_informer(gvk);
  api::ObjectPtr obj = informer ? informer->get(ns, name) : nullptr;
  if (!obj) {
    retries_.erase(wkey);
    written_.erase(wkey);
    checked_gateway_objects_.erase(wkey);
    return Outcome::kDone;
  }
  auto checked = checked_gateway_objects_.find(wkey);
  if (checked != checked_gateway_objects_.end()) {
    Checked& c = checked->second;
    if (c.resource_version == obj->resource_version() &&
        (c.status == want.status || want.equal(c.status.get(), want.status.get()))) {
      c.status = want.status;  // the older DesiredStatus need not be held for it
      c.pass = pass_id_;
      return Outcome::kDone;
    }
    checked_gateway_objects_.erase(checked);
  }
  gateway_objects_compared_.fetch_add(1, std::memory_order_relaxed);
  absl::Time now = absl::Now();
  // Without a time: equal for equal statuses, whatever the clock says.
  std::string value = status_json(*obj, "");
  if (gateway_status::unchanged(*obj, value)) {
    retries_.erase(wkey);
    written_.erase(wkey);
    checked_gateway_objects_[wkey] =
        Checked{std::string(obj->resource_version()), want.status, pass_id_};
    return Outcome::kDone;
  }
  if (auto w = written_.find(wkey); w != written_.end()) {
    if (w->second.base_resource_version == obj->resource_version() && w->second.value == value)
      return Outcome::kDone;
    written_.erase(w);
  }
  if (backing_off(wkey, now) || paused(now)) return Outcome::kBackoff;
  api::Object next(*obj);
  absl::Status s = next.set_json(
      "/status",
      status_json(*obj, absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now, absl::UTCTimeZone())));
  if (s.ok()) s = client_.update_status(client::ResourceRef::of(gvk, ns, name), next).status();
  if (!s.ok()) {
    failed(wkey, s, now);
    return Outcome::kBackoff;
  }
  retries_.erase(wkey);
  written_[wkey] = Written{std::string(obj->resource_version()), value};
  writes_.fetch_add(1);
  Metrics::get().writes.inc();
  return Outcome::kWritten;
}

void StatusWriter::events(const DesiredStatus& desired) {
  std::set<std::string> current;
  for (const Event& e : desired.events) {
    std::string key = event_key(e);
    current.insert(key);
    if (recorded_.count(key)) continue;
    if (!keep_going(desired)) return;  // the rest on the next pass
    absl::Time now = absl::Now();
    if (backing_off("Event|" + key, now) || paused(now)) continue;
    // The object as the cache has it (uid, resourceVersion), else its reference alone.
    api::ObjectPtr regarding;
    const api::GroupVersionKind* gvk = nullptr;
    for (const api::GroupVersionKind* k :
         {&options_.ingress, &options_.ingress_route, &options_.gateway_class, &options_.gateway,
          &options_.http_route, &options_.grpc_route, &options_.tls_route,
          &options_.backend_tls_policy})
      if (e.object.kind == k->kind) gvk = k;
    if (gvk != nullptr)
      if (auto informer = cache_.find_informer(*gvk))
        regarding = informer->get(e.object.ns, e.object.name);
    if (!regarding) {
      auto parsed = api::Object::parse(
          "{\"apiVersion\":" + json_text::quote(api_version_of(e.object.kind)) +
          ",\"kind\":" + json_text::quote(e.object.kind) +
          ",\"metadata\":{\"name\":" + json_text::quote(e.object.name) +
          (e.object.ns.empty() ? "" : ",\"namespace\":" + json_text::quote(e.object.ns)) + "}}");
      if (!parsed.ok()) continue;
      regarding = std::make_shared<const api::Object>(std::move(*parsed));
    }
    logger().warn("rejected", "kind", e.object.kind, "object", e.object.key(), "reason", e.reason,
                  "field", e.field, "message", e.message);
    absl::Status s = recorder_.event(*regarding, e.type, e.reason, e.message);
    if (s.ok() || absl::IsResourceExhausted(s)) {
      // ResourceExhausted: the spam filter dropped it on purpose; not retried.
      recorded_.insert(key);
      retries_.erase("Event|" + key);
      if (s.ok()) {
        events_recorded_.fetch_add(1);
        Metrics::get().events.inc();
      }
    } else {
      failed("Event|" + key, s, now);
    }
  }
  // A rejection that went away is recorded again if it comes back.
  for (auto it = recorded_.begin(); it != recorded_.end();)
    it = current.count(*it) ? std::next(it) : recorded_.erase(it);
}

}  // namespace kop::ingress
