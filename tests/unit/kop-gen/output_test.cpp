// kop-gen's output: the Website CRD's header against the checked-in golden copy (a change in the
// generator shows in review), and the errors hostile CRDs get.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "emit.h"
#include "schema.h"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<std::string> generate(std::string_view yaml, const std::string& ns = "t") {
  auto crds = kop::gen::read_crds(yaml, "test.yaml");
  if (!crds.ok()) return crds.status();
  return kop::gen::generate(*crds, {.ns = ns, .source = "test.yaml"});
}

std::string crd(std::string_view schema, std::string_view extra_version = "") {
  return std::string(R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.test.kop.dev}
spec:
  group: test.kop.dev
  names: {kind: Thing, plural: things}
  scope: Namespaced
  versions:
    - name: v1
      schema:
        openAPIV3Schema: )") +
         std::string(schema) + "\n" + std::string(extra_version);
}

TEST(KopGenOutput, WebsiteMatchesTheGoldenHeader) {
  auto crds = kop::gen::read_crds(read_file(WEBSITE_CRD), WEBSITE_CRD);
  ASSERT_TRUE(crds.ok()) << crds.status();
  auto header =
      kop::gen::generate(*crds, {.ns = "website::api", .source = "websites.examples.kop.dev.yaml"});
  ASSERT_TRUE(header.ok()) << header.status();
  if (std::getenv("KOP_GEN_UPDATE_GOLDEN")) {
    std::ofstream(GOLDEN, std::ios::binary | std::ios::trunc) << *header;
  }
  EXPECT_EQ(*header, read_file(GOLDEN))
      << "the generator's output changed: review it, then rerun with KOP_GEN_UPDATE_GOLDEN=1";
}

TEST(KopGenOutput, SameInputSameOutput) {
  std::string text = read_file(WEBSITE_CRD);
  EXPECT_EQ(*generate(text), *generate(text));
}

TEST(KopGenOutput, EmptySchemaGivesARawView) {
  auto h = generate(crd("{}"));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_NE(h->find("class Thing {"), std::string::npos);
  EXPECT_NE(h->find("const rapidjson::Value* raw() const"), std::string::npos);
}

TEST(KopGenOutput, ErrorsNameTheCrdAndTheField) {
  auto h =
      generate(crd("{type: object, properties: {spec: {type: object, properties: {"
                   "replicas: {type: integer, default: many}}}}}"));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(),
            "CustomResourceDefinition \"things.test.kop.dev\": .spec.replicas: default \"many\" is "
            "not an integer");

  h = generate(crd("{type: object, properties: {spec: {type: tuple}}}"));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("schema.spec: unknown type \"tuple\""),
            absl::string_view::npos)
      << h.status();

  h = generate("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(), "test.yaml: no CustomResourceDefinition");

  h = generate(crd("{}"), "not a namespace");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("not a C++ name"), absl::string_view::npos);
  EXPECT_FALSE(generate(crd("{}"), "a::class").ok());
  EXPECT_FALSE(generate(crd("{}"), "a::").ok());
  EXPECT_TRUE(generate(crd("{}"), "a::b_2").ok());

  h = generate("kind: CustomResourceDefinition\nmetadata: {name: x}\nspec: {names: {kind: X}}\n");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(), "test.yaml: CustomResourceDefinition \"x\": spec.group is empty");
}

TEST(KopGenOutput, TooDeepIsAnErrorNotACrash) {
  std::string schema = "{type: string}";
  for (int i = 0; i < kop::gen::kMaxDepth + 1; ++i) {
    schema.insert(0, "{type: object, properties: {a: ");
    schema += "}}";
  }
  auto h = generate(crd(schema));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("deeper than 64 levels"), absl::string_view::npos)
      << h.status();
  // Just below the limit works.
  schema = "{type: string}";
  for (int i = 0; i < kop::gen::kMaxDepth; ++i) {
    schema.insert(0, "{type: object, properties: {a: ");
    schema += "}}";
  }
  EXPECT_TRUE(generate(crd(schema)).ok());
}

TEST(KopGenOutput, DescriptionsCannotEscapeTheirComment) {
  auto h = generate(
      crd(R"({type: object, properties: {spec: {type: string, description: "a\nb \\"}}})"));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_NE(h->find("  // a b \\.\n"), std::string::npos) << *h;
}

}  // namespace
