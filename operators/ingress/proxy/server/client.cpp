// ClientConn: the downstream HTTP/1.1 connection (plain or TLS): request framing, keep-alive,
// pipelining (one request at a time, in order), 100-continue, chunked bodies both ways,
// timeouts, upgrades, lingering close.
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "client_conn.h"
#include "client_hello.h"
#include "tcp_proxy.h"
#include "tls.h"
#include "worker.h"

namespace kop::proxy::server {

namespace {
constexpr size_t kInitialBuffer = 8192;
constexpr size_t kBodyRoom = 4096;
constexpr uint64_t kLingerMs = 2000;
// TLS writes of up to this many bytes in several pieces are copied into one SSL_write.
constexpr size_t kCoalesceBytes = 16384;
}  // namespace

bool ClientConn::tls_clear_errors() {
  ERR_clear_error();
  return false;
}

ClientConn::ClientConn(Worker& w, tcp::socket s, const std::string& listener_name)
    : worker_(w), sock_(std::move(s)), listener_name_(listener_name), exchange_(w) {
  timer_.fn = &ClientConn::on_timer;
  timer_.self = this;
}

ClientConn::~ClientConn() {
  TimerWheel::cancel(timer_);
  if (exchange_.active()) exchange_.cancel();
  if (ssl_) SSL_free(ssl_);
  if (ws_) worker_.unref(ws_);
}

void ClientConn::start() {
  worker_.add_conn(this);
  error_code ec;
  sock_.set_option(tcp::no_delay(true), ec);
  sock_.non_blocking(true, ec);
  auto ep = sock_.remote_endpoint(ec);
  if (!ec) client_ip_ = ep.address().to_string();
  ws_ = worker_.current();
  worker_.ref(ws_);
  listener_ = ws_->snap->table->find_listener(listener_name_);
  if (!listener_) return close();
  in_.reserve(kInitialBuffer);
  if (listener_->tls && !listener_->passthrough.empty()) {
    // TLS passthrough: the ClientHello decides (on_client_hello); the header timeout bounds it.
    in_.reserve(hello::kMaxBufferedBytes);
    state_ = State::kSniff;
  } else if (listener_->tls && !start_tls()) {
    return close();
  }
  header_timer_ = true;
  worker_.timers().arm(timer_, worker_.refresh_now(),
                       static_cast<uint64_t>(ws_->snap->settings.request_header_timeout.count()));
  read_more();
}

bool ClientConn::start_tls() {
  const auto& tls = ws_->snap->tls[listener_->id];
  if (!tls || tls->ctxs_.empty()) return false;
  ssl_ = SSL_new(tls->default_ctx());
  if (!ssl_) return false;
  SSL_set_ex_data(ssl_, ssl_conn_index(), this);
  BIO* bio = make_conn_bio(&raw_, &out_);
  SSL_set_bio(ssl_, bio, bio);
  SSL_set_accept_state(ssl_);
  raw_.reserve(size_t{17} * 1024);
  state_ = State::kHandshake;
  return true;
}

void ClientConn::adopt_latest_snapshot() {
  WorkerSnapshot* cur = worker_.current();
  if (!cur || cur == ws_) return;
  worker_.unref(ws_);
  ws_ = cur;
  worker_.ref(ws_);
  listener_ = ws_->snap->table->find_listener(listener_name_);
}

void ClientConn::read_more() {
  if (reading_ || state_ == State::kClosed) return;
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
        // Grow within the header limit (a head that does not fit is answered 431 first).
        size_t want = in_.cap * 2;
        size_t limit = ws_->snap->limits.max_head_bytes + 2 * kBodyRoom;
        if (want > limit) want = limit;
        if (want > in_.cap) in_.reserve(want);
        if (in_.free() == 0 && keep_ && in_.rpos > keep_) {
          size_t n = in_.size();
          std::memmove(in_.mem.get() + keep_, in_.data(), n);
          in_.rpos = keep_;
          in_.wpos = keep_ + n;
        }
        if (in_.free() == 0) return;  // full: the body pump resumes reading after consuming
      }
    }
  }
  reading_ = true;
  ++refs_;
  reader_.read(sock_, b->end(), b->free());
}

