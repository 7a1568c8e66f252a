#include "kop/cache/kind_presence.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "kop/api/conditions.h"
#include "kop/cache/backoff.h"
#include "kop/cache/event_handler.h"
#include "kop/client/errors.h"

namespace kop::cache {
namespace {

const client::ResourceRef kCrds{"apiextensions.k8s.io",     "v1", "customresourcedefinitions",
                                "CustomResourceDefinition", "",   ""};

// Until the CRD informer's first list is in, look for it this often.
constexpr absl::Duration kSyncPoll = absl::Milliseconds(10);

}  // namespace

bool crd_serves(const api::Object& crd, const api::GroupVersionKind& gvk) {
  if (crd.is_being_deleted()) return false;
  if (crd.get_string("/spec/group").value_or("") != gvk.group) return false;
  if (crd.get_string("/spec/names/kind").value_or("") != gvk.kind) return false;
  if (!api::is_condition_true(crd, "Established")) return false;
  const rapidjson::Value* versions = crd.at("/spec/versions");
  if (versions == nullptr || !versions->IsArray()) return false;
  for (const rapidjson::Value& v : versions->GetArray()) {
    if (!v.IsObject()) continue;
    auto name = v.FindMember("name");
    auto served = v.FindMember("served");
    if (name == v.MemberEnd() || !name->value.IsString()) continue;
    if (std::string_view(name->value.GetString(), name->value.GetStringLength()) != gvk.version)
      continue;
    return served != v.MemberEnd() && served->value.IsBool() && served->value.GetBool();
  }
  return false;
}

api::ObjectPtr crd_summary(api::ObjectPtr crd) {
  api::Object out(api::GroupVersionKind{"apiextensions.k8s.io", "v1", "CustomResourceDefinition"});
  out.set_name(crd->name());
  out.set_resource_version(crd->resource_version());
  if (crd->is_being_deleted()) out.set_deletion_timestamp(crd->deletion_timestamp());
  for (std::string_view field : {"/spec/group", "/spec/names/kind"}) {
    if (auto v = crd->get_string(field)) out.set_string(field, *v).IgnoreError();
  }
  // Arrays of objects keeping only the named string/bool members.
  auto keep = [&](std::string_view pointer, std::initializer_list<const char*> members) {
    const rapidjson::Value* items = crd->at(pointer);
    if (items == nullptr || !items->IsArray()) return;
    out.set_json(pointer, "[]").IgnoreError();
    size_t i = 0;
    for (const rapidjson::Value& item : items->GetArray()) {
      if (!item.IsObject()) continue;
      const std::string at = std::string(pointer) + "/" + std::to_string(i++);
      out.set_json(std::string(pointer) + "/-", "{}").IgnoreError();
      for (const char* m : members) {
        auto f = item.FindMember(m);
        if (f == item.MemberEnd()) continue;
        if (f->value.IsString()) {
          out.set_string(at + "/" + m,
                         std::string_view(f->value.GetString(), f->value.GetStringLength()))
              .IgnoreError();
        } else if (f->value.IsBool()) {
          out.set_bool(at + "/" + m, f->value.GetBool()).IgnoreError();
        }
      }
    }
  };
  keep("/spec/versions", {"name", "served"});
  keep("/status/conditions", {"type", "status"});
  return api::share(std::move(out));
}

KindPresence::KindPresence(client::Client& client, KindPresenceOptions options)
    : client_(client), options_(std::move(options)), log_(log::named("cache.presence")) {}

KindPresence::~KindPresence() {
  stop();
}

void KindPresence::track(const api::GroupVersionKind& gvk, std::string resource,
                         Callback callback) {
  absl::MutexLock lock(&mu_);
  Tracked& t = tracked_[gvk];
  t.resource = std::move(resource);
  t.callback = std::move(callback);
  changed_ = true;
}

void KindPresence::start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void KindPresence::stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (crds_) crds_->stop();
}

void KindPresence::recheck() {
  absl::MutexLock lock(&mu_);
  changed_ = true;
}

std::optional<bool> KindPresence::present(const api::GroupVersionKind& gvk) const {
  absl::MutexLock lock(&mu_);
  auto it = tracked_.find(gvk);
  return it == tracked_.end() ? std::nullopt : it->second.answer;
}

bool KindPresence::answered() const {
  absl::MutexLock lock(&mu_);
  for (const auto& [gvk, t] : tracked_) {
    if (!t.answer) return false;
  }
  return true;
}

absl::Status KindPresence::wait_answered(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stopping_) return true;
    for (const auto& [gvk, t] : tracked_) {
      if (!t.answer) return false;
    }
    return true;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  std::vector<std::string> unknown;
  for (const auto& [gvk, t] : tracked_) {
    if (!t.answer) unknown.push_back(gvk.to_string());
  }
  if (unknown.empty()) return absl::OkStatus();
  std::string why = mode_error_.ok() ? std::string("no answer yet")
                                     : absl::StrCat("last error: ", mode_error_.message());
  return absl::DeadlineExceededError(absl::StrCat("cache: whether ", absl::StrJoin(unknown, ", "),
                                                  " is served is not known yet (", why, ")"));
}

KindPresence::Mode KindPresence::mode() const {
  absl::MutexLock lock(&mu_);
  return mode_;
}

void KindPresence::run() {
  if (!choose_mode()) return;
  if (mode() == Mode::kWatchingCrds) {
    watch_crds();
  } else {
    poll();
  }
}

