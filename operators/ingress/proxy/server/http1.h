// HTTP/1.1 message heads and chunked framing: a small, strict, allocation-free parser.
//
// Why hand-written: the proxy's per-request cost is dominated by parsing and header rewriting,
// and both Beast's and llhttp's parsers do more work than a proxy needs (callbacks per token,
// per-field copies). This parser works on a complete head (the connection first finds the
// blank line with memchr, linearly, so slowloris input costs O(n)), records views into the
// caller's buffer, and classifies the headers the proxy acts on. bench/proxy/server measures it
// against Beast's parser.
//
// Strictness (each violation is an error with the status to answer): CRLF line endings only;
// no whitespace before ':'; obs-fold rejected; field names must be tokens; values must not
// contain CTLs; Content-Length must be 1*DIGIT, present once, and never with Transfer-Encoding;
// Transfer-Encoding must be exactly "chunked" (501 for other codings, 400 on HTTP/1.0);
// exactly one Host on HTTP/1.1; absolute-form targets must agree with Host; URI over the limit
// is 414, a head over the limit or with too many fields is 431; chunk sizes are hex without
// whitespace and bounded; chunk data must be followed by CRLF.
// Threading: pure functions and plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kop::proxy::server::h1 {

// Headers the proxy treats specially. kOther for everything else.
enum class HeaderKind : uint8_t {
  kOther,
  kHost,
  kContentLength,
  kTransferEncoding,
  kConnection,
  kKeepAlive,
  kProxyConnection,
  kTe,
  kTrailer,
  kUpgrade,
  kExpect,
  kXForwardedFor,
  kXForwardedProto,
  kXForwardedHost,
  kXRequestId,
  kHttp2Settings,
  kServer,  // responses: replaced or kept per the server_header policy
  // Requests: "ssl-client-*", the names of the client certificate fields the proxy sends
  // (client_auth.h); a client's own are never forwarded.
  kSslClient,
};

// True for the hop-by-hop headers a proxy must not forward (RFC 9110 7.6.1) plus framing ones
// that the proxy regenerates.
inline bool is_hop_by_hop(HeaderKind k) {
  switch (k) {
    case HeaderKind::kContentLength:
    case HeaderKind::kTransferEncoding:
    case HeaderKind::kConnection:
    case HeaderKind::kKeepAlive:
    case HeaderKind::kProxyConnection:
    case HeaderKind::kTe:
    case HeaderKind::kTrailer:
    case HeaderKind::kUpgrade:
    case HeaderKind::kHttp2Settings:
      return true;
    default:
      return false;
  }
}

struct Header {
  std::string_view name;
  std::string_view value;
  HeaderKind kind = HeaderKind::kOther;
  uint32_t line_begin = 0;  // offset of the field line in the head
  uint32_t line_end = 0;    // offset just past its CRLF
};

inline constexpr uint32_t kMaxHeaders = 100;

struct Limits {
  uint32_t max_head_bytes = 65536;  // 431 beyond
  uint32_t max_uri_bytes = 8192;    // 414 beyond
};

// The result of a failed parse: the status to answer (400, 413, 414, 431, 501, 505) and why.
struct Error {
  int status = 400;
  const char* reason = "bad request";
};

// Common to requests and responses.
struct Head {
  Header headers[kMaxHeaders];
  uint32_t header_count = 0;
  uint32_t head_bytes = 0;      // bytes of the whole head including the blank line
  int version_minor = 1;        // HTTP/1.0 or HTTP/1.1
  int64_t content_length = -1;  // -1: absent
  bool chunked = false;
  bool conn_close = false;       // Connection: close
  bool conn_keep_alive = false;  // Connection: keep-alive
  bool conn_upgrade = false;     // Connection: upgrade
  bool conn_other = false;       // Connection names other fields: hop-by-hop, not forwarded
  std::string_view upgrade;      // Upgrade header value

  // Keep-alive according to the version and Connection tokens.
  bool keep_alive() const {
    return version_minor >= 1 ? !conn_close : (conn_keep_alive && !conn_close);
  }
};

struct RequestHead : Head {
  std::string_view method;
  std::string_view target;  // as received
  std::string_view path;    // origin-form path (absolute-form: the path part)
  std::string_view query;   // without '?'
  std::string_view host;    // Host header (or absolute-form authority)
  int host_index = -1;
  int xff_index = -1;         // X-Forwarded-For
  int request_id_index = -1;  // X-Request-Id
  bool expect_continue = false;
  bool is_head = false;      // HEAD: the response has no body
  bool is_get_like = false;  // GET/HEAD/OPTIONS/TRACE/PUT/DELETE: idempotent
};

struct ResponseHead : Head {
  int status = 0;
  std::string_view reason;
};

// Searches for the end of a head ("\r\n\r\n") in data[0, len), starting the scan at *scan_from
// (updated so repeated calls on a growing buffer stay linear). Returns the head length
// (including the blank line) or 0 when not found yet.
size_t find_head_end(const char* data, size_t len, size_t* scan_from);

// Parses a complete request head of `len` bytes (as returned by find_head_end).
// Returns false and fills *err on a malformed head.
bool parse_request(const char* data, size_t len, const Limits& limits, RequestHead* r, Error* err);

// The status to answer when a head grows past the limit without completing: 414 when the
// request line alone is too long, else 431.
int oversize_status(const char* data, size_t len, const Limits& limits);

// Parses a complete response head. Returns false on a malformed head (the proxy answers 502).
bool parse_response(const char* data, size_t len, ResponseHead* r, const char** reason);

// Incremental decoder of a chunked body. Feeds bytes, yields data segments (views into the
// input). Trailers are validated and dropped.
class ChunkedDecoder {
 public:
  struct Segment {
    const char* data;
    size_t size;
  };
  enum class Status { kOk, kDone, kError };

  void reset() { *this = ChunkedDecoder(); }
  // Consumes from [data, data+len) until the input ends, `max_segs` segments were produced,
  // or the body ended. *consumed is how much input was used, *nseg the segments produced.
  Status decode(const char* data, size_t len, Segment* segs, size_t max_segs, size_t* consumed,
                size_t* nseg);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State : uint8_t {
    kSizeStart,
    kSize,
    kExt,
    kSizeLf,
    kData,
    kDataCr,
    kDataLf,
    kTrailerStart,
    kTrailer,
    kTrailerLf,
    kFinalLf,
    kDone,
    kError,
  };
  State state_ = State::kSizeStart;
  uint64_t remaining_ = 0;
  uint32_t digits_ = 0;
  uint32_t trailer_bytes_ = 0;
};

// True when a Connection field of `head` lists `name` as one of its options (RFC 9110 7.6.1:
// such fields are hop-by-hop and a proxy removes them). Only meaningful when conn_other is set.
bool named_by_connection(const Head& head, std::string_view name);

// Classifies a header name (case-insensitive).
HeaderKind classify_header(std::string_view name);

// Reason phrase for a status code ("OK", "Not Found", ...); "Unknown" otherwise.
std::string_view reason_phrase(int status);

// Writes `v` as lowercase hex into buf (at least 16 bytes); returns the length.
size_t to_hex(uint64_t v, char* buf);
// Writes `v` in decimal into buf (at least 20 bytes); returns the length.
size_t to_dec(uint64_t v, char* buf);

}  // namespace kop::proxy::server::h1
