// IngressCache: each Ingress' translation kept across builds and replayed while the Ingress and
// everything it read are unchanged (build_cache.h, model.h state the contract).
#include "build_cache.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "kop/ingress/status_only_change.h"
#include "kop/ingress/status_only_replacements.h"
#include "text_cat.h"

namespace kop::ingress::internal {

void keep_equal_clusters(const std::vector<proxy::Shared<Cluster>>& before,
                         std::vector<proxy::Shared<Cluster>>& after) {
  for (proxy::Shared<Cluster>& c : after)
    for (const proxy::Shared<Cluster>& old : before)
      if (old->name == c->name) {
        if (*old == *c) c = old;
        break;
      }
}

bool same_object(const api::ObjectPtr& a, const api::ObjectPtr& b) {
  if (a == b) return true;
  if (!a || !b) return false;
  return !a->uid().empty() && a->uid() == b->uid() && !a->resource_version().empty() &&
         a->resource_version() == b->resource_version();
}

namespace {

// The same objects, in any order.
template <typename Ptr>
bool same_objects(const std::vector<api::ObjectPtr>& a, const std::vector<Ptr>& b) {
  if (a.size() != b.size()) return false;
  auto get = [](const Ptr& p) -> const api::ObjectPtr& {
    if constexpr (std::is_pointer_v<Ptr>)
      return *p;
    else
      return p;
  };
  for (size_t i = 0; i < a.size(); ++i) {
    if (same_object(a[i], get(b[i]))) continue;  // the usual case: the same order
    bool found = false;
    for (const Ptr& p : b) found = found || same_object(a[i], get(p));
    if (!found) return false;
  }
  return true;
}

bool same_options(const Options& a, const Options& b) {
  return a.ingress_class == b.ingress_class && a.controller_name == b.controller_name &&
         a.watch_ingress_without_class == b.watch_ingress_without_class &&
         a.nginx_annotations == b.nginx_annotations;
}

}  // namespace

bool reads_unchanged(const Builder& b, const Recording& recording) {
  using Kind = Recording::Kind;
  for (const Recording::Read& r : recording.reads) {
    const api::ObjectPtr* now = r.kind == Kind::kSecret      ? b.secret(r.ns, r.name)
                                : r.kind == Kind::kConfigMap ? b.config_map(r.ns, r.name)
                                                             : b.service(r.ns, r.name);
    if (!same_object(r.object, now ? *now : api::ObjectPtr())) return false;
    if (r.kind == Kind::kService && !same_objects(r.slices, b.slices(r.ns, r.name))) return false;
  }
  return true;
}

namespace {

void replay(Builder& b, const IngressEntry& e) {
  if (e.owned) b.owned_ingresses.push_back(owned_ref(e));
  b.routes.insert(b.routes.end(), e.routes.begin(), e.routes.end());
  b.default_backends.insert(b.default_backends.end(), e.default_backends.begin(),
                            e.default_backends.end());
  b.tls.insert(b.tls.end(), e.tls.begin(), e.tls.end());
  b.events.insert(b.events.end(), e.events.begin(), e.events.end());
  for (const proxy::Shared<Cluster>& c : e.recording.clusters) b.clusters[c->name] = *c;
}

// Moves what was added to `v` from `from` on into a vector of its own (`keep`: copies instead,
// leaving `v` as it is).
template <typename T>
std::vector<T> tail(std::vector<T>& v, size_t from, bool keep) {
  auto first = v.begin() + static_cast<std::ptrdiff_t>(from);
  if (keep) return std::vector<T>(first, v.end());
  std::vector<T> out(std::make_move_iterator(first), std::make_move_iterator(v.end()));
  v.erase(first, v.end());
  return out;
}

}  // namespace

ObjectRef owned_ref(const IngressEntry& e) {
  return ObjectRef{"Ingress", std::string(e.ingress->ns()), std::string(e.ingress->name())};
}

std::string_view entry_key(const api::Object& ingress, std::string& buffer) {
  if (!ingress.uid().empty()) return ingress.uid();
  buffer = cat("/", ingress.ns(), "/", ingress.name());
  return buffer;
}

namespace {

std::string read_key(Recording::Kind kind, std::string_view ns, std::string_view name) {
  return cat(std::string_view(kind == Recording::Kind::kService  ? "svc/"
                              : kind == Recording::Kind::kSecret ? "secret/"
                                                                 : "configmap/"),
             ns, "/", name);
}

}  // namespace

void IngressCache::link_reads(const EntryKey& key, const Recording& recording) {
  for (const Recording::Read& r : recording.reads)
    readers[read_key(r.kind, r.ns, r.name)].push_back(key);
}

void IngressCache::unlink_reads(const EntryKey& key, const Recording& recording) {
  for (const Recording::Read& r : recording.reads) {
    auto it = readers.find(read_key(r.kind, r.ns, r.name));
    if (it == readers.end()) continue;
    if (auto pos = std::find(it->second.begin(), it->second.end(), key); pos != it->second.end())
      it->second.erase(pos);
    if (it->second.empty()) readers.erase(it);
  }
}

void IngressCache::drop(Entries::iterator it) {
  unlink_reads(it->first, it->second.recording);
  if (auto e = with_events.find(it->first); e != with_events.end()) with_events.erase(e);
  changes.push_back(EntryChange{std::move(it->second), nullptr});
  entries.erase(it);
}

bool same_but_status(const Snapshot& snapshot, const api::ObjectPtr& kept,
                     const api::ObjectPtr& now) {
  return same_object(kept, now) || (snapshot.status_only != nullptr && kept != nullptr &&
                                    snapshot.status_only->replaced(now.get()) == kept.get());
}

void IngressCache::visit(Builder& b, const api::ObjectPtr& ptr, std::string_view key,
                         bool replay_all) {
  auto it = entries.find(key);
  // A status write (the status writer's own) makes a new object that translates the same: known
  // from the update's record, else compared.
  if (it != entries.end() &&
      (same_but_status(b.snapshot(), it->second.ingress, ptr) ||
       only_status_changed(*it->second.ingress, *ptr)) &&
      reads_unchanged(b, it->second.recording)) {
    if (replay_all) replay(b, it->second);
    ++reused;
    it->second.seen = builds;
    it->second.ingress = ptr;  // the same object; the snapshot's pointer tells it apart next time
    return;
  }
  IngressEntry e;
  e.ingress = ptr;
  e.seen = builds;
  size_t owned0 = b.owned_ingresses.size(), routes0 = b.routes.size(),
         defaults0 = b.default_backends.size(), tls0 = b.tls.size(), events0 = b.events.size();
  b.recording = &e.recording;
  translate_ingress(b, *ptr);
  b.recording = nullptr;
  if (it != entries.end()) keep_equal_clusters(it->second.recording.clusters, e.recording.clusters);
  // translate_ingress() lists the Ingress itself as owned, or nothing.
  e.owned = b.owned_ingresses.size() > owned0;
  if (!replay_all)
    b.owned_ingresses.erase(b.owned_ingresses.begin() + static_cast<std::ptrdiff_t>(owned0),
                            b.owned_ingresses.end());
  e.routes = tail(b.routes, routes0, replay_all);
  e.default_backends = tail(b.default_backends, defaults0, replay_all);
  e.tls = tail(b.tls, tls0, replay_all);
  e.events = tail(b.events, events0, replay_all);
  ++translated;
  EntryChange change;
  if (it != entries.end()) {
    unlink_reads(it->first, it->second.recording);
    change.before = std::move(it->second);
    it->second = std::move(e);
  } else {
    it = entries.emplace(EntryKey(key), std::move(e)).first;
  }
  link_reads(it->first, it->second.recording);
  if (!it->second.events.empty())
    with_events.insert(it->first);
  else if (auto ev = with_events.find(it->first); ev != with_events.end())
    with_events.erase(ev);
  change.after = &it->second;  // nodes do not move when the map grows
  changes.push_back(std::move(change));
}

void IngressCache::translate(Builder& b, bool replay_all, const SnapshotChanges* changed) {
  const Snapshot& snap = b.snapshot();
  context_reset = false;
  changes.clear();
  if (!has_context || !same_options(options, b.options()) ||
      !same_objects(ingress_classes, snap.ingress_classes)) {
    entries.clear();
    readers.clear();
    with_events.clear();
    options = b.options();
    ingress_classes = snap.ingress_classes;
    has_context = true;
    context_reset = true;
  }
  reused = translated = status_only = 0;
  ++builds;
  if (changed != nullptr && !replay_all && !context_reset) {
    visit_changed(b, *changed);
    return;
  }
  std::string buffer;
  for (const api::ObjectPtr& ptr : snap.ingresses)
    visit(b, ptr, entry_key(*ptr, buffer), replay_all);
  // What the snapshot no longer holds is gone.
  for (auto it = entries.begin(); it != entries.end();) {
    auto next = std::next(it);
    if (it->second.seen != builds) drop(it);
    it = next;
  }
}

void IngressCache::visit_changed(Builder& b, const SnapshotChanges& changed) {
  std::string buffer;
  // A status write (a status round: every Ingress) translates the same: its entry takes the new
  // object, nothing else is looked at (its reads are checked below if one of them changed).
  for (const ListDiff::Replaced& r : changed.ingresses.status_only) {
    std::string_view key = entry_key(*r.after, buffer);
    if (auto it = entries.find(key); it != entries.end() && it->second.ingress == r.before) {
      it->second.ingress = r.after;
      ++status_only;
    } else {
      visit(b, r.after, key, false);  // the entry holds another object: compared as an update
    }
  }
  // Added first: an updated Ingress (its old object removed, the new one added) is translated
  // against its entry, which keeps its clusters' objects when their values are equal.
  for (const api::ObjectPtr& ptr : changed.ingresses.added)
    visit(b, ptr, entry_key(*ptr, buffer), false);
  for (const api::ObjectPtr& ptr : changed.ingresses.removed)
    if (auto it = entries.find(entry_key(*ptr, buffer));
        it != entries.end() && it->second.ingress == ptr)
      drop(it);
  // The readers of every object added or removed, each visited once: reads_unchanged() tells
  // whether it must be translated again.
  std::set<EntryKey, std::less<>> dirty;  // shares the keys
  auto readers_of = [&](Recording::Kind kind, std::string_view ns, std::string_view name) {
    auto it = readers.find(read_key(kind, ns, name));
    if (it != readers.end()) dirty.insert(it->second.begin(), it->second.end());
  };
  using Kind = Recording::Kind;
  for (const ListDiff* d : {&changed.services, &changed.secrets, &changed.config_maps}) {
    Kind kind = d == &changed.services  ? Kind::kService
                : d == &changed.secrets ? Kind::kSecret
                                        : Kind::kConfigMap;
    for (const auto* side : {&d->added, &d->removed})
      for (const api::ObjectPtr& o : *side) readers_of(kind, o->ns(), o->name());
  }
  for (const auto* side : {&changed.endpoint_slices.added, &changed.endpoint_slices.removed})
    for (const api::ObjectPtr& o : *side)
      if (auto service = o->label(kServiceNameLabel)) readers_of(Kind::kService, o->ns(), *service);
  for (const EntryKey& key : dirty) {
    auto it = entries.find(key);
    if (it == entries.end() || it->second.seen == builds) continue;
    api::ObjectPtr ptr = it->second.ingress;
    visit(b, ptr, key, false);
  }
  reused = entries.size() - translated;
}

}  // namespace kop::ingress::internal
