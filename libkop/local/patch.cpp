#include "patch.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kop::local::patch {

void merge_into(JsonValue& target, const JsonValue& p, JsonAlloc& a) {
  if (!p.IsObject()) {
    target.CopyFrom(p, a);
    return;
  }
  if (!target.IsObject()) target.SetObject();
  for (auto& m : p.GetObject()) {
    std::string_view k = json::as_string_view(m.name);
    if (m.value.IsNull()) {
      json::remove_member(target, k);
      continue;
    }
    JsonValue* cur = json::find(target, k);
    if (cur && m.value.IsObject()) {
      merge_into(*cur, m.value, a);
    } else if (m.value.IsObject()) {
      JsonValue fresh(rapidjson::kObjectType);
      merge_into(fresh, m.value, a);
      json::set_member(target, k, std::move(fresh), a);
    } else {
      json::set_member(target, k, json::copy(m.value, a), a);
    }
  }
}

absl::StatusOr<JsonDoc> merge(const JsonValue& orig, std::string_view text) {
  std::string err;
  auto p = json::parse(text, &err);
  if (!p) return client::bad_request("error decoding patch: " + err);
  if (!p->IsObject()) {
    // RFC 7386 would replace the document; the API server refuses a non-object patch.
    return client::bad_request("Invalid JSON Patch");
  }
  JsonDoc out = json::clone(orig);
  merge_into(out, *p, out.GetAllocator());
  return out;
}

