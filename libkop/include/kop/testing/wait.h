// kop/testing/wait.h: waiting in tests for what an operator does asynchronously.
//
// A controller acts on its own threads, so a test checks its effect by polling until the
// condition holds or a timeout passes. The result is an absl::Status whose message says what
// was awaited, for how long, and why the last check failed, so a failing test reads
//   waited 10s for "ConfigMap default/blog-content has index.html": last check: NotFound: ...
// rather than "expected true, got false". Neither helper needs gtest (KOP_ASSERT_OK in
// kop/testing/gtest.h prints the Status in a gtest test).
//
//   auto s = kop::testing::eventually("the ConfigMap is mirrored", [&]() -> absl::Status {
//     auto cm = env->get(kConfigMap, "copy");
//     if (!cm.ok()) return cm.status();
//     if ((*cm)->get_string("/data/k") != "v") return absl::NotFoundError("data.k is not v yet");
//     return absl::OkStatus();
//   });
//   auto t = kop::testing::wait_for("two reconciles", [&] { return count.load() >= 2; });
//
// The condition runs on the calling thread, first at once, then every `interval`, and once more
// at the deadline. Threading: call from any thread; the condition must be safe to call there.
#pragma once

#include <absl/status/status.h>
#include <absl/time/time.h>

#include <functional>
#include <string_view>

namespace kop::testing {

struct WaitOptions {
  // How long to keep checking. Defaults to 10 seconds (KOP_TEST_TIMEOUT_SCALE, a number,
  // multiplies it: slow machines and sanitizer builds set it instead of editing tests).
  absl::Duration timeout = absl::Seconds(10);
  // Pause between two checks. Defaults to 10 ms.
  absl::Duration interval = absl::Milliseconds(10);
};

// OK as soon as `check` returns OK; DeadlineExceeded naming `what`, the timeout and the last
// check's error otherwise.
absl::Status eventually(std::string_view what, const std::function<absl::Status()>& check,
                        const WaitOptions& options = {});

// OK as soon as `condition` returns true; DeadlineExceeded naming `what` and the timeout.
absl::Status wait_for(std::string_view what, const std::function<bool()>& condition,
                      const WaitOptions& options = {});

// The timeout scaled by KOP_TEST_TIMEOUT_SCALE (unset or not a positive number: 1).
absl::Duration scaled(absl::Duration timeout);

}  // namespace kop::testing
