#include "kop/api/object.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "kop/api/json.h"
#include "kop/api/time.h"

namespace kop::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kPod = R"({
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "web-0",
    "namespace": "default",
    "uid": "7b3c2c8e-0001",
    "resourceVersion": "12345",
    "generation": 3,
    "creationTimestamp": "2024-05-01T12:00:00Z",
    "labels": {"app": "web", "tier": "frontend"},
    "annotations": {"note": "hello"},
    "ownerReferences": [
      {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-rs", "uid": "rs-uid",
       "controller": true, "blockOwnerDeletion": true},
      {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "cm-uid"}
    ],
    "finalizers": ["kop.io/a", "kop.io/b"],
    "managedFields": [{"manager": "kubectl"}]
  },
  "spec": {
    "containers": [{"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}],
    "weird/key": {"til~de": 7},
    "enabled": true,
    "ratio": 0.5
  },
  "status": {"phase": "Running"}
})";

Object pod() {
  auto o = Object::parse(kPod);
  EXPECT_TRUE(o.ok()) << o.status();
  return *std::move(o);
}

TEST(ObjectTest, ParsesTypeAndMetadata) {
  Object o = pod();
  EXPECT_EQ(o.api_version(), "v1");
  EXPECT_EQ(o.kind(), "Pod");
  EXPECT_EQ(o.gvk(), (GroupVersionKind{"", "v1", "Pod"}));
  EXPECT_EQ(o.name(), "web-0");
  EXPECT_EQ(o.namespace_(), "default");
  EXPECT_EQ(o.ns(), "default");
  EXPECT_EQ(o.uid(), "7b3c2c8e-0001");
  EXPECT_EQ(o.resource_version(), "12345");
  EXPECT_EQ(o.generation(), 3);
  EXPECT_EQ(o.creation_timestamp(), "2024-05-01T12:00:00Z");
  ASSERT_TRUE(o.creation_time().has_value());
  EXPECT_EQ(*o.creation_time(), absl::FromUnixSeconds(1714564800));
  EXPECT_EQ(o.deletion_timestamp(), "");
  EXPECT_FALSE(o.deletion_time().has_value());
  EXPECT_FALSE(o.is_being_deleted());
  EXPECT_EQ(o.key(), "default/web-0");
  EXPECT_EQ(o.labels(), (StringMap{{"app", "web"}, {"tier", "frontend"}}));
  EXPECT_EQ(o.label("app"), "web");
  EXPECT_FALSE(o.label("missing").has_value());
  EXPECT_EQ(o.annotations(), (StringMap{{"note", "hello"}}));
  EXPECT_THAT(o.finalizers(), ElementsAre("kop.io/a", "kop.io/b"));
  EXPECT_TRUE(o.has_finalizer("kop.io/b"));
  EXPECT_TRUE(o.has_managed_fields());
}

TEST(ObjectTest, GroupedApiVersion) {
  Object o("networking.k8s.io/v1", "Ingress");
  EXPECT_EQ(o.gvk(), (GroupVersionKind{"networking.k8s.io", "v1", "Ingress"}));
  Object p(GroupVersionKind{"apps", "v1", "Deployment"});
  EXPECT_EQ(p.api_version(), "apps/v1");
  EXPECT_EQ(p.kind(), "Deployment");
}

TEST(ObjectTest, OwnerReferences) {
  Object o = pod();
  auto refs = o.owner_references();
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].api_version, "apps/v1");
  EXPECT_EQ(refs[0].kind, "ReplicaSet");
  EXPECT_EQ(refs[0].name, "web-rs");
  EXPECT_EQ(refs[0].uid, "rs-uid");
  EXPECT_EQ(refs[0].controller, true);
  EXPECT_EQ(refs[0].block_owner_deletion, true);
  EXPECT_FALSE(refs[1].controller.has_value());
  ASSERT_TRUE(o.controller_reference().has_value());
  EXPECT_EQ(o.controller_reference()->name, "web-rs");

  OwnerReference r{"v1", "Service", "svc", "svc-uid", false, std::nullopt};
  o.set_owner_references({r});
  ASSERT_EQ(o.owner_references().size(), 1u);
  EXPECT_EQ(o.owner_references()[0], r);
  EXPECT_FALSE(o.controller_reference().has_value());
  EXPECT_EQ(o.at("/metadata/ownerReferences/0/blockOwnerDeletion"), nullptr);
  o.set_owner_references({});
  EXPECT_EQ(o.at("/metadata/ownerReferences"), nullptr);
}

