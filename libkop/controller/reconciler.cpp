#include "kop/controller/reconciler.h"

#include <absl/strings/cord.h>

namespace kop::controller {
namespace {

// The mark travels as a payload, so wrapping the status (a new message, the same payloads)
// keeps it terminal, as errors.Is sees through wrapping in Go.
constexpr absl::string_view kTerminalPayloadUrl = "kop.dev/controller.TerminalError";

}  // namespace

absl::Status terminal_error(absl::Status cause) {
  if (cause.ok()) cause = absl::UnknownError("terminal error");
  cause.SetPayload(kTerminalPayloadUrl, absl::Cord("terminal"));
  return cause;
}

bool is_terminal_error(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kTerminalPayloadUrl).has_value();
}

}  // namespace kop::controller
