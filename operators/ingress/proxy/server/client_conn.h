// ClientConn: one accepted client connection (plain or TLS): HTTP/1.1 framing, the switch to
// HTTP/2 (ALPN or prior knowledge), TLS passthrough sniffing and TCP relaying (tcp_proxy.h).
// Threading: the worker's thread only.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "asio.h"
#include "downstream.h"
#include "exchange.h"
#include "h2_session.h"
#include "http1.h"
#include "snapshot.h"
#include "timer_wheel.h"
#include "transport.h"

namespace kop::proxy::server {

class TcpProxy;
class Worker;

class ClientConn final : public Downstream {
 public:
  ClientConn(Worker& w, tcp::socket s, const std::string& listener_name);
  ~ClientConn() override;
  void adopt_latest_snapshot();
  void start();
  void shutdown_gracefully();  // close when idle; used by drain and listener removal
  void h2_watch_idle();        // arm the idle timeout when no h2 stream is open, else cancel it
  void force_close();
  bool idle() const { return !exchange_.active() && state_ == State::kReadHead; }

  // Downstream.
  void response_head(const ResponseHead& head) override;
  bool response_body(const char* data, size_t n) override;
  // Kept for a chunked response's trailer section (RFC 9112 7.1.2); dropped otherwise.
  void response_trailers(std::string_view fields) override {
    if (response_chunked_) response_trailers_.assign(fields);
  }
  void response_end() override;
  void request_body_ready() override;
  void resume_request_body() override;
  void abort() override;

  // From the Transport. Every pending socket operation holds a reference (hold()); its
  // completion calls op_done() first, which is false when the connection closed meanwhile
  // (and frees it once the last reference went).
  void hold() { ++refs_; }
  bool op_done();
  void on_read(const error_code& ec);  // bytes are in the transport's buffers, or ec
  void on_written();                   // the send buffer drained
  bool on_handshake_done();            // false: close the connection
  void close();
  void read_more();

  // TLS callbacks and the relay.
  const Listener* listener() const { return listener_; }
  WorkerSnapshot* snapshot() const { return ws_; }
  Worker& worker() { return worker_; }
  const std::string& client_ip() const { return client_ip_; }
  std::string sni_;

  ClientConn* prev = nullptr;  // worker's connection list
  ClientConn* next = nullptr;

 private:
  friend class H2Session;
  friend class H2Stream;
  // kSniff: reading the ClientHello of a TLS listener with passthrough entries (tcp_proxy.cpp);
  // kPassthrough: relayed as raw TCP by tcp_; kTcpProxy: TLS terminated here, the plaintext
  // relayed as TCP by tcp_.
  enum class State {
    kHandshake,
    kReadHead,
    kBody,
    kWaitResponse,
    kTunnel,
    kLinger,
    kH2,
    kClosed,
    kSniff,
    kPassthrough,
    kTcpProxy
  };
  bool start_tls();        // TLS server state on the listener's default context
  void limit_input();      // the input buffer's growth limit, from the snapshot's head limit
  void on_client_hello();  // kSniff: in_ holds the bytes so far (tcp_proxy.cpp)
  bool start_h2();
  void on_h2_flush();  // the flush posted by H2Session::schedule_flush()
  void process();
  void start_request();
  void feed_body();
  void send_local(int status, std::string_view body, bool close);
  bool write(const struct iovec* iov, int n) { return transport_.write(iov, n); }
  void request_complete();
  void linger_close();
  void unref();
  void record(int status);
  static void on_timer(void* self);

  Worker& worker_;
  Transport transport_;
  std::string listener_name_;
  const Listener* listener_ = nullptr;
  WorkerSnapshot* ws_ = nullptr;
  bool in_process_ = false;
  bool header_timer_ = false;  // the timer measures the header timeout (else idle)
  State state_ = State::kReadHead;
  Buffer& in_;  // the transport's plaintext input
  h1::RequestHead req_;
  size_t scan_ = 0;
  Exchange exchange_;
  h1::ChunkedDecoder body_chunk_;
  int64_t body_remaining_ = 0;
  bool body_chunked_ = false;
  bool body_done_ = true;
  bool body_paused_ = false;
  bool body_ready_ = false;
  bool keep_alive_ = true;
  bool closing_after_write_ = false;
  bool draining_ = false;
  bool response_chunked_ = false;
  std::string response_trailers_;  // "name: value\r\n" lines for the last chunk
  bool response_no_body_ = false;
  bool head_pending_ = false;  // response head serialized in out_ but held back
  bool write_blocked_response_ = false;
  uint64_t request_start_ms_ = 0;
  uint32_t requests_ = 0;
  Timer timer_;
  uint32_t refs_ = 0;
  std::string client_ip_;
  std::string log_method_, log_path_, log_host_;
  std::string head_scratch_;
  std::unique_ptr<H2Session> h2_;
  std::unique_ptr<TcpProxy> tcp_;  // kPassthrough, kTcpProxy
  bool delete_posted_ = false;
};

}  // namespace kop::proxy::server