TEST(ObjectTest, MissingFieldsReadAsEmpty) {
  Object o;
  EXPECT_EQ(o.to_json(), "{}");
  EXPECT_EQ(o.name(), "");
  EXPECT_EQ(o.generation(), 0);
  EXPECT_TRUE(o.labels().empty());
  EXPECT_TRUE(o.owner_references().empty());
  EXPECT_TRUE(o.finalizers().empty());
  EXPECT_FALSE(o.has_managed_fields());
  EXPECT_EQ(o.spec(), nullptr);
  EXPECT_EQ(o.gvk(), GroupVersionKind{});
}

TEST(ObjectTest, WrongTypedFieldsReadAsEmpty) {
  auto o = Object::parse(
      R"({"apiVersion": 1, "metadata": {"name": 5, "labels": ["x"], "generation": "3",
          "finalizers": "f", "ownerReferences": {"a": 1}, "annotations": {"a": 1, "b": "ok"}}})");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->api_version(), "");
  EXPECT_EQ(o->name(), "");
  EXPECT_TRUE(o->labels().empty());
  EXPECT_EQ(o->generation(), 0);
  EXPECT_TRUE(o->finalizers().empty());
  EXPECT_TRUE(o->owner_references().empty());
  EXPECT_EQ(o->annotations(), (StringMap{{"b", "ok"}}));
  // Writes replace wrong-typed containers.
  o->set_label("a", "b");
  o->add_finalizer("f1");
  EXPECT_EQ(o->labels(), (StringMap{{"a", "b"}}));
  EXPECT_THAT(o->finalizers(), ElementsAre("f1"));
}

// Found by fuzzing (tests/fuzz/api_json): with a key twice in one object, RapidJSON kept both,
// reads saw the first, the API server takes the last, and the object did not equal itself.
// Found by fuzzing: with RapidJSON 1.1's full-precision flag, a zero with a large exponent read as
// a tiny negative number; Object::parse keeps the default number parsing, which reads zeros
// exactly.
TEST(ObjectTest, ZeroWithAnExponentIsZero) {
  for (std::string_view text : {R"({"n":0e300})", R"({"n":0.000e300})", R"({"n":0e-300})"}) {
    auto o = Object::parse(text);
    ASSERT_TRUE(o.ok()) << text;
    EXPECT_EQ(o->get_double("/n"), std::optional<double>(0.0)) << text;
  }
}

// Every double written by to_json reads back bit for bit (RapidJSON's default parser is one ulp
// off for some numbers above 2^64; found by the api_json fuzz target).
TEST(ObjectTest, EveryDoubleRoundTripsExactly) {
  uint64_t state = 0x9E3779B97F4A7C15ULL;
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    double d = 0;
    std::memcpy(&d, &state, sizeof d);
    if (!std::isfinite(d)) continue;
    Object o;
    ASSERT_TRUE(o.set_double("/n", d).ok());
    const std::string text = o.to_json();
    auto back = Object::parse(text);
    ASSERT_TRUE(back.ok()) << text;
    const std::optional<double> read = back->get_double("/n");
    ASSERT_TRUE(read.has_value()) << text;
    uint64_t bits = 0;
    std::memcpy(&bits, &*read, sizeof bits);
    ASSERT_EQ(bits, state) << text;
    ++checked;
  }
  EXPECT_GT(checked, 100000);
  // The finding itself: a 20-digit integer beyond 2^64.
  auto o = Object::parse(R"({"n":34028236692093846346})");
  ASSERT_TRUE(o.ok());
  auto again = Object::parse(o->to_json());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again == *o) << o->to_json() << " vs " << again->to_json();
}

