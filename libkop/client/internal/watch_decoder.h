// Decoding one watch event line ({"type":"ADDED","object":{...}}) into a WatchEvent.
//
// The line is parsed once, into a document whose root then becomes the event's object (the
// {"type","object"} wrapper is swapped out, not copied), so the object handed to the caller is
// the parse itself. Shared by the REST transport and the watch benchmark.
#pragma once

#include <cstddef>

#include <absl/status/statusor.h>
#include "kop/client/client.h"

namespace kop::client::internal {

absl::StatusOr<WatchEvent> decode_watch_event(const char* data, size_t size);

}  // namespace kop::client::internal
