// A scripted kop::Client for the cache tests: lists answer from queued pages (or a function),
// watches hand out FakeWatch streams that the test drives event by event. Writes are not
// supported (the cache never writes).
#pragma once

#include <absl/status/statusor.h>
#include <absl/strings/str_cat.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kop/api/object.h"
#include "kop/client/client.h"
#include "kop/client/errors.h"

namespace kop::cache::testing {

// A small object of kind ConfigMap (or `kind`), with resourceVersion and optional labels.
inline api::ObjectPtr make_object(std::string_view ns, std::string_view name, std::string_view rv,
                                  const std::map<std::string, std::string>& labels = {},
                                  bool managed_fields = false) {
  api::Object obj("v1", "ConfigMap");
  obj.set_name(name);
  if (!ns.empty()) obj.set_namespace(ns);
  obj.set_resource_version(rv);
  for (const auto& [k, v] : labels) obj.set_label(k, v);
  (void)obj.set_string("/data/key", "value-" + std::string(rv));
  if (managed_fields) {
    (void)obj.set_json("/metadata/managedFields",
                       R"([{"manager":"kubectl","operation":"Apply","fieldsV1":{"f:data":{}}}])");
  }
  return api::share(std::move(obj));
}

inline client::WatchEvent event(client::WatchEvent::Type type, api::ObjectPtr obj) {
  client::WatchEvent e;
  e.type = type;
  e.object = std::move(obj);
  return e;
}

inline client::WatchEvent bookmark(std::string_view rv) {
  api::Object obj("v1", "ConfigMap");
  obj.set_resource_version(rv);
  return event(client::WatchEvent::Type::kBookmark, api::share(std::move(obj)));
}

inline client::WatchEvent gone_event() {
  client::WatchEvent e;
  e.type = client::WatchEvent::Type::kError;
  e.error = client::resource_expired("too old resource version: 1 (50)");
  return e;
}

// One watch the test drives: push() events, close() it, fail() it.
class FakeWatch {
 public:
  void push(client::WatchEvent e) {
    absl::MutexLock lock(&mu_);
    items_.emplace_back(std::move(e));
  }
  void close() {
    absl::MutexLock lock(&mu_);
    items_.emplace_back(std::optional<client::WatchEvent>());
  }
  void fail(absl::Status st) {
    absl::MutexLock lock(&mu_);
    items_.emplace_back(std::move(st));
  }
  bool cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }
  // Everything pushed has been read by the reflector.
  bool drained() const {
    absl::MutexLock lock(&mu_);
    return items_.empty();
  }

  // Something for next() to return (Await calls it with mu_ held).
  bool readable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_ || ended_ || !items_.empty();
  }

  // The stream half, handed to the reflector.
  class Stream : public client::WatchStream {
   public:
    explicit Stream(std::shared_ptr<FakeWatch> w) : w_(std::move(w)) {}
    ~Stream() override { cancel(); }
    absl::StatusOr<std::optional<client::WatchEvent>> next() override {
      absl::MutexLock lock(&w_->mu_);
      w_->mu_.Await(absl::Condition(w_.get(), &FakeWatch::readable));
      if (w_->cancelled_ || w_->ended_) return std::optional<client::WatchEvent>();
      auto item = std::move(w_->items_.front());
      w_->items_.pop_front();
      if (!item.ok() || !item->has_value()) w_->ended_ = true;
      return item;
    }
    void cancel() override {
      absl::MutexLock lock(&w_->mu_);
      w_->cancelled_ = true;
    }

   private:
    std::shared_ptr<FakeWatch> w_;
  };

 private:
  mutable absl::Mutex mu_;
  std::deque<absl::StatusOr<std::optional<client::WatchEvent>>> items_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

class FakeClient : public client::Client {
 public:
  using ListFn = std::function<absl::StatusOr<client::ObjectList>(const client::ResourceRef&,
                                                                  const client::ListOptions&)>;
  using WatchFn = std::function<absl::StatusOr<std::shared_ptr<FakeWatch>>(
      const client::ResourceRef&, const client::WatchOptions&)>;

  // Queued answers are used first, in order; then the functions (if set); else the call waits
  // up to `wait` for something to be queued, then fails Unavailable.
  void queue_list(absl::StatusOr<client::ObjectList> page) {
    absl::MutexLock lock(&mu_);
    lists_.push_back(std::move(page));
  }
  // Queues a watch answer; returns the FakeWatch to drive (nullptr for an error answer).
  std::shared_ptr<FakeWatch> queue_watch(const absl::Status& error = absl::OkStatus()) {
    absl::MutexLock lock(&mu_);
    if (!error.ok()) {
      watches_.emplace_back(error);
      return nullptr;
    }
    auto w = std::make_shared<FakeWatch>();
    watches_.emplace_back(w);
    return w;
  }
  void set_list_fn(ListFn fn) {
    absl::MutexLock lock(&mu_);
    list_fn_ = std::move(fn);
  }
  void set_watch_fn(WatchFn fn) {
    absl::MutexLock lock(&mu_);
    watch_fn_ = std::move(fn);
  }

