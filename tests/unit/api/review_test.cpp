// The review codec, both sides: what the API server sends is read with every field checked, what
// a webhook answers has the shape the API server reads, and the API server's side (kop::local)
// writes what the webhook's side reads and reads answers with kube-apiserver's checks.
#include "kop/api/review.h"

#include <absl/strings/escaping.h>
#include <gtest/gtest.h>

#include <string>

namespace kop::api {
namespace {

std::string review(std::string_view request, std::string_view api_version = "admission.k8s.io/v1") {
  return std::string(R"({"apiVersion":")") + std::string(api_version) +
         R"(","kind":"AdmissionReview","request":)" + std::string(request) + "}";
}

constexpr std::string_view kCreate = R"({
  "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
  "kind": {"group": "example.com", "version": "v1", "kind": "Website"},
  "resource": {"group": "example.com", "version": "v1", "resource": "websites"},
  "requestKind": {"group": "example.com", "version": "v1beta1", "kind": "Website"},
  "requestResource": {"group": "example.com", "version": "v1beta1", "resource": "websites"},
  "name": "site", "namespace": "team-a", "operation": "CREATE",
  "userInfo": {"username": "admin", "uid": "u1", "groups": ["system:masters"]},
  "object": {"apiVersion": "example.com/v1", "kind": "Website", "metadata": {"name": "site"},
             "spec": {"replicas": 3}},
  "oldObject": null, "dryRun": true,
  "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
})";

TEST(AdmissionReview, ReadsEveryField) {
  auto r = parse_admission_review(review(kCreate));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->review_api_version, "admission.k8s.io/v1");
  EXPECT_EQ(r->uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(r->kind.to_string(), "example.com/v1, Kind=Website");
  EXPECT_EQ(r->resource.resource, "websites");
  EXPECT_EQ(r->request_kind.version, "v1beta1");
  EXPECT_EQ(r->request_resource.version, "v1beta1");
  EXPECT_EQ(r->name, "site");
  EXPECT_EQ(r->namespace_, "team-a");
  EXPECT_EQ(r->operation, AdmissionOperation::kCreate);
  EXPECT_EQ(r->user_info.username, "admin");
  EXPECT_EQ(r->user_info.groups, std::vector<std::string>{"system:masters"});
  ASSERT_TRUE(r->object.has_value());
  EXPECT_EQ(r->object->get_int("/spec/replicas"), 3);
  EXPECT_FALSE(r->old_object.has_value());
  EXPECT_TRUE(r->dry_run);
  ASSERT_TRUE(r->options.has_value());
  EXPECT_EQ(r->options->kind(), "CreateOptions");
}

TEST(AdmissionReview, AcceptsV1beta1AndDefaultsTheRequestKind) {
  auto r = parse_admission_review(review(R"({"uid":"1","operation":"DELETE",
      "kind":{"group":"","version":"v1","kind":"ConfigMap"},
      "resource":{"group":"","version":"v1","resource":"configmaps"},
      "oldObject":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}})",
                                         "admission.k8s.io/v1beta1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->review_api_version, "admission.k8s.io/v1beta1");
  EXPECT_EQ(r->request_kind, r->kind);
  EXPECT_EQ(r->request_resource, r->resource);
  EXPECT_EQ(r->operation, AdmissionOperation::kDelete);
  EXPECT_FALSE(r->object.has_value());
  ASSERT_TRUE(r->old_object.has_value());
  EXPECT_EQ(r->old_object->name(), "c");
}

struct Bad {
  std::string body;
  std::string error;  // a part of the message
};

