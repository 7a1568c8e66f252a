#include "kop/cache/reflector.h"

#include <absl/strings/str_cat.h>

#include <utility>

#include "kop/client/errors.h"
#include "kop/log/log.h"

namespace kop::cache {
namespace {

absl::string_view av(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

int64_t real_now_ns() {
  return absl::ToUnixNanos(absl::Now());
}

}  // namespace

std::string describe(const client::ResourceRef& ref) {
  // apimachinery prints the core group as "/v1, Kind=Pod"; so do we.
  std::string gv = absl::StrCat(ref.group, "/", ref.version);
  std::string out = ref.resource.empty() ? absl::StrCat(gv, ", Kind=", ref.kind)
                                         : absl::StrCat(gv, ", Resource=", ref.resource);
  if (!ref.namespace_.empty()) absl::StrAppend(&out, " in namespace ", ref.namespace_);
  return out;
}

Reflector::Reflector(client::Client& client, ReflectorStore& store, ReflectorOptions options)
    : client_(client),
      store_(store),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : RealClock::instance()),
      backoff_(clock_, options_.backoff, options_.seed),
      rng_(options_.seed != 0 ? options_.seed + 1 : std::random_device{}()) {
  if (options_.description.empty()) options_.description = describe(options_.ref);
  if (!options_.transform) options_.transform = strip_managed_fields;
  if (options_.page_size < 0) options_.page_size = 0;
  log_ = log::named("cache.reflector").with_values("resource", options_.description);
  metrics::Registry& reg = options_.registry ? *options_.registry : metrics::default_registry();
  errors_total_ = &reg.counter_vec("kop_cache_reflector_errors_total",
                                   "Failed list and watch calls of cache reflectors, by resource, "
                                   "verb and API reason.",
                                   {"resource", "verb", "reason"});
  lists_total_ =
      &reg.counter_vec("kop_cache_reflector_lists_total",
                       "Complete lists (initial and relists) stored by cache reflectors.",
                       {"resource"})
           .with({options_.description});
  events_total_ = &reg.counter_vec("kop_cache_reflector_watch_events_total",
                                   "Watch events applied by cache reflectors (bookmarks included).",
                                   {"resource"})
                       .with({options_.description});
}

Reflector::~Reflector() {
  stop();
}

void Reflector::start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
  watchdog_thread_ = std::thread([this] { watchdog(); });
}

void Reflector::stop() {
  // stop_ first: whoever sees stopping_ (under mu_) then also sees stop_.stopped(), so run()
  // ends quietly instead of reporting the watch that stop() cut (or refused) as a failure.
  stop_.stop();
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    if (active_ != nullptr) active_->cancel();
  }
  if (thread_.joinable()) thread_.join();
  if (watchdog_thread_.joinable()) watchdog_thread_.join();
}

ReflectorStatus Reflector::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

std::string Reflector::last_sync_resource_version() const {
  absl::MutexLock lock(&mu_);
  return status_.resource_version;
}

void Reflector::set_resource_version(std::string_view rv) {
  if (rv.empty()) return;
  absl::MutexLock lock(&mu_);
  status_.resource_version = std::string(rv);
}

