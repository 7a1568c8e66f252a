// Transport: socket reads and writes of a client connection, and its TLS engine.
#include "transport.h"

#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "client_conn.h"
#include "tls.h"
#include "worker.h"

namespace kop::proxy::server {

namespace {
constexpr size_t kInitialBuffer = 8192;
// TLS writes of up to this many bytes in several pieces are copied into one SSL_write.
constexpr size_t kCoalesceBytes = 16384;

// Drains this thread's OpenSSL error queue after a failed TLS call; returns false. Worker
// threads keep the queue empty this way instead of clearing it before every SSL call.
bool tls_clear_errors() {
  ERR_clear_error();
  return false;
}
}  // namespace

Transport::Transport(ClientConn& conn, Worker& w, tcp::socket s)
    : conn_(conn), worker_(w), sock_(std::move(s)) {}

Transport::~Transport() {
  if (ssl_) SSL_free(ssl_);
}

std::string Transport::start() {
  error_code ec;
  sock_.set_option(tcp::no_delay(true), ec);
  sock_.non_blocking(true, ec);
  in_.reserve(kInitialBuffer);
  auto ep = sock_.remote_endpoint(ec);
  return ec ? std::string() : ep.address().to_string();
}

bool Transport::start_tls(SSL_CTX* ctx, void* self) {
  ssl_ = SSL_new(ctx);
  if (!ssl_) return false;
  SSL_set_ex_data(ssl_, ssl_conn_index(), self);
  BIO* bio = make_conn_bio(&raw_, &out_);
  SSL_set_bio(ssl_, bio, bio);
  SSL_set_accept_state(ssl_);
  raw_.reserve(size_t{17} * 1024);
  handshaking_ = true;
  return true;
}

bool Transport::alpn_h2() const {
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
  return alpn_len == 2 && alpn[0] == 'h' && alpn[1] == '2';
}

std::string Transport::sni() const {
  std::string sni;
  if (const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) {
    sni = name;
    for (char& c : sni)
      if (c >= 'A' && c <= 'Z') c = char(c + 32);
  }
  return sni;
}

std::unique_ptr<ClientCertificate> Transport::client_certificate() const {
  if ((SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) == 0) return nullptr;
  auto c = std::make_unique<ClientCertificate>();
  c->ctx = SSL_get_SSL_CTX(ssl_);
  // The verify callback accepted every chain (tls.cpp); the result decides per request.
  c->peer = describe_peer_certificate(SSL_get0_peer_certificate(ssl_), SSL_get_verify_result(ssl_));
  return c;
}

void Transport::read() {
  if (reading_ || closed_) return;
  Buffer* b = &in_;
  if (ssl_) {
    // Plaintext already decrypted waits in in_; ciphertext goes to raw_.
    b = &raw_;
    if (raw_.size() == 0)
      raw_.clear();
    else if (raw_.free() < 2048)
      raw_.compact();
  } else {
    if (in_.rpos == in_.wpos && in_.rpos > keep_) in_.rpos = in_.wpos = keep_;
    if (in_.free() < 1024) {
      if (keep_ == 0) in_.compact();
      if (in_.free() < 1024) {
        // Grow within the limit (a request head that does not fit is answered 431 first).
        size_t want = std::min(in_.cap * 2, in_limit_);
        if (want > in_.cap) in_.reserve(want);
        if (in_.free() == 0 && keep_ && in_.rpos > keep_) {
          size_t n = in_.size();
          std::memmove(in_.mem.get() + keep_, in_.data(), n);
          in_.rpos = keep_;
          in_.wpos = keep_ + n;
        }
        if (in_.free() == 0) return;  // full: the session resumes reading after consuming
      }
    }
  }
  reading_ = true;
  conn_.hold();
  reader_.read(sock_, b->end(), b->free());
}

void Transport::on_read(const error_code& ec, size_t n) {
  reading_ = false;
  if (!ec && !closed_) (ssl_ ? raw_ : in_).wpos += n;
  conn_.on_read(ec);
}

void Transport::make_room() {
  if (keep_ == 0) in_.compact();
  if (in_.free() < 1024 && in_.cap < in_limit_) in_.reserve(std::min(in_.cap * 2, in_limit_));
}

bool Transport::decrypt() {
  if (handshaking_) {
    // Handshake steps are rare and heavy: clear before and after them, so whatever the library
    // leaves behind there never reaches the per-request calls below.
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r <= 0) {
      int e = SSL_get_error(ssl_, r);
      flush();
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
      return tls_clear_errors();
    }
    ERR_clear_error();
    handshaking_ = false;
    if (!conn_.on_handshake_done()) return false;
  }
  for (;;) {
    if (in_.free() < 1024) {
      make_room();
      if (in_.free() == 0) break;
    }
    // The thread's error queue is kept empty (every failure path drains it), so SSL_get_error
    // below is reliable without an ERR_clear_error() before each call.
    int r = SSL_read(ssl_, in_.end(), static_cast<int>(in_.free()));
    if (r > 0) {
      in_.wpos += static_cast<size_t>(r);
      // All ciphertext consumed and nothing buffered inside OpenSSL (read-ahead bytes or the
      // rest of a record): another SSL_read could only fail with WANT_READ, so skip that call
      // and its error lookup.
      if (raw_.size() == 0 && !SSL_has_pending(ssl_)) break;
      continue;
    }
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      peer_eof_ = true;
      break;
    }
    tls_clear_errors();
    flush();
    return false;
  }
  flush();
  return true;
}

