// Server-side apply with managedFields (a compact version of sigs.k8s.io/structured-merge-diff):
// field sets in the FieldsV1 format ("f:name", "k:{...}" for list-map items, "v:..." for set
// items, "." for the item itself), ownership per manager and operation, conflicts (409 with one
// FieldManagerConflict cause per field) unless forced, and removal of fields a manager applied
// before and no longer applies (when nobody else owns them).
#include "apply.h"

#include <absl/strings/str_cat.h>

#include <absl/time/clock.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "kop/api/time.h"
#include "kop/api/yaml.h"
#include "patch.h"

namespace kop::local::apply {

namespace {

// metav1.Time text for now (kop/api/time.h's one formatter).
std::string now_rfc3339() {
  return api::format_time(absl::Now());
}

// A field set as a tree. A node is "owned" when it is a leaf or has `self` (".").
struct FNode {
  bool self = false;
  std::map<std::string, FNode> kids;
  bool leaf() const { return kids.empty(); }
  bool empty() const { return kids.empty() && !self; }
};

// What a path element means, to walk values and print paths.
struct Walker {
  const ResourceType& t;
  // Update sets (a diff of whole objects) also own maps and lists themselves ("."); apply sets
  // own leaves and list items only, as structured-merge-diff records them.
  bool update = false;

  std::string key_repr(const JsonValue& item, const std::vector<std::string>& keys) const {
    // k:{"name":"c"}: the key fields, sorted by name, as compact JSON.
    std::vector<std::string> ks = keys;
    std::sort(ks.begin(), ks.end());
    JsonDoc d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    for (auto& k : ks) {
      if (const JsonValue* v = json::find(item, k)) {
        d.AddMember(json::make_string(k, a), json::copy(*v, a), a);
      } else if (k == "protocol") {
        d.AddMember(json::make_string(k, a), JsonValue("TCP"),
                    a);  // a defaulted list-map key counts with its default
      }
    }
    return "k:" + json::to_json(d);
  }

  // Builds the field set of `v` (at schema path `path`) into `n`.
  void build(const JsonValue& v, const std::string& path, FNode& n) const {
    if (v.IsObject()) {
      for (auto& m : v.GetObject()) {
        if (m.value.IsNull()) continue;  // null is no field (e.g. template creationTimestamp: null)
        std::string k(json::as_string_view(m.name));
        FNode& c = n.kids["f:" + k];
        std::string cp = path.empty() ? k : absl::StrCat(path, ".", k);
        if (m.value.IsObject() && m.value.MemberCount() > 0) {
          if (update && patch::is_map(t, cp)) c.self = true;
          build(m.value, cp, c);
        } else if (m.value.IsArray()) {
          build_list(m.value, cp, c);
        }
      }
    }
  }

