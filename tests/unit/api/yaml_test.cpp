#include "kop/api/yaml.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kop/api/json.h"

namespace kop::api {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kManifests = R"(# Two objects and some empty documents.
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
  labels:
    app: web
  annotations:
    port-as-string: "80"
    enabled: "yes"
spec:
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: "http"
    protocol: TCP
---
---
# only a comment
...
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - host: example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
)";

TEST(YamlTest, MultiDocumentManifests) {
  auto objs = parse_yaml_objects(kManifests, "web.yaml");
  ASSERT_TRUE(objs.ok()) << objs.status();
  ASSERT_EQ(objs->size(), 2u);
  const Object& svc = (*objs)[0];
  EXPECT_EQ(svc.kind(), "Service");
  EXPECT_EQ(svc.namespace_(), "default");
  EXPECT_EQ(svc.labels(), (StringMap{{"app", "web"}}));
  EXPECT_EQ(svc.annotation("port-as-string"), "80");
  EXPECT_EQ(svc.annotation("enabled"), "yes");  // YAML 1.1 boolean words stay strings
  EXPECT_EQ(svc.get_int("/spec/ports/0/port"), 80);
  EXPECT_EQ(svc.get_string("/spec/ports/0/targetPort"), "http");
  EXPECT_EQ(svc.get_string("/spec/selector/app"), "web");
  const Object& ing = (*objs)[1];
  EXPECT_EQ(ing.gvk(), (GroupVersionKind{"networking.k8s.io", "v1", "Ingress"}));
  EXPECT_EQ(ing.get_int("/spec/rules/0/http/paths/0/backend/service/port/number"), 80);
}

TEST(YamlTest, KeysAnchorsMergesAndBlocks) {
  auto docs = yaml_to_json(R"(
80: numeric key
"true": bool key
base: &base
  a: 1
  b: 2
derived:
  <<: *base
  b: 3
  c: 4
multi:
  <<: [{x: 1}, {x: 2, z: 2}]
list: &l [1, 2]
again: *l
literal: |
  line one
  line two
folded: >
  folded
  text
stripped: |-
  no newline
)");
  ASSERT_TRUE(docs.ok()) << docs.status();
  const rapidjson::Value& d = (*docs)[0];
  EXPECT_EQ(json::get_string(&d, "80"), "numeric key");
  EXPECT_EQ(json::get_string(&d, "true"), "bool key");
  const rapidjson::Value* derived = json::find(d, "derived");
  EXPECT_EQ(json::get_int(derived, "a"), 1);
  EXPECT_EQ(json::get_int(derived, "b"), 3);  // explicit key wins over the merge
  EXPECT_EQ(json::get_int(derived, "c"), 4);
  EXPECT_EQ(json::find(derived, "<<"), nullptr);
  const rapidjson::Value* multi = json::find(d, "multi");
  EXPECT_EQ(json::get_int(multi, "x"), 1);  // first merge source wins
  EXPECT_EQ(json::get_int(multi, "z"), 2);
  EXPECT_EQ(json::to_json(*json::find(d, "again")), "[1,2]");
  EXPECT_EQ(json::get_string(&d, "literal"), "line one\nline two\n");
  EXPECT_EQ(json::get_string(&d, "folded"), "folded text\n");
  EXPECT_EQ(json::get_string(&d, "stripped"), "no newline");
}

