#include "up_conn.h"

#include <cstring>

#include "pool.h"
#include "snapshot.h"
#include "worker.h"

namespace kop::proxy::server {

UpConn* UpConn::open(std::shared_ptr<Pool> pool, ClusterShare cluster, UpstreamUser* user,
                     uint64_t connect_timeout_ms) {
  auto* c = new UpConn(std::move(pool), std::move(cluster));
  c->user_ = user;
  c->connect(connect_timeout_ms, &c->out_);
  return c;
}

UpConn::UpConn(std::shared_ptr<Pool> pool, ClusterShare cluster)
    : UpLink(std::move(pool), std::move(cluster)) {
  timer_.fn = &UpConn::on_timer;
  timer_.self = this;
}

void UpConn::attach(UpstreamUser* user, std::shared_ptr<Pool> pool) {
  user_ = user;
  state_ = State::kBusy;
  pool_keep_ = std::move(pool);
}

void UpConn::release(bool reuse) {
  user_ = nullptr;
  if (reuse && state_ == State::kBusy && out_.size() == 0 && !eof_ && in_.size() == 0 &&
      (!tls_ || tls_->raw().size() == 0) && !worker_.draining())
    to_pool();
  else
    close();
}

void UpConn::link_up() {
  state_ = State::kBusy;
  if (user_) user_->on_upstream_connected(this);
}

void UpConn::link_failed() {
  if (user_)
    user_->on_upstream_error(this, true, false);
  else
    close();
}

void UpConn::on_timer(void* self) {
  auto* c = static_cast<UpConn*>(self);
  if (c->state_ == State::kConnecting) {
    if (c->user_)
      c->user_->on_upstream_error(c, true, true);
    else
      c->close();
  } else if (c->state_ == State::kIdle) {
    c->pool_.remove(c);
    c->close();
  }
}

bool UpConn::send(const struct iovec* iov, int n) {
  if (state_ == State::kClosed) return false;
  if (tls_) {
    if (!encrypt(iov, n)) return false;
  } else if (!send_now_or_buffer(sock_.native_handle(), iov, n, out_,
                                 worker_.send_batch().enabled())) {
    return false;
  }
  flush();
  return true;
}

// Small pieces (a request head and its first body bytes) go out as one record.
bool UpConn::encrypt(const struct iovec* iov, int n) {
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  if (n > 1 && total <= 16384) {
    char joined[16384];
    size_t at = 0;
    for (int i = 0; i < n; ++i) {
      std::memcpy(joined + at, iov[i].iov_base, iov[i].iov_len);
      at += iov[i].iov_len;
    }
    return tls_->encrypt(joined, at);
  }
  for (int i = 0; i < n; ++i)
    if (!tls_->encrypt(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len)) return false;
  return true;
}

void UpConn::shutdown_send() {
  if (tls_) {
    // close_notify says the same over TLS; the TCP half-close would cut off the records
    // still queued.
    tls_->close_notify();
    return flush();
  }
  error_code ec;
  sock_.shutdown(tcp::socket::shutdown_send, ec);
}

void UpConn::flush() {
  if (writing_ || out_.size() == 0 || state_ == State::kClosed) return;
  if (!worker_.send_batch().enabled()) return flush_async();
  writing_ = true;
  ++refs_;
  worker_.send_batch().add(this);
}

void UpConn::batch_done(int result) {
  writing_ = false;
  --refs_;
  if (state_ == State::kClosed) return unref();
  switch (apply_batch_result(result, out_)) {
    case BatchOutcome::kFailed:
      return write_failed();
    case BatchOutcome::kFull:
      return flush_async();
    case BatchOutcome::kDrained:
      return written();
  }
}

void UpConn::flush_async() {
  if (writing_ || out_.size() == 0 || state_ == State::kClosed) return;
  writing_ = true;
  ++refs_;
  out_.pin();  // written in place: later appends must not move it
  sock_.async_write_some(asio::buffer(out_.data(), out_.size()),
                         [this](const error_code& ec, size_t n) {
                           writing_ = false;
                           out_.unpin();
                           --refs_;
                           if (state_ == State::kClosed) return unref();
                           if (ec) return write_failed();
                           out_.consume(n);
                           if (out_.size() > 0) return flush_async();
                           written();
                         });
}

void UpConn::write_failed() {
  if (user_)
    user_->on_upstream_error(this, false, false);
  else
    close();
}

void UpConn::written() {
  if (user_) user_->on_upstream_writable(this);
}

void UpConn::start_read() {
  if (reading_ || state_ == State::kClosed || eof_) return;
  if (in_.cap == 0) in_.reserve(16384);
  if (in_.size() == 0)
    in_.clear();
  else if (in_.free() < 2048)
    in_.compact();
  if (in_.free() == 0) in_.reserve(in_.cap * 2);
  reading_ = true;
  ++refs_;
  if (tls_) {
    Buffer& raw = tls_->raw();
    if (raw.free() < 4096) {
      raw.compact();
      if (raw.free() < 4096) raw.reserve(raw.cap * 2);
    }
    return reader_.read(sock_, raw.end(), raw.free());
  }
  reader_.read(sock_, in_.end(), in_.free());
}

void UpConn::on_read(const error_code& read_ec, size_t n) {
  reading_ = false;
  --refs_;
  if (state_ == State::kClosed) return unref();
  error_code ec = read_ec;
  if (!ec && tls_) {
    tls_->raw().wpos += n;
    size_t before = in_.size();
    UpTlsSession::Read r = tls_->decrypt(in_);
    n = 0;  // decrypt() appended to in_ itself
    if (r == UpTlsSession::Read::kEof) ec = asio::error::eof;
    if (r == UpTlsSession::Read::kFailed) ec = asio::error::connection_reset;
    if (out_.size() > 0) flush();  // a reply the engine wrote (key update)
    if (!ec && in_.size() == before) {
      // A partial record, or a session ticket (also while idle): nothing for the user yet.
      return start_read();
    }
  }
  if (state_ == State::kIdle) {
    // Data or EOF on an idle pooled connection: the server closed it (or misbehaves).
    pool_.remove(this);
    close();
    return;
  }
  if (ec) {
    if (ec == asio::error::eof) {
      eof_ = true;
      if (user_)
        user_->on_upstream_data(this);
      else
        close();
    } else {
      if (user_)
        user_->on_upstream_error(this, false, false);
      else
        close();
    }
    return;
  }
  in_.wpos += n;
  if (user_) user_->on_upstream_data(this);
}

void UpConn::to_pool() {
  state_ = State::kIdle;
  reused_ = true;
  in_.clear();
  pool_.put(this);
  if (pool_.idle_timeout_ms_) worker_.timers().arm(timer_, worker_.now(), pool_.idle_timeout_ms_);
  start_read();
  PendingQueue::wake(worker_, cluster_.pending);
  // Last: dropping the reference may destroy the pool, which closes this connection.
  std::shared_ptr<Pool> keep = std::move(pool_keep_);
}

void UpConn::close() {
  if (state_ == State::kClosed) return;
  if (state_ == State::kIdle) pool_.remove(this);
  state_ = State::kClosed;
  user_ = nullptr;
  TimerWheel::cancel(timer_);
  error_code ec;
  sock_.close(ec);
  unref();
}

}  // namespace kop::proxy::server
