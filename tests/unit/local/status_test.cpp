// ApiStatus and FieldError: the exact JSON and messages of apimachinery.
#include <gtest/gtest.h>

#include "kop/local/api_status.h"
#include "test_util.h"

namespace kop::local {
namespace {

TEST(ApiStatus, InvalidAggregatesLikeApimachinery) {
  FieldErrors one = {field::required("spec.x", "x is needed")};
  EXPECT_EQ(errors::invalid("apps", "Deployment", "d", one).message,
            R"(Deployment.apps "d" is invalid: spec.x: Required value: x is needed)");
  FieldErrors two = {field::invalid("a", "v", "bad"), field::not_supported("b", "z", {"x", "y"}),
                     field::invalid("a", "v", "bad")};
  auto s = errors::invalid("", "Pod", "p", two);
  EXPECT_EQ(
      s.message,
      R"(Pod "p" is invalid: [a: Invalid value: "v": bad, b: Unsupported value: "z": supported values: "x", "y"])");
  EXPECT_EQ(s.causes.size(), 3u);
  EXPECT_EQ(
      s.to_json_string(),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
          std::string(
              R"(Pod \"p\" is invalid: [a: Invalid value: \"v\": bad, b: Unsupported value: \"z\": supported values: \"x\", \"y\"])") +
          R"(","reason":"Invalid","details":{"name":"p","kind":"Pod","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"v\": bad","field":"a"},{"reason":"FieldValueNotSupported","message":"Unsupported value: \"z\": supported values: \"x\", \"y\"","field":"b"},{"reason":"FieldValueInvalid","message":"Invalid value: \"v\": bad","field":"a"}]},"code":422})");
  auto back = ApiStatus::from_json(*json::parse(s.to_json_string()));
  EXPECT_EQ(back.message, s.message);
  EXPECT_EQ(back.causes.size(), 3u);
}

TEST(ApiStatus, Constructors) {
  EXPECT_EQ(errors::conflict("apps", "deployments", "d", "x").message,
            R"(Operation cannot be fulfilled on deployments.apps "d": x)");
  EXPECT_EQ(errors::forbidden("", "pods", "", "no").message, "pods is forbidden: no");
  EXPECT_EQ(
      errors::too_many_requests("slow down", 3).to_json_string(),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"slow down","reason":"TooManyRequests","details":{"retryAfterSeconds":3},"code":429})");
  EXPECT_EQ(
      errors::expired("too old resource version: 1 (2)").to_json_string(),
      R"x({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (2)","reason":"Expired","code":410})x");
  EXPECT_EQ(field::quote("a\"b\\c\n"), R"("a\"b\\c\n")");
  EXPECT_EQ(field::too_many("endpoints", 1001, 1000).body(),
            "Too many: 1001: must have at most 1000 items");
}

}  // namespace
}  // namespace kop::local