  void build_list(const JsonValue& arr, const std::string& path, FNode& n) const {
    patch::ListInfo li = patch::list_info(t, path);
    if (li.kind == patch::ListInfo::Atomic) return;  // owned whole: n stays a leaf
    if (update && !arr.Empty()) n.self = true;
    for (auto& e : arr.GetArray()) {
      if (li.kind == patch::ListInfo::Set) {
        n.kids["v:" + json::to_json(e)];
      } else if (e.IsObject()) {
        FNode& c = n.kids[key_repr(e, li.keys)];
        c.self = true;
        build(e, path + "[]", c);
      }
    }
  }
};

// The parts of an object that managedFields track.
JsonDoc trackable(const JsonValue& obj, bool has_status, bool status_write) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  if (!obj.IsObject()) return d;
  for (auto& m : obj.GetObject()) {
    std::string_view k = json::as_string_view(m.name);
    if (k == "apiVersion" || k == "kind") continue;
    if (has_status && (k == "status") != status_write) continue;
    if (k == "metadata") {
      JsonValue meta(rapidjson::kObjectType);
      for (auto mk : {"labels", "annotations", "finalizers", "ownerReferences"}) {
        if (const JsonValue* v = json::find(m.value, mk))
          meta.AddMember(json::make_string(mk, a), json::copy(*v, a), a);
      }
      if (meta.MemberCount() > 0) d.AddMember("metadata", meta, a);
      continue;
    }
    d.AddMember(json::make_string(k, a), json::copy(m.value, a), a);
  }
  return d;
}

void from_json(const JsonValue& v, FNode& n) {
  if (!v.IsObject()) return;
  for (auto& m : v.GetObject()) {
    std::string k(json::as_string_view(m.name));
    if (k == ".") {
      n.self = true;
      continue;
    }
    from_json(m.value, n.kids[k]);
  }
}

JsonValue to_json(const FNode& n, JsonAlloc& a) {
  JsonValue o(rapidjson::kObjectType);
  if (n.self && !n.kids.empty()) o.AddMember(".", JsonValue(rapidjson::kObjectType), a);
  for (auto& [k, c] : n.kids) o.AddMember(json::make_string(k, a), to_json(c, a), a);
  return o;
}

// Leaves (owned nodes) as paths of element names.
void leaves(const FNode& n, std::vector<std::string>& cur,
            std::vector<std::vector<std::string>>& out) {
  if (n.leaf() || n.self) out.push_back(cur);
  for (auto& [k, c] : n.kids) {
    cur.push_back(k);
    leaves(c, cur, out);
    cur.pop_back();
  }
}

bool is_self(const FNode& n, const std::vector<std::string>& p) {
  const FNode* cur = &n;
  for (auto& e : p) {
    auto it = cur->kids.find(e);
    if (it == cur->kids.end()) return false;
    cur = &it->second;
  }
  return cur->self;
}

bool contains(const FNode& n, const std::vector<std::string>& p, size_t i = 0) {
  if (i == p.size()) return n.leaf() || n.self;
  auto it = n.kids.find(p[i]);
  return it != n.kids.end() && contains(it->second, p, i + 1);
}

// Removes path p from n (the owned node and everything under it).
void erase(FNode& n, const std::vector<std::string>& p, size_t i = 0) {
  if (i == p.size()) return;
  auto it = n.kids.find(p[i]);
  if (it == n.kids.end()) return;
  if (i + 1 == p.size()) {
    n.kids.erase(it);
    return;
  }
  erase(it->second, p, i + 1);
  if (it->second.empty()) n.kids.erase(it);
}

void insert(FNode& n, const std::vector<std::string>& p, bool self = false) {
  FNode* cur = &n;
  for (size_t i = 0; i < p.size(); ++i) {
    cur = &cur->kids[p[i]];
    if (p[i].rfind("k:", 0) == 0 && i + 1 < p.size()) cur->self = true;
  }
  if (self || (!p.empty() && p.back().rfind("k:", 0) == 0)) cur->self = true;
}

// A list-map item's path element: k:{"name":"c"}.
bool is_key(const std::string& element) {
  return element.rfind("k:", 0) == 0;
}

// Whether field element f:x names one of the key fields of item element k:{...}.
bool is_key_field(const std::string& item, const std::string& field) {
  if (field.rfind("f:", 0) != 0) return false;
  auto key = json::parse(std::string_view(item).substr(2));
  return key && key->IsObject() && json::find(*key, std::string_view(field).substr(2)) != nullptr;
}

// Finds the value at a field-set path in an object; nullptr when absent.
const JsonValue* value_at(const JsonValue& obj, const std::vector<std::string>& p) {
  const JsonValue* cur = &obj;
  for (auto& e : p) {
    if (!cur) return nullptr;
    if (e.rfind("f:", 0) == 0) {
      cur = json::find(*cur, std::string_view(e).substr(2));
    } else if (e.rfind("k:", 0) == 0) {
      if (!cur->IsArray()) return nullptr;
      auto key = json::parse(std::string_view(e).substr(2));
      const JsonValue* found = nullptr;
      for (auto& item : cur->GetArray()) {
        bool match = key && key->IsObject();
        if (match) {
          for (auto& km : key->GetObject()) {
            const JsonValue* iv = json::find(item, json::as_string_view(km.name));
            if (!iv && json::as_string_view(km.name) == "protocol" &&
                json::as_string_view(km.value) == "TCP")
              continue;
            match = match && iv && json::equal(*iv, km.value);
          }
        }
        if (match) {
          found = &item;
          break;
        }
      }
      cur = found;
    } else if (e.rfind("v:", 0) == 0) {
      if (!cur->IsArray()) return nullptr;
      auto val = json::parse(std::string_view(e).substr(2));
      const JsonValue* found = nullptr;
      for (auto& item : cur->GetArray()) {
        if (val && json::equal(item, *val)) found = &item;
      }
      cur = found;
    } else {
      return nullptr;
    }
  }
  return cur;
}

// Removes the value at path p from obj (used for fields a manager stopped applying).
void remove_at(JsonValue& obj, const std::vector<std::string>& p) {
  if (p.empty()) return;
  std::vector<std::string> parent(p.begin(), p.end() - 1);
  JsonValue* container = const_cast<JsonValue*>(parent.empty() ? &obj : value_at(obj, parent));
  if (!container) return;
  const std::string& last = p.back();
  if (last.rfind("f:", 0) == 0) {
    json::remove_member(*container, std::string_view(last).substr(2));
  } else if (container->IsArray()) {
    JsonValue* target = const_cast<JsonValue*>(value_at(*container, {last}));
    for (auto it = container->Begin(); it != container->End(); ++it) {
      if (&*it == target) {
        container->Erase(it);
        break;
      }
    }
  }
}

// "f:spec","k:{"name":"c"}","f:image" -> .spec[name="c"].image (fieldpath.Path.String()).
std::string path_string(const std::vector<std::string>& p) {
  std::string s;
  for (auto& e : p) {
    if (e.rfind("f:", 0) == 0) {
      s += "." + e.substr(2);
    } else if (e.rfind("k:", 0) == 0) {
      auto key = json::parse(std::string_view(e).substr(2));
      s += "[";
      bool first = true;
      if (key && key->IsObject()) {
        for (auto& m : key->GetObject()) {
          if (!first) s += ",";
          first = false;
          s += std::string(json::as_string_view(m.name)) + "=" + json::to_json(m.value);
        }
      }
      s += "]";
    } else if (e.rfind("v:", 0) == 0) {
      s += "[=" + e.substr(2) + "]";
    }
  }
  return s;
}

struct Entry {
  std::string manager, operation, api_version, time;
  FNode set;
};

std::vector<Entry> read_entries(const JsonValue* obj) {
  std::vector<Entry> out;
  const JsonValue* mf = obj ? json::path(*obj, {"metadata", "managedFields"}) : nullptr;
  if (!mf || !mf->IsArray()) return out;
  for (auto& e : mf->GetArray()) {
    Entry en;
    en.manager = std::string(json::string_or_empty(&e, "manager"));
    en.operation = std::string(json::string_or_empty(&e, "operation"));
    en.api_version = std::string(json::string_or_empty(&e, "apiVersion"));
    en.time = std::string(json::string_or_empty(&e, "time"));
    if (const JsonValue* f = json::find(e, "fieldsV1")) from_json(*f, en.set);
    out.push_back(std::move(en));
  }
  return out;
}

void write_entries(JsonDoc& obj, const std::vector<Entry>& es) {
  auto& a = obj.GetAllocator();
  JsonValue& meta = json::ensure_object(obj, "metadata", a);
  JsonValue arr(rapidjson::kArrayType);
  for (auto& e : es) {
    if (e.set.empty()) continue;
    JsonValue o(rapidjson::kObjectType);
    o.AddMember("manager", json::make_string(e.manager, a), a);
    o.AddMember("operation", json::make_string(e.operation, a), a);
    o.AddMember("apiVersion", json::make_string(e.api_version, a), a);
    if (!e.time.empty()) o.AddMember("time", json::make_string(e.time, a), a);
    o.AddMember("fieldsType", "FieldsV1", a);
    o.AddMember("fieldsV1", to_json(e.set, a), a);
    arr.PushBack(o, a);
  }
  if (arr.Empty()) {
    json::remove_member(meta, "managedFields");
  } else {
    json::set_member(meta, "managedFields", std::move(arr), a);
  }
}

Entry& entry_for(std::vector<Entry>& es, std::string_view manager, std::string_view op,
                 const std::string& av) {
  for (auto& e : es) {
    if (e.manager == manager && e.operation == op) return e;
  }
  es.push_back({std::string(manager), std::string(op), av, "", {}});
  return es.back();
}

// Merges applied config `cfg` into `live` with list semantics from the schema.
void merge_applied(const ResourceType& t, JsonValue& live, const JsonValue& cfg,
                   const std::string& path, JsonAlloc& a) {
  if (!cfg.IsObject()) {
    live.CopyFrom(cfg, a);
    return;
  }
  if (!live.IsObject()) live.SetObject();
  for (auto& m : cfg.GetObject()) {
    std::string k(json::as_string_view(m.name));
    std::string cp = path.empty() ? k : absl::StrCat(path, ".", k);
    JsonValue* cur = json::find(live, k);
    if (m.value.IsObject()) {
      if (!cur || !cur->IsObject()) {
        json::set_member(live, k, JsonValue(rapidjson::kObjectType), a);
        cur = json::find(live, k);
      }
      merge_applied(t, *cur, m.value, cp, a);
    } else if (m.value.IsArray()) {
      patch::ListInfo li = patch::list_info(t, cp);
      if (li.kind == patch::ListInfo::Atomic || !cur || !cur->IsArray()) {
        json::set_member(live, k, json::copy(m.value, a), a);
        continue;
      }
      for (auto& e : m.value.GetArray()) {
        bool found = false;
        for (auto& o : cur->GetArray()) {
          if (li.kind == patch::ListInfo::Set) {
            found = found || json::equal(o, e);
          } else if (!found) {
            bool match = e.IsObject() && o.IsObject();
            for (auto& key : li.keys) {
              const JsonValue* ev = json::find(e, key);
              const JsonValue* ov = json::find(o, key);
              if (key == "protocol" && (!ev || !ov)) {
                // protocol defaults to TCP: a missing one matches TCP.
                std::string_view es = ev ? json::as_string_view(*ev) : "TCP",
                                 os = ov ? json::as_string_view(*ov) : "TCP";
                match = match && es == os;
                continue;
              }
              match = match && ev && ov && json::equal(*ev, *ov);
            }
            if (match) {
              merge_applied(t, o, e, cp + "[]", a);
              found = true;
            }
          }
        }
        if (!found) cur->PushBack(json::copy(e, a), a);
      }
    } else {
      json::set_member(live, k, json::copy(m.value, a), a);
    }
  }
}

}  // namespace

