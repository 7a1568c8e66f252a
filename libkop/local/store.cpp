#include "kop/local/store.h"

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/clock.h>
#include <absl/time/time.h>

#include <algorithm>
#include <ctime>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "apply.h"
#include "conversion.h"
#include "crd.h"
#include "field_validation.h"
#include "kop/api/time.h"
#include "kop/log/log.h"
#include "patch.h"
#include "selection.h"
#include "strategy.h"
#include "validation.h"
#include "webhook_call.h"

namespace kop::local {

std::optional<PatchType> patch_type_from_content_type(std::string_view content_type) {
  std::string_view ct = content_type;
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  for (PatchType t : {PatchType::kJsonMerge, PatchType::kJsonPatch, PatchType::kStrategicMerge,
                      PatchType::kApply}) {
    if (ct == client::content_type(t)) return t;
  }
  return std::nullopt;
}

namespace {

using Clock = std::chrono::steady_clock;

const log::Logger& logger() {
  static const log::Logger l = log::named("local.store");
  return l;
}

// metav1.Time text for now (kop/api/time.h's one formatter).
std::string now_rfc3339() {
  return api::format_time(absl::Now());
}

std::mt19937_64& rng() {
  thread_local std::mt19937_64 r(std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32));
  return r;
}

std::string new_uid() {
  uint64_t a = rng()(), b = rng()();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(a >> 32),
                unsigned((a >> 16) & 0xffff), unsigned(a & 0xffff), unsigned(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string random_suffix() {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  for (int i = 0; i < 5; ++i) s += kAlphabet[rng()() % (sizeof kAlphabet - 1)];
  return s;
}

// resourceVersionMatch as the query parameter spells it.
std::string_view match_text(client::ResourceVersionMatch m) {
  switch (m) {
    case client::ResourceVersionMatch::kExact:
      return "Exact";
    case client::ResourceVersionMatch::kNotOlderThan:
      return "NotOlderThan";
    case client::ResourceVersionMatch::kUnset:
      break;
  }
  return "";
}

std::optional<uint64_t> parse_rv(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  return v;
}

uint64_t rv_of(const JsonValue& obj) {
  return parse_rv(json::path_string(obj, {"metadata", "resourceVersion"})).value_or(0);
}

std::string b64url(std::string_view in) {
  static constexpr char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> unb64url(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) return std::nullopt;
    buf = (buf << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((buf >> bits) & 0xff);
    }
  }
  return out;
}

const JsonValue* meta_of(const JsonValue& obj) {
  return json::find(obj, "metadata");
}

std::vector<std::string> finalizers_of(const JsonValue& obj) {
  std::vector<std::string> out;
  if (const JsonValue* f = json::path(obj, {"metadata", "finalizers"}); f && f->IsArray()) {
    for (auto& v : f->GetArray()) out.emplace_back(json::as_string_view(v));
  }
  return out;
}

bool has_finalizer(const JsonValue& obj, std::string_view f) {
  auto fs = finalizers_of(obj);
  return std::find(fs.begin(), fs.end(), f) != fs.end();
}

void set_finalizers(JsonDoc& d, const std::vector<std::string>& fs) {
  auto& a = d.GetAllocator();
  JsonValue& meta = json::ensure_object(d, "metadata", a);
  if (fs.empty()) {
    json::remove_member(meta, "finalizers");
    return;
  }
  JsonValue arr(rapidjson::kArrayType);
  for (auto& f : fs) arr.PushBack(json::make_string(f, a), a);
  json::set_member(meta, "finalizers", std::move(arr), a);
}

bool is_deleting(const JsonValue& obj) {
  return !json::path_string(obj, {"metadata", "deletionTimestamp"}).empty();
}

// An ERROR event: the error itself, and its Status object for the HTTP front to send.
WatchEvent error_event(absl::Status error) {
  auto status = json::parse(client::to_json(client::api_status_of(error)));
  return {WatchEvent::Type::kError, api::share(std::move(*status)), std::move(error)};
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Watch state

struct Watch::State {
  absl::Mutex mu;
  absl::CondVar cv;  // signalled when q, closed or stopped change
  std::deque<WatchEvent> q ABSL_GUARDED_BY(mu);
  bool closed ABSL_GUARDED_BY(mu) = false;   // no further events will be queued
  bool stopped ABSL_GUARDED_BY(mu) = false;  // the consumer stopped
  bool ended ABSL_GUARDED_BY(mu) = false;
  size_t cap = 1000;
  int close_after = 0;  // fault: end after this many delivered events
  int delivered ABSL_GUARDED_BY(mu) = 0;

  // filters (immutable after creation)
  ResourceTypePtr type;
  std::string ns;
  Selection selection;
  uint64_t after_rv = 0;
  bool bookmarks = false;
  std::chrono::milliseconds bookmark_interval{1000};
  Clock::time_point next_bookmark;
  std::optional<Clock::time_point> deadline;
  // The version asked for when a conversion webhook serves it (`type` is then the storage
  // version): each event is converted as the consumer takes it, outside every lock.
  ResourceTypePtr convert_to;
};

namespace {

struct HistEvent {
  uint64_t rv;
  WatchEvent::Type type;
  std::string key;
  ObjectPtr obj;   // new state; for DELETED the last state carrying the deletion's resourceVersion
  ObjectPtr prev;  // previous stored state (MODIFIED, DELETED)
};

struct Table {
  std::map<std::string, ObjectPtr> objects;
  std::deque<HistEvent> history;
  uint64_t start_rv = 0;
  bool evicted = false;
  std::vector<std::shared_ptr<Watch::State>> watchers;

  // The API server's "oldest - 1": watches from below it are too old.
  uint64_t oldest_minus_one() const {
    if (evicted && !history.empty()) return history.front().rv - 1;
    return start_rv;
  }
};

}  // namespace

struct Store::Impl : admission::StoredReader {
  StoreOptions opts;
  Registry registry;
  Faults faults;
  mutable absl::Mutex mu;
  uint64_t rv ABSL_GUARDED_BY(mu) = 1;
  std::map<std::string, Table> tables ABSL_GUARDED_BY(mu);  // by group_resource
  bool gc_dirty ABSL_GUARDED_BY(mu) = false;
  // Owner uid -> number of stored objects whose ownerReferences name it, so that only writes that
  // matter to the garbage collector trigger its (whole-store) pass.
  std::map<std::string, int, std::less<>> dependents;

  void count_owners(const ObjectPtr& p, int delta) {
    if (!p) return;
    const JsonValue* refs = json::path(p->doc(), {"metadata", "ownerReferences"});
    if (!refs || !refs->IsArray()) return;
    for (auto& r : refs->GetArray()) {
      auto it = dependents.try_emplace(std::string(json::string_or_empty(&r, "uid")), 0).first;
      it->second += delta;
      if (it->second <= 0) dependents.erase(it);
    }
  }

  // Does a change to `obj` (deleted, or being deleted) concern the garbage collector?
  bool matters_to_gc(const JsonValue& obj) {
    if (json::path(obj, {"metadata", "ownerReferences"})) return true;
    if (dependents.count(json::path_string(obj, {"metadata", "uid"}))) return true;
    return has_finalizer(obj, "orphan") || has_finalizer(obj, "foregroundDeletion");
  }

  Table& table(const ResourceType& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = tables.find(t.group_resource());
    if (it == tables.end()) {
      it = tables.emplace(t.group_resource(), Table{}).first;
      // The API server's watch caches of built-in kinds start with the cluster (a fresh cluster
      // serves watches from resourceVersion 1); a CRD's starts when the CRD is registered.
      it->second.start_rv = t.custom ? rv : 1;
    }
    return it->second;
  }

  std::string key_of(const ResourceType& t, std::string_view ns, std::string_view name) const {
    if (!t.namespaced) return std::string(name);
    return std::string(ns) + "/" + std::string(name);
  }

  // The stored object as `t`'s version presents it.
  ObjectPtr present(const ResourceType& t, const ObjectPtr& p) const {
    if (!p) return p;
    std::string_view av = json::string_or_empty(&(p->doc()), "apiVersion");
    std::string want = t.api_version();
    if (av == want) return p;
    JsonDoc d = json::clone(p->doc());
    json::set_string(d, "apiVersion", want, d.GetAllocator());
    return api::share(std::move(d));
  }

  std::string current_rv() const ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock l(&mu);
    return std::to_string(rv);
  }

  absl::Status fault_status(int code, std::string_view verb, const ResourceType& t) {
    switch (code) {
      case 429:
        return client::too_many_requests("Too many requests, please try again later.", 1);
      case 410:
        if (verb == "list")
          return client::resource_expired("The resourceVersion for the provided list is too old.");
        return client::resource_expired("too old resource version: 1 (" + current_rv() + ")");
      case 503:
        return client::service_unavailable("injected fault: service unavailable");
      case 504:
        return client::timeout("injected fault", 1);
      case 409:
        return errors::conflict_modified(t.group, t.resource, "");
      default:
        return client::internal_error("injected fault");
    }
  }

  absl::Status check_faults(std::string_view verb, const ResourceType& t) ABSL_LOCKS_EXCLUDED(mu) {
    auto lat = faults.latency();
    if (lat > absl::ZeroDuration()) absl::SleepFor(lat);
    if (auto code = faults.take_failure(verb, t.resource)) return fault_status(*code, verb, t);
    return absl::OkStatus();
  }

  // --- watch fan-out ---------------------------------------------------------------------------

  static bool push(Watch::State& w, WatchEvent ev) {
    absl::MutexLock l(&w.mu);
    if (w.closed || w.stopped) return false;
    if (w.q.size() >= w.cap) {
      // Too slow: the API server's cacher terminates such a watcher rather than block.
      w.closed = true;
      w.cv.SignalAll();
      return false;
    }
    w.q.push_back(std::move(ev));
    w.cv.SignalAll();
    return true;
  }

  // What `w` sees of `ev`, per the cacher's rules (selectors: entering is ADDED, leaving DELETED).
  std::optional<WatchEvent> convert(const Watch::State& w, const HistEvent& ev) const {
    if (ev.rv <= w.after_rv) return std::nullopt;
    if (!w.ns.empty()) {
      if (ev.key.compare(0, w.ns.size() + 1, w.ns + "/") != 0) return std::nullopt;
    }
    auto passes = [&](const ObjectPtr& p) {
      if (!p) return false;
      return w.selection.matches(*p);
    };
    bool cur = ev.type != WatchEvent::Type::kDeleted && passes(ev.obj);
    bool old = ev.type == WatchEvent::Type::kDeleted ? passes(ev.obj) : passes(ev.prev);
    if (ev.type == WatchEvent::Type::kDeleted) {
      if (!old) return std::nullopt;
      return WatchEvent{WatchEvent::Type::kDeleted, present(*w.type, ev.obj)};
    }
    if (cur && !old) return WatchEvent{WatchEvent::Type::kAdded, present(*w.type, ev.obj)};
    if (cur && old) return WatchEvent{WatchEvent::Type::kModified, present(*w.type, ev.obj)};
    if (!cur && old) {
      JsonDoc d = json::clone(ev.prev->doc());
      auto& a = d.GetAllocator();
      json::set_string(json::ensure_object(d, "metadata", a), "resourceVersion",
                       std::to_string(ev.rv), a);
      return WatchEvent{WatchEvent::Type::kDeleted, present(*w.type, api::share(std::move(d)))};
    }
    return std::nullopt;
  }

  void fan_out(Table& tab, const HistEvent& ev) {
    auto& ws = tab.watchers;
    for (size_t i = 0; i < ws.size();) {
      auto& w = ws[i];
      bool alive;
      {
        absl::MutexLock l(&w->mu);
        alive = !w->closed && !w->stopped;
      }
      if (alive) {
        if (auto e = convert(*w, ev)) alive = push(*w, std::move(*e));
      }
      if (!alive) {
        ws[i] = ws.back();
        ws.pop_back();
      } else {
        ++i;
      }
    }
  }

  // --- commit ----------------------------------------------------------------------------------

  // Stores `d` under `key` with the next resourceVersion and tells watchers.
  ObjectPtr commit(Table& tab, const std::string& key, WatchEvent::Type type, JsonDoc d,
                   ObjectPtr prev) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint64_t nrv = ++rv;
    auto& a = d.GetAllocator();
    json::set_string(json::ensure_object(d, "metadata", a), "resourceVersion", std::to_string(nrv),
                     a);
    ObjectPtr p = api::share(std::move(d));
    count_owners(prev, -1);
    if (type != WatchEvent::Type::kDeleted) count_owners(p, +1);
    if (type == WatchEvent::Type::kDeleted) {
      tab.objects.erase(key);
    } else {
      tab.objects[key] = p;
    }
    tab.history.push_back({nrv, type, key, p, std::move(prev)});
    while (tab.history.size() > std::max<size_t>(opts.history_size, 1)) {
      tab.history.pop_front();
      tab.evicted = true;
    }
    fan_out(tab, tab.history.back());
    return p;
  }

  ObjectPtr commit_delete(Table& tab, const std::string& key, const ObjectPtr& last)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (matters_to_gc(last->doc())) gc_dirty = true;
    return commit(tab, key, WatchEvent::Type::kDeleted, json::clone(last->doc()), last);
  }

