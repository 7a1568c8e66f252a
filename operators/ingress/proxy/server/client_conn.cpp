// ClientConn: the downstream HTTP/1.1 connection (plain or TLS): request framing, keep-alive,
// pipelining (one request at a time, in order), 100-continue, chunked bodies both ways,
// timeouts, upgrades, lingering close. Its bytes come and go through its Transport.
#include <sys/uio.h>

#include "client_conn.h"
#include "client_hello.h"
#include "tcp_proxy.h"
#include "tls.h"
#include "worker.h"

namespace kop::proxy::server {

namespace {
constexpr size_t kBodyRoom = 4096;
constexpr uint64_t kLingerMs = 2000;
}  // namespace

ClientConn::ClientConn(Worker& w, tcp::socket s, const std::string& listener_name)
    : worker_(w),
      transport_(*this, w, std::move(s)),
      listener_name_(listener_name),
      in_(transport_.in()),
      exchange_(w) {
  timer_.fn = &ClientConn::on_timer;
  timer_.self = this;
}

ClientConn::~ClientConn() {
  TimerWheel::cancel(timer_);
  if (exchange_.active()) exchange_.cancel();
  if (ws_) worker_.unref(ws_);
}

void ClientConn::start() {
  worker_.add_conn(this);
  client_ip_ = transport_.start();
  ws_ = worker_.current();
  worker_.ref(ws_);
  listener_ = ws_->snap->table->find_listener(listener_name_);
  if (!listener_) return close();
  limit_input();
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
  if (!transport_.start_tls(tls->default_ctx(), this)) return false;
  state_ = State::kHandshake;
  return true;
}

void ClientConn::limit_input() {
  transport_.set_input_limit(ws_->snap->limits.max_head_bytes + 2 * kBodyRoom);
}

void ClientConn::adopt_latest_snapshot() {
  WorkerSnapshot* cur = worker_.current();
  if (!cur || cur == ws_) return;
  worker_.unref(ws_);
  ws_ = cur;
  worker_.ref(ws_);
  listener_ = ws_->snap->table->find_listener(listener_name_);
  limit_input();
}

void ClientConn::read_more() {
  transport_.read();
}

bool ClientConn::op_done() {
  --refs_;
  if (state_ != State::kClosed) return true;
  unref();
  return false;
}

void ClientConn::on_read(const error_code& ec) {
  if (!op_done()) return;
  if (ec) {
    transport_.set_peer_eof();
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
  if (transport_.tls()) {
    if (!transport_.decrypt()) return close();
    if (state_ == State::kClosed) return;
    if (state_ == State::kHandshake) return read_more();
    if (state_ == State::kTcpProxy) return tcp_->on_client_input({});
  } else if (state_ == State::kSniff) {
    return on_client_hello();
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

bool ClientConn::on_handshake_done() {
  sni_ = transport_.sni();
  state_ = State::kReadHead;
  if (const ListenerTcpProxy* tp = ws_->snap->table->tcp_proxy_for_sni(*listener_, sni_)) {
    // TLS-terminated TCP proxy: the plaintext is relayed, never parsed as HTTP. The relay
    // starts when the caller hands it the input (TcpProxy::on_client_input).
    TimerWheel::cancel(timer_);
    state_ = State::kTcpProxy;
    tcp_ = std::make_unique<TcpProxy>(*this, transport_, *tp);
    return true;
  }
  return !transport_.alpn_h2() || start_h2();
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
      if (h2_->done() || transport_.peer_eof()) {
        in_process_ = false;
        // The frames queued last (a GOAWAY) go out first; written() closes then, or the
        // timer h2_watch_idle() arms if the peer does not read them.
        if (transport_.pending() == 0 && !transport_.writing()) return close();
        closing_after_write_ = true;
        return;
      }
      in_process_ = false;
      return read_more();
    }
    if (state_ == State::kReadHead && requests_ == 0 && !transport_.tls() && in_.size() > 0 &&
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
        if (transport_.peer_eof()) {
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
        if (transport_.peer_eof()) {
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
  transport_.keep_input(in_.rpos + len);
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
  dr.tls = transport_.tls();
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
  return !transport_.output_blocked();
}

void ClientConn::response_end() {
  if (state_ == State::kClosed) return;
  int status = exchange_.status();
  if (state_ == State::kTunnel) {
    // Upstream closed the tunnel: close after flushing.
    record(status);
    keep_alive_ = false;
    closing_after_write_ = true;
    if (transport_.pending() == 0) close();
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
  if (!keep_alive_ || transport_.peer_eof() || draining_) {
    closing_after_write_ = true;
    state_ = State::kWaitResponse;
    if (transport_.pending() == 0 && !transport_.writing()) linger_close();
    return;
  }
  state_ = State::kReadHead;
  transport_.keep_input(0);
  scan_ = 0;
  if (in_.size() == 0)
    in_.clear();
  else if (!transport_.reading())
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
    if (transport_.pending() == 0 && !transport_.writing()) linger_close();
  }
}

void ClientConn::on_written() {
  if (tcp_) return tcp_->on_client_drained();
  if (h2_) {
    ++refs_;
    h2_->flush();
    h2_->reap();
    --refs_;
    if (state_ == State::kClosed) return unref();
    if (h2_->done() || transport_.peer_eof()) return close();
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
  if (h2_->done() && transport_.pending() == 0 && !transport_.writing())
    return close();  // else on_write closes
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
  transport_.end_tls();
  if (body_done_ && in_.size() == 0 && !transport_.reading()) return close();
  // Unread request bytes may still arrive: close only the sending side and discard input for
  // a while, so the client reads our response instead of a reset.
  transport_.shutdown_send();
  state_ = State::kLinger;
  in_.clear();
  transport_.keep_input(0);
  worker_.timers().arm(timer_, worker_.now(), kLingerMs);
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
  transport_.close();
  if (exchange_.active()) exchange_.cancel();
  if (tcp_) tcp_->close();
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
  a.tls = transport_.tls();
  log.write(a);
}

}  // namespace kop::proxy::server
