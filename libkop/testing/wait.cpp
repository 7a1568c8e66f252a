#include "kop/testing/wait.h"

#include <absl/strings/numbers.h>
#include <fmt/format.h>

#include <cstdlib>

#include "kop/log/log.h"

namespace kop::testing {

absl::Duration scaled(absl::Duration timeout) {
  const char* env = std::getenv("KOP_TEST_TIMEOUT_SCALE");
  double factor = 1;
  if (env == nullptr || !absl::SimpleAtod(env, &factor) || !(factor > 0)) factor = 1;
  return timeout * factor;
}

absl::Status eventually(std::string_view what, const std::function<absl::Status()>& check,
                        const WaitOptions& options) {
  const absl::Duration timeout = scaled(options.timeout);
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = check();
  while (!last.ok()) {
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "waited ", absl::FormatDuration(timeout), " for \"",
          absl::string_view(what.data(), what.size()), "\": last check: ", log::status_text(last)));
    }
    absl::SleepFor(std::min(options.interval, deadline - now));
    last = check();
  }
  return absl::OkStatus();
}

absl::Status wait_for(std::string_view what, const std::function<bool()>& condition,
                      const WaitOptions& options) {
  return eventually(
      what,
      [&]() -> absl::Status {
        return condition() ? absl::OkStatus() : absl::FailedPreconditionError("still false");
      },
      options);
}

}  // namespace kop::testing
