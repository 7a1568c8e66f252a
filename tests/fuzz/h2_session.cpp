// Fuzz target: the proxy's HTTP/2 server session, end to end in one process. The input is the
// frames a client sends after the h2c preface; they reach the real kop::proxy::Proxy (one
// worker) over a loopback TCP connection, so nghttp2, kop's header checks, routing, the HTTP/1
// request sent upstream and the response coming back all run as in production. Routes: a direct
// response, a redirect and a forward to a small in-process HTTP/1 backend.
//
// Each input gets its own connection; the target waits until the proxy closes it (or a short
// quiet period passes), so a crash is reported against the input that caused it.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "check.h"
#include "kop/proxy/proxy.h"

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int listen_loopback(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd, 64) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    kop::fuzz::fail("backend listen failed");
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// Reads until `fd` is closed by the peer or stays quiet for `quiet_ms`; returns what came.
std::string drain(int fd, int quiet_ms) {
  std::string got;
  char buf[16384];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, quiet_ms) > 0) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

// An HTTP/1 upstream: reads a request head (and whatever body came with it), answers 200 with
// a short body and closes.
void serve_backend(int listen_fd) {
  constexpr std::string_view kAnswer =
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n"
      "connection: close\r\n\r\nbackend";
  for (;;) {
    int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::string in;
    char buf[8192];
    pollfd p{c, POLLIN, 0};
    while (in.find("\r\n\r\n") == std::string::npos && ::poll(&p, 1, 200) > 0) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    (void)::send(c, kAnswer.data(), kAnswer.size(), MSG_NOSIGNAL);
    ::close(c);
  }
}

struct Harness {
  kop::proxy::Proxy proxy;
  uint16_t port = 0;

  Harness() {
    uint16_t backend_port = 0;
    int backend = listen_loopback(&backend_port);
    std::thread(serve_backend, backend).detach();
    std::string config = R"({"version":"kop.proxy/v1",
      "listeners":[{"name":"h2c","address":"127.0.0.1:0","virtual_hosts":["all"]}],
      "virtual_hosts":[{"name":"all","domains":["*"],"routes":[
        {"match":{"prefix":"/direct"},"direct_response":{"status":200,"body":"direct"}},
        {"match":{"prefix":"/redirect"},"redirect":{"path":"/","code":302}},
        {"forward":{"cluster":"backend","timeout_ms":2000}}]}],
      "clusters":[{"name":"backend","endpoints":["127.0.0.1:)" +
                         std::to_string(backend_port) + R"("]}],
      "server":{"workers":1,"http2_max_concurrent_streams":16,"request_header_timeout_ms":2000,
                "idle_timeout_ms":2000,"drain_timeout_ms":100}})";
    if (absl::Status st = proxy.apply_json(config); !st.ok()) {
      kop::fuzz::fail("proxy config refused", st.ToString());
    }
    port = proxy.listener_port("h2c").value_or(0);
    if (port == 0) kop::fuzz::fail("no h2c listener port");
  }
};

Harness& harness() {
  static Harness* h = new Harness();  // lives for the whole run: workers keep running
  return *h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  Harness& h = harness();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(h.port);
  // Closing with a reset leaves no TIME_WAIT behind: thousands of connections a second would
  // otherwise use up the ephemeral ports.
  linger reset{1, 0};
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    kop::fuzz::fail("connect to the proxy failed", std::strerror(errno));
  }
  std::string out(kPreface);
  out.append(reinterpret_cast<const char*>(bytes), size);
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the proxy closed early (GOAWAY): fine
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  (void)drain(fd, 300);
  ::close(fd);
  return 0;
}
