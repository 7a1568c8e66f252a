// CustomResourceDefinitions: registration, structural schema validation, defaulting, pruning,
// status subresource, served versions, and deletion.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "kop/api/yaml.h"
#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

JsonDoc crd_doc() {
  std::ifstream f(std::string(KOP_LOCAL_TESTDATA) + "/widgets-crd.yaml");
  std::stringstream ss;
  ss << f.rdbuf();
  auto d = api::yaml_first_document(ss.str(), "widgets-crd.yaml");
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *std::move(d) : JsonDoc();
}

class Crd : public ::testing::Test {
 protected:
  void SetUp() override {
    auto crds = type(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
    auto r = s.create(*crds, "", crd_doc());
    ASSERT_TRUE(r.ok()) << api(r.status()).message;
    created = *r;
    w = s.registry().by_resource("example.com", "v1", "widgets");
    ASSERT_TRUE(w);
  }
  Store s;
  ObjectPtr created;
  ResourceTypePtr w;
};

TEST_F(Crd, RegistersKindsAndStatus) {
  EXPECT_TRUE(w->namespaced);
  EXPECT_TRUE(w->has_status);
  EXPECT_EQ(w->kind, "Widget");
  EXPECT_EQ(w->short_names, std::vector<std::string>{"wd"});
  ASSERT_EQ(w->columns.size(), 1u);
  auto beta = s.registry().by_resource("example.com", "v1beta1", "widgets");
  ASSERT_TRUE(beta);
  EXPECT_FALSE(beta->has_status);
  const JsonValue* conds = json::path(created->doc(), {"status", "conditions"});
  ASSERT_TRUE(conds && conds->Size() == 2);
  EXPECT_EQ(json::string_or_empty(&((*conds)[1]), "type"), "Established");
  EXPECT_EQ(json::to_json(*json::path(created->doc(), {"status", "storedVersions"})), R"(["v1"])");
}

TEST_F(Crd, ValidatesAgainstTheSchema) {
  auto r = s.create(*w, "default",
                    J(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},
                          "spec":{"size":"big","color":"pink","host":"UPPER","tags":["a","b","c"],"port":true}})"));
  ASSERT_FALSE(r.ok());
  std::vector<std::string> got;
  for (auto& c : client::causes_of(r.status())) got.push_back(c.field + ": " + c.message);
  std::vector<std::string> want = {
      R"(spec.size: Invalid value: "string": spec.size in body must be of type integer: "string")",
      R"(spec.color: Unsupported value: "pink": supported values: "red", "green", "blue")",
      R"(spec.host: Invalid value: "UPPER": spec.host in body should match '^[a-z.]+$')",
      R"(spec.tags: Invalid value: 3: spec.tags in body should have at most 2 items)",
      R"(spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean")",
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(api(r.status()).details->kind, "Widget");
  EXPECT_EQ(api(r.status()).details->group, "example.com");
  auto req = s.create(
      *w, "default",
      J(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":11}})"));
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(
      api(req.status()).message,
      R"(Widget.example.com "w" is invalid: spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10)");
  auto missing = s.create(
      *w, "default",
      J(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{}})"));
  EXPECT_EQ(api(missing.status()).details->causes[0].field, "spec.size");
  EXPECT_EQ(api(missing.status()).details->causes[0].message, "Required value");
}

