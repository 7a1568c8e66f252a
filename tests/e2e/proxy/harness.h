// End-to-end harness for kop-proxy: runs the real program on 127.0.0.1 port 0, tiny HTTP/1.1
// (and WebSocket echo) backends in threads, real clients (curl, openssl) as subprocesses, and
// raw sockets for malformed input. Everything is bounded in time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace kop::proxy::e2e {

// ---- processes
struct CmdResult {
  int exit_code = -1;  // -1: killed on timeout
  std::string out;
  std::string err;
};
CmdResult run(const std::vector<std::string>& argv, int timeout_ms = 20000,
              const std::string& input = "");

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// A self-signed certificate for `cn` (also its subjectAltName), EC P-256, made with openssl.
struct Cert {
  std::string cert_file, key_file;
};
Cert make_cert(const TempDir& dir, const std::string& cn);

// ---- backend
struct BackendRequest {
  std::string method, target, version;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // A chunked body's trailer section (names lowercased).
  std::vector<std::pair<std::string, std::string>> trailers;
  std::string header(const std::string& lower_name) const;  // "" when absent
  int count(const std::string& lower_name) const;
};

struct BackendResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;          // send the body chunked (in pieces)
  bool close_delimited = false;  // no length: body then close
  int delay_ms = 0;              // before answering
  bool close_after = false;      // close the connection after the response
  std::string raw;               // when set, sent as is instead of a built response
  bool no_answer = false;        // read the request, answer nothing, close
};

// A loopback address that refuses connections: a bound socket that never listens. Held for the
// test's lifetime, so no other program (a test running alongside) can take the port meanwhile.
class RefusedPort {
 public:
  RefusedPort();
  ~RefusedPort();
  RefusedPort(const RefusedPort&) = delete;
  RefusedPort& operator=(const RefusedPort&) = delete;
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

class Backend {
 public:
  using Handler = std::function<BackendResponse(const BackendRequest&)>;
  // Default handler: 200 "backend <port>\n".
  explicit Backend(Handler h = nullptr);
  ~Backend();
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<BackendRequest> requests() const;
  size_t request_count() const;
  int connections() const { return connections_.load(); }
  void set_handler(Handler h);

 private:
  void accept_loop();
  void serve(int fd);
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  Handler handler_;
  std::vector<BackendRequest> requests_;
  std::vector<std::thread> conn_threads_;
  std::vector<int> conn_fds_;
};

// A TCP listener on 127.0.0.1:0 whose connections are served one per thread by `serve(fd)`
// (the fd is closed after it returns). Joins every thread when destroyed.
class ThreadServer {
 public:
  explicit ThreadServer(std::function<void(int)> serve);
  ~ThreadServer();
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_.load(); }

 private:
  std::function<void(int)> serve_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
  std::vector<std::thread> conns_;
};

// Reads what is available within `ms` (or until EOF); false on EOF/error with nothing read.
bool recv_some(int fd, std::string& into, int ms);

// ---- the proxy process
class ProxyProcess {
 public:
  // Writes `config_json` to a file and starts kop-proxy on it; waits for "ready".
  ProxyProcess(const TempDir& dir, const std::string& config_json,
               const std::vector<std::string>& extra_args = {});
  ~ProxyProcess();
  bool started() const { return started_; }
  uint16_t port(const std::string& listener) const;
  uint16_t admin_port() const { return admin_port_; }
  // Rewrites the config (atomic rename) and sends SIGHUP; returns true when the proxy reported
  // "reloaded" (false when it reported "reload failed" or timed out).
  bool reload(const std::string& config_json, bool signal = true, int timeout_ms = 10000);
  // Waits for a line containing `needle` (counting from line index `from`).
  bool wait_for(const std::string& needle, int timeout_ms, size_t from = 0);
  size_t line_count() const;
  std::string output() const;
  // SIGTERM and wait; returns the exit status (or -1 after a SIGKILL on timeout).
  int terminate(int timeout_ms = 15000);
  int pid() const { return pid_; }

 private:
  void reader();
  std::string config_path_;
  int pid_ = -1;
  int out_fd_ = -1;
  bool started_ = false;
  uint16_t admin_port_ = 0;
  std::map<std::string, uint16_t> ports_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
  int exit_status_ = -2;
};

// ---- server programs
// A free loopback port (bound to 0, then released for the server to take).
uint16_t free_port();
// `program` is on PATH.
bool have(const std::string& program);

// A server program started by the test on `port` (its output discarded), ready once it accepts
// connections (within 10 s); stopped with SIGTERM and waited for when destroyed.
class ChildServer {
 public:
  ChildServer(const std::vector<std::string>& argv, uint16_t port);
  ~ChildServer();
  ChildServer(const ChildServer&) = delete;
  ChildServer& operator=(const ChildServer&) = delete;
  bool ready() const { return ready_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  uint16_t port_;
  int pid_ = -1;
  bool ready_ = false;
};

// ---- raw HTTP client
int connect_to(uint16_t port, int timeout_ms = 5000);
bool send_all(int fd, const std::string& data);
// Reads until the peer closes or `timeout_ms` passes without data.
std::string read_until_close(int fd, int timeout_ms = 5000);

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(const std::string& lower_name) const;
  bool ok() const { return status > 0; }
};
// Reads exactly one response (Content-Length, chunked, or close-delimited) from fd, using
// `pending` for bytes already read (leftovers stay there). `head_request`: no body.
Response read_response(int fd, std::string& pending, int timeout_ms = 5000,
                       bool head_request = false);
// Parses every response in `data` (for pipelining checks).
std::vector<Response> parse_responses(const std::string& data);

// One request on a fresh connection.
Response http(uint16_t port, const std::string& request, int timeout_ms = 5000);

}  // namespace kop::proxy::e2e