bool KindPresence::choose_mode() {
  Clock& clock = options_.reflector.clock ? *options_.reflector.clock : RealClock::instance();
  Backoff backoff(clock, options_.reflector.backoff, options_.reflector.seed);
  while (true) {
    absl::StatusOr<client::ObjectList> probe = client_.list(kCrds, client::ListOptions{.limit = 1});
    Mode mode = Mode::kStarting;
    if (probe.ok()) {
      mode = Mode::kWatchingCrds;
    } else if (client::is_forbidden(probe.status()) || client::is_not_found(probe.status())) {
      mode = Mode::kPolling;
      log_.info("CustomResourceDefinitions cannot be listed; polling each optional kind instead",
                "error", std::string(probe.status().message()), "every_at_most",
                absl::FormatDuration(options_.poll_max));
    }
    absl::MutexLock lock(&mu_);
    if (mode != Mode::kStarting) {
      mode_ = mode;
      mode_error_ = absl::OkStatus();
      return !stopping_;
    }
    mode_error_ = probe.status();
    absl::Duration delay = backoff.next();
    log_.warn("listing CustomResourceDefinitions failed; retrying", "error",
              std::string(probe.status().message()), "after", absl::FormatDuration(delay));
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), delay)) return false;
  }
}

void KindPresence::watch_crds() {
  InformerOptions io;
  io.reflector = options_.reflector;
  io.reflector.ref = kCrds;
  io.reflector.description = "apiextensions.k8s.io/v1, Kind=CustomResourceDefinition";
  io.transform = crd_summary;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    crds_ = std::make_unique<SharedInformer>(client_, std::move(io));
  }
  auto on_change = std::make_shared<EventHandlerFuncs>();
  auto mark = [this] {
    absl::MutexLock lock(&mu_);
    changed_ = true;
  };
  on_change->add = [mark](const api::ObjectPtr&, bool) { mark(); };
  on_change->update = [mark](const api::ObjectPtr&, const api::ObjectPtr&) { mark(); };
  on_change->del = [mark](const api::ObjectPtr&, bool) { mark(); };
  HandlerRegistrationPtr registration = crds_->add_event_handler(on_change, absl::ZeroDuration());
  crds_->start();
  while (true) {
    std::vector<api::GroupVersionKind> kinds;
    {
      absl::MutexLock lock(&mu_);
      // Before the first list is in, an empty list sends no event: look at the sync state too.
      if (registration->has_synced()) {
        mu_.Await(absl::Condition(this, &KindPresence::wake_or_stop));
      } else {
        mu_.AwaitWithTimeout(absl::Condition(this, &KindPresence::wake_or_stop), kSyncPoll);
      }
      if (stopping_) return;
      if (!registration->has_synced()) continue;
      changed_ = false;  // events from here on ask for another look
      for (const auto& [gvk, t] : tracked_) kinds.push_back(gvk);
    }
    std::vector<api::ObjectPtr> crds = crds_->indexer().list();
    std::vector<std::pair<api::GroupVersionKind, bool>> answers;
    for (const api::GroupVersionKind& gvk : kinds) {
      bool served = false;
      for (const api::ObjectPtr& crd : crds) served = served || crd_serves(*crd, gvk);
      answers.emplace_back(gvk, served);
    }
    publish(answers);
  }
}

void KindPresence::poll() {
  absl::Duration interval = options_.poll_min;
  while (true) {
    std::vector<std::pair<api::GroupVersionKind, std::string>> kinds;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      changed_ = false;
      for (const auto& [gvk, t] : tracked_) kinds.emplace_back(gvk, t.resource);
    }
    std::vector<std::pair<api::GroupVersionKind, bool>> answers;
    for (const auto& [gvk, resource] : kinds) {
      client::ResourceRef ref{gvk.group, gvk.version, resource, gvk.kind, "", ""};
      absl::StatusOr<client::ObjectList> got = client_.list(ref, client::ListOptions{.limit = 1});
      // Forbidden: served, but not to us; the informer reports that error where it belongs.
      if (got.ok() || client::is_forbidden(got.status())) {
        answers.emplace_back(gvk, true);
      } else if (client::is_not_found(got.status())) {
        answers.emplace_back(gvk, false);
      } else {
        log_.debug("polling a kind failed; keeping the last answer", "kind", gvk.to_string(),
                   "error", std::string(got.status().message()));
      }
    }
    interval = publish(answers) ? options_.poll_min : std::min(interval * 2, options_.poll_max);
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &KindPresence::wake_or_stop), interval);
  }
}

bool KindPresence::publish(const std::vector<std::pair<api::GroupVersionKind, bool>>& answers) {
  std::vector<std::pair<api::GroupVersionKind, bool>> changes;
  std::vector<std::pair<Callback, bool>> calls;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [gvk, served] : answers) {
      auto it = tracked_.find(gvk);
      if (it == tracked_.end() || it->second.answer == served) continue;
      changes.emplace_back(gvk, served);
      if (it->second.callback) calls.emplace_back(it->second.callback, served);
    }
  }
  for (const auto& [callback, served] : calls) callback(served);
  // Recorded after the callbacks (this thread is the only writer): whoever sees an answer, e.g.
  // through wait_answered(), sees what the callbacks did with it.
  absl::MutexLock lock(&mu_);
  for (const auto& [gvk, served] : changes) {
    log_.debug(served ? "kind served" : "kind not served", "kind", gvk.to_string());
    tracked_[gvk].answer = served;
  }
  return !changes.empty();
}

}  // namespace kop::cache
