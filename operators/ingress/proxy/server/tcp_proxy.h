// TcpProxy: one TLS passthrough connection, relayed as raw TCP to an endpoint of a cluster.
//
// A ClientConn on a TLS listener with passthrough entries first reads the ClientHello without
// consuming it (client_hello.h); when its SNI selects a passthrough entry, the connection
// becomes a TcpProxy: an endpoint is chosen by the cluster's load balancer (outlier ejection
// and health checks apply; a failed connect is reported and the next endpoint tried, up to
// three), the buffered hello is written first, then bytes are spliced both ways.
//  - Backpressure: one 16 KiB buffer per direction; a side is read again only once what was
//    read from it has been written to the other side.
//  - Half-close: EOF from one side is passed on as shutdown(SHUT_WR) to the other after the
//    pending bytes; the connection ends when both directions ended, or at once on an error.
//  - Timeouts: the cluster's connect_timeout per attempt; the entry's idle_timeout (no byte
//    either way) closes both sides.
//  - Counted in WorkerStats (passthrough_*) and written to the access log at the end.
// Threading: the owning worker's thread only. The TcpProxy lives inside its ClientConn, whose
// socket it uses and whose reference count holds every pending operation of both sockets.
#pragma once

#include <cstdint>
#include <string>

#include "server.h"

namespace kop::proxy::server {

class TcpProxy {
 public:
  TcpProxy(ClientConn& conn, const ListenerPassthrough& entry);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Starts with the bytes read so far (the ClientHello and whatever followed it).
  void start(const char* data, size_t n);
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
  void end(std::string_view reason);  // closes the connection (and with it this relay)
  void log_access();
  tcp::socket& socket(Side s);
  Buffer& buffer_to(Side s) { return s == Side::kUp ? to_up_ : to_down_; }
  bool op_done();  // an operation completed: false when the connection is closed
  static void on_timer(void* self);

  ClientConn& conn_;
  Worker& worker_;
  WorkerSnapshot* ws_;  // referenced: the entry and the cluster state belong to it
  const ListenerPassthrough& entry_;
  ClusterState* cs_ = nullptr;
  tcp::socket up_;
  Buffer to_up_;    // read from the client, not yet written upstream
  Buffer to_down_;  // read from upstream, not yet written to the client
  uint32_t endpoint_ = kNoEndpoint;
  uint32_t tried_[3] = {};
  uint32_t tried_count_ = 0;
  bool connecting_ = false;
  bool connected_ = false;
  bool connect_timed_out_ = false;
  bool lb_active_ = false;
  bool down_eof_ = false;  // the client finished sending
  bool up_eof_ = false;    // the upstream finished sending
  bool up_shut_ = false;   // shutdown(SHUT_WR) done towards upstream
  bool down_shut_ = false;
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
