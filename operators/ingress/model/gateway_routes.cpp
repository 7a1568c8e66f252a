// HTTPRoutes and GRPCRoutes onto the front doors: per route its parents, hostnames, rules,
// parent statuses and placements. A TranslateCache keeps each route's (RouteEntry): its rules
// while nothing they read changed, and what it came to on our Gateways (RouteAttachment) while
// those are unchanged too; then a translation only adds up what the route kept (its Events,
// clusters, attachedRoutes and status) and its placements stay on their hosts. What spans routes
// (conflicts between route kinds) is worked out at every translation.
#include <algorithm>
#include <optional>

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

// The rules of `route` translated into `e`, with what they read and their Events.
void translate_rules(Translation& t, const api::Object& route, const ObjectRef& src,
                     RuleTranslator rule_of, RouteEntry& e) {
  size_t events0 = t.builder.events.size();
  t.builder.recording = &e.recording;
  t.queries = &e.queries;
  for (const rapidjson::Value* rule : items_of(route.spec(), "rules")) {
    e.rules.push_back(rule_of(t, route, src, rule, e.rules.size()));
    count_rule(e.outcome, e.rules.back());
  }
  t.builder.recording = nullptr;
  t.queries = nullptr;
  e.events.assign(t.builder.events.begin() + static_cast<std::ptrdiff_t>(events0),
                  t.builder.events.end());
}

// The clusters of `e`'s rules into the Result: shared, not copied (render keeps their rendering).
void add_clusters(Translation& t, const RouteEntry& e) {
  for (const proxy::Shared<Cluster>& cl : e.recording.clusters)
    t.result.clusters.try_emplace(cl->name, cl);
}

// The rules of `e` as translated before, added to the Builder as a translation would add them.
void replay_rules(Translation& t, const RouteEntry& e) {
  t.builder.events.insert(t.builder.events.end(), e.events.begin(), e.events.end());
  add_clusters(t, e);
}

// The (gateway, listener) pairs Translation::lost holds for `src`.
std::vector<std::pair<size_t, size_t>> lost_listeners(const Translation& t, const ObjectRef& src) {
  std::vector<std::pair<size_t, size_t>> out;
  for (auto it = t.lost.lower_bound({src, 0, 0}); it != t.lost.end() && std::get<0>(*it) == src;
       ++it)
    out.emplace_back(std::get<1>(*it), std::get<2>(*it));
  return out;
}

// The placements of `a` put on / taken off their hosts.
void place(Translation& t, const RouteAttachment& a) {
  for (const Placement& p : a.placements) {
    HostState& h = t.cache.doors[{p.gateway, p.port}].hosts[p.host];
    h.placed.push_back(&p);
    h.changed = true;
  }
}
void unplace(Translation& t, const RouteAttachment& a) {
  for (const Placement& p : a.placements) {
    auto door = t.cache.doors.find({p.gateway, p.port});
    if (door == t.cache.doors.end()) continue;  // the doors were cleared (check_gateways())
    auto host = door->second.hosts.find(p.host);
    if (host == door->second.hosts.end()) continue;
    // Left while empty: assemble() forgets it, unless a placement comes back first.
    std::erase(host->second.placed, &p);
    host->second.changed = true;
  }
}

// What the route of `e` (`src`, `kind`) comes to on its parents `parents`, into its attachment.
void attach_route(Translation& t, RouteEntry& e, const ObjectRef& src, std::string_view kind,
                  std::vector<std::pair<ParentRef, Gateway*>>& parents) {
  const api::Object& route = *e.route;
  RouteAttachment& a = e.attachment;
  a = RouteAttachment{};
  size_t events0 = t.builder.events.size();
  size_t given = 0;
  std::vector<std::string> hosts = route_hostnames(t, route, src, given);
  a.status.route = src;
  for (auto& [ref, gw] : parents) {
    a.status.parents.emplace_back();
    std::vector<size_t> listeners =
        attach(t, *gw, ref, route, src, kind, hosts, given > 0, e.outcome, a.status.parents.back());
    size_t gi = size_t(gw - t.gateways.data());
    for (size_t li : listeners) {
      Listener& l = gw->listeners[li];
      a.attached.emplace_back(gi, l.status);
      if (!l.usable) continue;  // attached, but the listener is not served
      for (const std::string& host : served_hosts(l, hosts))
        for (size_t ri = 0; ri < e.rules.size(); ++ri)
          for (size_t mi = 0; mi < e.rules[ri].routes.size(); ++mi)
            a.placements.push_back(Placement{gi, li, l.port, host, &e, int(ri), int(mi)});
    }
  }
  a.events.assign(t.builder.events.begin() + static_cast<std::ptrdiff_t>(events0),
                  t.builder.events.end());
  if (!t.lost.empty()) a.lost = lost_listeners(t, src);
  a.valid = true;
  place(t, a);
}

