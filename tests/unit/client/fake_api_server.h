// A scripted HTTP/1.1 server for testing the REST transport: a handler answers each request
// (status, headers, body, or a chunked stream), every request is recorded for assertions. Plain
// HTTP or TLS (optionally requiring a client certificate signed by a given CA). Binds 127.0.0.1
// port 0; one thread per connection; keep-alive.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <absl/time/time.h>

namespace kop::client::testing {

struct Request {
  std::string method;
  std::string target;  // path?query as sent
  std::string path;
  std::string raw_query;
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string client_cert_subject;  // TLS with client certificates only

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Reply {
  int code = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  // Chunked streaming: each chunk written and flushed on its own, `chunk_delay` apart.
  bool chunked = false;
  std::vector<std::string> chunks;
  absl::Duration chunk_delay = absl::ZeroDuration();
  // After the chunks, keep the response open until the client goes away or the server stops.
  bool hold_open = false;
};

using Handler = std::function<Reply(const Request&)>;

struct TlsFiles {
  std::string cert_pem;       // server certificate chain
  std::string key_pem;        // server key
  std::string client_ca_pem;  // when set, a client certificate signed by it is required
};

class FakeApiServer {
 public:
  explicit FakeApiServer(Handler handler, const TlsFiles* tls = nullptr);
  ~FakeApiServer();

  int port() const { return port_; }
  std::string url() const;
  std::vector<Request> requests() const;
  size_t request_count() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// Reads a file of tests/testdata/client (KOP_CLIENT_TESTDATA is set by meson).
std::string testdata(const std::string& name);

}  // namespace kop::client::testing
