// EdgeReader's access to the epoll reactor's private state: the registration mask (to add
// EPOLLRDHUP) and the events of the edge being handled. Kept in one file, since the member
// pointers are named through explicit instantiations, which a program may hold only once.
#include "edge_reader.h"

#if KOP_EDGE_READER_REACTOR
#include <sys/epoll.h>

#include <boost/asio/detail/scheduler_operation.hpp>
#include <cstdint>

namespace kop::proxy::server::edge_detail {
namespace {

// C++ skips access checks for the names in an explicit template instantiation: each Tag's
// friend get() returns the member pointer its instantiation was given.
template <class Tag, typename Tag::type Member>
struct Expose {
  friend typename Tag::type get(Tag) { return Member; }
};
struct EpollFd {
  using type = int ad::epoll_reactor::*;
  friend type get(EpollFd);
};
struct RegisteredEvents {  // what the descriptor is registered for; Asio's own MODs keep it
  using type = uint32_t DescriptorState::*;
  friend type get(RegisteredEvents);
};
struct ReadyEvents {  // the events of the edge being handled (the descriptor's task_result_)
  using type = unsigned int ad::scheduler_operation::*;
  friend type get(ReadyEvents);
};

// Inside the unnamed namespace: clang requires an explicit instantiation in the template's own.
template struct Expose<EpollFd, &ad::epoll_reactor::epoll_fd_>;
template struct Expose<RegisteredEvents, &DescriptorState::registered_events_>;
template struct Expose<ReadyEvents, &ad::scheduler_operation::task_result_>;

}  // namespace

void watch_peer_close(ad::reactor& reactor, DescriptorState* state, int fd) {
  if (state == nullptr) return;  // closed: start_op reports bad_descriptor
  uint32_t& registered = state->*get(RegisteredEvents{});
  if (registered == 0 || (registered & EPOLLRDHUP) != 0) return;  // not pollable, or done
  epoll_event ev{};
  ev.events = registered | EPOLLRDHUP;
  ev.data.ptr = state;
  if (::epoll_ctl(reactor.*get(EpollFd{}), EPOLL_CTL_MOD, fd, &ev) == 0) registered = ev.events;
}

// descriptor_state derives privately from scheduler_operation; a C-style cast is the one
// conversion allowed to name a private base.
bool peer_closed(DescriptorState* state) {
  auto* as_op = (ad::scheduler_operation*)state;  // NOLINT(cppcoreguidelines-pro-type-cstyle-cast)
  return (as_op->*get(ReadyEvents{}) & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
}

}  // namespace kop::proxy::server::edge_detail
#endif