TEST(ObjectTest, NumbersKeepTheirIntegerTypes) {
  auto o = Object::parse(
      R"({"a":0,"b":-0,"c":2147483648,"d":-2147483649,"e":18446744073709551615,"f":-1.5,)"
      R"("g":18446744073709551616})");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->to_json(),
            R"({"a":0,"b":0,"c":2147483648,"d":-2147483649,"e":18446744073709551615,"f":-1.5,)"
            R"("g":18446744073709553000.0})");
  EXPECT_EQ(o->get_int("/c"), std::optional<int64_t>(2147483648));
  EXPECT_EQ(o->get_int("/d"), std::optional<int64_t>(-2147483649));
  EXPECT_FALSE(o->get_int("/f").has_value());
}

// Beyond the double range is an error (as Go's encoding/json); below it is a signed zero.
TEST(ObjectTest, NumbersOutOfDoubleRange) {
  for (std::string_view text : {R"({"n":1e400})", R"({"n":-1e309})", R"({"n":180e306})",
                                R"({"n":1.7976931348623159e308})"}) {
    auto o = Object::parse(text);
    ASSERT_FALSE(o.ok()) << text;
    EXPECT_THAT(o.status().message(), HasSubstr("Number too big")) << o.status();
  }
  auto small = Object::parse(R"({"a":1e-400,"b":-1e-400,"c":0.0001e-320,"d":4.9e-324})");
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->get_double("/a"), std::optional<double>(0.0));
  EXPECT_TRUE(std::signbit(*small->get_double("/b")));
  EXPECT_EQ(small->get_double("/c"), std::optional<double>(0.0));
  EXPECT_GT(*small->get_double("/d"), 0.0);
}

TEST(ObjectTest, DuplicateKeysAreRejected) {
  for (std::string_view text :
       {R"({"t":"","t":""})", R"({"a":{"x":1,"y":2,"x":3}})", R"({"a":[{"k":1},{"k":1,"k":2}]})"}) {
    auto o = Object::parse(text);
    ASSERT_FALSE(o.ok()) << text;
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(o.status().message(), HasSubstr("duplicate key")) << o.status();
  }
  auto same_name_apart = Object::parse(R"({"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":1}]})");
  ASSERT_TRUE(same_name_apart.ok()) << same_name_apart.status();
  EXPECT_EQ(*same_name_apart, *same_name_apart);
}

TEST(ObjectTest, ParseErrors) {
  auto bad = Object::parse(R"({"a": )");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("offset"));
  EXPECT_FALSE(Object::parse("[1,2]").ok());
  EXPECT_FALSE(Object::parse("").ok());
  EXPECT_FALSE(Object::parse("{} {}").ok());
  // Not NUL-terminated input: only the view is parsed.
  std::string text = R"({"kind":"Pod"}garbage)";
  auto ok = Object::parse(std::string_view(text).substr(0, 14));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->kind(), "Pod");
}

TEST(ObjectTest, SerialiseRoundTrip) {
  Object o = pod();
  std::string compact = o.to_json();
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  auto again = Object::parse(compact);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, o);
  EXPECT_EQ(again->to_json(), compact);  // member order preserved
  std::string pretty = o.to_json_pretty();
  EXPECT_THAT(pretty, HasSubstr("\n  \"kind\": \"Pod\""));
  auto from_pretty = Object::parse(pretty);
  ASSERT_TRUE(from_pretty.ok());
  EXPECT_EQ(*from_pretty, o);
}

