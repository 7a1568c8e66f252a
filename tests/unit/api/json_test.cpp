// kop/api/json.h: parsing with errors, paths, deep copies, JSON semantic equality, type names.
#include "kop/api/json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace {

namespace json = kop::api::json;

json::Document doc(const char* text) {
  auto d = json::parse(text);
  EXPECT_TRUE(d.has_value()) << text;
  return d ? std::move(*d) : json::Document();
}

json::Document number(auto n) {
  json::Document d;
  if constexpr (std::is_same_v<decltype(n), double>) {
    d.SetDouble(n);
  } else if constexpr (std::is_signed_v<decltype(n)>) {
    d.SetInt64(n);
  } else {
    d.SetUint64(n);
  }
  return d;
}

TEST(JsonParse, ErrorNamesTheOffset) {
  std::string error;
  EXPECT_FALSE(json::parse(R"({"a": x})", &error).has_value());
  EXPECT_EQ(error, "Invalid value. at offset 6");
  EXPECT_FALSE(json::parse("1e999", &error).has_value());
  EXPECT_EQ(error, "Number too big to be stored in double. at offset 0");
  EXPECT_FALSE(json::parse("").has_value());  // no error string asked for: no crash
}

TEST(JsonPath, WalksMembers) {
  auto d = doc(R"({"metadata":{"name":"web","labels":{"app":1}}})");
  EXPECT_EQ(json::path_string(d, {"metadata", "name"}), "web");
  EXPECT_EQ(json::path_string(d, {"metadata", "labels", "app"}), "");  // not a string
  EXPECT_EQ(json::path(d, {"metadata", "missing", "x"}), nullptr);
  EXPECT_EQ(json::path(d, {"metadata", "name", "x"}), nullptr);  // through a string
  EXPECT_EQ(json::path(d, {}), &d);
}

TEST(JsonSetString, CreatesAndReplaces) {
  json::Document d;
  d.SetArray();  // not an object: becomes one
  json::set_string(d, "a", "1", d.GetAllocator());
  json::set_string(d, "a", "2", d.GetAllocator());
  EXPECT_EQ(json::to_json(d), R"({"a":"2"})");
}

TEST(JsonClone, IsDeepAndIndependent) {
  auto d = doc(R"({"a":[1,{"b":"c"}]})");
  json::Document c = json::clone(d);
  json::set_string(d, "a", "gone", d.GetAllocator());
  EXPECT_EQ(json::to_json(c), R"({"a":[1,{"b":"c"}]})");
  json::Value v = json::copy(c["a"], d.GetAllocator());
  EXPECT_EQ(json::to_json(v), R"([1,{"b":"c"}])");
}

TEST(JsonEqual, StructuresCompareDeeplyAndIgnoreMemberOrder) {
  EXPECT_TRUE(
      json::equal(doc(R"({"a":1,"b":[true,null,"x"]})"), doc(R"({"b":[true,null,"x"],"a":1})")));
  EXPECT_FALSE(json::equal(doc(R"({"a":1})"), doc(R"({"a":1,"b":2})")));
  EXPECT_FALSE(json::equal(doc(R"({"a":1,"c":2})"), doc(R"({"a":1,"b":2})")));
  EXPECT_FALSE(json::equal(doc("[1,2]"), doc("[2,1]")));
  EXPECT_FALSE(json::equal(doc("true"), doc("false")));
  EXPECT_FALSE(json::equal(doc("null"), doc("false")));
  EXPECT_FALSE(json::equal(doc(R"("1")"), doc("1")));
  EXPECT_TRUE(json::equal(doc("{}"), doc("{}")));
}

TEST(JsonEqual, NumbersCompareByValue) {
  EXPECT_TRUE(json::equal(doc("1"), doc("1.0")));
  EXPECT_TRUE(json::equal(doc("-3"), doc("-3e0")));
  EXPECT_TRUE(json::equal(doc("0"), doc("-0.0")));
  EXPECT_FALSE(json::equal(doc("1"), doc("1.5")));
  EXPECT_TRUE(json::equal(doc("0.5"), doc("5e-1")));
  // Int, Uint, Int64 and Uint64 are RapidJSON storage classes, not JSON types.
  EXPECT_TRUE(json::equal(number(int64_t{7}), number(uint64_t{7})));
  EXPECT_TRUE(json::equal(doc("4294967296"), number(int64_t{4294967296})));
}

TEST(JsonEqual, IntegersNeverMeetThroughDoubleRounding) {
  constexpr uint64_t kMaxU = std::numeric_limits<uint64_t>::max();
  constexpr int64_t kMinI = std::numeric_limits<int64_t>::min();
  EXPECT_FALSE(json::equal(number(int64_t{-1}), number(kMaxU)));
  EXPECT_FALSE(json::equal(number(kMaxU), number(int64_t{-1})));
  EXPECT_TRUE(json::equal(number(kMaxU), number(kMaxU)));
  EXPECT_TRUE(json::equal(number(kMinI), number(kMinI)));
  EXPECT_FALSE(json::equal(number(kMinI), number(uint64_t{1} << 63)));
  // 2^53 + 1 is no double: the nearest one (2^53) is another number.
  constexpr int64_t k2p53 = int64_t{1} << 53;
  EXPECT_FALSE(json::equal(number(k2p53 + 1), number(static_cast<double>(k2p53))));
  EXPECT_FALSE(json::equal(number(static_cast<double>(k2p53)), number(k2p53 + 1)));
  EXPECT_TRUE(json::equal(number(k2p53), number(static_cast<double>(k2p53))));
  // uint64 max rounds up to the double 2^64, which no uint64 holds.
  EXPECT_FALSE(json::equal(number(kMaxU), number(18446744073709551616.0)));
  EXPECT_FALSE(json::equal(number(18446744073709551616.0), number(kMaxU)));
  EXPECT_TRUE(json::equal(number(kMinI), number(-9223372036854775808.0)));
  EXPECT_FALSE(json::equal(number(kMinI + 1), number(-9223372036854775808.0)));
  EXPECT_FALSE(json::equal(number(int64_t{1}), number(std::numeric_limits<double>::quiet_NaN())));
}

TEST(JsonTypeName, AsKubernetesValidationSaysIt) {
  EXPECT_EQ(json::type_name(doc("null")), "null");
  EXPECT_EQ(json::type_name(doc("true")), "boolean");
  EXPECT_EQ(json::type_name(doc(R"("s")")), "string");
  EXPECT_EQ(json::type_name(doc("[]")), "array");
  EXPECT_EQ(json::type_name(doc("{}")), "object");
  EXPECT_EQ(json::type_name(doc("-1")), "integer");
  EXPECT_EQ(json::type_name(doc("18446744073709551615")), "integer");
  EXPECT_EQ(json::type_name(doc("2.0")), "integer");
  EXPECT_EQ(json::type_name(doc("2.5")), "number");
}

}  // namespace