// What the attachment kept adds to this translation: its Events, attachedRoutes and status.
void replay_attachment(Translation& t, const RouteAttachment& a) {
  t.builder.events.insert(t.builder.events.end(), a.events.begin(), a.events.end());
  for (auto [gi, status] : a.attached) t.gateways[gi].status.listeners[status].attached_routes++;
  t.route_statuses.push_back(&a.status);
}

}  // namespace

void translate_routes(Translation& t, const std::vector<api::ObjectPtr>& routes,
                      std::string_view kind, RuleTranslator rule_of) {
  TranslateState& c = t.cache;
  std::string key;
  for (const auto& ptr : routes) {
    const api::Object& route = *ptr;
    key.assign(kind);
    if (route.uid().empty())
      key.append("//").append(route.ns()).append("/").append(route.name());
    else
      key.append("/").append(route.uid());
    auto it = c.routes.find(key);
    RouteEntry* kept = it == c.routes.end() ? nullptr : &it->second;
    // A status write (ours, at every route's first translation) gives a new object with the
    // same spec and metadata: known from the update's record (Snapshot::status_only). Such a
    // route is not being deleted (it was not when kept).
    const bool same_route =
        kept != nullptr &&
        (t.snapshot.base != nullptr
             ? ingress::internal::same_but_status(*t.snapshot.base, kept->route, ptr)
             : ingress::internal::same_object(kept->route, ptr));
    if (!same_route && route.is_being_deleted()) continue;  // unseen: forgotten
    // Its status names it; made only when asked for, not for every route kept.
    std::optional<ObjectRef> named;
    auto src = [&]() -> const ObjectRef& {
      if (!named)
        named = ObjectRef{std::string(kind), std::string(route.ns()), std::string(route.name())};
      return *named;
    };
    const bool same_rules =
        same_route &&
        (t.reads_as_before || ingress::internal::reads_unchanged(t.builder, kept->recording)) &&
        (kept->queries.empty() || same_answers(t, *kept, src()));
    if (same_rules && kept->attachment.valid &&
        (t.lost.empty() ? kept->attachment.lost.empty()
                        : kept->attachment.lost == lost_listeners(t, src()))) {
      kept->route = ptr;  // the kept object goes: the next translation compares with this one
      kept->seen = c.translations;
      replay_rules(t, *kept);
      replay_attachment(t, kept->attachment);
      ++c.reused;
      continue;
    }
    if (kept != nullptr) {
      unplace(t, kept->attachment);
      kept->attachment = RouteAttachment{};
    }
    // Our parents first: a route that names none of our Gateways is not ours to touch.
    std::vector<std::pair<ParentRef, Gateway*>> parents = our_parents(t, route, src());
    if (parents.empty()) continue;  // unseen: forgotten
    if (same_rules) {
      replay_rules(t, *kept);
      ++c.reused;
    } else {
      RouteEntry e;
      e.age = age_of(route, kind);
      translate_rules(t, route, src(), rule_of, e);
      ++c.translated;
      if (kept == nullptr) {
        kept = &c.routes.emplace(key, std::move(e)).first->second;
      } else {
        // Clusters equal to the last translation's stay its objects (render keeps their
        // rendering).
        ingress::internal::keep_equal_clusters(kept->recording.clusters, e.recording.clusters);
        *kept = std::move(e);
      }
      add_clusters(t, *kept);
    }
    kept->route = ptr;
    kept->seen = c.translations;
    attach_route(t, *kept, src(), kind, parents);
    t.route_statuses.push_back(&kept->attachment.status);
  }
}

void forget_unseen_routes(Translation& t) {
  TranslateState& c = t.cache;
  for (auto it = c.routes.begin(); it != c.routes.end();) {
    if (it->second.seen == c.translations) {
      ++it;
      continue;
    }
    unplace(t, it->second.attachment);
    it = c.routes.erase(it);
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
