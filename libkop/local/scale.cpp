#include "scale.h"

#include <vector>

#include "errors.h"
#include "kop/api/labels.h"

namespace kop::local::scale {

namespace {

// ".spec.replicas" -> {"spec", "replicas"}.
std::vector<std::string> keys_of(std::string_view path) {
  std::vector<std::string> keys;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('.', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) keys.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return keys;
}

const JsonValue* at(const JsonValue& obj, std::string_view path) {
  const JsonValue* cur = &obj;
  for (const std::string& k : keys_of(path)) {
    cur = cur->IsObject() ? json::find(*cur, k) : nullptr;
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

void set_at(JsonValue& obj, std::string_view path, JsonValue v, JsonAlloc& a) {
  std::vector<std::string> keys = keys_of(path);
  if (keys.empty()) return;
  JsonValue* cur = &obj;
  for (size_t i = 0; i + 1 < keys.size(); ++i) cur = &json::ensure_object(*cur, keys[i], a);
  json::set_member(*cur, keys.back(), std::move(v), a);
}

}  // namespace

absl::StatusOr<JsonDoc> of(const ResourceType& t, const JsonValue& obj) {
  const ScalePaths& p = *t.scale;
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", "Scale", a);
  d.AddMember("apiVersion", "autoscaling/v1", a);
  JsonValue meta(rapidjson::kObjectType);
  for (auto k : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    if (const JsonValue* v = json::path(obj, {"metadata", k}))
      meta.AddMember(JsonValue(k, a), JsonValue(*v, a), a);
  }
  d.AddMember("metadata", meta, a);
  JsonValue spec(rapidjson::kObjectType);
  const JsonValue* want = at(obj, p.spec_replicas);
  spec.AddMember("replicas", JsonValue(want && want->IsInt64() ? want->GetInt64() : 0), a);
  d.AddMember("spec", spec, a);
  JsonValue status(rapidjson::kObjectType);
  const JsonValue* have = p.status_replicas.empty() ? nullptr : at(obj, p.status_replicas);
  status.AddMember("replicas", JsonValue(have && have->IsInt64() ? have->GetInt64() : 0), a);
  if (const JsonValue* sel = p.label_selector.empty() ? nullptr : at(obj, p.label_selector)) {
    if (sel->IsString()) {
      if (sel->GetStringLength() > 0) status.AddMember("selector", JsonValue(*sel, a), a);
    } else if (t.custom) {
      // A CRD's labelSelectorPath must name a string; the API server leaves anything else out.
    } else {
      auto s = LabelSelector::from_json(sel);
      if (!s.ok()) return s.status();
      std::string text = s->to_string();
      if (!text.empty()) status.AddMember("selector", json::make_string(text, a), a);
    }
  }
  d.AddMember("status", status, a);
  return d;
}

absl::StatusOr<JsonDoc> applied(const ResourceType& t, const JsonValue& obj,
                                const JsonValue& scale) {
  std::string name(json::path_string(scale, {"metadata", "name"}));
  const JsonValue* replicas = json::path(scale, {"spec", "replicas"});
  FieldErrors errs;
  if (replicas != nullptr && !replicas->IsNull() && !replicas->IsInt64()) {
    errs.push_back(
        field::invalid_raw("spec.replicas", json::to_json(*replicas), "must be an integer"));
  } else if (replicas != nullptr && replicas->IsInt64() && replicas->GetInt64() < 0) {
    errs.push_back(field::invalid_int("spec.replicas", replicas->GetInt64(),
                                      "must be greater than or equal to 0"));
  }
  if (!errs.empty()) return errors::invalid("autoscaling", "Scale", name, errs);
  JsonDoc out = json::clone(obj);
  auto& a = out.GetAllocator();
  int64_t n = replicas != nullptr && replicas->IsInt64() ? replicas->GetInt64() : 0;
  set_at(out, t.scale->spec_replicas, JsonValue(n), a);
  std::string_view rv = json::path_string(scale, {"metadata", "resourceVersion"});
  if (!rv.empty())
    json::set_string(json::ensure_object(out, "metadata", a), "resourceVersion", rv, a);
  return out;
}

}  // namespace kop::local::scale