TEST(ObjectTest, SemanticEquality) {
  auto a = Object::parse(R"({"a": 1, "b": {"x": [1, 2], "y": "s"}})");
  auto b = Object::parse(R"({"b": {"y": "s", "x": [1, 2]}, "a": 1.0})");
  auto c = Object::parse(R"({"b": {"y": "s", "x": [2, 1]}, "a": 1})");
  auto d = Object::parse(R"({"a": 1, "b": {"x": [1, 2], "y": "s"}, "c": null})");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_NE(*a, *d);
}

TEST(ObjectTest, CopyIsDeepAndMoveIsCheap) {
  Object o = pod();
  Object copy = o;
  EXPECT_EQ(copy, o);
  copy.set_name("other");
  copy.set_label("app", "changed");
  EXPECT_EQ(o.name(), "web-0");
  EXPECT_EQ(o.label("app"), "web");

  // A view taken before a move stays valid: the document itself is not moved.
  std::string_view name = o.name();
  const void* doc_before = &o.doc();
  Object moved = std::move(o);
  EXPECT_EQ(&moved.doc(), doc_before);
  EXPECT_EQ(name, "web-0");
  EXPECT_EQ(moved.name().data(), name.data());

  // The moved-from object reads as {} and can be written again.
  EXPECT_EQ(o.to_json(), "{}");  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(o.name(), "");
  o.set_name("reborn");
  EXPECT_EQ(o.name(), "reborn");

  Object assigned;
  assigned = moved;
  EXPECT_EQ(assigned, moved);
  assigned = Object("v1", "Secret");
  EXPECT_EQ(assigned.kind(), "Secret");
}

TEST(ObjectTest, CopyOwnsItsStrings) {
  std::unique_ptr<Object> original = std::make_unique<Object>(pod());
  Object copy = *original;
  original.reset();
  EXPECT_EQ(copy.name(), "web-0");
  EXPECT_EQ(copy.get_string("/spec/containers/0/image"), "nginx:1.25");
}

TEST(ObjectTest, MetadataSetters) {
  Object o("v1", "ConfigMap");
  o.set_name("cfg");
  o.set_namespace("kube-system");
  o.set_generate_name("cfg-");
  o.set_uid("u-1");
  o.set_resource_version("7");
  o.set_generation(2);
  o.set_creation_timestamp(absl::FromUnixSeconds(1714564800) + absl::Milliseconds(900));
  o.set_label("a", "1");
  o.set_label("a", "2");
  o.set_annotation("x", "y");
  EXPECT_EQ(o.name(), "cfg");
  EXPECT_EQ(o.namespace_(), "kube-system");
  EXPECT_EQ(o.generate_name(), "cfg-");
  EXPECT_EQ(o.uid(), "u-1");
  EXPECT_EQ(o.resource_version(), "7");
  EXPECT_EQ(o.generation(), 2);
  EXPECT_EQ(o.creation_timestamp(), "2024-05-01T12:00:00Z");
  EXPECT_EQ(o.labels(), (StringMap{{"a", "2"}}));
  EXPECT_EQ(o.annotation("x"), "y");
  EXPECT_TRUE(o.remove_label("a"));
  EXPECT_FALSE(o.remove_label("a"));
  EXPECT_TRUE(o.remove_annotation("x"));
  EXPECT_FALSE(o.remove_annotation("x"));

  o.set_labels({{"k1", "v1"}, {"k2", "v2"}});
  EXPECT_EQ(o.labels(), (StringMap{{"k1", "v1"}, {"k2", "v2"}}));
  o.set_labels({});
  EXPECT_EQ(o.at("/metadata/labels"), nullptr);
  o.set_annotations({{"a", "b"}});
  EXPECT_EQ(o.annotations(), (StringMap{{"a", "b"}}));
  o.set_annotations({});
  EXPECT_EQ(o.at("/metadata/annotations"), nullptr);

  o.set_namespace("");
  EXPECT_EQ(o.at("/metadata/namespace"), nullptr);
  EXPECT_EQ(o.key(), "cfg");

  o.set_deletion_timestamp(absl::FromUnixSeconds(1714564860));
  o.set_deletion_grace_period_seconds(30);
  EXPECT_TRUE(o.is_being_deleted());
  EXPECT_EQ(o.deletion_timestamp(), "2024-05-01T12:01:00Z");
  EXPECT_EQ(o.deletion_time(), absl::FromUnixSeconds(1714564860));
  EXPECT_EQ(o.deletion_grace_period_seconds(), 30);
  o.clear_deletion_timestamp();
  EXPECT_FALSE(o.is_being_deleted());
  EXPECT_FALSE(o.deletion_grace_period_seconds().has_value());
}

