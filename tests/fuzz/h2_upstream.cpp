// Fuzz target: the proxy's HTTP/2 client session towards an h2c upstream (H2UpConn), end to
// end in one process. HTTP/1 clients send requests to a real kop::proxy::Proxy (one worker)
// whose route forwards to a cluster with "protocol": "h2c"; the upstream is this target, and
// what it answers on the connection the proxy opened is the input: the server's SETTINGS, then
// any HEADERS, DATA, trailers, RST_STREAM, GOAWAY, PUSH_PROMISE, WINDOW_UPDATE or PING frames.
// So nghttp2's client session, kop's response-head checks, flow control both ways, the retry of
// refused streams and the HTTP/1 response written back all run as in production.
//
// The input's first byte picks the requests (see kShapes): a GET, a POST with a body, a chunked
// POST ending in trailers, two GETs at once (streams 1 and 3) or a POST larger than the
// upstream's initial window. The rest goes to the upstream connection once the proxy has sent
// the requests' HEADERS, followed by the end of the upstream's side (a half close), so every
// input ends: the proxy answers or fails each client and closes the upstream connection.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "kop/proxy/proxy.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::string_view_literals;

struct Shape {
  std::vector<std::string> requests;  // one client connection each
};

std::string big_post() {
  std::string body(100000, 'b');  // above the default 65,535-byte stream window
  return "POST /upload HTTP/1.1\r\nhost: fuzz\r\ncontent-length: " + std::to_string(body.size()) +
         "\r\nconnection: close\r\n\r\n" + body;
}

const std::array<Shape, 5>& shapes() {
  static const std::array<Shape, 5> kShapes = {{
      {{"GET /get HTTP/1.1\r\nhost: fuzz\r\nconnection: close\r\n\r\n"}},
      {{"POST /post HTTP/1.1\r\nhost: fuzz\r\ncontent-length: 5\r\nconnection: close\r\n\r\n"
        "hello"}},
      // A gRPC message (5-byte prefix, NULs included: a string_view literal keeps them).
      {{std::string("POST /grpc.Svc/Call HTTP/1.1\r\nhost: fuzz\r\n"
                    "content-type: application/grpc\r\nte: trailers\r\n"
                    "transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                    "7\r\n\x00\x00\x00\x00\x02hi\r\n0\r\ngrpc-timeout: 1S\r\n\r\n"sv)}},
      {{"GET /a HTTP/1.1\r\nhost: fuzz\r\nconnection: close\r\n\r\n",
        "GET /b HTTP/1.1\r\nhost: fuzz\r\nconnection: close\r\n\r\n"}},
      {{big_post()}},
  }};
  return kShapes;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// Closing with a reset leaves no TIME_WAIT behind: thousands of connections a second would
// otherwise use up the ephemeral ports.
void set_reset_on_close(int fd) {
  linger reset{1, 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
}

int listen_loopback(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd, 64) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    kop::fuzz::fail("upstream listen failed", std::strerror(errno));
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// One connection the proxy opened to the upstream. Its request frames are read (and parsed far
// enough to see which streams' HEADERS came); the input goes out once they did.
struct Upstream {
  int fd = -1;
  std::string in;              // bytes from the proxy not yet parsed as frames
  bool preface_seen = false;   // the 24-byte client preface was taken off `in`
  std::set<uint32_t> headers;  // streams whose HEADERS arrived
  Clock::time_point accepted;
  bool answered = false;  // the input was written and our side half-closed
  bool closed = false;    // the proxy closed its side
};

constexpr size_t kPrefaceSize = 24;

void parse_frames(Upstream& u) {
  if (!u.preface_seen) {
    if (u.in.size() < kPrefaceSize) return;
    u.in.erase(0, kPrefaceSize);
    u.preface_seen = true;
  }
  size_t pos = 0;
  while (u.in.size() - pos >= 9) {
    auto b = [&](size_t i) { return static_cast<uint8_t>(u.in[pos + i]); };
    size_t length = (size_t{b(0)} << 16) | (size_t{b(1)} << 8) | b(2);
    if (u.in.size() - pos < 9 + length) break;
    uint32_t stream =
        ((uint32_t{b(5)} & 0x7f) << 24) | (uint32_t{b(6)} << 16) | (uint32_t{b(7)} << 8) | b(8);
    if (b(3) == 1) u.headers.insert(stream);  // HEADERS
    pos += 9 + length;
  }
  u.in.erase(0, pos);
}

void send_all(int fd, std::string_view data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 1000) > 0) continue;
    }
    return;  // the peer closed or stopped reading: what went out is what it gets
  }
}

// Reads what is there; false once the peer closed (or reset) its side.
bool read_some(int fd, std::string* into) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      if (into != nullptr) into->append(buf, static_cast<size_t>(n));
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
  }
}

