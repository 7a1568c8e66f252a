#include "kop/cache/shared_informer.h"

#include <absl/strings/str_cat.h>

#include <deque>
#include <exception>

#include "kop/log/log.h"

namespace kop::cache {

// One handler: an unbounded FIFO of notifications drained by its own thread, so the informer
// never waits for a handler.
class SharedInformer::Listener final : public HandlerRegistration {
 public:
  enum class Kind { kAdd, kUpdate, kDelete };
  struct Notification {
    Kind kind;
    api::ObjectPtr old_obj;  // update only
    api::ObjectPtr obj;
    bool flag = false;  // add: in_initial_list; delete: final_state_unknown
  };

  Listener(std::shared_ptr<EventHandler> handler, absl::Duration resync_period, absl::Time now,
           std::string description)
      : handler_(std::move(handler)),
        resync_period_(resync_period),
        next_resync_(now + resync_period),
        description_(std::move(description)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Listener() override { stop(); }

  void push(Notification n) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(n));
    ++pushed_;
  }

  // Everything pushed so far belongs to the initial state this listener must process to sync.
  void mark_sync_point() {
    absl::MutexLock lock(&mu_);
    sync_target_ = pushed_;
    sync_point_set_ = true;
  }

  bool has_synced() const override {
    absl::MutexLock lock(&mu_);
    return sync_point_set_ && processed_ >= sync_target_;
  }

  // Waits until everything pushed so far was processed (or `timeout`, or stop).
  void wait_idle(absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || processed_ >= pushed_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
  }

  void stop() {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    if (thread_.joinable()) {
      // A handler removing itself must not join its own thread.
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();
      } else {
        thread_.join();
      }
    }
  }

  // Resync bookkeeping (dispatch_mu_ held by the caller).
  bool resync_due(absl::Time now) const {
    return resync_period_ > absl::ZeroDuration() && now >= next_resync_;
  }
  void resync_done(absl::Time now) { next_resync_ = now + resync_period_; }
  absl::Duration resync_period() const { return resync_period_; }

 private:
  bool ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); }

  void run() {
    while (true) {
      Notification n;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Listener::ready));
        if (stopping_) return;
        n = std::move(queue_.front());
        queue_.pop_front();
      }
      deliver(n);
      absl::MutexLock lock(&mu_);
      ++processed_;
    }
  }

  void deliver(const Notification& n) {
    try {
      switch (n.kind) {
        case Kind::kAdd:
          handler_->on_add(n.obj, n.flag);
          break;
        case Kind::kUpdate:
          handler_->on_update(n.old_obj, n.obj);
          break;
        case Kind::kDelete:
          handler_->on_delete(n.obj, n.flag);
          break;
      }
    } catch (const std::exception& e) {
      log::named("cache.informer")
          .error("event handler threw", "resource", description_, "error",
                 std::string_view(e.what()));
    } catch (...) {
      log::named("cache.informer")
          .error("event handler threw", "resource", description_, "error",
                 std::string_view("unknown exception"));
    }
  }

  std::shared_ptr<EventHandler> handler_;
  const absl::Duration resync_period_;
  absl::Time next_resync_;
  const std::string description_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  std::deque<Notification> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t pushed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t processed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sync_target_ ABSL_GUARDED_BY(mu_) = 0;
  bool sync_point_set_ ABSL_GUARDED_BY(mu_) = false;
};

namespace {

ReflectorOptions reflector_options(InformerOptions& options) {
  ReflectorOptions r = std::move(options.reflector);
  r.transform = options.share_objects
                    ? make_sharing_transform(std::move(options.transform))
                    : make_transform(options.keep_managed_fields, std::move(options.transform));
  return r;
}

}  // namespace

SharedInformer::SharedInformer(client::Client& client, InformerOptions options)
    : indexer_(std::move(options.indexers)),
      clock_(options.reflector.clock ? *options.reflector.clock : RealClock::instance()),
      default_resync_(options.default_resync_period),
      reflector_(client, *this, reflector_options(options)) {
  metrics::Registry& reg =
      options.reflector.registry ? *options.reflector.registry : metrics::default_registry();
  const std::string& resource = reflector_.description();
  synced_gauge_ =
      &reg.gauge_vec("kop_cache_informer_synced",
                     "1 when the informer's first list is stored, else 0.", {"resource"})
           .with({resource});
  objects_gauge_ =
      &reg.gauge_vec("kop_cache_objects", "Objects held by an informer's store.", {"resource"})
           .with({resource});
  synced_gauge_->set(0);
}

SharedInformer::~SharedInformer() {
  stop();
}

HandlerRegistrationPtr SharedInformer::add_event_handler(std::shared_ptr<EventHandler> handler,
                                                         absl::Duration resync_period) {
  if (resync_period < absl::ZeroDuration()) resync_period = default_resync_;
  absl::MutexLock lock(&dispatch_mu_);
  auto listener =
      std::make_shared<Listener>(std::move(handler), resync_period, clock_.now(), description());
  if (stopped_) return listener;  // never delivers; has_synced() stays false
  // Late registration: the current content as synthetic adds, queued under dispatch_mu_ so no
  // change can slip between this snapshot and the first live event.
  if (started_) {
    for (api::ObjectPtr& obj : indexer_.list()) {
      listener->push({Listener::Kind::kAdd, nullptr, std::move(obj), true});
    }
  }
  if (synced_) listener->mark_sync_point();
  listeners_.push_back(listener);
  return listener;
}

