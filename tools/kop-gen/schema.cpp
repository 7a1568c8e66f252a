#include "schema.h"

#include <fmt/format.h>
#include <kop/api/json.h>
#include <kop/api/yaml.h>

namespace kop::gen {
namespace {

namespace json = kop::api::json;
using rapidjson::Value;

bool flag(const Value& v, std::string_view key) {
  return json::get_bool(&v, key).value_or(false);
}

absl::StatusOr<std::unique_ptr<Schema>> read(const Value& v, const std::string& path, int depth) {
  if (depth > kMaxDepth) {
    return absl::InvalidArgumentError(
        fmt::format("{}: the schema nests deeper than {} levels", path, kMaxDepth));
  }
  if (!v.IsObject())
    return absl::InvalidArgumentError(fmt::format("{}: not a schema object", path));
  auto s = std::make_unique<Schema>();
  s->description = std::string(json::string_or_empty(&v, "description"));
  s->nullable = flag(v, "nullable");
  s->format = std::string(json::string_or_empty(&v, "format"));
  s->preserve_unknown = flag(v, "x-kubernetes-preserve-unknown-fields");
  if (const Value* d = json::find(&v, "default")) s->default_json = json::to_json(*d);
  std::string_view type = json::string_or_empty(&v, "type");
  const Value* props = json::find_object(&v, "properties");
  const Value* additional = json::find(&v, "additionalProperties");
  const Value* items = json::find(&v, "items");

  if (flag(v, "x-kubernetes-int-or-string")) {
    s->type = Schema::Type::kIntOrString;
    return s;
  }
  if (type == "string" || type == "integer" || type == "number" || type == "boolean") {
    s->type = type == "string"    ? Schema::Type::kString
              : type == "integer" ? Schema::Type::kInteger
              : type == "number"  ? Schema::Type::kNumber
                                  : Schema::Type::kBoolean;
    if (const Value* e = json::find_array(&v, "enum"); e && type == "string") {
      for (const Value& ev : e->GetArray()) {
        if (ev.IsString()) s->enum_values.emplace_back(json::as_string_view(ev));
      }
    }
    return s;
  }
  if (type == "array" || (type.empty() && items)) {
    s->type = Schema::Type::kArray;
    if (items && items->IsObject()) {
      auto it = read(*items, path + "[]", depth + 1);
      if (!it.ok()) return it.status();
      s->items = std::move(*it);
    } else {
      s->items = std::make_unique<Schema>();  // items of any JSON type
    }
    return s;
  }
  if (!type.empty() && type != "object") {
    return absl::InvalidArgumentError(fmt::format("{}: unknown type \"{}\"", path, type));
  }
  if (props && props->MemberCount() > 0) {
    s->type = Schema::Type::kObject;
    for (auto& m : props->GetObject()) {
      std::string name(json::as_string_view(m.name));
      auto p = read(m.value, fmt::format("{}.{}", path, name), depth + 1);
      if (!p.ok()) return p.status();
      s->properties.emplace_back(name, std::move(*p));
    }
    return s;
  }
  if (additional && additional->IsObject()) {
    s->type = Schema::Type::kMap;
    auto it = read(*additional, path + ".*", depth + 1);
    if (!it.ok()) return it.status();
    s->items = std::move(*it);
    return s;
  }
  // An object without declared fields, additionalProperties: true, or no type: raw JSON.
  s->type = Schema::Type::kRaw;
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Schema>> read_schema(const Value& v, const std::string& where) {
  return read(v, where, 0);
}

absl::StatusOr<Crd> read_crd(const Value& doc) {
  Crd crd;
  crd.name = std::string(json::string_or_empty(json::find(&doc, "metadata"), "name"));
  auto fail = [&](std::string_view what) {
    return absl::InvalidArgumentError(
        fmt::format("CustomResourceDefinition \"{}\": {}", crd.name, what));
  };
  if (json::string_or_empty(&doc, "kind") != "CustomResourceDefinition") {
    return absl::InvalidArgumentError(fmt::format("not a CustomResourceDefinition (kind \"{}\")",
                                                  json::string_or_empty(&doc, "kind")));
  }
  const Value* spec = json::find_object(&doc, "spec");
  if (!spec) return fail("no spec");
  crd.group = std::string(json::string_or_empty(spec, "group"));
  const Value* names = json::find_object(spec, "names");
  crd.kind = std::string(json::string_or_empty(names, "kind"));
  crd.plural = std::string(json::string_or_empty(names, "plural"));
  crd.namespaced = json::string_or_empty(spec, "scope") != "Cluster";
  if (crd.group.empty()) return fail("spec.group is empty");
  if (crd.kind.empty()) return fail("spec.names.kind is empty");
  const Value* versions = json::find_array(spec, "versions");
  if (!versions || versions->Empty()) return fail("spec.versions is empty");
  for (rapidjson::SizeType i = 0; i < versions->Size(); ++i) {
    const Value& v = (*versions)[i];
    CrdVersion cv;
    cv.name = std::string(json::string_or_empty(&v, "name"));
    if (cv.name.empty()) return fail(fmt::format("spec.versions[{}].name is empty", i));
    const Value* schema = json::find_object(json::find(&v, "schema"), "openAPIV3Schema");
    if (schema) {
      auto s = read_schema(
          *schema,
          fmt::format("CustomResourceDefinition \"{}\" version {}: schema", crd.name, cv.name));
      if (!s.ok()) return s.status();
      cv.schema = std::move(*s);
    } else {
      cv.schema = std::make_unique<Schema>();
    }
    crd.versions.push_back(std::move(cv));
  }
  return crd;
}

absl::StatusOr<std::vector<Crd>> read_crds(std::string_view text, const std::string& source) {
  auto docs = kop::api::yaml_to_json(text, source);
  if (!docs.ok()) return docs.status();
  std::vector<Crd> crds;
  for (const rapidjson::Document& doc : *docs) {
    if (json::string_or_empty(&doc, "kind") != "CustomResourceDefinition") continue;
    auto crd = read_crd(doc);
    if (!crd.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}", source, std::string(crd.status().message())));
    }
    crds.push_back(std::move(*crd));
  }
  if (crds.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: no CustomResourceDefinition", source));
  }
  return crds;
}

}  // namespace kop::gen
