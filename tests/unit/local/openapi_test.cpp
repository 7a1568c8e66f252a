// The OpenAPI documents over REST: /openapi/v3 group-version documents and /openapi/v2 carry a
// schema for every served kind (built-in from the field tables, custom from the CRD), every $ref
// resolves inside its document, kubectl's lookups (x-kubernetes-group-version-kind, PATCH with
// fieldValidation and no strategic-merge body) find what they look for.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "kop/api/yaml.h"
#include "rest.h"
#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

class OpenApi : public ::testing::Test {
 protected:
  rest::Response get(std::string target, std::string accept = "application/json") {
    return rest::handle(store, opts, {"GET", std::move(target), {{"accept", accept}}, ""});
  }
  Store store;
  rest::Options opts{"", "127.0.0.1:6443"};
};

// Every "$ref" in `doc` names a schema under `defs`.
void expect_refs_resolve(const JsonValue& doc, const JsonValue& defs, std::string_view prefix) {
  std::function<void(const JsonValue&)> walk = [&](const JsonValue& v) {
    if (v.IsObject()) {
      for (auto& m : v.GetObject()) {
        if (json::as_string_view(m.name) == "$ref" && m.value.IsString()) {
          std::string_view ref = json::as_string_view(m.value);
          ASSERT_EQ(ref.substr(0, prefix.size()), prefix) << ref;
          EXPECT_NE(json::find(defs, ref.substr(prefix.size())), nullptr) << ref << " unresolved";
        } else {
          walk(m.value);
        }
      }
    } else if (v.IsArray()) {
      for (auto& e : v.GetArray()) walk(e);
    }
  };
  walk(doc);
}

TEST_F(OpenApi, V3GroupVersionDocumentHasTheKindsSchemas) {
  auto r = get("/openapi/v3/apis/apps/v1");
  ASSERT_EQ(r.status, 200);
  JsonDoc d = J(r.body);
  const JsonValue* schemas = json::path(d, {"components", "schemas"});
  ASSERT_NE(schemas, nullptr);
  const JsonValue* deploy = json::find(*schemas, "io.k8s.api.apps.v1.Deployment");
  ASSERT_NE(deploy, nullptr);
  EXPECT_EQ(json::to_json(*json::find(*deploy, "x-kubernetes-group-version-kind")),
            R"([{"group":"apps","version":"v1","kind":"Deployment"}])");
  EXPECT_EQ(json::to_json(*json::path(*deploy, {"properties", "spec"})),
            R"({"$ref":"#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"})");
  EXPECT_EQ(json::to_json(*json::path(
                *schemas, {"io.k8s.api.apps.v1.DeploymentSpec", "properties", "replicas"})),
            R"({"type":"integer","format":"int32"})");
  EXPECT_NE(json::find(*schemas, "io.k8s.api.apps.v1.DeploymentList"), nullptr);
  // The strategic merge patch tags of k8s.io/api, as client-side apply reads them.
  const JsonValue* containers =
      json::path(*schemas, {"io.k8s.api.core.v1.PodSpec", "properties", "containers"});
  ASSERT_NE(containers, nullptr);
  EXPECT_EQ(json::path_string(*containers, {"x-kubernetes-patch-merge-key"}), "name");
  EXPECT_EQ(json::path_string(*containers, {"x-kubernetes-patch-strategy"}), "merge");
  // Inline structs are flattened: a Volume has configMap beside name.
  EXPECT_NE(json::path(*schemas, {"io.k8s.api.core.v1.Volume", "properties", "configMap"}),
            nullptr);
  expect_refs_resolve(d, *schemas, "#/components/schemas/");
  // PATCH takes fieldValidation and has no strategic-merge request body.
  const JsonValue* patch =
      json::path(d, {"paths", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch"});
  ASSERT_NE(patch, nullptr);
  EXPECT_NE(json::to_json(*json::find(*patch, "parameters")).find("fieldValidation"),
            std::string::npos);
  EXPECT_EQ(json::find(*patch, "requestBody"), nullptr);
  EXPECT_EQ(get("/openapi/v3/apis/nope.example.com/v1").status, 404);
  auto index = J(get("/openapi/v3").body);
  EXPECT_NE(json::path(index, {"paths", "apis/apps/v1", "serverRelativeURL"}), nullptr);
}

TEST_F(OpenApi, CustomResourcesCarryTheirCrdSchema) {
  std::ifstream f(std::string(KOP_LOCAL_TESTDATA) + "/widgets-crd.yaml");
  std::stringstream ss;
  ss << f.rdbuf();
  auto crd = api::yaml_first_document(ss.str(), "widgets-crd.yaml");
  ASSERT_TRUE(crd.ok());
  ASSERT_TRUE(store
                  .create(*type(store, "apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                          "", *std::move(crd))
                  .ok());
  JsonDoc d = J(get("/openapi/v3/apis/example.com/v1").body);
  const JsonValue* schemas = json::path(d, {"components", "schemas"});
  ASSERT_NE(schemas, nullptr);
  const JsonValue* w = json::find(*schemas, "com.example.v1.Widget");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(json::to_json(*json::find(*w, "x-kubernetes-group-version-kind")),
            R"([{"group":"example.com","version":"v1","kind":"Widget"}])");
  EXPECT_EQ(json::to_json(*json::path(*w, {"properties", "spec", "properties", "size"})),
            R"({"type":"integer","minimum":1,"maximum":10})");
  EXPECT_EQ(json::path_string(*w, {"properties", "metadata", "$ref"}),
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  expect_refs_resolve(d, *schemas, "#/components/schemas/");
  // And in v2.
  JsonDoc v2 = J(get("/openapi/v2").body);
  EXPECT_NE(json::path(v2, {"definitions", "com.example.v1.Widget"}), nullptr);
}

TEST_F(OpenApi, V2IsJsonWithEveryServedKind) {
  auto r = get("/openapi/v2", "application/json, */*");
  ASSERT_EQ(r.status, 200);
  JsonDoc d = J(r.body);
  EXPECT_EQ(json::path_string(d, {"swagger"}), "2.0");
  const JsonValue* defs = json::find(d, "definitions");
  ASSERT_NE(defs, nullptr);
  for (auto name : {"io.k8s.api.core.v1.ConfigMap", "io.k8s.api.core.v1.Pod",
                    "io.k8s.api.networking.v1.Ingress", "io.k8s.api.discovery.v1.EndpointSlice",
                    "io.k8s.api.coordination.v1.Lease", "io.k8s.api.core.v1.Namespace"})
    EXPECT_NE(json::find(*defs, name), nullptr) << name;
  expect_refs_resolve(d, *defs, "#/definitions/");
  // client-go asks for gnostic's protobuf form only: not spoken, 406.
  EXPECT_EQ(get("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf").status,
            406);
}

}  // namespace
}  // namespace kop::local
