// fieldValidation (Strict, Warn, Ignore) on built-in kinds over REST: unknown fields named by
// their path, refused, warned about or dropped; patches checked as partial objects; custom
// resources and requests without the parameter left alone.
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

}  // namespace
}  // namespace kop::local
