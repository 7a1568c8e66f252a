// The patch a mutating webhook answers with, applied by kop::local's RFC 6902 code (the same
// code that applies a client's JSON patch), must turn the object received into the object the
// handler left.
#include "kop/webhook/json_patch.h"

#include <gtest/gtest.h>

#include "kop/api/object.h"
#include "patch.h"

namespace kop::webhook {
namespace {

void expect_round_trip(std::string_view from_json, std::string_view to_json) {
  auto from = Object::parse(from_json);
  auto to = Object::parse(to_json);
  ASSERT_TRUE(from.ok() && to.ok());
  std::string patch = json_patch(from->doc(), to->doc());
  auto applied = local::patch::json_patch(from->doc(), patch);
  ASSERT_TRUE(applied.ok()) << patch << ": " << applied.status();
  auto result = Object::from_value(*applied);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, *to) << "patch " << patch << " gave " << result->to_json();
}

TEST(JsonPatch, EqualValuesGiveAnEmptyPatch) {
  auto a = Object::parse(R"({"a":1,"b":[1,2],"c":{"d":1.0}})");
  auto b = Object::parse(R"({"c":{"d":1},"b":[1,2],"a":1})");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(json_patch(a->doc(), b->doc()), "[]");
}

TEST(JsonPatch, AddsRemovesAndReplacesMembers) {
  auto a = Object::parse(R"({"spec":{"replicas":1,"old":true}})");
  auto b = Object::parse(R"({"spec":{"replicas":2,"new":"x"}})");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(json_patch(a->doc(), b->doc()),
            R"([{"op":"replace","path":"/spec/replicas","value":2},)"
            R"({"op":"remove","path":"/spec/old"},{"op":"add","path":"/spec/new","value":"x"}])");
}

TEST(JsonPatch, EscapesKeysAsJsonPointerTokens) {
  auto a = Object::parse(R"({"metadata":{"annotations":{}}})");
  auto b = Object::parse(R"({"metadata":{"annotations":{"example.com/a~b":"1"}}})");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(json_patch(a->doc(), b->doc()),
            R"([{"op":"add","path":"/metadata/annotations/example.com~1a~0b","value":"1"}])");
  expect_round_trip(a->to_json(), b->to_json());
}

TEST(JsonPatch, AppliedPatchGivesTheHandlersObject) {
  expect_round_trip(R"({"spec":{"ports":[{"port":80},{"port":443}]}})",
                    R"({"spec":{"ports":[{"port":80,"name":"http"},{"port":8443}]}})");
  expect_round_trip(R"({"spec":{"list":[1,2,3]}})", R"({"spec":{"list":[1]}})");
  expect_round_trip(R"({"spec":{"list":[]}})", R"({"spec":{"list":[{"a":1}],"x":null}})");
  expect_round_trip(R"({"spec":{"v":"text"}})", R"({"spec":{"v":{"now":"object"}}})");
  expect_round_trip(R"({"a":{"b":{"c":{"d":1}}}})", R"({"a":{"b":{}}})");
  expect_round_trip(R"({"metadata":{"labels":{"a":"1"}}})", R"({"metadata":{}})");
}

}  // namespace
}  // namespace kop::webhook