  // --- helpers ---------------------------------------------------------------------------------

  ResourceTypePtr storage_type(const ResourceType& t) const {
    if (t.storage_version == t.version) return std::make_shared<const ResourceType>(t);
    auto s = registry.by_resource(t.group, t.storage_version, t.resource);
    return s ? s : std::make_shared<const ResourceType>(t);
  }

  // --- what webhook calls read (admission::StoredReader), and conversion ----------------------

  ResourceTypePtr type(std::string_view group, std::string_view version,
                       std::string_view resource) const override {
    return registry.by_resource(group, version, resource);
  }

  std::vector<ObjectPtr> stored(const ResourceType& t) const ABSL_LOCKS_EXCLUDED(mu) override {
    absl::MutexLock l(&mu);
    std::vector<ObjectPtr> out;
    auto tab = tables.find(t.group_resource());
    if (tab == tables.end()) return out;
    out.reserve(tab->second.objects.size());
    for (const auto& [key, obj] : tab->second.objects) out.push_back(present(t, obj));
    return out;
  }

  ObjectPtr stored(const ResourceType& t, std::string_view ns, std::string_view name) const
      ABSL_LOCKS_EXCLUDED(mu) override {
    absl::MutexLock l(&mu);
    auto tab = tables.find(t.group_resource());
    if (tab == tables.end()) return nullptr;
    auto it = tab->second.objects.find(key_of(t, t.namespaced ? ns : std::string_view(), name));
    return it == tab->second.objects.end() ? nullptr : present(t, it->second);
  }

  // Objects read in the storage version, in `t`'s (conversion.h); never under the lock.
  absl::StatusOr<std::vector<ObjectPtr>> to_version(const ResourceType& t,
                                                    std::vector<ObjectPtr> objects, bool list)
      ABSL_LOCKS_EXCLUDED(mu) {
    return conversion::convert(*this, t, std::move(objects), list, opts.conversion_timeout);
  }
  absl::StatusOr<ObjectPtr> to_version(const ResourceType& t, ObjectPtr p) ABSL_LOCKS_EXCLUDED(mu) {
    auto r = to_version(t, std::vector<ObjectPtr>{std::move(p)}, false);
    if (!r.ok()) return r.status();
    return std::move(r->front());
  }
  // A request's object in `t`'s version, converted to the storage version.
  absl::StatusOr<JsonDoc> to_storage(const ResourceType& t, JsonDoc d) ABSL_LOCKS_EXCLUDED(mu) {
    if (auto e = check_body_type(t, d); !e.ok()) return e;
    auto& a = d.GetAllocator();
    json::set_string(d, "apiVersion", t.api_version(), a);
    json::set_string(d, "kind", t.kind, a);
    ResourceTypePtr s = storage_type(t);
    auto r =
        conversion::convert(*this, *s, {api::share(std::move(d))}, false, opts.conversion_timeout);
    if (!r.ok()) return r.status();
    return json::clone(r->front()->doc());
  }

  // The request's apiVersion and kind, when it names them, must be `t`'s, and a built-in kind's
  // members must have the JSON types its Go type takes (400 otherwise, as the API server's
  // decoder answers).
  static absl::Status check_body_type(const ResourceType& t, const JsonDoc& d) {
    if (!d.IsObject()) return client::bad_request("the body of the request must be a JSON object");
    std::string_view av = json::string_or_empty(&d, "apiVersion");
    std::string_view kind = json::string_or_empty(&d, "kind");
    if (!av.empty() && av != t.api_version()) {
      return client::bad_request("the API version in the data (" + std::string(av) +
                                 ") does not match the expected API version (" + t.api_version() +
                                 ")");
    }
    if (!kind.empty() && kind != t.kind) {
      return client::bad_request("the kind in the data (" + std::string(kind) +
                                 ") does not match the expected kind (" + t.kind + ")");
    }
    // A built-in kind's body is decoded into its Go type first: a value of the wrong JSON type
    // (an unquoted `on` annotation from YAML) is refused, not stored. Custom resources are
    // checked against their schema instead.
    if (!t.custom) {
      if (auto e = field_validation::decode_error(d, t.api_version(), t.kind)) {
        return client::bad_request(t.kind + " in version \"" + t.version +
                                   "\" cannot be handled as a " + t.kind + ": " + *e);
      }
    }
    return absl::OkStatus();
  }

  // Normalises apiVersion/kind of an incoming object to `t` and then to storage.
  absl::Status check_type(const ResourceType& t, JsonDoc& d) {
    if (auto e = check_body_type(t, d); !e.ok()) return e;
    auto& a = d.GetAllocator();
    std::string_view av = json::string_or_empty(&d, "apiVersion");
    std::string_view kind = json::string_or_empty(&d, "kind");
    std::string storage_av =
        t.group.empty() ? t.storage_version : t.group + "/" + t.storage_version;
    if (av.empty() || kind.empty()) {
      // Objects read back start with kind and apiVersion, as the API server writes them.
      JsonValue out(rapidjson::kObjectType);
      out.AddMember("kind", json::make_string(t.kind, a), a);
      out.AddMember("apiVersion", json::make_string(storage_av, a), a);
      for (auto& m : d.GetObject()) {
        std::string_view k = json::as_string_view(m.name);
        if (k != "kind" && k != "apiVersion") out.AddMember(m.name, m.value, a);
      }
      static_cast<JsonValue&>(d) = std::move(out);
      return absl::OkStatus();
    }
    json::set_string(d, "apiVersion", storage_av, a);
    json::set_string(d, "kind", t.kind, a);
    return absl::OkStatus();
  }

  const JsonValue* namespace_obj(std::string_view ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = tables.find("namespaces");
    if (it == tables.end()) return nullptr;
    auto o = it->second.objects.find(std::string(ns));
    return o == it->second.objects.end() ? nullptr : &o->second->doc();
  }

  absl::Status validate(const ResourceType& t, const JsonValue& obj, const JsonValue* old) {
    FieldErrors errs;
    validation::object_meta(t, obj, errs);
    validation::builtin(t, obj, old, errs);
    if (t.custom) crd::validate_custom(t, obj, old, errs);
    if (!errs.empty()) {
      return errors::invalid(t.group, t.kind, json::path_string(obj, {"metadata", "name"}), errs);
    }
    return absl::OkStatus();
  }

  // --- create ----------------------------------------------------------------------------------

