// HTTPRoute retry (experimental channel, GEP-1731) into the proxy's retry policy: codes,
// attempts, backoff, connection errors always; values the proxy cannot honour reported in an
// Event while the rule is served, values out of the API's range refusing the rule.
#include <gtest/gtest.h>

#include "gateway_test_util.h"
#include "kop/ingress/gateway_api.h"
#include "test_util.h"

namespace kop::ingress::gateway {
namespace {

using gwtest::cond;
using gwtest::gateway;
using gwtest::kClass;
using gwtest::parent;
using gwtest::route;
using gwtest::run;
using gwtest::served_route;
using testing::service_yaml;

// The proxy forward action of the route serving `path` (a failed compile fails the test).
std::optional<proxy::ForwardAction> forward_of(const Result& r, std::string_view path) {
  testing::Compiled keep;
  const proxy::Route* route = served_route(r, path, keep);
  if (route == nullptr) return std::nullopt;
  return route->config->forward;
}

std::string objects(std::string_view rules) {
  return std::string(kClass) +
         gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
         service_yaml("infra", "v1", 1, 1) +
         route("infra", "retries", "  parentRefs: [{name: gw}]\n  rules:\n" + std::string(rules));
}

constexpr uint32_t bit(proxy::RetryOn on) {
  return static_cast<uint32_t>(on);
}

TEST(HTTPRouteRetry, CodesAttemptsAndBackoffReachTheProxy) {
  Result r =
      run(objects("  - matches: [{path: {value: /codes}}]\n"
                  "    retry: {codes: [503, 500, 503], attempts: 3, backoff: 100ms}\n"
                  "    backendRefs: [{name: v1, port: 80}]\n"
                  "  - matches: [{path: {value: /bare}}]\n"
                  "    retry: {}\n"
                  "    backendRefs: [{name: v1, port: 80}]\n"
                  "  - matches: [{path: {value: /none}}]\n"
                  "    backendRefs: [{name: v1, port: 80}]\n"));
  auto codes = forward_of(r, "/codes");
  ASSERT_TRUE(codes) << describe(r);
  EXPECT_EQ(codes->retry.num_retries, 3U);
  EXPECT_EQ(codes->retry.retriable_status_codes, (std::vector<uint32_t>{500, 503}));
  EXPECT_EQ(codes->retry.backoff, std::chrono::milliseconds(100));
  // Connection errors are retried whenever a retry stanza is there (the type's comment).
  EXPECT_EQ(codes->retry.retry_on, bit(proxy::RetryOn::kConnectFailure) |
                                       bit(proxy::RetryOn::kReset) |
                                       bit(proxy::RetryOn::kRetriableStatusCodes));
  EXPECT_TRUE(codes->retry.retry_non_idempotent);

  auto bare = forward_of(r, "/bare");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->retry.num_retries, 1U);  // attempts unset: one retry
  EXPECT_EQ(bare->retry.retry_on,
            bit(proxy::RetryOn::kConnectFailure) | bit(proxy::RetryOn::kReset));
  EXPECT_EQ(bare->retry.backoff, std::chrono::milliseconds(0));

  auto none = forward_of(r, "/none");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->retry, proxy::RetryPolicy{});  // no stanza: the proxy's default
  EXPECT_EQ(cond(parent(r, "retries").conditions, "Accepted"), "True Accepted");
  EXPECT_TRUE(r.events.empty()) << describe(r);
}

// A backendRequest timeout stays the per-try timeout the proxy gets next to the retry policy.
TEST(HTTPRouteRetry, WithTimeoutsTheBackendRequestTimeoutIsKept) {
  Result r =
      run(objects("  - matches: [{path: {value: /t}}]\n"
                  "    timeouts: {request: 10s, backendRequest: 2s}\n"
                  "    retry: {codes: [502], attempts: 2}\n"
                  "    backendRefs: [{name: v1, port: 80}]\n"));
  auto t = forward_of(r, "/t");
  ASSERT_TRUE(t) << describe(r);
  EXPECT_EQ(t->timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(t->retry.per_try_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(t->retry.num_retries, 2U);
  // The proxy does not retry an attempt that reached that timeout: said in an Event.
  ASSERT_EQ(r.events.size(), 1U) << describe(r);
  EXPECT_EQ(r.events[0].field, "spec.rules[0].retry");
  EXPECT_NE(r.events[0].message.find("backendRequest"), std::string::npos);
  EXPECT_EQ(cond(parent(r, "retries").conditions, "Accepted"), "True Accepted");
}

TEST(HTTPRouteRetry, MoreAttemptsThanTheProxyMakesAreCappedWithAnEvent) {
  Result r =
      run(objects("  - matches: [{path: {value: /many}}]\n"
                  "    retry: {attempts: 50}\n"
                  "    backendRefs: [{name: v1, port: 80}]\n"));
  auto many = forward_of(r, "/many");
  ASSERT_TRUE(many) << describe(r);
  EXPECT_EQ(many->retry.num_retries, 10U);
  ASSERT_EQ(r.events.size(), 1U) << describe(r);
  EXPECT_EQ(r.events[0].field, "spec.rules[0].retry.attempts");
  EXPECT_EQ(cond(parent(r, "retries").conditions, "Accepted"), "True Accepted");
}

TEST(HTTPRouteRetry, ValuesOutsideTheApiRefuseTheRule) {
  for (const char* retry : {"{codes: [302]}", "{codes: [600]}", "{codes: [\"500\"]}",
                            "{attempts: 0}", "{attempts: many}", "{backoff: soon}", "[500]"}) {
    Result r = run(objects(std::string("  - matches: [{path: {value: /bad}}]\n    retry: ") +
                           retry + "\n    backendRefs: [{name: v1, port: 80}]\n"));
    EXPECT_EQ(cond(parent(r, "retries").conditions, "Accepted"), "False UnsupportedValue")
        << retry << "\n"
        << describe(r);
    bool named = false;
    for (const Event& e : r.events) named = named || e.field.starts_with("spec.rules[0].retry");
    EXPECT_TRUE(named) << retry << "\n" << describe(r);
  }
}

}  // namespace
}  // namespace kop::ingress::gateway
