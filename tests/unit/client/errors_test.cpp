#include "kop/client/errors.h"

#include <gtest/gtest.h>

namespace kop::client {
namespace {

TEST(Errors, NotFoundHasApiServerMessageAndDetails) {
  absl::Status st = not_found("networking.k8s.io", "ingresses", "web");
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "ingresses.networking.k8s.io \"web\" not found");
  EXPECT_TRUE(is_not_found(st));
  EXPECT_FALSE(is_conflict(st));
  auto s = api_status(st);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 404);
  EXPECT_EQ(s->reason, "NotFound");
  ASSERT_TRUE(s->details);
  EXPECT_EQ(s->details->kind, "ingresses");
  EXPECT_EQ(s->details->group, "networking.k8s.io");
  EXPECT_EQ(s->details->name, "web");
  EXPECT_EQ(
      to_json(*s),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"("message":"ingresses.networking.k8s.io \"web\" not found","reason":"NotFound",)"
      R"("details":{"name":"web","group":"networking.k8s.io","kind":"ingresses"},"code":404})");
}

TEST(Errors, CoreGroupMessages) {
  EXPECT_EQ(already_exists("", "pods", "p").message(), "pods \"p\" already exists");
  EXPECT_EQ(conflict("", "pods", "p", "the object has been modified").message(),
            "Operation cannot be fulfilled on pods \"p\": the object has been modified");
  EXPECT_TRUE(is_already_exists(already_exists("", "pods", "p")));
  EXPECT_FALSE(is_conflict(already_exists("", "pods", "p")));  // reason decides, not the code
  EXPECT_TRUE(is_conflict(conflict("", "pods", "p", "x")));
  EXPECT_EQ(conflict("", "pods", "p", "x").code(), absl::StatusCode::kAborted);
}

TEST(Errors, InvalidKeepsCauses) {
  absl::Status st = invalid(
      "networking.k8s.io", "Ingress", "web",
      {{"FieldValueRequired", "Required value", "spec.rules[0].http.paths[0].pathType"},
       {"FieldValueInvalid", "Invalid value: \"a//b\"", "spec.rules[0].http.paths[0].path"}});
  EXPECT_TRUE(is_invalid(st));
  EXPECT_EQ(http_code_of(st), 422);
  EXPECT_EQ(st.message(),
            "Ingress.networking.k8s.io \"web\" is invalid: [spec.rules[0].http.paths[0].pathType: "
            "Required value, spec.rules[0].http.paths[0].path: Invalid value: \"a//b\"]");
  auto causes = causes_of(st);
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0].type, "FieldValueRequired");
  EXPECT_EQ(causes[1].field, "spec.rules[0].http.paths[0].path");
  // Round trip through the JSON body.
  auto back = parse_status_json(to_json(*api_status(st)));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *api_status(st));
}

// field.ErrorList.ToAggregate() lists a repeated message once; every error stays a cause.
TEST(Errors, InvalidListsARepeatedMessageOnce) {
  absl::Status st = invalid("", "Pod", "p",
                            {{"FieldValueInvalid", "Invalid value: \"v\": bad", "a"},
                             {"FieldValueRequired", "Required value", "b"},
                             {"FieldValueInvalid", "Invalid value: \"v\": bad", "a"}});
  EXPECT_EQ(st.message(), R"(Pod "p" is invalid: [a: Invalid value: "v": bad, b: Required value])");
  EXPECT_EQ(causes_of(st).size(), 3u);
}

// A 410 for a continue token too old for a consistent list offers a token in metadata.continue.
TEST(Errors, StatusCarriesMetadataContinue) {
  ApiStatus s;
  s.code = 410;
  s.reason = "Expired";
  s.message = "The provided continue parameter is too old";
  s.continue_token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ";
  std::string body = to_json(s);
  EXPECT_NE(body.find(R"("metadata":{"continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"})"),
            std::string::npos)
      << body;
  auto back = parse_status_json(body);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->continue_token, s.continue_token);
  EXPECT_EQ(api_status(to_status(s))->continue_token, s.continue_token);
}

