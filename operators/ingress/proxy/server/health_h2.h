// The HTTP/2 side of an active health check (clusters with protocol h2c or h2): the bytes of
// one GET on stream 1 with prior knowledge (connection preface, empty SETTINGS, HEADERS with
// END_STREAM), and the :status read back from what the endpoint sent. One probe, one stream:
// no flow control or settings exchange is needed for a HEADERS-only request and the answer's
// HEADERS. Pure functions (HPACK decoding through nghttp2's inflater); any thread.
#pragma once

#include <string>
#include <string_view>

namespace kop::proxy::server {

// Preface, SETTINGS and the request's HEADERS frame.
std::string h2_probe_request(std::string_view scheme, std::string_view authority,
                             std::string_view path);

enum class H2ProbeAnswer {
  kNeedMore,  // no response HEADERS on stream 1 yet
  kStatus,    // *status holds the response's :status
  kFailed,    // GOAWAY, RST_STREAM on stream 1, a malformed frame or header block
};
// Reads the frames in `received` (everything the endpoint sent, from its first byte).
H2ProbeAnswer h2_probe_status(std::string_view received, int* status);

}  // namespace kop::proxy::server
