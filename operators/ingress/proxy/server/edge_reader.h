// EdgeReader: a socket read that costs no system call when the socket is known to be empty.
//
// Why: asio's async_receive first tries recv() at once ("speculative" read) unless the reactor
// knows the socket is drained, and asio 1.74 only ever concludes "drained" at end of stream. A
// proxy re-arms its read right after each message, before the peer has answered, so every
// request paid one recv() returning EAGAIN on the client side and one on the upstream side.
// (async_wait avoids the read but re-arms the descriptor with epoll_ctl instead: no gain.)
// EdgeReader's operation tells the reactor "exhausted" after a short read, as nginx clears its
// event's `ready` flag: the socket was empty at that moment, so new data brings a new epoll
// edge, and the next read is queued for that edge without a system call. An edge that arrives
// while no read is queued is remembered by the reactor, which then reads speculatively again.
//
// The peer's FIN is the exception: when it comes with the last bytes, epoll reports one edge
// for both, and after the short read nothing would wake the next read. So the socket is also
// watched for EPOLLRDHUP (one epoll_ctl per connection; Asio registers without it), and a short
// read on an edge that carried RDHUP, HUP or ERR is not "exhausted": the next read tries recv()
// at once and sees the end of stream (nginx's `pending_eof`).
//
// It reaches into Boost.Asio's reactor (detail:: types, basic_socket's implementation, and in
// edge_reader.cpp three private members of the epoll reactor), because no public Asio call
// queues a read without either trying recv() first (async_receive) or re-arming the descriptor
// with epoll_ctl (async_wait). Those internals are known for the Boost 1.74 that Debian 12
// ships. Any other Boost version compiles the async_receive fallback, and then the edge-reader
// test fails (UsesTheReactorPathOnTheBoostItWasWrittenFor), so an upgrade cannot lose the
// saving unseen; a build with KOP_EDGE_READER_PORTABLE defined takes the fallback on purpose
// (the tests run it too).
//
// Contract: read() is used like async_receive: at most one read at a time, and the owner's
// on_read(ec, n) runs later on the worker thread (never inside read()); end of stream is
// asio::error::eof and a closed socket's pending read ends with operation_aborted. The
// reader may be destroyed with its read still queued (the operation then frees itself).
//
// Threading: the owner's worker thread only.
#pragma once

#include <sys/socket.h>

#include <boost/version.hpp>
#include <cassert>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <type_traits>

#include "asio.h"

#if BOOST_VERSION == 107400 && !defined(KOP_EDGE_READER_PORTABLE)
#define KOP_EDGE_READER_REACTOR 1
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#endif

namespace kop::proxy::server {

#if KOP_EDGE_READER_REACTOR
namespace edge_detail {
namespace ad = boost::asio::detail;

// basic_socket keeps the reactor's per-descriptor data in a protected member; a pointer to
// member taken in a derived class reads it without copying or casting the socket.
struct SocketImpl : tcp::socket {
  static ad::reactive_socket_service<tcp>::implementation_type& of(tcp::socket& s) {
    return (s.*(&SocketImpl::impl_)).get_implementation();
  }
};

static_assert(std::is_same_v<ad::reactor, ad::epoll_reactor>,
              "EdgeReader expects Asio's epoll reactor");
using DescriptorState = std::remove_pointer_t<ad::epoll_reactor::per_descriptor_data>;

// Adds EPOLLRDHUP to the descriptor's registration, once per socket (edge_reader.cpp, which
// alone reaches the reactor's private members). Failure only costs the fallback: a FIN that
// came with the last bytes is then seen by the next edge or a timeout.
void watch_peer_close(ad::reactor& reactor, DescriptorState* state, int fd);

// Whether the descriptor's last edge said the peer will send no more (RDHUP, HUP or ERR). For
// a speculative read that is the edge before; once the peer closed, every later edge says so
// too. A stale answer (a recycled descriptor state) costs one recv() that finds nothing.
bool peer_closed(DescriptorState* state);

// The queued read. Heap-allocated and reused by one reader; when the reader goes first, the
// operation frees itself when the reactor or the scheduler completes or destroys it.
class RecvOp : public ad::reactor_op {
 public:
  using Done = void (*)(void* ctx, const error_code& ec, size_t n);
  RecvOp(Done done, void* ctx)
      : ad::reactor_op(error_code(), &RecvOp::do_perform, &RecvOp::do_complete),
        done_(done),
        ctx_(ctx) {}