TEST(Errors, GoneAndExpired) {
  EXPECT_TRUE(is_gone(resource_expired("too old resource version: 5 (10)")));
  EXPECT_TRUE(is_resource_expired(resource_expired("x")));
  EXPECT_TRUE(is_gone(gone("x")));
  EXPECT_FALSE(is_resource_expired(gone("x")));
  EXPECT_EQ(gone("x").code(), absl::StatusCode::kOutOfRange);
}

TEST(Errors, RetryAfter) {
  EXPECT_EQ(retry_after(too_many_requests("slow down", 3)), absl::Seconds(3));
  EXPECT_TRUE(is_too_many_requests(too_many_requests("x", 0)));
  EXPECT_EQ(retry_after(too_many_requests("x", 0)), std::nullopt);
  // ServerTimeout suggests a delay even when 0, as apimachinery's SuggestsClientDelay.
  absl::Status st = server_timeout("", "pods", "list", 0);
  EXPECT_TRUE(is_server_timeout(st));
  EXPECT_EQ(http_code_of(st), 500);
  EXPECT_EQ(retry_after(st), absl::ZeroDuration());
  EXPECT_FALSE(is_internal(st));  // known reason ServerTimeout: code 500 does not make it Internal
}

TEST(Errors, PlainStatusIsNoApiError) {
  absl::Status st = absl::NotFoundError("file x does not exist");
  EXPECT_FALSE(is_api_error(st));
  EXPECT_FALSE(is_not_found(st));
  EXPECT_FALSE(is_not_found(absl::OkStatus()));
  // But a server can still answer for it.
  ApiStatus s = api_status_of(st);
  EXPECT_EQ(s.code, 404);
  EXPECT_EQ(s.reason, "NotFound");
  ApiStatus internal = api_status_of(absl::InternalError("boom"));
  EXPECT_EQ(internal.code, 500);
  EXPECT_EQ(internal.message, "Internal error occurred: boom");
  EXPECT_EQ(api_status_of(absl::OkStatus()).status, "Success");
}

TEST(Errors, ResponseWithStatusBody) {
  std::string body = R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
    "message":"pods \"x\" is forbidden: User \"u\" cannot get resource","reason":"Forbidden",
    "details":{"name":"x","kind":"pods"},"code":403})";
  absl::Status st = status_from_response(403, "GET", body);
  EXPECT_TRUE(is_forbidden(st));
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "pods \"x\" is forbidden: User \"u\" cannot get resource");
}

TEST(Errors, ResponseWithoutStatusBody) {
  absl::Status conflict_post = status_from_response(409, "POST", "");
  EXPECT_TRUE(is_already_exists(conflict_post));
  EXPECT_TRUE(is_conflict(status_from_response(409, "PUT", "")));
  absl::Status st = status_from_response(502, "GET", "<html>bad gateway</html>");
  EXPECT_TRUE(is_internal(st));
  EXPECT_EQ(http_code_of(st), 502);
  auto causes = causes_of(st);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].type, "UnexpectedServerResponse");
  EXPECT_EQ(causes[0].message, "<html>bad gateway</html>");
  // Retry-After header fills details.retryAfterSeconds.
  absl::Status tmr = status_from_response(429, "GET", "", 2);
  EXPECT_TRUE(is_too_many_requests(tmr));
  EXPECT_EQ(retry_after(tmr), absl::Seconds(2));
  // An unknown reason with code 404 is still NotFound (apimachinery's rule).
  absl::Status odd = status_from_response(
      404, "GET", R"({"kind":"Status","apiVersion":"v1","reason":"Weird","code":404})");
  EXPECT_TRUE(is_not_found(odd));
}

TEST(Errors, ParseRejectsNonStatus) {
  EXPECT_FALSE(parse_status_json("not json").ok());
  EXPECT_FALSE(parse_status_json(R"({"kind":"Pod","apiVersion":"v1"})").ok());
  EXPECT_TRUE(parse_status_json(R"({"kind":"Status","apiVersion":"meta.k8s.io/v1"})").ok());
}

}  // namespace
}  // namespace kop::client
