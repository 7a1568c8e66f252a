#include "h2_wire.h"

#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>

#include "harness.h"

namespace kop::proxy::e2e::h2 {
namespace {

using Clock = std::chrono::steady_clock;

void put24(std::string& o, uint32_t v) {
  o.push_back(static_cast<char>((v >> 16) & 0xff));
  o.push_back(static_cast<char>((v >> 8) & 0xff));
  o.push_back(static_cast<char>(v & 0xff));
}

void put32(std::string& o, uint32_t v) {
  o.push_back(static_cast<char>(v >> 24));
  put24(o, v & 0xffffff);
}

uint32_t get32(const char* p) {
  auto b = [p](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

// HPACK integer with an N-bit prefix (RFC 7541 5.1); `first` holds the bits above the prefix.
void hpack_int(std::string& o, uint8_t first, int prefix_bits, size_t v) {
  size_t max = (1u << prefix_bits) - 1;
  if (v < max) {
    o.push_back(static_cast<char>(first | v));
    return;
  }
  o.push_back(static_cast<char>(first | max));
  v -= max;
  while (v >= 128) {
    o.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  o.push_back(static_cast<char>(v));
}

// harness.h's connection, with a receive timeout too: it bounds the TLS handshake.
int connect_loopback(uint16_t port) {
  int fd = connect_to(port);
  timeval tv{5, 0};
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

}  // namespace

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string o;
  put24(o, static_cast<uint32_t>(payload.size()));
  o.push_back(static_cast<char>(type));
  o.push_back(static_cast<char>(flags));
  put32(o, stream);
  o.append(payload);
  return o;
}

std::string settings(const std::vector<std::pair<uint16_t, uint32_t>>& values) {
  std::string p;
  for (const auto& [id, v] : values) {
    p.push_back(static_cast<char>(id >> 8));
    p.push_back(static_cast<char>(id & 0xff));
    put32(p, v);
  }
  return frame(kSettings, 0, 0, p);
}

std::string settings_ack() {
  return frame(kSettings, kAck, 0, "");
}

std::string headers(uint32_t stream, std::string_view block, uint8_t flags) {
  return frame(kHeaders, flags, stream, block);
}

std::string header_frames(uint32_t stream, std::string_view block, bool end_stream) {
  constexpr size_t kMax = 16384;  // SETTINGS_MAX_FRAME_SIZE's initial value
  std::string o;
  bool first = true;
  do {
    std::string_view piece = block.substr(0, kMax);
    block.remove_prefix(piece.size());
    uint8_t flags = block.empty() ? kEndHeaders : 0;
    if (first && end_stream) flags |= kEndStream;
    o += frame(first ? kHeaders : kContinuation, flags, stream, piece);
    first = false;
  } while (!block.empty());
  return o;
}

std::string data(uint32_t stream, std::string_view bytes, bool end_stream) {
  return frame(kData, end_stream ? kEndStream : 0, stream, bytes);
}

std::string window_update(uint32_t stream, uint32_t increment) {
  std::string p;
  put32(p, increment);
  return frame(kWindowUpdate, 0, stream, p);
}

std::string ping(std::string_view opaque8) {
  return frame(kPing, 0, 0, opaque8.substr(0, 8));
}

std::string literal(std::string_view name, std::string_view value) {
  std::string o;
  o.push_back(0);  // literal without indexing, new name
  hpack_int(o, 0, 7, name.size());
  o.append(name);
  hpack_int(o, 0, 7, value.size());
  o.append(value);
  return o;
}

std::string request_block(std::string_view method, std::string_view authority,
                          std::string_view path,
                          const std::vector<std::pair<std::string, std::string>>& fields,
                          std::string_view scheme) {
  std::string b = literal(":method", method) + literal(":scheme", scheme);
  if (!authority.empty()) b += literal(":authority", authority);
  b += literal(":path", path);
  for (const auto& [n, v] : fields) b += literal(n, v);
  return b;
}

std::string StreamResult::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return "";
}

int StreamResult::count(std::string_view name) const {
  int c = 0;
  for (const auto& h : headers) c += h.first == name;
  return c;
}

int StreamResult::status() const {
  std::string s = header(":status");
  return s.empty() ? 0 : std::stoi(s);
}

std::unique_ptr<Wire> Wire::plain(uint16_t port) {
  std::unique_ptr<Wire> w(new Wire());
  w->fd_ = connect_loopback(port);
  if (w->fd_ < 0 || nghttp2_hd_inflate_new(&w->inflater_) != 0) return nullptr;
  return w;
}

std::unique_ptr<Wire> Wire::tls(uint16_t port, const std::string& sni) {
  // SSL_write to a peer that closed would raise SIGPIPE (OpenSSL's socket BIO sends without
  // MSG_NOSIGNAL), and the tests write after the server's GOAWAY and close on purpose.
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<Wire> w(new Wire());
  w->fd_ = connect_loopback(port);
  if (w->fd_ < 0 || nghttp2_hd_inflate_new(&w->inflater_) != 0) return nullptr;
  w->ctx_ = SSL_CTX_new(TLS_client_method());
  if (!w->ctx_) return nullptr;
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(w->ctx_, kAlpn, sizeof kAlpn);
  w->ssl_ = SSL_new(w->ctx_);
  SSL_set_fd(w->ssl_, w->fd_);
  SSL_set_tlsext_host_name(w->ssl_, sni.c_str());
  // The socket's 5 s receive timeout bounds the handshake.
  if (SSL_connect(w->ssl_) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  const unsigned char* proto = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(w->ssl_, &proto, &len);
  if (len != 2 || proto[0] != 'h' || proto[1] != '2') return nullptr;
  return w;
}

Wire::~Wire() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (inflater_) nghttp2_hd_inflate_del(inflater_);
  if (fd_ >= 0) ::close(fd_);
}

bool Wire::send(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n;
    if (ssl_) {
      int r = SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off));
      if (r <= 0) ERR_clear_error();
      n = r;
    } else {
      n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    }
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool Wire::fill(int timeout_ms) {
  if (closed_) return false;
  if (!ssl_ || SSL_pending(ssl_) == 0) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
  }
  char buf[16384];
  ssize_t n;
  if (ssl_) {
    int r = SSL_read(ssl_, buf, sizeof buf);
    if (r <= 0) {
      int e = SSL_get_error(ssl_, r);
      ERR_clear_error();
      if (e == SSL_ERROR_WANT_READ) return true;  // a record not complete yet
    }
    n = r;
  } else {
    n = ::recv(fd_, buf, sizeof buf, 0);
  }
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  in_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<Frame> Wire::read_frame(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (in_.size() >= 9) {
      uint32_t len = static_cast<uint32_t>(static_cast<unsigned char>(in_[0])) << 16 |
                     static_cast<uint32_t>(static_cast<unsigned char>(in_[1])) << 8 |
                     static_cast<unsigned char>(in_[2]);
      if (in_.size() >= 9 + len) {
        Frame f;
        f.type = static_cast<uint8_t>(in_[3]);
        f.flags = static_cast<uint8_t>(in_[4]);
        f.stream = get32(in_.data() + 5) & 0x7fffffff;
        f.payload = in_.substr(9, len);
        in_.erase(0, 9 + len);
        record(f);
        return f;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !fill(static_cast<int>(left.count()))) return std::nullopt;
  }
}

void Wire::record(const Frame& f) {
  frames_.push_back(f);
  switch (f.type) {
    case kSettings:
      if (!(f.flags & kAck)) send(settings_ack());
      break;
    case kHeaders:
    case kContinuation: {
      std::string_view p = f.payload;
      if (f.type == kHeaders) {
        size_t pad = 0;
        if (f.flags & kPadded && !p.empty()) {
          pad = static_cast<unsigned char>(p[0]);
          p.remove_prefix(1);
        }
        if (f.flags & kPrio && p.size() >= 5) p.remove_prefix(5);
        p = p.substr(0, p.size() >= pad ? p.size() - pad : 0);
        header_block_.clear();
        header_stream_ = f.stream;
      }
      header_block_.append(p);
      if (!(f.flags & kEndHeaders)) break;
      StreamResult& s = streams_[header_stream_];
      const auto* in = reinterpret_cast<const uint8_t*>(header_block_.data());
      size_t left = header_block_.size();
      for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t r = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, left, 1);
        if (r < 0) break;
        in += r;
        left -= static_cast<size_t>(r);
        if (flags & NGHTTP2_HD_INFLATE_EMIT)
          s.headers.emplace_back(std::string(reinterpret_cast<char*>(nv.name), nv.namelen),
                                 std::string(reinterpret_cast<char*>(nv.value), nv.valuelen));
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
          nghttp2_hd_inflate_end_headers(inflater_);
          break;
        }
      }
      if (f.flags & kEndStream) s.ended = true;
      break;
    }
    case kData: {
      std::string_view p = f.payload;
      if (f.flags & kPadded && !p.empty()) {
        size_t pad = static_cast<unsigned char>(p[0]);
        p.remove_prefix(1);
        p = p.substr(0, p.size() >= pad ? p.size() - pad : 0);
      }
      StreamResult& s = streams_[f.stream];
      s.body.append(p);
      if (f.flags & kEndStream) s.ended = true;
      // Keep the windows open so long bodies keep coming.
      if (!p.empty()) {
        send(window_update(0, static_cast<uint32_t>(f.payload.size())));
        send(window_update(f.stream, static_cast<uint32_t>(f.payload.size())));
      }
      break;
    }
    case kRstStream:
      if (f.payload.size() >= 4) streams_[f.stream].rst_code = get32(f.payload.data());
      break;
    default:
      break;
  }
}

