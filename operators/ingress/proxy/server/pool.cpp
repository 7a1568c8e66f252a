#include "pool.h"

#include <absl/strings/str_cat.h>
#include "h2_up_conn.h"
#include "up_conn.h"
#include "up_tls.h"

namespace kop::proxy::server {

Pool::Pool(Worker& w, std::string address_text, const tcp::endpoint& ep, std::string host,
           std::shared_ptr<const UpstreamTls> tls)
    : worker_(w),
      address_text_(std::move(address_text)),
      endpoint_(ep),
      host_(std::move(host)),
      tls_(std::move(tls)),
      key_(key_for(address_text_, tls_.get())) {
  if (tls_) resumption_ = std::make_shared<TlsResumption>();
}

std::string Pool::key_for(std::string_view address_text, const UpstreamTls* tls) {
  std::string key(address_text);
  if (tls) absl::StrAppend(&key, "|tls:", absl::Hex(tls->id()));
  return key;
}

bool Pool::should_log_tls_failure(const std::string& error, uint64_t now_ms) {
  if (error == last_tls_error_ && now_ms - last_tls_log_ms_ < 60000) return false;
  last_tls_error_ = error;
  last_tls_log_ms_ = now_ms;
  return true;
}

Pool::~Pool() {
  // HTTP/2 connections hold the pool while they carry streams: the ones left are idle.
  std::vector<H2UpConn*> h2;
  h2.swap(h2_);
  for (H2UpConn* c : h2) {
    --open_;
    c->detached_ = true;
    c->close();
  }
  while (idle_) {
    UpConn* c = idle_;
    remove(c);
    --open_;
    c->detached_ = true;
    c->state_ = UpConn::State::kBusy;  // not idle any more: close() must not touch the pool
    c->close();
  }
}

H2UpConn* Pool::h2_available() const {
  for (H2UpConn* c : h2_)
    if (c->can_take_stream()) return c;
  return nullptr;
}

UpConn* Pool::take() {
  UpConn* c = idle_;
  if (!c) return nullptr;
  remove(c);
  TimerWheel::cancel(c->timer_);
  return c;
}

void Pool::put(UpConn* c) {
  c->idle_prev_ = nullptr;
  c->idle_next_ = idle_;
  if (idle_) idle_->idle_prev_ = c;
  idle_ = c;
}

void Pool::remove(UpConn* c) {
  if (c->idle_prev_)
    c->idle_prev_->idle_next_ = c->idle_next_;
  else if (idle_ == c)
    idle_ = c->idle_next_;
  else
    return;  // not in the list
  if (c->idle_next_) c->idle_next_->idle_prev_ = c->idle_prev_;
  c->idle_prev_ = c->idle_next_ = nullptr;
}

}  // namespace kop::proxy::server