absl::StatusOr<JsonDoc> apply(const ResourceType& t, const JsonValue* live, std::string_view body,
                              std::string_view manager, bool force, bool status) {
  auto parsed = api::yaml_first_document(body, "the applied configuration");
  if (!parsed.ok()) {
    return client::bad_request("error converting YAML to JSON: " +
                               std::string(parsed.status().message()));
  }
  JsonDoc cfg = *std::move(parsed);
  if (!cfg.IsObject())
    return client::bad_request("error decoding YAML: the applied configuration is not an object");
  std::string_view av = json::string_or_empty(&cfg, "apiVersion");
  std::string_view kind = json::string_or_empty(&cfg, "kind");
  if (kind.empty())
    return client::bad_request("Object 'Kind' is missing in '" + json::to_json(cfg) + "'");
  if (av != t.api_version() || kind != t.kind) {
    return client::bad_request("the API version in the data (" + std::string(av) +
                               ") does not match the expected API version (" + t.api_version() +
                               ")");
  }
  if (auto* mf = json::path(cfg, {"metadata", "managedFields"});
      mf && !(mf->IsArray() && mf->Empty())) {
    return client::bad_request("metadata.managedFields must be nil");
  }
  Walker w{t};
  JsonDoc applied_track = trackable(cfg, t.has_status, status);
  FNode new_set;
  w.build(applied_track, "", new_set);

  std::vector<Entry> es = read_entries(live);
  std::string api_version = t.api_version();
  Entry* mine = nullptr;
  for (auto& e : es) {
    if (e.manager == manager && e.operation == "Apply") mine = &e;
  }
  FNode old_set = mine ? mine->set : FNode{};

  std::vector<std::vector<std::string>> new_leaves;
  std::vector<std::string> cur;
  leaves(new_set, cur, new_leaves);

  JsonDoc out = live ? json::clone(*live) : JsonDoc(rapidjson::kObjectType);
  if (!out.IsObject()) out.SetObject();
  // Conflicts: another manager owns a field this apply sets to a different value.
  std::vector<client::StatusCause> conflicts;
  std::vector<std::pair<std::string, std::vector<std::string>>> conflict_list;
  if (live) {
    for (auto& e : es) {
      if (e.manager == manager && e.operation == "Apply") continue;
      for (auto& p : new_leaves) {
        if (!contains(e.set, p)) continue;
        // Owning a map, list or list item itself ("."): shared, never a conflict by itself.
        if (is_self(new_set, p)) continue;
        const JsonValue* lv = value_at(*live, p);
        const JsonValue* cv = value_at(cfg, p);
        bool same = lv && cv && (json::equal(*lv, *cv) || (lv->IsObject() && cv->IsObject()));
        if (same) continue;
        std::string who = e.operation == "Update"
                              ? field::quote(e.manager) + " using " + e.api_version +
                                    (e.time.empty() ? "" : " at " + e.time)
                              : field::quote(e.manager);
        conflicts.push_back({"FieldManagerConflict", "conflict with " + who, path_string(p)});
        conflict_list.emplace_back(who, p);
      }
    }
  }
  if (!conflicts.empty() && !force) {
    client::ApiStatus s;
    s.code = 409;
    s.reason = std::string(client::reason::kConflict);
    if (conflicts.size() == 1) {
      s.message =
          "Apply failed with 1 conflict: " + conflicts[0].message + ": " + conflicts[0].field;
    } else {
      std::map<std::string, std::vector<std::string>> by;
      for (auto& [who, p] : conflict_list) by[who].push_back(path_string(p));
      std::string msg;
      for (auto& [who, ps] : by) {
        if (!msg.empty()) msg += "\n";
        msg += "conflicts with " + who + ":";
        for (auto& p : ps) msg += "\n- " + p;
      }
      s.message = "Apply failed with " + std::to_string(conflicts.size()) + " conflicts: " + msg;
    }
    s.details.emplace();
    s.details->causes = std::move(conflicts);
    return client::to_status(s);
  }
  // Merge the configuration in.
  merge_applied(t, out, cfg, "", out.GetAllocator());
  // Fields this manager applied before and no longer applies: removed unless someone else owns
  // them.
  std::vector<std::vector<std::string>> old_leaves;
  leaves(old_set, cur, old_leaves);
  auto owned_by_other = [&](const std::vector<std::string>& p) {
    return std::any_of(es.begin(), es.end(), [&](const Entry& e) {
      return !(e.manager == manager && e.operation == "Apply") && contains(e.set, p);
    });
  };
  // A list-map item no longer applied and owned by nobody else goes whole, as the API server
  // removes it: removing its fields one by one would drop its key fields first, after which the
  // item can no longer be found and a keyless remnant stays behind.
  std::vector<std::vector<std::string>> items_gone;
  for (auto& p : old_leaves) {
    if (p.empty() || !is_key(p.back()) || contains(new_set, p) || owned_by_other(p)) continue;
    remove_at(out, p);
    items_gone.push_back(p);
  }
  auto under_gone_item = [&](const std::vector<std::string>& p) {
    return std::any_of(items_gone.begin(), items_gone.end(), [&](const auto& item) {
      return p.size() >= item.size() && std::equal(item.begin(), item.end(), p.begin());
    });
  };
  std::stable_sort(old_leaves.begin(), old_leaves.end(),
                   [](auto& x, auto& y) { return x.size() > y.size(); });
  for (auto& p : old_leaves) {
    if (contains(new_set, p) || under_gone_item(p)) continue;
    // A kept item keeps its key fields (the item is found by them).
    if (p.size() >= 2 && is_key(p[p.size() - 2]) && is_key_field(p[p.size() - 2], p.back()))
      continue;
    if (is_self(old_set, p)) {
      // The map/list/item itself: removed only once nothing is left in it.
      const JsonValue* v = value_at(out, p);
      if (v && ((v->IsObject() && v->MemberCount() > 0) || (v->IsArray() && !v->Empty()))) {
        bool only_keys = false;
        if (v->IsObject() && !p.empty() && p.back().rfind("k:", 0) == 0) {
          // A list item keeps its key fields; it is empty when nothing else is left.
          auto key = json::parse(std::string_view(p.back()).substr(2));
          only_keys = key && key->IsObject() && key->MemberCount() == v->MemberCount();
        }
        if (!only_keys) continue;
      }
    }
    if (!owned_by_other(p)) remove_at(out, p);
  }
  // Ownership: this manager's Apply set is exactly what it applied; forced conflicts move.
  for (auto& e : es) {
    if (e.manager == manager && e.operation == "Apply") continue;
    for (auto& [who, p] : conflict_list) {
      (void)who;
      erase(e.set, p);
    }
  }
  Entry& me = entry_for(es, manager, "Apply", api_version);
  JsonDoc scratch;
  bool same_set = json::equal(to_json(me.set, scratch.GetAllocator()),
                              to_json(new_set, scratch.GetAllocator()));
  me.set = new_set;
  me.api_version = api_version;
  if (!same_set || me.time.empty()) me.time = now_rfc3339();
  // Keep the name/namespace of the config; the store checks them against the URL.
  write_entries(out, es);
  return out;
}

