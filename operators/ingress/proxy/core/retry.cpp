#include "kop/proxy/retry.h"

#include <algorithm>

namespace kop::proxy {

bool is_idempotent_method(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" || m == "DELETE";
}

bool should_retry(const RetryPolicy& p, UpstreamResult result, uint32_t status,
                  std::string_view method, uint32_t attempts_so_far) {
  if (attempts_so_far > p.num_retries) return false;  // 1 try + num_retries retries
  auto on = [&](RetryOn bit) { return (p.retry_on & static_cast<uint32_t>(bit)) != 0; };
  bool connect =
      result == UpstreamResult::kConnectFailure || result == UpstreamResult::kConnectTimeout;
  if (connect) {
    // The request never reached the endpoint: safe for any method.
    return on(RetryOn::kConnectFailure) || on(RetryOn::k5xx) || on(RetryOn::kGatewayError);
  }
  if (!p.retry_non_idempotent && !is_idempotent_method(method)) return false;
  switch (result) {
    case UpstreamResult::kReset:
      return on(RetryOn::kReset) || on(RetryOn::k5xx);
    case UpstreamResult::kTimeout:
      return on(RetryOn::k5xx) || on(RetryOn::kGatewayError);
    case UpstreamResult::kHttp5xx:
    case UpstreamResult::kSuccess: {
      if (on(RetryOn::kRetriableStatusCodes) &&
          std::find(p.retriable_status_codes.begin(), p.retriable_status_codes.end(), status) !=
              p.retriable_status_codes.end())
        return true;
      if (status >= 500 && status <= 599 && on(RetryOn::k5xx)) return true;
      return (status == 502 || status == 503 || status == 504) && on(RetryOn::kGatewayError);
    }
    default:
      return false;
  }
}

bool health_check_status_ok(const HealthCheckConfig& config, uint32_t status) {
  for (const StatusRange& r : config.expected_statuses)
    if (status >= r.start && status <= r.end) return true;
  return false;
}

}  // namespace kop::proxy
