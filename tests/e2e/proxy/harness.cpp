#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kop::proxy::e2e {
namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// The argv array for exec, made BEFORE fork: the test process has other threads (backends),
// and a child that allocates between fork and exec can block forever on an allocator lock one
// of them held at the fork (seen under ASan: openssl never started, the test failed 20 s later).
std::vector<char*> exec_args(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  return args;
}

int remaining_ms(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

// Reads more bytes into buf; false on EOF/timeout/error.
bool read_some(int fd, std::string& buf, Clock::time_point deadline) {
  pollfd p{fd, POLLIN, 0};
  int r = ::poll(&p, 1, remaining_ms(deadline));
  if (r <= 0) return false;
  char tmp[16384];
  ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf.append(tmp, static_cast<size_t>(n));
  return true;
}

void parse_head_lines(const std::string& head, std::string* first,
                      std::vector<std::pair<std::string, std::string>>* headers) {
  std::istringstream ss(head);
  std::string line;
  std::getline(ss, line);
  *first = trim(line);
  while (std::getline(ss, line)) {
    line = trim(line);
    if (line.empty()) continue;
    size_t c = line.find(':');
    if (c == std::string::npos) continue;
    headers->emplace_back(lower(line.substr(0, c)), trim(line.substr(c + 1)));
  }
}

std::string find_header(const std::vector<std::pair<std::string, std::string>>& h,
                        const std::string& name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return "";
}

// Decodes a chunked body from buf (starting at pos); returns false when incomplete. The trailer
// section's fields go to *trailers when given.
bool dechunk(const std::string& buf, size_t pos, std::string* body, size_t* end,
             std::vector<std::pair<std::string, std::string>>* trailers = nullptr) {
  body->clear();
  for (;;) {
    size_t crlf = buf.find("\r\n", pos);
    if (crlf == std::string::npos) return false;
    size_t len = std::strtoul(buf.substr(pos, crlf - pos).c_str(), nullptr, 16);
    pos = crlf + 2;
    if (len == 0) {
      // Trailers until an empty line.
      size_t trailer_start = pos;
      for (;;) {
        size_t e = buf.find("\r\n", pos);
        if (e == std::string::npos) return false;
        if (e == pos) {
          *end = e + 2;
          if (trailers) {
            std::string first;
            trailers->clear();
            parse_head_lines("\r\n" + buf.substr(trailer_start, pos - trailer_start), &first,
                             trailers);
          }
          return true;
        }
        pos = e + 2;
      }
    }
    if (buf.size() < pos + len + 2) return false;
    body->append(buf, pos, len);
    pos += len + 2;
  }
}

std::string ws_accept(const std::string& key) {
  std::string s = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

CmdResult run(const std::vector<std::string>& argv, int timeout_ms, const std::string& input) {
  CmdResult res;
  int out[2], err[2], in[2];
  if (::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC) || ::pipe2(in, O_CLOEXEC)) return res;
  std::vector<char*> args = exec_args(argv);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(in[0]);
  if (!input.empty()) {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = ::write(in[1], input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }
  ::close(in[1]);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    int r = ::poll(p, 2, remaining_ms(deadline));
    if (r <= 0) break;
    char tmp[8192];
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(p[i].fd, tmp, sizeof tmp);
      if (n <= 0) {
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      (i == 0 ? res.out : res.err).append(tmp, static_cast<size_t>(n));
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (remaining_ms(deadline) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      res.exit_code = -1;
      break;
    }
    ::usleep(2000);
  }
  return res;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/kop-proxy-e2e-XXXXXX";
  path_ = ::mkdtemp(tmpl);
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}
void TempDir::write(const std::string& name, const std::string& content) const {
  std::ofstream f(file(name), std::ios::binary | std::ios::trunc);
  f << content;
}

Cert make_cert(const TempDir& dir, const std::string& cn) {
  Cert c{dir.file(cn + ".crt"), dir.file(cn + ".key")};
  run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-days", "2", "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn,
       "-keyout", c.key_file, "-out", c.cert_file},
      20000);
  return c;
}

// ---------------------------------------------------------------------------------------------

std::string BackendRequest::header(const std::string& lower_name) const {
  return find_header(headers, lower_name);
}
int BackendRequest::count(const std::string& lower_name) const {
  int k = 0;
  for (const auto& [h, v] : headers)
    if (h == lower_name) ++k;
  return k;
}

Backend::Backend(Handler h) : handler_(std::move(h)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);  // port() says 0 on failure
  ::listen(listen_fd_, 512);
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { accept_loop(); });
}

Backend::~Backend() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(conn_threads_);
  }
  for (auto& t : threads) t.join();
}

