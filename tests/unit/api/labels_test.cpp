#include "kop/api/labels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kop/api/validation.h"

namespace kop::api {
namespace {

using ::testing::HasSubstr;

LabelSelector must_parse(std::string_view s) {
  auto sel = LabelSelector::parse(s);
  EXPECT_TRUE(sel.ok()) << s << ": " << sel.status();
  return sel.ok() ? *sel : LabelSelector::nothing();
}

bool match(std::string_view sel, const StringMap& labels) {
  return must_parse(sel).matches(labels);
}

TEST(LabelSelectorParseTest, CanonicalRoundTrip) {
  struct Case {
    std::string_view in, out;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"", ""},
           {"x=a,y=b,z=c", "x=a,y=b,z=c"},
           {"x!=a,y=b", "x!=a,y=b"},
           {"x=", "x="},
           {"x= ", "x="},
           {"x=,z= ", "x=,z="},
           {"!x", "!x"},
           {"x>1,z<5", "x>1,z<5"},
           {"x==a", "x==a"},
           {"  app = web ,  tier!=db  ", "app=web,tier!=db"},
           {"\rx", "x"},
           {"foo  in\t (abc)", "foo in (abc)"},
           {"x notin\n (abc)", "x notin (abc)"},
           {"x in (def,abc,def)", "x in (abc,def)"},  // sorted, de-duplicated
           {"x in (abc,)", "x in (,abc)"},
           {"x in ()", "x in ()"},
           {"x notin ( )", "x notin ()"},
           {"x notin (, a)", "x notin (,a)"},
           {"x in (a,,b)", "x in (,a,b)"},
           {"z in (a),y,x notin (b),!w", "!w,x notin (b),y,z in (a)"},  // sorted by key
           {"a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"},         // keywords as values
           {"notin=in", "notin=in"},                                    // keywords as key and value
           {"example.com/app in (a.b_c-d)", "example.com/app in (a.b_c-d)"},
           {"0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"},
       }) {
    auto sel = LabelSelector::parse(c.in);
    ASSERT_TRUE(sel.ok()) << c.in << ": " << sel.status();
    EXPECT_EQ(sel->to_string(), c.out) << c.in;
    auto again = LabelSelector::parse(sel->to_string());
    ASSERT_TRUE(again.ok()) << c.out;
    EXPECT_EQ(*again, *sel) << c.in;
  }
}

TEST(LabelSelectorParseTest, DeterministicOrder) {
  EXPECT_EQ(must_parse("x=a,a=x").to_string(), must_parse("a=x,x=a").to_string());
  // Same key twice keeps the written order (stable).
  EXPECT_EQ(must_parse("z!=a,z").to_string(), "z!=a,z");
}

