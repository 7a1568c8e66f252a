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
#include "buffer.h"
#include "downstream.h"
#include "edge_reader.h"
#include "exchange.h"
#include "h2_session.h"
#include "http1.h"
#include "send_batch.h"
#include "snapshot.h"
#include "timer_wheel.h"

namespace kop::proxy::server {

class TcpProxy;
class Worker;

class ClientConn final : public Downstream, public BatchedWriter {
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

  // SendBatch (this turn's output goes out at its end).
  int batch_fd() override { return state_ == State::kClosed ? -1 : sock_.native_handle(); }
  Buffer& batch_out() override { return out_; }
  void batch_done(int result) override;

  // TLS callback support.
  const Listener* listener() const { return listener_; }
  WorkerSnapshot* snapshot() const { return ws_; }
  std::string sni_;

  ClientConn* prev = nullptr;  // worker's connection list
  ClientConn* next = nullptr;

 private:
  friend class H2Session;
  friend class H2Stream;
  friend class TcpProxy;
  friend class EdgeReader<ClientConn>;
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
  void on_client_hello();  // kSniff: in_ holds the bytes so far (tcp_proxy.cpp)
  bool start_h2();
  void on_h2_flush();  // the flush posted by H2Session::schedule_flush()
  void read_more();
  void on_read(const error_code& ec, size_t n);
  void on_plain_data();
  bool tls_decrypt();  // raw -> in_; false on fatal error
  // Drains this thread's OpenSSL error queue after a failed TLS call; returns false. Worker
  // threads keep the queue empty this way instead of clearing it before every SSL call.
  static bool tls_clear_errors();
  void process();
  void start_request();
  void feed_body();
  void send_local(int status, std::string_view body, bool close);
  bool write(const struct iovec* iov, int n);  // false: connection failed
  void flush();  // at the end of the turn (SendBatch), else now, then asynchronously
  void flush_async();
  void on_write(const error_code& ec, size_t n);
  void written();  // out_ drained: what waited for it goes on
  // Backpressure for response bodies: output waits for a full socket (queued for this turn's
  // batch does not count, up to a bound).
  bool output_blocked() const {
    return out_.size() > 0 && !(batched_ && out_.size() < kBatchedBytes);
  }
  static constexpr size_t kBatchedBytes = size_t{64} * 1024;
  void request_complete();
  void close();
  void linger_close();
  void unref();
  void record(int status);
  static void on_timer(void* self);

  Worker& worker_;
  tcp::socket sock_;
  std::string listener_name_;
  const Listener* listener_ = nullptr;
  WorkerSnapshot* ws_ = nullptr;
  size_t keep_ = 0;  // in_ bytes [0, keep_) hold the active request head
  bool in_process_ = false;
  bool header_timer_ = false;  // the timer measures the header timeout (else idle)
  State state_ = State::kReadHead;
  Buffer in_;   // plaintext request bytes
  Buffer out_;  // pending plaintext (plain) or ciphertext (TLS) not yet sent
  Buffer raw_;  // TLS: ciphertext received
  SSL* ssl_ = nullptr;
  h1::RequestHead req_;
  size_t scan_ = 0;
  Exchange exchange_;
  h1::ChunkedDecoder body_chunk_;
  int64_t body_remaining_ = 0;
  bool body_chunked_ = false;
  bool body_done_ = true;
  bool body_paused_ = false;
  bool body_ready_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool batched_ = false;  // writing_ through the worker's SendBatch
  bool keep_alive_ = true;
  bool peer_eof_ = false;
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
  std::string tls_scratch_;  // TLS: the pieces of one write, coalesced into one SSL_write
  std::unique_ptr<H2Session> h2_;
  std::unique_ptr<TcpProxy> tcp_;  // kPassthrough, kTcpProxy
  bool delete_posted_ = false;
  EdgeReader<ClientConn> reader_{*this};
};

}  // namespace kop::proxy::server