  std::vector<client::ListOptions> list_calls() const {
    absl::MutexLock lock(&mu_);
    return list_calls_;
  }
  std::vector<client::WatchOptions> watch_calls() const {
    absl::MutexLock lock(&mu_);
    return watch_calls_;
  }
  std::vector<client::ResourceRef> list_refs() const {
    absl::MutexLock lock(&mu_);
    return list_refs_;
  }
  // Waits until at least `n` watch calls were made.
  bool wait_watch_calls(size_t n, absl::Duration timeout = absl::Seconds(5)) const {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return watch_calls_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  bool wait_list_calls(size_t n, absl::Duration timeout = absl::Seconds(5)) const {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return list_calls_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

  absl::StatusOr<client::ObjectList> list(const client::ResourceRef& ref,
                                          const client::ListOptions& options) override {
    ListFn fn;
    {
      absl::MutexLock lock(&mu_);
      list_calls_.push_back(options);
      list_refs_.push_back(ref);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !lists_.empty() || list_fn_ != nullptr;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), wait_);
      if (!lists_.empty()) {
        auto page = std::move(lists_.front());
        lists_.pop_front();
        return page;
      }
      fn = list_fn_;
    }
    if (fn) return fn(ref, options);
    return absl::UnavailableError("fake: no list answer queued");
  }

  absl::StatusOr<client::WatchStreamPtr> watch(const client::ResourceRef& ref,
                                               const client::WatchOptions& options) override {
    WatchFn fn;
    {
      absl::MutexLock lock(&mu_);
      watch_calls_.push_back(options);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !watches_.empty() || watch_fn_ != nullptr;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), wait_);
      if (!watches_.empty()) {
        auto w = std::move(watches_.front());
        watches_.pop_front();
        if (!w.ok()) return w.status();
        return client::WatchStreamPtr(std::make_unique<FakeWatch::Stream>(*w));
      }
      fn = watch_fn_;
    }
    if (fn) {
      auto w = fn(ref, options);
      if (!w.ok()) return w.status();
      return client::WatchStreamPtr(std::make_unique<FakeWatch::Stream>(*w));
    }
    return absl::UnavailableError("fake: no watch answer queued");
  }

  absl::StatusOr<api::ObjectPtr> get(const client::ResourceRef&,
                                     const client::GetOptions&) override {
    return unsupported();
  }
  absl::StatusOr<api::ObjectPtr> create(const client::ResourceRef&, const api::Object&,
                                        const client::CreateOptions&) override {
    return unsupported();
  }
  absl::StatusOr<api::ObjectPtr> update(const client::ResourceRef&, const api::Object&,
                                        const client::UpdateOptions&) override {
    return unsupported();
  }
  absl::StatusOr<api::ObjectPtr> patch(const client::ResourceRef&, client::PatchType,
                                       std::string_view, const client::PatchOptions&) override {
    return unsupported();
  }
  absl::StatusOr<api::ObjectPtr> remove(const client::ResourceRef&,
                                        const client::DeleteOptions&) override {
    return unsupported();
  }
  absl::StatusOr<api::ObjectPtr> get_status(const client::ResourceRef&,
                                            const client::GetOptions&) override {
    return unsupported();
  }
  absl::StatusOr<api::ObjectPtr> update_status(const client::ResourceRef&, const api::Object&,
                                               const client::UpdateOptions&) override {
    return unsupported();
  }
  absl::StatusOr<api::ObjectPtr> patch_status(const client::ResourceRef&, client::PatchType,
                                              std::string_view,
                                              const client::PatchOptions&) override {
    return unsupported();
  }

  absl::Duration wait_ =
      absl::Milliseconds(500);  // bounds the wait at stop() when nothing is queued

 private:
  static absl::Status unsupported() { return absl::UnimplementedError("fake: read-only"); }

  mutable absl::Mutex mu_;
  std::deque<absl::StatusOr<client::ObjectList>> lists_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::StatusOr<std::shared_ptr<FakeWatch>>> watches_ ABSL_GUARDED_BY(mu_);
  ListFn list_fn_ ABSL_GUARDED_BY(mu_);
  WatchFn watch_fn_ ABSL_GUARDED_BY(mu_);
  std::vector<client::ListOptions> list_calls_ ABSL_GUARDED_BY(mu_);
  std::vector<client::ResourceRef> list_refs_ ABSL_GUARDED_BY(mu_);
  std::vector<client::WatchOptions> watch_calls_ ABSL_GUARDED_BY(mu_);
};

inline client::ObjectList page(std::vector<api::ObjectPtr> items, std::string_view rv,
                               std::string_view continue_token = "") {
  client::ObjectList l;
  l.api_version = "v1";
  l.kind = "ConfigMapList";
  l.resource_version = std::string(rv);
  l.continue_token = std::string(continue_token);
  l.items = std::move(items);
  return l;
}

}  // namespace kop::cache::testing