TEST_F(Crd, DefaultsPrunesAndPreserves) {
  auto r = s.create(*w, "default",
                    J(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},
                          "spec":{"size":2,"port":"http","unknown":1,"routes":[{"name":"a"}],"extra":{"any":{"thing":1}}},
                          "status":{"ready":true},"toplevel":"x"})"));
  ASSERT_TRUE(r.ok()) << api(r.status()).message;
  const JsonValue& d = (*r)->doc();
  EXPECT_EQ(json::path_string(d, {"spec", "color"}), "red");
  EXPECT_EQ(json::path(d, {"spec", "unknown"}), nullptr);
  EXPECT_EQ(json::find(d, "toplevel"), nullptr);
  EXPECT_EQ(json::to_json(*json::path(d, {"spec", "routes"})), R"([{"name":"a","weight":1}])");
  EXPECT_EQ(json::to_json(*json::path(d, {"spec", "extra"})), R"({"any":{"thing":1}})");
  // Status is dropped on create when the subresource exists.
  EXPECT_EQ(json::find(d, "status"), nullptr);
  EXPECT_EQ(json::path(d, {"metadata", "generation"})->GetInt64(), 1);
  auto st = s.patch_status(*w, "default", "w", PatchType::kJsonMerge,
                           R"({"status":{"ready":true},"spec":{"size":9}})");
  ASSERT_TRUE(st.ok()) << api(st.status()).message;
  EXPECT_EQ(json::path((*st)->doc(), {"status", "ready"})->GetBool(), true);
  EXPECT_EQ(json::path((*st)->doc(), {"spec", "size"})->GetInt64(), 2);
  EXPECT_EQ(json::path((*st)->doc(), {"metadata", "generation"})->GetInt64(), 1);
  auto sp = s.patch(*w, "default", "w", PatchType::kJsonMerge, R"({"spec":{"size":3}})");
  EXPECT_EQ(json::path((*sp)->doc(), {"metadata", "generation"})->GetInt64(), 2);
  // Strategic merge patch is refused for custom resources.
  EXPECT_EQ(api(s.patch(*w, "default", "w", PatchType::kStrategicMerge, "{}").status()).code, 415);
  // The other served version presents the same object with its apiVersion.
  auto beta = s.registry().by_resource("example.com", "v1beta1", "widgets");
  auto b = s.get(*beta, "default", "w");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(json::string_or_empty(&((*b)->doc()), "apiVersion"), "example.com/v1beta1");
}

TEST_F(Crd, DeletingTheCrdRemovesItsObjectsAndKind) {
  ASSERT_TRUE(
      s.create(
           *w, "default",
           J(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":1}})"))
          .ok());
  auto crds = type(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
  auto watch = s.watch(*w, "default", {});
  ASSERT_TRUE(watch.ok());
  EXPECT_EQ(next(*watch)->type, WatchEvent::Type::kAdded);
  auto d = s.remove(*crds, "", "widgets.example.com");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->removed);
  auto ev = next(*watch);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->type, WatchEvent::Type::kDeleted);
  EXPECT_FALSE(s.registry().by_resource("example.com", "v1", "widgets"));
}

TEST_F(Crd, CrdValidation) {
  auto crds = type(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
  auto r = s.create(
      *crds, "",
      J(R"({"metadata":{"name":"wrong.example.com"},"spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"gadgets","kind":"Gadget"},"versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object"}}}]}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api(r.status()).details->causes[0].message,
            R"(Invalid value: "wrong.example.com": must be spec.names.plural+"."+spec.group)");
  // A list-map key must be required or defaulted (found comparing with kube-apiserver v1.20).
  auto lm = s.create(
      *crds, "",
      J(R"({"metadata":{"name":"gadgets.example.com"},"spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"gadgets","kind":"Gadget"},"versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{
      "type":"object","properties":{"spec":{"type":"object","properties":{"routes":{"type":"array","x-kubernetes-list-type":"map",
      "x-kubernetes-list-map-keys":["name"],"items":{"type":"object","properties":{"name":{"type":"string"}}}}}}}}}}]}})"));
  ASSERT_FALSE(lm.ok());
  EXPECT_EQ(api(lm.status()).details->causes[0].field,
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[routes].items."
            "properties[name].default");
  EXPECT_EQ(api(lm.status()).details->causes[0].message,
            "Required value: this property is in x-kubernetes-list-map-keys, so it must have a "
            "default or be a required property");
}