  absl::StatusOr<ObjectPtr> create_locked(const ResourceType& t, std::string_view ns, JsonDoc d,
                                          const UpdateOptions& o)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (auto e = check_type(t, d); !e.ok()) return e;
    auto& a = d.GetAllocator();
    JsonValue& meta = json::ensure_object(d, "metadata", a);
    if (t.namespaced) {
      std::string_view bns = json::string_or_empty(&meta, "namespace");
      if (!bns.empty() && !ns.empty() && bns != ns) {
        return client::bad_request(
            "the namespace of the provided object does not match the namespace sent on the "
            "request");
      }
      if (ns.empty()) ns = bns;
      if (!ns.empty()) json::set_string(meta, "namespace", std::string(ns), a);
    } else {
      json::remove_member(meta, "namespace");
      ns = {};
    }
    std::string name(json::string_or_empty(&meta, "name"));
    std::string_view gen = json::string_or_empty(&meta, "generateName");
    if (name.empty() && !gen.empty()) {
      name = std::string(gen) + random_suffix();
      json::set_string(meta, "name", name, a);
    }
    if (t.namespaced && !ns.empty()) {
      const JsonValue* nso = namespace_obj(ns);
      if (!nso) return client::not_found("", "namespaces", ns);
      if (json::path_string(*nso, {"status", "phase"}) == "Terminating") {
        client::ApiStatus s = client::api_status_of(
            client::forbidden(t.group, t.resource, name.empty() ? std::string(gen) : name,
                              "unable to create new content in namespace " + std::string(ns) +
                                  " because it is being terminated"));
        s.details->causes.push_back({"NamespaceTerminating",
                                     "namespace " + std::string(ns) + " is being terminated",
                                     "metadata.namespace"});
        return client::to_status(s);
      }
    }
    json::remove_member(meta, "deletionTimestamp");
    json::remove_member(meta, "deletionGracePeriodSeconds");
    json::remove_member(meta, "selfLink");
    json::set_string(meta, "uid", new_uid(), a);
    json::set_string(meta, "creationTimestamp", now_rfc3339(), a);
    if (t.tracks_generation) json::set_member(meta, "generation", JsonValue(int64_t(1)), a);
    // What the field manager sees: the request with API defaults, before the strategy resets
    // status and allocates (cluster IPs, ...).
    JsonDoc request = json::clone(d);
    strategy::apply_defaults(t, request);
    if (t.custom) crd::default_custom(t, request);
    if (t.has_status) json::remove_member(request, "status");
    strategy::prepare_create(t, d);
    if (t.custom) crd::default_custom(t, d);
    if (auto e = validate(t, d, nullptr); !e.ok()) return e;
    if (t.group == "apiextensions.k8s.io" && t.resource == "customresourcedefinitions") {
      if (auto e = crd::validate_crd(d, nullptr); !e.ok()) return e;
    }
    // etcd3's Create refuses a resourceVersion before it looks for an existing key.
    if (!json::path_string(d, {"metadata", "resourceVersion"}).empty()) {
      return client::internal_error("resourceVersion should not be set on objects to be created");
    }
    Table& tab = table(t);
    std::string key = key_of(t, ns, name);
    if (tab.objects.count(key)) return client::already_exists(t.group, t.resource, name);
    apply::track_update(t, nullptr, d, o.field_manager, "Update", &request);
    if (o.dry_run) return present(t, api::share(std::move(d)));
    bool owners = json::path(d, {"metadata", "ownerReferences"}) != nullptr;
    ObjectPtr p = commit(tab, key, WatchEvent::Type::kAdded, std::move(d), nullptr);
    if (owners) gc_dirty = true;
    after_write(t, p);
    return present(t, p);
  }

  // Side effects of a stored CRD (register/unregister its kinds) and status of new CRDs.
  void after_write(const ResourceType& t, ObjectPtr& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (t.group == "apiextensions.k8s.io" && t.resource == "customresourcedefinitions") {
      crd::register_crd(registry, p->doc());
      if (!crd::status_is_current(p->doc())) {
        JsonDoc d = json::clone(p->doc());
        crd::set_status(d);
        Table& tab = table(t);
        std::string key(json::path_string(d, {"metadata", "name"}));
        p = commit(tab, key, WatchEvent::Type::kModified, std::move(d), p);
      }
    }
  }

  // --- update ----------------------------------------------------------------------------------

  enum class Mode { Main, Status };

  absl::StatusOr<ObjectPtr> update_locked(const ResourceType& t, std::string_view ns,
                                          std::string_view name, JsonDoc d, const UpdateOptions& o,
                                          Mode mode, std::string_view operation = "Update")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!t.namespaced) ns = {};
    Table& tab = table(t);
    std::string key = key_of(t, ns, name);
    auto it = tab.objects.find(key);
    if (it == tab.objects.end()) return client::not_found(t.group, t.resource, name);
    ObjectPtr cur = it->second;
    const JsonValue& old = cur->doc();
    if (auto e = check_type(t, d); !e.ok()) return e;
    auto& a = d.GetAllocator();
    JsonValue& meta = json::ensure_object(d, "metadata", a);
    std::string_view bname = json::string_or_empty(&meta, "name");
    if (bname.empty()) {
      json::set_string(meta, "name", name, a);
    } else if (bname != name) {
      return client::bad_request("the name of the object (" + std::string(bname) +
                                 ") does not match the name on the URL (" + std::string(name) +
                                 ")");
    }
    if (t.namespaced) {
      std::string_view bns = json::string_or_empty(&meta, "namespace");
      if (!bns.empty() && bns != ns) {
        return client::bad_request(
            "the namespace of the provided object does not match the namespace sent on the "
            "request");
      }
      json::set_string(meta, "namespace", ns, a);
    }
    std::string_view brv = json::string_or_empty(&meta, "resourceVersion");
    if (!brv.empty()) {
      auto n = parse_rv(brv);
      if (!n) return client::bad_request("invalid resource version: " + std::string(brv));
      if (*n != rv_of(old)) return errors::conflict_modified(t.group, t.resource, name);
    }
    std::string_view buid = json::string_or_empty(&meta, "uid");
    std::string_view ouid = json::path_string(old, {"metadata", "uid"});
    if (!buid.empty() && buid != ouid) {
      return client::conflict(t.group, t.resource, name,
                              "Precondition failed: UID in precondition: " + std::string(buid) +
                                  ", UID in object meta: " + std::string(ouid));
    }
    if (mode == Mode::Status) {
      strategy::prepare_status_update(t, old, d);
    } else {
      strategy::prepare_update(t, old, d);
      if (t.custom) crd::default_custom(t, d);
    }
    // System fields always come from the stored object.
    {
      auto& a2 = d.GetAllocator();
      JsonValue& m = json::ensure_object(d, "metadata", a2);
      const JsonValue* om = meta_of(old);
      for (auto k : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                     "generation", "selfLink"}) {
        if (const JsonValue* v = json::find(*om, k)) {
          json::set_member(m, k, json::copy(*v, a2), a2);
        } else {
          json::remove_member(m, k);
        }
      }
      if (!json::find(m, "managedFields")) {
        if (const JsonValue* mf = json::find(*om, "managedFields"))
          json::set_member(m, "managedFields", json::copy(*mf, a2), a2);
      }
      json::set_string(m, "resourceVersion", std::to_string(rv_of(old)), a2);
    }
    if (is_deleting(old)) {
      auto of = finalizers_of(old);
      std::vector<std::string> added;
      for (auto& f : finalizers_of(d)) {
        if (std::find(of.begin(), of.end(), f) == of.end()) added.push_back(f);
      }
      if (!added.empty()) {
        std::string repr = "[]string{";
        for (size_t i = 0; i < added.size(); ++i) repr += (i ? ", " : "") + field::quote(added[i]);
        repr += "}";
        // Twice, as kube-apiserver reports it: ObjectMeta update validation runs in BeforeUpdate
        // and again in the strategy's ValidateUpdate.
        FieldError fe =
            field::forbidden("metadata.finalizers",
                             "no new finalizers can be added if the object is being deleted, "
                             "found new finalizers " +
                                 repr);
        return errors::invalid(t.group, t.kind, name, {fe, fe});
      }
    }
    if (t.tracks_generation && strategy::spec_changed(old, d)) {
      auto& a2 = d.GetAllocator();
      int64_t g = 0;
      if (auto* gv = json::path(old, {"metadata", "generation"}); gv && gv->IsInt64())
        g = gv->GetInt64();
      json::set_member(json::ensure_object(d, "metadata", a2), "generation", JsonValue(g + 1), a2);
    }
    if (auto e = validate(t, d, &old); !e.ok()) return e;
    if (t.group == "apiextensions.k8s.io" && t.resource == "customresourcedefinitions") {
      if (auto e = crd::validate_crd(d, &old); !e.ok()) return e;
    }
    apply::track_update(t, &old, d, o.field_manager, operation);
    if (json::equal(d, old)) return present(t, cur);  // no-op: nothing written
    if (o.dry_run) return present(t, api::share(std::move(d)));
    if (is_deleting(old) && finalizers_of(d).empty()) {
      // The last finalizer is gone: the object is deleted (no MODIFIED first, as the API server).
      ObjectPtr last = commit_delete(tab, key, cur);
      after_remove(t, last);
      // The answer is the object as the update left it (finalizers gone); the DELETED event
      // carries the last stored state.
      JsonDoc answer = json::clone(d);
      json::set_string(
          json::ensure_object(answer, "metadata", answer.GetAllocator()), "resourceVersion",
          json::path_string(last->doc(), {"metadata", "resourceVersion"}), answer.GetAllocator());
      return present(t, api::share(std::move(answer)));
    }
    bool owners = json::path(d, {"metadata", "ownerReferences"}) != nullptr ||
                  json::path(old, {"metadata", "ownerReferences"}) != nullptr;
    ObjectPtr p = commit(tab, key, WatchEvent::Type::kModified, std::move(d), cur);
    if (owners || (is_deleting(old) && matters_to_gc(old))) gc_dirty = true;
    after_write(t, p);
    return present(t, p);
  }

  // --- delete ----------------------------------------------------------------------------------

  void after_remove(const ResourceType& t, const ObjectPtr& last)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (t.group == "apiextensions.k8s.io" && t.resource == "customresourcedefinitions") {
      std::string group(json::path_string(last->doc(), {"spec", "group"}));
      std::string plural(json::path_string(last->doc(), {"spec", "names", "plural"}));
      registry.remove(group, plural);
      tables.erase(plural + "." + group);
    }
  }

  absl::StatusOr<DeleteResult> delete_locked(const ResourceType& t, std::string_view ns,
                                             std::string_view name, const DeleteOptions& o)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!t.namespaced) ns = {};
    Table& tab = table(t);
    std::string key = key_of(t, ns, name);
    auto it = tab.objects.find(key);
    if (it == tab.objects.end()) return client::not_found(t.group, t.resource, name);
    ObjectPtr cur = it->second;
    const JsonValue& old = cur->doc();
    if (o.precondition_uid && *o.precondition_uid != json::path_string(old, {"metadata", "uid"})) {
      return client::conflict(
          t.group, t.resource, name,
          "Precondition failed: UID in precondition: " + *o.precondition_uid +
              ", UID in object meta: " + std::string(json::path_string(old, {"metadata", "uid"})));
    }
    if (o.precondition_resource_version &&
        *o.precondition_resource_version !=
            json::path_string(old, {"metadata", "resourceVersion"})) {
      return client::conflict(
          t.group, t.resource, name,
          "Precondition failed: ResourceVersion in precondition: " +
              *o.precondition_resource_version + ", ResourceVersion in object meta: " +
              std::string(json::path_string(old, {"metadata", "resourceVersion"})));
    }
    client::PropagationPolicy pol = o.propagation_policy;
    bool is_ns = t.group.empty() && t.resource == "namespaces";
    if (is_ns && (name == "default" || name == "kube-system" || name == "kube-public")) {
      return client::forbidden("", "namespaces", name, "this namespace may not be deleted");
    }
    // Finalizers the propagation policy asks for (the registry's
    // deletionFinalizersForGarbageCollection).
    auto fins = finalizers_of(old);
    auto drop = [&](std::string_view f) { std::erase(fins, std::string(f)); };
    auto add = [&](std::string_view f) {
      if (std::find(fins.begin(), fins.end(), f) == fins.end()) fins.emplace_back(f);
    };
    if (pol == client::PropagationPolicy::kOrphan) {
      drop("foregroundDeletion");
      add("orphan");
    } else if (pol == client::PropagationPolicy::kForeground) {
      drop("orphan");
      add("foregroundDeletion");
    } else if (pol == client::PropagationPolicy::kBackground) {
      drop("orphan");
      drop("foregroundDeletion");
    }
    bool ns_pending = is_ns && !json::path_string(old, {"spec", "finalizers", "0"}).empty();
    if (is_ns) {
      const JsonValue* sf = json::path(old, {"spec", "finalizers"});
      ns_pending = sf && sf->IsArray() && sf->Size() > 0;
    }
    if (!fins.empty() || ns_pending) {
      // Graceful: mark and keep until the finalizers are removed.
      JsonDoc d = json::clone(old);
      auto& a = d.GetAllocator();
      JsonValue& meta = json::ensure_object(d, "metadata", a);
      bool changed = false;
      if (!is_deleting(old)) {
        json::set_string(meta, "deletionTimestamp", now_rfc3339(), a);
        // The namespace registry sets only deletionTimestamp; the generic one a 0 grace period.
        if (!is_ns) json::set_member(meta, "deletionGracePeriodSeconds", JsonValue(int64_t(0)), a);
        if (auto* g = json::find(meta, "generation"); g && g->IsInt64() && g->GetInt64() > 0) {
          json::set_member(meta, "generation", JsonValue(g->GetInt64() + 1), a);
        }
        if (is_ns) json::set_string(json::ensure_object(d, "status", a), "phase", "Terminating", a);
        changed = true;
      }
      if (fins != finalizers_of(old)) {
        set_finalizers(d, fins);
        changed = true;
      }
      if (o.dry_run || !changed)
        return DeleteResult{present(t, o.dry_run ? api::share(std::move(d)) : cur), false};
      ObjectPtr p = commit(tab, key, WatchEvent::Type::kModified, std::move(d), cur);
      if (matters_to_gc(p->doc())) gc_dirty = true;
      return DeleteResult{present(t, p), false};
    }
    if (o.dry_run) return DeleteResult{present(t, cur), true};
    if (t.group == "apiextensions.k8s.io" && t.resource == "customresourcedefinitions") {
      // The CRD finalizer's work: instances go first.
      std::string group(json::path_string(old, {"spec", "group"}));
      std::string plural(json::path_string(old, {"spec", "names", "plural"}));
      auto tt = tables.find(plural + "." + group);
      if (tt != tables.end()) {
        auto objs = tt->second.objects;
        for (auto& [k, obj] : objs) commit_delete(tt->second, k, obj);
      }
    }
    ObjectPtr last = commit_delete(tab, key, cur);
    after_remove(t, last);
    return DeleteResult{present(t, last), true};
  }

  // --- garbage collection and namespace lifecycle ------------------------------------------------

  struct Loc {
    ResourceTypePtr type;
    std::string key;
    ObjectPtr obj;
  };

  // Runs the namespace controller and the garbage collector until nothing changes.
  void settle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (int round = 0; round < 100; ++round) {
      bool changed = settle_namespaces();
      if (gc_dirty) {
        gc_dirty = false;
        changed = gc_pass() || changed;
      }
      if (!changed) break;
    }
  }

  ResourceTypePtr type_for_table(const std::string& gr) {
    auto dot = gr.find('.');
    std::string res = gr.substr(0, dot);
    std::string group = dot == std::string::npos ? "" : gr.substr(dot + 1);
    return registry.any_version(group, res);
  }

  bool settle_namespaces() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto nt = tables.find("namespaces");
    if (nt == tables.end()) return false;
    std::vector<ObjectPtr> terminating;
    for (auto& [k, o] : nt->second.objects) {
      if (is_deleting(o->doc())) terminating.push_back(o);
    }
    bool changed = false;
    for (auto& nso : terminating) {
      std::string ns(json::path_string(nso->doc(), {"metadata", "name"}));
      std::string prefix = ns + "/";
      bool remaining = false;
      std::vector<std::string> grs;
      grs.reserve(tables.size());
      for (auto& [gr, tab] : tables) grs.push_back(gr);
      for (auto& gr : grs) {
        auto tt = tables.find(gr);
        if (tt == tables.end()) continue;
        auto type = type_for_table(gr);
        if (!type || !type->namespaced) continue;
        std::vector<std::pair<std::string, ObjectPtr>> victims;
        for (auto it = tt->second.objects.lower_bound(prefix);
             it != tt->second.objects.end() && it->first.compare(0, prefix.size(), prefix) == 0;
             ++it) {
          victims.emplace_back(it->first, it->second);
        }
        for (auto& [k, o] : victims) {
          remaining = true;
          if (is_deleting(o->doc())) continue;
          std::string name(json::path_string(o->doc(), {"metadata", "name"}));
          auto r = delete_locked(*type, ns, name, {});
          changed = true;
          (void)r;
        }
      }
      if (remaining) {
        // Something may have gone just now; check again.
        remaining = false;
        for (auto& [gr, tab] : tables) {
          auto type = type_for_table(gr);
          if (!type || !type->namespaced) continue;
          auto it = tab.objects.lower_bound(prefix);
          if (it != tab.objects.end() && it->first.compare(0, prefix.size(), prefix) == 0)
            remaining = true;
        }
      }
      if (remaining) continue;
      // Empty: the namespace controller finalizes it.
      auto& tab = tables["namespaces"];
      auto it = tab.objects.find(ns);
      if (it == tab.objects.end()) continue;
      ObjectPtr cur = it->second;
      const JsonValue* sf = json::path(cur->doc(), {"spec", "finalizers"});
      if (sf && sf->IsArray() && sf->Size() > 0) {
        JsonDoc d = json::clone(cur->doc());
        json::remove_member(*json::find(d, "spec"), "finalizers");
        cur = commit(tab, ns, WatchEvent::Type::kModified, std::move(d), cur);
        changed = true;
      }
      if (finalizers_of(cur->doc()).empty()) {
        commit_delete(tab, ns, cur);
        changed = true;
      }
    }
    return changed;
  }

  // One pass of the garbage collector (k8s.io/kubernetes/pkg/controller/garbagecollector).
  bool gc_pass() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    bool changed = false;
    // uid -> location of every object, and dependents per owner uid.
    std::map<std::string, Loc> by_uid;
    std::map<std::string, std::vector<Loc>> dependents;
    for (auto& [gr, tab] : tables) {
      auto type = type_for_table(gr);
      if (!type) continue;
      for (auto& [k, o] : tab.objects) {
        std::string uid(json::path_string(o->doc(), {"metadata", "uid"}));
        by_uid[uid] = Loc{type, k, o};
        if (const JsonValue* refs = json::path(o->doc(), {"metadata", "ownerReferences"});
            refs && refs->IsArray()) {
          for (auto& r : refs->GetArray())
            dependents[std::string(json::string_or_empty(&r, "uid"))].push_back(Loc{type, k, o});
        }
      }
    }
    auto exists = [&](const Loc& l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      auto tt = tables.find(l.type->group_resource());
      if (tt == tables.end()) return false;
      auto it = tt->second.objects.find(l.key);
      return it != tt->second.objects.end() && it->second == l.obj;
    };
    // Owners being deleted with Orphan or Foreground.
    for (auto& [uid, loc] : by_uid) {
      const JsonValue& od = loc.obj->doc();
      if (!is_deleting(od)) continue;
      if (has_finalizer(od, "orphan")) {
        for (auto& dep : dependents[uid]) {
          if (!exists(dep)) continue;
          remove_owner_refs(dep, {uid});
        }
        remove_finalizer(loc, "orphan");
        changed = true;
      } else if (has_finalizer(od, "foregroundDeletion")) {
        bool blocking = false;
        for (auto& dep : dependents[uid]) {
          auto tt = tables.find(dep.type->group_resource());
          if (tt == tables.end()) continue;
          auto it = tt->second.objects.find(dep.key);
          if (it == tt->second.objects.end()) continue;
          const JsonValue& dd = it->second->doc();
          if (const JsonValue* refs = json::path(dd, {"metadata", "ownerReferences"});
              refs && refs->IsArray()) {
            for (auto& r : refs->GetArray()) {
              if (json::string_or_empty(&r, "uid") == uid) {
                if (auto* b = json::find(r, "blockOwnerDeletion"); b && b->IsTrue())
                  blocking = true;
              }
            }
          }
        }
        if (!blocking) {
          remove_finalizer(loc, "foregroundDeletion");
          changed = true;
        }
      }
    }
    // Dependents whose owners are gone (or being deleted in the foreground).
    for (auto& [gr, tab] : tables) {
      (void)tab;
      (void)gr;
    }
    std::vector<Loc> candidates;
    for (auto& [uid, deps] : dependents) {
      for (auto& d : deps) candidates.push_back(d);
    }
    std::set<std::string> seen;
    for (auto& dep : candidates) {
      if (!seen.insert(dep.type->group_resource() + "|" + dep.key).second) continue;
      auto tt = tables.find(dep.type->group_resource());
      if (tt == tables.end()) continue;
      auto it = tt->second.objects.find(dep.key);
      if (it == tt->second.objects.end()) continue;
      Loc cur{dep.type, dep.key, it->second};
      const JsonValue& dd = cur.obj->doc();
      if (is_deleting(dd) && !has_finalizer(dd, "foregroundDeletion")) continue;
      std::vector<std::string> solid, dangling, waiting;
      const JsonValue* refs = json::path(dd, {"metadata", "ownerReferences"});
      if (!refs || !refs->IsArray()) continue;
      std::string ns(json::path_string(dd, {"metadata", "namespace"}));
      for (auto& r : refs->GetArray()) {
        std::string ruid(json::string_or_empty(&r, "uid"));
        auto ot = registry.by_api_version_kind(json::string_or_empty(&r, "apiVersion"),
                                               json::string_or_empty(&r, "kind"));
        if (!ot) {
          solid.push_back(ruid);  // unresolvable kind: the collector cannot decide; leave it
          continue;
        }
        auto otab = tables.find(ot->group_resource());
        std::string okey = key_of(*ot, ns, json::string_or_empty(&r, "name"));
        const JsonValue* owner = nullptr;
        if (otab != tables.end()) {
          auto oit = otab->second.objects.find(okey);
          if (oit != otab->second.objects.end()) owner = &oit->second->doc();
        }
        if (!owner || json::path_string(*owner, {"metadata", "uid"}) != ruid) {
          dangling.push_back(ruid);
        } else if (is_deleting(*owner) && has_finalizer(*owner, "foregroundDeletion")) {
          waiting.push_back(ruid);
        } else {
          solid.push_back(ruid);
        }
      }
      if (!solid.empty()) {
        if (!dangling.empty() || !waiting.empty()) {
          std::vector<std::string> drop = dangling;
          drop.insert(drop.end(), waiting.begin(), waiting.end());
          remove_owner_refs(cur, drop);
          changed = true;
        }
        continue;
      }
      if (is_deleting(dd)) continue;
      DeleteOptions o;
      bool blocking = !waiting.empty() &&
                      !dependents[std::string(json::path_string(dd, {"metadata", "uid"}))].empty();
      if (!blocking && has_finalizer(dd, "orphan")) {
        o.propagation_policy = client::PropagationPolicy::kOrphan;
      } else if (blocking || has_finalizer(dd, "foregroundDeletion")) {
        o.propagation_policy = client::PropagationPolicy::kForeground;
      } else {
        o.propagation_policy = client::PropagationPolicy::kBackground;
      }
      std::string name(json::path_string(dd, {"metadata", "name"}));
      delete_locked(*cur.type, ns, name, o).IgnoreError();  // it may be gone already
      changed = true;
    }
    if (changed) gc_dirty = true;
    return changed;
  }

  void remove_owner_refs(const Loc& l, const std::vector<std::string>& uids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto tt = tables.find(l.type->group_resource());
    if (tt == tables.end()) return;
    auto it = tt->second.objects.find(l.key);
    if (it == tt->second.objects.end()) return;
    ObjectPtr cur = it->second;
    JsonDoc d = json::clone(cur->doc());
    auto& a = d.GetAllocator();
    JsonValue* refs = json::find(*json::find(d, "metadata"), "ownerReferences");
    if (!refs || !refs->IsArray()) return;
    JsonValue kept(rapidjson::kArrayType);
    for (auto& r : refs->GetArray()) {
      std::string_view u = json::string_or_empty(&r, "uid");
      if (std::find(uids.begin(), uids.end(), u) == uids.end()) kept.PushBack(json::copy(r, a), a);
    }
    if (kept.Size() == refs->Size()) return;
    if (kept.Empty()) {
      json::remove_member(*json::find(d, "metadata"), "ownerReferences");
    } else {
      *refs = std::move(kept);
    }
    commit(tt->second, l.key, WatchEvent::Type::kModified, std::move(d), cur);
  }

  void remove_finalizer(const Loc& l, std::string_view f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto tt = tables.find(l.type->group_resource());
    if (tt == tables.end()) return;
    auto it = tt->second.objects.find(l.key);
    if (it == tt->second.objects.end()) return;
    ObjectPtr cur = it->second;
    auto fins = finalizers_of(cur->doc());
    std::erase(fins, std::string(f));
    JsonDoc d = json::clone(cur->doc());
    set_finalizers(d, fins);
    const JsonValue* sf = json::path(d, {"spec", "finalizers"});
    bool ns_pending = l.type->group.empty() && l.type->resource == "namespaces" && sf &&
                      sf->IsArray() && sf->Size();
    if (fins.empty() && is_deleting(d) && !ns_pending) {
      ObjectPtr last = commit_delete(tt->second, l.key, cur);
      after_remove(*l.type, last);
    } else {
      commit(tt->second, l.key, WatchEvent::Type::kModified, std::move(d), cur);
    }
  }

  // --- reads -----------------------------------------------------------------------------------

  // What the objects of `tab` changed after `at` were at `at` (nullptr: absent then), from the
  // history. A paged list reads these over the live map instead of copying the whole table per
  // page: any write anywhere moves the global resourceVersion past the list's, so every page of
  // a long list would otherwise copy 100k entries.
  std::map<std::string, ObjectPtr> changed_since(const Table& tab, uint64_t at) const {
    std::map<std::string, ObjectPtr> was;
    // Newest first: the oldest event after `at` writes last, and its `prev` is the state at `at`.
    for (auto it = tab.history.rbegin(); it != tab.history.rend() && it->rv > at; ++it) {
      switch (it->type) {
        case WatchEvent::Type::kAdded:
          was[it->key] = nullptr;
          break;
        case WatchEvent::Type::kModified:
        case WatchEvent::Type::kDeleted:
          was[it->key] = it->prev;
          break;
        default:
          break;
      }
    }
    return was;
  }
};

