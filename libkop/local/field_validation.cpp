#include "field_validation.h"

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

}  // namespace

std::vector<std::string> prune_unknown(JsonValue& body, std::string_view api_version,
                                       std::string_view kind) {
  std::string_view group;
  std::string_view version = api_version;
  if (auto slash = api_version.find('/'); slash != std::string_view::npos) {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
  }
  std::vector<std::string> unknown;
  for (const proto::RootKind& r : proto::root_kinds()) {
    if (r.group == group && r.version == version && r.kind == kind) {
      walk(r.message, body, "", true, unknown);
      break;
    }
  }
  return unknown;
}

}  // namespace kop::local::field_validation