struct Harness {
  kop::proxy::Proxy proxy;
  int upstream_listener = -1;
  uint16_t port = 0;

  Harness() {
    uint16_t upstream_port = 0;
    upstream_listener = listen_loopback(&upstream_port);
    std::string config = R"({"version":"kop.proxy/v1",
      "listeners":[{"name":"http","address":"127.0.0.1:0","virtual_hosts":["all"]}],
      "virtual_hosts":[{"name":"all","domains":["*"],"routes":[
        {"forward":{"cluster":"h2","timeout_ms":2000}}]}],
      "clusters":[{"name":"h2","protocol":"h2c","connect_timeout_ms":1000,
                   "endpoints":["127.0.0.1:)" +
                         std::to_string(upstream_port) + R"("]}],
      "server":{"workers":1,"request_header_timeout_ms":2000,"idle_timeout_ms":2000,
                "drain_timeout_ms":100}})";
    if (absl::Status st = proxy.apply_json(config); !st.ok()) {
      kop::fuzz::fail("proxy config refused", st.ToString());
    }
    port = proxy.listener_port("http").value_or(0);
    if (port == 0) kop::fuzz::fail("no listener port");
  }
};

Harness& harness() {
  static Harness* h = new Harness();  // lives for the whole run: the worker keeps running
  return *h;
}

// Connects, also when a signal (libFuzzer's timer) interrupts connect(): the connection then
// completes on its own, and its outcome is the socket's error once it is writable.
bool connect_loopback(int fd, uint16_t port) {
  sockaddr_in a = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return true;
  if (errno != EINTR) return false;
  pollfd p{fd, POLLOUT, 0};
  while (::poll(&p, 1, 2000) < 0 && errno == EINTR) {
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return false;
  errno = err;
  return err == 0 && (p.revents & POLLOUT) != 0;
}

int connect_client(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || !connect_loopback(fd, port)) {
    kop::fuzz::fail("connect to the proxy failed", std::strerror(errno));
  }
  set_reset_on_close(fd);
  (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  Harness& h = harness();
  const Shape& shape = shapes()[bytes[0] % shapes().size()];
  std::string_view answer(reinterpret_cast<const char*>(bytes) + 1, size - 1);

  std::vector<int> clients;
  for (const std::string& r : shape.requests) {
    clients.push_back(connect_client(h.port));
    send_all(clients.back(), r);
  }
  // One poll loop: accept the proxy's upstream connections (a refused stream may be retried on
  // a new one, which gets the same answer), answer each once its requests' HEADERS came (or
  // 300 ms passed), and read the clients until the proxy closes them. Bounded: an input that
  // leaves a client waiting past the deadline is abandoned (the route's timeout is 2 s).
  std::vector<Upstream> ups;
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  size_t open_clients = clients.size();
  while (Clock::now() < deadline) {
    bool upstreams_done = true;
    for (const Upstream& u : ups) upstreams_done = upstreams_done && u.closed;
    if (open_clients == 0 && upstreams_done) break;
    std::vector<pollfd> fds;
    fds.push_back({h.upstream_listener, POLLIN, 0});
    for (const Upstream& u : ups) fds.push_back({u.closed ? -1 : u.fd, POLLIN, 0});
    for (int c : clients) fds.push_back({c, POLLIN, 0});
    (void)::poll(fds.data(), fds.size(), 20);
    if (ups.size() < 4) {
      int fd = ::accept4(h.upstream_listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        set_reset_on_close(fd);
        ups.push_back(Upstream{.fd = fd, .accepted = Clock::now()});
      }
    }
    for (Upstream& u : ups) {
      if (u.closed) continue;
      if (!read_some(u.fd, &u.in)) u.closed = true;
      parse_frames(u);
      // The first connection carries every request; a later one (a retry) at least one.
      size_t want = &u == &ups.front() ? shape.requests.size() : 1;
      bool waited = Clock::now() - u.accepted > std::chrono::milliseconds(300);
      if (!u.answered && (u.headers.size() >= want || waited || u.closed)) {
        u.answered = true;
        send_all(u.fd, answer);
        ::shutdown(u.fd, SHUT_WR);
      }
    }
    for (int& c : clients) {
      if (c >= 0 && !read_some(c, nullptr)) {
        ::close(c);
        c = -1;
        --open_clients;
      }
    }
  }
  for (int c : clients) {
    if (c >= 0) ::close(c);
  }
  for (const Upstream& u : ups) ::close(u.fd);
  return 0;
}
