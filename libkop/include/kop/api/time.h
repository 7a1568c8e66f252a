// kop/api/time.h: Kubernetes timestamps (metav1.Time and metav1.MicroTime) <-> absl::Time.
//
// metav1.Time is RFC 3339 in UTC with second precision ("2024-05-01T12:00:00Z"); MicroTime
// (Lease acquireTime/renewTime, events.k8s.io eventTime) carries six fractional digits
// ("2024-05-01T12:00:00.123456Z"). Parsing accepts any RFC 3339 form, with or without
// fraction and with any UTC offset, as the API server does.
#pragma once

#include <absl/time/time.h>

#include <optional>
#include <string>
#include <string_view>

namespace kop::api {

// Parses an RFC 3339 timestamp; std::nullopt for "" or malformed text.
std::optional<absl::Time> parse_time(std::string_view rfc3339);

// metav1.Time text: UTC, seconds precision (fraction truncated), e.g. "2024-05-01T12:00:00Z".
std::string format_time(absl::Time t);

// metav1.MicroTime text: UTC, microseconds, e.g. "2024-05-01T12:00:00.123456Z".
std::string format_micro_time(absl::Time t);

}  // namespace kop::api
