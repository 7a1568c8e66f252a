// Gateway API status JSON: the translator's statuses merged with what the object holds.
#include "gateway_status.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <vector>

namespace kop::ingress::gateway_status {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using gateway::Condition;

void str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string_view text(const rapidjson::Value* v, const char* name) {
  if (v == nullptr || !v->IsObject()) return {};
  auto m = v->FindMember(name);
  if (m == v->MemberEnd() || !m->value.IsString()) return {};
  return {m->value.GetString(), m->value.GetStringLength()};
}

const rapidjson::Value* field(const rapidjson::Value* v, const char* name) {
  if (v == nullptr || !v->IsObject()) return nullptr;
  auto m = v->FindMember(name);
  return m == v->MemberEnd() ? nullptr : &m->value;
}

std::vector<const rapidjson::Value*> items(const rapidjson::Value* v, const char* name) {
  std::vector<const rapidjson::Value*> out;
  const rapidjson::Value* a = field(v, name);
  if (a != nullptr && a->IsArray())
    for (const auto& e : a->GetArray()) out.push_back(&e);
  return out;
}

// `want` as a JSON array; each condition's time is kept from `current` (a conditions array)
// when its type is there with the same status, else `now`.
void conditions(Writer& w, const std::vector<Condition>& want, const rapidjson::Value* current,
                std::string_view now) {
  w.StartArray();
  for (const Condition& c : want) {
    std::string_view time = now;
    for (const rapidjson::Value* h : items(current, "conditions"))
      if (text(h, "type") == c.type && text(h, "status") == c.status &&
          !text(h, "lastTransitionTime").empty())
        time = text(h, "lastTransitionTime");
    w.StartObject();
    str(w, "type");
    str(w, c.type);
    str(w, "status");
    str(w, c.status);
    str(w, "observedGeneration");
    w.Int64(c.observed_generation);
    str(w, "lastTransitionTime");
    str(w, time);
    str(w, "reason");
    str(w, c.reason);
    str(w, "message");
    // An empty message says nothing to a reader, and the real API server tool's v1.20 build
    // refuses "" in custom resources (docs/real-apiserver.md): the reason stands in for it.
    str(w, c.message.empty() ? c.reason : c.message);
    w.EndObject();
  }
  w.EndArray();
}

bool is_ip(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789.:abcdefABCDEF") == std::string_view::npos &&
         (s.find(':') != std::string_view::npos ||
          s.find_first_of("abcdefABCDEF") == std::string_view::npos);
}

gateway::ParentRef parent_of(const rapidjson::Value* entry, std::string_view route_ns,
                             const char* ref_key) {
  const rapidjson::Value* p = field(entry, ref_key);
  gateway::ParentRef ref;
  ref.group = field(p, "group") ? std::string(text(p, "group")) : std::string(gateway::kGroup);
  ref.kind = field(p, "kind") ? std::string(text(p, "kind")) : "Gateway";
  ref.ns = field(p, "namespace") ? std::string(text(p, "namespace")) : std::string(route_ns);
  ref.name = std::string(text(p, "name"));
  ref.section_name = std::string(text(p, "sectionName"));
  if (const rapidjson::Value* port = field(p, "port"); port != nullptr && port->IsInt())
    ref.port = port->GetInt();
  return ref;
}

// Whether `have` says at least what `want` says: objects may hold more members, arrays
// must have the same length, scalars must be equal.
bool contains(const rapidjson::Value& have, const rapidjson::Value& want) {
  if (want.IsObject()) {
    if (!have.IsObject()) return false;
    for (const auto& m : want.GetObject()) {
      auto h = have.FindMember(m.name);
      if (h == have.MemberEnd() || !contains(h->value, m.value)) return false;
    }
    return true;
  }
  if (want.IsArray()) {
    if (!have.IsArray() || have.Size() != want.Size()) return false;
    for (rapidjson::SizeType i = 0; i < want.Size(); ++i)
      if (!contains(have[i], want[i])) return false;
    return true;
  }
  return have == want;
}

const rapidjson::Value* status_of(const api::Object& o) {
  return o.at("/status");
}

}  // namespace

std::string gateway_class(const api::Object& current, const gateway::ClassStatus& want,
                          std::string_view now) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  str(w, "conditions");
  conditions(w, want.conditions, status_of(current), now);
  w.EndObject();
  return buf.GetString();
}

