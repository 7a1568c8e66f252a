// UpLink: counting, connecting and the TLS handshake of upstream connections (see up_link.h).
#include "up_link.h"

#include <cstdio>

#include "pool.h"
#include "snapshot.h"
#include "worker.h"

namespace kop::proxy::server {

const std::string UpLink::no_error_;

UpLink::UpLink(std::shared_ptr<Pool> pool, ClusterShare cluster)
    : pool_(*pool),
      worker_(pool->worker()),
      pool_keep_(std::move(pool)),
      cluster_(std::move(cluster)),
      sock_(worker_.io()) {
  ++pool_.open_;
  ++worker_.stats().upstream_active;
  if (cluster_.open) ++*cluster_.open;
}

UpLink::~UpLink() {
  if (!detached_) --pool_.open_;
  --worker_.stats().upstream_active;
  if (cluster_.open) --*cluster_.open;
  PendingQueue::wake(worker_, cluster_.pending);
}

std::string_view UpLink::address() const {
  return pool_.address_text();
}

void UpLink::connect(uint64_t timeout_ms, Buffer* tls_out) {
  Worker& w = worker_;
  ++w.stats().upstream_connects;
  tls_out_ = tls_out;
  error_code ec;
  sock_.open(pool_.endpoint().protocol(), ec);
  if (!ec) sock_.set_option(tcp::no_delay(true), ec);
  if (ec) {
    // Reported from the loop so that the caller's stack unwinds first.
    ++refs_;
    asio::post(w.io(), [this] {
      --refs_;
      if (link_closed()) return unref();
      link_failed();
    });
    return;
  }
  if (timeout_ms) w.timers().arm(timer_, w.now(), timeout_ms);
  ++refs_;
  sock_.async_connect(pool_.endpoint(), [this](const error_code& e) {
    --refs_;
    if (link_closed()) return unref();
    if (e) {
      TimerWheel::cancel(timer_);
      return link_failed();
    }
    sock_.non_blocking(true);
    if (!pool_.tls()) {
      TimerWheel::cancel(timer_);
      return link_up();
    }
    tls_ = std::make_unique<UpTlsSession>(pool_.tls(), pool_.resumption(), pool_.host(), tls_out_);
    handshake();
  });
}

void UpLink::handshake() {
  UpTlsSession::Step step = tls_->handshake();
  if (step == UpTlsSession::Step::kFailed) return handshake_failed();
  handshake_write(step == UpTlsSession::Step::kDone);
}

// Our flight first (ClientHello, Finished), then read on or be done.
void UpLink::handshake_write(bool done) {
  if (tls_out_->size() == 0) return done ? handshake_done() : handshake_read();
  ++refs_;
  sock_.async_write_some(asio::buffer(tls_out_->data(), tls_out_->size()),
                         [this, done](const error_code& e, size_t n) {
                           --refs_;
                           if (link_closed()) return unref();
                           if (e) {
                             TimerWheel::cancel(timer_);
                             return link_failed();
                           }
                           tls_out_->consume(n);
                           handshake_write(done);
                         });
}

void UpLink::handshake_done() {
  TimerWheel::cancel(timer_);
  if (tls_->resumed()) ++worker_.stats().upstream_tls_resumed;
  link_up();
}

void UpLink::handshake_read() {
  Buffer& raw = tls_->raw();
  if (raw.free() < 4096) {
    raw.compact();
    if (raw.free() < 4096) raw.reserve(raw.cap * 2);
  }
  ++refs_;
  sock_.async_read_some(asio::buffer(raw.end(), raw.free()), [this](const error_code& e, size_t n) {
    --refs_;
    if (link_closed()) return unref();
    if (e) {
      TimerWheel::cancel(timer_);
      return link_failed();
    }
    tls_->raw().wpos += n;
    handshake();
  });
}

void UpLink::handshake_failed() {
  TimerWheel::cancel(timer_);
  ++worker_.stats().upstream_tls_failures;
  // The reason reaches the operator's log, not the client (a 502 says only "connect error").
  if (pool_.should_log_tls_failure(tls_->error(), worker_.now())) {
    const std::string& sni = pool_.tls()->config().server_name;
    std::fprintf(stderr, "kop-proxy: upstream TLS to %s%s%s failed: %s\n",
                 pool_.address_text().c_str(), sni.empty() ? "" : " (SNI ",
                 sni.empty() ? "" : (sni + ")").c_str(), tls_->error().c_str());
  }
  link_failed();
}

}  // namespace kop::proxy::server
