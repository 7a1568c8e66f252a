#include "kop/cache/cache.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "kop/client/errors.h"

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

Cache::Cache(client::Client& client, CacheOptions options)
    : client_(client), options_(std::move(options)) {}

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
  io.transform = by.transform;
  io.default_resync_period = options_.resync_period;

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

absl::Status Cache::index_field(const api::GroupVersionKind& gvk, std::string name, IndexFunc fn) {
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
}

void Cache::stop() {
  std::vector<std::shared_ptr<Informer>> to_stop;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
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
  {
    absl::MutexLock lock(&mu_);
    for (auto& [gvk, informer] : informers_) informers.push_back(informer);
  }
  std::vector<InformerState> out;
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
    for (auto& [gvk, informer] : informers_) informers.push_back(informer);
  }
  // Wait on each in turn with what is left of the deadline, then report all that are not synced.
  for (const auto& informer : informers) {
    (void)informer->wait_for_sync(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  }
  std::vector<std::string> missing;
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