namespace {

// RFC 6901 pointer tokens.
bool split_pointer(std::string_view ptr, std::vector<std::string>& out) {
  out.clear();
  if (ptr.empty()) return true;
  if (ptr[0] != '/') return false;
  size_t i = 1;
  std::string cur;
  for (; i <= ptr.size(); ++i) {
    if (i == ptr.size() || ptr[i] == '/') {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    if (ptr[i] == '~' && i + 1 < ptr.size() && (ptr[i + 1] == '0' || ptr[i + 1] == '1')) {
      cur += ptr[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      cur += ptr[i];
    }
  }
  return true;
}

bool parse_index(const std::string& tok, size_t& idx) {
  if (tok.empty() || (tok.size() > 1 && tok[0] == '0')) return false;
  idx = 0;
  for (char c : tok) {
    if (c < '0' || c > '9') return false;
    idx = idx * 10 + static_cast<size_t>(c - '0');
  }
  return true;
}

JsonValue* resolve(JsonValue& root, const std::vector<std::string>& toks, size_t n) {
  JsonValue* cur = &root;
  for (size_t i = 0; i < n; ++i) {
    if (cur->IsObject()) {
      cur = json::find(*cur, toks[i]);
    } else if (cur->IsArray()) {
      size_t idx;
      if (!parse_index(toks[i], idx) || idx >= cur->Size()) return nullptr;
      cur = &(*cur)[static_cast<rapidjson::SizeType>(idx)];
    } else {
      return nullptr;
    }
    if (!cur) return nullptr;
  }
  return cur;
}

// Removes the value at toks and returns it through `out`.
std::optional<std::string> remove_at(JsonValue& root, const std::vector<std::string>& toks,
                                     JsonValue* out, const std::string& path) {
  if (toks.empty()) return "unable to remove the root";
  JsonValue* parent = resolve(root, toks, toks.size() - 1);
  if (!parent) return "doc is missing path: \"" + path + "\"";
  const std::string& last = toks.back();
  if (parent->IsObject()) {
    auto it = parent->FindMember(JsonValue(json::ref(last)));
    if (it == parent->MemberEnd())
      return "Unable to remove nonexistent key: " + last + ": missing value";
    if (out) *out = std::move(it->value);
    parent->EraseMember(it);
    return std::nullopt;
  }
  if (parent->IsArray()) {
    size_t idx;
    if (!parse_index(last, idx) || idx >= parent->Size()) {
      return "Unable to access invalid index: " + last + ": invalid index referenced";
    }
    if (out) *out = std::move((*parent)[static_cast<rapidjson::SizeType>(idx)]);
    parent->Erase(parent->Begin() + idx);
    return std::nullopt;
  }
  return "doc is missing path: \"" + path + "\"";
}

std::optional<std::string> add_at(JsonValue& root, const std::vector<std::string>& toks,
                                  JsonValue value, JsonAlloc& a, const std::string& path,
                                  bool replace) {
  if (toks.empty()) {
    root = std::move(value);
    return std::nullopt;
  }
  JsonValue* parent = resolve(root, toks, toks.size() - 1);
  if (!parent) return "doc is missing path: \"" + path + "\": missing value";
  const std::string& last = toks.back();
  if (parent->IsObject()) {
    if (replace && !json::find(*parent, last))
      return "doc is missing key: " + path + ": missing value";
    json::set_member(*parent, last, std::move(value), a);
    return std::nullopt;
  }
  if (parent->IsArray()) {
    if (!replace && last == "-") {
      parent->PushBack(std::move(value), a);
      return std::nullopt;
    }
    size_t idx;
    if (!parse_index(last, idx) || idx > parent->Size() || (replace && idx >= parent->Size())) {
      return "Unable to access invalid index: " + last + ": invalid index referenced";
    }
    if (replace) {
      (*parent)[static_cast<rapidjson::SizeType>(idx)] = std::move(value);
    } else {
      parent->PushBack(JsonValue(), a);
      for (size_t i = parent->Size() - 1; i > idx; --i) {
        (*parent)[static_cast<rapidjson::SizeType>(i)] =
            std::move((*parent)[static_cast<rapidjson::SizeType>(i - 1)]);
      }
      (*parent)[static_cast<rapidjson::SizeType>(idx)] = std::move(value);
    }
    return std::nullopt;
  }
  return "doc is missing path: \"" + path + "\": missing value";
}

}  // namespace

absl::StatusOr<JsonDoc> json_patch(const JsonValue& orig, std::string_view text) {
  std::string err;
  auto p = json::parse(text, &err);
  if (!p) return client::bad_request("error decoding patch: " + err);
  if (!p->IsArray()) {
    return client::bad_request("json: cannot unmarshal " + std::string(json::type_name(*p)) +
                               " into Go value of type jsonpatch.Patch");
  }
  JsonDoc doc = json::clone(orig);
  auto& a = doc.GetAllocator();
  std::vector<std::string> toks, from_toks;
  for (auto& op : p->GetArray()) {
    std::string_view kind = json::string_or_empty(&op, "op");
    std::string path(json::string_or_empty(&op, "path"));
    if (!json::find(op, "path") || !split_pointer(path, toks)) {
      return errors::patch_failed();
    }
    const JsonValue* value = json::find(op, "value");
    std::optional<std::string> e;
    if (kind == "add" || kind == "replace") {
      if (!value) return errors::patch_failed();
      e = add_at(doc, toks, json::copy(*value, a), a, path, kind == "replace");
    } else if (kind == "remove") {
      e = remove_at(doc, toks, nullptr, path);
    } else if (kind == "test") {
      JsonValue* cur = resolve(doc, toks, toks.size());
      bool ok = cur ? (value && json::equal(*cur, *value)) : (!value || value->IsNull());
      if (!ok) e = "testing value " + path + " failed: test failed";
    } else if (kind == "move" || kind == "copy") {
      std::string from(json::string_or_empty(&op, "from"));
      if (!split_pointer(from, from_toks)) return errors::patch_failed();
      JsonValue v;
      if (kind == "move") {
        e = remove_at(doc, from_toks, &v, from);
      } else {
        JsonValue* src = resolve(doc, from_toks, from_toks.size());
        if (!src) {
          e = "doc is missing from path: \"" + from + "\": missing value";
        } else {
          v.CopyFrom(*src, a);
        }
      }
      if (!e) e = add_at(doc, toks, std::move(v), a, path, false);
    } else {
      return errors::patch_failed();
    }
    if (e) return errors::patch_failed();
  }
  return doc;
}

}  // namespace kop::local::patch

// ------------------------------------------------------------------------------------------------
// Strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch), driven by the patchStrategy
// and patchMergeKey struct tags of the built-in kinds kop uses.

namespace kop::local::patch {

namespace {

struct ListStrategy {
  enum Kind { Replace, MergeByKey, MergePrimitive } kind = Replace;
  std::string key;
};

using StrategyTable = std::map<std::string, ListStrategy>;

void add_pod_spec(StrategyTable& t, const std::string& p) {
  auto mk = [](std::string k) { return ListStrategy{ListStrategy::MergeByKey, std::move(k)}; };
  t[p + ".volumes"] = mk("name");
  t[p + ".imagePullSecrets"] = mk("name");
  t[p + ".hostAliases"] = mk("ip");
  t[p + ".topologySpreadConstraints"] = mk("topologyKey");
  for (auto c : {".containers", ".initContainers", ".ephemeralContainers"}) {
    std::string cp = p + c;
    t[cp] = mk("name");
    t[cp + "[].ports"] = mk("containerPort");
    t[cp + "[].env"] = mk("name");
    t[cp + "[].volumeMounts"] = mk("mountPath");
    t[cp + "[].volumeDevices"] = mk("devicePath");
  }
}

StrategyTable table_for(const ResourceType& t) {
  StrategyTable m;
  auto mk = [](std::string k) { return ListStrategy{ListStrategy::MergeByKey, std::move(k)}; };
  m["metadata.finalizers"] = ListStrategy{ListStrategy::MergePrimitive, ""};
  m["metadata.ownerReferences"] = mk("uid");
  if (t.group.empty() && t.resource == "pods") {
    add_pod_spec(m, "spec");
    m["status.conditions"] = mk("type");
    m["status.podIPs"] = mk("ip");
  } else if (t.group == "apps" && t.resource == "deployments") {
    add_pod_spec(m, "spec.template.spec");
    m["status.conditions"] = mk("type");
  } else if (t.group.empty() && t.resource == "services") {
    m["spec.ports"] = mk("port");
    m["status.conditions"] = mk("type");
  } else if (t.group.empty() && t.resource == "serviceaccounts") {
    m["secrets"] = mk("name");
  } else if ((t.group.empty() && t.resource == "namespaces") || t.group == "apiextensions.k8s.io") {
    m["status.conditions"] = mk("type");
  }
  // Everything else (Ingress rules and tls, EndpointSlice endpoints and ports, Endpoints
  // subsets, ...) is atomic: a patch list replaces the stored one.
  return m;
}

bool is_directive_key(std::string_view k) {
  return k == "$patch" || k == "$retainKeys" || k.rfind("$setElementOrder/", 0) == 0 ||
         k.rfind("$deleteFromPrimitiveList/", 0) == 0;
}

void strip_directives(JsonValue& v) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd();) {
      if (is_directive_key(json::as_string_view(it->name))) {
        it = v.EraseMember(it);
      } else {
        strip_directives(it->value);
        ++it;
      }
    }
  } else if (v.IsArray()) {
    for (auto& e : v.GetArray()) strip_directives(e);
  }
}