TEST(YamlTest, ErrorsNameFileDocumentAndLine) {
  // Syntax error in the third document (index 2; the empty one counts).
  std::string_view text =
      "apiVersion: v1\nkind: ConfigMap\n---\n---\napiVersion: v1\nkind: Pod\nspec: [1, 2\n";
  auto r = parse_yaml_objects(text, "bad.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("bad.yaml:"));
  EXPECT_THAT(r.status().message(), HasSubstr("document index 2"));

  auto dup = parse_yaml_objects("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n",
                                "dup.yaml");
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(),
              HasSubstr("dup.yaml:5:3: document index 0: mapping key \"name\" already defined"));

  auto no_kind = parse_yaml_objects("apiVersion: v1\nkind: Pod\n---\napiVersion: v1\n", "k.yaml");
  ASSERT_FALSE(no_kind.ok());
  EXPECT_THAT(no_kind.status().message(), HasSubstr("k.yaml:3:1: document index 1"));
  EXPECT_THAT(no_kind.status().message(), HasSubstr("has no kind"));

  auto scalar_root = parse_yaml_objects("just text\n", "s.yaml");
  ASSERT_FALSE(scalar_root.ok());
  EXPECT_THAT(scalar_root.status().message(), HasSubstr("is not a mapping"));

  auto bad_int = yaml_to_json("a: !!int abc\n", "t.yaml");
  ASSERT_FALSE(bad_int.ok());
  EXPECT_THAT(bad_int.status().message(), HasSubstr("t.yaml:1:4: document index 0"));

  auto complex_key = yaml_to_json("? [a, b]\n: c\n", "c.yaml");
  EXPECT_FALSE(complex_key.ok());

  auto bad_merge = yaml_to_json("a:\n  <<: 5\n", "m.yaml");
  ASSERT_FALSE(bad_merge.ok());
  EXPECT_THAT(bad_merge.status().message(), HasSubstr("m.yaml:2:3"));
}

// Found by fuzzing: text opening with a NUL byte was read by yaml-cpp as UTF-16 (kubectl refuses
// it), and what kop wrote back for it did not read back equal.
TEST(YamlTest, NulBytesAreRefusedUnlessUtf16WithItsMark) {
  using namespace std::string_view_literals;
  for (std::string_view text : {"\0\x02"
                                "apiVersion: v1\n"sv,
                                "a: b\n\0c: d\n"sv}) {
    auto docs = yaml_to_json(text, "f.yaml");
    ASSERT_FALSE(docs.ok());
    EXPECT_THAT(docs.status().message(), HasSubstr("character U+0000 is not allowed"))
        << docs.status();
  }
  // "a: b" in UTF-16LE and UTF-16BE with the byte order mark, as kubectl accepts it.
  for (const std::string& utf16 : {std::string("\xFF\xFE"
                                               "a\0:\0 \0b\0\n\0",
                                               12),
                                   std::string("\xFE\xFF"
                                               "\0a\0:\0 \0b\0\n",
                                               12)}) {
    auto docs = yaml_to_json(utf16, "f.yaml");
    ASSERT_TRUE(docs.ok()) << docs.status();
    ASSERT_EQ(docs->size(), 1u);
    EXPECT_STREQ((*docs)[0]["a"].GetString(), "b");
  }
}