TEST(AdmissionReview, RefusesMalformedReviewsNamingTheField) {
  const std::string ok_kind = R"("kind":{"version":"v1","kind":"ConfigMap"},)"
                              R"("resource":{"version":"v1","resource":"configmaps"},)";
  const std::string obj = R"("object":{"apiVersion":"v1","kind":"ConfigMap"})";
  const Bad cases[] = {
      {"", "AdmissionReview: "},
      {"[]", "AdmissionReview: "},
      {"{\"apiVersion\":\"admission.k8s.io/v1\"", "AdmissionReview: "},
      {R"({"apiVersion":"v1","kind":"AdmissionReview","request":{}})", "apiVersion \"v1\" is not"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{}})", "kind \"Pod\""},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})", "request is required"},
      {review("[1]"), "request must be an object"},
      {review("{" + ok_kind + R"("operation":"CREATE",)" + obj + "}"), "request.uid: required"},
      {review(R"({"uid":"",)" + ok_kind + R"("operation":"CREATE",)" + obj + "}"),
       "request.uid: must not be empty"},
      {review(R"({"uid":7,)" + ok_kind + R"("operation":"CREATE",)" + obj + "}"),
       "request.uid: must be a string"},
      {review(R"({"uid":"1",)" + ok_kind + R"("operation":"PATCH",)" + obj + "}"),
       "request.operation: \"PATCH\" is not CREATE, UPDATE, DELETE or CONNECT"},
      {review(R"({"uid":"1",)" + ok_kind + R"("name":"x"})"), "request.operation: required"},
      {review(R"({"uid":"1","resource":{"version":"v1","resource":"x"},"operation":"CREATE",)" +
              obj + "}"),
       "request.kind: required"},
      {review(R"({"uid":"1","kind":{"version":"v1"},"resource":{"version":"v1","resource":"x"},)"
              R"("operation":"CREATE",)" +
              obj + "}"),
       "request.kind.kind: required"},
      {review(R"({"uid":"1",)" + ok_kind + R"("operation":"CREATE"})"),
       "request.object: required for CREATE"},
      {review(R"({"uid":"1",)" + ok_kind + R"("operation":"UPDATE",)" + obj + "}"),
       "request.oldObject: required for UPDATE"},
      {review(R"({"uid":"1",)" + ok_kind + R"("operation":"CREATE","object":"x"})"),
       "request.object: must be an object"},
      {review(R"({"uid":"1",)" + ok_kind + R"("operation":"CREATE","dryRun":"yes",)" + obj + "}"),
       "request.dryRun: must be a boolean"},
      {review(R"({"uid":"1",)" + ok_kind + R"("operation":"CREATE","userInfo":{"groups":[1]},)" +
              obj + "}"),
       "request.userInfo.groups: must be an array of strings"},
      {review(R"({"uid":"1","uid":"2",)" + ok_kind + R"("operation":"CREATE",)" + obj + "}"),
       "AdmissionReview: "},
  };
  for (const auto& c : cases) {
    auto r = parse_admission_review(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(r.status().message().find(c.error), absl::string_view::npos)
        << c.body << "\n got: " << r.status().message() << "\n want: " << c.error;
  }
}

TEST(AdmissionReview, AnswersWithStatusPatchAndWarnings) {
  AdmissionResponse resp;
  resp.uid = "u-1";
  resp.allowed = false;
  resp.code = 403;
  resp.reason = "Forbidden";
  resp.message = "spec.replicas: at most 10";
  resp.warnings = {"deprecated field"};
  auto denied = Object::parse(admission_review_json(resp, "admission.k8s.io/v1beta1"));
  ASSERT_TRUE(denied.ok()) << denied.status();
  EXPECT_EQ(denied->api_version(), "admission.k8s.io/v1beta1");
  EXPECT_EQ(denied->kind(), "AdmissionReview");
  EXPECT_EQ(denied->get_string("/response/uid"), "u-1");
  EXPECT_EQ(denied->get_bool("/response/allowed"), false);
  EXPECT_EQ(denied->get_int("/response/status/code"), 403);
  EXPECT_EQ(denied->get_string("/response/status/status"), "Failure");
  EXPECT_EQ(denied->get_string("/response/status/message"), "spec.replicas: at most 10");
  EXPECT_EQ(denied->get_string("/response/warnings/0"), "deprecated field");
  EXPECT_EQ(denied->at("/response/patch"), nullptr);

  AdmissionResponse patched;
  patched.uid = "u-2";
  patched.patch = R"([{"op":"add","path":"/spec/replicas","value":1}])";
  auto allowed = Object::parse(admission_review_json(patched));
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->get_bool("/response/allowed"), true);
  EXPECT_EQ(allowed->at("/response/status"), nullptr);
  EXPECT_EQ(allowed->get_string("/response/patchType"), "JSONPatch");
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(std::string(*allowed->get_string("/response/patch")), &decoded));
  EXPECT_EQ(decoded, patched.patch);
}