struct Smp {
  const StrategyTable& table;
  JsonAlloc& a;
  std::optional<std::string> error;

  ListStrategy strategy(const std::string& path) const {
    auto it = table.find(path);
    return it == table.end() ? ListStrategy{} : it->second;
  }

  void merge_list(JsonValue& orig, const JsonValue& patch, const std::string& path) {
    ListStrategy st = strategy(path);
    // A {"$patch": "replace"} element replaces the whole list with the other elements.
    bool replace = false;
    for (auto& e : patch.GetArray()) {
      if (e.IsObject() && json::string_or_empty(&e, "$patch") == "replace") replace = true;
    }
    if (st.kind == ListStrategy::Replace || replace || !orig.IsArray()) {
      JsonValue out(rapidjson::kArrayType);
      for (auto& e : patch.GetArray()) {
        if (e.IsObject() && !json::string_or_empty(&e, "$patch").empty() && e.MemberCount() == 1)
          continue;
        JsonValue c = json::copy(e, a);
        strip_directives(c);
        out.PushBack(std::move(c), a);
      }
      orig = std::move(out);
      return;
    }
    if (st.kind == ListStrategy::MergePrimitive) {
      for (auto& e : patch.GetArray()) {
        bool found = false;
        for (auto& o : orig.GetArray()) found = found || json::equal(o, e);
        if (!found) orig.PushBack(json::copy(e, a), a);
      }
      return;
    }
    // As strategicpatch does: the patch's elements (merged with their originals) in patch order,
    // the originals the patch does not mention in their order, then the two merged by original
    // position (mergeSortedSlice: an element without one, i.e. new, goes first).
    struct Item {
      JsonValue v;
      long pos;  // index in the original list, -1 for new elements
    };
    std::vector<Item> patched, server_only;
    std::vector<bool> touched(orig.Size(), false);
    for (auto& e : patch.GetArray()) {
      if (!e.IsObject()) {
        error = "unexpected non-object element in a list merged by " + st.key;
        return;
      }
      const JsonValue* kv = json::find(e, st.key);
      if (!kv) {
        error = "map: " + json::to_json(e) + " does not contain declared merge key: " + st.key;
        return;
      }
      long idx = -1;
      for (rapidjson::SizeType i = 0; i < orig.Size(); ++i) {
        const JsonValue* ok = json::find(orig[i], st.key);
        if (ok && json::equal(*ok, *kv)) {
          idx = long(i);
          break;
        }
      }
      if (idx >= 0) touched[size_t(idx)] = true;
      if (json::string_or_empty(&e, "$patch") == "delete") continue;
      JsonValue c(rapidjson::kObjectType);
      if (idx >= 0) c = std::move(orig[rapidjson::SizeType(idx)]);
      merge_map(c, e, path + "[]");
      patched.push_back({std::move(c), idx});
    }
    for (rapidjson::SizeType i = 0; i < orig.Size(); ++i) {
      if (!touched[i]) server_only.push_back({std::move(orig[i]), long(i)});
    }
    JsonValue out(rapidjson::kArrayType);
    size_t i = 0, j = 0;
    while (i < server_only.size() || j < patched.size()) {
      bool take_left = j >= patched.size() || (i < server_only.size() && patched[j].pos >= 0 &&
                                               server_only[i].pos < patched[j].pos);
      out.PushBack(std::move(take_left ? server_only[i++].v : patched[j++].v), a);
    }
    orig = std::move(out);
  }

