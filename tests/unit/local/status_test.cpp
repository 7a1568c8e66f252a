// kop::local's errors: field.Error messages and the Status JSON the API server writes, built on
// kop/client/errors.h.
#include <gtest/gtest.h>

#include "errors.h"
#include "test_util.h"

namespace kop::local {
namespace {

using testing::api;

TEST(Errors, InvalidAggregatesLikeApimachinery) {
  FieldErrors one = {field::required("spec.x", "x is needed")};
  EXPECT_EQ(errors::invalid("apps", "Deployment", "d", one).message(),
            R"(Deployment.apps "d" is invalid: spec.x: Required value: x is needed)");
  FieldErrors two = {field::invalid("a", "v", "bad"), field::not_supported("b", "z", {"x", "y"}),
                     field::invalid("a", "v", "bad")};
  absl::Status s = errors::invalid("", "Pod", "p", two);
  EXPECT_TRUE(client::is_invalid(s));
  EXPECT_EQ(
      s.message(),
      R"(Pod "p" is invalid: [a: Invalid value: "v": bad, b: Unsupported value: "z": supported values: "x", "y"])");
  EXPECT_EQ(client::causes_of(s).size(), 3u);
  EXPECT_EQ(
      client::to_json(api(s)),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
          std::string(
              R"(Pod \"p\" is invalid: [a: Invalid value: \"v\": bad, b: Unsupported value: \"z\": supported values: \"x\", \"y\"])") +
          R"(","reason":"Invalid","details":{"name":"p","kind":"Pod","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"v\": bad","field":"a"},{"reason":"FieldValueNotSupported","message":"Unsupported value: \"z\": supported values: \"x\", \"y\"","field":"b"},{"reason":"FieldValueInvalid","message":"Invalid value: \"v\": bad","field":"a"}]},"code":422})");
}

TEST(Errors, ServerSideOnes) {
  EXPECT_EQ(
      client::to_json(api(errors::too_large_resource_version(9, 5))),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: Too large resource version: 9, current: 5","reason":"Timeout","details":{"causes":[{"reason":"ResourceVersionTooLarge","message":"Too large resource version"}],"retryAfterSeconds":1},"code":504})");
  EXPECT_EQ(
      client::to_json(api(errors::resource_not_served())),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404})");
  EXPECT_EQ(
      errors::conflict_modified("apps", "deployments", "d").message(),
      R"(Operation cannot be fulfilled on deployments.apps "d": the object has been modified; please apply your changes to the latest version and try again)");
  EXPECT_EQ(field::quote("a\"b\\c\n"), R"("a\"b\\c\n")");
  EXPECT_EQ(field::too_many("endpoints", 1001, 1000).body(),
            "Too many: 1001: must have at most 1000 items");
}

}  // namespace
}  // namespace kop::local