TEST(ObjectTest, Finalizers) {
  Object o;
  EXPECT_TRUE(o.add_finalizer("a"));
  EXPECT_FALSE(o.add_finalizer("a"));
  EXPECT_TRUE(o.add_finalizer("b"));
  EXPECT_THAT(o.finalizers(), ElementsAre("a", "b"));
  EXPECT_TRUE(o.remove_finalizer("a"));
  EXPECT_FALSE(o.remove_finalizer("a"));
  EXPECT_THAT(o.finalizers(), ElementsAre("b"));
  EXPECT_TRUE(o.remove_finalizer("b"));
  EXPECT_EQ(o.at("/metadata/finalizers"), nullptr);
  o.set_finalizers({"x", "y"});
  EXPECT_THAT(o.finalizers(), ElementsAre("x", "y"));
  o.set_finalizers({});
  EXPECT_TRUE(o.finalizers().empty());
}

TEST(ObjectTest, ManagedFieldsRemoval) {
  Object o = pod();
  o.clear_managed_fields();
  EXPECT_FALSE(o.has_managed_fields());
  EXPECT_EQ(o.name(), "web-0");
  Object empty;
  empty.clear_managed_fields();  // no metadata: nothing to do, no crash
  EXPECT_EQ(empty.to_json(), "{}");
}

TEST(ObjectTest, MetadataOrderPreservedOnRemove) {
  auto o = Object::parse(R"({"metadata":{"a":"1","managedFields":[],"b":"2","c":"3"}})");
  ASSERT_TRUE(o.ok());
  o->clear_managed_fields();
  EXPECT_EQ(o->to_json(), R"({"metadata":{"a":"1","b":"2","c":"3"}})");
}

TEST(ObjectTest, JsonPointerReads) {
  Object o = pod();
  EXPECT_EQ(o.at(""), &o.doc());
  EXPECT_EQ(o.get_string("/spec/containers/0/name"), "app");
  EXPECT_EQ(o.get_int("/spec/containers/0/ports/0/containerPort"), 80);
  EXPECT_EQ(o.get_bool("/spec/enabled"), true);
  EXPECT_EQ(o.get_double("/spec/ratio"), 0.5);
  EXPECT_EQ(o.get_int("/spec/weird~1key/til~0de"), 7);
  EXPECT_FALSE(o.get_int("/spec/containers/0/name").has_value());  // wrong type
  EXPECT_EQ(o.at("/spec/containers/1"), nullptr);                  // out of range
  EXPECT_EQ(o.at("/spec/containers/00"), nullptr);                 // leading zero
  EXPECT_EQ(o.at("/spec/containers/-"), nullptr);
  EXPECT_EQ(o.at("spec"), nullptr);              // malformed: no leading slash
  EXPECT_EQ(o.at("/spec/weird~2key"), nullptr);  // malformed escape
  EXPECT_EQ(o.at("/status/phase/x"), nullptr);   // into a scalar
  ASSERT_NE(o.spec(), nullptr);
  EXPECT_TRUE(o.spec()->IsObject());
  EXPECT_EQ(json::string_or_empty(o.status(), "phase"), "Running");
  EXPECT_EQ(json::string_or_empty(o.metadata(), "name"), "web-0");
}

