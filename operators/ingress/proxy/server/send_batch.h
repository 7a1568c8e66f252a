#pragma once
// Sends of one event-loop turn, made together at its end with one io_uring_enter instead of one
// sendmsg each.
//
// Why: a keep-alive request costs a proxy a send on each side, and on a busy worker several
// connections become ready in the same turn. Queued here, their sends go to the kernel in one
// system call at the end of the turn: fewer entries and exits, and the peers they wake (a
// backend on the same core, a client on another) are woken in one burst, so each of them finds
// several requests per wake-up instead of one.
//
// A writer queues itself once (it keeps its own output buffer; data appended before the end of
// the turn goes out in the same send). Each send is non-blocking (MSG_DONTWAIT), so all complete
// inside the one system call; whatever the socket did not take is the writer's to send later
// through its ordinary asynchronous path. Without io_uring (an old kernel, or a seccomp profile
// that blocks it, as container runtimes' defaults do) enabled() turns false when the ring cannot
// be set up, and writers send at once as before.

#include <sys/uio.h>

#include <cstddef>
#include <vector>

#include "asio.h"
#include "buffer.h"

struct io_uring;

namespace kop::proxy::server {

// Writes `iov` to the non-blocking socket `fd` right away; whatever the kernel does not take is
// appended to `pending` for the caller to flush later. Behind output already pending, or when
// the worker batches its sends (SendBatch), all of it is appended and nothing is sent here.
// Returns false on a hard socket error.
bool send_now_or_buffer(int fd, const struct iovec* iov, int n, Buffer& pending, bool batching);

class BatchedWriter {
 public:
  // The socket, or -1 when the writer closed after queueing (nothing is sent).
  virtual int batch_fd() = 0;
  virtual Buffer& batch_out() = 0;
  // Bytes the socket took, or -errno (-EAGAIN: none now; -ECANCELED: closed meanwhile).
  virtual void batch_done(int result) = 0;

 protected:
  ~BatchedWriter() = default;
};

// What a writer makes of its batch_done result, after consuming the bytes the socket took.
enum class BatchOutcome {
  kFailed,   // a socket error: the connection is broken
  kFull,     // bytes remain (the socket is full): send them asynchronously when it drains
  kDrained,  // everything went out
};
BatchOutcome apply_batch_result(int result, Buffer& out);

class SendBatch {
 public:
  // Ring entries: at most this many sends per system call (a longer queue takes several).
  static constexpr unsigned kEntries = 256;

  explicit SendBatch(asio::io_context& io);
  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  // False once io_uring proved unavailable (or was turned off): writers send at once.
  bool enabled() const { return !off_; }
  // Sets the ring up; on the worker thread (the ring is bound to the thread that creates it).
  // Otherwise the first batch does it.
  void open() {
    if (!ring_ && !off_) open_ring();
  }
  // Queues w for the end of this turn (w keeps itself alive until batch_done).
  void add(BatchedWriter* w);
  // System calls made and sends carried, for tests and benchmarks.
  size_t submits() const { return submits_; }
  size_t sends() const { return sends_; }

 private:
  friend struct SendBatchTestAccess;  // breaks the ring to test the fallback
  void run();
  bool open_ring();
  void submit(unsigned queued);
  static constexpr int kPending = -0x7fffffff;

  asio::io_context& io_;
  io_uring* ring_ = nullptr;
  bool off_ = false;
  bool posted_ = false;
  std::vector<BatchedWriter*> queue_, running_;
  std::vector<int> results_;
  std::vector<unsigned> order_;  // queued position -> index in the chunk
  size_t submits_ = 0, sends_ = 0;
};

}  // namespace kop::proxy::server
