#include "openapi.h"

#include <set>
#include <string>
#include <vector>

#include "proto_schema.h"

namespace kop::local::openapi {

namespace {

using proto::Card;
using proto::Field;
using proto::Type;

constexpr std::string_view kObjectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

std::string gv_path(const ResourceType& t) {
  return t.group.empty() ? "api/" + t.version : "apis/" + t.group + "/" + t.version;
}

int message_index(std::string_view openapi_name) {
  auto ms = proto::messages();
  for (size_t i = 0; i < ms.size(); ++i)
    if (ms[i].openapi == openapi_name) return static_cast<int>(i);
  return -1;
}

// "example.com" -> "com.example": CRD definitions are named as the API server names them.
std::string reversed(std::string_view group) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= group.size()) {
    size_t j = group.find('.', i);
    if (j == std::string_view::npos) j = group.size();
    parts.push_back(group.substr(i, j - i));
    i = j + 1;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it)
    out += (out.empty() ? "" : ".") + std::string(*it);
  return out;
}

class Writer {
 public:
  Writer(std::string_view ref_prefix, JsonAlloc& a) : prefix_(ref_prefix), a_(a) {}

  JsonValue ref(std::string_view name) {
    JsonValue r(rapidjson::kObjectType);
    r.AddMember("$ref", json::make_string(prefix_ + std::string(name), a_), a_);
    return r;
  }

  JsonValue typed(std::string_view type, std::string_view format = {}) {
    JsonValue s(rapidjson::kObjectType);
    s.AddMember("type", json::make_string(type, a_), a_);
    if (!format.empty()) s.AddMember("format", json::make_string(format, a_), a_);
    return s;
  }

  JsonValue value(const Field& f) {
    switch (f.type) {
      case Type::kString:
        return typed("string");
      case Type::kBytes:
        return typed("string", "byte");
      case Type::kBool:
        return typed("boolean");
      case Type::kInt32:
        return typed("integer", "int32");
      case Type::kInt64:
        return typed("integer", "int64");
      case Type::kDouble:
        return typed("number", "double");
      case Type::kTime:
      case Type::kMicroTime:
        return typed("string", "date-time");
      case Type::kIntOrString: {
        JsonValue s = typed("string", "int-or-string");
        s.AddMember("x-kubernetes-int-or-string", true, a_);
        return s;
      }
      case Type::kQuantity:
        return typed("string", "quantity");
      case Type::kRawJson:
        return typed("object");
      case Type::kMessage:
        needed_.insert(f.message);
        return ref(proto::messages()[static_cast<size_t>(f.message)].openapi);
    }
    return typed("object");
  }

  void properties(int msg, JsonValue& props) {
    for (const Field& f : proto::messages()[static_cast<size_t>(msg)].fields) {
      if (f.inline_field) {
        properties(f.message, props);
        continue;
      }
      JsonValue v = value(f);
      if (f.card == Card::kRepeated) {
        JsonValue arr = typed("array");
        arr.AddMember("items", v, a_);
        v = std::move(arr);
      } else if (f.card == Card::kMap) {
        JsonValue obj = typed("object");
        obj.AddMember("additionalProperties", v, a_);
        v = std::move(obj);
      }
      if (!f.patch_strategy.empty())
        v.AddMember("x-kubernetes-patch-strategy", json::make_string(f.patch_strategy, a_), a_);
      if (!f.patch_merge_key.empty())
        v.AddMember("x-kubernetes-patch-merge-key", json::make_string(f.patch_merge_key, a_), a_);
      if (!json::find(props, f.json)) props.AddMember(json::make_string(f.json, a_), v, a_);
    }
  }

  JsonValue gvk(std::string_view group, std::string_view version, std::string_view kind) {
    JsonValue list(rapidjson::kArrayType);
    JsonValue e(rapidjson::kObjectType);
    e.AddMember("group", json::make_string(group, a_), a_);
    e.AddMember("version", json::make_string(version, a_), a_);
    e.AddMember("kind", json::make_string(kind, a_), a_);
    list.PushBack(e, a_);
    return list;
  }

  // The schema of built-in message `msg`; root kinds get apiVersion, kind and their GVK.
  JsonValue message(int msg, const proto::RootKind* root) {
    JsonValue s = typed("object");
    JsonValue props(rapidjson::kObjectType);
    if (root != nullptr) {
      props.AddMember("apiVersion", typed("string"), a_);
      props.AddMember("kind", typed("string"), a_);
    }
    properties(msg, props);
    s.AddMember("properties", props, a_);
    if (root != nullptr)
      s.AddMember("x-kubernetes-group-version-kind", gvk(root->group, root->version, root->kind),
                  a_);
    return s;
  }

  // A CRD version's schema with the members every object has.
  JsonValue custom(const ResourceType& t) {
    JsonValue s = t.schema ? JsonValue(t.schema->doc(), a_) : typed("object");
    if (!s.IsObject()) s = typed("object");
    JsonValue& props = json::ensure_object(s, "properties", a_);
    if (!json::find(props, "apiVersion")) props.AddMember("apiVersion", typed("string"), a_);
    if (!json::find(props, "kind")) props.AddMember("kind", typed("string"), a_);
    json::set_member(props, "metadata", ref(kObjectMeta), a_);
    needed_.insert(message_index(kObjectMeta));
    json::set_member(s, "x-kubernetes-group-version-kind", gvk(t.group, t.version, t.kind), a_);
    return s;
  }

