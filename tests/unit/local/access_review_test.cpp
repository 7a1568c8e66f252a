// SelfSubjectAccessReview and SelfSubjectRulesReview over REST (kubectl auth can-i, --list):
// answered allowed for the token holder, in JSON and from protobuf bodies, invalid specs refused
// with the API server's messages, listed in discovery, and still behind the bearer token; and
// SelfSubjectReview (kubectl auth whoami).
#include <gtest/gtest.h>

#include "proto_codec.h"
#include "rest.h"
#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

class AccessReview : public ::testing::Test {
 protected:
  rest::Response post(const std::string& resource, std::string body,
                      std::string content_type = "application/json", std::string token = "secret") {
    rest::Request r{"POST",
                    "/apis/authorization.k8s.io/v1/" + resource,
                    {{"content-type", std::move(content_type)},
                     {"authorization", "Bearer " + std::move(token)}},
                    std::move(body)};
    return rest::handle(store, opts, r);
  }
  Store store;
  rest::Options opts{"secret", "127.0.0.1:6443"};
};

TEST_F(AccessReview, CanIIsAllowedForTheTokenHolder) {
  auto r = post("selfsubjectaccessreviews", R"({"kind":"SelfSubjectAccessReview",
      "apiVersion":"authorization.k8s.io/v1","spec":{"resourceAttributes":
      {"namespace":"default","verb":"create","resource":"configmaps"}}})");
  ASSERT_EQ(r.status, 201) << r.body;
  JsonDoc d = J(r.body);
  EXPECT_EQ(json::to_json(*json::path(d, {"status", "allowed"})), "true");
  EXPECT_EQ(json::path_string(d, {"spec", "resourceAttributes", "resource"}), "configmaps");
  // kubectl sends the review as protobuf.
  JsonDoc ssar = J(R"({"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1",
      "spec":{"nonResourceAttributes":{"path":"/healthz","verb":"get"}}})");
  auto pb =
      post("selfsubjectaccessreviews", *proto::encode(ssar), "application/vnd.kubernetes.protobuf");
  ASSERT_EQ(pb.status, 201) << pb.body;
  EXPECT_EQ(json::to_json(*json::path(J(pb.body), {"status", "allowed"})), "true");
  // Without the token nothing is reviewed.
  EXPECT_EQ(post("selfsubjectaccessreviews", R"({"spec":{}})", "application/json", "wrong").status,
            401);
}

TEST_F(AccessReview, RulesReviewListsEverything) {
  auto r = post("selfsubjectrulesreviews",
                R"({"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1",
                    "spec":{"namespace":"default"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  JsonDoc d = J(r.body);
  EXPECT_EQ(json::to_json(*json::path(d, {"status", "resourceRules"})),
            R"([{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}])");
  EXPECT_EQ(json::to_json(*json::path(d, {"status", "incomplete"})), "false");
  auto no_ns = post("selfsubjectrulesreviews", R"({"spec":{}})");
  EXPECT_EQ(no_ns.status, 400);
  EXPECT_EQ(json::path_string(J(no_ns.body), {"message"}), "no namespace on request");
}

TEST_F(AccessReview, InvalidSpecsAreRefusedAsTheApiServerDoes) {
  auto none = post("selfsubjectaccessreviews", R"({"spec":{}})");
  EXPECT_EQ(none.status, 422);
  EXPECT_EQ(
      json::path_string(J(none.body), {"message"}),
      R"(.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified)");
  auto both = post("selfsubjectaccessreviews", R"({"spec":{"resourceAttributes":{"verb":"get"},
      "nonResourceAttributes":{"path":"/x","verb":"get"}}})");
  EXPECT_EQ(both.status, 422);
  EXPECT_EQ(
      json::path_string(J(both.body), {"message"}),
      R"(.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: authorization.NonResourceAttributes{Path:"/x", Verb:"get"}: cannot be specified in combination with resourceAttributes)");
  EXPECT_EQ(post("selfsubjectaccessreviews", R"({"kind":"ConfigMap","spec":{}})").status, 400);
  auto get = rest::handle(store, opts,
                          {"GET",
                           "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                           {{"authorization", "Bearer secret"}},
                           ""});
  EXPECT_EQ(get.status, 405);
}

TEST_F(AccessReview, WhoAmI) {
  rest::Request req{"POST",
                    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                    {{"content-type", "application/json"}, {"authorization", "Bearer secret"}},
                    R"({"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1"})"};
  auto r = rest::handle(store, opts, req);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::to_json(*json::path(J(r.body), {"status", "userInfo"})),
            R"({"username":"kop-local","groups":["system:masters","system:authenticated"]})");
  // With authentication off, everyone is anonymous (and may still do everything).
  rest::Options open{"", "127.0.0.1:6443"};
  auto anon = rest::handle(store, open, req);
  EXPECT_EQ(json::path_string(J(anon.body), {"status", "userInfo", "username"}),
            "system:anonymous");
  auto disc = rest::handle(
      store, opts,
      {"GET", "/apis/authentication.k8s.io/v1", {{"authorization", "Bearer secret"}}, ""});
  ASSERT_EQ(disc.status, 200);
  EXPECT_NE(disc.body.find(R"("name":"selfsubjectreviews")"), std::string::npos);
}

TEST_F(AccessReview, Discovery) {
  auto groups =
      J(rest::handle(store, opts, {"GET", "/apis", {{"authorization", "Bearer secret"}}, ""}).body);
  bool listed = false;
  for (auto& g : groups["groups"].GetArray())
    listed = listed || json::string_or_empty(&g, "name") == "authorization.k8s.io";
  EXPECT_TRUE(listed);
  auto res = rest::handle(
      store, opts,
      {"GET", "/apis/authorization.k8s.io/v1", {{"authorization", "Bearer secret"}}, ""});
  ASSERT_EQ(res.status, 200);
  EXPECT_NE(res.body.find(R"("name":"selfsubjectaccessreviews")"), std::string::npos);
  EXPECT_NE(res.body.find(R"("name":"selfsubjectrulesreviews")"), std::string::npos);
}

}  // namespace
}  // namespace kop::local