// spec.conversion as kube-apiserver validates it (apiextensions validation; field paths of its
// internal type: spec.conversion.webhookClientConfig). Every message below was compared with
// kube-apiserver v1.20.2's answer to the same CRD (kubectl create --dry-run=server).
class CrdConversion : public Crd {
 protected:
  // The causes of creating gadgets.example.com with `conversion`, as "field: message".
  std::vector<std::string> causes(std::string_view conversion) {
    auto crds = type(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
    auto r = s.create(*crds, "", gadgets(conversion));
    std::vector<std::string> out;
    if (r.ok()) return out;
    const client::ApiStatus st = api(r.status());
    EXPECT_EQ(st.code, 422) << st.message;
    EXPECT_EQ(st.reason, "Invalid");
    if (!st.details) return out;
    for (const auto& c : st.details->causes) out.push_back(c.field + ": " + c.message);
    return out;
  }
  static JsonDoc gadgets(std::string_view conversion) {
    return J(
        std::string(R"({"metadata":{"name":"gadgets.example.com"},"spec":{"group":"example.com",
      "scope":"Namespaced","names":{"plural":"gadgets","kind":"Gadget"},"versions":[
      {"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object"}}},
      {"name":"v2","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object"}}}],
      "conversion":)") +
        std::string(conversion) + "}}");
  }
};

TEST_F(CrdConversion, StrategyNoneOrWebhook) {
  EXPECT_THAT(causes(R"({"strategy":"Sometimes"})"),
              ElementsAre(R"(spec.conversion.strategy: Unsupported value: "Sometimes": )"
                          R"(supported values: "None", "Webhook")"));
  EXPECT_THAT(causes("{}"), ElementsAre("spec.conversion.strategy: Required value"));
  EXPECT_THAT(causes(R"({"strategy":"None","webhook":{"conversionReviewVersions":["v1"],
                         "clientConfig":{"url":"https://127.0.0.1:9443/convert"}}})"),
              ElementsAre("spec.conversion.webhookClientConfig: Forbidden: should not be set "
                          "when strategy is not set to Webhook",
                          "spec.conversion.conversionReviewVersions: Forbidden: should not be "
                          "set when strategy is not set to Webhook"));
  EXPECT_THAT(causes(R"({"strategy":"None"})"), IsEmpty());
}

TEST_F(CrdConversion, AWebhookNeedsAClientConfigAndAReviewVersion) {
  EXPECT_THAT(causes(R"({"strategy":"Webhook"})"),
              ElementsAre("spec.conversion.webhookClientConfig: Required value: required when "
                          "strategy is set to Webhook",
                          "spec.conversion.conversionReviewVersions: Required value"));
  EXPECT_THAT(
      causes(R"({"strategy":"Webhook","webhook":{"conversionReviewVersions":["v2","v2"],
                 "clientConfig":{"url":"https://127.0.0.1/convert"}}})"),
      ElementsAre(R"(spec.conversion.conversionReviewVersions[1]: Invalid value: "v2": )"
                  "duplicate version",
                  R"(spec.conversion.conversionReviewVersions: Invalid value: []string{"v2", )"
                  R"("v2"}: must include at least one of v1, v1beta1)"));
  EXPECT_THAT(
      causes(R"({"strategy":"Webhook","webhook":{"conversionReviewVersions":["v1beta1","v1"],
                 "clientConfig":{"service":{"name":"conv","namespace":"sys","port":443,
                                            "path":"/convert"}}}})"),
      IsEmpty());
}

