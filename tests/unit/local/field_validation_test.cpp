// fieldValidation (Strict, Warn, Ignore) on built-in kinds over REST: unknown fields named by
// their path, refused, warned about or dropped; patches checked as partial objects; custom
// resources and requests without the parameter left alone. Values of the wrong JSON type are
// refused whatever the parameter, as decoding into the Go type refuses them.
#include <gtest/gtest.h>

#include "rest.h"
#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

constexpr const char* kTypo = R"({"apiVersion":"apps/v1","kind":"Deployment",
  "metadata":{"name":"typo"},"spec":{"replicass":2,"selector":{"matchLabels":{"app":"t"}},
  "template":{"metadata":{"labels":{"app":"t"},"bogus":1},
  "spec":{"containers":[{"name":"c","image":"nginx","imagee":"x"}]}}}})";

class FieldValidation : public ::testing::Test {
 protected:
  rest::Response call(std::string method, std::string target, std::string body,
                      std::string content_type = "application/json") {
    return rest::handle(store, opts,
                        {std::move(method),
                         std::move(target),
                         {{"content-type", std::move(content_type)}},
                         std::move(body)});
  }
  static std::vector<std::string> warnings(const rest::Response& r) {
    std::vector<std::string> out;
    for (auto& [k, v] : r.headers)
      if (k == "Warning") out.push_back(v);
    return out;
  }
  Store store;
  rest::Options opts{"", "127.0.0.1:6443"};
};

TEST_F(FieldValidation, StrictRefusesNamingEveryUnknownField) {
  auto r =
      call("POST", "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict", kTypo);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      json::path_string(J(r.body), {"message"}),
      R"(strict decoding error: unknown field "spec.replicass", unknown field "spec.template.metadata.bogus", unknown field "spec.template.spec.containers[0].imagee")");
  EXPECT_EQ(call("GET", "/apis/apps/v1/namespaces/default/deployments/typo", "").status, 404);
}

TEST_F(FieldValidation, WarnAndIgnoreDropTheFields) {
  auto w = call("POST", "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Warn", kTypo);
  ASSERT_EQ(w.status, 201) << w.body;
  EXPECT_EQ(warnings(w),
            (std::vector<std::string>{
                R"(299 - "unknown field \"spec.replicass\"")",
                R"(299 - "unknown field \"spec.template.metadata.bogus\"")",
                R"(299 - "unknown field \"spec.template.spec.containers[0].imagee\"")"}));
  JsonDoc d = J(w.body);
  EXPECT_EQ(json::find(d["spec"], "replicass"), nullptr);
  EXPECT_EQ(json::find(d["spec"]["template"]["spec"]["containers"][0], "imagee"), nullptr);
  // A strategic merge patch is a partial object; its directives are not fields.
  auto p = call(
      "PATCH", "/apis/apps/v1/namespaces/default/deployments/typo?fieldValidation=Ignore",
      R"({"spec":{"replicas":3,"foo":1,"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}]}}}})",
      "application/strategic-merge-patch+json");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_TRUE(warnings(p).empty());
  EXPECT_EQ(json::find(J(p.body)["spec"], "foo"), nullptr);
  EXPECT_EQ(json::to_json(J(p.body)["spec"]["replicas"]), "3");
  auto strict =
      call("PATCH", "/apis/apps/v1/namespaces/default/deployments/typo?fieldValidation=Strict",
           R"({"spec":{"foo":1}})", "application/merge-patch+json");
  EXPECT_EQ(strict.status, 400);
}

TEST_F(FieldValidation, MapsAndMessagesInLists) {
  // ConfigMap data is a map of strings: any key is fine. Service ports are messages.
  auto c = call("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
                R"({"metadata":{"name":"c","labels":{"any":"x"}},"data":{"whatever":"v"}})");
  EXPECT_EQ(c.status, 201) << c.body;
  auto s = call("POST", "/api/v1/namespaces/default/services?fieldValidation=Strict",
                R"({"metadata":{"name":"s"},"spec":{"ports":[{"port":80,"prot":"TCP"}]}})");
  EXPECT_EQ(s.status, 400);
  EXPECT_EQ(json::path_string(J(s.body), {"message"}),
            R"(strict decoding error: unknown field "spec.ports[0].prot")");
}

TEST_F(FieldValidation, WithoutTheParameterTheBodyIsKept) {
  auto r = call("POST", "/apis/apps/v1/namespaces/default/deployments", kTypo);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(warnings(r).empty());
  EXPECT_NE(json::find(J(r.body)["spec"], "replicass"), nullptr);
}

TEST_F(FieldValidation, ValuesOfTheWrongTypeAreRefusedAsTheDecoderWordsThem) {
  auto message = [](const rest::Response& r) {
    return std::string(json::path_string(J(r.body), {"message"}));
  };
  // An unquoted `on` or `true` in YAML is a boolean: the API server does not store it.
  auto c = call("POST", "/api/v1/namespaces/default/configmaps",
                R"({"metadata":{"name":"c","annotations":{"ssl-redirect":true}}})");
  EXPECT_EQ(c.status, 400);
  EXPECT_EQ(json::path_string(J(c.body), {"reason"}), "BadRequest");
  EXPECT_EQ(message(c),
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal "
            "bool into Go struct field ObjectMeta.metadata.annotations of type string");
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/configmaps/c", "").status, 404);
  // In lists of messages, the innermost struct and the path without indices, as Go names them.
  auto s = call("POST", "/api/v1/namespaces/default/services",
                R"({"metadata":{"name":"s"},"spec":{"ports":[{"port":"80"}]}})");
  EXPECT_EQ(message(s),
            "Service in version \"v1\" cannot be handled as a Service: json: cannot unmarshal "
            "string into Go struct field ServicePort.spec.ports.port of type int32");
  auto l = call("POST", "/api/v1/namespaces/default/services",
                R"({"metadata":{"name":"s"},"spec":{"ports":{"port":80}}})");
  EXPECT_EQ(message(l),
            "Service in version \"v1\" cannot be handled as a Service: json: cannot unmarshal "
            "object into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort");
  auto big = call("POST", "/apis/apps/v1/namespaces/default/deployments",
                  R"({"metadata":{"name":"d"},"spec":{"replicas":1.5}})");
  EXPECT_NE(message(big).find("cannot unmarshal number 1.5 into Go struct field "
                              "DeploymentSpec.spec.replicas of type int32"),
            std::string::npos)
      << message(big);
  // What decodes: int-or-string either way, quantities as numbers, nulls, unknown members.
  auto ok = call("POST", "/api/v1/namespaces/default/services",
                 R"({"metadata":{"name":"ok","labels":null,"extra":1},
                     "spec":{"ports":[{"name":"a","port":80,"targetPort":"http"},
                                      {"name":"b","port":81,"targetPort":8081}]}})");
  EXPECT_EQ(ok.status, 201) << ok.body;
  // A patch whose result holds a wrong type is refused too; the object stays as it was.
  auto p = call("PATCH", "/api/v1/namespaces/default/services/ok",
                R"({"metadata":{"annotations":{"a":1}}})", "application/merge-patch+json");
  EXPECT_EQ(p.status, 400);
  EXPECT_NE(message(p).find("ObjectMeta.metadata.annotations of type string"), std::string::npos);
  auto got = call("GET", "/api/v1/namespaces/default/services/ok", "");
  EXPECT_EQ(json::find(J(got.body)["metadata"], "annotations"), nullptr);
}

}  // namespace
}  // namespace kop::local