std::vector<BackendRequest> Backend::requests() const {
  std::lock_guard<std::mutex> l(mu_);
  return requests_;
}
size_t Backend::request_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return requests_.size();
}
void Backend::set_handler(Handler h) {
  std::lock_guard<std::mutex> l(mu_);
  handler_ = std::move(h);
}

void Backend::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    std::lock_guard<std::mutex> l(mu_);
    conn_fds_.push_back(fd);
    conn_threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void Backend::serve(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string buf;
  for (;;) {
    auto deadline = Clock::now() + std::chrono::seconds(30);
    size_t he;
    while ((he = buf.find("\r\n\r\n")) == std::string::npos) {
      if (stop_ || !read_some(fd, buf, deadline)) goto done;
    }
    {
      BackendRequest req;
      std::string first;
      parse_head_lines(buf.substr(0, he + 2), &first, &req.headers);
      std::istringstream fl(first);
      fl >> req.method >> req.target >> req.version;
      size_t pos = he + 4;
      std::string cl = req.header("content-length");
      if (lower(req.header("transfer-encoding")) == "chunked") {
        size_t end;
        while (!dechunk(buf, pos, &req.body, &end, &req.trailers))
          if (!read_some(fd, buf, deadline)) goto done;
        pos = end;
      } else if (!cl.empty()) {
        size_t n = std::strtoul(cl.c_str(), nullptr, 10);
        while (buf.size() < pos + n)
          if (!read_some(fd, buf, deadline)) goto done;
        req.body = buf.substr(pos, n);
        pos += n;
      }
      buf.erase(0, pos);
      Handler h;
      {
        std::lock_guard<std::mutex> l(mu_);
        requests_.push_back(req);
        h = handler_;
      }
      if (lower(req.header("upgrade")) == "websocket") {
        std::string r =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
            ws_accept(req.header("sec-websocket-key")) + "\r\n\r\n";
        send_all(fd, r);
        // Echo frames until close.
        for (;;) {
          auto d2 = Clock::now() + std::chrono::seconds(10);
          while (buf.size() < 2)
            if (!read_some(fd, buf, d2)) goto done;
          unsigned op = static_cast<unsigned char>(buf[0]) & 0x0f;
          bool masked = static_cast<unsigned char>(buf[1]) & 0x80;
          uint64_t len = static_cast<unsigned char>(buf[1]) & 0x7f;
          size_t hl = 2;
          if (len == 126) hl += 2;
          if (len == 127) hl += 8;
          if (masked) hl += 4;
          while (buf.size() < hl)
            if (!read_some(fd, buf, d2)) goto done;
          if (len == 126)
            len = (uint64_t(uint8_t(buf[2])) << 8) | uint8_t(buf[3]);
          else if (len == 127) {
            len = 0;
            for (int i = 0; i < 8; ++i) len = (len << 8) | uint8_t(buf[2 + i]);
          }
          while (buf.size() < hl + len)
            if (!read_some(fd, buf, d2)) goto done;
          std::string payload = buf.substr(hl, len);
          if (masked)
            for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= buf[hl - 4 + (i % 4)];
          buf.erase(0, hl + len);
          std::string frame;
          frame.push_back(static_cast<char>(0x80 | op));
          if (payload.size() < 126) {
            frame.push_back(static_cast<char>(payload.size()));
          } else {
            frame.push_back(126);
            frame.push_back(static_cast<char>(payload.size() >> 8));
            frame.push_back(static_cast<char>(payload.size() & 0xff));
          }
          frame += payload;
          send_all(fd, frame);
          if (op == 8) goto done;
        }
      }
      BackendResponse resp;
      if (h)
        resp = h(req);
      else
        resp.body = "backend " + std::to_string(port_) + "\n";
      if (resp.delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(resp.delay_ms));
      if (resp.no_answer) goto done;
      if (!resp.raw.empty()) {
        send_all(fd, resp.raw);
        if (resp.close_after) goto done;
        continue;
      }
      std::string out = "HTTP/1.1 ";
      out.append(std::to_string(resp.status)).append(" X\r\n");
      for (const auto& [k, v] : resp.headers) out.append(k).append(": ").append(v).append("\r\n");
      bool head = req.method == "HEAD";
      if (resp.chunked) {
        out += "Transfer-Encoding: chunked\r\n";
      } else if (!resp.close_delimited) {
        out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
      }
      if (resp.close_after || resp.close_delimited) out += "Connection: close\r\n";
      out += "\r\n";
      if (!head) {
        if (resp.chunked) {
          // Three pieces (or one when short), then the last chunk.
          size_t step = resp.body.size() / 3 + 1;
          for (size_t i = 0; i < resp.body.size(); i += step) {
            std::string piece = resp.body.substr(i, step);
            char hex[32];
            std::snprintf(hex, sizeof hex, "%zx\r\n", piece.size());
            out += hex + piece + "\r\n";
          }
          out += "0\r\n\r\n";
        } else {
          out += resp.body;
        }
      }
      if (!send_all(fd, out)) goto done;
      if (resp.close_after || resp.close_delimited) goto done;
    }
  }
done:
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  std::lock_guard<std::mutex> l(mu_);
  for (auto& f : conn_fds_)
    if (f == fd) f = -1;
}

