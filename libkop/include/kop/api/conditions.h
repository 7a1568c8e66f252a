// kop/api/conditions.h: metav1.Condition helpers (status.conditions), as apimachinery's
// meta.SetStatusCondition / FindStatusCondition / RemoveStatusCondition.
//
// Reconcilers report state as conditions: {type, status: True|False|Unknown,
// observedGeneration, lastTransitionTime, reason, message}. set_condition() merges one in:
// lastTransitionTime moves only when the status changes (so "how long has it been Ready" stays
// true across reconciles), reason/message/observedGeneration are updated in place, and the
// return value says whether anything changed (skip the status update when it did not).
//
// The helpers work on the JSON in place, so fields they do not know survive. They default to
// "/status/conditions"; pass another JSON pointer for resources that keep conditions elsewhere.
#pragma once

#include <absl/time/clock.h>
#include <absl/time/time.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/object.h"

namespace kop::api {

inline constexpr std::string_view kConditionTrue = "True";
inline constexpr std::string_view kConditionFalse = "False";
inline constexpr std::string_view kConditionUnknown = "Unknown";
inline constexpr std::string_view kDefaultConditionsPointer = "/status/conditions";

struct Condition {
  std::string type{};
  std::string status{};  // "True", "False" or "Unknown"
  int64_t observed_generation = 0;
  std::string last_transition_time{};  // RFC 3339; set_condition() fills it when empty
  std::string reason{};                // CamelCase, machine-readable
  std::string message{};               // for humans

  bool is_true() const { return status == kConditionTrue; }
  bool is_false() const { return status == kConditionFalse; }
  std::optional<absl::Time> transition_time() const;

  bool operator==(const Condition&) const = default;
};

// The conditions of a JSON array (entries that are not objects are skipped).
std::vector<Condition> conditions_from_json(const rapidjson::Value* array);
std::vector<Condition> get_conditions(const Object& obj,
                                      std::string_view pointer = kDefaultConditionsPointer);

std::optional<Condition> find_condition(const Object& obj, std::string_view type,
                                        std::string_view pointer = kDefaultConditionsPointer);
// True when the condition is present with status "True" (false when absent).
bool is_condition_true(const Object& obj, std::string_view type,
                       std::string_view pointer = kDefaultConditionsPointer);
bool is_condition_false(const Object& obj, std::string_view type,
                        std::string_view pointer = kDefaultConditionsPointer);

// Adds or updates the condition of type `c.type`. A new condition, or a status change, sets
// lastTransitionTime to c.last_transition_time if given, else to `now`. Returns whether the
// object changed. Fails (InvalidArgument) on an empty type or a malformed pointer.
absl::StatusOr<bool> set_condition(Object& obj, const Condition& c, absl::Time now = absl::Now(),
                                   std::string_view pointer = kDefaultConditionsPointer);

// Removes the condition of type `type`; true when it was there.
bool remove_condition(Object& obj, std::string_view type,
                      std::string_view pointer = kDefaultConditionsPointer);

}  // namespace kop::api
