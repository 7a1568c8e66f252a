#include "send_batch.h"

#include <liburing.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "buffer.h"

namespace kop::proxy::server {

SendBatch::SendBatch(asio::io_context& io) : io_(io), results_(kEntries), order_(kEntries) {
  // KOP_PROXY_IO_URING=0 turns batching off (each write is sent at once, as without io_uring).
  const char* env = std::getenv("KOP_PROXY_IO_URING");
  if (env && std::string_view(env) == "0") off_ = true;
}

// On the thread that runs the batches (the worker calls open() as its thread starts; else the
// first batch does): the ring is single-issuer, bound to the thread that creates it.
bool SendBatch::open_ring() {
  auto* ring = new io_uring;
  io_uring_params p{};
  // One thread submits and reaps: the hint lets the kernel skip cross-thread synchronization
  // (6.0+); without it on older kernels.
  p.flags = IORING_SETUP_SINGLE_ISSUER;
  if (io_uring_queue_init_params(kEntries, ring, &p) < 0) {
    p = {};
    if (io_uring_queue_init_params(kEntries, ring, &p) < 0) {
      delete ring;
      off_ = true;
      return false;
    }
  }
  ring_ = ring;
  return true;
}

SendBatch::~SendBatch() {
  if (ring_) {
    io_uring_queue_exit(ring_);
    delete ring_;
  }
}

BatchOutcome apply_batch_result(int result, Buffer& out) {
  if (result < 0 && result != -EAGAIN) return BatchOutcome::kFailed;
  if (result > 0) out.consume(static_cast<size_t>(result));
  return out.size() > 0 ? BatchOutcome::kFull : BatchOutcome::kDrained;
}

void SendBatch::add(BatchedWriter* w) {
  queue_.push_back(w);
  if (posted_) return;
  posted_ = true;
  // Posted handlers run after the completions already queued: the end of this turn.
  asio::post(io_, [this] { run(); });
}

void SendBatch::run() {
  posted_ = false;
  if (!ring_ && !off_) open_ring();
  // Writers finishing below may queue again (a next response): that goes to a later turn.
  running_.swap(queue_);
  for (size_t from = 0; from < running_.size(); from += kEntries) {
    size_t n = std::min<size_t>(kEntries, running_.size() - from);
    unsigned queued = 0;
    for (size_t i = 0; i < n; ++i) {
      BatchedWriter* w = running_[from + i];
      int fd = ring_ ? w->batch_fd() : -1;
      Buffer& b = w->batch_out();
      if (fd < 0 || b.size() == 0) {
        results_[i] = !ring_ ? -EAGAIN : fd < 0 ? -ECANCELED : 0;  // no ring: sent the usual way
        continue;
      }
      io_uring_sqe* sqe = io_uring_get_sqe(ring_);
      io_uring_prep_send(sqe, fd, b.data(), b.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, i);
      results_[i] = kPending;
      order_[queued++] = static_cast<unsigned>(i);
    }
    if (queued) submit(queued);
    for (size_t i = 0; i < n; ++i) running_[from + i]->batch_done(results_[i]);
  }
  running_.clear();
}

void SendBatch::submit(unsigned queued) {
  ++submits_;
  sends_ += queued;
  // Every send is MSG_DONTWAIT, so the kernel runs it inside the submitting call and its
  // completion is there when the call returns.
  unsigned submitted = 0;
  int rc = 0;
  for (int tries = 0; submitted < queued && tries < 100; ++tries) {
    rc = io_uring_submit(ring_);
    if (rc > 0) {
      submitted += static_cast<unsigned>(rc);
      tries = 0;
    } else if (rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      break;
    }
  }
  unsigned seen = 0;
  while (seen < submitted) {
    io_uring_cqe* cqe = nullptr;
    int wr = io_uring_wait_cqe(ring_, &cqe);
    if (wr == -EINTR) continue;
    if (wr < 0) break;
    results_[io_uring_cqe_get_data64(cqe)] = cqe->res;
    io_uring_cqe_seen(ring_, cqe);
    ++seen;
  }
  if (submitted == queued && seen == submitted) return;
  // The ring failed (not a socket): sends never submitted were not made (-EAGAIN: the writer
  // sends them its ordinary way); a submitted send whose outcome is unknown may have gone out,
  // so its connection must close rather than send the bytes twice (-EIO). Batching stops: the
  // ring and any leftover entries go away, and writers send at once from now on.
  for (unsigned k = 0; k < queued; ++k) {
    int& r = results_[order_[k]];
    if (r == kPending) r = k < submitted ? -EIO : -EAGAIN;
  }
  io_uring_queue_exit(ring_);
  delete ring_;
  ring_ = nullptr;
  off_ = true;
}

bool send_now_or_buffer(int fd, const struct iovec* iov, int n, Buffer& pending, bool batching) {
  if (pending.size() > 0 || batching) {
    for (int i = 0; i < n; ++i)
      pending.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return true;
  }
  struct msghdr msg {};
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(n);
  ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    w = 0;
  }
  size_t done = static_cast<size_t>(w);
  for (int i = 0; i < n; ++i) {
    size_t len = iov[i].iov_len;
    if (done >= len) {
      done -= len;
      continue;
    }
    pending.append(static_cast<const char*>(iov[i].iov_base) + done, len - done);
    done = 0;
  }
  return true;
}

}  // namespace kop::proxy::server