  void start(ad::reactor& reactor, tcp::socket& s, char* p, size_t cap) {
    assert(!queued_ && "EdgeReader: one read at a time");  // a second push corrupts the queue
    ec_ = error_code();
    bytes_transferred_ = 0;
    p_ = p;
    cap_ = cap;
    auto& impl = SocketImpl::of(s);
    fd_ = impl.socket_;
    state_ = impl.reactor_data_;
    watch_peer_close(reactor, state_, fd_);
    queued_ = true;
    reactor.start_op(ad::reactor::read_op, impl.socket_, impl.reactor_data_, this, false, true);
  }

  // Called by the reader's destructor: frees now, or at completion when still queued.
  void orphan() {
    if (queued_)
      ctx_ = nullptr;
    else
      delete this;
  }

 private:
  static status do_perform(ad::reactor_op* base) {
    auto* o = static_cast<RecvOp*>(base);
    ssize_t r;
    do {
      r = ::recv(o->fd_, o->p_, o->cap_, MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r > 0) {
      o->bytes_transferred_ = static_cast<size_t>(r);
      // A short read emptied the socket: the next data arrives with its own edge. A FIN that
      // came on the same edge will not: then the next read must try recv() at once.
      bool exhausted = o->bytes_transferred_ < o->cap_ && !peer_closed(o->state_);
      return exhausted ? done_and_exhausted : done;
    }
    if (r == 0) {
      o->ec_ = asio::error::eof;
      return done_and_exhausted;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
    o->ec_ = error_code(errno, asio::error::get_system_category());
    return done;
  }

  // owner == nullptr: the io_context is being destroyed; no handler may run.
  static void do_complete(void* owner, ad::operation* base, const error_code&, size_t) {
    auto* o = static_cast<RecvOp*>(base);
    o->queued_ = false;
    if (o->ctx_ == nullptr) {
      delete o;
      return;
    }
    if (owner != nullptr) o->done_(o->ctx_, o->ec_, o->bytes_transferred_);
  }

  Done done_;
  void* ctx_;
  int fd_ = -1;
  DescriptorState* state_ = nullptr;
  char* p_ = nullptr;
  size_t cap_ = 0;
  bool queued_ = false;
};
}  // namespace edge_detail
#endif

template <class Owner>
class EdgeReader {
 public:
  explicit EdgeReader(Owner& owner) : owner_(owner) {}
  ~EdgeReader() {
#if KOP_EDGE_READER_REACTOR
    if (op_ != nullptr) op_->orphan();
#else
    *alive_ = false;
#endif
  }
  EdgeReader(const EdgeReader&) = delete;
  EdgeReader& operator=(const EdgeReader&) = delete;

  // Reads up to cap bytes into p; Owner::on_read(ec, n) runs later on this thread.
  void read(tcp::socket& s, char* p, size_t cap) {
#if KOP_EDGE_READER_REACTOR
    if (op_ == nullptr) {
      op_ = new edge_detail::RecvOp(&EdgeReader::complete, this);
      reactor_ = &asio::use_service<edge_detail::ad::reactor>(s.get_executor().context());
    }
    op_->start(*reactor_, s, p, cap);
#else
    s.async_receive(asio::buffer(p, cap), [this, alive = alive_](const error_code& ec, size_t n) {
      if (*alive) owner_.on_read(ec, n);
    });
#endif
  }

 private:
#if KOP_EDGE_READER_REACTOR
  static void complete(void* self, const error_code& ec, size_t n) {
    static_cast<EdgeReader*>(self)->owner_.on_read(ec, n);
  }
  edge_detail::RecvOp* op_ = nullptr;
  edge_detail::ad::reactor* reactor_ = nullptr;
#else
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
#endif
  Owner& owner_;
};

}  // namespace kop::proxy::server
