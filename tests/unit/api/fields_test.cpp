#include "kop/api/fields.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kop::api {
namespace {

using ::testing::HasSubstr;

Object secret(std::string_view ns, std::string_view name, std::string_view type) {
  Object o("v1", "Secret");
  o.set_namespace(ns);
  o.set_name(name);
  if (!type.empty()) {
    EXPECT_TRUE(o.set_string("/type", type).ok());
  }
  return o;
}

FieldSelector must_parse(std::string_view s) {
  auto sel = FieldSelector::parse(s);
  EXPECT_TRUE(sel.ok()) << s << ": " << sel.status();
  return sel.ok() ? *sel : FieldSelector();
}

TEST(FieldSelectorTest, ParseAndPrint) {
  EXPECT_TRUE(must_parse("").empty());
  FieldSelector s = must_parse("metadata.namespace!=kube-system,metadata.name==web");
  ASSERT_EQ(s.requirements().size(), 2u);
  // Sorted by field, operator and value.
  EXPECT_EQ(s.requirements()[0], (FieldRequirement{"metadata.name", "web", false}));
  EXPECT_EQ(s.requirements()[1], (FieldRequirement{"metadata.namespace", "kube-system", true}));
  EXPECT_EQ(s.to_string(), "metadata.name=web,metadata.namespace!=kube-system");
  EXPECT_EQ(must_parse(s.to_string()), s);
  EXPECT_EQ(must_parse("metadata.name=").requirements()[0].value, "");
  EXPECT_EQ(must_parse("a=b,,").requirements().size(), 1u);  // empty terms skipped
  EXPECT_EQ(s.requires_exact_match("metadata.name"), "web");
  EXPECT_FALSE(s.requires_exact_match("metadata.namespace").has_value());
}

TEST(FieldSelectorTest, Escapes) {
  FieldSelector s = must_parse(R"(metadata.name=a\,b\=c\\d)");
  ASSERT_EQ(s.requirements().size(), 1u);
  EXPECT_EQ(s.requirements()[0].value, R"(a,b=c\d)");
  EXPECT_EQ(s.to_string(), R"(metadata.name=a\,b\=c\\d)");
  EXPECT_EQ(must_parse(s.to_string()), s);
  EXPECT_EQ(escape_field_value("x,y=z\\"), R"(x\,y\=z\\)");
}

// Found by fuzzing (tests/fuzz/field_selector): "==" and "=" sorted the raw terms differently,
// so the canonical text parsed back in another order and compared unequal.
TEST(FieldSelectorTest, CanonicalTextIsAFixedPoint) {
  FieldSelector s = must_parse("a==\xff,a=o");
  FieldSelector again = must_parse(s.to_string());
  EXPECT_EQ(again, s) << s.to_string() << " vs " << again.to_string();
  EXPECT_EQ(must_parse("b=1,a!=2,a=3"), must_parse("a==3,b==1,a!=2"));
}

TEST(FieldSelectorTest, Errors) {
  struct Case {
    std::string_view in, fragment;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"metadata.name", "position 0: can't understand 'metadata.name'"},
           {"a=b,metadata.name", "position 4: can't understand"},
           {"a=b=c", "position 3: unescaped '=' in value"},
           {R"(a=b\x)", R"(position 3: invalid escape sequence '\x')"},
           {R"(a=b\)", "position 3: invalid escape sequence"},
       }) {
    auto s = FieldSelector::parse(c.in);
    ASSERT_FALSE(s.ok()) << c.in;
    EXPECT_THAT(s.status().message(), HasSubstr(c.fragment)) << c.in;
  }
}

TEST(FieldSelectorTest, MatchesNameNamespaceAndSecretType) {
  Object tls = secret("default", "cert", "kubernetes.io/tls");
  Object opaque = secret("prod", "creds", "Opaque");
  EXPECT_TRUE(must_parse("metadata.name=cert").matches(tls));
  EXPECT_FALSE(must_parse("metadata.name=cert").matches(opaque));
  EXPECT_TRUE(must_parse("metadata.namespace==prod").matches(opaque));
  EXPECT_TRUE(must_parse("metadata.namespace!=prod").matches(tls));
  EXPECT_TRUE(must_parse("type=kubernetes.io/tls").matches(tls));
  EXPECT_FALSE(must_parse("type=kubernetes.io/tls").matches(opaque));
  EXPECT_TRUE(must_parse("type!=kubernetes.io/tls,metadata.namespace=prod").matches(opaque));
  EXPECT_FALSE(must_parse("type!=kubernetes.io/tls,metadata.namespace=default").matches(opaque));
  EXPECT_TRUE(FieldSelector().matches(tls));
  EXPECT_TRUE(FieldSelector::one_term("metadata.name", "creds").matches(opaque));
  // A missing field reads as "".
  Object cluster_scoped("v1", "Namespace");
  cluster_scoped.set_name("kube-system");
  EXPECT_TRUE(must_parse("metadata.namespace=").matches(cluster_scoped));
  EXPECT_TRUE(must_parse("metadata.namespace!=default").matches(cluster_scoped));
}

TEST(FieldSelectorTest, OtherFieldsByPath) {
  auto pod = Object::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
      "spec":{"nodeName":"node-1","hostNetwork":true},"status":{"phase":"Running"}})");
  ASSERT_TRUE(pod.ok());
  EXPECT_TRUE(must_parse("spec.nodeName=node-1,status.phase!=Pending").matches(*pod));
  EXPECT_TRUE(must_parse("spec.hostNetwork=true").matches(*pod));
  EXPECT_EQ(field_value(*pod, "spec"), "");  // objects are not comparable values
  auto ev = Object::parse(R"({"apiVersion":"v1","kind":"Event","source":{"component":"kop"},
      "involvedObject":{"kind":"Ingress","name":"web"}})");
  ASSERT_TRUE(ev.ok());
  EXPECT_TRUE(must_parse("source=kop,involvedObject.kind=Ingress").matches(*ev));
}

TEST(FieldSelectorTest, SupportedFields) {
  GroupVersionKind secret_gvk{"", "v1", "Secret"};
  GroupVersionKind cm_gvk{"", "v1", "ConfigMap"};
  EXPECT_TRUE(must_parse("metadata.name=a,type=Opaque").check_supported(secret_gvk).ok());
  // The real API server's two messages (kube-apiserver v1.20): Secrets have field labels of
  // their own, ConfigMaps only the metadata ones.
  auto bad = must_parse("type=Opaque").check_supported(cm_gvk);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(),
            R"("type" is not a known field selector: only "metadata.name", "metadata.namespace")");
  EXPECT_EQ(must_parse("spec.x=1").check_supported(secret_gvk).message(),
            "field label not supported: spec.x");
  EXPECT_TRUE(must_parse("metadata.namespace=x").check_supported(cm_gvk).ok());
  EXPECT_TRUE(supported_field({"", "v1", "Pod"}, "spec.nodeName"));
  EXPECT_FALSE(supported_field({"", "v1", "Pod"}, "spec.containers"));
}

}  // namespace
}  // namespace kop::api