// kop::local's request, read back by the webhook's parser: every field survives the trip.
TEST(AdmissionReview, TheApiServersRequestReadsBackAsWritten) {
  AdmissionRequest sent;
  sent.uid = "1b6c1a56-0e1f-4c49-9d1a-3c0d2ff0a001";
  sent.kind = {"apps", "v1", "Deployment"};
  sent.resource = {"apps", "v1", "deployments"};
  sent.sub_resource = "status";
  sent.name = "web";
  sent.namespace_ = "team-a";
  sent.operation = AdmissionOperation::kUpdate;
  sent.user_info = {.username = "kop-local", .uid = "", .groups = {"system:masters"}};
  auto obj = Object::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","labels":{"tier":"a\u0001b"}},"spec":{"replicas":2}})");
  ASSERT_TRUE(obj.ok()) << obj.status();
  sent.object = *obj;
  sent.old_object = *obj;
  sent.dry_run = true;
  auto options = Object::parse(R"({"apiVersion":"meta.k8s.io/v1","kind":"UpdateOptions"})");
  ASSERT_TRUE(options.ok());
  sent.options = *options;

  std::string body = admission_request_json(sent);
  auto got = parse_admission_review(body);
  ASSERT_TRUE(got.ok()) << got.status() << "\n" << body;
  EXPECT_EQ(got->review_api_version, "admission.k8s.io/v1");
  EXPECT_EQ(got->uid, sent.uid);
  EXPECT_EQ(got->kind, sent.kind);
  EXPECT_EQ(got->resource, sent.resource);
  EXPECT_EQ(got->request_kind, sent.kind);  // empty request_kind: written as kind
  EXPECT_EQ(got->request_resource, sent.resource);
  EXPECT_EQ(got->sub_resource, "status");
  EXPECT_EQ(got->name, "web");
  EXPECT_EQ(got->namespace_, "team-a");
  EXPECT_EQ(got->operation, AdmissionOperation::kUpdate);
  EXPECT_EQ(got->user_info.username, "kop-local");
  EXPECT_EQ(got->user_info.groups, std::vector<std::string>{"system:masters"});
  ASSERT_TRUE(got->object && got->old_object && got->options);
  EXPECT_EQ(got->object->get_string("/metadata/labels/tier"),
            "a\x01"
            "b");
  EXPECT_EQ(got->old_object->get_int("/spec/replicas"), 2);
  EXPECT_EQ(got->options->kind(), "UpdateOptions");
  EXPECT_TRUE(got->dry_run);

  // A DELETE of a cluster-scoped object: no object, no namespace, no subResource.
  AdmissionRequest removal;
  removal.uid = "2";
  removal.kind = {"", "v1", "Namespace"};
  removal.resource = {"", "v1", "namespaces"};
  removal.name = "gone";
  removal.operation = AdmissionOperation::kDelete;
  removal.old_object = *obj;
  auto raw = Object::parse(admission_request_json(removal));
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->at("/request/namespace"), nullptr);
  EXPECT_EQ(raw->at("/request/subResource"), nullptr);
  ASSERT_NE(raw->at("/request/object"), nullptr);
  EXPECT_TRUE(raw->at("/request/object")->IsNull());
  EXPECT_EQ(raw->get_bool("/request/dryRun"), false);
}