// Found by fuzzing (tests/fuzz/corpus/api_yaml/regress-noncharacters): kop read characters
// outside YAML's printable set that kubectl refuses wherever they stand ("control characters
// are not allowed"): U+FFFE/U+FFFF, C0 and C1 controls, DEL, also inside quotes and comments.
TEST(YamlTest, NonPrintableCharactersAreRefused) {
  struct Case {
    std::string text;
    std::string where;  // source:line:column: document index
    std::string what;
  };
  const std::vector<Case> cases = {
      {"a: \"x\x01\"\n", "f.yaml:1:6: document index 0", "U+0001"},
      {"a: 'x\x7F'\n", "f.yaml:1:6: document index 0", "U+007F"},
      {"a: x\xC2\x80\n", "f.yaml:1:5: document index 0", "U+0080"},
      {"a: \"\xEF\xBF\xBF\"\n", "f.yaml:1:5: document index 0", "U+FFFF"},
      {"a: 1 # \xEF\xBF\xBE\n", "f.yaml:1:8: document index 0", "U+FFFE"},
      {"\x1B: b\n", "f.yaml:1:1: document index 0", "U+001B"},
      {"a: 1\n---\nb: \"x\x01\"\n", "f.yaml:3:6: document index 1", "(byte offset 14)"},
      {"a: 1\n---\n---\nb: |\n  \xC3\xA9\x08\n", "f.yaml:5:4: document index 2", "U+0008"},
      // UTF-16BE with its byte order mark: a: "<U+FFFF>" (the offset counts the mark).
      {std::string("\xFE\xFF\0a\0:\0 \0\"\xFF\xFF\0\"\0\n", 16), "f.yaml:1:5: document index 0",
       "U+FFFF is not allowed in YAML text (only tab, line breaks and printable characters are; "
       "inside double quotes write it as the escape \"\\uFFFF\") (byte offset 10)"},
      // UTF-32LE reads as UTF-16LE holding U+0000, as in go-yaml.
      {std::string("\xFF\xFE\0\0a\0\0\0", 8), "f.yaml:1:1: document index 0", "U+0000"},
  };
  for (const Case& c : cases) {
    auto docs = yaml_to_json(c.text, "f.yaml");
    ASSERT_FALSE(docs.ok()) << c.text;
    EXPECT_EQ(docs.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(docs.status().message(), HasSubstr(c.where)) << docs.status();
    EXPECT_THAT(docs.status().message(), HasSubstr(c.what)) << docs.status();
  }
  // Nothing is handed over from text kubectl refuses, not even the documents before the problem.
  size_t handed = 0;
  auto s = for_each_yaml_document("a: 1\n---\nb: \x01\n", "f.yaml",
                                  [&](rapidjson::Document&&, size_t) { ++handed; });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(handed, 0u);
}

TEST(YamlTest, BrokenUtf16IsAnError) {
  for (const std::string& text : {
           std::string("\xFF\xFE"
                       "a\0:",
                       5),  // ends inside a character
           std::string("\xFF\xFE"
                       "a\0:\0 \0\x00\xDC",
                       10),  // a low surrogate alone
           std::string("\xFF\xFE"
                       "a\0:\0 \0\x00\xD8x\0",
                       12),  // a high surrogate alone
       }) {
    auto docs = yaml_to_json(text, "f.yaml");
    ASSERT_FALSE(docs.ok());
    EXPECT_THAT(docs.status().message(), HasSubstr("UTF-16")) << docs.status();
  }
  // A surrogate pair is one character: U+1F600.
  auto docs =
      yaml_to_json(std::string("\xFF\xFE"
                               "a\0:\0 \0\x3D\xD8\x00\xDE",
                               12));
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_STREQ((*docs)[0]["a"].GetString(), "\xF0\x9F\x98\x80");
}

// The escapes of double-quoted strings are text, so they may name any character.
TEST(YamlTest, EscapesMayNameAnyCharacter) {
  auto docs = yaml_to_json(R"(a: "\uFFFF\x01\0\U0001FFFE\x7F\u0085\t")");
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(json::as_string_view((*docs)[0]["a"]),
            std::string_view("\xEF\xBF\xBF\x01\0\xF0\x9F\xBF\xBE\x7F\xC2\x85\t", 13));
  // YAML's named escapes for U+0085, U+00A0, U+2028 and U+2029 (yaml-cpp writes the first two
  // as single bytes; they are read as the characters, as go-yaml reads them).
  auto named = yaml_to_json(R"({"\N\_\L\P": "x\N\_y\L\Pz"})");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(json::as_string_view((*named)[0]["\xC2\x85\xC2\xA0\xE2\x80\xA8\xE2\x80\xA9"]),
            "x\xC2\x85\xC2\xA0y\xE2\x80\xA8\xE2\x80\xA9z");
  auto surrogate = yaml_to_json(R"(a: "\uD800")", "f.yaml");
  ASSERT_FALSE(surrogate.ok());
  EXPECT_THAT(surrogate.status().message(), HasSubstr("f.yaml:1:"));
  EXPECT_THAT(surrogate.status().message(), HasSubstr("invalid unicode"));
}

TEST(YamlTest, AliasBombIsRejected) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    text += fmt::format("a{}: &a{} [", i, i);
    for (int j = 0; j < 10; ++j) text += fmt::format("{}*a{}", j ? ", " : "", i - 1);
    text += "]\n";
  }
  auto r = yaml_to_json(text, "bomb.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("too large"));
}

