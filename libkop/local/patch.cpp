#include "patch.h"

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
    std::string_view k = json::view(m.name);
    if (m.value.IsNull()) {
      json::erase(target, k);
      continue;
    }
    JsonValue* cur = json::get(target, k);
    if (cur && m.value.IsObject()) {
      merge_into(*cur, m.value, a);
    } else if (m.value.IsObject()) {
      JsonValue fresh(rapidjson::kObjectType);
      merge_into(fresh, m.value, a);
      json::set(target, k, std::move(fresh), a);
    } else {
      json::set(target, k, json::copy(m.value, a), a);
    }
  }
}

Result<JsonDoc> merge(const JsonValue& orig, std::string_view text) {
  std::string err;
  auto p = json::parse(text, &err);
  if (!p) return errors::bad_request("error decoding patch: " + err);
  if (!p->IsObject()) {
    // RFC 7386 would replace the document; the API server refuses a non-object patch.
    return errors::bad_request("Invalid JSON Patch");
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
      cur = json::get(*cur, toks[i]);
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

ApiStatus patch_error(std::string msg) {
  ApiStatus s;
  s.code = 422;
  s.reason = "Invalid";
  s.message = std::move(msg);
  return s;
}

// Removes the value at toks and returns it through `out`.
std::optional<std::string> remove_at(JsonValue& root, const std::vector<std::string>& toks, JsonValue* out,
                                     const std::string& path) {
  if (toks.empty()) return "unable to remove the root";
  JsonValue* parent = resolve(root, toks, toks.size() - 1);
  if (!parent) return "doc is missing path: \"" + path + "\"";
  const std::string& last = toks.back();
  if (parent->IsObject()) {
    auto it = parent->FindMember(JsonValue(json::ref(last)));
    if (it == parent->MemberEnd()) return "Unable to remove nonexistent key: " + last + ": missing value";
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

std::optional<std::string> add_at(JsonValue& root, const std::vector<std::string>& toks, JsonValue value,
                                  JsonAlloc& a, const std::string& path, bool replace) {
  if (toks.empty()) {
    root = std::move(value);
    return std::nullopt;
  }
  JsonValue* parent = resolve(root, toks, toks.size() - 1);
  if (!parent) return "doc is missing path: \"" + path + "\": missing value";
  const std::string& last = toks.back();
  if (parent->IsObject()) {
    if (replace && !json::get(*parent, last)) return "doc is missing key: " + path + ": missing value";
    json::set(*parent, last, std::move(value), a);
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
        (*parent)[static_cast<rapidjson::SizeType>(i)] = std::move((*parent)[static_cast<rapidjson::SizeType>(i - 1)]);
      }
      (*parent)[static_cast<rapidjson::SizeType>(idx)] = std::move(value);
    }
    return std::nullopt;
  }
  return "doc is missing path: \"" + path + "\": missing value";
}

}  // namespace

Result<JsonDoc> json_patch(const JsonValue& orig, std::string_view text) {
  std::string err;
  auto p = json::parse(text, &err);
  if (!p) return errors::bad_request("error decoding patch: " + err);
  if (!p->IsArray()) {
    return errors::bad_request("json: cannot unmarshal " + std::string(json::type_name(*p)) +
                               " into Go value of type jsonpatch.Patch");
  }
  JsonDoc doc = json::clone(orig);
  auto& a = doc.GetAllocator();
  std::vector<std::string> toks, from_toks;
  for (auto& op : p->GetArray()) {
    std::string_view kind = json::get_string(op, "op");
    std::string path(json::get_string(op, "path"));
    if (!json::get(op, "path") || !split_pointer(path, toks)) {
      return patch_error("Unexpected kind: " + std::string(kind));
    }
    const JsonValue* value = json::get(op, "value");
    std::optional<std::string> e;
    if (kind == "add" || kind == "replace") {
      if (!value) return patch_error("missing value");
      e = add_at(doc, toks, json::copy(*value, a), a, path, kind == "replace");
    } else if (kind == "remove") {
      e = remove_at(doc, toks, nullptr, path);
    } else if (kind == "test") {
      JsonValue* cur = resolve(doc, toks, toks.size());
      bool ok = cur ? (value && json::equal(*cur, *value)) : (!value || value->IsNull());
      if (!ok) e = "testing value " + path + " failed: test failed";
    } else if (kind == "move" || kind == "copy") {
      std::string from(json::get_string(op, "from"));
      if (!split_pointer(from, from_toks)) return patch_error("invalid from");
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
      return patch_error("Unexpected kind: " + std::string(kind));
    }
    if (e) return patch_error(*e);
  }
  return doc;
}

}  // namespace kop::local::patch

namespace kop::local::patch {
Result<JsonDoc> strategic(const ResourceType& t, const JsonValue& orig, std::string_view body) {
  if (t.custom) {
    return errors::unsupported_media_type("application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
  }
  return merge(orig, body);
}
}  // namespace kop::local::patch
