// Socket and TLS layer of the HTTP front (Boost.Beast, synchronous, one thread per connection).
// The REST semantics live in rest.cpp.
#include <utility>  // before asio (Boost 1.74 awaitable.hpp needs it)

#include "kop/local/http_front.h"

#include <absl/base/thread_annotations.h>
#include <absl/strings/escaping.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <set>
#include <thread>

#include "kop/certs/cert_authority.h"
#include "rest.h"

namespace kop::local {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// The throwaway CA and serving certificate made when the options carry none: a year, as a
// development server's certificate is never rotated.
constexpr absl::Duration kGeneratedValidity = absl::Hours(24 * 365);

std::string b64(std::string_view in) {
  return absl::Base64Escape(absl::string_view(in.data(), in.size()));
}

// True when the peer has closed its side (readable with nothing to read).
bool peer_closed(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

}  // namespace

struct HttpFront::Impl {
  std::shared_ptr<Store> store;
  HttpFrontOptions opts;
  asio::io_context ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::ssl::context> ssl;
  std::string ca;
  int port = 0;
  std::string host;
  std::atomic<bool> stopping{false};
  std::thread accept_thread;
  absl::Mutex mu;
  std::set<int> fds ABSL_GUARDED_BY(mu);  // open connections, to shut down on stop
  int active ABSL_GUARDED_BY(mu) = 0;     // connection threads still running (they are detached)
  rest::Options rest_opts;

  template <class Stream>
  void serve(Stream& stream, int fd) {
    beast::flat_buffer buf;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(std::uint64_t{64} * 1024 * 1024);
      beast::error_code ec;
      http::read(stream, buf, parser, ec);
      if (ec) return;
      auto& req = parser.get();
      rest::Request r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (auto& h : req) {
        std::string name(h.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(h.value());
      }
      r.body = std::move(req.body());
      bool keep = req.keep_alive();
      rest::Response resp = rest::handle(*store, rest_opts, r);
      if (resp.watch) {
        stream_watch(stream, fd, resp, req.version());
        return;
      }
      http::response<http::string_body> res{static_cast<http::status>(resp.status), req.version()};
      res.set(http::field::content_type, resp.content_type);
      res.set(http::field::cache_control, "no-cache, private");
      for (auto& [k, v] : resp.headers) res.insert(k, v);  // Warning may repeat
      res.body() = std::move(resp.body);
      res.keep_alive(keep);
      res.prepare_payload();
      http::write(stream, res, ec);
      if (ec || !keep || stopping) return;
    }
  }

  template <class Stream>
  void stream_watch(Stream& stream, int fd, rest::Response& resp, unsigned version) {
    http::response<http::empty_body> res{http::status::ok, version};
    res.set(http::field::content_type, resp.watch_protobuf
                                           ? "application/vnd.kubernetes.protobuf;stream=watch"
                                           : "application/json");
    res.set(http::field::cache_control, "no-cache, private");
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    beast::error_code ec;
    http::write_header(stream, sr, ec);
    if (ec) return;
    while (!stopping) {
      auto ev = resp.watch->next(absl::Milliseconds(200));
      if (!ev) {
        if (resp.watch->ended() || peer_closed(fd)) break;
        continue;
      }
      std::string line = resp.watch_protobuf
                             ? rest::encode_event_protobuf(*ev)
                             : rest::encode_event(*ev, *resp.watch_type, resp.watch_table);
      asio::write(stream, http::make_chunk(asio::buffer(line)), ec);
      if (ec) break;
    }
    resp.watch->stop();
    asio::write(stream, http::make_chunk_last(), ec);
  }

  void on_connection(tcp::socket sock) {
    int fd = sock.native_handle();
    {
      absl::MutexLock l(&mu);
      fds.insert(fd);
    }
    beast::error_code ec;
    if (ssl) {
      beast::ssl_stream<tcp::socket&> s(sock, *ssl);
      s.handshake(asio::ssl::stream_base::server, ec);
      if (!ec) {
        serve(s, fd);
        s.shutdown(ec);
      }
    } else {
      serve(sock, fd);
    }
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
    absl::MutexLock l(&mu);
    fds.erase(fd);
  }

