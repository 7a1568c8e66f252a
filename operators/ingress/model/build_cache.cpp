// IngressCache: each Ingress' translation kept across builds and replayed while the Ingress and
// everything it read are unchanged (build_cache.h, model.h state the contract).
#include "build_cache.h"

#include <iterator>

#include "text_cat.h"

namespace kop::ingress::internal {

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
  b.owned_ingresses.insert(b.owned_ingresses.end(), e.owned.begin(), e.owned.end());
  b.routes.insert(b.routes.end(), e.routes.begin(), e.routes.end());
  b.default_backends.insert(b.default_backends.end(), e.default_backends.begin(),
                            e.default_backends.end());
  b.tls.insert(b.tls.end(), e.tls.begin(), e.tls.end());
  b.events.insert(b.events.end(), e.events.begin(), e.events.end());
  for (const proxy::Shared<Cluster>& c : e.recording.clusters) b.clusters[c->name] = *c;
}

// A translation's clusters equal to its previous translation's stay the same objects: the
// Model and the render cache tell unchanged clusters by pointer.
void keep_equal_clusters(const std::vector<proxy::Shared<Cluster>>& before,
                         std::vector<proxy::Shared<Cluster>>& after) {
  for (proxy::Shared<Cluster>& c : after)
    for (const proxy::Shared<Cluster>& old : before)
      if (old->name == c->name) {
        if (*old == *c) c = old;
        break;
      }
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

void IngressCache::translate(Builder& b, bool replay_all) {
  const Snapshot& snap = b.snapshot();
  context_reset = false;
  changes.clear();
  if (!has_context || !same_options(options, b.options()) ||
      !same_objects(ingress_classes, snap.ingress_classes)) {
    entries.clear();
    options = b.options();
    ingress_classes = snap.ingress_classes;
    has_context = true;
    context_reset = true;
  }
  reused = translated = 0;
  ++builds;
  std::string fallback;
  for (const api::ObjectPtr& ptr : snap.ingresses) {
    std::string_view key = ptr->uid();
    if (key.empty()) {
      fallback = cat("/", ptr->ns(), "/", ptr->name());
      key = fallback;
    }
    auto it = entries.find(key);
    if (it != entries.end() && same_object(it->second.ingress, ptr) &&
        reads_unchanged(b, it->second.recording)) {
      if (replay_all) replay(b, it->second);
      ++reused;
      it->second.seen = builds;
      continue;
    }
    IngressEntry e;
    e.ingress = ptr;
    e.seen = builds;
    size_t owned0 = b.owned_ingresses.size(), routes0 = b.routes.size(),
           defaults0 = b.default_backends.size(), tls0 = b.tls.size(), events0 = b.events.size();
    b.recording = &e.recording;
    translate_ingress(b, *ptr);
    b.recording = nullptr;
    if (it != entries.end())
      keep_equal_clusters(it->second.recording.clusters, e.recording.clusters);
    e.owned = tail(b.owned_ingresses, owned0, replay_all);
    e.routes = tail(b.routes, routes0, replay_all);
    e.default_backends = tail(b.default_backends, defaults0, replay_all);
    e.tls = tail(b.tls, tls0, replay_all);
    e.events = tail(b.events, events0, replay_all);
    ++translated;
    EntryChange change;
    if (it != entries.end()) {
      change.before = std::move(it->second);
      it->second = std::move(e);
    } else {
      it = entries.emplace(std::string(key), std::move(e)).first;
    }
    change.after = &it->second;  // nodes do not move when the map grows
    changes.push_back(std::move(change));
  }
  // What the snapshot no longer holds is gone.
  for (auto it = entries.begin(); it != entries.end();) {
    if (it->second.seen == builds) {
      ++it;
      continue;
    }
    changes.push_back(EntryChange{std::move(it->second), nullptr});
    it = entries.erase(it);
  }
}

}  // namespace kop::ingress::internal