// ------------------------------------------------------------------------------------------------

Store::Store(StoreOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->opts = options;
  if (options.create_system_namespaces) {
    auto ns = impl_->registry.by_resource("", "v1", "namespaces");
    for (auto n : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
      JsonDoc d(rapidjson::kObjectType);
      auto& a = d.GetAllocator();
      d.AddMember("apiVersion", "v1", a);
      d.AddMember("kind", "Namespace", a);
      JsonValue meta(rapidjson::kObjectType);
      meta.AddMember("name", json::make_string(n, a), a);
      d.AddMember("metadata", meta, a);
      absl::MutexLock l(&impl_->mu);
      impl_->create_locked(*ns, "", std::move(d), {}).IgnoreError();  // an empty store: cannot fail
    }
  }
}

Store::~Store() {
  absl::MutexLock l(&impl_->mu);
  for (auto& [gr, tab] : impl_->tables) {
    for (auto& w : tab.watchers) {
      absl::MutexLock wl(&w->mu);
      w->closed = true;
      w->cv.SignalAll();
    }
  }
}

Registry& Store::registry() {
  return impl_->registry;
}
Faults& Store::faults() {
  return impl_->faults;
}

uint64_t Store::current_resource_version() const {
  absl::MutexLock l(&impl_->mu);
  return impl_->rv;
}