// A webhook's answer written by admission_review_json reads back through the API server's side.
TEST(AdmissionReview, TheWebhooksAnswerReadsBackOnTheApiServersSide) {
  AdmissionResponse denied;
  denied.uid = "u-1";
  denied.allowed = false;
  denied.code = 422;
  denied.reason = "Invalid";
  denied.message = "spec.replicas: at most 10";
  auto got = parse_admission_response(admission_review_json(denied), "u-1", false);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->allowed);
  EXPECT_EQ(got->code, 422);
  EXPECT_EQ(got->reason, "Invalid");
  EXPECT_EQ(got->message, "spec.replicas: at most 10");

  AdmissionResponse patched;
  patched.uid = "u-2";
  patched.patch = R"([{"op":"add","path":"/metadata/labels","value":{"a":"b"}}])";
  got = parse_admission_response(admission_review_json(patched), "u-2", true);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->allowed);
  EXPECT_EQ(got->patch, patched.patch);  // decoded from base64
}

// kube-apiserver's VerifyAdmissionResponse rules, with its messages.
TEST(AdmissionReview, AnswersAreCheckedAsKubeApiserverChecksThem) {
  auto answer = [](std::string_view response,
                   std::string_view api_version = "admission.k8s.io/v1") {
    return std::string(R"({"apiVersion":")") + std::string(api_version) +
           R"(","kind":"AdmissionReview","response":)" + std::string(response) + "}";
  };
  const std::string patch = R"("patch":"W10=")";  // base64 of []
  struct Case {
    std::string body;
    bool mutating;
    std::string error;
  };
  const Case cases[] = {
      {"{", true, "offset"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})", true,
       "webhook response was absent"},
      {answer(R"({"uid":"other","allowed":true})"), true,
       "expected response.uid=\"u\", got \"other\""},
      {answer(R"({"uid":"u\n","allowed":true})"), true, "got \"u\\n\""},  // quoted as Go's %q
      {answer(R"({"uid":"u","allowed":true})", "admission.k8s.io/v1beta1"), true,
       "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got "
       "admission.k8s.io/v1beta1, Kind=AdmissionReview"},
      {answer(R"({"uid":"u","allowed":"yes"})"), true, "response.allowed: must be a boolean"},
      {answer(R"({"uid":"u","allowed":true,"status":{"code":"403"}})"), true,
       "response.status.code: must be a 32-bit integer"},
      {answer(R"({"uid":"u","allowed":true,)" + patch + "}"), true,
       "webhook returned response.patch but not response.patchType"},
      {answer(R"({"uid":"u","allowed":true,"patchType":"JSONPatch"})"), true,
       "webhook returned response.patchType but not response.patch"},
      {answer(R"({"uid":"u","allowed":true,"patchType":"MergePatch",)" + patch + "}"), true,
       "webhook returned invalid response.patchType of \"MergePatch\""},
      {answer(R"({"uid":"u","allowed":true,"patchType":"JSONPatch","patch":"%%"})"), true,
       "response.patch: is not base64"},
      {answer(R"({"uid":"u","allowed":true,"patchType":"JSONPatch",)" + patch + "}"), false,
       "validating webhook may not return response.patch"},
      {answer(R"({"uid":"u","allowed":true,"patchType":"JSONPatch"})"), false,
       "validating webhook may not return response.patchType"},
  };
  for (const auto& c : cases) {
    auto r = parse_admission_response(c.body, "u", c.mutating);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(r.status().message().find(c.error), absl::string_view::npos)
        << c.body << "\n got: " << r.status().message() << "\n want: " << c.error;
  }
  // An absent `allowed` is false, as Go decodes it: a denial, not a failed call.
  auto no_allowed = parse_admission_response(answer(R"({"uid":"u"})"), "u", false);
  ASSERT_TRUE(no_allowed.ok()) << no_allowed.status();
  EXPECT_FALSE(no_allowed->allowed);
}

