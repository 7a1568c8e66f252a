#include "kop/api/time.h"

#include <absl/time/clock.h>

namespace kop::api {

std::optional<absl::Time> parse_time(std::string_view rfc3339) {
  if (rfc3339.empty()) return std::nullopt;
  absl::Time t;
  std::string err;
  // RFC3339_full accepts an optional fraction and any offset ("Z" or "+hh:mm").
  if (!absl::ParseTime(absl::RFC3339_full, std::string(rfc3339), &t, &err)) return std::nullopt;
  return t;
}

std::string format_time(absl::Time t) {
  // Truncate toward the past, as Go's time.Time.Truncate(time.Second) before formatting.
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string format_micro_time(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

}  // namespace kop::api