void ClientConn::on_read(const error_code& ec, size_t n) {
  reading_ = false;
  --refs_;
  if (state_ == State::kClosed) return unref();
  if (ec) {
    peer_eof_ = true;
    if (state_ == State::kTcpProxy) return tcp_->on_client_input(ec);
    if (state_ == State::kTunnel) {
      if (exchange_.active()) exchange_.tunnel_client_eof();
      return;
    }
    if (state_ == State::kLinger || state_ == State::kReadHead || state_ == State::kHandshake ||
        state_ == State::kBody || state_ == State::kH2 || state_ == State::kSniff)
      return close();
    return;  // waiting for the response: finish it, then close
  }
  if (state_ == State::kLinger) {
    in_.clear();
    return read_more();
  }
  if (ssl_) {
    raw_.wpos += n;
    if (!tls_decrypt()) return close();
    if (state_ == State::kClosed) return;
    if (state_ == State::kHandshake) return read_more();
    if (state_ == State::kTcpProxy) return tcp_->on_client_input({});
  } else {
    in_.wpos += n;
    if (state_ == State::kSniff) return on_client_hello();
  }
  if (state_ == State::kH2) {
    ++refs_;
    process();
    if (h2_) h2_->reap();
    --refs_;
    if (state_ == State::kClosed) return unref();
    h2_watch_idle();
    return;
  }
  if (state_ == State::kReadHead && header_timer_ == false && in_.size() > 0) {
    header_timer_ = true;
    worker_.timers().arm(timer_, worker_.now(),
                         static_cast<uint64_t>(ws_->snap->settings.request_header_timeout.count()));
  }
  process();
}

