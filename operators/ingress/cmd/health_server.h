// A tiny HTTP/1.1 server for kop-ingress' --metrics-addr: GET /metrics, /healthz, /readyz.
//
// Off the data path and scraped a few times a minute, so it is one thread serving one
// connection at a time with Connection: close. Handlers return (status, content type, body).
// Threading: start()/stop() from the owning thread; handlers run on the server's thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "kop/proxy/config.h"

namespace kop::ingress {

struct HttpAnswer {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HealthServer {
 public:
  using Handler = std::function<HttpAnswer()>;
  explicit HealthServer(std::map<std::string, Handler> routes) : routes_(std::move(routes)) {}
  ~HealthServer() { stop(); }

  absl::Status start(const proxy::SocketAddress& address);
  void stop();
  uint16_t port() const { return port_; }

 private:
  void serve();
  void handle(int fd);

  std::map<std::string, Handler> routes_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace kop::ingress
