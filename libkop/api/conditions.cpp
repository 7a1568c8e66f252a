#include "kop/api/conditions.h"

#include <absl/status/status.h>

#include "kop/api/json.h"
#include "kop/api/time.h"

namespace kop::api {

namespace {

using Value = rapidjson::Value;

Condition from_value(const Value& v) {
  Condition c;
  c.type = std::string(json::string_or_empty(&v, "type"));
  c.status = std::string(json::string_or_empty(&v, "status"));
  c.observed_generation = json::get_int(&v, "observedGeneration").value_or(0);
  c.last_transition_time = std::string(json::string_or_empty(&v, "lastTransitionTime"));
  c.reason = std::string(json::string_or_empty(&v, "reason"));
  c.message = std::string(json::string_or_empty(&v, "message"));
  return c;
}

Value* find_entry(Value* arr, std::string_view type) {
  if (!arr || !arr->IsArray()) return nullptr;
  for (Value& e : arr->GetArray()) {
    if (e.IsObject() && json::string_or_empty(&e, "type") == type) return &e;
  }
  return nullptr;
}

}  // namespace

std::optional<absl::Time> Condition::transition_time() const {
  return parse_time(last_transition_time);
}

std::vector<Condition> conditions_from_json(const rapidjson::Value* array) {
  std::vector<Condition> out;
  if (!array || !array->IsArray()) return out;
  out.reserve(array->Size());
  for (const Value& e : array->GetArray()) {
    if (e.IsObject()) out.push_back(from_value(e));
  }
  return out;
}

std::vector<Condition> get_conditions(const Object& obj, std::string_view pointer) {
  return conditions_from_json(obj.at(pointer));
}

std::optional<Condition> find_condition(const Object& obj, std::string_view type,
                                        std::string_view pointer) {
  const Value* arr = obj.at(pointer);
  if (!arr || !arr->IsArray()) return std::nullopt;
  for (const Value& e : arr->GetArray()) {
    if (e.IsObject() && json::string_or_empty(&e, "type") == type) return from_value(e);
  }
  return std::nullopt;
}

bool is_condition_true(const Object& obj, std::string_view type, std::string_view pointer) {
  auto c = find_condition(obj, type, pointer);
  return c && c->is_true();
}

bool is_condition_false(const Object& obj, std::string_view type, std::string_view pointer) {
  auto c = find_condition(obj, type, pointer);
  return c && c->is_false();
}

absl::StatusOr<bool> set_condition(Object& obj, const Condition& c, absl::Time now,
                                   std::string_view pointer) {
  if (c.type.empty()) return absl::InvalidArgumentError("condition type must not be empty");
  Value* arr = obj.mutable_at(pointer);
  if (!arr || !arr->IsArray()) {
    Value empty(rapidjson::kArrayType);
    if (auto s = obj.set(pointer, empty); !s.ok()) return s;
    arr = obj.mutable_at(pointer);
  }
  auto& a = obj.allocator();
  std::string transition =
      c.last_transition_time.empty() ? format_time(now) : c.last_transition_time;
  Value* e = find_entry(arr, c.type);
  if (!e) {
    Value n(rapidjson::kObjectType);
    n.AddMember("type", json::make_string(c.type, a), a);
    n.AddMember("status", json::make_string(c.status, a), a);
    if (c.observed_generation != 0) {
      n.AddMember("observedGeneration", Value(static_cast<int64_t>(c.observed_generation)), a);
    }
    n.AddMember("lastTransitionTime", json::make_string(transition, a), a);
    n.AddMember("reason", json::make_string(c.reason, a), a);
    n.AddMember("message", json::make_string(c.message, a), a);
    arr->PushBack(n, a);
    return true;
  }
  bool changed = false;
  auto update = [&](std::string_view key, std::string_view value) {
    if (json::string_or_empty(e, key) == value && json::find(*e, key)) return;
    json::set_member(*e, key, json::make_string(value, a), a);
    changed = true;
  };
  if (json::string_or_empty(e, "status") != c.status) {
    update("status", c.status);
    json::set_member(*e, "lastTransitionTime", json::make_string(transition, a), a);
  }
  update("reason", c.reason);
  update("message", c.message);
  if (json::get_int(e, "observedGeneration").value_or(0) != c.observed_generation) {
    if (c.observed_generation == 0) {
      json::remove_member(*e, "observedGeneration");
    } else {
      json::set_member(*e, "observedGeneration", Value(static_cast<int64_t>(c.observed_generation)),
                       a);
    }
    changed = true;
  }
  return changed;
}

bool remove_condition(Object& obj, std::string_view type, std::string_view pointer) {
  Value* arr = obj.mutable_at(pointer);
  if (!arr || !arr->IsArray()) return false;
  for (auto it = arr->Begin(); it != arr->End(); ++it) {
    if (it->IsObject() && json::string_or_empty(it, "type") == type) {
      arr->Erase(it);
      return true;
    }
  }
  return false;
}

}  // namespace kop::api