TEST(YamlTest, EmptyInputAndListExpansion) {
  auto none = parse_yaml_objects("", "e.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto only_comments = parse_yaml_objects("# nothing\n---\n# more\n", "e.yaml");
  ASSERT_TRUE(only_comments.ok());
  EXPECT_TRUE(only_comments->empty());

  auto list = parse_yaml_objects(R"(apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: b}
)");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].name(), "b");

  auto one = parse_yaml_object("apiVersion: v1\nkind: Secret\n");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->kind(), "Secret");
  EXPECT_FALSE(parse_yaml_object(kManifests).ok());  // two objects
}

TEST(YamlTest, JsonIsYaml) {
  auto objs = parse_yaml_objects(R"({"apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "x"}, "data": {"port": "80", "n": 1}})");
  ASSERT_TRUE(objs.ok()) << objs.status();
  ASSERT_EQ(objs->size(), 1u);
  EXPECT_EQ((*objs)[0].get_string("/data/port"), "80");
  EXPECT_EQ((*objs)[0].get_int("/data/n"), 1);
}

TEST(YamlRoundTripTest, JsonToYamlToJson) {
  auto obj = Object::parse(R"({
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "cfg", "labels": {"a": "1"}, "annotations": {}},
    "data": {
      "port": "80", "flag": "true", "word": "yes", "nul": "null", "empty": "",
      "float_like": "1.5", "octal_like": "0644", "hex_like": "0x10", "tilde": "~",
      "colon": "key: value", "dash": "- item", "hash": "# not a comment",
      "cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
      "two_newlines": "a\n\n", "no_trailing": "a\nb", "leading_space": " a\nb\n",
      "quote": "say \"hi\"", "unicode": "h\u00e9llo", "tab": "a\tb", "merge": "<<",
      "star": "*alias", "amp": "&anchor", "brace": "{x}", "percent": "%x", "at": "@x"
    },
    "spec": {"n": 80, "neg": -1, "f": 0.25, "whole_float": 2, "big": 12345678901234,
             "t": true, "f2": false, "z": null, "list": [1, "2", [], {}],
             "nested": [{"a": [{"b": null}]}]}
  })");
  ASSERT_TRUE(obj.ok()) << obj.status();
  std::string y = to_yaml(*obj);
  auto back = parse_yaml_objects(y);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << y;
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], *obj) << y << "\n" << (*back)[0].to_json_pretty();
  EXPECT_EQ((*back)[0].to_json(), obj->to_json());  // member order kept too
  // Certificates are written as literal blocks.
  EXPECT_THAT(y, HasSubstr("cert: |\n"));
}

// Found by fuzzing (tests/fuzz/api_json): a lone carriage return was written plain and read
// back as an empty value.
TEST(YamlRoundTripTest, CarriageReturnsSurvive) {
  for (std::string_view text : {"\r", "a\r", "\ra", "\r\n", "a\rb"}) {
    Object obj("v1", "ConfigMap");
    ASSERT_TRUE(obj.set_string("/data/v", text).ok());
    std::string y = to_yaml(obj);
    auto back = parse_yaml_objects(y);
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << y;
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ((*back)[0].get_string("/data/v"), text) << y;
  }
}

