// UpConn: one HTTP/1.1 connection from a worker to an upstream endpoint.
//
// Life: a user (an Exchange) opens one (UpConn::open) or takes an idle one from the endpoint's
// Pool and attaches to it; while busy, it sends the request through send() and reads the
// response from input(), hearing of progress through UpstreamUser; then release() returns it
// to the pool (idle, its read armed to notice the upstream closing it) or closes it. The object
// frees itself once closed and no socket operation refers to it.
//
// Writes go out at the end of the event-loop turn (SendBatch) or at once; what the socket does
// not take is kept and sent as it drains (write_pending()). Reads use EdgeReader. Connecting,
// counting and the TLS handshake are UpLink's; over TLS, send() encrypts into the send buffer
// and input() holds the decrypted bytes.
//
// Threading: the worker's thread only.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "asio.h"
#include "buffer.h"
#include "edge_reader.h"
#include "send_batch.h"
#include "timer_wheel.h"
#include "up_link.h"

namespace kop::proxy::server {

class Pool;
class UpConn;

// What the user of a busy connection hears from it. The calls come from the event loop, never
// from inside open(), send() or start_read().
class UpstreamUser {
 public:
  virtual void on_upstream_connected(UpConn* c) = 0;
  // input() grew, or eof() turned true.
  virtual void on_upstream_data(UpConn* c) = 0;
  virtual void on_upstream_error(UpConn* c, bool connect_phase, bool timeout) = 0;
  // Everything sent so far reached the socket (after write_pending() was true).
  virtual void on_upstream_writable(UpConn* c) = 0;

 protected:
  ~UpstreamUser() = default;
};

class UpConn final : public UpLink, public BatchedWriter {
 public:
  // A new connection of `pool`, connecting at once for `user` (answer: on_upstream_connected or
  // on_upstream_error with connect_phase). `connect_timeout_ms` 0: no timeout.
  static UpConn* open(std::shared_ptr<Pool> pool, ClusterShare cluster, UpstreamUser* user,
                      uint64_t connect_timeout_ms);
  // An idle connection taken from its pool (Pool::take) becomes `user`'s; `pool` is held while
  // it is busy.
  void attach(UpstreamUser* user, std::shared_ptr<Pool> pool);
  // The user is done with it: back to the pool when `reuse` and nothing is left over (no
  // pending output, no unread input, no end of stream, the worker not draining), else closed.
  void release(bool reuse);
  void close();

  // Sends iov; what the socket does not take now is copied and sent later. Returns false when
  // the connection failed (no callback follows for that failure: the caller handles it); a
  // later write failure comes as on_upstream_error.
  bool send(const struct iovec* iov, int n);
  bool write_pending() const { return out_.size() > 0; }
  size_t pending_bytes() const { return out_.size(); }
  // Arms the (single) pending read if not armed.
  void start_read();
  // Bytes received and not yet consumed by the user (who advances rpos).
  Buffer& input() { return in_; }
  // The upstream sent its FIN.
  bool eof() const { return eof_; }
  // Served a request before: the upstream may have closed it just as it was reused.
  bool reused() const { return reused_; }
  // Half-closes towards the upstream (an upgraded tunnel whose client finished sending).
  void shutdown_send();

  // SendBatch (the request head of this turn goes out at its end).
  int batch_fd() override { return state_ == State::kClosed ? -1 : sock_.native_handle(); }
  Buffer& batch_out() override { return out_; }
  void batch_done(int result) override;

 private:
  friend class Pool;
  friend class EdgeReader<UpConn>;
  enum class State { kConnecting, kIdle, kBusy, kClosed };
  UpConn(std::shared_ptr<Pool> pool, ClusterShare cluster);
  ~UpConn() override = default;
  void link_up() override;
  void link_failed() override;
  bool link_closed() const override { return state_ == State::kClosed; }
  void on_read(const error_code& ec, size_t n);
  bool encrypt(const struct iovec* iov, int n);
  void flush();        // at the end of the turn (SendBatch) or asynchronously
  void flush_async();  // asio write: when the socket is full
  void written();      // out_ drained
  void write_failed();
  void to_pool();
  static void on_timer(void* self);

  Buffer in_;
  Buffer out_;
  State state_ = State::kConnecting;
  UpstreamUser* user_ = nullptr;
  bool reading_ = false;
  bool writing_ = false;
  bool reused_ = false;
  bool eof_ = false;
  UpConn* idle_prev_ = nullptr;  // the pool's idle list
  UpConn* idle_next_ = nullptr;
  EdgeReader<UpConn> reader_{*this};
};

}  // namespace kop::proxy::server