TEST(ObjectTest, JsonPointerWrites) {
  Object o;
  ASSERT_TRUE(o.set_string("/spec/rules/host", "a.example").ok());
  EXPECT_EQ(o.get_string("/spec/rules/host"), "a.example");
  ASSERT_TRUE(o.set_json("/spec/list", R"([{"n":1}])").ok());
  ASSERT_TRUE(o.set_int("/spec/list/0/n", 2).ok());
  EXPECT_EQ(o.get_int("/spec/list/0/n"), 2);
  ASSERT_TRUE(o.set_int("/spec/list/-", 3).ok());
  ASSERT_TRUE(o.set_int("/spec/list/2", 4).ok());  // index == size appends
  EXPECT_EQ(o.at("/spec/list")->Size(), 3u);
  ASSERT_TRUE(o.set_json("/spec/list/-", R"({})").ok());
  ASSERT_TRUE(o.set_bool("/spec/list/3/deep/er", true).ok());
  EXPECT_EQ(o.get_bool("/spec/list/3/deep/er"), true);
  EXPECT_FALSE(o.set_int("/spec/list/9", 1).ok());
  EXPECT_FALSE(o.set_int("/spec/rules/host/x", 1).ok());  // into a scalar
  EXPECT_FALSE(o.set_int("no-slash", 1).ok());
  EXPECT_FALSE(o.set_json("/x", "{").ok());
  ASSERT_TRUE(o.set_double("/spec/d", 1.5).ok());
  ASSERT_TRUE(o.set_null("/spec/n").ok());
  EXPECT_TRUE(o.at("/spec/n")->IsNull());
  ASSERT_TRUE(o.set_string("/spec/n/x", "into-null").ok());  // null parents become objects
  EXPECT_EQ(o.get_string("/spec/n/x"), "into-null");
  ASSERT_TRUE(o.set_string("/a~1b", "slash").ok());
  EXPECT_EQ(json::string_or_empty(&o.doc(), "a/b"), "slash");

  EXPECT_TRUE(o.remove("/spec/list/0"));
  EXPECT_EQ(o.get_int("/spec/list/0"), 3);
  EXPECT_TRUE(o.remove("/spec/rules"));
  EXPECT_FALSE(o.remove("/spec/rules"));
  EXPECT_FALSE(o.remove(""));
  EXPECT_FALSE(o.remove("/spec/list/99"));

  // Root replacement must keep the root an object.
  rapidjson::Value arr(rapidjson::kArrayType);
  EXPECT_FALSE(o.set("", arr).ok());
  rapidjson::Document src;
  src.Parse(R"({"kind":"Secret"})");
  ASSERT_TRUE(o.set("", src).ok());
  EXPECT_EQ(o.to_json(), R"({"kind":"Secret"})");
}

TEST(ObjectTest, SetCopiesTransientStrings) {
  Object o;
  {
    std::string temp = "transient-value";
    rapidjson::Value v(rapidjson::StringRef(temp.data(), temp.size()));  // not owned
    ASSERT_TRUE(o.set("/spec/x", v).ok());
    std::string key = "transient-key";
    o.set_label(key, temp);
    temp.assign(temp.size(), 'X');
    key.assign(key.size(), 'Y');
  }
  EXPECT_EQ(o.get_string("/spec/x"), "transient-value");
  EXPECT_EQ(o.label("transient-key"), "transient-value");
}

TEST(ObjectTest, MutableSections) {
  Object o;
  json::set_member(o.mutable_spec(), "replicas", rapidjson::Value(3), o.allocator());
  json::set_member(o.mutable_status(), "ready", rapidjson::Value(true), o.allocator());
  EXPECT_EQ(o.get_int("/spec/replicas"), 3);
  EXPECT_EQ(o.get_bool("/status/ready"), true);
  ASSERT_NE(o.mutable_at("/spec/replicas"), nullptr);
  o.mutable_at("/spec/replicas")->SetInt(5);
  EXPECT_EQ(o.get_int("/spec/replicas"), 5);
}