  // Adds the schemas of `t` (and its list, for built-ins) to `defs`.
  void kind(const ResourceType& t, JsonValue& defs) {
    if (t.custom) {
      std::string name = reversed(t.group) + "." + t.version + "." + t.kind;
      if (!json::find(defs, name)) defs.AddMember(json::make_string(name, a_), custom(t), a_);
      return;
    }
    for (const proto::RootKind& r : proto::root_kinds()) {
      if (r.group != t.group || r.version != t.version ||
          (r.kind != t.kind && r.kind != t.list_kind()))
        continue;
      std::string_view name = proto::messages()[static_cast<size_t>(r.message)].openapi;
      if (json::find(defs, name)) continue;
      defs.AddMember(json::make_string(name, a_), message(r.message, &r), a_);
      done_.insert(r.message);
    }
  }

  // The schemas referenced so far and not yet written, transitively.
  void referenced(JsonValue& defs) {
    while (true) {
      int next = -1;
      for (int m : needed_)
        if (!done_.contains(m)) next = m;
      if (next < 0) return;
      done_.insert(next);
      std::string_view name = proto::messages()[static_cast<size_t>(next)].openapi;
      if (!json::find(defs, name))
        defs.AddMember(json::make_string(name, a_), message(next, nullptr), a_);
    }
  }

 private:
  std::string prefix_;
  JsonAlloc& a_;
  std::set<int> needed_;
  std::set<int> done_;
};

JsonValue patch_operation(const ResourceType& t, JsonAlloc& a) {
  JsonValue op(rapidjson::kObjectType);
  JsonValue gvk(rapidjson::kObjectType);
  gvk.AddMember("group", json::make_string(t.group, a), a);
  gvk.AddMember("version", json::make_string(t.version, a), a);
  gvk.AddMember("kind", json::make_string(t.kind, a), a);
  op.AddMember("x-kubernetes-group-version-kind", gvk, a);
  JsonValue params(rapidjson::kArrayType);
  for (auto name : {"dryRun", "fieldManager", "fieldValidation", "force"}) {
    JsonValue p(rapidjson::kObjectType);
    p.AddMember("name", json::ref(name), a);
    p.AddMember("in", "query", a);
    JsonValue sch(rapidjson::kObjectType);
    sch.AddMember("type", "string", a);
    p.AddMember("schema", sch, a);
    params.PushBack(p, a);
  }
  op.AddMember("parameters", params, a);
  return op;
}

std::string item_path(const ResourceType& t) {
  return "/" + gv_path(t) + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.resource +
         "/{name}";
}

JsonValue info(JsonAlloc& a) {
  JsonValue i(rapidjson::kObjectType);
  i.AddMember("title", "Kubernetes", a);
  i.AddMember("version", "v1.20.2-kop-local", a);
  return i;
}

}  // namespace

JsonDoc v2(const Registry& registry) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("swagger", "2.0", a);
  d.AddMember("info", info(a), a);
  Writer w("#/definitions/", a);
  JsonValue defs(rapidjson::kObjectType);
  JsonValue paths(rapidjson::kObjectType);
  for (const ResourceTypePtr& t : registry.all()) {
    w.kind(*t, defs);
    JsonValue item(rapidjson::kObjectType);
    item.AddMember("patch", patch_operation(*t, a), a);
    std::string p = item_path(*t);
    if (!json::find(paths, p)) paths.AddMember(json::make_string(p, a), item, a);
  }
  w.referenced(defs);
  d.AddMember("paths", paths, a);
  d.AddMember("definitions", defs, a);
  return d;
}

JsonDoc v3_index(const Registry& registry) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  JsonValue paths(rapidjson::kObjectType);
  for (const ResourceTypePtr& t : registry.all()) {
    std::string p = gv_path(*t);
    if (json::find(paths, p)) continue;
    JsonValue e(rapidjson::kObjectType);
    e.AddMember("serverRelativeURL", json::make_string("/openapi/v3/" + p + "?hash=kop-local", a),
                a);
    paths.AddMember(json::make_string(p, a), e, a);
  }
  d.AddMember("paths", paths, a);
  return d;
}

std::optional<JsonDoc> v3_group_version(const Registry& registry, std::string_view want) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("openapi", "3.0.0", a);
  d.AddMember("info", info(a), a);
  Writer w("#/components/schemas/", a);
  JsonValue paths(rapidjson::kObjectType);
  JsonValue schemas(rapidjson::kObjectType);
  bool found = false;
  for (const ResourceTypePtr& t : registry.all()) {
    if (gv_path(*t) != want) continue;
    found = true;
    JsonValue item(rapidjson::kObjectType);
    item.AddMember("patch", patch_operation(*t, a), a);
    paths.AddMember(json::make_string(item_path(*t), a), item, a);
    w.kind(*t, schemas);
  }
  if (!found) return std::nullopt;
  w.referenced(schemas);
  d.AddMember("paths", paths, a);
  JsonValue components(rapidjson::kObjectType);
  components.AddMember("schemas", schemas, a);
  d.AddMember("components", components, a);
  return d;
}

}  // namespace kop::local::openapi