  void order(JsonValue& list, const JsonValue& order_by, const std::string& path) {
    if (!list.IsArray() || !order_by.IsArray()) return;
    ListStrategy st = strategy(path);
    JsonValue out(rapidjson::kArrayType);
    std::vector<bool> used(list.Size(), false);
    for (auto& o : order_by.GetArray()) {
      for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
        if (used[i]) continue;
        bool match = st.kind == ListStrategy::MergeByKey
                         ? (json::find(list[i], st.key) && json::find(o, st.key) &&
                            json::equal(*json::find(list[i], st.key), *json::find(o, st.key)))
                         : json::equal(list[i], o);
        if (match) {
          used[i] = true;
          out.PushBack(std::move(list[i]), a);
          break;
        }
      }
    }
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      if (!used[i]) out.PushBack(std::move(list[i]), a);
    }
    list = std::move(out);
  }

  void merge_map(JsonValue& orig, const JsonValue& patch, const std::string& path) {
    if (!orig.IsObject()) orig.SetObject();
    std::string_view directive = json::string_or_empty(&patch, "$patch");
    if (directive == "replace") {
      JsonValue c = json::copy(patch, a);
      strip_directives(c);
      orig = std::move(c);
      return;
    }
    if (directive == "delete") {
      orig.SetObject();
      return;
    }
    for (auto& m : patch.GetObject()) {
      std::string_view k = json::as_string_view(m.name);
      if (is_directive_key(k)) continue;
      std::string child = path.empty() ? std::string(k) : path + "." + std::string(k);
      if (m.value.IsNull()) {
        json::remove_member(orig, k);
        continue;
      }
      JsonValue* cur = json::find(orig, k);
      if (m.value.IsObject()) {
        if (json::string_or_empty(&m.value, "$patch") == "delete") {
          json::remove_member(orig, k);
          continue;
        }
        if (!cur || !cur->IsObject()) {
          json::set_member(orig, k, JsonValue(rapidjson::kObjectType), a);
          cur = json::find(orig, k);
        }
        merge_map(*cur, m.value, child);
      } else if (m.value.IsArray()) {
        if (!cur) {
          json::set_member(orig, k, JsonValue(rapidjson::kArrayType), a);
          cur = json::find(orig, k);
        }
        merge_list(*cur, m.value, child);
      } else {
        json::set_member(orig, k, json::copy(m.value, a), a);
      }
      if (error) return;
    }
    for (auto& m : patch.GetObject()) {
      std::string_view k = json::as_string_view(m.name);
      if (k.rfind("$deleteFromPrimitiveList/", 0) == 0 && m.value.IsArray()) {
        JsonValue* list = json::find(orig, k.substr(25));
        if (list && list->IsArray()) {
          for (auto& del : m.value.GetArray()) {
            for (auto it = list->Begin(); it != list->End();) {
              it = json::equal(*it, del) ? list->Erase(it) : it + 1;
            }
          }
        }
      } else if (k.rfind("$setElementOrder/", 0) == 0) {
        std::string_view field = k.substr(17);
        if (JsonValue* list = json::find(orig, field)) {
          order(*list, m.value,
                path.empty() ? std::string(field) : path + "." + std::string(field));
        }
      }
    }
    if (const JsonValue* retain = json::find(patch, "$retainKeys"); retain && retain->IsArray()) {
      for (auto it = orig.MemberBegin(); it != orig.MemberEnd();) {
        bool keep = false;
        for (auto& r : retain->GetArray())
          keep = keep || json::as_string_view(r) == json::as_string_view(it->name);
        it = keep ? it + 1 : orig.EraseMember(it);
      }
    }
  }
};

}  // namespace