TEST(ObjectTest, FromValueAndDocument) {
  rapidjson::Document d;
  d.Parse(R"({"kind":"Pod","metadata":{"name":"p"}})");
  auto a = Object::from_value(d);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->name(), "p");
  auto b = Object::from_document(std::move(d));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  rapidjson::Value s("x");
  EXPECT_FALSE(Object::from_value(s).ok());
  rapidjson::Document arr;
  arr.Parse("[]");
  EXPECT_FALSE(Object::from_document(std::move(arr)).ok());
}

TEST(ObjectTest, SharedImmutableReadsFromManyThreads) {
  ObjectPtr p = share(pod());
  std::vector<std::thread> ts;
  ts.reserve(4);
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&] {
      for (int j = 0; j < 1000; ++j) {
        if (p->name() == "web-0" && p->labels().size() == 2 &&
            p->get_int("/spec/containers/0/ports/0/containerPort") == 80) {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 4000);
  Object mine = *p;  // mutation on a copy
  mine.set_name("x");
  EXPECT_EQ(p->name(), "web-0");
}

// Each Object's pool is sized for it: one chunk for a parsed or copied object (a default
// rapidjson::Document would reserve 64 KiB), growing by small chunks on edits.
TEST(ObjectTest, PoolsAreSizedToTheObject) {
  Object o = pod();
  size_t text = o.to_json().size();
  EXPECT_GE(o.allocator().Size(), text);  // the DOM is about twice the compact text
  EXPECT_LE(o.allocator().Capacity(), 3 * text);
  Object copy = o;
  EXPECT_EQ(copy.allocator().Size(), o.allocator().Size());
  EXPECT_EQ(copy.allocator().Capacity(), copy.allocator().Size());  // exact, one chunk
  auto from_value = Object::from_value(o.doc());
  ASSERT_TRUE(from_value.ok());
  EXPECT_EQ(from_value->allocator().Capacity(), from_value->allocator().Size());
  size_t before = copy.allocator().Capacity();
  copy.set_annotation("a-rather-long-annotation-key", "and a value that does not fit inline");
  EXPECT_LE(copy.allocator().Capacity(), before + 2048);  // grows by small chunks
  Object empty;
  EXPECT_LT(empty.allocator().Capacity(), 1024u);
  // A copy of a moved-from object ({}, nothing to copy) still takes writes.
  Object moved = std::move(o);
  Object of_nothing = o;  // NOLINT(bugprone-use-after-move): a moved-from Object reads as {}
  EXPECT_EQ(of_nothing.to_json(), "{}");
  of_nothing.set_name("after");
  EXPECT_EQ(of_nothing.to_json(), R"({"metadata":{"name":"after"}})");
  EXPECT_EQ(moved.name(), "web-0");
}

TEST(TimeTest, ParseAndFormat) {
  EXPECT_EQ(parse_time("2024-05-01T12:00:00Z"), absl::FromUnixSeconds(1714564800));
  EXPECT_EQ(parse_time("2024-05-01T14:00:00+02:00"), absl::FromUnixSeconds(1714564800));
  EXPECT_EQ(parse_time("2024-05-01T12:00:00.250000Z"),
            absl::FromUnixSeconds(1714564800) + absl::Milliseconds(250));
  EXPECT_FALSE(parse_time("").has_value());
  EXPECT_FALSE(parse_time("yesterday").has_value());
  absl::Time t = absl::FromUnixSeconds(1714564800) + absl::Microseconds(123456);
  EXPECT_EQ(format_time(t), "2024-05-01T12:00:00Z");
  EXPECT_EQ(format_micro_time(t), "2024-05-01T12:00:00.123456Z");
  EXPECT_EQ(format_micro_time(absl::FromUnixSeconds(1714564800)), "2024-05-01T12:00:00.000000Z");
}

}  // namespace
}  // namespace kop::api