TEST(ConversionReview, ReadsAndAnswers) {
  auto r = parse_conversion_review(R"({"apiVersion":"apiextensions.k8s.io/v1",
      "kind":"ConversionReview","request":{"uid":"c-1","desiredAPIVersion":"example.com/v2",
      "objects":[{"apiVersion":"example.com/v1","kind":"Website","metadata":{"name":"a"}}]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->uid, "c-1");
  EXPECT_EQ(r->desired_api_version, "example.com/v2");
  ASSERT_EQ(r->objects.size(), 1U);
  EXPECT_EQ(r->objects[0].name(), "a");

  ConversionResponse ok{.uid = "c-1", .converted_objects = {r->objects[0]}, .result = {}};
  auto answer = Object::parse(conversion_review_json(ok));
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->get_string("/response/result/status"), "Success");
  EXPECT_EQ(answer->get_string("/response/convertedObjects/0/metadata/name"), "a");

  ConversionResponse failed{.uid = "c-1",
                            .converted_objects = {r->objects[0]},
                            .result = absl::InternalError("no v2 for you")};
  auto refused = Object::parse(conversion_review_json(failed));
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->get_string("/response/result/status"), "Failure");
  EXPECT_EQ(refused->get_string("/response/result/message"), "no v2 for you");
  EXPECT_EQ(refused->at("/response/convertedObjects/0"), nullptr);
}

TEST(ConversionReview, RefusesMalformedReviews) {
  const Bad cases[] = {
      {R"({"apiVersion":"apiextensions.k8s.io/v2","kind":"ConversionReview","request":{}})",
       "apiVersion \"apiextensions.k8s.io/v2\" is not apiextensions.k8s.io/v1"},
      {R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview","request":{"uid":"1"}})",
       "request.desiredAPIVersion: required"},
      {R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview","request":{"uid":"1",
          "desiredAPIVersion":"a/b/c"}})",
       "request.desiredAPIVersion: \"a/b/c\" is not group/version"},
      {R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview","request":{"uid":"1",
          "desiredAPIVersion":"x/v1","objects":[{"kind":"A"}]}})",
       "request.objects[0]: apiVersion and kind are required"},
      {R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview","request":{"uid":"1",
          "desiredAPIVersion":"x/v1","objects":{}}})",
       "request.objects: must be an array of objects"},
  };
  for (const auto& c : cases) {
    auto r = parse_conversion_review(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_NE(r.status().message().find(c.error), absl::string_view::npos)
        << r.status().message() << "\n want: " << c.error;
  }
}

// The API server's side writes what the webhook's side reads, and reads what it answers, in
// both review versions.
TEST(ConversionReview, BothSidesSpeakOneFormat) {
  auto a = Object::parse(R"({"apiVersion":"example.com/v1","kind":"Website",
      "metadata":{"name":"a","namespace":"ns","uid":"1"},"spec":{"size":3}})");
  auto b = Object::parse(R"({"apiVersion":"example.com/v1","kind":"Website",
      "metadata":{"name":"b","namespace":"ns","uid":"2"}})");
  ASSERT_TRUE(a.ok() && b.ok());
  for (std::string_view version : {kConversionReviewV1, kConversionReviewV1beta1}) {
    std::string sent = conversion_request_json(version, "u-1", "example.com/v2", {&*a, &*b});
    auto request = parse_conversion_review(sent);
    ASSERT_TRUE(request.ok()) << request.status() << "\n" << sent;
    EXPECT_EQ(request->review_api_version, version);
    EXPECT_EQ(request->uid, "u-1");
    EXPECT_EQ(request->desired_api_version, "example.com/v2");
    ASSERT_EQ(request->objects.size(), 2U);
    EXPECT_EQ(request->objects[0].get_int("/spec/size"), 3);
    EXPECT_EQ(request->objects[1].name(), "b");

    ConversionResponse ok{.uid = request->uid, .converted_objects = request->objects, .result = {}};
    auto read = parse_conversion_response(conversion_review_json(ok, version), "u-1", version);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_TRUE(read->result.ok()) << read->result;
    ASSERT_EQ(read->converted_objects.size(), 2U);
    EXPECT_EQ(read->converted_objects[1].uid(), "2");

    ConversionResponse refused{
        .uid = "u-1", .converted_objects = {}, .result = absl::InternalError("no v2")};
    auto failed =
        parse_conversion_response(conversion_review_json(refused, version), "u-1", version);
    ASSERT_TRUE(failed.ok()) << failed.status();
    EXPECT_EQ(failed->result.message(), "no v2");
  }
}