// Found by fuzzing (tests/fuzz/api_yaml): yaml-cpp's emitter wrote U+FFFE and U+FFFF as U+FFFD
// and left characters kubectl refuses raw. Every character, in a value, a key, a list item, a
// multi-line string and alone, must read back as it was written.
TEST(YamlRoundTripTest, EveryCharacterRoundTrips) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  rapidjson::Value values(rapidjson::kObjectType);
  rapidjson::Value list(rapidjson::kArrayType);
  std::string block;
  auto flush = [&](char32_t first) {
    auto str = [&](const std::string& s) { return rapidjson::Value(s.data(), s.size(), alloc); };
    std::string key = fmt::format("k{:X}", static_cast<uint32_t>(first)) + block;
    values.AddMember(str(key), str(block), alloc);
    list.PushBack(str("x" + block + "y"), alloc);
    list.PushBack(str("line\n" + block + "\n"), alloc);  // a literal block unless escaped
    block.clear();
  };
  // Every character of the BMP; of the other planes, which the writer treats alike except for
  // their last two (noncharacters), the first and the last 256.
  char32_t first = 0;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;  // not characters, no UTF-8 form
    if (c > 0xFFFF && (c & 0xFFFF) == 0x100) {
      c |= 0xFF00;  // on to the plane's last 256
      first = c;
    }
    if (c < 0x80) {
      block += static_cast<char>(c);
    } else if (c < 0x800) {
      block += static_cast<char>(0xC0 | (c >> 6));
      block += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      block += static_cast<char>(0xE0 | (c >> 12));
      block += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      block += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      block += static_cast<char>(0xF0 | (c >> 18));
      block += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      block += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      block += static_cast<char>(0x80 | (c & 0x3F));
    }
    if ((c & 0xFF) == 0xFF) {
      flush(first);
      first = c + 1;
    }
  }
  doc.AddMember("values", values, alloc);
  doc.AddMember("list", list, alloc);
  const std::string y = to_yaml(doc);
  auto back = yaml_to_json(y, "out.yaml");
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 1u);
  ASSERT_TRUE((*back)[0]["values"].IsObject());
  // Compared block by block, so that a failure names the characters.
  const rapidjson::Value& got = (*back)[0];
  ASSERT_EQ(got["values"].MemberCount(), doc["values"].MemberCount());
  auto want_it = doc["values"].MemberBegin();
  for (auto it = got["values"].MemberBegin(); it != got["values"].MemberEnd(); ++it, ++want_it) {
    EXPECT_EQ(it->name, want_it->name) << json::as_string_view(want_it->name).substr(0, 8);
    EXPECT_EQ(it->value, want_it->value) << json::as_string_view(want_it->name).substr(0, 8);
  }
  ASSERT_EQ(got["list"].Size(), doc["list"].Size());
  for (rapidjson::SizeType i = 0; i < got["list"].Size(); ++i) {
    EXPECT_EQ(got["list"][i], doc["list"][i]) << "list item " << i;
  }
  // Alone, as the whole document.
  for (std::string_view s : {"\xEF\xBF\xBF", "\x01", "\xF4\x8F\xBF\xBE",
                             "a\xEF\xBF\xBE"
                             "b\n"}) {
    rapidjson::Value v(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    auto one = yaml_to_json(to_yaml(v));
    ASSERT_TRUE(one.ok()) << one.status() << "\n" << to_yaml(v);
    EXPECT_EQ(json::as_string_view((*one)[0]), s) << to_yaml(v);
  }
  // Readable where it can be: only what must be escaped is.
  rapidjson::Value mixed("caf\xC3\xA9 \xEF\xBF\xBF \"q\"\n");
  EXPECT_EQ(to_yaml(mixed), "\"caf\xC3\xA9 \\uFFFF \\\"q\\\"\\n\"\n");
}

// Found by fuzzing (tests/fuzz/api_yaml): a string opening with "..." or "---" and a blank was
// written plain, and where it opened a line (a root scalar or a root key) it ended or started a
// document instead.
TEST(YamlRoundTripTest, DocumentMarkersStayStrings) {
  for (std::string_view s :
       {"...", "--- x", "... v:\"", "---", "...\tx", "...\n", "....", "---x"}) {
    rapidjson::Value v(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    auto root = yaml_to_json(to_yaml(v));
    ASSERT_TRUE(root.ok()) << root.status() << "\n" << to_yaml(v);
    ASSERT_EQ(root->size(), 1u) << to_yaml(v);
    EXPECT_EQ(json::as_string_view((*root)[0]), s) << to_yaml(v);
    rapidjson::Document doc(rapidjson::kObjectType);
    doc.AddMember(rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size())),
                  rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size())),
                  doc.GetAllocator());
    auto map = yaml_to_json(to_yaml(doc));
    ASSERT_TRUE(map.ok()) << map.status() << "\n" << to_yaml(doc);
    ASSERT_EQ(map->size(), 1u) << to_yaml(doc);
    EXPECT_EQ((*map)[0], doc) << to_yaml(doc);
  }
}

