// The protocol boundary between a client-side protocol session and the protocol-neutral
// Exchange that proxies one request: the request as the exchange sees it (DownRequest), and
// what the exchange calls back (Downstream: the response head, body and end, request-body flow
// control). H1Session (the HTTP/1.1 side of a client connection) implements Downstream, and so
// does each HTTP/2 stream.
// Threading: the worker's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "client_certificate.h"
#include "http1.h"
#include "kop/proxy/basic_auth.h"
#include "kop/proxy/config.h"
#include "kop/proxy/route_table.h"

namespace kop::proxy::server {

// The field line every response gets unless the server_header policy says otherwise.
inline constexpr std::string_view kServerField = "server: kop\r\n";

struct ResponseHead {
  int status = 200;
  // Header block already serialized as "name: value\r\n" lines (without the status line and
  // without framing headers).
  std::string_view fields;
  int64_t content_length = -1;  // -1: unknown length (chunked or close-delimited)
  bool no_body = false;         // HEAD, 204, 304
  bool upgrade = false;         // 101 Switching Protocols: tunnel from now on
};

class Downstream {
 public:
  virtual ~Downstream() = default;
  // The response head. Not written yet: it goes out with the first body bytes or at end.
  virtual void response_head(const ResponseHead& head) = 0;
  // Body bytes (always consumed). Returns false when the exchange must stop reading the
  // upstream until Exchange::resume_response() is called.
  virtual bool response_body(const char* data, size_t n) = 0;
  // Trailer fields of the response ("name: value\r\n" lines, lowercase names), just before
  // response_end(). A session that cannot carry them drops them (this default).
  virtual void response_trailers(std::string_view fields) { static_cast<void>(fields); }
  // The response is complete.
  virtual void response_end() = 0;
  // The exchange is ready for the request body (upstream connected and head sent).
  virtual void request_body_ready() = 0;
  // The exchange can take more request body (after request_body() returned false).
  virtual void resume_request_body() = 0;
  // The exchange failed after the response head was sent: abort the downstream.
  virtual void abort() = 0;
};

// The request as the exchange sees it (protocol-neutral; views valid for the exchange).
struct DownRequest {
  const h1::RequestHead* head = nullptr;
  bool tls = false;
  std::string_view sni;
  std::string_view client_ip;
  const ClientAddress* client_address = nullptr;  // client_ip parsed once; null: not an IP
  const Listener* listener = nullptr;
  const ClientCertificate* client_cert = nullptr;  // null: none asked for (or plain TCP)
  bool has_body = false;                           // content_length > 0 or chunked
  bool upgrade_websocket = false;
  // The connection's memory of the credentials basic auth last allowed on it (basic_auth.h);
  // null: nothing is remembered.
  BasicAuth::Remembered* credentials = nullptr;
};

}  // namespace kop::proxy::server