absl::Status Reflector::named(std::string_view verb, const absl::Status& st) const {
  // Keep the code and the API Status payload (is_gone() etc. still work); prefix the message.
  absl::Status out(st.code(),
                   absl::StrCat(av(verb), " ", options_.description, ": ", st.message()));
  st.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

void Reflector::record_error(std::string_view verb, const absl::Status& st) {
  const std::string reason = client::reason_of(st);
  errors_total_->with({options_.description, verb, reason.empty() ? "Unknown" : reason}).inc();
  {
    absl::MutexLock lock(&mu_);
    status_.last_error = st;
    ++status_.errors;
  }
  // The message already names the verb and the kind; reason and code make it greppable.
  const std::string_view message(st.message().data(), st.message().size());
  if (options_.on_error && options_.on_error(st)) {
    log_.debug("list/watch failed (expected by the owner), backing off", "error", message);
  } else if (client::is_gone(st)) {
    log_.info("resource version too old, relisting", "error", message);
  } else {
    log_.error("list/watch failed, backing off", "error", message, "reason", client::reason_of(st),
               "code", client::http_code_of(st));
  }
}

void Reflector::run() {
  bool need_list = true;
  while (!stop_.stopped()) {
    absl::Status st;
    std::string_view verb = "list";
    if (need_list) {
      st = list();
      if (st.ok()) need_list = false;
    }
    if (st.ok()) {
      verb = "watch";
      st = watch();
    }
    if (stop_.stopped()) break;
    if (st.ok()) continue;  // a watch that ended normally resumes at once from the last RV
    if (client::is_gone(st)) {
      need_list = true;
      absl::MutexLock lock(&mu_);
      ++status_.relists_gone;
    }
    record_error(verb, st);
    if (verb == "watch" && watch_ran_) backoff_.reset();
    if (!clock_.sleep(backoff_.next(), stop_)) break;
  }
}

absl::Status Reflector::list() {
  client::ListOptions opts;
  opts.label_selector = options_.label_selector;
  opts.field_selector = options_.field_selector;
  opts.limit = options_.page_size;
  Indexer::Replacement replacement = store_.begin_replace();
  std::string resource_version;
  bool restarted = false;
  while (true) {
    if (stop_.stopped()) return absl::CancelledError("stopped");
    absl::StatusOr<client::ObjectList> page = client_.list(options_.ref, opts);
    if (!page.ok()) {
      // The continue token expired (the list took longer than the server's compaction window):
      // start over once, as a single unpaginated list.
      if (client::is_gone(page.status()) && !opts.continue_token.empty() && !restarted) {
        restarted = true;
        opts.continue_token.clear();
        opts.limit = 0;
        replacement = store_.begin_replace();
        continue;
      }
      return named("list", page.status());
    }
    // Each page is moved into the replacement and released before the next one is fetched, so
    // the peak is the new content plus one page, not two full lists.
    for (api::ObjectPtr& item : page->items) replacement.add(options_.transform(std::move(item)));
    page->items.clear();
    page->items.shrink_to_fit();
    if (page->continue_token.empty()) {
      resource_version = std::move(page->resource_version);
      break;
    }
    opts.continue_token = std::move(page->continue_token);
  }
  store_.replace(std::move(replacement), resource_version);
  {
    absl::MutexLock lock(&mu_);
    status_.resource_version = resource_version;
    status_.synced = true;
    status_.last_error = absl::OkStatus();
    ++status_.lists;
  }
  lists_total_->inc();
  synced_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Reflector::watch() {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const absl::Duration timeout = options_.min_watch_timeout * (1.0 + unit(rng_));
  client::WatchOptions opts;
  opts.label_selector = options_.label_selector;
  opts.field_selector = options_.field_selector;
  opts.resource_version = last_sync_resource_version();
  opts.allow_watch_bookmarks = true;
  opts.timeout_seconds = std::max<int64_t>(1, absl::ToInt64Seconds(timeout));

  watch_ran_ = false;
  absl::StatusOr<client::WatchStreamPtr> stream = client_.watch(options_.ref, opts);
  if (!stream.ok()) return named("watch", stream.status());
  const absl::Time started = absl::Now();
  last_event_ns_.store(real_now_ns(), std::memory_order_relaxed);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopped");
    active_ = stream->get();
    active_deadline_ = absl::Seconds(*opts.timeout_seconds) + options_.watch_silence_grace;
    silence_cancelled_ = false;
    ++status_.watches;
  }
  uint64_t events = 0;
  absl::Status result = absl::OkStatus();
  while (true) {
    absl::StatusOr<std::optional<client::WatchEvent>> next = (*stream)->next();
    if (!next.ok()) {
      result = named("watch", next.status());
      break;
    }
    if (!next->has_value()) {
      absl::MutexLock lock(&mu_);
      if (!stopping_ && !silence_cancelled_ && events == 0 &&
          absl::Now() - started < absl::Seconds(1)) {
        result = named("watch",
                       absl::UnavailableError("very short watch: closed with no events within 1s"));
      }
      break;
    }
    client::WatchEvent& event = **next;
    last_event_ns_.store(real_now_ns(), std::memory_order_relaxed);
    if (event.type == client::WatchEvent::Type::kError) {
      result = named("watch", event.error.ok() ? absl::UnknownError("ERROR event without status")
                                               : event.error);
      break;
    }
    ++events;
    if (!event.object) continue;
    std::string rv(event.object->resource_version());
    switch (event.type) {
      case client::WatchEvent::Type::kAdded:
        store_.add(options_.transform(std::move(event.object)));
        break;
      case client::WatchEvent::Type::kModified:
        store_.update(options_.transform(std::move(event.object)));
        break;
      case client::WatchEvent::Type::kDeleted:
        store_.remove(options_.transform(std::move(event.object)));
        break;
      case client::WatchEvent::Type::kBookmark:
      case client::WatchEvent::Type::kError:
        break;
    }
    {
      absl::MutexLock lock(&mu_);
      if (!rv.empty()) status_.resource_version = std::move(rv);
      ++status_.watch_events;
      events_total_->inc();
      if (!status_.last_error.ok()) status_.last_error = absl::OkStatus();
    }
  }
  {
    absl::MutexLock lock(&mu_);
    active_ = nullptr;
    if (silence_cancelled_) ++status_.silent_restarts;
  }
  watch_ran_ = events > 0 || absl::Now() - started >= absl::Seconds(1);
  return result;
}

void Reflector::watchdog() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    // Check a few times per grace period; cheap, and avoids touching mu_ on every event.
    absl::Duration tick =
        std::clamp(options_.watch_silence_grace / 4, absl::Milliseconds(10), absl::Seconds(1));
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), tick);
    if (stopping_ || active_ == nullptr || silence_cancelled_) continue;
    absl::Duration silent =
        absl::Nanoseconds(real_now_ns() - last_event_ns_.load(std::memory_order_relaxed));
    if (silent > active_deadline_) {
      silence_cancelled_ = true;
      active_->cancel();
      log_.warn("watch silent past its timeout, restarting", "silent_seconds",
                absl::ToDoubleSeconds(silent));
    }
  }
}

}  // namespace kop::cache
