#include "access_log.h"

#include <chrono>
#include <iterator>

#include <fmt/format.h>

namespace kop::proxy::server {
namespace {

constexpr size_t kMaxBufferedBytes = 8u << 20;

// JSON string content: quotes and backslashes escaped, control characters dropped.
struct Esc {
  std::string_view s;
};

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string_view alpn_name(HttpProtocol p) {
  return p == HttpProtocol::kHttp2 ? "h2" : p == HttpProtocol::kHttp10 ? "http/1.0" : "http/1.1";
}

std::string_view request_line_name(HttpProtocol p) {
  return p == HttpProtocol::kHttp2    ? "HTTP/2"
         : p == HttpProtocol::kHttp10 ? "HTTP/1.0"
                                      : "HTTP/1.1";
}

std::string_view or_dash(std::string_view s) {
  return s.empty() ? std::string_view("-") : s;
}

}  // namespace
}  // namespace kop::proxy::server

template <>
struct fmt::formatter<kop::proxy::server::Esc> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <class Ctx>
  auto format(const kop::proxy::server::Esc& e, Ctx& ctx) const {
    auto out = ctx.out();
    for (char c : e.s) {
      if (static_cast<unsigned char>(c) < 0x20) continue;
      if (c == '"' || c == '\\') *out++ = '\\';
      *out++ = c;
    }
    return out;
  }
};

namespace kop::proxy::server {

void AccessLog::format(AccessLogFormat f, const HttpAccess& a, std::string& out) {
  auto it = std::back_inserter(out);
  if (f == AccessLogFormat::kJson) {
    fmt::format_to(it,
                   "{{\"time_ms\":{},\"protocol\":\"{}\",\"client\":\"{}\",\"method\":\"{}\","
                   "\"path\":\"{}\",\"host\":\"{}\",\"status\":{},\"duration_ms\":{},"
                   "\"upstream\":\"{}\",\"upstream_ms\":{},\"vhost\":\"{}\",\"route\":\"{}\","
                   "\"tls\":{}}}\n",
                   wall_ms(), alpn_name(a.protocol), Esc{a.client}, Esc{a.method}, Esc{a.path},
                   Esc{a.host}, a.status, a.duration_ms, Esc{a.upstream}, a.upstream_ms,
                   Esc{a.vhost}, Esc{a.route}, a.tls);
  } else {
    fmt::format_to(it,
                   "{} \"{} {} {}\" host={} status={} duration_ms={} upstream={} upstream_ms={} "
                   "vhost={} route={}\n",
                   a.client, a.method, a.path, request_line_name(a.protocol), a.host, a.status,
                   a.duration_ms, or_dash(a.upstream), a.upstream_ms, or_dash(a.vhost),
                   or_dash(a.route));
  }
}

void AccessLog::format(AccessLogFormat f, const RelayAccess& a, std::string& out) {
  auto it = std::back_inserter(out);
  if (f == AccessLogFormat::kJson) {
    fmt::format_to(it,
                   "{{\"time_ms\":{},\"client\":\"{}\",\"sni\":\"{}\",\"passthrough\":{},"
                   "\"cluster\":\"{}\",\"upstream\":\"{}\",\"bytes_up\":{},\"bytes_down\":{},"
                   "\"duration_ms\":{},\"end\":\"{}\",\"tls\":true}}\n",
                   wall_ms(), Esc{a.client}, Esc{a.sni}, a.passthrough, Esc{a.cluster},
                   Esc{a.upstream}, a.bytes_up, a.bytes_down, a.duration_ms, Esc{a.end});
  } else {
    fmt::format_to(it,
                   "{} \"{}\" sni={} cluster={} upstream={} bytes_up={} bytes_down={} "
                   "duration_ms={} end=\"{}\"\n",
                   a.client, a.passthrough ? "TCP passthrough" : "TCP proxy", a.sni, a.cluster,
                   or_dash(a.upstream), a.bytes_up, a.bytes_down, a.duration_ms, a.end);
  }
}

void AccessLog::write(const HttpAccess& a) {
  if (!on()) return;
  line_.clear();
  format(format_, a, line_);
  append(line_);
}

void AccessLog::write(const RelayAccess& a) {
  if (!on()) return;
  line_.clear();
  format(format_, a, line_);
  append(line_);
}

void AccessLog::append(const std::string& line) {
  absl::MutexLock l(&mu_);
  if (buf_.size() < kMaxBufferedBytes) buf_.append(line);
}

std::string AccessLog::take() {
  std::string out;
  absl::MutexLock l(&mu_);
  out.swap(buf_);
  return out;
}

}  // namespace kop::proxy::server