// ---------------------------------------------------------------------------------------------

ProxyProcess::ProxyProcess(const TempDir& dir, const std::string& config_json,
                           const std::vector<std::string>& extra_args) {
  config_path_ = dir.file("proxy.json");
  dir.write("proxy.json", config_json);
  const char* bin = std::getenv("KOP_PROXY");
  std::string exe = bin ? bin : "kop-proxy";
  int out[2];
  if (::pipe2(out, O_CLOEXEC)) return;
  std::vector<std::string> argv = {exe, "--config", config_path_};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> args = exec_args(argv);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::execv(args[0], args.data());
    _exit(127);
  }
  ::close(out[1]);
  pid_ = pid;
  out_fd_ = out[0];
  reader_ = std::thread([this] { reader(); });
  if (!wait_for("kop-proxy: ready", 15000)) return;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& line : lines_) {
    // "kop-proxy: listener NAME bound to HOST:PORT", "kop-proxy: admin port N"
    size_t p = line.find("listener ");
    size_t b = line.find(" bound to ");
    if (p != std::string::npos && b != std::string::npos &&
        line.find("admin") == std::string::npos) {
      std::string name = line.substr(p + 9, b - p - 9);
      ports_[name] = static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
    }
    if (line.find("admin port ") != std::string::npos)
      admin_port_ = static_cast<uint16_t>(std::stoi(line.substr(line.rfind(' ') + 1)));
  }
  started_ = true;
}

ProxyProcess::~ProxyProcess() {
  terminate();
}

void ProxyProcess::reader() {
  std::string buf;
  char tmp[4096];
  for (;;) {
    ssize_t n = ::read(out_fd_, tmp, sizeof tmp);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::lock_guard<std::mutex> l(mu_);
      lines_.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
      cv_.notify_all();
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  if (!buf.empty()) lines_.push_back(buf);
  eof_ = true;
  cv_.notify_all();
}

uint16_t ProxyProcess::port(const std::string& listener) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = ports_.find(listener);
  if (it != ports_.end()) return it->second;
  // A listener added by a reload: look in later lines.
  for (const auto& line : lines_) {
    std::string key = "listener " + listener + " bound to ";
    size_t p = line.find(key);
    if (p != std::string::npos)
      return static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
  }
  return 0;
}

bool ProxyProcess::wait_for(const std::string& needle, int timeout_ms, size_t from) {
  std::unique_lock<std::mutex> l(mu_);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    for (size_t i = from; i < lines_.size(); ++i)
      if (lines_[i].find(needle) != std::string::npos) return true;
    if (eof_) return false;
    if (cv_.wait_until(l, deadline) == std::cv_status::timeout) {
      for (size_t i = from; i < lines_.size(); ++i)
        if (lines_[i].find(needle) != std::string::npos) return true;
      return false;
    }
  }
}

size_t ProxyProcess::line_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return lines_.size();
}

std::string ProxyProcess::output() const {
  std::lock_guard<std::mutex> l(mu_);
  std::string s;
  for (const auto& line : lines_) s += line + "\n";
  return s;
}

bool ProxyProcess::reload(const std::string& config_json, bool signal, int timeout_ms) {
  size_t from = line_count();
  std::string tmp = config_path_ + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << config_json;
  }
  ::rename(tmp.c_str(), config_path_.c_str());
  if (signal) ::kill(pid_, SIGHUP);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (remaining_ms(deadline) > 0) {
    if (wait_for("kop-proxy: reloaded", 50, from)) return true;
    if (wait_for("kop-proxy: reload failed", 0, from)) return false;
    std::lock_guard<std::mutex> l(mu_);
    if (eof_) return false;  // the process is gone
  }
  return false;
}

