#include "kop/cache/informer.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>

namespace kop::cache {
namespace {

// The registration of one handler on every part.
class MultiRegistration final : public HandlerRegistration {
 public:
  explicit MultiRegistration(std::vector<HandlerRegistrationPtr> parts)
      : parts_(std::move(parts)) {}
  bool has_synced() const override {
    return std::all_of(parts_.begin(), parts_.end(),
                       [](const HandlerRegistrationPtr& p) { return p->has_synced(); });
  }
  const std::vector<HandlerRegistrationPtr>& parts() const { return parts_; }

 private:
  std::vector<HandlerRegistrationPtr> parts_;
};

}  // namespace

Informer::Informer(client::Client& client, api::GroupVersionKind gvk,
                   std::vector<std::string> namespaces, const InformerOptions& options)
    : gvk_(std::move(gvk)), namespaces_(std::move(namespaces)) {
  std::sort(namespaces_.begin(), namespaces_.end());
  namespaces_.erase(std::unique(namespaces_.begin(), namespaces_.end()), namespaces_.end());
  // Descriptions name the kind (what users configured), not the plural resource.
  if (namespaces_.empty()) {
    InformerOptions all = options;
    all.reflector.description = gvk_.to_string();
    parts_.push_back(std::make_unique<SharedInformer>(client, std::move(all)));
    return;
  }
  for (const std::string& ns : namespaces_) {
    InformerOptions part = options;
    part.reflector.ref.namespace_ = ns;
    part.reflector.description = absl::StrCat(gvk_.to_string(), " in namespace ", ns);
    parts_.push_back(std::make_unique<SharedInformer>(client, std::move(part)));
  }
}

Informer::~Informer() {
  stop();
}

bool Informer::watches_namespace(std::string_view ns) const {
  return namespaces_.empty() ||
         std::binary_search(namespaces_.begin(), namespaces_.end(), std::string(ns));
}

HandlerRegistrationPtr Informer::add_event_handler(std::shared_ptr<EventHandler> handler,
                                                   absl::Duration resync_period) {
  if (parts_.size() == 1) return parts_[0]->add_event_handler(std::move(handler), resync_period);
  std::vector<HandlerRegistrationPtr> regs;
  regs.reserve(parts_.size());
  for (auto& part : parts_) regs.push_back(part->add_event_handler(handler, resync_period));
  return std::make_shared<MultiRegistration>(std::move(regs));
}

absl::Status Informer::remove_event_handler(const HandlerRegistrationPtr& registration) {
  if (auto* multi = dynamic_cast<MultiRegistration*>(registration.get())) {
    absl::Status status;
    for (size_t i = 0; i < parts_.size() && i < multi->parts().size(); ++i) {
      status.Update(parts_[i]->remove_event_handler(multi->parts()[i]));
    }
    return status;
  }
  return parts_[0]->remove_event_handler(registration);
}

absl::Status Informer::add_indexers(Indexers indexers) {
  if (parts_.empty()) return absl::OkStatus();
  // A copy per part but the last, which takes the original.
  for (size_t i = 0; i + 1 < parts_.size(); ++i) {
    absl::Status st = parts_[i]->add_indexers(indexers);
    if (!st.ok()) return st;
  }
  return parts_.back()->add_indexers(std::move(indexers));
}

void Informer::start() {
  for (auto& part : parts_) part->start();
}

void Informer::stop() {
  for (auto& part : parts_) part->stop();
}

void Informer::retire(absl::Duration drain) {
  const absl::Time deadline = absl::Now() + drain;
  for (auto& part : parts_) part->retire(std::max(deadline - absl::Now(), absl::ZeroDuration()));
}

bool Informer::has_synced() const {
  return std::all_of(parts_.begin(), parts_.end(),
                     [](const std::unique_ptr<SharedInformer>& p) { return p->has_synced(); });
}

absl::Status Informer::wait_for_sync(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  for (const auto& part : parts_) {
    absl::Status st = part->wait_for_sync(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

std::vector<ReflectorStatus> Informer::statuses() const {
  std::vector<ReflectorStatus> out;
  out.reserve(parts_.size());
  for (const auto& part : parts_) out.push_back(part->status());
  return out;
}

std::string Informer::description() const {
  std::string out = gvk_.to_string();
  if (!namespaces_.empty())
    absl::StrAppend(&out, " in namespaces ", absl::StrJoin(namespaces_, ","));
  return out;
}

const SharedInformer* Informer::part_for(std::string_view ns) const {
  if (namespaces_.empty()) return parts_[0].get();
  auto it = std::lower_bound(namespaces_.begin(), namespaces_.end(), std::string(ns));
  if (it == namespaces_.end() || *it != ns) return nullptr;
  return parts_[it - namespaces_.begin()].get();
}

api::ObjectPtr Informer::get(std::string_view ns, std::string_view name) const {
  const SharedInformer* part = part_for(ns);
  return part ? part->indexer().get(ns, name) : nullptr;
}

uint64_t Informer::generation() const {
  uint64_t sum = 0;  // each part's only grows, so the sum changes whenever one does
  for (const auto& part : parts_) sum += part->indexer().generation();
  return sum;
}

std::optional<WrittenKeys> Informer::keys_written_since(uint64_t since) const {
  if (parts_.size() != 1) return std::nullopt;
  return parts_[0]->indexer().keys_written_since(since);
}

std::vector<api::ObjectPtr> Informer::list() const {
  if (parts_.size() == 1) return parts_[0]->indexer().list();
  std::vector<api::ObjectPtr> out;
  for (const auto& part : parts_) {
    std::vector<api::ObjectPtr> items = part->indexer().list();
    out.insert(out.end(), std::make_move_iterator(items.begin()),
               std::make_move_iterator(items.end()));
  }
  return out;
}

}  // namespace kop::cache