TEST(LabelSelectorParseTest, ErrorsNamePosition) {
  struct Case {
    std::string_view in;
    std::string_view fragment;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"x=a||y=b", "position 2: invalid value \"a||y\""},
           {"x==a==b", "position 4: found '==', expected: ',' or end of string"},
           {"!x=a", "position 2: found '=', expected: ',' or end of string"},
           {"x<a", "position 2: for '>', '<' operators, the value must be an integer"},
           {",x,y", "position 0: found ',', expected: !, identifier, or end of string"},
           {"x nott in (y)", "position 2: found 'nott', expected: in, notin"},
           {"a in (xyz),", "position 11: found end of string, expected: identifier after ','"},
           {"a in (xyz)b notin ()", "position 10: found 'b', expected: ',' or end of string"},
           {"a in (xyz abc)", "position 10: found 'abc', expected: ',' or ')'"},
           {"a notin(", "position 8: found end of string"},
           {"a (", "position 2: found '(', expected: in, notin"},
           {"(", "position 0: found '('"},
           {"x in a", "position 5: found 'a', expected: '('"},
           {"x=(a)", "position 2: found '(', expected: identifier"},
           {"-bad=1", "position 0: invalid value \"-bad\""},
           {"a/b/c=1", "position 0:"},
           {"x=-1", "position 2: invalid value \"-1\""},
           {"x>-1", "position 2:"},  // a label value cannot start with '-'
       }) {
    auto sel = LabelSelector::parse(c.in);
    ASSERT_FALSE(sel.ok()) << c.in;
    EXPECT_EQ(sel.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(sel.status().message(), HasSubstr(c.fragment)) << c.in;
    EXPECT_THAT(sel.status().message(), HasSubstr("label selector \"")) << c.in;
  }
  // Keys: 63-character name part and 253-character prefix are the limits.
  std::string name63(63, 'a');
  EXPECT_TRUE(LabelSelector::parse(name63).ok());
  EXPECT_FALSE(LabelSelector::parse(name63 + "a").ok());
  std::string long_value(64, 'v');
  EXPECT_FALSE(LabelSelector::parse("k=" + long_value).ok());
  EXPECT_FALSE(LabelSelector::parse(std::string(254, 'a')).ok());
  EXPECT_TRUE(LabelSelector::parse("Example.com/x").ok() == false);  // prefix is lowercase DNS
}

TEST(LabelSelectorMatchTest, Semantics) {
  EXPECT_TRUE(match("", {{"x", "y"}}));
  EXPECT_TRUE(match("x=y", {{"x", "y"}}));
  EXPECT_TRUE(match("x==y", {{"x", "y"}}));
  EXPECT_TRUE(match("x=y,z=w", {{"x", "y"}, {"z", "w"}}));
  EXPECT_TRUE(match("x!=y,z!=w", {{"x", "z"}, {"z", "a"}}));
  EXPECT_TRUE(match("x!=y", {}));  // != also holds when the label is absent
  EXPECT_TRUE(match("notin=in", {{"notin", "in"}}));
  EXPECT_TRUE(match("x", {{"x", "z"}}));
  EXPECT_TRUE(match("x", {{"x", ""}}));
  EXPECT_TRUE(match("!x", {{"y", "z"}}));
  EXPECT_TRUE(match("x>1", {{"x", "2"}}));
  EXPECT_TRUE(match("x<1", {{"x", "0"}}));
  EXPECT_TRUE(match("x in (a,b)", {{"x", "b"}}));
  EXPECT_TRUE(match("x notin (a,b)", {{"x", "c"}}));
  EXPECT_TRUE(match("x notin (a,b)", {}));
  EXPECT_TRUE(match("x in ()", {{"x", ""}}));
  EXPECT_TRUE(match("x=", {{"x", ""}}));

  EXPECT_FALSE(match("x=z", {}));
  EXPECT_FALSE(match("x=y", {{"x", "z"}}));
  EXPECT_FALSE(match("x=y,z=w", {{"x", "w"}, {"z", "w"}}));
  EXPECT_FALSE(match("x!=y,z!=w", {{"x", "z"}, {"z", "w"}}));
  EXPECT_FALSE(match("x", {{"y", "z"}}));
  EXPECT_FALSE(match("!x", {{"x", "z"}}));
  EXPECT_FALSE(match("x>1", {{"x", "0"}}));
  EXPECT_FALSE(match("x>1", {{"x", "v2"}}));  // not an integer
  EXPECT_FALSE(match("x>1", {}));
  EXPECT_FALSE(match("x<1", {{"x", "2"}}));
  EXPECT_FALSE(match("x in (a,b)", {{"x", "c"}}));
  EXPECT_FALSE(match("x in (a,b)", {}));
  EXPECT_FALSE(match("x notin (a,b)", {{"x", "a"}}));
  EXPECT_FALSE(match("x in ()", {{"y", "baz"}}));
  EXPECT_FALSE(match("foo=bar,foobar=bar,baz=blah", {{"foo", "bar"}, {"baz", "blah"}}));
}