int ProxyProcess::terminate(int timeout_ms) {
  if (pid_ <= 0) return exit_status_;
  ::kill(pid_, SIGTERM);
  int status = 0;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pid_t w = ::waitpid(pid_, &status, WNOHANG);
    if (w == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (remaining_ms(deadline) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      exit_status_ = -1;
      break;
    }
    ::usleep(5000);
  }
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  if (out_fd_ >= 0) ::close(out_fd_);
  out_fd_ = -1;
  return exit_status_;
}

// ---------------------------------------------------------------------------------------------

ThreadServer::ThreadServer(std::function<void(int)> serve) : serve_(std::move(serve)) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);  // port() says 0 on failure
  ::listen(fd_, 512);
  socklen_t len = sizeof a;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      conns_.emplace_back([this, c] {
        serve_(c);
        ::close(c);
      });
    }
  });
}

ThreadServer::~ThreadServer() {
  stop_ = true;
  thread_.join();
  for (auto& t : conns_) t.join();
  ::close(fd_);
}

bool recv_some(int fd, std::string& into, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return false;
  char buf[16384];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) return false;
  into.append(buf, static_cast<size_t>(n));
  return true;
}

RefusedPort::RefusedPort() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(std::string("RefusedPort: ") + std::strerror(errno));
  port_ = ntohs(a.sin_port);
}

RefusedPort::~RefusedPort() {
  ::close(fd_);
}

// ---- server programs

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    a.sin_port = 0;
  ::close(fd);
  return ntohs(a.sin_port);
}

bool have(const std::string& program) {
  return run({"sh", "-c", "command -v " + program}).exit_code == 0;
}

ChildServer::ChildServer(const std::vector<std::string>& argv, uint16_t port) : port_(port) {
  std::vector<char*> args = exec_args(argv);
  pid_ = ::fork();
  if (pid_ == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  for (int i = 0; i < 200 && !ready_; ++i) {
    int fd = connect_to(port_, 200);
    if (fd >= 0) {
      ::close(fd);
      ready_ = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

ChildServer::~ChildServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

int connect_to(uint16_t port, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  timeval tv{timeout_ms / 1000, static_cast<suseconds_t>(timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string read_until_close(int fd, int timeout_ms) {
  std::string buf;
  for (;;) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    if (!read_some(fd, buf, deadline)) break;
  }
  return buf;
}

std::string Response::header(const std::string& lower_name) const {
  return find_header(headers, lower_name);
}

namespace {
// Parses one response from buf at pos; returns bytes used, 0 when incomplete.
size_t parse_one(const std::string& buf, size_t pos, Response* r, bool eof, bool head_request) {
  size_t he = buf.find("\r\n\r\n", pos);
  if (he == std::string::npos) return 0;
  std::string first;
  r->headers.clear();
  parse_head_lines(buf.substr(pos, he + 2 - pos), &first, &r->headers);
  if (first.size() < 12) return 0;
  r->status = std::atoi(first.c_str() + 9);
  size_t body = he + 4;
  if (head_request || r->status == 204 || r->status == 304 || r->status / 100 == 1) {
    r->body.clear();
    return body - pos;
  }
  if (lower(r->header("transfer-encoding")) == "chunked") {
    size_t end;
    if (!dechunk(buf, body, &r->body, &end)) return 0;
    return end - pos;
  }
  std::string cl = r->header("content-length");
  if (!cl.empty()) {
    size_t n = std::strtoul(cl.c_str(), nullptr, 10);
    if (buf.size() < body + n) return 0;
    r->body = buf.substr(body, n);
    return body + n - pos;
  }
  if (!eof) return 0;
  r->body = buf.substr(body);
  return buf.size() - pos;
}
}  // namespace

Response read_response(int fd, std::string& pending, int timeout_ms, bool head_request) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Response r;
  bool eof = false;
  for (;;) {
    size_t used = parse_one(pending, 0, &r, eof, head_request);
    if (used) {
      pending.erase(0, used);
      return r;
    }
    if (eof) return Response{};
    if (!read_some(fd, pending, deadline)) {
      eof = true;
      if (remaining_ms(deadline) == 0) return Response{};
    }
  }
}

std::vector<Response> parse_responses(const std::string& data) {
  std::vector<Response> out;
  size_t pos = 0;
  while (pos < data.size()) {
    Response r;
    size_t used = parse_one(data, pos, &r, true, false);
    if (!used) break;
    out.push_back(r);
    pos += used;
  }
  return out;
}

Response http(uint16_t port, const std::string& request, int timeout_ms) {
  int fd = connect_to(port);
  if (fd < 0) return {};
  send_all(fd, request);
  std::string pending;
  Response r = read_response(fd, pending, timeout_ms, request.rfind("HEAD ", 0) == 0);
  ::close(fd);
  return r;
}

}  // namespace kop::proxy::e2e
