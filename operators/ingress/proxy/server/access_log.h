// AccessLog: a worker's access log. Every connection type hands it one record when a request
// (HTTP/1.x, HTTP/2) or a relayed connection (TLS passthrough, TCP proxy) ends; it formats the
// line (JSON or text, the server's access_log setting) into a buffer that the logger thread
// takes every 100 ms and writes out (proxy.cpp). Formatting happens here only, so every
// protocol's line has the same fields, escaped the same way.
//
// Lines (JSON; text has the same values, key=value after the client and the request line):
//   {"time_ms":..,"protocol":"http/1.1","client":..,"method":..,"path":..,"host":..,
//    "status":..,"duration_ms":..,"upstream":..,"upstream_ms":..,"vhost":..,"route":..,"tls":..}
//   {"time_ms":..,"client":..,"sni":..,"passthrough":..,"cluster":..,"upstream":..,
//    "bytes_up":..,"bytes_down":..,"duration_ms":..,"end":..,"tls":true}
// The buffer holds at most 8 MiB between two takes; lines past that are dropped (a stuck
// output must not grow a worker's memory without bound).
//
// Threading: write() on the owning worker's thread, take() on the logger thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include "kop/proxy/config.h"

namespace kop::proxy::server {

// The protocol of a request: JSON names it as ALPN does ("http/1.0", "http/1.1", "h2"), text as
// a request line does ("HTTP/1.0", "HTTP/1.1", "HTTP/2").
enum class HttpProtocol { kHttp10, kHttp11, kHttp2 };

// One HTTP request, as it ended.
struct HttpAccess {
  HttpProtocol protocol = HttpProtocol::kHttp11;
  std::string_view client;  // the client's IP address
  std::string_view method, path, host;
  int status = 0;
  uint64_t duration_ms = 0;
  std::string_view upstream;  // endpoint address; empty: none was tried
  uint64_t upstream_ms = 0;
  std::string_view vhost, route;  // empty: the request matched none
  bool tls = false;
};

// One relayed TCP connection, as it ended.
struct RelayAccess {
  std::string_view client;
  std::string_view sni;
  bool passthrough = false;  // false: TLS terminated here (tcp_proxy)
  std::string_view cluster;
  std::string_view upstream;  // empty: never connected
  uint64_t bytes_up = 0;      // client -> upstream
  uint64_t bytes_down = 0;
  uint64_t duration_ms = 0;
  std::string_view end;  // why it ended ("done", "idle timeout", ...)
};

class AccessLog {
 public:
  // From the worker's snapshot; kOff: on() is false and nothing is written.
  void set_format(AccessLogFormat f) { format_ = f; }
  bool on() const { return format_ != AccessLogFormat::kOff; }
  void write(const HttpAccess& a);
  void write(const RelayAccess& a);
  // The lines written since the last take (logger thread).
  std::string take();

  // The line for a record, without the buffer (tests, and write()).
  static void format(AccessLogFormat f, const HttpAccess& a, std::string& out);
  static void format(AccessLogFormat f, const RelayAccess& a, std::string& out);

 private:
  void append(const std::string& line);

  AccessLogFormat format_ = AccessLogFormat::kOff;
  std::string line_;  // worker thread: the line being formatted (capacity reused)
  absl::Mutex mu_;
  std::string buf_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::proxy::server
