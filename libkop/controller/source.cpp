#include "kop/controller/source.h"

#include <thread>

namespace kop::controller {
namespace {

// Feeds one informer's notifications through the predicates to the handler. Delivery can be
// turned off (stop) while the informer keeps calling: the informer owns this object.
class InformerBridge : public cache::EventHandler {
 public:
  InformerBridge(HandlerPtr handler, Queue& queue, std::vector<Predicate> predicates)
      : handler_(std::move(handler)), queue_(&queue), predicates_(std::move(predicates)) {}

  void on_add(const api::ObjectPtr& obj, bool) override {
    CreateEvent e{obj};
    if (Queue* q = live(); q != nullptr && pass(predicates_, e)) handler_->create(e, *q);
  }
  void on_update(const api::ObjectPtr& old_obj, const api::ObjectPtr& new_obj) override {
    UpdateEvent e{old_obj, new_obj};
    if (Queue* q = live(); q != nullptr && pass(predicates_, e)) handler_->update(e, *q);
  }
  void on_delete(const api::ObjectPtr& obj, bool unknown) override {
    DeleteEvent e{obj, unknown};
    if (Queue* q = live(); q != nullptr && pass(predicates_, e)) handler_->del(e, *q);
  }
  void stop() {
    absl::MutexLock lock(&mu_);
    queue_ = nullptr;
  }

 private:
  // The queue while delivering; holding no lock across the handler is fine because the queue
  // is shut down (adds ignored), never destroyed, before the controller is.
  Queue* live() {
    absl::MutexLock lock(&mu_);
    return queue_;
  }
  HandlerPtr handler_;
  absl::Mutex mu_;
  Queue* queue_ ABSL_GUARDED_BY(mu_);
  const std::vector<Predicate> predicates_;
};

class KindSource : public Source {
 public:
  KindSource(cache::Cache& cache, api::GroupVersionKind gvk)
      : cache_(cache), gvk_(std::move(gvk)) {}
  ~KindSource() override { stop(); }

  absl::Status start(HandlerPtr handler, Queue& queue, std::vector<Predicate> predicates) override {
    absl::MutexLock lock(&mu_);
    if (bridge_ != nullptr) return absl::FailedPreconditionError(description() + " started twice");
    auto bridge =
        std::make_shared<InformerBridge>(std::move(handler), queue, std::move(predicates));
    // Through the cache, so that an optional kind's handler follows the kind's informers.
    auto registration = cache_.add_event_handler(gvk_, bridge);
    if (!registration.ok()) return registration.status();
    bridge_ = std::move(bridge);
    registration_ = *std::move(registration);
    return absl::OkStatus();
  }

  absl::Status wait_for_sync(absl::Duration timeout) override {
    cache::HandlerRegistrationPtr reg;
    {
      absl::MutexLock lock(&mu_);
      reg = registration_;
    }
    if (reg == nullptr) return absl::FailedPreconditionError(description() + " not started");
    absl::Time deadline = absl::Now() + timeout;
    while (!reg->has_synced()) {
      if (absl::Now() >= deadline) {
        std::string why;
        for (const cache::InformerState& s : cache_.states()) {
          if (s.gvk == gvk_ && !s.last_error.ok()) why = std::string(s.last_error.message());
        }
        return absl::DeadlineExceededError(
            "timed out waiting for cache to be synced for Kind " + gvk_.to_string() +
            (why.empty() ? std::string() : " (last error: " + why + ")"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return absl::OkStatus();
  }

  void stop() override {
    std::shared_ptr<InformerBridge> bridge;
    cache::HandlerRegistrationPtr reg;
    {
      // Cleared, so that start() may register again (a controller started anew).
      absl::MutexLock lock(&mu_);
      bridge = std::move(bridge_);
      reg = std::move(registration_);
    }
    if (bridge != nullptr) bridge->stop();
    if (reg != nullptr) cache_.remove_event_handler(gvk_, reg).IgnoreError();
  }

  std::string description() const override { return "kind source: " + gvk_.to_string(); }

 private:
  cache::Cache& cache_;
  const api::GroupVersionKind gvk_;
  absl::Mutex mu_;
  std::shared_ptr<InformerBridge> bridge_ ABSL_GUARDED_BY(mu_);
  cache::HandlerRegistrationPtr registration_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

SourcePtr kind(cache::Cache& cache, api::GroupVersionKind gvk) {
  return std::make_shared<KindSource>(cache, std::move(gvk));
}

absl::Status ChannelSource::start(HandlerPtr handler, Queue& queue,
                                  std::vector<Predicate> predicates) {
  absl::MutexLock lock(&mu_);
  handler_ = std::move(handler);
  queue_ = &queue;
  predicates_ = std::move(predicates);
  return absl::OkStatus();
}

void ChannelSource::stop() {
  absl::MutexLock lock(&mu_);
  queue_ = nullptr;
}

void ChannelSource::send(api::ObjectPtr object) {
  absl::MutexLock lock(&mu_);
  if (queue_ == nullptr) return;
  GenericEvent e{std::move(object)};
  if (pass(predicates_, e)) handler_->generic(e, *queue_);
}

}  // namespace kop::controller
