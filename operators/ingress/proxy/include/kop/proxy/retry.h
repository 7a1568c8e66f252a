// Retry decisions for a forward route's RetryPolicy, and health-check status expectations.
//
// The server asks should_retry() after each failed attempt; it says whether the policy allows
// another attempt for this kind of failure and this request method. Connect failures (and
// connect timeouts) are retriable for every method because the request never left the proxy;
// every other condition needs an idempotent method (GET, HEAD, OPTIONS, TRACE, PUT, DELETE)
// unless the policy sets retry_non_idempotent. The caller counts attempts against
// RetryPolicy::num_retries and asks the LoadBalancer for a different endpoint.
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "kop/proxy/config.h"
#include "kop/proxy/outlier_detector.h"

namespace kop::proxy {

// RFC 9110 section 9.2.2.
bool is_idempotent_method(std::string_view method);

// `result` is how the attempt ended; `status` is the response status for kHttp5xx / kSuccess
// (a non-5xx status can still be retriable through retriable_status_codes), else ignored.
// `attempts_so_far` counts the attempts already made (1 after the first try).
bool should_retry(const RetryPolicy& policy, UpstreamResult result, uint32_t status,
                  std::string_view method, uint32_t attempts_so_far);

// Whether a health-check response status is one of the expected ones.
bool health_check_status_ok(const HealthCheckConfig& config, uint32_t status);

}  // namespace kop::proxy