// Strings that are not UTF-8 (possible from JSON) are written as U+FFFD, as Go writes them, in
// text kubectl reads.
TEST(YamlRoundTripTest, InvalidUtf8IsWrittenAsReplacementCharacters) {
  rapidjson::Value v("a\xFF\x01");
  const std::string y = to_yaml(v);
  EXPECT_EQ(y, "\"a\xEF\xBF\xBD\\x01\"\n");
  auto back = yaml_to_json(y);
  ASSERT_TRUE(back.ok()) << back.status();
}

// Found by fuzzing (tests/fuzz/api_yaml): bytes that are not UTF-8 passed through into strings,
// and to_yaml wrote them back as U+FFFD. kubectl refuses such files; so does kop.
TEST(YamlTest, InvalidUtf8IsAnError) {
  for (std::string_view text : {"a: \xff\n", "\xff\x01", "a: \xed\xa0\x80\n", "\xc0\xaf: b\n",
                                "a: [x, \"\xe2\x82\"]\n", "# \xff\na: b\n"}) {
    auto docs = yaml_to_json(text, "in.yaml");
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_THAT(docs.status().message(), HasSubstr("invalid UTF-8")) << docs.status();
    EXPECT_THAT(docs.status().message(), HasSubstr("in.yaml:1:")) << docs.status();
  }
  auto ok = yaml_to_json("a: h\xc3\xa9llo \xf0\x9f\x98\x80\n");
  ASSERT_TRUE(ok.ok()) << ok.status();
}

// Found by fuzzing (tests/fuzz/local_requests, an apply body): yaml-cpp 0.7 looped forever,
// allocating, on a ',' where a value starts outside a flow collection.
TEST(YamlTest, StrayCommaIsAnErrorNotAHang) {
  for (std::string_view text : {",", "{a: 1},b", "[x],", "a: 1\n---\n,\n"}) {
    auto docs = yaml_to_json(text, "in.yaml");
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_THAT(docs.status().message(), HasSubstr("in.yaml:")) << docs.status();
  }
  auto empty_docs = yaml_to_json("---\n---\n---\na: 1\n");
  ASSERT_TRUE(empty_docs.ok()) << empty_docs.status();
  EXPECT_EQ(empty_docs->size(), 1u);
}

TEST(YamlRoundTripTest, YamlToJsonToYaml) {
  auto objs = parse_yaml_objects(kManifests);
  ASSERT_TRUE(objs.ok());
  std::string y = to_yaml(std::span<const Object>(*objs));
  EXPECT_THAT(y, HasSubstr("---\n"));
  auto again = parse_yaml_objects(y);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << y;
  ASSERT_EQ(again->size(), objs->size());
  for (size_t i = 0; i < objs->size(); ++i) EXPECT_EQ((*again)[i], (*objs)[i]);
  // And through JSON text.
  for (const Object& o : *objs) {
    auto j = Object::parse(o.to_json());
    ASSERT_TRUE(j.ok());
    auto y2 = parse_yaml_object(to_yaml(*j));
    ASSERT_TRUE(y2.ok());
    EXPECT_EQ(*y2, o);
  }
}

TEST(ManifestFileTest, LoadsYamlAndJson) {
  auto dir =
      std::filesystem::temp_directory_path() / ("kop_api_yaml_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "a.yaml") << kManifests;
    std::ofstream(dir / "b.json") << R"({"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}]})";
    std::ofstream(dir / "c.json") << R"({"apiVersion":"v1","kind":"Namespace"})";
    std::ofstream(dir / "d.json") << R"({"kind":"Namespace"})";
  }
  auto a = load_manifest_file((dir / "a.yaml").string());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->size(), 2u);
  auto b = load_manifest_file((dir / "b.json").string());
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ((*b)[0].name(), "s");
  auto c = load_manifest_file((dir / "c.json").string());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[0].kind(), "Namespace");
  auto d = load_manifest_file((dir / "d.json").string());
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("has no apiVersion"));
  auto missing = load_manifest_file((dir / "nope.yaml").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kop::api