absl::StatusOr<ResourceTypePtr> Store::type_of(const JsonValue& obj) const {
  std::string_view av = json::string_or_empty(&obj, "apiVersion");
  std::string_view kind = json::string_or_empty(&obj, "kind");
  if (kind.empty())
    return client::bad_request("Object 'Kind' is missing in '" + json::to_json(obj) + "'");
  if (av.empty())
    return client::bad_request("Object 'apiVersion' is missing in '" + json::to_json(obj) + "'");
  auto t = impl_->registry.by_api_version_kind(av, kind);
  if (!t) {
    return errors::no_kind_match(kind, av);
  }
  return t;
}

std::vector<ObjectPtr> Store::stored(const ResourceType& t) const {
  return impl_->stored(t);
}

ObjectPtr Store::stored(const ResourceType& t, std::string_view ns, std::string_view name) const {
  return impl_->stored(t, ns, name);
}

absl::StatusOr<ObjectPtr> Store::stored_as(const ResourceType& t, std::string_view ns,
                                           std::string_view name) const {
  if (!conversion::by_webhook(t)) return stored(t, ns, name);
  ObjectPtr p = impl_->stored(*impl_->storage_type(t), ns, name);
  if (p == nullptr) return p;
  return impl_->to_version(t, std::move(p));
}

