// Internal to the model: the per-Ingress part of a BuildCache (model.h). Each Ingress'
// translation is kept with what it read, and replayed (or just kept) while the Ingress and
// everything it read are unchanged; the Ingresses translated again or gone are reported as
// changes, from which incremental.cpp finds the hosts to assemble again. Given what the caches
// changed since the last build (SnapshotChanges), only the Ingresses changed and those that read
// a changed object (a reverse index from each object read to its readers) are visited.
// Threading: used by one build at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "builder.h"
#include "entry_key.h"
#include "kop/ingress/list_diff.h"

namespace kop::ingress::internal {

// One Ingress' translation: what it added to the Builder, and what it read.
struct IngressEntry {
  api::ObjectPtr ingress;
  // Whether the Ingress is of our class (Model::owned_ingresses lists it, as owned_ref()): the
  // reference is made when needed, not kept (a vector of one ObjectRef: 120 bytes an entry).
  bool owned = false;
  std::vector<RouteCandidate> routes;
  std::vector<RouteCandidate> default_backends;
  std::vector<TlsCandidate> tls;
  std::vector<Event> events;
  Recording recording;
  uint64_t seen = 0;  // the last build whose snapshot held the Ingress
};

// An Ingress translated again this build (`before` its previous entry, if it had one) or gone
// (`after` null).
struct EntryChange {
  std::optional<IngressEntry> before;
  const IngressEntry* after = nullptr;  // into IngressCache::entries
};

// Looks string keys up by std::string_view, without making a std::string per lookup.
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

// What the caches' listings changed since the previous build, by kind (list_diff.h).
struct SnapshotChanges {
  const ListDiff& ingresses;
  const ListDiff& services;
  const ListDiff& endpoint_slices;
  const ListDiff& secrets;
  const ListDiff& config_maps;
};

struct IngressCache {
  // The context every entry was translated in: class selection depends on both.
  bool has_context = false;
  Options options;
  std::vector<api::ObjectPtr> ingress_classes;
  // By uid (or "/namespace/name" when the object has no uid). The indexes below and the
  // BuildCache's share each entry's key (entry_key.h) instead of copying its text.
  using Entries = std::unordered_map<EntryKey, IngressEntry, KeyHash, std::equal_to<>>;
  Entries entries;
  // The keys of the entries with Events (the build collects the Events of these only).
  std::set<EntryKey, std::less<>> with_events;
  // read_key() of each object some entry read -> the keys of those entries.
  std::unordered_map<std::string, std::vector<EntryKey>, KeyHash, std::equal_to<>> readers;
  uint64_t builds = 0;
  size_t reused = 0;
  size_t translated = 0;
  // Of the reused: the entries that took a status-only replacement by pointer (ListDiff).
  size_t status_only = 0;
  // This build dropped every entry (Options or IngressClasses changed): nothing is comparable.
  bool context_reset = false;
  std::vector<EntryChange> changes;

  // Translates the snapshot's Ingresses, taking unchanged ones from `entries`. `replay`: every
  // entry's candidates, clusters and events are added to `b` (as translate_ingresses() would
  // leave them); otherwise they stay in the entries only and `b` gets none of them (the
  // clusters the translated ones registered stay in b.clusters). `changed` (null: unknown) is
  // how the snapshot differs from the previous build's: without replay only the Ingresses it
  // names and the readers of the objects it names are visited.
  void translate(Builder& b, bool replay, const SnapshotChanges* changed = nullptr);

 private:
  // Reuses or translates the Ingress `ptr` (its entry's key `key`).
  void visit(Builder& b, const api::ObjectPtr& ptr, std::string_view key, bool replay);
  void visit_changed(Builder& b, const SnapshotChanges& changed);
  void link_reads(const EntryKey& key, const Recording& recording);
  void unlink_reads(const EntryKey& key, const Recording& recording);
  // Drops the entry as gone (a change without `after`).
  void drop(Entries::iterator it);
};

// The entry key of an Ingress: its uid, else "/namespace/name" (into `buffer`).
std::string_view entry_key(const api::Object& ingress, std::string& buffer);

// The reference Model::owned_ingresses holds for an owned entry's Ingress.
ObjectRef owned_ref(const IngressEntry& e);

// A translation's clusters equal (by value) to its previous translation's of the same name become
// those objects: the Model and the render cache tell unchanged clusters by pointer.
void keep_equal_clusters(const std::vector<proxy::Shared<Cluster>>& before,
                         std::vector<proxy::Shared<Cluster>>& after);

// Whether two objects are the same: one ObjectPtr, or one uid at one resourceVersion.
bool same_object(const api::ObjectPtr& a, const api::ObjectPtr& b);

// Whether `now` is `kept` (same_object()) or replaced it by status-only updates as `snapshot`
// records them (Snapshot::status_only): either way it translates as `kept` did.
bool same_but_status(const Snapshot& snapshot, const api::ObjectPtr& kept,
                     const api::ObjectPtr& now);

// Whether what `recording` read (Services with their EndpointSlices, Secrets) is still what the
// snapshot of `b` holds (the Gateway API's TranslateCache asks it too).
bool reads_unchanged(const Builder& b, const Recording& recording);

}  // namespace kop::ingress::internal