absl::Status SharedInformer::remove_event_handler(const HandlerRegistrationPtr& registration) {
  std::shared_ptr<Listener> found;
  {
    absl::MutexLock lock(&dispatch_mu_);
    for (auto it = listeners_.begin(); it != listeners_.end(); ++it) {
      if (*it == registration) {
        found = *it;
        listeners_.erase(it);
        break;
      }
    }
  }
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat("cache: handler not registered with informer for ", description()));
  }
  found->stop();
  return absl::OkStatus();
}

void SharedInformer::start() {
  {
    absl::MutexLock lock(&dispatch_mu_);
    if (started_ || stopped_) return;
    started_ = true;
  }
  resync_thread_ = std::thread([this] { resync_loop(); });
  reflector_.start();
}

void SharedInformer::stop() {
  std::vector<std::shared_ptr<Listener>> listeners;
  {
    absl::MutexLock lock(&dispatch_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  stop_.stop();
  reflector_.stop();
  if (resync_thread_.joinable()) resync_thread_.join();
  {
    absl::MutexLock lock(&dispatch_mu_);
    listeners.swap(listeners_);
  }
  for (auto& l : listeners) l->stop();
}

void SharedInformer::retire(absl::Duration drain) {
  {
    absl::MutexLock lock(&dispatch_mu_);
    if (stopped_) return;
  }
  reflector_.stop();  // from here on nothing else writes the store
  std::vector<std::shared_ptr<Listener>> listeners;
  {
    absl::MutexLock lock(&dispatch_mu_);
    absl::StatusOr<ReplaceResult> emptied = indexer_.commit_replace(indexer_.begin_replace());
    if (emptied.ok()) {
      for (const auto& l : listeners_) {
        for (const api::ObjectPtr& obj : emptied->deleted) {
          l->push({Listener::Kind::kDelete, nullptr, obj, true});
        }
      }
    }
    objects_gauge_->set(0);
    listeners = listeners_;
  }
  const absl::Time deadline = absl::Now() + drain;
  for (const auto& l : listeners) l->wait_idle(deadline - absl::Now());
  stop();
}

bool SharedInformer::has_synced() const {
  absl::MutexLock lock(&dispatch_mu_);
  return synced_;
}

absl::Status SharedInformer::wait_for_sync(absl::Duration timeout) const {
  {
    absl::MutexLock lock(&dispatch_mu_);
    auto done = [this]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(dispatch_mu_) { return synced_ || stopped_; };
    dispatch_mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    if (synced_) return absl::OkStatus();
  }
  ReflectorStatus st = status();
  std::string why = st.last_error.ok() ? std::string("no error reported yet (still listing)")
                                       : std::string(st.last_error.message());
  return absl::DeadlineExceededError(absl::StrCat("cache: informer for ", description(),
                                                  " not synced after ",
                                                  absl::FormatDuration(timeout), ": ", why));
}

void SharedInformer::replace(Indexer::Replacement replacement, std::string_view) {
  absl::MutexLock lock(&dispatch_mu_);
  absl::StatusOr<ReplaceResult> result = indexer_.commit_replace(std::move(replacement));
  if (!result.ok()) return;  // cannot happen: the replacement came from indexer_
  const bool initial = !synced_;
  for (const auto& l : listeners_) {
    for (const api::ObjectPtr& obj : result->added) {
      l->push({Listener::Kind::kAdd, nullptr, obj, initial});
    }
    for (const auto& [old_obj, new_obj] : result->updated) {
      l->push({Listener::Kind::kUpdate, old_obj, new_obj, false});
    }
    for (const api::ObjectPtr& obj : result->deleted) {
      l->push({Listener::Kind::kDelete, nullptr, obj, true});
    }
    if (initial) l->mark_sync_point();
  }
  synced_ = true;
  synced_gauge_->set(1);
  objects_gauge_->set(static_cast<double>(indexer_.size()));
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): add() and update() move their object in.
void SharedInformer::upsert(api::ObjectPtr obj) {
  absl::MutexLock lock(&dispatch_mu_);
  api::ObjectPtr old = indexer_.upsert(obj);
  if (!old) objects_gauge_->inc();
  for (const auto& l : listeners_) {
    if (old) {
      l->push({Listener::Kind::kUpdate, old, obj, false});
    } else {
      l->push({Listener::Kind::kAdd, nullptr, obj, false});
    }
  }
}

void SharedInformer::add(api::ObjectPtr obj) {
  upsert(std::move(obj));
}
void SharedInformer::update(api::ObjectPtr obj) {
  upsert(std::move(obj));
}

void SharedInformer::remove(api::ObjectPtr obj) {
  absl::MutexLock lock(&dispatch_mu_);
  if (indexer_.remove(obj->key())) objects_gauge_->dec();
  for (const auto& l : listeners_) l->push({Listener::Kind::kDelete, nullptr, obj, false});
}

void SharedInformer::resync_loop() {
  while (!stop_.stopped()) {
    absl::Duration check = absl::InfiniteDuration();
    {
      absl::MutexLock lock(&dispatch_mu_);
      const absl::Time now = clock_.now();
      std::vector<api::ObjectPtr> objects;
      bool listed = false;
      for (const auto& l : listeners_) {
        if (l->resync_period() > absl::ZeroDuration()) {
          check = std::min(check, l->resync_period());
        }
        if (!synced_ || !l->resync_due(now)) continue;
        if (!listed) {
          objects = indexer_.list();
          listed = true;
        }
        for (const api::ObjectPtr& obj : objects) {
          l->push({Listener::Kind::kUpdate, obj, obj, false});
        }
        l->resync_done(now);
      }
    }
    // Without any resyncing handler, look again now and then for new registrations.
    if (check == absl::InfiniteDuration()) check = absl::Seconds(1);
    if (!clock_.sleep(std::min(check, absl::Seconds(1)), stop_)) break;
  }
}

}  // namespace kop::cache