std::string gateway(const api::Object& current, const gateway::GatewayStatus& want,
                    std::string_view now) {
  const rapidjson::Value* have = status_of(current);
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  str(w, "addresses");
  w.StartArray();
  for (const std::string& a : want.addresses) {
    w.StartObject();
    str(w, "type");
    str(w, is_ip(a) ? "IPAddress" : "Hostname");
    str(w, "value");
    str(w, a);
    w.EndObject();
  }
  w.EndArray();
  str(w, "conditions");
  conditions(w, want.conditions, have, now);
  str(w, "listeners");
  w.StartArray();
  for (const gateway::ListenerStatus& l : want.listeners) {
    const rapidjson::Value* had = nullptr;
    for (const rapidjson::Value* h : items(have, "listeners"))
      if (text(h, "name") == l.name) had = h;
    w.StartObject();
    str(w, "name");
    str(w, l.name);
    str(w, "supportedKinds");
    w.StartArray();
    for (const gateway::RouteGroupKind& k : l.supported_kinds) {
      w.StartObject();
      str(w, "group");
      str(w, k.group);
      str(w, "kind");
      str(w, k.kind);
      w.EndObject();
    }
    w.EndArray();
    str(w, "attachedRoutes");
    w.Int(l.attached_routes);
    str(w, "conditions");
    conditions(w, l.conditions, had, now);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

namespace {

// A status whose only member is `list_key` ("parents", "ancestors"): entries of other
// controllers kept, ours as `want`, each naming its Gateway under `ref_key`.
std::string parent_entries(const api::Object& current,
                           const std::vector<gateway::RouteParentStatus>& want,
                           const char* list_key, const char* ref_key,
                           std::string_view controller_name, std::string_view now) {
  const rapidjson::Value* have = status_of(current);
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  str(w, list_key);
  w.StartArray();
  std::vector<const rapidjson::Value*> ours;
  for (const rapidjson::Value* e : items(have, list_key)) {
    if (text(e, "controllerName") == controller_name) {
      ours.push_back(e);
      continue;
    }
    e->Accept(w);  // another controller's entry, kept as it is
  }
  for (const gateway::RouteParentStatus& p : want) {
    const rapidjson::Value* had = nullptr;
    for (const rapidjson::Value* e : ours)
      if (parent_of(e, current.ns(), ref_key) == p.parent) had = e;
    w.StartObject();
    str(w, ref_key);
    w.StartObject();
    str(w, "group");
    str(w, p.parent.group);
    str(w, "kind");
    str(w, p.parent.kind);
    str(w, "namespace");
    str(w, p.parent.ns);
    str(w, "name");
    str(w, p.parent.name);
    if (!p.parent.section_name.empty()) {
      str(w, "sectionName");
      str(w, p.parent.section_name);
    }
    if (p.parent.port) {
      str(w, "port");
      w.Int(*p.parent.port);
    }
    w.EndObject();
    str(w, "controllerName");
    str(w, controller_name);
    str(w, "conditions");
    conditions(w, p.conditions, had, now);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

bool has_entry_of(const api::Object& o, const char* list_key, std::string_view controller_name) {
  for (const rapidjson::Value* e : items(status_of(o), list_key))
    if (text(e, "controllerName") == controller_name) return true;
  return false;
}

}  // namespace

std::string route(const api::Object& current, const gateway::RouteStatus& want,
                  std::string_view controller_name, std::string_view now) {
  return parent_entries(current, want.parents, "parents", "parentRef", controller_name, now);
}

std::string policy(const api::Object& current, const gateway::PolicyStatus& want,
                   std::string_view controller_name, std::string_view now) {
  return parent_entries(current, want.ancestors, "ancestors", "ancestorRef", controller_name, now);
}

bool unchanged(const api::Object& current, std::string_view status_json) {
  rapidjson::Document want;
  want.Parse(status_json.data(), status_json.size());
  if (want.HasParseError()) return false;
  const rapidjson::Value* have = status_of(current);
  if (have == nullptr) return want.IsObject() && want.ObjectEmpty();
  return contains(*have, want);
}

bool has_parent_of(const api::Object& route, std::string_view controller_name) {
  return has_entry_of(route, "parents", controller_name);
}

bool has_ancestor_of(const api::Object& policy, std::string_view controller_name) {
  return has_entry_of(policy, "ancestors", controller_name);
}

}  // namespace kop::ingress::gateway_status
