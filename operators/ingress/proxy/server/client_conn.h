// ClientConn: one accepted client connection. It owns the Transport (plain or TLS bytes), the
// connection's timer (header, idle and linger timeouts), its reference on the worker's config
// snapshot, and its lifetime (a reference count held by every pending socket operation;
// deletion deferred to a clean stack); it decides which protocol runs on top and hands bytes
// to it:
//  - H1Session (h1_session.h): HTTP/1.1, the default;
//  - H2Session (h2_session.h): HTTP/2, by ALPN or by prior knowledge (h2c, the HTTP/1.1
//    session sees the preface and hands over);
//  - TcpProxy (tcp_proxy.h): a TCP relay, for TLS passthrough (decided by sniffing the
//    ClientHello before any TLS, client_hello.h) or a TLS-terminated tcp_proxy name (decided
//    at the end of the handshake).
// Threading: the worker's thread only. The worker creates, starts, drains and force-closes
// connections; the Transport reports reads, drained writes and the end of the handshake here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "asio.h"
#include "h1_session.h"
#include "h2_session.h"
#include "kop/proxy/basic_auth.h"
#include "snapshot.h"
#include "timer_wheel.h"
#include "transport.h"
#include "worker.h"

namespace kop::proxy::server {

class TcpProxy;
class Worker;

class ClientConn final {
 public:
  ClientConn(Worker& w, tcp::socket s, const std::string& listener_name);
  ~ClientConn();
  ClientConn(const ClientConn&) = delete;
  ClientConn& operator=(const ClientConn&) = delete;

  // From the worker.
  void start();
  void shutdown_gracefully();  // close when idle; used by drain and listener removal
  void force_close();
  bool idle() const { return state_ == State::kH1 && h1_.idle(); }

  // The snapshot the next request routes with: the worker's latest.
  void adopt_latest_snapshot();
  const Listener* listener() const { return listener_; }
  WorkerSnapshot* snapshot() const { return ws_; }
  Worker& worker() { return worker_; }
  Transport& transport() { return transport_; }
  const std::string& client_ip() const { return client_ip_; }
  // client_ip() parsed (parse_ip), once per connection; null: not an IP peer.
  const ClientAddress* client_address() const {
    return client_address_ ? &*client_address_ : nullptr;
  }
  // The credentials basic auth last allowed on this connection (any of its requests or streams).
  BasicAuth::Remembered& credentials() { return credentials_; }
  std::string sni_;  // lowercased; from the handshake, or the sniffed ClientHello
  // The client certificate the handshake asked for; null when none was asked for.
  const ClientCertificate* client_cert() const { return client_cert_.get(); }

  // Lifetime: every pending socket operation holds a reference; its completion calls op_done()
  // first, which is false when the connection closed meanwhile (and frees it once the last
  // reference went).
  void hold() { ++refs_; }
  bool op_done() {
    --refs_;
    if (state_ != State::kClosed) return true;
    unref();
    return false;
  }
  bool closed() const { return state_ == State::kClosed; }
  void close();
  // Ends an HTTP/1.1 connection after its last response: TLS close_notify, then the sending
  // side shut and input discarded for a while (unless `request_read` and nothing more came),
  // so the client reads the response instead of a reset.
  void linger_close(bool request_read);

  // From the sessions.
  void read_more() { transport_.read(); }
  void arm_timer(uint64_t ms) { worker_.timers().arm(timer_, worker_.now(), ms); }
  void cancel_timer() { TimerWheel::cancel(timer_); }
  void start_h2_prior_knowledge();  // the HTTP/1.1 session saw the h2c preface
  void on_h2_flush();               // the flush posted by H2Session::schedule_flush()
  void h2_watch_idle();  // arm the idle timeout when no h2 stream is open, else cancel it

  // From the Transport.
  void on_read(const error_code& ec);  // bytes are in the transport's buffers, or ec
  void on_written();                   // the send buffer drained
  bool on_handshake_done();            // false: close the connection

  ClientConn* prev = nullptr;  // worker's connection list
  ClientConn* next = nullptr;

 private:
  // kSniff: reading the ClientHello of a TLS listener with passthrough entries;
  // kPassthrough: relayed as raw TCP by tcp_; kTcpProxy: TLS terminated here, the plaintext
  // relayed as TCP by tcp_; kLinger: the HTTP/1.1 session ended, input is discarded.
  enum class State { kSniff, kHandshake, kH1, kH2, kPassthrough, kTcpProxy, kLinger, kClosed };
  bool start_tls();        // TLS server state on the listener's default context
  void limit_input();      // the input buffer's growth limit, from the snapshot's head limit
  void on_client_hello();  // kSniff: the transport's input holds the bytes so far
  bool start_h2();
  void process_h2();
  void unref();
  static void on_timer(void* self);

  Worker& worker_;
  Transport transport_;
  std::string listener_name_;
  const Listener* listener_ = nullptr;
  WorkerSnapshot* ws_ = nullptr;
  State state_ = State::kH1;
  Timer timer_;
  uint32_t refs_ = 0;
  bool delete_posted_ = false;
  bool h2_closing_ = false;  // HTTP/2 ends once its last frames (a GOAWAY) are written
  std::string client_ip_;
  std::optional<ClientAddress> client_address_;
  BasicAuth::Remembered credentials_;
  std::unique_ptr<ClientCertificate> client_cert_;
  H1Session h1_;
  std::unique_ptr<H2Session> h2_;
  std::unique_ptr<TcpProxy> tcp_;  // kPassthrough, kTcpProxy
};

// H1Session's per-request entry points, defined where both types are complete (see h1_session.h).
inline void H1Session::on_input() {
  if (phase_ == Phase::kReadHead && !header_timer_ && in_.size() > 0) {
    header_timer_ = true;
    conn_.arm_timer(
        static_cast<uint64_t>(conn_.snapshot()->snap->settings.request_header_timeout.count()));
  }
  process();
}

inline void H1Session::on_written() {
  if (closing_after_write_) {
    if (phase_ == Phase::kTunnel) return conn_.close();
    return conn_.linger_close(body_done_);
  }
  if (exchange_.active()) exchange_.resume_response();
}

}  // namespace kop::proxy::server