TEST(LabelSelectorMatchTest, ObjectsAndMaps) {
  auto obj = Object::parse(R"({"metadata":{"labels":{"app":"web","tier":"fe"}}})");
  ASSERT_TRUE(obj.ok());
  EXPECT_TRUE(must_parse("app=web,tier in (fe,be)").matches(*obj));
  EXPECT_FALSE(must_parse("app=web,!tier").matches(*obj));
  Object bare;
  EXPECT_TRUE(must_parse("!app").matches(bare));
  EXPECT_FALSE(must_parse("app").matches(bare));
  absl::flat_hash_map<std::string, std::string> m{{"app", "web"}};
  EXPECT_TRUE(must_parse("app=web").matches(m));
  EXPECT_FALSE(must_parse("app=db").matches(m));
  EXPECT_TRUE(LabelSelector::everything().matches(bare));
  EXPECT_FALSE(LabelSelector::nothing().matches(bare));
  EXPECT_FALSE(LabelSelector::nothing().matches(StringMap{}));
  EXPECT_TRUE(LabelSelector::nothing().is_nothing());
  EXPECT_FALSE(LabelSelector::nothing().empty());
  EXPECT_TRUE(LabelSelector::everything().empty());
}

TEST(LabelSelectorTest, FromMapAndAdd) {
  LabelSelector s = LabelSelector::from_map({{"b", "2"}, {"a", "1"}});
  EXPECT_EQ(s.to_string(), "a=1,b=2");
  EXPECT_TRUE(s.matches(StringMap{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
  EXPECT_FALSE(s.matches(StringMap{{"a", "1"}}));
  EXPECT_TRUE(LabelSelector::from_map({}).empty());
  auto r = LabelRequirement::create("aa", SelectorOperator::kNotIn, {"y", "x", "y"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->values(), (std::vector<std::string>{"x", "y"}));
  s.add(*r);
  EXPECT_EQ(s.to_string(), "a=1,aa notin (x,y),b=2");
  EXPECT_EQ(s.requires_exact_match("a"), "1");
  EXPECT_FALSE(s.requires_exact_match("aa").has_value());
  EXPECT_FALSE(s.requires_exact_match("zz").has_value());
  EXPECT_EQ(must_parse("x in (only)").requires_exact_match("x"), "only");
}

TEST(LabelRequirementTest, CreateValidates) {
  using Op = SelectorOperator;
  EXPECT_FALSE(LabelRequirement::create("x", Op::kIn, {}).ok());
  EXPECT_FALSE(LabelRequirement::create("x", Op::kNotIn, {}).ok());
  EXPECT_TRUE(LabelRequirement::create("x", Op::kIn, {"foo"}).ok());
  EXPECT_TRUE(LabelRequirement::create("x", Op::kExists).ok());
  EXPECT_FALSE(LabelRequirement::create("x", Op::kExists, {"v"}).ok());
  EXPECT_TRUE(LabelRequirement::create("1foo", Op::kIn, {"bar"}).ok());
  EXPECT_TRUE(LabelRequirement::create("y", Op::kGreaterThan, {"1"}).ok());
  EXPECT_FALSE(LabelRequirement::create("y", Op::kGreaterThan, {"bar"}).ok());
  EXPECT_FALSE(LabelRequirement::create("y", Op::kEquals, {"a", "b"}).ok());
  EXPECT_FALSE(LabelRequirement::create("y", Op::kEquals, {"bad value"}).ok());
  EXPECT_FALSE(LabelRequirement::create(std::string(254, 'a'), Op::kExists).ok());
  EXPECT_FALSE(LabelRequirement::create("", Op::kExists).ok());
}

TEST(LabelSelectorJsonTest, StructuredForm) {
  rapidjson::Document d;
  d.Parse(R"({
    "matchLabels": {"app": "web"},
    "matchExpressions": [
      {"key": "tier", "operator": "In", "values": ["fe", "be"]},
      {"key": "env", "operator": "NotIn", "values": ["dev"]},
      {"key": "release", "operator": "Exists"},
      {"key": "canary", "operator": "DoesNotExist", "values": []}
    ]})");
  auto s = LabelSelector::from_json(d);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->to_string(), "app=web,!canary,env notin (dev),release,tier in (be,fe)");
  EXPECT_TRUE(s->matches(StringMap{{"app", "web"}, {"tier", "fe"}, {"release", "1"}}));
  EXPECT_FALSE(s->matches(StringMap{{"app", "web"}, {"tier", "fe"}}));
  EXPECT_FALSE(
      s->matches(StringMap{{"app", "web"}, {"tier", "fe"}, {"release", "1"}, {"canary", "true"}}));
  EXPECT_FALSE(
      s->matches(StringMap{{"app", "web"}, {"tier", "fe"}, {"release", "1"}, {"env", "dev"}}));
  // The string form round-trips through the parser.
  auto re = LabelSelector::parse(s->to_string());
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(*re, *s);
}

TEST(LabelSelectorJsonTest, NullEmptyAndErrors) {
  auto none = LabelSelector::from_json(nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->is_nothing());
  rapidjson::Value null_value;
  EXPECT_TRUE(LabelSelector::from_json(null_value)->is_nothing());
  rapidjson::Document empty;
  empty.Parse("{}");
  EXPECT_TRUE(LabelSelector::from_json(empty)->empty());

  for (std::string_view bad : {
           R"([])",
           R"({"matchLabels": []})",
           R"({"matchLabels": {"a": 1}})",
           R"({"matchLabels": {"a": "bad value"}})",
           R"({"matchExpressions": {}})",
           R"({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})",
           R"({"matchExpressions": [{"key": "a", "operator": "In"}]})",
           R"({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})",
           R"({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]})",
           R"({"matchExpressions": ["x"]})",
       }) {
    rapidjson::Document d;
    d.Parse(bad.data(), bad.size());
    auto s = LabelSelector::from_json(d);
    EXPECT_FALSE(s.ok()) << bad;
  }
  rapidjson::Document gt;
  gt.Parse(R"({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})");
  EXPECT_THAT(LabelSelector::from_json(gt).status().message(),
              HasSubstr("\"Gt\" is not a valid label selector operator"));
}

TEST(ValidationTest, NamesAndLabels) {
  EXPECT_TRUE(validate_dns1123_label("web-0").ok());
  EXPECT_FALSE(validate_dns1123_label("Web").ok());
  EXPECT_FALSE(validate_dns1123_label("-web").ok());
  EXPECT_FALSE(validate_dns1123_label("a.b").ok());
  EXPECT_FALSE(validate_dns1123_label(std::string(64, 'a')).ok());
  EXPECT_TRUE(validate_dns1123_subdomain("a.b-c.d").ok());
  EXPECT_FALSE(validate_dns1123_subdomain("a..b").ok());
  EXPECT_FALSE(validate_dns1123_subdomain("").ok());
  EXPECT_TRUE(validate_qualified_name("kubernetes.io/ingress.class").ok());
  EXPECT_TRUE(validate_qualified_name("My_Name.x").ok());
  EXPECT_FALSE(validate_qualified_name("/x").ok());
  EXPECT_FALSE(validate_qualified_name("x/").ok());
  EXPECT_FALSE(validate_qualified_name("a/b/c").ok());
  EXPECT_FALSE(validate_qualified_name("x_").ok());
  EXPECT_TRUE(validate_label_value("").ok());
  EXPECT_TRUE(validate_label_value("v1.2_3-x").ok());
  EXPECT_FALSE(validate_label_value("has space").ok());
  EXPECT_FALSE(validate_label_value(std::string(64, 'a')).ok());
}

}  // namespace
}  // namespace kop::api