absl::StatusOr<ObjectPtr> Store::get(const ResourceType& t, std::string_view ns,
                                     std::string_view name, const GetOptions& o) {
  if (conversion::by_webhook(t)) {
    auto r = get(*impl_->storage_type(t), ns, name, o);
    if (!r.ok()) return r;
    return impl_->to_version(t, std::move(*r));
  }
  if (auto e = impl_->check_faults("get", t); !e.ok()) return e;
  absl::MutexLock l(&impl_->mu);
  if (!o.resource_version.empty() && o.resource_version != "0") {
    auto n = parse_rv(o.resource_version);
    if (!n) return client::bad_request("invalid resource version: " + o.resource_version);
    if (*n > impl_->rv) return errors::too_large_resource_version(*n, impl_->rv);
  }
  Table& tab = impl_->table(t);
  auto it = tab.objects.find(impl_->key_of(t, t.namespaced ? ns : std::string_view(), name));
  if (it == tab.objects.end()) return client::not_found(t.group, t.resource, name);
  return impl_->present(t, it->second);
}

absl::StatusOr<ObjectList> Store::list(const ResourceType& t, std::string_view ns,
                                       const ListOptions& o) {
  if (conversion::by_webhook(t)) {
    auto r = list(*impl_->storage_type(t), ns, o);
    if (!r.ok()) return r;
    auto items = impl_->to_version(t, std::move(r->items), true);
    if (!items.ok()) return items.status();
    r->items = std::move(*items);
    r->api_version = t.api_version();
    return r;
  }
  if (auto e = impl_->check_faults("list", t); !e.ok()) return e;
  FieldErrors errs;
  validation::list_options(o, match_text(o.resource_version_match), errs);
  if (!errs.empty()) return errors::invalid("meta.k8s.io", "ListOptions", "", errs);
  auto sel = Selection::parse(o.label_selector, o.field_selector, t);
  if (!sel.ok()) return sel.status();
  if (!t.namespaced) ns = {};

  absl::MutexLock l(&impl_->mu);
  Table& tab = impl_->table(t);
  uint64_t current = impl_->rv;
  std::optional<uint64_t> exact;  // the snapshot to read; nullopt = latest
  std::string start;              // first key (relative to the prefix)
  bool paging = o.limit > 0;
  std::optional<uint64_t> from_rv;
  if (!o.resource_version.empty()) {
    from_rv = parse_rv(o.resource_version);
    if (!from_rv) return client::bad_request("invalid resource version: " + o.resource_version);
  }
  bool from_continue = false;
  std::optional<int64_t> remaining_before;  // the previous page's remaining count
  if (!o.continue_token.empty()) {
    auto raw = unb64url(o.continue_token);
    std::optional<JsonDoc> tok = raw ? json::parse(*raw) : std::nullopt;
    if (!tok || json::string_or_empty(&*tok, "v") != "meta.k8s.io/v1") {
      return client::bad_request("invalid continue token: continue key is not valid: " +
                                 std::string(raw ? "unsupported version" : "illegal base64 data"));
    }
    const JsonValue* rvv = json::find(*tok, "rv");
    int64_t crv = rvv && rvv->IsInt64() ? rvv->GetInt64() : 0;
    start = std::string(json::string_or_empty(&*tok, "start"));
    // kop::local's own addition to the token: the remaining count the previous page gave, so
    // that later pages need not count the rest of the table again (clients treat the token as
    // opaque; the API server's own fields are unchanged).
    if (const JsonValue* rem = json::find(*tok, "rem"); rem && rem->IsInt64()) {
      remaining_before = rem->GetInt64();
    }
    if (crv == 0) {
      return client::bad_request(
          "invalid continue token: continue key is not valid: incorrect encoded start "
          "resourceVersion (version meta.k8s.io/v1)");
    }
    if (start.empty()) {
      return client::bad_request(
          "invalid continue token: continue key is not valid: encoded start key empty (version "
          "meta.k8s.io/v1)");
    }
    if (!o.resource_version.empty() && o.resource_version != "0") {
      return client::bad_request("specifying resource version is not allowed when using continue");
    }
    if (crv > 0) exact = uint64_t(crv);
    from_continue = true;
  } else if (from_rv) {
    if (o.resource_version == "0" &&
        o.resource_version_match == client::ResourceVersionMatch::kUnset) {
      paging = false;  // served from the watch cache, which ignores limit
    } else if (o.resource_version_match == client::ResourceVersionMatch::kExact ||
               (o.resource_version_match == client::ResourceVersionMatch::kUnset && paging &&
                *from_rv > 0)) {
      exact = *from_rv;
    } else if (*from_rv > current) {
      return errors::too_large_resource_version(*from_rv, current);
    }
  }
  if (exact) {
    if (*exact > current) return errors::too_large_resource_version(*exact, current);
    if (*exact < tab.oldest_minus_one()) {
      if (from_continue) {
        client::ApiStatus s = client::api_status_of(client::resource_expired(
            "The provided continue parameter is too old to display a consistent list result. You "
            "can start a new "
            "list without the continue parameter, or use the continue token in this response to "
            "retrieve the "
            "remainder of the results. Continuing with the provided token results in an "
            "inconsistent list - objects "
            "that were created, modified, or deleted between the time the first chunk was returned "
            "and now may show "
            "up in the list."));
        JsonDoc tokd(rapidjson::kObjectType);
        auto& a = tokd.GetAllocator();
        tokd.AddMember("v", "meta.k8s.io/v1", a);
        tokd.AddMember("rv", int64_t(-1), a);
        tokd.AddMember("start", json::make_string(start, a), a);
        s.continue_token = b64url(json::to_json(tokd));
        return client::to_status(s);
      }
      return client::resource_expired("The resourceVersion for the provided list is too old.");
    }
  }
  std::map<std::string, ObjectPtr> was;  // empty when reading the latest
  if (exact && *exact != current) was = impl_->changed_since(tab, *exact);
  uint64_t at = exact ? *exact : current;
  std::string prefix = (t.namespaced && !ns.empty()) ? std::string(ns) + "/" : std::string();
  ObjectList r;
  r.api_version = t.api_version();
  r.kind = t.list_kind();
  r.resource_version = std::to_string(at);
  // The table as it was at `at`, in key order: the live map merged with `was`, which wins on
  // equal keys (a null there: the object did not exist yet).
  auto live = tab.objects.lower_bound(prefix + start);
  auto old = was.lower_bound(prefix + start);
  auto in_prefix = [&](const std::string& key) {
    return key.compare(0, prefix.size(), prefix) == 0;
  };
  auto next = [&]() -> std::pair<const std::string*, const ObjectPtr*> {
    while (true) {
      bool has_live = live != tab.objects.end() && in_prefix(live->first);
      bool has_old = old != was.end() && in_prefix(old->first);
      if (!has_live && !has_old) return {nullptr, nullptr};
      if (has_old && (!has_live || old->first <= live->first)) {
        if (has_live && live->first == old->first) ++live;
        auto at_old = old++;
        if (at_old->second) return {&at_old->first, &at_old->second};
        continue;
      }
      auto at_live = live++;
      return {&at_live->first, &at_live->second};
    }
  };
  std::string last_key;
  bool more = false;
  for (auto [key, obj] = next(); key != nullptr; std::tie(key, obj) = next()) {
    if (!sel->matches(**obj)) continue;
    if (paging && int64_t(r.items.size()) >= o.limit) {
      more = true;
      break;
    }
    r.items.push_back(impl_->present(t, *obj));
    last_key = *key;
  }
  if (more) {
    JsonDoc tokd(rapidjson::kObjectType);
    auto& a = tokd.GetAllocator();
    tokd.AddMember("v", "meta.k8s.io/v1", a);
    tokd.AddMember("rv", int64_t(at), a);
    std::string rel = last_key.substr(prefix.size());
    rel.push_back('\0');
    tokd.AddMember("start", json::make_string(rel, a), a);
    if (sel->empty()) {
      // The snapshot is fixed, so the count only shrinks by what each page returned.
      int64_t rem = 0;
      if (remaining_before) {
        rem = *remaining_before - int64_t(r.items.size());
      } else {
        rem = 1;  // the one that did not fit
        for (auto [key, obj] = next(); key != nullptr; std::tie(key, obj) = next()) rem++;
      }
      r.remaining_item_count = rem;
      tokd.AddMember("rem", rem, a);
    }
    r.continue_token = b64url(json::to_json(tokd));
  }
  return r;
}

absl::StatusOr<WatchPtr> Store::watch(const ResourceType& t, std::string_view ns,
                                      const WatchOptions& o) {
  if (conversion::by_webhook(t)) {
    return watch_as(*impl_->storage_type(t), ns, o, std::make_shared<const ResourceType>(t));
  }
  return watch_as(t, ns, o, nullptr);
}