void track_update(const ResourceType& t, const JsonValue* old, JsonDoc& obj,
                  std::string_view manager, std::string_view operation, const JsonValue* request) {
  if (manager.empty() || operation == "Apply") return;
  // A request may reset managedFields by sending [] (then nothing is tracked for it).
  if (const JsonValue* mf = json::path(obj, {"metadata", "managedFields"});
      mf && mf->IsArray() && mf->Empty()) {
    json::remove_member(*json::find(obj, "metadata"), "managedFields");
    return;
  }
  Walker w{t, true};
  // Compare status too: a status write is tracked like any other update.
  JsonDoc now_t = trackable(request ? *request : obj, false, false);
  JsonDoc old_t = old ? trackable(*old, false, false) : JsonDoc(rapidjson::kObjectType);
  FNode now_set, old_set;
  w.build(now_t, "", now_set);
  w.build(old_t, "", old_set);
  std::vector<std::vector<std::string>> now_leaves, old_leaves;
  std::vector<std::string> cur;
  leaves(now_set, cur, now_leaves);
  leaves(old_set, cur, old_leaves);
  std::vector<std::vector<std::string>> changed, removed;
  for (auto& p : now_leaves) {
    const JsonValue* nv = value_at(now_t, p);
    const JsonValue* ov = value_at(old_t, p);
    bool container = nv && (nv->IsObject() && nv->MemberCount() > 0);
    if (!ov || (!container && !json::equal(*nv, *ov))) changed.push_back(p);
  }
  for (auto& p : old_leaves) {
    if (!contains(now_set, p)) removed.push_back(p);
  }
  std::vector<Entry> es = read_entries(old ? old : nullptr);
  // managedFields sent in the request replace the stored ones.
  static const JsonValue kNull;
  const JsonValue* sent = json::path(obj, {"metadata", "managedFields"});
  const JsonValue* stored = old ? json::path(*old, {"metadata", "managedFields"}) : nullptr;
  if (sent && !json::equal(*sent, stored ? *stored : kNull)) es = read_entries(&obj);
  if (changed.empty() && removed.empty()) {
    write_entries(obj, es);
    return;
  }
  for (auto& e : es) {
    for (auto& p : changed) {
      if (!(e.manager == manager && e.operation == operation)) erase(e.set, p);
    }
    for (auto& p : removed) erase(e.set, p);
  }
  Entry& me = entry_for(es, manager, operation, t.api_version());
  for (auto& p : changed) insert(me.set, p, is_self(now_set, p));
  me.time = now_rfc3339();
  me.api_version = t.api_version();
  write_entries(obj, es);
}

}  // namespace kop::local::apply
