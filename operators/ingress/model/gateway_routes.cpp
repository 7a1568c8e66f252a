// HTTPRoutes and GRPCRoutes onto the front doors: per route its parents, hostnames, rules,
// parent statuses and placements. The rules are the costly part and depend on the route and its
// backends only, so a TranslateCache keeps each route's (RouteEntry) and takes them again while
// nothing they read changed; everything that spans routes (attachment, attachedRoutes, conflicts)
// is worked out at every translation.
#include "build_cache.h"
#include "gateway_internal.h"

namespace kop::ingress::gateway {
namespace internal {
namespace {

// Whether every query of `e` gets the same answer now. The BackendTLSPolicy lookups are made
// again, in order, so each policy notes the route as a user as a translation would.
bool same_answers(Translation& t, const RouteEntry& e, const ObjectRef& src) {
  for (const RouteQuery& q : e.queries) {
    if (!q.policy) {
      if (reference_permitted(t.snapshot, q.from_kind, q.from_ns, "", "Service", q.ns, q.name) !=
          q.permitted)
        return false;
      continue;
    }
    const BackendTlsPolicy* p = backend_tls_policy(t, q.ns, q.name, q.port, src);
    if (p == nullptr ? q.holder.has_value() : (!q.holder || *q.holder != p->ref || q.tls != p->tls))
      return false;
  }
  return true;
}

// The rules of `route` translated into `e`; `record`: with what they read and their Events.
void translate_rules(Translation& t, const api::Object& route, const ObjectRef& src,
                     RuleTranslator rule_of, RouteEntry& e, bool record) {
  size_t events0 = t.builder.events.size();
  if (record) {
    t.builder.recording = &e.recording;
    t.queries = &e.queries;
  }
  for (const rapidjson::Value* rule : items_of(route.spec(), "rules")) {
    e.rules.push_back(rule_of(t, route, src, rule, e.rules.size()));
    count_rule(e.outcome, e.rules.back());
  }
  t.builder.recording = nullptr;
  t.queries = nullptr;
  if (record)
    e.events.assign(t.builder.events.begin() + static_cast<std::ptrdiff_t>(events0),
                    t.builder.events.end());
}

// The rules of `ptr`: from the cache when it has them for the same inputs (their Events and
// clusters added to the Builder as a translation would), else translated (into the cache, or
// into Translation::entries without one).
const RouteEntry& route_rules(Translation& t, const api::ObjectPtr& ptr, const ObjectRef& src,
                              const Age& age, RuleTranslator rule_of) {
  if (t.cache == nullptr) {
    RouteEntry& e = *t.entries.emplace_back(std::make_unique<RouteEntry>());
    e.age = age;
    translate_rules(t, *ptr, src, rule_of, e, false);
    return e;
  }
  TranslateState& c = *t.cache;
  std::string key = ptr->uid().empty() ? cat(src.kind, "//", src.ns, "/", src.name)
                                       : cat(src.kind, "/", ptr->uid());
  auto it = c.routes.find(key);
  // A status write (ours, at every route's first translation) gives a new object with the same
  // rules: known from the update's record (Snapshot::status_only).
  auto same_rules = [&](const api::ObjectPtr& kept) {
    return t.snapshot.base != nullptr
               ? ingress::internal::same_but_status(*t.snapshot.base, kept, ptr)
               : ingress::internal::same_object(kept, ptr);
  };
  if (it != c.routes.end() && same_rules(it->second.route) &&
      ingress::internal::reads_unchanged(t.builder, it->second.recording) &&
      same_answers(t, it->second, src)) {
    RouteEntry& e = it->second;
    e.route = ptr;  // the kept object goes: the next translation compares with this one
    t.builder.events.insert(t.builder.events.end(), e.events.begin(), e.events.end());
    for (const proxy::Shared<Cluster>& cl : e.recording.clusters)
      t.result.clusters.try_emplace(cl->name, cl);  // shared, not copied: render keeps them
    e.seen = c.translations;
    ++c.reused;
    return e;
  }
  RouteEntry e;
  e.route = ptr;
  e.age = age;
  e.serial = ++c.serials;
  e.seen = c.translations;
  translate_rules(t, *ptr, src, rule_of, e, true);
  ++c.translated;
  if (it == c.routes.end()) {
    it = c.routes.emplace(std::move(key), std::move(e)).first;
  } else {
    // Clusters equal to the last translation's stay its objects (render keeps their rendering).
    ingress::internal::keep_equal_clusters(it->second.recording.clusters, e.recording.clusters);
    it->second = std::move(e);
  }
  for (const proxy::Shared<Cluster>& cl : it->second.recording.clusters)
    t.result.clusters.try_emplace(cl->name, cl);
  return it->second;
}

}  // namespace

void translate_routes(Translation& t, const std::vector<api::ObjectPtr>& routes,
                      std::string_view kind, RuleTranslator rule_of) {
  for (const auto& ptr : routes) {
    const api::Object& route = *ptr;
    if (route.is_being_deleted()) continue;
    ObjectRef src{std::string(kind), std::string(route.ns()), std::string(route.name())};
    Age age = age_of(route, kind);

    // Our parents first: a route that names none of our Gateways is not ours to touch.
    std::vector<std::pair<ParentRef, Gateway*>> parents = our_parents(t, route, src);
    if (parents.empty()) continue;
    size_t given = 0;
    std::vector<std::string> hosts = route_hostnames(t, route, src, given);
    const RouteEntry& e = route_rules(t, ptr, src, age, rule_of);

    RouteStatus st;
    st.route = src;
    for (auto& [ref, gw] : parents) {
      st.parents.emplace_back();
      std::vector<size_t> listeners =
          attach(t, *gw, ref, route, src, kind, hosts, given > 0, e.outcome, st.parents.back());
      size_t gi = size_t(gw - t.gateways.data());
      for (size_t li : listeners) {
        Listener& l = gw->listeners[li];
        if (!l.usable) continue;  // attached, but the listener is not served
        for (const std::string& host : served_hosts(l, hosts))
          for (size_t ri = 0; ri < e.rules.size(); ++ri)
            for (size_t mi = 0; mi < e.rules[ri].routes.size(); ++mi)
              t.placements.push_back(Placement{gi, li, l.port, host, &e, int(ri), int(mi)});
      }
    }
    t.result.route_statuses.push_back(std::move(st));
  }
}

}  // namespace internal

TranslateCache::TranslateCache() : state_(std::make_unique<internal::TranslateState>()) {}
TranslateCache::~TranslateCache() = default;
TranslateCache::TranslateCache(TranslateCache&&) noexcept = default;
TranslateCache& TranslateCache::operator=(TranslateCache&&) noexcept = default;
size_t TranslateCache::reused() const {
  return state_ ? state_->reused : 0;
}
size_t TranslateCache::translated() const {
  return state_ ? state_->translated : 0;
}
size_t TranslateCache::hosts_kept() const {
  return state_ ? state_->hosts_kept : 0;
}
size_t TranslateCache::hosts_made() const {
  return state_ ? state_->hosts_made : 0;
}

}  // namespace kop::ingress::gateway
