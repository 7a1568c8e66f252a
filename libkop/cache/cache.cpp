#include "kop/cache/cache.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>

#include "kop/client/errors.h"
#include "kop/log/log.h"

namespace kop::cache {
namespace {

absl::string_view av(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

bool labels_match(const api::Object& obj,
                  const std::map<std::string, std::string, std::less<>>& match) {
  for (const auto& [key, value] : match) {
    std::optional<std::string_view> v = obj.label(key);
    if (!v || *v != value) return false;
  }
  return true;
}

}  // namespace

// A handler registered for an optional kind: attached to the kind's informer of the moment.
class Cache::OptionalRegistration final : public HandlerRegistration {
 public:
  OptionalRegistration(std::shared_ptr<EventHandler> handler, absl::Duration resync_period)
      : handler_(std::move(handler)), resync_period_(resync_period) {}

  bool has_synced() const override {
    absl::MutexLock lock(&mu_);
    return current_ ? current_->has_synced() : absent_;
  }
  void attach(HandlerRegistrationPtr registration) {
    absl::MutexLock lock(&mu_);
    current_ = std::move(registration);
    absent_ = false;
  }
  void detach() {
    absl::MutexLock lock(&mu_);
    current_ = nullptr;
    absent_ = true;
  }
  HandlerRegistrationPtr current() const {
    absl::MutexLock lock(&mu_);
    return current_;
  }
  const std::shared_ptr<EventHandler>& handler() const { return handler_; }
  absl::Duration resync_period() const { return resync_period_; }

 private:
  const std::shared_ptr<EventHandler> handler_;
  const absl::Duration resync_period_;
  mutable absl::Mutex mu_;
  HandlerRegistrationPtr current_ ABSL_GUARDED_BY(mu_);
  bool absent_ ABSL_GUARDED_BY(mu_) = false;  // known not to be served
};

Cache::Cache(client::Client& client, CacheOptions options)
    : client_(client), options_(std::move(options)) {
  for (const auto& [gvk, by] : options_.by_object) {
    if (!by.optional) continue;
    if (!presence_) {
      KindPresenceOptions po = options_.presence;
      po.reflector = options_.reflector;
      presence_ = std::make_unique<KindPresence>(client_, std::move(po));
    }
    {
      absl::MutexLock lock(&mu_);
      optional_[gvk];
    }
    presence_->track(gvk, by.resource,
                     [this, gvk = gvk](bool served) { on_presence(gvk, served); });
  }
}

Cache::~Cache() {
  stop();
}

std::shared_ptr<Informer> Cache::make_informer(const api::GroupVersionKind& gvk) const {
  ByObject by;
  if (auto it = options_.by_object.find(gvk); it != options_.by_object.end()) by = it->second;

  InformerOptions io;
  io.reflector = options_.reflector;
  // The transport's RESTMapper maps the kind to its resource and scope, unless told the plural.
  io.reflector.ref = client::ResourceRef::of(gvk);
  io.reflector.ref.resource = by.resource;
  io.reflector.label_selector = by.label_selector;
  io.reflector.field_selector = by.field_selector;
  io.indexers = by.indexers;
  io.keep_managed_fields = by.keep_managed_fields.value_or(options_.keep_managed_fields);
  io.share_objects = options_.share_objects;
  io.transform = by.transform;
  io.default_resync_period = options_.resync_period;

  if (by.optional && presence_) {
    // A 404 while the kind goes (CRD deleted) is expected: ask the presence again at once
    // instead of logging errors until its next look.
    KindPresence* presence = presence_.get();
    io.reflector.on_error = [presence](const absl::Status& st) {
      if (!client::is_not_found(st)) return false;
      presence->recheck();
      return true;
    };
  }
  bool namespaced = by.namespaced.value_or(api::builtin_namespaced(gvk).value_or(true));
  std::vector<std::string> namespaces;
  if (namespaced) namespaces = by.namespaces.value_or(options_.default_namespaces);
  auto informer = std::make_shared<Informer>(client_, gvk, namespaces, io);
  return informer;
}

absl::StatusOr<std::shared_ptr<Informer>> Cache::get_informer(const api::GroupVersionKind& gvk) {
  if (gvk.version.empty() || gvk.kind.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache: incomplete GroupVersionKind \"", gvk.to_string(), "\""));
  }
  std::shared_ptr<Informer> informer;
  bool start_now = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::CancelledError("cache: stopped");
    auto it = informers_.find(gvk);
    if (it != informers_.end()) return it->second;
    if (optional_.contains(gvk)) {
      return absl::NotFoundError(absl::StrCat("cache: ", gvk.to_string(),
                                              " is not served now (an optional kind: its "
                                              "CustomResourceDefinition is not installed)"));
    }
    informer = make_informer(gvk);
    informers_.emplace(gvk, informer);
    start_now = started_;
  }
  if (start_now) informer->start();
  return informer;
}

