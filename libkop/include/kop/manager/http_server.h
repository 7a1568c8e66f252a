// kop/manager/http_server.h: the manager's small HTTP/1.1 server for /metrics, /healthz and
// /readyz (Boost.Asio + Boost.Beast's parser and serializer: both come with the Boost that
// cpprestsdk already needs, and a blocking accept loop on one thread is all probes and scrapes
// need).
//
// Serves GET (and HEAD) on registered exact paths; anything else is 404. One thread accepts and
// serves connections one at a time (requests are tiny and answered from memory), with
// keep-alive off.
//
// Threading: handle() before start(); start()/stop() from one thread; handlers run on the
// server's thread.
#pragma once

#include <absl/status/status.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

namespace kop::manager {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const std::string& target)>;

  // `address`: "host:port"; port 0 picks a free one.
  explicit HttpServer(std::string address);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `path` without query (e.g. "/readyz"); the handler gets the full target ("/readyz?verbose").
  void handle(std::string path, Handler handler);
  absl::Status start();
  void stop();
  int port() const { return port_; }

  struct Impl;

 private:
  std::string address_;
  std::map<std::string, Handler> handlers_;
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace kop::manager
