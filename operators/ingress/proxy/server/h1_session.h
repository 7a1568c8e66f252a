// H1Session: the HTTP/1.1 server side of one client connection, beside H2Session. It frames
// requests out of the Transport's input buffer (parsed in place, http1.h), one at a time and in
// order (pipelined requests wait in the buffer), drives one Exchange per request as its
// Downstream, and writes the response back: keep-alive, HTTP/1.0 clients, 100-continue,
// chunked bodies both ways (trailers included), upgrades (a tunnel after 101), local replies
// (400, 408, 414, 431) and the access-log line of each request.
// The connection it belongs to (ClientConn) owns the timer, the snapshot, the lingering close
// and the switch to HTTP/2: a request line that is the HTTP/2 preface (prior knowledge, h2c)
// hands the connection over (ClientConn::start_h2_prior_knowledge).
// Threading: the worker's thread only. ClientConn calls on_input() when bytes arrived,
// on_peer_eof() when the client's input ended, on_written() when the send buffer drained; the
// Exchange calls the Downstream methods.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "downstream.h"
#include "exchange.h"
#include "http1.h"

namespace kop::proxy::server {

class ClientConn;
class Transport;
class Worker;

class H1Session final : public Downstream {
 public:
  H1Session(ClientConn& conn, Transport& t, Worker& w);
  H1Session(const H1Session&) = delete;
  H1Session& operator=(const H1Session&) = delete;

  // on_input and on_written run on every request: they are inline, in client_conn.h (where
  // ClientConn is complete), so the connection's dispatch costs no extra call.
  void on_input();     // bytes arrived in the transport's input buffer
  void on_peer_eof();  // the client finished sending (or its socket failed)
  void on_written();   // the transport's send buffer drained
  void on_timeout();   // the connection's timer fired (header, idle)
  // Drain: no keep-alive from now on. True when the connection can close at once (between
  // requests, nothing buffered).
  bool drain();
  // Between requests: no exchange running, waiting for a request head.
  bool idle() const { return !exchange_.active() && phase_ == Phase::kReadHead; }
  // The connection is closing: the running exchange stops.
  void cancel() {
    if (exchange_.active()) exchange_.cancel();
  }

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

 private:
  // kDropBody: the response is complete but the request body is not; its rest is read and
  // dropped (dropped_body.h) before the next request.
  enum class Phase { kReadHead, kBody, kWaitResponse, kTunnel, kDropBody };
  void process();
  void start_request();
  void feed_body();
  void send_local(int status, std::string_view body, bool close);
  // The bytes of a proxy-made response (text/plain); false when the connection closed instead.
  bool write_local(int status, std::string_view body, bool close);
  void request_complete();
  // An early response may keep the connection: the body's rest has a known length within the
  // bound, and the client was told to send it (no 100-continue still owed).
  bool body_droppable() const;
  // kDropBody: drops what arrived of the body; false while more is to come.
  bool drop_body();
  // After the response: close (through a lingering close) once the send buffer drained.
  void close_after_write();
  void record(int status);

  ClientConn& conn_;
  Transport& transport_;
  Worker& worker_;
  Buffer& in_;  // the transport's plaintext input; bytes [0, kept) hold the active request head
  Phase phase_ = Phase::kReadHead;
  bool in_process_ = false;
  // The timer measures the header timeout (else idle); the connection armed it at its start.
  bool header_timer_ = true;
  h1::RequestHead req_;
  size_t scan_ = 0;
  Exchange exchange_;
  h1::ChunkedDecoder body_chunk_;
  int64_t body_remaining_ = 0;
  bool body_chunked_ = false;
  bool body_done_ = true;
  bool body_paused_ = false;
  bool body_ready_ = false;
  bool continue_sent_ = false;  // 100 Continue went out for this request
  bool keep_alive_ = true;
  bool closing_after_write_ = false;
  bool draining_ = false;
  bool response_chunked_ = false;
  bool response_close_delimited_ = false;  // no length, no chunks: the close ends the body
  std::string response_trailers_;          // "name: value\r\n" lines for the last chunk
  bool response_no_body_ = false;
  bool head_pending_ = false;  // response head serialized but held back
  uint64_t request_start_ms_ = 0;
  uint32_t requests_ = 0;
  std::string log_method_, log_path_, log_host_;
  std::string head_scratch_;
};

}  // namespace kop::proxy::server