absl::StatusOr<WatchPtr> Store::watch_as(const ResourceType& t, std::string_view ns,
                                         const WatchOptions& o, ResourceTypePtr convert_to) {
  auto state = std::make_shared<Watch::State>();
  state->type = std::make_shared<const ResourceType>(t);
  state->convert_to = std::move(convert_to);
  state->ns = t.namespaced ? std::string(ns) : std::string();
  state->bookmarks = o.allow_watch_bookmarks;
  state->bookmark_interval = absl::ToChronoMilliseconds(impl_->opts.bookmark_interval);
  state->next_bookmark = Clock::now() + state->bookmark_interval;
  if (o.timeout_seconds) state->deadline = Clock::now() + std::chrono::seconds(*o.timeout_seconds);
  state->close_after = impl_->faults.watch_close_after();
  auto fail_with = [&](absl::Status error) -> absl::StatusOr<WatchPtr> {
    absl::MutexLock sl(&state->mu);  // not shared yet: for the annotations
    state->q.push_back(error_event(std::move(error)));
    state->closed = true;
    return std::make_unique<Watch>(state, impl_);
  };
  if (auto e = impl_->check_faults("watch", t); !e.ok()) return fail_with(std::move(e));
  auto sel = Selection::parse(o.label_selector, o.field_selector, t);
  if (!sel.ok()) return sel.status();
  state->selection = std::move(*sel);
  std::optional<uint64_t> from;
  if (!o.resource_version.empty() && o.resource_version != "0") {
    from = parse_rv(o.resource_version);
    if (!from) return client::bad_request("invalid resource version: " + o.resource_version);
  }

  absl::MutexLock l(&impl_->mu);
  Table& tab = impl_->table(t);
  uint64_t current = impl_->rv;
  std::vector<WatchEvent> initial;
  if (!from) {
    std::string prefix = state->ns.empty() ? "" : state->ns + "/";
    for (auto it = tab.objects.lower_bound(prefix);
         it != tab.objects.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      if (!state->selection.matches(*it->second)) continue;
      initial.push_back({WatchEvent::Type::kAdded, impl_->present(t, it->second)});
    }
    state->after_rv = current;
  } else {
    if (*from < tab.oldest_minus_one()) {
      return fail_with(
          client::resource_expired("too old resource version: " + std::to_string(*from) + " (" +
                                   std::to_string(tab.oldest_minus_one()) + ")"));
    }
    state->after_rv = *from;
    for (auto& ev : tab.history) {
      if (auto e = impl_->convert(*state, ev)) initial.push_back(std::move(*e));
    }
    state->after_rv = std::max(*from, current);
  }
  state->cap = impl_->opts.watch_buffer + initial.size();
  {
    absl::MutexLock sl(&state->mu);  // not shared yet: for the annotations
    for (auto& e : initial) state->q.push_back(std::move(e));
  }
  tab.watchers.push_back(state);
  return std::make_unique<Watch>(state, impl_);
}

absl::StatusOr<ObjectPtr> Store::create(const ResourceType& t, std::string_view ns, JsonDoc obj,
                                        const CreateOptions& o) {
  return admitted_create(t, ns, std::move(obj), o);
}

absl::StatusOr<ObjectPtr> Store::create_now(const ResourceType& t, std::string_view ns, JsonDoc obj,
                                            const CreateOptions& o) {
  if (conversion::by_webhook(t)) {
    auto in = impl_->to_storage(t, std::move(obj));
    if (!in.ok()) return in.status();
    auto r = create_now(*impl_->storage_type(t), ns, std::move(*in), o);
    if (!r.ok()) return r;
    return impl_->to_version(t, std::move(*r));
  }
  if (auto e = impl_->check_faults("create", t); !e.ok()) return e;
  absl::MutexLock l(&impl_->mu);
  auto r = impl_->create_locked(t, ns, std::move(obj), {o.field_manager, o.dry_run});
  impl_->settle();
  return r;
}

absl::StatusOr<ObjectPtr> Store::update(const ResourceType& t, std::string_view ns,
                                        std::string_view name, JsonDoc obj,
                                        const UpdateOptions& o) {
  return admitted_update(t, ns, name, std::move(obj), o, false);
}

absl::StatusOr<ObjectPtr> Store::update_now(const ResourceType& t, std::string_view ns,
                                            std::string_view name, JsonDoc obj,
                                            const UpdateOptions& o, bool status) {
  if (conversion::by_webhook(t)) {
    auto in = impl_->to_storage(t, std::move(obj));
    if (!in.ok()) return in.status();
    auto r = update_now(*impl_->storage_type(t), ns, name, std::move(*in), o, status);
    if (!r.ok()) return r;
    return impl_->to_version(t, std::move(*r));
  }
  if (auto e = impl_->check_faults("update", t); !e.ok()) return e;
  absl::MutexLock l(&impl_->mu);
  auto r = impl_->update_locked(t, ns, name, std::move(obj), o,
                                status ? Impl::Mode::Status : Impl::Mode::Main);
  impl_->settle();
  return r;
}

absl::StatusOr<ObjectPtr> Store::update_status(const ResourceType& t, std::string_view ns,
                                               std::string_view name, JsonDoc obj,
                                               const UpdateOptions& o) {
  if (!t.has_status) return client::not_found(t.group, t.resource + "/status", name);
  return admitted_update(t, ns, name, std::move(obj), o, true);
}

namespace {

// What a patch makes of `cur`, the object as `t`'s version presents it (null when there is none,
// which only an apply patch may meet: it creates). Needs no lock.
absl::StatusOr<JsonDoc> patch_result(const ResourceType& t, std::string_view name,
                                     const JsonValue* cur, PatchType pt, std::string_view body,
                                     const PatchOptions& o, bool status) {
  if (pt == PatchType::kApply) {
    if (o.field_manager.empty()) {
      return client::bad_request(
          "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for "
          "apply patch");
    }
    auto applied = apply::apply(t, cur, body, o.field_manager, o.force.value_or(false), status);
    if (!applied.ok() || cur != nullptr) return applied;
    if (status) return client::not_found(t.group, t.resource, name);
    JsonDoc d = std::move(*applied);
    auto& a = d.GetAllocator();
    JsonValue& meta = json::ensure_object(d, "metadata", a);
    std::string_view bname = json::string_or_empty(&meta, "name");
    if (!bname.empty() && bname != name) {
      return client::bad_request("the name of the object (" + std::string(bname) +
                                 ") does not match the name on the URL (" + std::string(name) +
                                 ")");
    }
    json::set_string(meta, "name", name, a);
    return d;
  }
  if (cur == nullptr) return client::not_found(t.group, t.resource, name);
  absl::StatusOr<JsonDoc> patched = pt == PatchType::kJsonMerge   ? patch::merge(*cur, body)
                                    : pt == PatchType::kJsonPatch ? patch::json_patch(*cur, body)
                                                                  : patch::strategic(t, *cur, body);
  if (!patched.ok()) return patched.status();
  JsonDoc d = std::move(*patched);
  auto& a = d.GetAllocator();
  JsonValue& meta = json::ensure_object(d, "metadata", a);
  if (json::string_or_empty(&meta, "resourceVersion").empty()) {
    json::set_string(meta, "resourceVersion",
                     json::path_string(*cur, {"metadata", "resourceVersion"}), a);
  }
  return d;
}

absl::StatusOr<ObjectPtr> do_patch(Store::Impl& impl, const ResourceType& t, std::string_view ns,
                                   std::string_view name, PatchType pt, std::string_view body,
                                   const PatchOptions& o, bool status)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.mu) {
  if (!t.namespaced) ns = {};
  Table& tab = impl.table(t);
  auto it = tab.objects.find(impl.key_of(t, ns, name));
  // Apply reads the stored object; the other patches apply to it as the requested version
  // presents it.
  ObjectPtr cur = it == tab.objects.end()   ? nullptr
                  : pt == PatchType::kApply ? it->second
                                            : impl.present(t, it->second);
  auto d = patch_result(t, name, cur ? &cur->doc() : nullptr, pt, body, o, status);
  if (!d.ok()) return d.status();
  auto mode = status ? Store::Impl::Mode::Status : Store::Impl::Mode::Main;
  if (pt == PatchType::kApply) {
    // No field manager: apply has set managedFields already.
    if (cur == nullptr) return impl.create_locked(t, ns, std::move(*d), {.dry_run = o.dry_run});
    return impl.update_locked(t, ns, name, std::move(*d), {.dry_run = o.dry_run}, mode, "Apply");
  }
  return impl.update_locked(t, ns, name, std::move(*d), {o.field_manager, o.dry_run}, mode);
}

constexpr int kPatchConflictRetries = 3;

}  // namespace

absl::StatusOr<ObjectPtr> Store::patch(const ResourceType& t, std::string_view ns,
                                       std::string_view name, PatchType pt, std::string_view body,
                                       const PatchOptions& o) {
  return admitted_patch(t, ns, name, pt, body, o, false);
}

absl::StatusOr<ObjectPtr> Store::patch_now(const ResourceType& t, std::string_view ns,
                                           std::string_view name, PatchType pt,
                                           std::string_view body, const PatchOptions& o,
                                           bool status) {
  if (conversion::by_webhook(t)) return patch_converted(t, ns, name, pt, body, o, status);
  if (auto e = impl_->check_faults("patch", t); !e.ok()) return e;
  absl::MutexLock l(&impl_->mu);
  auto r = do_patch(*impl_, t, ns, name, pt, body, o, status);
  impl_->settle();
  return r;
}