std::shared_ptr<Informer> Cache::find_informer(const api::GroupVersionKind& gvk) const {
  absl::MutexLock lock(&mu_);
  auto it = informers_.find(gvk);
  return it == informers_.end() ? nullptr : it->second;
}

absl::StatusOr<HandlerRegistrationPtr> Cache::add_event_handler(
    const api::GroupVersionKind& gvk, std::shared_ptr<EventHandler> handler,
    absl::Duration resync_period) {
  if (is_optional(gvk)) {
    auto registration = std::make_shared<OptionalRegistration>(handler, resync_period);
    absl::MutexLock lock(&mu_);
    OptionalKind& kind = optional_[gvk];
    kind.registrations.push_back(registration);
    if (auto it = informers_.find(gvk); it != informers_.end()) {
      registration->attach(it->second->add_event_handler(std::move(handler), resync_period));
    } else if (kind.absent) {
      registration->detach();
    }
    return registration;
  }
  absl::StatusOr<std::shared_ptr<Informer>> informer = get_informer(gvk);
  if (!informer.ok()) return informer.status();
  return (*informer)->add_event_handler(std::move(handler), resync_period);
}

absl::Status Cache::remove_event_handler(const api::GroupVersionKind& gvk,
                                         const HandlerRegistrationPtr& registration) {
  if (!is_optional(gvk)) {
    std::shared_ptr<Informer> informer = find_informer(gvk);
    if (!informer) return absl::NotFoundError("cache: no informer for " + gvk.to_string());
    return informer->remove_event_handler(registration);
  }
  HandlerRegistrationPtr current;
  std::shared_ptr<Informer> informer;
  {
    absl::MutexLock lock(&mu_);
    auto& regs = optional_[gvk].registrations;
    auto it = std::find(regs.begin(), regs.end(), registration);
    if (it == regs.end()) {
      return absl::NotFoundError("cache: handler not registered for " + gvk.to_string());
    }
    current = (*it)->current();
    regs.erase(it);
    if (auto inf = informers_.find(gvk); inf != informers_.end()) informer = inf->second;
  }
  // An informer retiring at this moment may have dropped the handler already.
  if (informer && current) informer->remove_event_handler(current).IgnoreError();
  return absl::OkStatus();
}

bool Cache::is_optional(const api::GroupVersionKind& gvk) const {
  auto it = options_.by_object.find(gvk);
  return it != options_.by_object.end() && it->second.optional;
}

std::optional<bool> Cache::served(const api::GroupVersionKind& gvk) const {
  if (!is_optional(gvk)) return true;
  absl::MutexLock lock(&mu_);
  auto it = optional_.find(gvk);
  return it == optional_.end() ? std::nullopt : it->second.served;
}