TEST_F(CrdConversion, TheClientConfigIsAnHttpsUrlOrAService) {
  auto webhook = [](std::string_view client_config) {
    return R"({"strategy":"Webhook","webhook":{"conversionReviewVersions":["v1"],"clientConfig":)" +
           std::string(client_config) + "}}";
  };
  EXPECT_THAT(causes(webhook(R"({"url":"http://127.0.0.1:9443/convert"})")),
              ElementsAre(R"(spec.conversion.webhookClientConfig.url: Invalid value: "http": )"
                          "'https' is the only allowed URL scheme; desired format: "
                          "https://host[/path]"));
  EXPECT_THAT(causes(webhook(R"({"url":"https://me@127.0.0.1/convert?x=1#top"})")),
              ElementsAre(R"(spec.conversion.webhookClientConfig.url: Invalid value: "me": )"
                          "user information is not permitted in the URL",
                          R"(spec.conversion.webhookClientConfig.url: Invalid value: "top": )"
                          "fragments are not permitted in the URL",
                          R"(spec.conversion.webhookClientConfig.url: Invalid value: "x=1": )"
                          "query parameters are not permitted in the URL"));
  EXPECT_THAT(causes(webhook(R"({"url":"https:///convert"})")),
              ElementsAre(R"(spec.conversion.webhookClientConfig.url: Invalid value: "": host )"
                          "must be provided; desired format: https://host[/path]"));
  EXPECT_THAT(causes(webhook(R"({"url":"127.0.0.1:9443/convert"})")),
              ElementsAre("spec.conversion.webhookClientConfig.url: Required value: url must be a "
                          R"(valid URL: parse "127.0.0.1:9443/convert": first path segment in URL )"
                          "cannot contain colon; desired format: https://host[/path]"));
  EXPECT_THAT(causes(webhook(R"({"url":":9443/convert"})")),
              ElementsAre("spec.conversion.webhookClientConfig.url: Required value: url must be a "
                          R"(valid URL: parse ":9443/convert": missing protocol scheme; desired )"
                          "format: https://host[/path]"));
  EXPECT_THAT(causes(webhook(R"({"url":"HTTPS://Example.com/convert"})")), IsEmpty());
  EXPECT_THAT(causes(webhook(R"({"url":"https://127.0.0.1/c","service":{"name":"a",
                                 "namespace":"b"}})")),
              ElementsAre("spec.conversion.webhookClientConfig: Required value: exactly one of "
                          "url or service is required"));
  EXPECT_THAT(causes(webhook("{}")),
              ElementsAre("spec.conversion.webhookClientConfig: Required value: exactly one of "
                          "url or service is required"));
  // kube-apiserver reports a missing namespace on service.name and a missing name on
  // service.namespace (it passes them to its check swapped); the same here.
  EXPECT_THAT(causes(webhook(R"({"service":{"name":"conv"}})")),
              ElementsAre("spec.conversion.webhookClientConfig.service.name: Required value: "
                          "service name is required"));
  EXPECT_THAT(causes(webhook(R"({"service":{"namespace":"sys","path":"/a//b/"}})")),
              ElementsAre("spec.conversion.webhookClientConfig.service.namespace: Required value: "
                          "service namespace is required",
                          R"(spec.conversion.webhookClientConfig.service.path: Invalid value: )"
                          R"("/a//b/": segment[1] may not be empty)"));
  EXPECT_THAT(
      causes(webhook(R"({"service":{"name":"","port":70000,"path":"convert//Now"}})")),
      ElementsAre(
          "spec.conversion.webhookClientConfig.service.name: Required value: service "
          "name is required",
          "spec.conversion.webhookClientConfig.service.namespace: Required value: "
          "service namespace is required",
          "spec.conversion.webhookClientConfig.service.port: Invalid value: 70000: port "
          "is not valid: must be between 1 and 65535, inclusive",
          R"(spec.conversion.webhookClientConfig.service.path: Invalid value: )"
          R"("convert//Now": must start with a '/')",
          R"(spec.conversion.webhookClientConfig.service.path: Invalid value: )"
          R"("convert//Now": segment[1] may not be empty)",
          R"(spec.conversion.webhookClientConfig.service.path: Invalid value: )"
          R"("convert//Now": segment[2]: a lowercase RFC 1123 subdomain must consist )"
          R"(of lower case alphanumeric characters, '-' or '.', and must start and end )"
          R"(with an alphanumeric character (e.g. 'example.com', regex used for )"
          R"(validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'))"));
}

TEST_F(CrdConversion, AnUpdateIsValidatedToo) {
  auto crds = type(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
  auto made = s.create(*crds, "", gadgets(R"({"strategy":"None"})"));
  ASSERT_TRUE(made.ok()) << api(made.status()).message;
  JsonDoc changed = gadgets(R"({"strategy":"Webhook","webhook":{"conversionReviewVersions":["v1"],
                                 "clientConfig":{"url":"http://127.0.0.1/convert"}}})");
  json::set_string(changed["metadata"], "resourceVersion", rv(*made), changed.GetAllocator());
  auto r = s.update(*crds, "", "gadgets.example.com", std::move(changed));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api(r.status()).details->causes.at(0).field, "spec.conversion.webhookClientConfig.url");
}

// A kind whose status schema has a required field, as Gateway API routes do (status.parents).
// The API server drops the status of a created custom resource when the status subresource is
// on, and keeps the stored one on a main-resource update, so status is never validated as the
// client wrote it there; only a /status write is.
class CrdStatusRequired : public ::testing::Test {
 protected:
  void SetUp() override {
    auto crds = type(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
    auto r = s.create(*crds, "", J(R"({"apiVersion":"apiextensions.k8s.io/v1",
      "kind":"CustomResourceDefinition","metadata":{"name":"routes.example.com"},
      "spec":{"group":"example.com","scope":"Namespaced",
        "names":{"plural":"routes","singular":"route","kind":"Route"},
        "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
          "schema":{"openAPIV3Schema":{"type":"object","properties":{
            "spec":{"type":"object","properties":{"host":{"type":"string"}}},
            "status":{"type":"object","required":["parents"],"properties":{
              "parents":{"type":"array","maxItems":2,"items":{"type":"object",
                "required":["name"],"properties":{"name":{"type":"string"}}}}}}}}}}]}})"));
    ASSERT_TRUE(r.ok()) << api(r.status()).message;
    t = s.registry().by_resource("example.com", "v1", "routes");
    ASSERT_TRUE(t);
  }
  JsonDoc route(std::string_view status) {
    return J(std::string(R"({"apiVersion":"example.com/v1","kind":"Route",
      "metadata":{"name":"r"},"spec":{"host":"a"})") +
             (status.empty() ? "" : ",\"status\":" + std::string(status)) + "}");
  }
  Store s;
  ResourceTypePtr t;
};

TEST_F(CrdStatusRequired, CreateDropsTheStatusInsteadOfValidatingIt) {
  for (std::string_view status :
       {"", "{}", R"({"parents":[{"name":"gw"}]})", R"({"parents":[{},{},{}]})"}) {
    auto c = s.create(*t, "default", route(status));
    ASSERT_TRUE(c.ok()) << status << ": " << api(c.status()).message;
    EXPECT_EQ(json::find((*c)->doc(), "status"), nullptr) << status;
    ASSERT_TRUE(s.remove(*t, "default", "r").ok());
  }
  // Server-side apply creates through the same strategy.
  auto ap = s.patch(*t, "default", "r", PatchType::kApply,
                    R"({"apiVersion":"example.com/v1","kind":"Route","metadata":{"name":"r"},
                        "spec":{"host":"b"},"status":{}})",
                    {.field_manager = "test"});
  ASSERT_TRUE(ap.ok()) << api(ap.status()).message;
  EXPECT_EQ(json::find((*ap)->doc(), "status"), nullptr);
}

TEST_F(CrdStatusRequired, MainUpdateKeepsTheStoredStatusAndStatusWritesAreValidated) {
  ASSERT_TRUE(s.create(*t, "default", route("")).ok());
  auto u = s.update(*t, "default", "r", route("{}"));
  ASSERT_TRUE(u.ok()) << api(u.status()).message;
  EXPECT_EQ(json::find((*u)->doc(), "status"), nullptr);
  // The /status subresource validates what it is given.
  auto bad = s.patch_status(*t, "default", "r", PatchType::kJsonMerge, R"({"status":{}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(api(bad.status()).message,
            R"(Route.example.com "r" is invalid: status.parents: Required value)");
  auto many = s.patch_status(*t, "default", "r", PatchType::kJsonMerge,
                             R"({"status":{"parents":[{"name":"a"},{"name":"b"},{"name":"c"}]}})");
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(api(many.status()).details->causes.at(0).field, "status.parents");
  auto good = s.patch_status(*t, "default", "r", PatchType::kJsonMerge,
                             R"({"status":{"parents":[{"name":"a"}]}})");
  ASSERT_TRUE(good.ok()) << api(good.status()).message;
  // A main-resource update that carries another (even invalid) status keeps the stored one.
  auto u2 = s.update(*t, "default", "r", route("{}"));
  ASSERT_TRUE(u2.ok()) << api(u2.status()).message;
  EXPECT_EQ(json::to_json(*json::find((*u2)->doc(), "status")), R"({"parents":[{"name":"a"}]})");
}

// oneOf / anyOf / not, as Gateway API's Gateway spec.addresses uses them: an address of type
// IPAddress must be an IPv4 or IPv6 address. kube-apiserver 1.20 refuses a bad one with the
// composite messages on field <nil> followed by the best alternative's errors.
TEST(CrdJunctors, OneOfAnyOfNot) {
  Store s;
  auto crds = type(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
  auto r = s.create(*crds, "", J(R"({"apiVersion":"apiextensions.k8s.io/v1",
    "kind":"CustomResourceDefinition","metadata":{"name":"doors.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"doors","singular":"door","kind":"Door"},
      "versions":[{"name":"v1","served":true,"storage":true,
        "schema":{"openAPIV3Schema":{"type":"object","properties":{
          "spec":{"type":"object","properties":{
            "addresses":{"type":"array","items":{"type":"object",
              "oneOf":[{"properties":{"type":{"enum":["IPAddress"]},
                                      "value":{"anyOf":[{"format":"ipv4"},{"format":"ipv6"}]}}},
                       {"properties":{"type":{"not":{"enum":["IPAddress"]}}}}],
              "properties":{"type":{"type":"string","default":"IPAddress"},
                            "value":{"type":"string"}}}}}}}}}}]}})"));
  ASSERT_TRUE(r.ok()) << api(r.status()).message;
  auto t = s.registry().by_resource("example.com", "v1", "doors");
  ASSERT_TRUE(t);
  auto door = [](std::string_view addresses) {
    return J(std::string(R"({"apiVersion":"example.com/v1","kind":"Door","metadata":{"name":"d"},
                             "spec":{"addresses":)") +
             std::string(addresses) + "}}");
  };
  for (std::string_view ok :
       {R"([{"value":"10.0.0.1"}])", R"([{"type":"IPAddress","value":"fd00::1"}])",
        R"([{"type":"Hostname","value":"lb.example.com"}])"}) {
    auto c = s.create(*t, "default", door(ok));
    EXPECT_TRUE(c.ok()) << ok << ": " << api(c.status()).message;
    ASSERT_TRUE(s.remove(*t, "default", "d").ok());
  }
  auto bad = s.create(*t, "default", door(R"([{"value":"not-an-ip"},{"value":"also-not"}])"));
  ASSERT_FALSE(bad.ok());
  std::vector<std::string> got;
  for (auto& c : client::causes_of(bad.status())) got.push_back(c.field + ": " + c.message);
  std::vector<std::string> want = {
      R"(<nil>: Invalid value: "": "spec.addresses[0]" must validate one and only one schema (oneOf). Found none valid)",
      R"(<nil>: Invalid value: "": "spec.addresses[0].value" must validate at least one schema (anyOf))",
      R"(spec.addresses[0].value: Invalid value: "not-an-ip": spec.addresses[0].value in body must be of type ipv4: "not-an-ip")",
      R"(<nil>: Invalid value: "": "spec.addresses[1]" must validate one and only one schema (oneOf). Found none valid)",
      R"(<nil>: Invalid value: "": "spec.addresses[1].value" must validate at least one schema (anyOf))",
      R"(spec.addresses[1].value: Invalid value: "also-not": spec.addresses[1].value in body must be of type ipv4: "also-not")",
  };
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace kop::local