bool ClientConn::tls_decrypt() {
  if (state_ == State::kHandshake) {
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
    if (const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) {
      sni_ = name;
      for (char& c : sni_)
        if (c >= 'A' && c <= 'Z') c = char(c + 32);
    }
    state_ = State::kReadHead;
    if (const ListenerTcpProxy* tp = ws_->snap->table->tcp_proxy_for_sni(*listener_, sni_)) {
      // TLS-terminated TCP proxy: the plaintext is relayed, never parsed as HTTP. The relay
      // starts when the caller hands it the input (TcpProxy::on_client_input).
      TimerWheel::cancel(timer_);
      state_ = State::kTcpProxy;
      tcp_ = std::make_unique<TcpProxy>(*this, *tp);
    } else {
      const unsigned char* alpn = nullptr;
      unsigned alpn_len = 0;
      SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
      if (alpn_len == 2 && alpn[0] == 'h' && alpn[1] == '2' && !start_h2()) return false;
    }
  }
  for (;;) {
    if (in_.free() < 1024) {
      if (keep_ == 0) in_.compact();
      if (in_.free() < 1024) {
        size_t limit = ws_->snap->limits.max_head_bytes + 2 * kBodyRoom;
        if (in_.cap < limit) in_.reserve(std::min(in_.cap * 2, limit));
      }
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

void ClientConn::process() {
  if (in_process_) return;
  in_process_ = true;
  while (state_ != State::kClosed) {
    if (state_ == State::kH2) {
      if (in_.size() > 0) {
        h2_->input(in_.data(), in_.size());  // a failure queues a GOAWAY and makes done() true
        in_.clear();
      }
      if (h2_->done() || peer_eof_) {
        in_process_ = false;
        // The frames queued last (a GOAWAY) go out first; written() closes then, or the
        // timer h2_watch_idle() arms if the peer does not read them.
        if (out_.size() == 0 && !writing_) return close();
        closing_after_write_ = true;
        return;
      }
      in_process_ = false;
      return read_more();
    }
    if (state_ == State::kReadHead && requests_ == 0 && !ssl_ && in_.size() > 0 &&
        in_.data()[0] == 'P') {
      // HTTP/2 prior knowledge (h2c): the client preface instead of a request line. Its first
      // line, a method no HTTP/1 request uses, decides; nghttp2 checks the rest, so a client
      // that sends a broken preface gets a GOAWAY PROTOCOL_ERROR (RFC 9113 3.4), not a 400.
      static constexpr std::string_view kPrefaceLine = "PRI * HTTP/2.0\r\n";
      size_t n = std::min(in_.size(), kPrefaceLine.size());
      if (std::string_view(in_.data(), n) == kPrefaceLine.substr(0, n)) {
        if (n < kPrefaceLine.size()) break;  // wait for the rest of the line
        if (!start_h2()) {
          in_process_ = false;
          return close();
        }
        continue;
      }
    }
    if (state_ == State::kReadHead) {
      if (in_.size() == 0) {
        if (peer_eof_) {
          in_process_ = false;
          return close();
        }
        break;
      }
      const h1::Limits& lim = ws_->snap->limits;
      size_t len = h1::find_head_end(in_.data(), in_.size(), &scan_);
      if (!len) {
        if (in_.size() >= lim.max_head_bytes) {
          int st = h1::oversize_status(in_.data(), in_.size(), lim);
          send_local(st, st == 414 ? "uri too long\n" : "request header fields too large\n", true);
          continue;
        }
        if (peer_eof_) {
          in_process_ = false;
          return close();
        }
        break;
      }
      if (len > lim.max_head_bytes) {
        send_local(h1::oversize_status(in_.data(), len, lim), "request header fields too large\n",
                   true);
        continue;
      }
      req_.header_count = 0;
      req_.content_length = -1;
      req_.chunked = req_.conn_close = req_.conn_keep_alive = req_.conn_upgrade = req_.conn_other =
          false;
      req_.upgrade = {};
      req_.host = {};
      req_.host_index = req_.xff_index = req_.request_id_index = -1;
      req_.expect_continue = false;
      h1::Error err;
      if (!h1::parse_request(in_.data(), len, lim, &req_, &err)) {
        send_local(err.status, std::string(err.reason) + "\n", true);
        continue;
      }
      start_request();
      continue;
    }
    if (state_ == State::kBody) {
      if (body_ready_ && !body_paused_) {
        size_t before = in_.size();
        bool was_done = body_done_;
        feed_body();
        if (state_ == State::kBody && !body_done_ && !body_paused_ && in_.size() == before &&
            was_done == body_done_) {
          read_more();
          break;
        }
        continue;
      }
      break;
    }
    if (state_ == State::kTunnel) {
      if (in_.size() > 0 && !body_paused_) {
        const char* d = in_.data();
        size_t n = in_.size();
        in_.clear();
        if (!exchange_.tunnel_send(d, n)) body_paused_ = true;
        continue;
      }
      if (!body_paused_) read_more();
      break;
    }
    break;  // kWaitResponse, kLinger, kHandshake
  }
  in_process_ = false;
  if (state_ == State::kReadHead && !closing_after_write_) read_more();
}

void ClientConn::start_request() {
  TimerWheel::cancel(timer_);
  header_timer_ = false;
  adopt_latest_snapshot();
  if (!listener_) return close();
  ++requests_;
  request_start_ms_ = worker_.refresh_now();
  keep_alive_ = req_.keep_alive() && !draining_ && !worker_.draining();
  size_t len = req_.head_bytes;
  keep_ = in_.rpos + len;
  in_.rpos += len;
  scan_ = 0;
  body_chunked_ = req_.chunked;
  body_remaining_ = req_.chunked ? 0 : (req_.content_length > 0 ? req_.content_length : 0);
  body_done_ = !req_.chunked && body_remaining_ == 0;
  if (body_chunked_) body_chunk_.reset();
  body_paused_ = false;
  body_ready_ = false;
  response_chunked_ = false;
  response_trailers_.clear();
  response_no_body_ = false;
  head_pending_ = false;
  if (worker_.access_log().on()) {
    log_method_.assign(req_.method);
    log_path_.assign(req_.target);
    log_host_.assign(req_.host);
  }
  DownRequest dr;
  dr.head = &req_;
  dr.tls = ssl_ != nullptr;
  dr.sni = sni_;
  dr.client_ip = client_ip_;
  dr.listener = listener_;
  dr.has_body = !body_done_;
  dr.upgrade_websocket =
      req_.conn_upgrade && req_.upgrade.size() == 9 && iequals(req_.upgrade, "websocket");
  state_ = body_done_ ? State::kWaitResponse : State::kBody;
  exchange_.start(this, ws_, dr, request_start_ms_);
}

bool ClientConn::start_h2() {
  adopt_latest_snapshot();
  if (!listener_) return false;
  TimerWheel::cancel(timer_);
  header_timer_ = false;
  h2_ = std::make_unique<H2Session>(*this, worker_);
  state_ = State::kH2;
  ++requests_;
  return h2_->start(ws_->snap->settings.http2_max_concurrent_streams,
                    ws_->snap->limits.max_head_bytes);
}

void ClientConn::request_body_ready() {
  if (state_ == State::kClosed) return;
  body_ready_ = true;
  if (exchange_.upgraded()) return;
  if (req_.expect_continue && in_.size() == 0 && !body_done_) {
    static const char k100[] = "HTTP/1.1 100 Continue\r\n\r\n";
    iovec iov{const_cast<char*>(k100), sizeof k100 - 1};
    if (!write(&iov, 1)) return close();
  }
  if (!in_process_) process();
}

void ClientConn::feed_body() {
  while (!body_done_ && in_.size() > 0 && !body_paused_ && state_ == State::kBody) {
    bool more = true;
    if (body_chunked_) {
      h1::ChunkedDecoder::Segment segs[16];
      size_t consumed = 0, nseg = 0;
      auto st = body_chunk_.decode(in_.data(), in_.size(), segs, 16, &consumed, &nseg);
      in_.rpos += consumed;
      for (size_t i = 0; i < nseg && exchange_.active(); ++i)
        more = exchange_.request_body(segs[i].data, segs[i].size) && more;
      if (st == h1::ChunkedDecoder::Status::kError) {
        // Bad framing mid-body: the upstream got a partial request; drop both sides.
        if (exchange_.active()) exchange_.cancel();
        if (state_ != State::kClosed) send_local(400, "invalid chunked body\n", true);
        return;
      }
      if (st == h1::ChunkedDecoder::Status::kDone) body_done_ = true;
    } else {
      size_t take = in_.size();
      if (static_cast<int64_t>(take) > body_remaining_) take = static_cast<size_t>(body_remaining_);
      const char* d = in_.data();
      in_.rpos += take;
      body_remaining_ -= static_cast<int64_t>(take);
      if (body_remaining_ == 0) body_done_ = true;
      if (exchange_.active()) more = exchange_.request_body(d, take);
    }
    if (state_ != State::kBody) return;
    if (!more) body_paused_ = true;
  }
  if (body_done_ && state_ == State::kBody) {
    state_ = State::kWaitResponse;
    if (exchange_.active()) exchange_.request_end();
  }
}

void ClientConn::resume_request_body() {
  if (!body_paused_) return;
  body_paused_ = false;
  if (!in_process_) process();
}

void ClientConn::response_head(const ResponseHead& h) {
  std::string& o = head_scratch_;
  o.clear();
  o.append("HTTP/1.1 ");  // also to HTTP/1.0 clients (RFC 9110 2.5)
  char num[24];
  o.append(num, h1::to_dec(static_cast<uint64_t>(h.status), num));
  o.push_back(' ');
  o.append(h1::reason_phrase(h.status));
  o.append("\r\n");
  o.append(h.fields);
  if (h.upgrade) {
    state_ = State::kTunnel;
    body_done_ = true;
    keep_alive_ = false;
  } else if (h.no_body) {
    response_no_body_ = true;
    if (h.content_length >= 0) {
      o.append("content-length: ");
      o.append(num, h1::to_dec(static_cast<uint64_t>(h.content_length), num));
      o.append("\r\n");
    }
  } else if (h.content_length >= 0) {
    o.append("content-length: ");
    o.append(num, h1::to_dec(static_cast<uint64_t>(h.content_length), num));
    o.append("\r\n");
  } else if (req_.version_minor >= 1) {
    o.append("transfer-encoding: chunked\r\n");
    response_chunked_ = true;
  } else {
    keep_alive_ = false;  // HTTP/1.0 client, unknown length: close-delimited
  }
  if (!body_done_ && !h.upgrade) keep_alive_ = false;  // answered before the body was read
  if (!h.upgrade) {
    if (!keep_alive_)
      o.append("connection: close\r\n");
    else if (req_.version_minor == 0)
      o.append("connection: keep-alive\r\n");
  }
  o.append("\r\n");
  head_pending_ = true;
  if (h.upgrade) {
    // Send the 101 now: the tunnel starts.
    iovec iov{o.data(), o.size()};
    head_pending_ = false;
    if (!write(&iov, 1)) return close();
    body_paused_ = false;
    if (!in_process_) process();
  }
}

bool ClientConn::response_body(const char* data, size_t n) {
  if (state_ == State::kClosed) return false;
  iovec iov[4];
  int k = 0;
  if (head_pending_) {
    iov[k++] = {head_scratch_.data(), head_scratch_.size()};
    head_pending_ = false;
  }
  char hex[20];
  if (response_chunked_ && n) {
    size_t hl = h1::to_hex(n, hex);
    hex[hl++] = '\r';
    hex[hl++] = '\n';
    iov[k++] = {hex, hl};
    iov[k++] = {const_cast<char*>(data), n};
    iov[k++] = {const_cast<char*>("\r\n"), 2};
  } else if (n) {
    iov[k++] = {const_cast<char*>(data), n};
  }
  if (k && !write(iov, k)) {
    close();
    return false;
  }
  return !output_blocked();
}

void ClientConn::response_end() {
  if (state_ == State::kClosed) return;
  int status = exchange_.status();
  if (state_ == State::kTunnel) {
    // Upstream closed the tunnel: close after flushing.
    record(status);
    keep_alive_ = false;
    closing_after_write_ = true;
    if (out_.size() == 0) close();
    return;
  }
  iovec iov[4];
  int k = 0;
  if (head_pending_) {
    iov[k++] = {head_scratch_.data(), head_scratch_.size()};
    head_pending_ = false;
  }
  if (response_chunked_ && !response_trailers_.empty()) {
    // The last chunk, the trailer section (an HTTP/2 upstream's trailers: gRPC's status),
    // the final CRLF.
    iov[k++] = {const_cast<char*>("0\r\n"), 3};
    iov[k++] = {response_trailers_.data(), response_trailers_.size()};
    iov[k++] = {const_cast<char*>("\r\n"), 2};
  } else if (response_chunked_) {
    iov[k++] = {const_cast<char*>("0\r\n\r\n"), 5};
  }
  if (k && !write(iov, k)) return close();
  record(status);
  request_complete();
}

void ClientConn::abort() {
  // The response broke after its head went out: the client must see a truncated message.
  if (state_ == State::kClosed) return;
  record(exchange_.status() ? exchange_.status() : 502);
  keep_alive_ = false;
  close();
}

void ClientConn::request_complete() {
  if (!body_done_) keep_alive_ = false;
  if (!keep_alive_ || peer_eof_ || draining_) {
    closing_after_write_ = true;
    state_ = State::kWaitResponse;
    if (out_.size() == 0 && !writing_) linger_close();
    return;
  }
  state_ = State::kReadHead;
  keep_ = 0;
  scan_ = 0;
  if (in_.size() == 0)
    in_.clear();
  else if (!reading_)
    in_.compact();
  header_timer_ = in_.size() > 0;
  uint64_t t =
      static_cast<uint64_t>(header_timer_ ? ws_->snap->settings.request_header_timeout.count()
                                          : ws_->snap->settings.idle_timeout.count());
  if (t) worker_.timers().arm(timer_, worker_.now(), t);
  if (!in_process_) process();
}

void ClientConn::send_local(int status, std::string_view body, bool close_after) {
  std::string& o = head_scratch_;
  o.clear();
  char num[24];
  o.append("HTTP/1.1 ");
  o.append(num, h1::to_dec(static_cast<uint64_t>(status), num));
  o.push_back(' ');
  o.append(h1::reason_phrase(status));
  o.append("\r\n");
  if (ws_->snap->settings.server_header != ServerHeader::kPassThrough) o.append(kServerField);
  o.append("content-type: text/plain\r\ncontent-length: ");
  o.append(num, h1::to_dec(body.size(), num));
  if (close_after) o.append("\r\nconnection: close");
  o.append("\r\n\r\n");
  o.append(body);
  iovec iov{o.data(), o.size()};
  TimerWheel::cancel(timer_);
  if (!write(&iov, 1)) return close();
  worker_.count_request(nullptr, nullptr, status, nullptr);
  if (worker_.access_log().on()) {
    log_method_.clear();
    log_path_.clear();
    log_host_.clear();
  }
  if (close_after) {
    keep_alive_ = false;
    body_done_ = false;  // unread input may follow: linger
    closing_after_write_ = true;
    state_ = State::kWaitResponse;
    if (out_.size() == 0 && !writing_) linger_close();
  }
}

bool ClientConn::write(const struct iovec* iov, int n) {
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
    return state_ != State::kClosed;
  }
  if (!send_now_or_buffer(sock_.native_handle(), iov, n, out_, worker_.send_batch().enabled()))
    return false;
  flush();
  return true;
}

void ClientConn::flush() {
  if (writing_ || out_.size() == 0 || state_ == State::kClosed) return;
  if (worker_.send_batch().enabled()) {
    writing_ = batched_ = true;
    ++refs_;
    worker_.send_batch().add(this);
    return;
  }
  // Try right away (TLS data has not been attempted yet).
  ssize_t w = ::send(sock_.native_handle(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w > 0)
    out_.consume(static_cast<size_t>(w));
  else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    return close();
  flush_async();
}

void ClientConn::flush_async() {
  if (writing_ || out_.size() == 0 || state_ == State::kClosed) return;
  writing_ = true;
  ++refs_;
  out_.pin();  // written in place: later appends must not move it
  sock_.async_write_some(asio::buffer(out_.data(), out_.size()),
                         [this](const error_code& ec, size_t n) { on_write(ec, n); });
}

void ClientConn::batch_done(int result) {
  writing_ = batched_ = false;
  --refs_;
  if (state_ == State::kClosed) return unref();
  switch (apply_batch_result(result, out_)) {
    case BatchOutcome::kFailed:
      return close();
    case BatchOutcome::kFull:
      return flush_async();
    case BatchOutcome::kDrained:
      return written();
  }
}

void ClientConn::on_write(const error_code& ec, size_t n) {
  writing_ = false;
  out_.unpin();
  --refs_;
  if (state_ == State::kClosed) return unref();
  if (ec) return close();
  out_.consume(n);
  if (out_.size() > 0) return flush_async();
  written();
}

void ClientConn::written() {
  if (tcp_) return tcp_->on_client_drained();
  if (h2_) {
    ++refs_;
    h2_->flush();
    h2_->reap();
    --refs_;
    if (state_ == State::kClosed) return unref();
    if (h2_->done() || peer_eof_) return close();
    h2_watch_idle();
    return;
  }
  if (closing_after_write_) {
    if (state_ == State::kTunnel) return close();
    return linger_close();
  }
  if (exchange_.active()) exchange_.resume_response();
}

void ClientConn::on_h2_flush() {
  --refs_;
  h2_->flush_posted_ = false;
  if (state_ == State::kClosed) return unref();
  ++refs_;
  h2_->flush();
  h2_->reap();
  --refs_;
  if (state_ == State::kClosed) return unref();
  if (h2_->done() && out_.size() == 0 && !writing_) return close();  // else on_write closes
  h2_watch_idle();
}

void ClientConn::h2_watch_idle() {
  // The idle timeout runs while no stream is open; the last stream usually ends in a flush
  // after the last read, so both places (re)arm it.
  if (h2_ && closing_after_write_) {
    // Ending: the last frames (a GOAWAY) are being written; a peer that does not read them
    // does not keep the connection.
    worker_.timers().arm(timer_, worker_.now(), kLingerMs);
  } else if (h2_ && h2_->idle()) {
    uint64_t t = static_cast<uint64_t>(ws_->snap->settings.idle_timeout.count());
    if (t) worker_.timers().arm(timer_, worker_.now(), t);
  } else {
    TimerWheel::cancel(timer_);
  }
}

void ClientConn::linger_close() {
  if (state_ == State::kClosed || state_ == State::kLinger) return;
  if (ssl_) {
    if (SSL_shutdown(ssl_) < 0) tls_clear_errors();
    if (out_.size()) {
      ::send(sock_.native_handle(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      out_.clear();
    }
  }
  if (body_done_ && in_.size() == 0 && !reading_) return close();
  // Unread request bytes may still arrive: close only the sending side and discard input for
  // a while, so the client reads our response instead of a reset.
  error_code ec;
  sock_.shutdown(tcp::socket::shutdown_send, ec);
  state_ = State::kLinger;
  in_.clear();
  keep_ = 0;
  worker_.timers().arm(timer_, worker_.now(), kLingerMs);
  if (ssl_) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  read_more();
}

void ClientConn::on_timer(void* self) {
  auto* c = static_cast<ClientConn*>(self);
  if (c->state_ == State::kH2 && c->h2_ && !c->h2_->idle() && !c->closing_after_write_) return;
  if (c->state_ == State::kReadHead && c->in_.size() > 0) {
    // Slow headers (slowloris): 408 and close.
    return c->send_local(408, "request header timeout\n", true);
  }
  c->close();
}

void ClientConn::shutdown_gracefully() {
  draining_ = true;
  keep_alive_ = false;
  bool idle_between_requests = state_ == State::kReadHead && !exchange_.active() && in_.size() == 0;
  if (idle_between_requests || state_ == State::kHandshake || state_ == State::kSniff) close();
}

void ClientConn::force_close() {
  close();
}

void ClientConn::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  TimerWheel::cancel(timer_);
  if (exchange_.active()) exchange_.cancel();
  if (tcp_) tcp_->close();
  error_code ec;
  sock_.close(ec);
  worker_.remove_conn(this);
  unref();
}

void ClientConn::unref() {
  // Deleting is deferred to a clean stack: close() may run deep inside a chain of calls that
  // still touches this connection or its exchange (a write error while streaming a response).
  if (refs_ == 0 && state_ == State::kClosed && !delete_posted_) {
    delete_posted_ = true;
    asio::post(worker_.io(), [this] { delete this; });
  }
}

void ClientConn::record(int status) {
  uint64_t now = worker_.refresh_now();
  uint64_t ms = now - request_start_ms_;
  worker_.record_latency(ms);
  worker_.count_request(exchange_.vhost(), exchange_.route(), status, ws_);
  AccessLog& log = worker_.access_log();
  if (!log.on()) return;
  HttpAccess a;
  a.protocol = req_.version_minor == 0 ? HttpProtocol::kHttp10 : HttpProtocol::kHttp11;
  a.client = client_ip_;
  a.method = log_method_;
  a.path = log_path_;
  a.host = log_host_;
  a.status = status;
  a.duration_ms = ms;
  exchange_.describe(a);
  a.tls = ssl_ != nullptr;
  log.write(a);
}

}  // namespace kop::proxy::server