void Cache::on_presence(const api::GroupVersionKind& gvk, bool served) {
  const ByObject& by = options_.by_object.at(gvk);
  std::shared_ptr<Informer> informer;
  if (served) {
    informer = make_informer(gvk);
    bool start_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      OptionalKind& kind = optional_[gvk];
      kind.absent = false;
      if (!kind.indexers.empty()) informer->add_indexers(kind.indexers).IgnoreError();
      for (const auto& reg : kind.registrations) {
        reg->attach(informer->add_event_handler(reg->handler(), reg->resync_period()));
      }
      informers_[gvk] = informer;
      start_now = started_;
    }
    if (start_now) informer->start();
  } else {
    {
      absl::MutexLock lock(&mu_);
      OptionalKind& kind = optional_[gvk];
      kind.absent = true;
      for (const auto& reg : kind.registrations) reg->detach();
      if (auto it = informers_.find(gvk); it != informers_.end()) {
        informer = std::move(it->second);
        informers_.erase(it);
      }
    }
    // Handlers see every object go (routes built from them must go too), then it stops.
    if (informer) informer->retire(options_.retire_drain);
  }
  if (by.presence_changed) {
    by.presence_changed(served);
  } else if (served) {
    log::named("cache").info("kind served: watching it", "kind", gvk.to_string());
  } else {
    log::named("cache").info(
        informer ? "kind no longer served: its objects were removed from the cache"
                 : "kind not served: not watched until its CustomResourceDefinition is installed",
        "kind", gvk.to_string());
  }
  // Set last: whoever sees served() change knows the informer started (or the deletions were
  // delivered) and presence_changed returned.
  absl::MutexLock lock(&mu_);
  optional_[gvk].served = served;
}

absl::Status Cache::index_field(const api::GroupVersionKind& gvk, std::string name, IndexFunc fn) {
  if (is_optional(gvk)) {
    absl::MutexLock lock(&mu_);
    OptionalKind& kind = optional_[gvk];
    if (kind.indexers.contains(name)) {
      return absl::AlreadyExistsError("cache: index " + name + " exists for " + gvk.to_string());
    }
    kind.indexers.emplace(name, fn);
    if (auto it = informers_.find(gvk); it != informers_.end()) {
      Indexers one;
      one.emplace(std::move(name), std::move(fn));
      return it->second->add_indexers(std::move(one));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::shared_ptr<Informer>> informer = get_informer(gvk);
  if (!informer.ok()) return informer.status();
  Indexers indexers;
  indexers.emplace(std::move(name), std::move(fn));
  return (*informer)->add_indexers(std::move(indexers));
}

void Cache::start() {
  std::vector<std::shared_ptr<Informer>> to_start;
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopped_) return;
    started_ = true;
    for (auto& [gvk, informer] : informers_) to_start.push_back(informer);
  }
  for (auto& informer : to_start) informer->start();
  if (presence_) presence_->start();
}

void Cache::stop() {
  std::vector<std::shared_ptr<Informer>> to_stop;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  // No presence callback runs after this (one adding an informer sees stopped_).
  if (presence_) presence_->stop();
  {
    absl::MutexLock lock(&mu_);
    for (auto& [gvk, informer] : informers_) to_stop.push_back(informer);
  }
  for (auto& informer : to_stop) informer->stop();
}

bool Cache::started() const {
  absl::MutexLock lock(&mu_);
  return started_ && !stopped_;
}

std::vector<InformerState> Cache::states() const {
  std::vector<std::shared_ptr<Informer>> informers;
  std::vector<InformerState> out;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [gvk, informer] : informers_) informers.push_back(informer);
    // An optional kind counts only until it is known whether it is served.
    for (const auto& [gvk, kind] : optional_) {
      if (kind.served.has_value()) continue;
      out.push_back({gvk, gvk.to_string() + " (is it served? no answer yet)", false, {}});
    }
  }
  for (const auto& informer : informers) {
    for (const auto& part : informer->parts()) {
      ReflectorStatus st = part->status();
      out.push_back({informer->gvk(), part->description(), part->has_synced(), st.last_error});
    }
  }
  return out;
}

bool Cache::has_synced() const {
  for (const InformerState& s : states()) {
    if (!s.synced) return false;
  }
  return true;
}

absl::Status Cache::wait_for_cache_sync(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<std::shared_ptr<Informer>> informers;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::CancelledError("cache: stopped before sync");
    if (!started_) return absl::FailedPreconditionError("cache: wait_for_cache_sync before start");
  }
  std::vector<std::string> missing;
  if (presence_) {
    absl::Status known = presence_->wait_answered(timeout);
    if (!known.ok()) missing.push_back(std::string(known.message()));
  }
  {
    absl::MutexLock lock(&mu_);
    for (auto& [gvk, informer] : informers_) informers.push_back(informer);
  }
  // Wait on each in turn with what is left of the deadline, then report all that are not synced.
  for (const auto& informer : informers) {
    (void)informer->wait_for_sync(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  }
  for (const auto& informer : informers) {
    for (const auto& part : informer->parts()) {
      if (part->has_synced()) continue;
      ReflectorStatus st = part->status();
      missing.push_back(st.last_error.ok()
                            ? absl::StrCat(part->description(), " (still listing, no error yet)")
                            : std::string(st.last_error.message()));
    }
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("cache: timed out after ", absl::FormatDuration(timeout),
                   " waiting for informers to sync: ", absl::StrJoin(missing, "; ")));
}

