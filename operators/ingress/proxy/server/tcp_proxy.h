// TcpProxy: one connection relayed as TCP to an endpoint of a cluster, in one of two modes.
//  - TLS passthrough: a ClientConn on a TLS listener with passthrough entries first reads the
//    ClientHello without consuming it (client_hello.h); when its SNI selects a passthrough
//    entry, the connection becomes a TcpProxy and its raw bytes, the buffered hello first, are
//    spliced both ways.
//  - TLS-terminated tcp_proxy: the ClientConn completes the handshake itself (the SNI picked
//    the certificate; ALPN negotiated nothing for these names); when the SNI selects a
//    tcp_proxy entry, the connection becomes a TcpProxy: the plaintext the ClientConn decrypts
//    goes upstream, what the upstream sends is encrypted back (SSL_write).
// Either way a cluster is picked by the entry's weights, then an endpoint by that cluster's
// load balancer (outlier ejection and health checks apply; a failed connect is reported and
// the next endpoint of the same cluster tried, up to three).
//  - Backpressure: one 16 KiB buffer per direction (TLS: the client Transport's plaintext
//    buffer upstream-bound, its ciphertext send buffer client-bound); a side is read again only
//    once what was read from it has been written to the other side.
//  - Half-close: EOF from one side (TLS: close_notify or a FIN from the client) is passed on
//    after the pending bytes, as shutdown(SHUT_WR) (TLS: close_notify, then SHUT_WR, towards
//    the client); the connection ends when both directions ended, or at once on an error.
//  - Timeouts: the cluster's connect_timeout per attempt; the entry's idle_timeout (no byte
//    either way) closes both sides. Draining does not cut a relay (as an upgraded tunnel):
//    it ends on its own or when the proxy stops.
//  - Counted in WorkerStats (passthrough / tcp_proxy) and written to the access log at the end.
// Threading: the owning worker's thread only. The TcpProxy lives inside its ClientConn: it
// reads and writes the client side through the connection's Transport, and every pending
// operation of both sockets holds a reference on the connection (ClientConn::hold/op_done).
#pragma once

#include <cstdint>
#include <string>

#include "asio.h"
#include "buffer.h"
#include "snapshot.h"
#include "timer_wheel.h"

namespace kop::proxy::server {

class ClientConn;
class Transport;
class Worker;

class TcpProxy {
 public:
  TcpProxy(ClientConn& conn, Transport& client, const ListenerTcpProxy& entry);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Passthrough: starts with the bytes read so far (the ClientHello and whatever followed).
  void start(const char* data, size_t n);
  // TLS-terminated, from the ClientConn: a read of the client socket ended (its plaintext is in
  // the transport's input buffer, or the peer's EOF is recorded there, or `ec` is a socket
  // error). The first call (right after the handshake) starts the relay.
  void on_client_input(const error_code& ec);
  // TLS-terminated: the client transport's send buffer went empty.
  void on_client_drained();
  // The connection is closing (ClientConn::close): close the upstream socket too.
  void close();

 private:
  enum class Side { kDown, kUp };
  void attempt();
  void on_connect(const error_code& ec);
  void read(Side from);
  void on_read(Side from, const error_code& ec, size_t n);
  void write(Side to);
  void on_write(Side to, const error_code& ec, size_t n);
  void shutdown_write(Side to);
  // TLS-terminated: plaintext from the client upstream, reading the client when all is out.
  void pump_client();
  void write_client_tls();
  void client_written();              // everything read from upstream reached the client's socket
  void end(std::string_view reason);  // closes the connection (and with it this relay)
  void account();                     // adds the byte counts, writes the access log line
  void log_access();
  RelayCounters& counters();
  tcp::socket& socket(Side s);
  Buffer& buffer_to(Side s) { return s == Side::kUp ? to_up_ : to_down_; }
  static void on_timer(void* self);

  ClientConn& conn_;
  Transport& client_;
  Worker& worker_;
  WorkerSnapshot* ws_;  // referenced: the entry and the cluster state belong to it
  const ListenerTcpProxy& entry_;
  const bool tls_;  // TLS-terminated: the client side is client_'s TLS session
  ClusterState* cs_ = nullptr;
  tcp::socket up_;
  Buffer to_up_;    // passthrough: read from the client, not yet written upstream
  Buffer to_down_;  // read from upstream, not yet written to the client
  uint32_t endpoint_ = kNoEndpoint;
  uint32_t tried_[3] = {};
  uint32_t tried_count_ = 0;
  bool started_ = false;
  bool connecting_ = false;
  bool connected_ = false;
  bool connect_timed_out_ = false;
  bool lb_active_ = false;
  bool down_eof_ = false;  // the client finished sending
  bool up_eof_ = false;    // the upstream finished sending
  bool up_shut_ = false;   // shutdown(SHUT_WR) done towards upstream
  bool down_shut_ = false;
  bool up_writing_ = false;    // TLS: client plaintext being written upstream
  bool down_writing_ = false;  // TLS: waiting for the client's send buffer to drain
  bool notify_sent_ = false;   // TLS: close_notify queued towards the client
  bool ended_ = false;
  Timer timer_;  // connect timeout, then idle timeout
  uint64_t idle_ms_ = 0;
  uint64_t last_activity_ms_ = 0;
  uint64_t start_ms_ = 0;
  uint64_t bytes_up_ = 0;    // client -> upstream
  uint64_t bytes_down_ = 0;  // upstream -> client
  std::string reason_;
};

}  // namespace kop::proxy::server
