// Pool: the idle upstream connections of one worker to one endpoint address, reused LIFO (the
// most recently used connection is the likeliest still open and warm), and the count of all
// its connections (idle, busy, connecting) for the per-endpoint connection limit.
//
// Shared (shared_ptr) by the clusters of every snapshot that use the address, and held by each
// busy connection: a reload keeps the pool, and with it the warm connections, as long as some
// cluster still names the address. Destroying it closes its idle connections; busy ones are
// closed when their user releases them.
//
// Threading: the worker's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "asio.h"

namespace kop::proxy::server {

class H2UpConn;
class TlsResumption;
class UpConn;
class UpstreamTls;
class Worker;

class Pool {
 public:
  // `tls` (null: plain TCP) is the cluster's client context; `host` the endpoint's host (the
  // name its certificate is checked against when the cluster names none).
  Pool(Worker& w, std::string address_text, const tcp::endpoint& ep, std::string host = {},
       std::shared_ptr<const UpstreamTls> tls = nullptr);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // An idle connection (the most recent), or nullptr. The caller attaches to it (UpConn::attach).
  UpConn* take();
  Worker& worker() { return worker_; }
  const tcp::endpoint& endpoint() const { return endpoint_; }
  const std::string& address_text() const { return address_text_; }
  // The worker's key for this pool: the address, plus the TLS context's id for TLS pools (a
  // plain and a TLS cluster naming one address never share connections).
  const std::string& key() const { return key_; }
  static std::string key_for(std::string_view address_text, const UpstreamTls* tls);
  const std::shared_ptr<const UpstreamTls>& tls() const { return tls_; }
  const std::string& host() const { return host_; }
  // The endpoint's last TLS session, offered by the next connection.
  const std::shared_ptr<TlsResumption>& resumption() const { return resumption_; }
  // A TLS failure worth a log line: the first, a different one, or the same after 60 s.
  bool should_log_tls_failure(const std::string& error, uint64_t now_ms);
  // An HTTP/2 connection (h2c clusters) that can take another stream now, or nullptr.
  H2UpConn* h2_available() const;
  // Connections of this pool: idle + busy + connecting (HTTP/2 ones included).
  uint32_t open_count() const { return open_; }
  // An idle connection is closed after this long. Defaults to 60 s; 0: never.
  void set_idle_timeout_ms(uint64_t ms) { idle_timeout_ms_ = ms; }

 private:
  friend class UpConn;
  friend class H2UpConn;
  friend class UpLink;
  void put(UpConn* c);     // back to the idle list
  void remove(UpConn* c);  // unlinks an idle connection (no-op when not idle)

  Worker& worker_;
  std::string address_text_;
  tcp::endpoint endpoint_;
  std::string host_;
  std::shared_ptr<const UpstreamTls> tls_;
  std::string key_;
  std::shared_ptr<TlsResumption> resumption_;
  std::string last_tls_error_;
  uint64_t last_tls_log_ms_ = 0;
  UpConn* idle_ = nullptr;     // doubly linked through UpConn::idle_prev_/idle_next_
  std::vector<H2UpConn*> h2_;  // every HTTP/2 connection, busy or not, until it closes
  uint32_t open_ = 0;
  uint64_t idle_timeout_ms_ = 60000;
};

}  // namespace kop::proxy::server
