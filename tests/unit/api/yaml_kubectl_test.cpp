// The YAML reader against kubectl: for each scalar, the JSON that kubectl v1.32.4 sent to the
// real API server tool (kube-apiserver v1.20.2) for the same file, recorded by hand with
// `kubectl create --dry-run=server -v=9 -f F` (docs/real-apiserver.md, "YAML reader"); the
// same table is in docs/api.md.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "kop/api/json.h"
#include "kop/api/yaml.h"

namespace kop::api {
namespace {

using ::testing::HasSubstr;

// The value of `v` when `text` is read, as JSON; or the error.
std::string value_of(std::string_view yaml_value) {
  auto docs = yaml_to_json("v: " + std::string(yaml_value) + "\n", "t.yaml");
  if (!docs.ok()) return "error: " + std::string(docs.status().message());
  return json::to_json(*json::find((*docs)[0], "v"));
}

struct Case {
  std::string_view yaml;
  std::string_view kubectl;  // the JSON kubectl sent
};

// Numbers compare as the API server reads them (kubectl's "1e+21" and kop's "1e21" are the
// same double).
void expect_same_json(std::string_view yaml, std::string_view got, std::string_view want) {
  rapidjson::Document g, w;
  g.Parse(got.data(), got.size());
  w.Parse(want.data(), want.size());
  ASSERT_FALSE(w.HasParseError()) << want;
  ASSERT_FALSE(g.HasParseError()) << yaml << " -> " << got;
  // The API server keeps a number that fits int64 as an integer, any other as a float.
  ASSERT_EQ(g.IsInt64(), w.IsInt64()) << yaml << " -> " << got << ", kubectl sent " << want;
  if (w.IsNumber() && !w.IsInt64()) {
    ASSERT_TRUE(g.IsNumber()) << yaml << " -> " << got << ", kubectl sent " << want;
    EXPECT_EQ(g.GetDouble(), w.GetDouble()) << yaml << " -> " << got << ", kubectl sent " << want;
  } else {
    EXPECT_EQ(g, w) << yaml << " -> " << got << ", kubectl sent " << want;
  }
}

TEST(YamlKubectlTest, ScalarsReadAsKubectlSendsThem) {
  const Case cases[] = {
      // YAML 1.1 booleans, exactly these spellings.
      {"yes", "true"},
      {"no", "false"},
      {"on", "true"},
      {"off", "false"},
      {"y", "true"},
      {"n", "false"},
      {"Yes", "true"},
      {"NO", "false"},
      {"True", "true"},
      {"ON", "true"},
      {"oN", R"("oN")"},
      {R"("yes")", R"("yes")"},
      // Nulls.
      {"~", "null"},
      {"null", "null"},
      {"", "null"},
      // Integers: Go syntax (0x, 0o, 0b, a leading 0 is octal), underscores dropped.
      {"0x1F", "31"},
      {"0X1f", "31"},
      {"-0x1F", "-31"},
      {"0x_1F", "31"},
      {"0o17", "15"},
      {"0O17", "15"},
      {"017", "15"},
      {"012", "10"},
      {"08", "8"},  // not octal: read as the float 8, sent as 8
      {"0b1010", "10"},
      {"0B11", "3"},
      {"-0b101", "-5"},
      {"0b", R"("0b")"},
      {"1_000", "1000"},
      {"1__0", "10"},
      {"1_", "1"},
      {"_1", R"("_1")"},
      {"+12", "12"},
      {"-0", "0"},
      {"9223372036854775807", "9223372036854775807"},
      {"9223372036854775808", "9223372036854776000"},
      {"-9223372036854775809", "-9223372036854776000"},
      {"18446744073709551615", "18446744073709552000"},
      {"123456789012345678901234567890", "1.2345678901234568e+29"},
      // Floats: a whole number goes out as an integer.
      {"1e3", "1000"},
      {"1.0e+3", "1000"},
      {"1e3_0", "1e+30"},
      {"1e20", "100000000000000000000"},
      {"1e21", "1e+21"},
      {"1.10", "1.1"},
      {R"("1.10")", R"("1.10")"},
      {"1.5", "1.5"},
      {"-1.0", "-1"},
      {"1.", "1"},
      {".5", "0.5"},
      {"+.5", "0.5"},
      {"0.1e-7", "1e-8"},
      {"1e-7", "1e-7"},
      {"0.000001", "0.000001"},
      {"1e400", R"("1e400")"},  // out of range: a string
      // Not numbers.
      {"+", R"("+")"},
      {".", R"(".")"},
      {"12:30", R"("12:30")"},  // no YAML 1.1 sexagesimal
      {"190:20:30", R"("190:20:30")"},
      // Timestamps are sent as their text.
      {"2001-12-14t21:59:43.10-05:00", R"("2001-12-14t21:59:43.10-05:00")"},
      {"2002-12-14", R"("2002-12-14")"},
      {"!!timestamp 2002-12-14", R"("2002-12-14")"},
      // Tags.
      {"!!binary aGVsbG8=", R"("hello")"},
      {R"(!!binary "////")", R"("\ufffd\ufffd\ufffd")"},
      {R"(!!int "5")", "5"},
      {"!!str 80", R"("80")"},
      {"!!float 1", "1"},
      {"!!bool yes", "true"},
      {"!!bool True", "true"},
      {R"(!!null "")", "null"},
      {"!!str", R"("")"},
      {"!!str null", R"("null")"},
      {"!foo 5", R"("5")"},
      {"!foo yes", R"("yes")"},
      {"! 5", R"("5")"},
  };
  for (const Case& c : cases) expect_same_json(c.yaml, value_of(c.yaml), c.kubectl);
}

TEST(YamlKubectlTest, ValuesKubectlRefuses) {
  // kubectl: "json: unsupported value: +Inf" and "yaml: cannot decode !!float `1.5` as a !!int".
  EXPECT_THAT(value_of(".inf"), HasSubstr("+Inf has no JSON form"));
  EXPECT_THAT(value_of("-.Inf"), HasSubstr("-Inf has no JSON form"));
  EXPECT_THAT(value_of(".nan"), HasSubstr("NaN has no JSON form"));
  EXPECT_THAT(value_of("!!float 1e400"), HasSubstr("cannot decode !!str `1e400` as a !!float"));
  EXPECT_THAT(value_of("!!int 1.5"), HasSubstr("cannot decode !!float `1.5` as a !!int"));
  EXPECT_THAT(value_of("!!null foo"), HasSubstr("cannot decode !!str `foo` as a !!null"));
  EXPECT_THAT(value_of("!!timestamp foo"), HasSubstr("as a !!timestamp"));
  EXPECT_THAT(value_of("!!binary '*'"), HasSubstr("not base64"));
  auto null_key = yaml_to_json("v:\n  ~: x\n", "k.yaml");
  ASSERT_FALSE(null_key.ok());
  EXPECT_THAT(null_key.status().message(), HasSubstr("k.yaml:2:3: document index 0: a null"));
  EXPECT_FALSE(yaml_to_json("v:\n  null: x\n").ok());
  EXPECT_FALSE(yaml_to_json("v:\n  [a]: 1\n").ok());
}

TEST(YamlKubectlTest, KeysAreResolvedThenPrinted) {
  auto docs = yaml_to_json(R"(v:
  yes: a
  0x10: b
  1.5: c
  3: d
  1e3: e
  0.5e1: f
  1e6: g
  1e-5: h
  123456.5: i
  -0.0: j
  "no": k
  ? |
    x
  : l
  flow: {x: 1, y: 2}
)");
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(json::to_json(*json::find((*docs)[0], "v")),
            R"({"true":"a","16":"b","1.5":"c","3":"d","1000":"e","5":"f","1e+06":"g",)"
            R"("1e-05":"h","123456.5":"i","-0":"j","no":"k","x\n":"l",)"
            R"("flow":{"x":1,"true":2}})");
}

TEST(YamlKubectlTest, MergeKeysAsGoYamlReadsThem) {
  auto docs = yaml_to_json(R"(b: &b {k: 1, z: 2}
c: &c {k: 2}
before: {z: 3, <<: *b}
after: {<<: *b, z: 3}
list: {<<: [*b, *c]}
twice: {<<: {x: 1}, <<: {w: 2}}
alias: *b
)");
  ASSERT_TRUE(docs.ok()) << docs.status();
  const rapidjson::Value& d = (*docs)[0];
  // kubectl: {"k":1,"z":2} — the merge overwrites the key written before it.
  EXPECT_EQ(json::to_json(*json::find(d, "before")), R"({"z":2,"k":1})");
  EXPECT_EQ(json::to_json(*json::find(d, "after")), R"({"k":1,"z":3})");
  EXPECT_EQ(json::to_json(*json::find(d, "list")), R"({"k":1,"z":2})");
  EXPECT_EQ(json::to_json(*json::find(d, "twice")), R"({"x":1,"w":2})");
  EXPECT_EQ(json::to_json(*json::find(d, "alias")), R"({"k":1,"z":2})");
}

TEST(YamlKubectlTest, DuplicateKeysAreErrorsUnlikeKubectl) {
  // kubectl keeps the last value ({"a":2}) without a word; kop names the line instead, also when
  // two spellings resolve to one key (yes and true).
  auto dup = yaml_to_json("v:\n  a: 1\n  a: 2\n", "d.yaml");
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(), HasSubstr("d.yaml:3:3"));
  EXPECT_THAT(dup.status().message(), HasSubstr("\"a\" already defined"));
  EXPECT_FALSE(yaml_to_json("v:\n  yes: 1\n  true: 2\n").ok());
  // A key a merge brought in may be set once more, as above.
  EXPECT_TRUE(yaml_to_json("v: {<<: {a: 1}, a: 2}\n").ok());
  EXPECT_FALSE(yaml_to_json("v: {<<: {a: 1}, a: 2, a: 3}\n").ok());
}

TEST(YamlKubectlTest, StreamsAndWholeFloatsRoundTrip) {
  // Empty documents are skipped, as kubectl does (it created m1 and m2).
  auto objs = parse_yaml_objects(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m1}\n---\n---\n"
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m2}\n");
  ASSERT_TRUE(objs.ok()) << objs.status();
  ASSERT_EQ(objs->size(), 2u);
  EXPECT_EQ((*objs)[1].name(), "m2");
  // A JSON 2.0 written as YAML reads back as 2, which is what kubectl would send for it.
  rapidjson::Document d;
  d.Parse(R"({"f":2.0,"g":0.25,"s":"08","t":"1_0","u":"0b1"})");
  auto back = yaml_to_json(to_yaml(d));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(json::to_json((*back)[0]), R"({"f":2,"g":0.25,"s":"08","t":"1_0","u":"0b1"})");
}

}  // namespace
}  // namespace kop::api
