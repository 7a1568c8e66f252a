#include "kop/api/conditions.h"

#include <gtest/gtest.h>

#include "kop/api/json.h"

namespace kop::api {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1714564800);  // 2024-05-01T12:00:00Z
const absl::Time kT1 = kT0 + absl::Minutes(5);

Condition ready(std::string_view status, std::string_view reason = "Reconciled", int64_t gen = 1) {
  Condition c;
  c.type = "Ready";
  c.status = std::string(status);
  c.reason = std::string(reason);
  c.message = "all good";
  c.observed_generation = gen;
  return c;
}

TEST(ConditionsTest, SetNewThenFind) {
  Object o("example.com/v1", "Widget");
  auto changed = set_condition(o, ready("True"), kT0);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  auto c = find_condition(o, "Ready");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status, "True");
  EXPECT_EQ(c->reason, "Reconciled");
  EXPECT_EQ(c->message, "all good");
  EXPECT_EQ(c->observed_generation, 1);
  EXPECT_EQ(c->last_transition_time, "2024-05-01T12:00:00Z");
  EXPECT_EQ(c->transition_time(), kT0);
  EXPECT_TRUE(is_condition_true(o, "Ready"));
  EXPECT_FALSE(is_condition_false(o, "Ready"));
  EXPECT_FALSE(is_condition_true(o, "Missing"));
  EXPECT_FALSE(find_condition(o, "Missing").has_value());
  EXPECT_EQ(o.to_json(),
            R"({"apiVersion":"example.com/v1","kind":"Widget","status":{"conditions":[)"
            R"({"type":"Ready","status":"True","observedGeneration":1,)"
            R"("lastTransitionTime":"2024-05-01T12:00:00Z","reason":"Reconciled",)"
            R"("message":"all good"}]}})");
}

TEST(ConditionsTest, TransitionTimeMovesOnlyOnStatusChange) {
  Object o;
  ASSERT_TRUE(set_condition(o, ready("True"), kT0).ok());
  // Same everything, later: nothing changes.
  auto same = set_condition(o, ready("True"), kT1);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(*same);
  EXPECT_EQ(find_condition(o, "Ready")->transition_time(), kT0);
  // New reason and generation, same status: changed, time kept.
  auto reason = set_condition(o, ready("True", "StillFine", 2), kT1);
  ASSERT_TRUE(reason.ok());
  EXPECT_TRUE(*reason);
  auto c = find_condition(o, "Ready");
  EXPECT_EQ(c->reason, "StillFine");
  EXPECT_EQ(c->observed_generation, 2);
  EXPECT_EQ(c->transition_time(), kT0);
  // Status flips: time moves.
  auto flip = set_condition(o, ready("False", "Broken", 2), kT1);
  ASSERT_TRUE(flip.ok());
  EXPECT_TRUE(*flip);
  c = find_condition(o, "Ready");
  EXPECT_EQ(c->status, "False");
  EXPECT_EQ(c->transition_time(), kT1);
  EXPECT_TRUE(is_condition_false(o, "Ready"));
  // An explicit transition time is used when the status changes.
  Condition explicit_time = ready("Unknown");
  explicit_time.last_transition_time = "2030-01-01T00:00:00Z";
  ASSERT_TRUE(set_condition(o, explicit_time, kT1).ok());
  EXPECT_EQ(find_condition(o, "Ready")->last_transition_time, "2030-01-01T00:00:00Z");
  // observedGeneration 0 removes the field.
  ASSERT_TRUE(set_condition(o, ready("Unknown", "Reconciled", 0), kT1).ok());
  EXPECT_EQ(o.at("/status/conditions/0/observedGeneration"), nullptr);
}

TEST(ConditionsTest, SeveralTypesRemoveAndUnknownFieldsKept) {
  auto o = Object::parse(R"({"status":{"conditions":[
      {"type":"Synced","status":"True","lastTransitionTime":"2024-01-01T00:00:00Z",
       "reason":"Ok","message":"","vendorField":42}]}})");
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(set_condition(*o, ready("True"), kT0).ok());
  auto all = get_conditions(*o);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].type, "Synced");
  EXPECT_EQ(all[1].type, "Ready");
  Condition synced = all[0];
  synced.message = "now with words";
  synced.last_transition_time.clear();
  EXPECT_TRUE(*set_condition(*o, synced, kT1));
  EXPECT_EQ(o->get_int("/status/conditions/0/vendorField"), 42);
  EXPECT_EQ(find_condition(*o, "Synced")->last_transition_time, "2024-01-01T00:00:00Z");
  EXPECT_TRUE(remove_condition(*o, "Synced"));
  EXPECT_FALSE(remove_condition(*o, "Synced"));
  ASSERT_EQ(get_conditions(*o).size(), 1u);
  EXPECT_EQ(get_conditions(*o)[0].type, "Ready");
}

TEST(ConditionsTest, CustomPointerAndErrors) {
  Object o;
  ASSERT_TRUE(set_condition(o, ready("True"), kT0, "/status/gateway/conditions").ok());
  EXPECT_TRUE(is_condition_true(o, "Ready", "/status/gateway/conditions"));
  EXPECT_FALSE(is_condition_true(o, "Ready"));
  Condition no_type;
  EXPECT_FALSE(set_condition(o, no_type, kT0).ok());
  EXPECT_FALSE(remove_condition(o, "Ready"));
  // A wrong-typed conditions field is replaced by a list.
  ASSERT_TRUE(o.set_string("/status/conditions", "garbage").ok());
  EXPECT_TRUE(get_conditions(o).empty());
  ASSERT_TRUE(set_condition(o, ready("True"), kT0).ok());
  EXPECT_TRUE(is_condition_true(o, "Ready"));
}

}  // namespace
}  // namespace kop::api
