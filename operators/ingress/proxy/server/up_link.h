// UpLink: what an HTTP/1.1 (UpConn) and an HTTP/2 (H2UpConn) upstream connection share:
// counting itself into its pool, its worker and its cluster from construction to destruction
// (waking the cluster's pending requests when it goes), its socket, and getting connected: the
// TCP connect under the cluster's connect timeout, then, for a pool with TLS, the handshake
// (certificate and name checked, ALPN agreed) under the same timeout.
//
// The connection type derives from it and hears link_up() or link_failed(); its timer_ (armed
// here for the connect timeout, by the connection for its idle timeout) calls the connection's
// own handler. After link_up() the connection reads and writes the socket itself, through
// tls_ when set: received bytes go to tls_->raw() and are decrypted, plaintext to send is
// encrypted into the connection's send buffer (given to the TLS engine at connect()).
//
// Lifetime: each pending socket operation holds a reference (refs_); unref() frees the object
// once the connection says it is closed and no operation refers to it.
//
// Threading: the worker's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "asio.h"
#include "buffer.h"
#include "timer_wheel.h"
#include "up_tls.h"

namespace kop::proxy::server {

class Pool;
class Worker;
struct PendingQueue;

// What a connection counts itself into beyond its pool: the connections of its cluster on this
// worker, and the requests waiting for one (woken when it closes or goes idle). Shared: a
// connection may outlive the cluster state that opened it (a reload replaced the cluster).
struct ClusterShare {
  std::shared_ptr<uint32_t> open;
  std::shared_ptr<PendingQueue> pending;
};

class UpLink {
 public:
  UpLink(const UpLink&) = delete;
  UpLink& operator=(const UpLink&) = delete;
  std::string_view address() const;
  // The last TLS failure (handshake, verification, record), for logs; "" if none.
  const std::string& tls_error() const { return tls_ ? tls_->error() : no_error_; }

 protected:
  UpLink(std::shared_ptr<Pool> pool, ClusterShare cluster);
  virtual ~UpLink();

  // Opens the socket and connects, then handshakes when the pool has TLS (its ciphertext
  // going to `tls_out`). Ends in link_up() or link_failed(), from the event loop.
  // `timeout_ms` 0: no timeout.
  void connect(uint64_t timeout_ms, Buffer* tls_out);
  // Connected (and the TLS handshake done): the socket is the connection's.
  virtual void link_up() = 0;
  // The connect or the handshake failed (the connect timeout is the connection's timer).
  virtual void link_failed() = 0;
  // The connection closed itself: callbacks only drop their reference.
  virtual bool link_closed() const = 0;
  void unref() {
    if (refs_ == 0 && link_closed()) delete this;
  }

  Pool& pool_;
  Worker& worker_;
  std::shared_ptr<Pool> pool_keep_;  // held while busy
  ClusterShare cluster_;
  tcp::socket sock_;
  std::unique_ptr<UpTlsSession> tls_;  // null: plain TCP
  Timer timer_;                        // connect or idle timeout; the connection sets fn/self
  uint32_t refs_ = 0;
  bool detached_ = false;  // the pool is gone (closed by ~Pool)

 private:
  void handshake();
  void handshake_write(bool done);
  void handshake_read();
  void handshake_done();
  void handshake_failed();
  Buffer* tls_out_ = nullptr;
  static const std::string no_error_;
};

}  // namespace kop::proxy::server