TEST(ConversionReview, AnswersAreCheckedAsTheApiServerChecksThem) {
  auto answer = [](std::string_view api_version, std::string_view response) {
    return std::string(R"({"apiVersion":")") + std::string(api_version) +
           R"(","kind":"ConversionReview","response":)" + std::string(response) + "}";
  };
  const std::string v1(kConversionReviewV1);
  const Bad cases[] = {
      {"{", "the answer is not a JSON object: invalid JSON at offset 1"},
      {answer(kConversionReviewV1beta1, R"({"uid":"u"})"),
       "expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got "
       "apiextensions.k8s.io/v1beta1, Kind=ConversionReview"},
      {answer(v1, "null"), "no response provided"},
      {answer(v1, R"({"uid":"other","result":{"status":"Success"}})"),
       R"(expected response.uid="u", got "other")"},
      {answer(v1, R"({"uid":"u","result":{"status":"Success"},"convertedObjects":[1]})"),
       "ConversionReview response.convertedObjects[0]: must be an object"},
      {answer(v1, R"({"uid":"u","result":{"status":"Success"},"convertedObjects":{}})"),
       "ConversionReview response.convertedObjects: must be an array of objects"},
  };
  for (const auto& c : cases) {
    auto r = parse_conversion_response(c.body, "u", kConversionReviewV1);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_NE(r.status().message().find(c.error), absl::string_view::npos)
        << c.body << "\n got: " << r.status().message() << "\n want: " << c.error;
  }
  // A Failure without a message still says why.
  auto failure = parse_conversion_response(
      answer(v1, R"({"uid":"u","result":{"status":"Failure"}})"), "u", kConversionReviewV1);
  ASSERT_TRUE(failure.ok()) << failure.status();
  EXPECT_EQ(failure->result.message(), "response.result.status was 'Failure', not 'Success'");
  // v1beta1 answers were never checked for their uid or review kind.
  auto beta = parse_conversion_response(
      answer(kConversionReviewV1beta1, R"({"uid":"other","result":{"status":"Success"}})"), "u",
      kConversionReviewV1beta1);
  ASSERT_TRUE(beta.ok()) << beta.status();
  EXPECT_TRUE(beta->result.ok());
}

TEST(ConversionReview, AConvertedObjectKeepsItsIdentity) {
  auto original = Object::parse(R"({"apiVersion":"example.com/v1","kind":"Website",
      "metadata":{"name":"a","namespace":"ns","uid":"1"}})");
  ASSERT_TRUE(original.ok());
  auto with = [&](std::string_view pointer, std::string_view value) {
    Object o(*original);
    (void)o.set_string("/apiVersion", "example.com/v2");
    (void)o.set_string(pointer, value);
    return o;
  };
  EXPECT_TRUE(check_converted_object(*original, with("/spec/x", "y"), "example.com/v2").ok());
  EXPECT_EQ(check_converted_object(*original, *original, "example.com/v2").message(),
            "invalid groupVersion (expected example.com/v2, received example.com/v1)");
  EXPECT_EQ(check_converted_object(*original, with("/kind", "Blog"), "example.com/v2").message(),
            "must have the same kind: Website != Blog");
  EXPECT_EQ(
      check_converted_object(*original, with("/metadata/name", "b"), "example.com/v2").message(),
      "must have the same name: a != b");
  EXPECT_EQ(
      check_converted_object(*original, with("/metadata/namespace", "other"), "example.com/v2")
          .message(),
      "must have the same namespace: ns != other");
  EXPECT_EQ(
      check_converted_object(*original, with("/metadata/uid", "9"), "example.com/v2").message(),
      "must have the same UID: 1 != 9");
}

}  // namespace
}  // namespace kop::api