absl::StatusOr<std::shared_ptr<Informer>> Cache::informer_for_read(
    const api::GroupVersionKind& gvk) {
  if (std::shared_ptr<Informer> informer = find_informer(gvk)) return informer;
  if (is_optional(gvk)) return std::shared_ptr<Informer>();  // not served: nothing to read
  if (!options_.read_starts_informer) {
    return absl::FailedPreconditionError(
        absl::StrCat("cache: no informer watches ", gvk.to_string(),
                     "; reading it from the cache would start a new list+watch. Create it with "
                     "get_informer() (or a controller watch) first, or set "
                     "CacheOptions::read_starts_informer"));
  }
  absl::StatusOr<std::shared_ptr<Informer>> informer = get_informer(gvk);
  if (!informer.ok()) return informer.status();
  if (!started()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cache: not started; cannot read ", gvk.to_string()));
  }
  absl::Status synced = (*informer)->wait_for_sync(options_.read_sync_timeout);
  if (!synced.ok()) return synced;
  return informer;
}

absl::StatusOr<api::ObjectPtr> Cache::get(const api::GroupVersionKind& gvk, std::string_view ns,
                                          std::string_view name) {
  absl::StatusOr<std::shared_ptr<Informer>> informer = informer_for_read(gvk);
  if (!informer.ok()) return informer.status();
  if (*informer == nullptr) {
    return client::not_found(gvk.group, api::guess_resource(gvk).resource, name);
  }
  const Informer& inf = **informer;
  if (!ns.empty() && !inf.watches_namespace(ns)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cache: namespace \"", av(ns), "\" is not watched for ", inf.description()));
  }
  if (api::ObjectPtr obj = inf.get(ns, name)) return obj;
  return client::not_found(gvk.group, api::guess_resource(gvk).resource, name);
}

absl::StatusOr<std::vector<api::ObjectPtr>> Cache::list(const api::GroupVersionKind& gvk,
                                                        const CacheListOptions& options) {
  absl::StatusOr<std::shared_ptr<Informer>> informer = informer_for_read(gvk);
  if (!informer.ok()) return informer.status();
  if (*informer == nullptr) return std::vector<api::ObjectPtr>();
  const Informer& inf = **informer;
  std::vector<api::ObjectPtr> candidates;
  const std::string& ns = options.namespace_;
  if (!ns.empty() && !inf.watches_namespace(ns)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cache: namespace \"", ns, "\" is not watched for ", inf.description()));
  }
  // Narrow with an index first (the requested one, else the namespace index), then filter.
  auto from_parts = [&](std::string_view index, std::string_view value) -> absl::Status {
    for (const auto& part : inf.parts()) {
      absl::StatusOr<std::vector<api::ObjectPtr>> got = part->indexer().by_index(index, value);
      if (!got.ok()) return got.status();
      candidates.insert(candidates.end(), got->begin(), got->end());
    }
    return absl::OkStatus();
  };
  if (options.index) {
    absl::Status st = from_parts(options.index->first, options.index->second);
    if (!st.ok()) return st;
  } else if (!ns.empty()) {
    absl::Status st = from_parts(kNamespaceIndex, ns);
    if (!st.ok()) return st;
  } else {
    candidates = inf.list();
    // The whole listing unfiltered (a build's snapshot): no second vector of every object.
    if (options.match_labels.empty() && !options.label_selector) return candidates;
  }
  std::vector<api::ObjectPtr> out;
  out.reserve(candidates.size());
  for (api::ObjectPtr& obj : candidates) {
    if (options.index && !ns.empty() && obj->namespace_() != ns) continue;
    if (!labels_match(*obj, options.match_labels)) continue;
    if (options.label_selector && !options.label_selector->matches(*obj)) continue;
    out.push_back(std::move(obj));
  }
  return out;
}

}  // namespace kop::cache
