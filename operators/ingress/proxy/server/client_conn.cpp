// ClientConn: which protocol runs on an accepted connection, its timer and its lifetime.
#include "client_conn.h"

#include "client_hello.h"
#include "tcp_proxy.h"
#include "tls.h"
#include "worker.h"

namespace kop::proxy::server {

namespace {
// Room for request body bytes beyond a full request head in the input buffer.
constexpr size_t kBodyRoom = 4096;
constexpr uint64_t kLingerMs = 2000;
}  // namespace

ClientConn::ClientConn(Worker& w, tcp::socket s, const std::string& listener_name)
    : worker_(w),
      transport_(*this, w, std::move(s)),
      listener_name_(listener_name),
      h1_(*this, transport_, w) {
  timer_.fn = &ClientConn::on_timer;
  timer_.self = this;
}

ClientConn::~ClientConn() {
  TimerWheel::cancel(timer_);
  h1_.cancel();
  if (ws_) worker_.unref(ws_);
}

void ClientConn::start() {
  worker_.add_conn(this);
  client_ip_ = transport_.start();
  client_address_ = parse_ip(client_ip_);
  ws_ = worker_.current();
  worker_.ref(ws_);
  listener_ = ws_->snap->table->find_listener(listener_name_);
  if (!listener_) return close();
  limit_input();
  if (listener_->tls && !listener_->passthrough.empty()) {
    // TLS passthrough: the ClientHello decides (on_client_hello); the header timeout bounds it.
    transport_.in().reserve(hello::kMaxBufferedBytes);
    state_ = State::kSniff;
  } else if (listener_->tls && !start_tls()) {
    return close();
  }
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

void ClientConn::on_read(const error_code& ec) {
  if (!op_done()) return;
  if (ec) {
    transport_.set_peer_eof();
    switch (state_) {
      case State::kTcpProxy:
        return tcp_->on_client_input(ec);
      case State::kH1:
        return h1_.on_peer_eof();
      case State::kPassthrough:
      case State::kClosed:
        return;
      case State::kSniff:
      case State::kHandshake:
      case State::kH2:
      case State::kLinger:
        return close();
    }
    return;
  }
  if (state_ == State::kLinger) {
    transport_.in().clear();
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
    process_h2();
    if (h2_) h2_->reap();
    --refs_;
    if (state_ == State::kClosed) return unref();
    h2_watch_idle();
    return;
  }
  h1_.on_input();
}

void ClientConn::on_client_hello() {
  // The ClientHello decides between passthrough and terminating TLS here; it stays unconsumed
  // in the transport's input either way.
  Buffer& in = transport_.in();
  hello::Result r = hello::parse(std::string_view(in.data(), in.size()));
  if (r.status == hello::Status::kNeedMore) {
    if (in.size() >= hello::kMaxBufferedBytes) return close();
    return read_more();
  }
  if (r.status == hello::Status::kInvalid) {
    ++worker_.stats().client_hello_rejected;
    return close();
  }
  sni_ = std::move(r.sni);
  if (const ListenerTcpProxy* pt = ws_->snap->table->passthrough_for_sni(*listener_, sni_)) {
    TimerWheel::cancel(timer_);
    state_ = State::kPassthrough;
    tcp_ = std::make_unique<TcpProxy>(*this, transport_, *pt);
    std::string_view bytes(in.data(), in.size());
    in.clear();
    tcp_->start(bytes.data(), bytes.size());  // copies: the buffer is not written before it returns
    return;
  }
  // Terminate here: the buffered bytes become the TLS engine's first input.
  if (!start_tls()) {
    ++worker_.stats().client_hello_rejected;  // no certificate on a passthrough-only listener
    return close();
  }
  transport_.replay_input_as_tls();
  if (!transport_.decrypt()) return close();
  if (state_ == State::kClosed) return;
  if (state_ == State::kTcpProxy) return tcp_->on_client_input({});
  read_more();
}

bool ClientConn::on_handshake_done() {
  sni_ = transport_.sni();
  client_cert_ = transport_.client_certificate();
  state_ = State::kH1;
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

bool ClientConn::start_h2() {
  adopt_latest_snapshot();
  if (!listener_) return false;
  TimerWheel::cancel(timer_);
  h2_ = std::make_unique<H2Session>(*this, worker_);
  state_ = State::kH2;
  return h2_->start(ws_->snap->settings.http2_max_concurrent_streams,
                    ws_->snap->limits.max_head_bytes);
}

void ClientConn::start_h2_prior_knowledge() {
  if (!start_h2()) return close();
  process_h2();
}

void ClientConn::process_h2() {
  Buffer& in = transport_.in();
  if (in.size() > 0) {
    h2_->input(in.data(), in.size());  // a failure queues a GOAWAY and makes done() true
    in.clear();
  }
  if (h2_->done() || transport_.peer_eof()) {
    // The frames queued last (a GOAWAY) go out first; on_written() closes then, or the timer
    // h2_watch_idle() arms if the peer does not read them.
    if (transport_.pending() == 0 && !transport_.writing()) return close();
    h2_closing_ = true;
    return;
  }
  read_more();
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
  if (state_ == State::kH1) h1_.on_written();
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
    return close();  // else on_written closes
  h2_watch_idle();
}

void ClientConn::h2_watch_idle() {
  // The idle timeout runs while no stream is open; the last stream usually ends in a flush
  // after the last read, so both places (re)arm it.
  if (h2_ && h2_closing_) {
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

void ClientConn::linger_close(bool request_read) {
  if (state_ == State::kClosed || state_ == State::kLinger) return;
  transport_.end_tls();
  Buffer& in = transport_.in();
  if (request_read && in.size() == 0 && !transport_.reading()) return close();
  // Unread request bytes may still arrive: close only the sending side and discard input for
  // a while, so the client reads our response instead of a reset.
  transport_.shutdown_send();
  state_ = State::kLinger;
  in.clear();
  transport_.keep_input(0);
  worker_.timers().arm(timer_, worker_.now(), kLingerMs);
  read_more();
}

void ClientConn::on_timer(void* self) {
  auto* c = static_cast<ClientConn*>(self);
  if (c->state_ == State::kH2 && c->h2_ && !c->h2_->idle() && !c->h2_closing_) return;
  if (c->state_ == State::kH1) return c->h1_.on_timeout();
  c->close();
}

void ClientConn::shutdown_gracefully() {
  bool idle_between_requests = h1_.drain() && state_ == State::kH1;
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
  h1_.cancel();
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

}  // namespace kop::proxy::server