bool Transport::write(const struct iovec* iov, int n) {
  if (ssl_) {
    // One SSL_write (so one record, up to 16 KB, and one MAC/seal) for the whole iovec: a record
    // costs several thousand instructions of fixed work whatever its size, so a response head
    // and a small body are copied together first. Larger writes go piece by piece (the copy
    // would cost more than the records it saves).
    // No ERR_clear_error() first: the connection BIO never fails, so a failing SSL_write is
    // fatal and its error state is not inspected (tls_clear_errors() drains it).
    size_t total = 0;
    for (int i = 0; i < n; ++i) total += iov[i].iov_len;
    if (n > 1 && total <= kCoalesceBytes) {
      std::string& b = tls_scratch_;
      b.clear();
      for (int i = 0; i < n; ++i)
        b.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
      if (!b.empty() && SSL_write(ssl_, b.data(), static_cast<int>(b.size())) <= 0)
        return tls_clear_errors();
    } else {
      for (int i = 0; i < n; ++i) {
        if (iov[i].iov_len == 0) continue;
        if (SSL_write(ssl_, iov[i].iov_base, static_cast<int>(iov[i].iov_len)) <= 0)
          return tls_clear_errors();
      }
    }
    flush();
    return !closed_;
  }
  if (!send_now_or_buffer(sock_.native_handle(), iov, n, out_, worker_.send_batch().enabled()))
    return false;
  flush();
  return true;
}

void Transport::flush() {
  if (writing_ || out_.size() == 0 || closed_) return;
  if (worker_.send_batch().enabled()) {
    writing_ = batched_ = true;
    conn_.hold();
    worker_.send_batch().add(this);
    return;
  }
  // Try right away (TLS data has not been attempted yet).
  ssize_t w = ::send(sock_.native_handle(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w > 0)
    out_.consume(static_cast<size_t>(w));
  else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    return conn_.close();
  flush_async();
}

void Transport::flush_async() {
  if (writing_ || out_.size() == 0 || closed_) return;
  writing_ = true;
  conn_.hold();
  out_.pin();  // written in place: later appends must not move it
  sock_.async_write_some(asio::buffer(out_.data(), out_.size()),
                         [this](const error_code& ec, size_t n) { on_write(ec, n); });
}

void Transport::batch_done(int result) {
  writing_ = batched_ = false;
  if (!conn_.op_done()) return;
  switch (apply_batch_result(result, out_)) {
    case BatchOutcome::kFailed:
      return conn_.close();
    case BatchOutcome::kFull:
      return flush_async();
    case BatchOutcome::kDrained:
      return conn_.on_written();
  }
}

void Transport::on_write(const error_code& ec, size_t n) {
  writing_ = false;
  out_.unpin();
  if (!conn_.op_done()) return;
  if (ec) return conn_.close();
  out_.consume(n);
  if (out_.size() > 0) return flush_async();
  conn_.on_written();
}

void Transport::tls_shutdown() {
  if (SSL_shutdown(ssl_) < 0) tls_clear_errors();
}

void Transport::end_tls() {
  if (!ssl_) return;
  if (SSL_shutdown(ssl_) < 0) tls_clear_errors();
  if (out_.size()) {
    ::send(sock_.native_handle(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    out_.clear();
  }
  SSL_free(ssl_);
  ssl_ = nullptr;
}

void Transport::shutdown_send() {
  error_code ec;
  sock_.shutdown(tcp::socket::shutdown_send, ec);
}

void Transport::close() {
  closed_ = true;
  error_code ec;
  sock_.close(ec);
}

}  // namespace kop::proxy::server