  void accept_loop() {
    while (!stopping) {
      beast::error_code ec;
      tcp::socket sock(ioc);
      acceptor->accept(sock, ec);
      if (ec || stopping) {
        if (stopping) return;
        continue;
      }
      if (store->faults().refusing_connections()) {
        // Reset: SO_LINGER 0 then close, as a refused/broken connection looks to a client.
        sock.set_option(asio::socket_base::linger(true, 0), ec);
        sock.close(ec);
        continue;
      }
      {
        absl::MutexLock l(&mu);
        ++active;
      }
      std::thread([this, s = std::move(sock)]() mutable {
        on_connection(std::move(s));
        absl::MutexLock l(&mu);
        --active;  // unlocking wakes stop()'s AwaitWithTimeout
      }).detach();
    }
  }
};

HttpFront::HttpFront(std::shared_ptr<Store> store, HttpFrontOptions options)
    : impl_(std::make_shared<Impl>()) {
  impl_->store = std::move(store);
  impl_->opts = std::move(options);
}

HttpFront::~HttpFront() {
  stop();
}

absl::Status HttpFront::start() {
  auto& im = *impl_;
  std::string listen = im.opts.listen;
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return absl::InvalidArgumentError("--listen must be HOST:PORT, got " + listen);
  im.host = listen.substr(0, colon);
  if (im.host.size() > 2 && im.host.front() == '[') im.host = im.host.substr(1, im.host.size() - 2);
  int port = std::atoi(listen.c_str() + colon + 1);
  try {
    auto addr = asio::ip::make_address(im.host.empty() ? "0.0.0.0" : im.host);
    im.acceptor = std::make_unique<tcp::acceptor>(im.ioc);
    tcp::endpoint ep(addr, static_cast<unsigned short>(port));
    im.acceptor->open(ep.protocol());
    im.acceptor->set_option(asio::socket_base::reuse_address(true));
    im.acceptor->bind(ep);
    im.acceptor->listen(asio::socket_base::max_listen_connections);
    im.port = im.acceptor->local_endpoint().port();
  } catch (const std::exception& e) {
    return absl::UnavailableError("kop-local cannot listen on " + listen + ": " + e.what());
  }
  if (im.opts.tls) {
    std::string cert = im.opts.cert_pem, key = im.opts.key_pem;
    im.ca = im.opts.ca_pem;
    if (cert.empty()) {
      std::vector<std::string> ips = {"127.0.0.1", "::1"};
      if (!im.host.empty() && im.host != "127.0.0.1" && im.host != "::1" && im.host != "0.0.0.0")
        ips.push_back(im.host);
      auto ca = certs::create_ca("kop-local-ca", kGeneratedValidity);
      if (!ca.ok()) return ca.status();
      auto serving = certs::create_serving_certificate(*ca, {"localhost"}, ips, kGeneratedValidity);
      if (!serving.ok()) return serving.status();
      cert = serving->cert_pem;
      key = serving->key_pem;
      im.ca = ca->cert_pem;
    }
    try {
      im.ssl = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      im.ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1);
      im.ssl->use_certificate_chain(asio::buffer(cert));
      im.ssl->use_private_key(asio::buffer(key), asio::ssl::context::pem);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(std::string("bad serving certificate: ") + e.what());
    }
  }
  im.rest_opts.token = im.opts.token;
  im.rest_opts.server_address = im.host + ":" + std::to_string(im.port);
  im.accept_thread = std::thread([p = impl_.get()] { p->accept_loop(); });
  return absl::OkStatus();
}

void HttpFront::stop() {
  auto& im = *impl_;
  if (im.stopping.exchange(true)) return;
  if (im.acceptor) {
    beast::error_code ec;
    ::shutdown(im.acceptor->native_handle(), SHUT_RDWR);
    im.acceptor->close(ec);
  }
  if (im.accept_thread.joinable()) im.accept_thread.join();
  // Wake every connection thread (blocked reads fail, watches see `stopping`) and wait for them:
  // they use this Impl.
  absl::MutexLock l(&im.mu);
  while (im.active > 0) {
    for (int fd : im.fds) ::shutdown(fd, SHUT_RDWR);
    im.mu.AwaitWithTimeout(absl::Condition(
                               +[](int* active) { return *active == 0; }, &im.active),
                           absl::Milliseconds(100));
  }
}

int HttpFront::port() const {
  return impl_->port;
}

std::string HttpFront::url() const {
  std::string host = impl_->host.empty() || impl_->host == "0.0.0.0" ? "127.0.0.1" : impl_->host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(impl_->opts.tls ? "https://" : "http://") + host + ":" +
         std::to_string(impl_->port);
}

const std::string& HttpFront::ca_pem() const {
  return impl_->ca;
}

std::string HttpFront::kubeconfig(std::string_view context_name) const {
  std::string ctx(context_name);
  std::string y = "apiVersion: v1\nkind: Config\nclusters:\n- name: " + ctx +
                  "\n  cluster:\n    server: " + url() + "\n";
  if (!impl_->ca.empty()) y += "    certificate-authority-data: " + b64(impl_->ca) + "\n";
  y += "users:\n- name: " + ctx + "\n  user:\n";
  y += impl_->opts.token.empty() ? "    {}\n" : "    token: " + impl_->opts.token + "\n";
  y += "contexts:\n- name: " + ctx + "\n  context:\n    cluster: " + ctx + "\n    user: " + ctx +
       "\n    namespace: default\n";
  y += "current-context: " + ctx + "\n";
  return y;
}

}  // namespace kop::local
