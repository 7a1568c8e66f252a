// A TCP relay on 127.0.0.1 that forwards bytes to a target address and can break the links on
// command: cut_all() shuts down every relayed connection (a watch dropped by the network, as a
// load balancer's idle cut or a node restart does), and blackout(d) accepts and closes new
// connections for a while (the API server unreachable), so a reflector that resumes afterwards
// may find its resourceVersion compacted away and get a real 410 from a real server.
// It relays TLS untouched: the client still verifies the server's certificate end to end.
// Test-only; one thread per direction, fine for a handful of connections.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kop::testing {

class TcpFaultProxy {
 public:
  // target_port on 127.0.0.1.
  explicit TcpFaultProxy(uint16_t target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TcpFaultProxy() {
    stopping_ = true;
    if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
    cut_all();
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> pumps;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pumps.swap(pumps_);
    }
    for (auto& t : pumps) t.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  uint64_t cuts() const { return cuts_; }
  uint64_t refused() const { return refused_; }

  // Shuts down every relayed connection in both directions.
  void cut_all() {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : live_) ::shutdown(fd, SHUT_RDWR);
    cuts_ += live_.size();
  }

  // New connections are closed at once until `d` has passed.
  void blackout(std::chrono::milliseconds d) {
    blackout_until_ = (std::chrono::steady_clock::now() + d).time_since_epoch().count();
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (stopping_) return;
        continue;
      }
      if (std::chrono::steady_clock::now().time_since_epoch().count() < blackout_until_) {
        ++refused_;
        ::close(c);
        continue;
      }
      int u = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(target_port_);
      if (::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(u);
        ::close(c);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      live_.insert(c);
      live_.insert(u);
      pumps_.emplace_back([this, c, u] { relay(c, u); });
    }
  }

  // Copies both ways until either side ends, then closes both.
  void relay(int a, int b) {
    char buf[16384];
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    bool open = true;
    while (open && !stopping_) {
      if (::poll(fds, 2, 200) < 0) break;
      for (int i = 0; i < 2 && open; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n <= 0) {
          open = false;
          break;
        }
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::send(fds[1 - i].fd, buf + off, n - off, MSG_NOSIGNAL);
          if (w <= 0) {
            open = false;
            break;
          }
          off += w;
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(a);
    live_.erase(b);
    ::close(a);
    ::close(b);
  }

  uint16_t target_port_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> blackout_until_{0};
  std::atomic<uint64_t> cuts_{0};
  std::atomic<uint64_t> refused_{0};
  std::mutex mu_;
  std::set<int> live_;
  std::vector<std::thread> pumps_;
  std::thread acceptor_;
};

}  // namespace kop::testing
