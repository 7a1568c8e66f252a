// The proxy's own answers to gRPC clients. A gRPC client reads the call's outcome from
// grpc-status, not from the HTTP status: a bare 404 or 503 from the proxy reaches the
// application as a guess its library makes (often UNKNOWN or INTERNAL, with no message). So a
// reply the proxy makes itself (no route, no endpoint, timeout, limits, authentication) to a
// request whose content-type is application/grpc[+...|;...] goes out as gRPC's trailers-only
// response: HTTP 200, content-type application/grpc, grpc-status and grpc-message, no body (one
// HEADERS frame with END_STREAM over HTTP/2). The code follows gRPC's HTTP-to-gRPC mapping
// (grpc/doc/http-grpc-status-mapping.md), as Envoy does, except that the proxy's own request
// timeout is DEADLINE_EXCEEDED (Envoy since 2026: UNAVAILABLE would invite a retry of a call
// whose time is up). gRPC-Web (application/grpc-web) is left as it is.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kop::proxy::server::grpc_reply {

inline constexpr int kUnknown = 2;
inline constexpr int kDeadlineExceeded = 4;
inline constexpr int kPermissionDenied = 7;
inline constexpr int kUnimplemented = 12;
inline constexpr int kInternal = 13;
inline constexpr int kUnavailable = 14;
inline constexpr int kUnauthenticated = 16;

// application/grpc, application/grpc+proto, application/grpc;charset=... (any case).
inline bool is_grpc_content_type(std::string_view v) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (v.size() < kGrpc.size()) return false;
  for (size_t i = 0; i < kGrpc.size(); ++i) {
    char c = v[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != kGrpc[i]) return false;
  }
  return v.size() == kGrpc.size() || v[kGrpc.size()] == '+' || v[kGrpc.size()] == ';';
}

// gRPC's mapping of an HTTP status a client receives without grpc-status.
inline int status_for_http(int http) {
  switch (http) {
    case 400:
      return kInternal;
    case 401:
      return kUnauthenticated;
    case 403:
      return kPermissionDenied;
    case 404:
      return kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return kUnavailable;
    default:
      return kUnknown;
  }
}

// grpc-message is percent-encoded: every byte outside printable ASCII, and '%' itself. The
// proxy's reply texts end with a newline, which is left out.
inline void append_message(std::string_view text, std::string& out) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

// The fields of the trailers-only response: content-type, grpc-status, grpc-message.
inline void append_fields(int code, std::string_view text, std::string& out) {
  out.append("content-type: application/grpc\r\ngrpc-status: ").append(std::to_string(code));
  out.append("\r\ngrpc-message: ");
  append_message(text, out);
  out.append("\r\n");
}

}  // namespace kop::proxy::server::grpc_reply
