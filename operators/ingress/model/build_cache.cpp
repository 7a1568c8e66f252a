// BuildCache: each Ingress' translation kept across builds and replayed while the Ingress and
// everything it read are unchanged (model.h states the contract).
#include <unordered_map>

#include "builder.h"

namespace kop::ingress {
namespace internal {
namespace {

// The same object: one ObjectPtr, or one uid at one resourceVersion (both non-empty).
bool same_object(const api::ObjectPtr& a, const api::ObjectPtr& b) {
  if (a == b) return true;
  if (!a || !b) return false;
  return !a->uid().empty() && a->uid() == b->uid() && !a->resource_version().empty() &&
         a->resource_version() == b->resource_version();
}

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
         a.watch_ingress_without_class == b.watch_ingress_without_class;
}

}  // namespace

// One Ingress' translation: what it added to the Builder, and what it read.
struct IngressEntry {
  api::ObjectPtr ingress;
  std::vector<ObjectRef> owned;
  std::vector<RouteCandidate> routes;
  std::vector<RouteCandidate> default_backends;
  std::vector<TlsCandidate> tls;
  std::vector<Event> events;
  Recording recording;
};

struct IngressCache {
  // The context every entry was translated in: class selection depends on both.
  bool has_context = false;
  Options options;
  std::vector<api::ObjectPtr> ingress_classes;
  // By uid (or namespace/name when the object has no uid).
  std::unordered_map<std::string, IngressEntry> entries;
  size_t reused = 0;
  size_t translated = 0;

  // Whether what `e` read is still what the snapshot holds.
  static bool still_valid(const Builder& b, const IngressEntry& e) {
    for (const Recording::Read& r : e.recording.reads) {
      const api::ObjectPtr* now = r.secret ? b.secret(r.ns, r.name) : b.service(r.ns, r.name);
      if (!same_object(r.object, now ? *now : api::ObjectPtr())) return false;
      if (!r.secret && !same_objects(r.slices, b.slices(r.ns, r.name))) return false;
    }
    return true;
  }

  static void replay(Builder& b, const IngressEntry& e) {
    b.owned_ingresses.insert(b.owned_ingresses.end(), e.owned.begin(), e.owned.end());
    b.routes.insert(b.routes.end(), e.routes.begin(), e.routes.end());
    b.default_backends.insert(b.default_backends.end(), e.default_backends.begin(),
                              e.default_backends.end());
    b.tls.insert(b.tls.end(), e.tls.begin(), e.tls.end());
    b.events.insert(b.events.end(), e.events.begin(), e.events.end());
    for (const Cluster& c : e.recording.clusters) b.clusters[c.name] = c;
  }

  template <typename T>
  static std::vector<T> tail(const std::vector<T>& v, size_t from) {
    return std::vector<T>(v.begin() + static_cast<std::ptrdiff_t>(from), v.end());
  }

  void translate(Builder& b) {
    const Snapshot& snap = b.snapshot();
    if (!has_context || !same_options(options, b.options()) ||
        !same_objects(ingress_classes, snap.ingress_classes)) {
      entries.clear();
      options = b.options();
      ingress_classes = snap.ingress_classes;
      has_context = true;
    }
    reused = translated = 0;
    std::unordered_map<std::string, IngressEntry> next;
    next.reserve(snap.ingresses.size());
    for (const api::ObjectPtr& ptr : snap.ingresses) {
      std::string key(ptr->uid());
      if (key.empty()) key = "/" + std::string(ptr->ns()) + "/" + std::string(ptr->name());
      auto it = entries.find(key);
      if (it != entries.end() && same_object(it->second.ingress, ptr) &&
          still_valid(b, it->second)) {
        replay(b, it->second);
        ++reused;
        next.insert_or_assign(key, std::move(it->second));
        continue;
      }
      IngressEntry e;
      e.ingress = ptr;
      size_t owned0 = b.owned_ingresses.size(), routes0 = b.routes.size(),
             defaults0 = b.default_backends.size(), tls0 = b.tls.size(), events0 = b.events.size();
      b.recording = &e.recording;
      translate_ingress(b, *ptr);
      b.recording = nullptr;
      e.owned = tail(b.owned_ingresses, owned0);
      e.routes = tail(b.routes, routes0);
      e.default_backends = tail(b.default_backends, defaults0);
      e.tls = tail(b.tls, tls0);
      e.events = tail(b.events, events0);
      ++translated;
      next.insert_or_assign(key, std::move(e));
    }
    entries = std::move(next);
  }
};

}  // namespace internal

BuildCache::BuildCache() : ingresses_(std::make_unique<internal::IngressCache>()) {}
BuildCache::~BuildCache() = default;
BuildCache::BuildCache(BuildCache&&) noexcept = default;
BuildCache& BuildCache::operator=(BuildCache&&) noexcept = default;
size_t BuildCache::reused() const {
  return ingresses_ ? ingresses_->reused : 0;
}
size_t BuildCache::translated() const {
  return ingresses_ ? ingresses_->translated : 0;
}

namespace internal {
void translate_ingresses_cached(Builder& b, IngressCache& cache) {
  cache.translate(b);
}
}  // namespace internal

}  // namespace kop::ingress
