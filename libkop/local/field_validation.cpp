#include "field_validation.h"

#include <absl/strings/escaping.h>

#include "proto_schema.h"

namespace kop::local::field_validation {

namespace {

using proto::Card;
using proto::Field;
using proto::Type;

// The field of message `msg` (inline structs included) with JSON name `name`.
const Field* field_of(int msg, std::string_view name) {
  for (const Field& f : proto::messages()[static_cast<size_t>(msg)].fields) {
    if (f.inline_field) {
      if (const Field* g = field_of(f.message, name)) return g;
    } else if (f.json == name) {
      return &f;
    }
  }
  return nullptr;
}

void walk(int msg, JsonValue& obj, const std::string& path, bool root,
          std::vector<std::string>& unknown) {
  if (!obj.IsObject()) return;
  std::vector<std::string> drop;
  for (auto& m : obj.GetObject()) {
    std::string_view name = json::as_string_view(m.name);
    if (!name.empty() && name.front() == '$') continue;  // patch directives
    if (root && (name == "apiVersion" || name == "kind")) continue;
    std::string at = path.empty() ? std::string(name) : path + "." + std::string(name);
    const Field* f = field_of(msg, name);
    if (f == nullptr) {
      unknown.push_back(at);
      drop.emplace_back(name);
      continue;
    }
    if (f->type != Type::kMessage) continue;
    if (f->card == Card::kRepeated && m.value.IsArray()) {
      for (rapidjson::SizeType i = 0; i < m.value.Size(); ++i)
        walk(f->message, m.value[i], at + "[" + std::to_string(i) + "]", false, unknown);
    } else if (f->card == Card::kMap && m.value.IsObject()) {
      for (auto& e : m.value.GetObject())
        walk(f->message, e.value, at + "[" + std::string(json::as_string_view(e.name)) + "]", false,
             unknown);
    } else {
      walk(f->message, m.value, at, false, unknown);
    }
  }
  for (const std::string& k : drop) json::remove_member(obj, k);
}

// The root kind's message index, or -1.
int root_message(std::string_view api_version, std::string_view kind) {
  std::string_view group;
  std::string_view version = api_version;
  if (auto slash = api_version.find('/'); slash != std::string_view::npos) {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
  }
  for (const proto::RootKind& r : proto::root_kinds())
    if (r.group == group && r.version == version && r.kind == kind) return r.message;
  return -1;
}

// Go's name of a message's struct: "core.ConfigMap" -> "ConfigMap".
std::string_view struct_name(int msg) {
  std::string_view n = proto::messages()[static_cast<size_t>(msg)].name;
  return n.substr(n.rfind('.') + 1);
}

// Go's names: of a JSON value's kind as its decoder reports it, of a field's value type.
std::string json_kind(const JsonValue& v) {
  if (v.IsBool()) return "bool";
  if (v.IsString()) return "string";
  if (v.IsArray()) return "array";
  if (v.IsObject()) return "object";
  return "number " + json::to_json(v);
}

std::string go_type(const Field& f) {
  switch (f.type) {
    case Type::kString:
      return "string";
    case Type::kBytes:
      return "[]uint8";
    case Type::kBool:
      return "bool";
    case Type::kInt32:
      return "int32";
    case Type::kInt64:
      return "int64";
    case Type::kDouble:
      return "float64";
    case Type::kMessage:
      return "v1." + std::string(struct_name(f.message));
    case Type::kTime:
      return "v1.Time";
    case Type::kMicroTime:
      return "v1.MicroTime";
    case Type::kIntOrString:
      return "intstr.IntOrString";
    case Type::kQuantity:
      return "resource.Quantity";
    case Type::kRawJson:
      return "runtime.RawExtension";
  }
  return "?";
}

// Whether one value (a list's element, a map's value, or the field itself) decodes as f's type.
bool decodes_as(const Field& f, const JsonValue& v) {
  if (v.IsNull()) return true;  // Go leaves the zero value
  switch (f.type) {
    case Type::kString:
      return v.IsString();
    case Type::kBytes: {
      std::string raw;
      return v.IsString() &&
             absl::Base64Unescape(absl::string_view(v.GetString(), v.GetStringLength()), &raw);
    }
    case Type::kBool:
      return v.IsBool();
    case Type::kInt32:
      return v.IsInt();
    case Type::kInt64:
      return v.IsInt64();
    case Type::kDouble:
      return v.IsNumber();
    case Type::kMessage:
      return v.IsObject();
    case Type::kTime:
    case Type::kMicroTime:
      return v.IsString();
    case Type::kIntOrString:
      return v.IsInt() || v.IsString();
    case Type::kQuantity:
      return v.IsString() || v.IsNumber();
    case Type::kRawJson:
      return true;
  }
  return false;
}

std::string cannot_unmarshal(const JsonValue& v, int msg, const std::string& path,
                             std::string_view type) {
  return "json: cannot unmarshal " + json_kind(v) + " into Go struct field " +
         std::string(struct_name(msg)) + "." + path + " of type " + std::string(type);
}

std::optional<std::string> first_decode_error(int msg, const JsonValue& obj,
                                              const std::string& path, bool root) {
  for (const auto& m : obj.GetObject()) {
    std::string_view name = json::as_string_view(m.name);
    if (root && (name == "apiVersion" || name == "kind")) continue;
    const Field* f = field_of(msg, name);
    if (f == nullptr || m.value.IsNull()) continue;
    std::string at = path.empty() ? std::string(name) : path + "." + std::string(name);
    // Go names a list's or map's own type when the container is wrong, the element's inside.
    std::string one = go_type(*f);
    auto each = [&](const JsonValue& v) -> std::optional<std::string> {
      if (!decodes_as(*f, v)) return cannot_unmarshal(v, msg, at, one);
      if (f->type == Type::kMessage) return first_decode_error(f->message, v, at, false);
      return std::nullopt;
    };
    if (f->card == Card::kRepeated) {
      if (!m.value.IsArray()) return cannot_unmarshal(m.value, msg, at, "[]" + one);
      for (const JsonValue& e : m.value.GetArray())
        if (auto err = each(e)) return err;
    } else if (f->card == Card::kMap) {
      if (!m.value.IsObject()) return cannot_unmarshal(m.value, msg, at, "map[string]" + one);
      for (const auto& e : m.value.GetObject())
        if (auto err = each(e.value)) return err;
    } else if (auto err = each(m.value)) {
      return err;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> decode_error(const JsonValue& body, std::string_view api_version,
                                        std::string_view kind) {
  int msg = root_message(api_version, kind);
  if (msg < 0 || !body.IsObject()) return std::nullopt;
  return first_decode_error(msg, body, "", true);
}

std::vector<std::string> prune_unknown(JsonValue& body, std::string_view api_version,
                                       std::string_view kind) {
  std::vector<std::string> unknown;
  if (int msg = root_message(api_version, kind); msg >= 0) walk(msg, body, "", true, unknown);
  return unknown;
}

}  // namespace kop::local::field_validation