absl::StatusOr<ObjectPtr> Store::patch_converted(const ResourceType& t, std::string_view ns,
                                                 std::string_view name, PatchType pt,
                                                 std::string_view body, const PatchOptions& o,
                                                 bool status) {
  if (auto e = impl_->check_faults("patch", t); !e.ok()) return e;
  ResourceTypePtr storage = impl_->storage_type(t);
  for (int attempt = 0;; ++attempt) {
    ObjectPtr cur = impl_->stored(*storage, ns, name);
    if (cur != nullptr) {
      auto converted = impl_->to_version(t, std::move(cur));
      if (!converted.ok()) return converted;
      cur = std::move(*converted);
    }
    auto d = patch_result(t, name, cur ? &cur->doc() : nullptr, pt, body, o, status);
    if (!d.ok()) return d.status();
    if (cur != nullptr) {
      // Written against the state it was computed from: a concurrent change is a Conflict,
      // retried below as the API server's update loop retries.
      JsonValue& meta = json::ensure_object(*d, "metadata", d->GetAllocator());
      if (json::string_or_empty(&meta, "resourceVersion").empty()) {
        json::set_string(meta, "resourceVersion", cur->resource_version(), d->GetAllocator());
      }
    }
    auto in = impl_->to_storage(t, std::move(*d));
    if (!in.ok()) return in.status();
    absl::StatusOr<ObjectPtr> written;
    if (cur == nullptr) {
      CreateOptions create;  // apply has set managedFields: no field manager
      create.dry_run = o.dry_run;
      written = create_now(*storage, ns, std::move(*in), create);
    } else {
      UpdateOptions update;
      update.field_manager = pt == PatchType::kApply ? std::string() : o.field_manager;
      update.dry_run = o.dry_run;
      written = update_now(*storage, ns, name, std::move(*in), update, status);
    }
    bool raced = client::is_conflict(written.status()) ||
                 (cur == nullptr && client::is_already_exists(written.status()));
    if (raced && attempt < kPatchConflictRetries) continue;
    if (!written.ok()) return written;
    return impl_->to_version(t, std::move(*written));
  }
}

absl::StatusOr<ObjectPtr> Store::patch_status(const ResourceType& t, std::string_view ns,
                                              std::string_view name, PatchType pt,
                                              std::string_view body, const PatchOptions& o) {
  if (!t.has_status) return client::not_found(t.group, t.resource + "/status", name);
  return admitted_patch(t, ns, name, pt, body, o, true);
}

absl::StatusOr<DeleteResult> Store::remove(const ResourceType& t, std::string_view ns,
                                           std::string_view name, const DeleteOptions& o) {
  return admitted_remove(t, ns, name, o);
}

absl::StatusOr<DeleteResult> Store::remove_now(const ResourceType& t, std::string_view ns,
                                               std::string_view name, const DeleteOptions& o) {
  if (conversion::by_webhook(t)) {
    auto r = remove_now(*impl_->storage_type(t), ns, name, o);
    if (!r.ok()) return r;
    auto object = impl_->to_version(t, r->object);
    if (!object.ok()) return object.status();
    r->object = std::move(*object);
    return r;
  }
  if (auto e = impl_->check_faults("delete", t); !e.ok()) return e;
  absl::MutexLock l(&impl_->mu);
  auto r = impl_->delete_locked(t, ns, name, o);
  impl_->settle();
  return r;
}

absl::StatusOr<ObjectList> Store::remove_collection(const ResourceType& t, std::string_view ns,
                                                    const ListOptions& sel,
                                                    const DeleteOptions& o) {
  if (conversion::by_webhook(t)) {
    auto r = remove_collection(*impl_->storage_type(t), ns, sel, o);
    if (!r.ok()) return r;
    auto items = impl_->to_version(t, std::move(r->items), true);
    if (!items.ok()) return items.status();
    r->items = std::move(*items);
    r->api_version = t.api_version();
    return r;
  }
  if (auto e = impl_->check_faults("deletecollection", t); !e.ok()) return e;
  ListOptions lo;
  lo.label_selector = sel.label_selector;
  lo.field_selector = sel.field_selector;
  auto l = list(t, ns, lo);
  if (!l.ok()) return l;
  ObjectList out;
  absl::MutexLock lk(&impl_->mu);
  for (auto& item : l->items) {
    const JsonValue& d = item->doc();
    auto r = impl_->delete_locked(t, json::path_string(d, {"metadata", "namespace"}),
                                  json::path_string(d, {"metadata", "name"}), o);
    if (r.ok()) out.items.push_back(r->object);
  }
  out.resource_version = std::to_string(impl_->rv);
  impl_->settle();
  return out;
}

JsonDoc make_list(const ResourceType& t, const ObjectList& r, bool strip_item_types) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", json::make_string(t.list_kind(), a), a);
  d.AddMember("apiVersion", json::make_string(t.api_version(), a), a);
  JsonValue meta(rapidjson::kObjectType);
  meta.AddMember("resourceVersion", json::make_string(r.resource_version, a), a);
  if (!r.continue_token.empty())
    meta.AddMember("continue", json::make_string(r.continue_token, a), a);
  if (r.remaining_item_count) meta.AddMember("remainingItemCount", *r.remaining_item_count, a);
  d.AddMember("metadata", meta, a);
  JsonValue items(rapidjson::kArrayType);
  items.Reserve(static_cast<rapidjson::SizeType>(r.items.size()), a);
  bool strip = strip_item_types && !t.custom;
  for (auto& p : r.items) {
    JsonValue item(rapidjson::kObjectType);
    for (auto& m : p->doc().GetObject()) {
      std::string_view k = json::as_string_view(m.name);
      if (strip && (k == "apiVersion" || k == "kind")) continue;
      item.AddMember(JsonValue(m.name, a), JsonValue(m.value, a), a);
    }
    items.PushBack(item, a);
  }
  d.AddMember("items", items, a);
  return d;
}

// ------------------------------------------------------------------------------------------------

Watch::Watch(std::shared_ptr<State> s, std::weak_ptr<Store::Impl> store)
    : s_(std::move(s)), store_(std::move(store)) {}

Watch::~Watch() {
  stop();
}

void Watch::stop() {
  absl::MutexLock l(&s_->mu);
  s_->stopped = true;
  s_->cv.SignalAll();
}

bool Watch::ended() const {
  absl::MutexLock l(&s_->mu);
  return s_->ended;
}

absl::StatusOr<std::optional<WatchEvent>> Watch::next() {
  return wait_next(std::nullopt);
}

std::optional<WatchEvent> Watch::next(absl::Duration wait) {
  if (wait == absl::InfiniteDuration()) return wait_next(std::nullopt);
  return wait_next(Clock::now() + absl::ToChronoNanoseconds(wait));
}

std::optional<WatchEvent> Watch::wait_next(std::optional<Clock::time_point> until) {
  auto ev = wait_stored(until);
  if (!ev || s_->convert_to == nullptr || ev->type == WatchEvent::Type::kError) return ev;
  if (ev->type == WatchEvent::Type::kBookmark) {
    JsonDoc d = json::clone(ev->object->doc());
    json::set_string(d, "apiVersion", s_->convert_to->api_version(), d.GetAllocator());
    ev->object = api::share(std::move(d));
    return ev;
  }
  absl::StatusOr<ObjectPtr> converted = client::service_unavailable("the store is gone");
  if (auto st = store_.lock()) converted = st->to_version(*s_->convert_to, ev->object);
  if (converted.ok()) {
    ev->object = std::move(*converted);
    return ev;
  }
  // As the API server: an event it cannot encode in the version asked for ends the watch.
  logger().warn("watch ended: an event could not be converted", "error",
                std::string(converted.status().message()));
  absl::MutexLock l(&s_->mu);
  s_->closed = true;
  s_->ended = true;
  s_->q.clear();
  return std::nullopt;
}

std::optional<WatchEvent> Watch::wait_stored(std::optional<Clock::time_point> until) {
  for (;;) {
    bool want_bookmark = false;
    {
      absl::MutexLock l(&s_->mu);
      if (s_->ended) return std::nullopt;
      if (s_->stopped) {
        s_->ended = true;
        return std::nullopt;
      }
      auto now = Clock::now();
      if (s_->deadline && now >= *s_->deadline) {
        s_->ended = true;
        s_->closed = true;
        return std::nullopt;
      }
      if (!s_->q.empty()) {
        WatchEvent ev = std::move(s_->q.front());
        s_->q.pop_front();
        s_->next_bookmark = now + s_->bookmark_interval;
        s_->delivered++;
        bool close = s_->close_after > 0 && s_->delivered >= s_->close_after;
        if (!close && ev.type != WatchEvent::Type::kError) {
          if (auto st = store_.lock()) close = st->faults.random_close();
        }
        if (close || ev.type == WatchEvent::Type::kError) {
          s_->closed = true;
          s_->q.clear();
        }
        return ev;
      }
      if (s_->closed) {
        s_->ended = true;
        return std::nullopt;
      }
      if (s_->bookmarks && now >= s_->next_bookmark) {
        want_bookmark = true;
      } else {
        if (until && now >= *until) return std::nullopt;
        std::optional<Clock::time_point> wake = until;
        for (auto t :
             {s_->bookmarks ? std::optional(s_->next_bookmark) : std::nullopt, s_->deadline}) {
          if (t) wake = wake ? std::min(*wake, *t) : *t;
        }
        if (wake) {
          s_->cv.WaitWithTimeout(&s_->mu, absl::FromChrono(*wake - Clock::now()));
        } else {
          s_->cv.Wait(&s_->mu);
        }
        continue;
      }
    }
    if (want_bookmark) {
      auto st = store_.lock();
      if (!st) {
        absl::MutexLock l(&s_->mu);
        s_->closed = true;
        continue;
      }
      absl::MutexLock sl(&st->mu);
      absl::MutexLock l(&s_->mu);
      s_->next_bookmark = Clock::now() + s_->bookmark_interval;
      if (!s_->q.empty() || s_->closed || s_->stopped) continue;
      JsonDoc d(rapidjson::kObjectType);
      auto& a = d.GetAllocator();
      d.AddMember("kind", json::make_string(s_->type->kind, a), a);
      d.AddMember("apiVersion", json::make_string(s_->type->api_version(), a), a);
      JsonValue meta(rapidjson::kObjectType);
      meta.AddMember("resourceVersion", json::make_string(std::to_string(st->rv), a), a);
      d.AddMember("metadata", meta, a);
      return WatchEvent{WatchEvent::Type::kBookmark, api::share(std::move(d)), {}};
    }
  }
}

}  // namespace kop::local
