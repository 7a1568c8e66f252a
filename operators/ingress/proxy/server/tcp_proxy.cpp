// TcpProxy: the TCP relay of passthrough and TLS-terminated tcp_proxy connections.
#include "tcp_proxy.h"

#include <sys/socket.h>

#include <boost/asio/write.hpp>
#include <chrono>

#include "client_conn.h"
#include "pool.h"
#include "transport.h"
#include "worker.h"

namespace kop::proxy::server {
namespace {
constexpr size_t kRelayBuffer = 16384;
constexpr uint32_t kMaxAttempts = 3;
}  // namespace

TcpProxy::TcpProxy(ClientConn& conn, Transport& client, const ListenerTcpProxy& entry)
    : conn_(conn),
      client_(client),
      worker_(conn.worker()),
      ws_(conn.snapshot()),
      entry_(entry),
      tls_(client.tls()),
      up_(worker_.io()) {
  worker_.ref(ws_);
  timer_.fn = &TcpProxy::on_timer;
  timer_.self = this;
  ++counters().active;
  ++counters().total;
}

TcpProxy::~TcpProxy() {
  TimerWheel::cancel(timer_);
  if (lb_active_) cs_->lb->on_request_end(endpoint_);
  --counters().active;
  worker_.unref(ws_);
}

RelayCounters& TcpProxy::counters() {
  return tls_ ? worker_.stats().tcp_proxy : worker_.stats().passthrough;
}

tcp::socket& TcpProxy::socket(Side s) {
  return s == Side::kUp ? up_ : client_.socket();
}

void TcpProxy::start(const char* data, size_t n) {
  started_ = true;
  start_ms_ = last_activity_ms_ = worker_.refresh_now();
  idle_ms_ = static_cast<uint64_t>(entry_.config->idle_timeout.count());
  // The cluster for this connection, by weight (validation guarantees one of weight > 0).
  uint32_t cluster = entry_.clusters.empty() ? UINT32_MAX : entry_.pick_cluster(worker_.random());
  if (cluster >= ws_->clusters.size()) return end("no cluster");
  cs_ = ws_->cluster(cluster).get();
  if (!tls_) {
    to_up_.reserve(std::max(kRelayBuffer, n));
    to_up_.append(data, n);
  }
  to_down_.reserve(kRelayBuffer);
  attempt();
}

void TcpProxy::on_client_input(const error_code& ec) {
  if (ended_) return;
  if (ec && ec != asio::error::eof) return end("client reset");
  if (!started_) return start(nullptr, 0);
  last_activity_ms_ = worker_.now();
  pump_client();
}

void TcpProxy::pump_client() {
  if (ended_ || !connected_ || up_writing_ || down_eof_) return;
  Buffer& in = client_.in();
  // Ciphertext already received (the input buffer was full when it was decrypted last).
  if (in.size() == 0 && client_.undecrypted()) {
    if (!client_.decrypt()) return end("client TLS error");
    if (ended_) return;
  }
  if (in.size() > 0) {
    up_writing_ = true;
    conn_.hold();
    asio::async_write(up_, asio::buffer(in.data(), in.size()),
                      [this](const error_code& e, size_t n) { on_write(Side::kUp, e, n); });
    return;
  }
  if (client_.peer_eof()) {
    down_eof_ = true;
    return shutdown_write(Side::kUp);
  }
  client_.read();
}

void TcpProxy::write_client_tls() {
  iovec iov{to_down_.data(), to_down_.size()};
  bool ok = client_.write(&iov, 1);
  to_down_.clear();
  if (!ok) return end("client write failed");
  if (client_.pending() > 0) {
    down_writing_ = true;  // on_client_drained() continues
    return;
  }
  client_written();
}

void TcpProxy::on_client_drained() {
  if (ended_) return;
  if (down_writing_) {
    down_writing_ = false;
    return client_written();
  }
  if (notify_sent_ && !down_shut_) shutdown_write(Side::kDown);
}

void TcpProxy::client_written() {
  last_activity_ms_ = worker_.now();
  if (up_eof_) return shutdown_write(Side::kDown);
  read(Side::kUp);
}

void TcpProxy::attempt() {
  if (lb_active_) {
    lb_active_ = false;
    cs_->lb->on_request_end(endpoint_);
  }
  const Cluster& cl = *cs_->cluster;
  LbContext ctx;
  ctx.now = MonoClock::now();
  ctx.exclude = std::span<const uint32_t>(tried_, tried_count_);
  endpoint_ = cs_->lb->choose(ctx);
  if (endpoint_ == kNoEndpoint) return end("no healthy upstream");
  if (tried_count_ < std::size(tried_)) tried_[tried_count_++] = endpoint_;
  cs_->lb->on_request_start(endpoint_);
  lb_active_ = true;
  const tcp::endpoint& addr = cs_->pools[endpoint_]->endpoint();
  error_code ec;
  if (up_.is_open()) up_.close(ec);
  up_.open(addr.protocol(), ec);
  if (!ec) up_.set_option(tcp::no_delay(true), ec);
  if (ec) return end("upstream socket");
  connecting_ = true;
  connect_timed_out_ = false;
  uint64_t timeout = static_cast<uint64_t>(cl.config.connect_timeout.count());
  if (timeout) worker_.timers().arm(timer_, worker_.now(), timeout);
  conn_.hold();
  up_.async_connect(addr, [this](const error_code& e) { on_connect(e); });
}

void TcpProxy::on_connect(const error_code& ec) {
  connecting_ = false;
  if (!conn_.op_done()) return;
  TimerWheel::cancel(timer_);
  const Cluster& cl = *cs_->cluster;
  if (ec || connect_timed_out_) {
    ++counters().connect_failures;
    cl.health().report(
        endpoint_,
        connect_timed_out_ ? UpstreamResult::kConnectTimeout : UpstreamResult::kConnectFailure,
        MonoClock::now());
    if (tried_count_ < kMaxAttempts && tried_count_ < cl.endpoints.size()) return attempt();
    return end(connect_timed_out_ ? "upstream connect timeout" : "upstream connect failure");
  }
  cl.health().report(endpoint_, UpstreamResult::kSuccess, MonoClock::now());
  connected_ = true;
  last_activity_ms_ = worker_.refresh_now();
  if (idle_ms_) worker_.timers().arm(timer_, worker_.now(), idle_ms_);
  if (tls_) {
    read(Side::kUp);
    return pump_client();  // what the client sent during the connect first
  }
  if (to_up_.size() > 0)
    write(Side::kUp);  // the ClientHello first; the client side is read once it is out
  else
    read(Side::kDown);
  read(Side::kUp);
}

void TcpProxy::read(Side from) {
  Buffer& b = buffer_to(from == Side::kDown ? Side::kUp : Side::kDown);
  b.clear();
  conn_.hold();
  socket(from).async_receive(
      asio::buffer(b.end(), b.free()),
      [this, from](const error_code& ec, size_t n) { on_read(from, ec, n); });
}

void TcpProxy::on_read(Side from, const error_code& ec, size_t n) {
  if (!conn_.op_done()) return;
  Side to = from == Side::kDown ? Side::kUp : Side::kDown;
  if (ec) {
    if (ec != asio::error::eof) return end(from == Side::kDown ? "client reset" : "upstream reset");
    (from == Side::kDown ? down_eof_ : up_eof_) = true;
    shutdown_write(to);
    return;
  }
  buffer_to(to).wpos += n;
  (from == Side::kDown ? bytes_up_ : bytes_down_) += n;
  last_activity_ms_ = worker_.now();
  write(to);
}

void TcpProxy::write(Side to) {
  if (tls_ && to == Side::kDown) return write_client_tls();
  Buffer& b = buffer_to(to);
  conn_.hold();
  asio::async_write(socket(to), asio::buffer(b.data(), b.size()),
                    [this, to](const error_code& ec, size_t n) { on_write(to, ec, n); });
}

void TcpProxy::on_write(Side to, const error_code& ec, size_t n) {
  if (!conn_.op_done()) return;
  if (ec) return end(to == Side::kUp ? "upstream write failed" : "client write failed");
  if (tls_) {  // only upstream writes come here: the client's plaintext is out
    up_writing_ = false;
    client_.in().consume(n);
    bytes_up_ += n;
    last_activity_ms_ = worker_.now();
    return pump_client();
  }
  buffer_to(to).consume(n);
  last_activity_ms_ = worker_.now();
  Side from = to == Side::kUp ? Side::kDown : Side::kUp;
  // Everything read from `from` is out: read from it again (backpressure), unless it ended.
  if (from == Side::kDown ? down_eof_ : up_eof_) return shutdown_write(to);
  read(from);
}

void TcpProxy::shutdown_write(Side to) {
  bool& shut = to == Side::kUp ? up_shut_ : down_shut_;
  if (tls_ && to == Side::kDown) {
    // close_notify first, then the FIN, each once the bytes before it are out.
    if (down_writing_ || shut) return;  // client_written() comes back here
    if (!notify_sent_) {
      notify_sent_ = true;
      client_.tls_shutdown();
      client_.flush();
      if (client_.closed()) return;
    }
    if (client_.pending() > 0) return;  // on_client_drained() comes back here
  } else if (buffer_to(to).size() > 0) {
    return;  // on_write passes the EOF on once the bytes are out
  }
  if (!shut) {
    shut = true;
    error_code ec;
    socket(to).shutdown(tcp::socket::shutdown_send, ec);
  }
  if (up_shut_ && down_shut_) end("done");
}

void TcpProxy::on_timer(void* self) {
  auto* t = static_cast<TcpProxy*>(self);
  if (t->connecting_) {
    // Aborts the connect; on_connect reports the timeout and tries the next endpoint.
    t->connect_timed_out_ = true;
    error_code ec;
    t->up_.close(ec);
    return;
  }
  uint64_t now = t->worker_.now();
  uint64_t quiet = now - t->last_activity_ms_;
  if (quiet >= t->idle_ms_) return t->end("idle timeout");
  t->worker_.timers().arm(t->timer_, now, t->idle_ms_ - quiet);
}

void TcpProxy::end(std::string_view reason) {
  if (ended_) return;
  ended_ = true;
  reason_ = reason;
  account();
  conn_.close();  // calls close() below
}

void TcpProxy::close() {
  TimerWheel::cancel(timer_);
  if (!ended_) {
    ended_ = true;  // closed from outside (drain, stop): count and log what was relayed
    reason_ = "closed by proxy";
    account();
  }
  error_code ec;
  up_.close(ec);
}

void TcpProxy::account() {
  RelayCounters& c = counters();
  c.bytes_up += bytes_up_;
  c.bytes_down += bytes_down_;
  if (worker_.access_log().on()) log_access();
}

void TcpProxy::log_access() {
  RelayAccess a;
  a.client = conn_.client_ip();
  a.sni = conn_.sni_;
  a.passthrough = !tls_;
  a.cluster = cs_ ? cs_->cluster->name : entry_.name;
  if (connected_ && cs_) a.upstream = cs_->cluster->endpoints[endpoint_].address_text();
  a.bytes_up = bytes_up_;
  a.bytes_down = bytes_down_;
  a.duration_ms = worker_.refresh_now() - start_ms_;
  a.end = reason_;
  worker_.access_log().write(a);
}

}  // namespace kop::proxy::server
