// hello-pks-app: the tutorial's backend. A tiny HTTP/1.1 server that answers every GET (and HEAD)
// with a JSON document naming the node and pod that served it, so a reader of the tutorial can
// see the ingress spread requests over the replicas.
//
//   hello-pks-app [--listen ADDR:PORT] [--pod NAME] [--node NAME]
//
// --listen defaults to 0.0.0.0:8080 (the Deployment's containerPort); port 0 picks a free port.
// The first line on stdout is "listening on ADDR:PORT" with the real port, so scripts can use
// port 0. --pod defaults to $POD_NAME, else "<hostname>-<port>"; --node to $NODE_NAME, else the
// hostname. Keep-alive follows HTTP/1.1 (persistent unless "Connection: close"; HTTP/1.0 only
// with "Connection: keep-alive"). One thread per connection: the app is a demo backend, and
// threads keep it obviously correct. SIGTERM/SIGINT close the listener, shut the open connections
// down and exit 0, which is what a Pod being deleted expects.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

namespace {

constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr int kIdleTimeoutSeconds = 60;

int stop_pipe[2] = {-1, -1};

void on_signal(int) {
  const char byte = 1;
  // write() is async-signal-safe; the main loop polls the pipe's read end.
  [[maybe_unused]] ssize_t n = write(stop_pipe[1], &byte, 1);
}

struct Identity {
  std::string node;
  std::string pod;
};

std::string json_escape(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 2);
  for (unsigned char c : in) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated header value lists `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string response(int code, std::string_view reason, std::string_view content_type,
                     std::string_view body, bool keep_alive, bool head, std::string_view extra) {
  std::string out = "HTTP/1.1 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
  out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += extra;
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head) out += body;
  return out;
}

struct Request {
  std::string method;
  std::string target;
  bool keep_alive = true;
  size_t content_length = 0;
  bool chunked = false;
};

// Parses the head (request line and headers, without the final CRLF CRLF). nullopt = malformed.
std::optional<Request> parse_head(std::string_view head) {
  Request req;
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return std::nullopt;
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.0") {
    req.keep_alive = false;
  } else if (version != "HTTP/1.1") {
    return std::nullopt;
  }
  if (req.method.empty() || req.target.empty()) return std::nullopt;
  std::string_view rest = eol == std::string_view::npos ? "" : head.substr(eol + 2);
  while (!rest.empty()) {
    size_t end = rest.find("\r\n");
    std::string_view h = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end + 2);
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::string_view name = h.substr(0, colon);
    std::string_view value = trim(h.substr(colon + 1));
    if (iequals(name, "connection")) {
      if (has_token(value, "close")) req.keep_alive = false;
      if (has_token(value, "keep-alive") && version == "HTTP/1.0") req.keep_alive = true;
    } else if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 12 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
      req.content_length = std::stoull(std::string(value));
    } else if (iequals(name, "transfer-encoding")) {
      req.chunked = true;
    }
  }
  return req;
}

// Path without query, also for absolute-form targets ("http://host/p?q").
std::string request_path(std::string_view target) {
  if (size_t scheme = target.find("://"); scheme != std::string_view::npos && target[0] != '/') {
    size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? "/" : target.substr(slash);
  }
  return std::string(target.substr(0, target.find_first_of("?#")));
}

void serve_connection(int fd, const Identity& id) {
  timeval tv{kIdleTimeoutSeconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string buf;
  char chunk[8192];
  for (;;) {
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeaderBytes) {
        send_all(fd, response(431, "Request Header Fields Too Large", "text/plain",
                              "header too large\n", false, false, ""));
        return;
      }
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // peer closed, idle timeout or shutdown
      buf.append(chunk, static_cast<size_t>(n));
    }
    std::optional<Request> req = parse_head(std::string_view(buf).substr(0, head_end));
    if (!req) {
      send_all(fd, response(400, "Bad Request", "text/plain", "bad request\n", false, false, ""));
      return;
    }
    if (req->chunked) {
      // Not needed by a GET-only demo; refusing is better than mis-framing the next request.
      send_all(fd, response(501, "Not Implemented", "text/plain",
                            "chunked request bodies are not supported\n", false, false, ""));
      return;
    }
    // Discard any request body so the next request on the connection is framed correctly.
    size_t need = head_end + 4 + req->content_length;
    while (buf.size() < need) {
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
    }
    buf.erase(0, need);

    std::string out;
    bool head = req->method == "HEAD";
    if (req->method == "GET" || head) {
      std::string body = "{\"message\":\"Hello from hello-pks\",\"node\":\"" +
                         json_escape(id.node) + "\",\"pod\":\"" + json_escape(id.pod) +
                         "\",\"path\":\"" + json_escape(request_path(req->target)) + "\"}\n";
      out = response(200, "OK", "application/json", body, req->keep_alive, head, "");
    } else {
      out = response(405, "Method Not Allowed", "text/plain", "only GET and HEAD\n",
                     req->keep_alive, false, "Allow: GET, HEAD\r\n");
    }
    if (!send_all(fd, out) || !req->keep_alive) return;
  }
}

// Tracks open connections so shutdown can wake their threads and wait for them.
class Connections {
 public:
  void add(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.insert(fd);
  }
  void remove(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.erase(fd);
    close(fd);
    cv_.notify_all();
  }
  // Shuts every open connection down (their recv returns 0) and waits up to `limit` for the
  // threads to finish. False when some thread is still running after `limit`.
  bool shutdown_all(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    return cv_.wait_for(lock, limit, [this] { return fds_.empty(); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<int> fds_;
};

bool parse_listen(const std::string& spec, sockaddr_in* addr) {
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = spec.substr(0, colon);
  std::string port = spec.substr(colon + 1);
  if (host.empty()) host = "0.0.0.0";
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  int p = std::atoi(port.c_str());
  if (p > 65535) return false;
  *addr = {};
  addr->sin_family = AF_INET;
  addr->sin_port = htons(static_cast<uint16_t>(p));
  return inet_pton(AF_INET, host.c_str(), &addr->sin_addr) == 1;
}

int usage() {
  std::fprintf(stderr, "usage: hello-pks-app [--listen ADDR:PORT] [--pod NAME] [--node NAME]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_spec = "0.0.0.0:8080";
  std::optional<std::string> pod_flag, node_flag;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string_view name) -> std::optional<std::string> {
      if (arg == name && i + 1 < argc) return std::string(argv[++i]);
      std::string prefix = std::string(name) + "=";
      if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
      return std::nullopt;
    };
    if (auto v = value("--listen")) {
      listen_spec = *v;
    } else if (auto v = value("--pod")) {
      pod_flag = *v;
    } else if (auto v = value("--node")) {
      node_flag = *v;
    } else {
      return usage();
    }
  }
  sockaddr_in addr;
  if (!parse_listen(listen_spec, &addr)) {
    std::fprintf(stderr, "hello-pks-app: bad --listen %s (want IPv4ADDR:PORT)\n",
                 listen_spec.c_str());
    return 2;
  }

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(lfd, 128) != 0) {
    std::fprintf(stderr, "hello-pks-app: cannot listen on %s: %s\n", listen_spec.c_str(),
                 std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);

  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  Identity id;
  const char* env_node = std::getenv("NODE_NAME");
  const char* env_pod = std::getenv("POD_NAME");
  id.node = node_flag ? *node_flag : (env_node && *env_node ? env_node : host);
  id.pod = pod_flag
               ? *pod_flag
               : (env_pod && *env_pod ? env_pod : std::string(host) + "-" + std::to_string(port));

  if (pipe2(stop_pipe, O_CLOEXEC) != 0) return 1;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::printf("listening on %s:%d pod=%s node=%s\n", ip, port, id.pod.c_str(), id.node.c_str());
  std::fflush(stdout);

  Connections conns;
  for (;;) {
    pollfd fds[2] = {{lfd, POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;
    if (!(fds[0].revents & POLLIN)) continue;
    int cfd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) continue;  // EMFILE, ECONNABORTED...: keep serving the others
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns.add(cfd);
    std::thread([cfd, &id, &conns] {
      serve_connection(cfd, id);
      conns.remove(cfd);
    }).detach();
  }
  close(lfd);
  const bool drained = conns.shutdown_all(std::chrono::seconds(5));
  std::printf("hello-pks-app: stopped\n");
  std::fflush(stdout);
  // A connection thread still blocked in send() must not outlive `id` and `conns`: leave
  // without running destructors.
  if (!drained) std::_Exit(0);
  return 0;
}