std::string Wire::transcript() const {
  static constexpr std::array<const char*, 10> kNames = {
      "DATA",         "HEADERS", "PRIORITY", "RST_STREAM",    "SETTINGS",
      "PUSH_PROMISE", "PING",    "GOAWAY",   "WINDOW_UPDATE", "CONTINUATION"};
  std::string out;
  for (const auto& f : frames_) {
    out += f.type < kNames.size() ? kNames[f.type] : "type " + std::to_string(f.type);
    out += " s" + std::to_string(f.stream) + " flags " + std::to_string(f.flags);
    if (f.type == kGoaway && f.payload.size() >= 8) {
      out += " code " + std::to_string(get32(f.payload.data() + 4));
    } else if (f.type == kRstStream && f.payload.size() >= 4) {
      out += " code " + std::to_string(get32(f.payload.data()));
    }
    out += ", ";
  }
  return out + (closed_ ? "closed" : "open");
}

int64_t Wire::await_goaway(int timeout_ms, uint32_t* last_stream) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return -1;
    auto f = read_frame(static_cast<int>(left.count()));
    if (!f) return -1;
    if (f->type == kGoaway && f->payload.size() >= 8) {
      if (last_stream) *last_stream = get32(f->payload.data()) & 0x7fffffff;
      return get32(f->payload.data() + 4);
    }
  }
}

StreamResult Wire::await_stream(uint32_t id, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto it = streams_.find(id);
    if (it != streams_.end() && (it->second.ended || it->second.rst_code >= 0)) return it->second;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !read_frame(static_cast<int>(left.count()))) return streams_[id];
  }
}

bool Wire::await_close(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!closed_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    read_frame(static_cast<int>(left.count()));
  }
  return true;
}

}  // namespace kop::proxy::e2e::h2