absl::StatusOr<JsonDoc> strategic(const ResourceType& t, const JsonValue& orig,
                                  std::string_view text) {
  if (t.custom) {
    return errors::unsupported_media_type(
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
  }
  std::string err;
  auto p = json::parse(text, &err);
  if (!p) return client::bad_request("error decoding patch: " + err);
  if (!p->IsObject())
    return client::bad_request("unable to find api field in struct for the patch");
  StrategyTable table = table_for(t);
  JsonDoc out = json::clone(orig);
  Smp smp{table, out.GetAllocator(), std::nullopt};
  smp.merge_map(out, *p, "");
  if (smp.error) return client::bad_request(*smp.error);
  return out;
}

namespace {

// The CRD schema node at a dotted field path ("spec.rules[].http"; "[]" steps into items),
// following additionalProperties where no property is named; null when the schema has none.
const JsonValue* schema_at(const api::Object& schema, const std::string& path) {
  const JsonValue* s = &schema.doc();
  size_t start = 0;
  while (s && start < path.size()) {
    size_t dot = path.find('.', start);
    std::string seg =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool item = seg.size() > 2 && seg.compare(seg.size() - 2, 2, "[]") == 0;
    if (item) seg.resize(seg.size() - 2);
    const JsonValue* props = json::find(*s, "properties");
    const JsonValue* next = props ? json::find(*props, seg) : nullptr;
    if (!next) {
      const JsonValue* ap = json::find(*s, "additionalProperties");
      next = ap && ap->IsObject() ? ap : nullptr;
    }
    s = next;
    if (s && item) s = json::find(*s, "items");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return s;
}

}  // namespace

ListInfo list_info(const ResourceType& t, const std::string& path) {
  if (t.custom && t.schema) {
    const JsonValue* s = schema_at(*t.schema, path);
    ListInfo li;
    if (!s) return li;
    std::string_view lt = json::string_or_empty(&*s, "x-kubernetes-list-type");
    if (lt == "set") li.kind = ListInfo::Set;
    if (lt == "map") {
      li.kind = ListInfo::Map;
      if (const JsonValue* ks = json::find(*s, "x-kubernetes-list-map-keys"); ks && ks->IsArray()) {
        for (auto& k : ks->GetArray()) li.keys.emplace_back(json::as_string_view(k));
      }
    }
    return li;
  }
  StrategyTable table = table_for(t);
  auto it = table.find(path);
  ListInfo li;
  if (it == table.end()) return li;
  if (it->second.kind == ListStrategy::MergePrimitive) li.kind = ListInfo::Set;
  if (it->second.kind == ListStrategy::MergeByKey) {
    li.kind = ListInfo::Map;
    li.keys.push_back(it->second.key);
    // The OpenAPI list-map keys are wider than the patchMergeKey for ports.
    if (it->second.key == "containerPort" || (it->second.key == "port" && path == "spec.ports"))
      li.keys.emplace_back("protocol");
  }
  return li;
}

bool is_map(const ResourceType& t, const std::string& path) {
  if (t.custom && t.schema) {
    const JsonValue* s = schema_at(*t.schema, path);
    if (s) {
      const JsonValue* ap = json::find(*s, "additionalProperties");
      return ap && (ap->IsObject() || ap->IsTrue()) && !json::find(*s, "properties");
    }
  }
  std::string last = path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
  static const char* kMaps[] = {"labels",     "annotations", "data",         "binaryData",
                                "stringData", "matchLabels", "nodeSelector", "limits",
                                "requests",   "capacity",    "allocatable"};
  for (auto m : kMaps) {
    if (last == m) return true;
  }
  return t.group.empty() && t.resource == "services" && path == "spec.selector";
}

}  // namespace kop::local::patch
