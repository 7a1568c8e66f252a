// kop/cache/informer.h: the informer of one kind as a Cache hands it out.
//
// An Informer is one SharedInformer (all namespaces, or a cluster-scoped kind) or several (one
// per watched namespace) behind one interface: handlers registered here are registered on each
// part, reads merge the parts, and it has synced when every part has. The event guarantees are
// those of event_handler.h, per namespace.
//
// Threading: every method is safe from any thread.
#pragma once

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kop/api/gvk.h"
#include "kop/cache/event_handler.h"
#include "kop/cache/shared_informer.h"
#include "kop/client/client.h"

namespace kop::cache {

class Informer {
 public:
  // `namespaces` empty = one informer for all namespaces (or a cluster-scoped kind).
  Informer(client::Client& client, api::GroupVersionKind gvk, std::vector<std::string> namespaces,
           const InformerOptions& options);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  const api::GroupVersionKind& gvk() const { return gvk_; }
  // The namespaces watched; empty = all.
  const std::vector<std::string>& namespaces() const { return namespaces_; }
  bool watches_namespace(std::string_view ns) const;

  // See SharedInformer::add_event_handler; the registration has synced when every part has.
  HandlerRegistrationPtr add_event_handler(std::shared_ptr<EventHandler> handler,
                                           absl::Duration resync_period = absl::Seconds(-1));
  absl::Status remove_event_handler(const HandlerRegistrationPtr& registration);
  absl::Status add_indexers(Indexers indexers);

  void start();
  void stop();
  // Every part retires (SharedInformer::retire): handlers get a deletion per stored object.
  void retire(absl::Duration drain);
  bool has_synced() const;
  absl::Status wait_for_sync(absl::Duration timeout) const;
  // Each part's reflector status (one per namespace).
  std::vector<ReflectorStatus> statuses() const;
  std::string description() const;

  // Reads over all parts.
  api::ObjectPtr get(std::string_view ns, std::string_view name) const;
  std::vector<api::ObjectPtr> list() const;
  // The sum of the parts' store generations (Indexer::generation): the same value twice means
  // no object of this informer was added, replaced or removed in between.
  uint64_t generation() const;
  // Indexer::keys_written_since of the one part; nullopt with several parts (their generations
  // are summed).
  std::optional<WrittenKeys> keys_written_since(uint64_t since) const;
  // The part for `ns` (or the only part), nullptr when `ns` is not watched.
  const SharedInformer* part_for(std::string_view ns) const;
  const std::vector<std::unique_ptr<SharedInformer>>& parts() const { return parts_; }

 private:
  api::GroupVersionKind gvk_;
  std::vector<std::string> namespaces_;
  std::vector<std::unique_ptr<SharedInformer>> parts_;
};

}  // namespace kop::cache
