// A minimal HTTP/2 client for frame-level tests: the test writes every frame itself (built with
// the helpers below, byte for byte, so it can send what no client library would: a lower stream
// id, a window overflow, a broken preface, uppercase names), and reads the server's frames back
// with their HPACK blocks decoded (nghttp2's inflater). h2c (prior knowledge) or TLS with ALPN h2.
// Every read is bounded by a timeout. Threading: one thread per H2Wire.
#pragma once

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kop::proxy::e2e::h2 {

// Frame types and flags (RFC 9113 6).
enum : uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kPriority = 0x2,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPing = 0x6,
  kGoaway = 0x7,
  kWindowUpdate = 0x8,
  kContinuation = 0x9,
};
enum : uint8_t { kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4, kPadded = 0x8, kPrio = 0x20 };

inline constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// ---- frame builders (bytes as they go on the wire)
std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload);
std::string settings(const std::vector<std::pair<uint16_t, uint32_t>>& values = {});
std::string settings_ack();
std::string headers(uint32_t stream, std::string_view block, uint8_t flags);
// A header block of any size: HEADERS, then CONTINUATION frames of at most 16384 bytes each.
std::string header_frames(uint32_t stream, std::string_view block, bool end_stream);
std::string data(uint32_t stream, std::string_view bytes, bool end_stream);
std::string window_update(uint32_t stream, uint32_t increment);
std::string ping(std::string_view opaque8 = "12345678");

// HPACK: a literal field without indexing, new name, no Huffman coding: the name and value go
// out exactly as given (even where RFC 9113 forbids them).
std::string literal(std::string_view name, std::string_view value);
// A request header block: :method, :scheme, :authority (omitted when empty), :path, then
// `fields` in order.
std::string request_block(std::string_view method, std::string_view authority,
                          std::string_view path,
                          const std::vector<std::pair<std::string, std::string>>& fields = {},
                          std::string_view scheme = "http");

struct Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream = 0;
  std::string payload;
};

// What the server sent on one stream.
struct StreamResult {
  std::vector<std::pair<std::string, std::string>> headers;  // decoded, in order (+ :status)
  std::string body;
  bool ended = false;                               // END_STREAM received
  int64_t rst_code = -1;                            // RST_STREAM error code when reset
  std::string header(std::string_view name) const;  // first value, "" when absent
  int count(std::string_view name) const;
  int status() const;  // :status, 0 when no head came
};

class Wire {
 public:
  // Connects to 127.0.0.1:port (h2c) or runs a TLS handshake offering only "h2" with SNI
  // `sni`; nullptr when that fails (for TLS: when h2 was not negotiated).
  static std::unique_ptr<Wire> plain(uint16_t port);
  static std::unique_ptr<Wire> tls(uint16_t port, const std::string& sni);
  ~Wire();

  bool send(std::string_view bytes);
  // The client preface and an empty SETTINGS frame.
  bool start() { return send(std::string(kPreface) + settings()); }

  // The next frame within timeout_ms (HEADERS decoded into its stream, SETTINGS acknowledged);
  // nullopt on timeout or when the server closed (closed() then true).
  std::optional<Frame> read_frame(int timeout_ms);
  // Reads until a GOAWAY arrives and returns its error code (the last stream id in
  // *last_stream); -1 when the connection closed or the time ran out first.
  int64_t await_goaway(int timeout_ms, uint32_t* last_stream = nullptr);
  // Reads until stream `id` ends (END_STREAM or RST_STREAM), the connection closes or the time
  // runs out, and returns what came on it.
  StreamResult await_stream(uint32_t id, int timeout_ms);
  // True when the server closes the connection within timeout_ms (frames read meanwhile are
  // recorded as usual).
  bool await_close(int timeout_ms);
  bool closed() const { return closed_; }
  const std::vector<Frame>& frames() const { return frames_; }  // every frame read so far
  // What came so far, for failure messages: "SETTINGS s0 f0x0, GOAWAY s0 code 1, closed".
  std::string transcript() const;

 private:
  Wire() = default;
  bool fill(int timeout_ms);  // reads more bytes into in_
  void record(const Frame& f);
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  nghttp2_hd_inflater* inflater_ = nullptr;
  std::string in_;
  std::string header_block_;  // HEADERS + CONTINUATION fragments until END_HEADERS
  uint32_t header_stream_ = 0;
  bool closed_ = false;
  std::vector<Frame> frames_;
  std::map<uint32_t, StreamResult> streams_;
};

}  // namespace kop::proxy::e2e::h2
