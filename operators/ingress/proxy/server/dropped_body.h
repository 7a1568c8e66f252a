// The bounds on a request body read after its response is complete. A backend may answer
// before it read the body (a 413, or a 200 that ignores it); the client is still sending. The
// proxy then reads and drops the rest, so the client reads the answer instead of a reset and,
// over HTTP/1.1, keeps its connection (RFC 9112 9.6), and an HTTP/2 client's upload is not
// stalled by flow control (RFC 9113 8.1). Past these bounds the stream or connection ends.
// Threading: constants only.
#pragma once

#include <cstdint>

namespace kop::proxy::server {

// At most this many body bytes are dropped after the response.
inline constexpr uint64_t kDroppedBodyBytes = 8u << 20;
// For at most this long after the response.
inline constexpr uint64_t kDroppedBodyMs = 5000;

}  // namespace kop::proxy::server
