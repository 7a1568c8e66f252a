#include "kop/manager/http_server.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kop::manager {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<bool> stopping{false};
};

HttpServer::HttpServer(std::string address) : address_(std::move(address)) {}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::handle(std::string path, Handler handler) {
  handlers_[std::move(path)] = std::move(handler);
}

absl::Status HttpServer::start() {
  auto colon = address_.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("address must be host:port");
  std::string host = address_.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  int port = 0;
  try {
    port = std::stoi(address_.substr(colon + 1));
  } catch (const std::exception&) {
    return absl::InvalidArgumentError("bad port in " + address_);
  }
  impl_ = std::make_shared<Impl>();
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return absl::InvalidArgumentError("bad address " + address_ + ": " + ec.message());
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError("listen on " + address_ + ": " + ec.message());
  port_ = impl_->acceptor.local_endpoint().port();
  thread_ = std::thread([impl = impl_, handlers = handlers_] {
    while (!impl->stopping.load()) {
      tcp::socket socket(impl->io);
      boost::system::error_code aec;
      impl->acceptor.accept(socket, aec);
      if (aec) {
        if (impl->stopping.load()) return;
        continue;
      }
      // A client that connects and sends nothing must not hold up probes for long.
      timeval tv{5, 0};
      setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, aec);
      if (aec) continue;
      std::string target(req.target());
      std::string path = target.substr(0, target.find('?'));
      HttpResponse out{404, "text/plain; charset=utf-8", "404 page not found\n"};
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        out = {405, "text/plain; charset=utf-8", "method not allowed\n"};
      } else if (auto it = handlers.find(path); it != handlers.end()) {
        try {
          out = it->second(target);
        } catch (const std::exception& e) {
          out = {500, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
        }
      }
      http::response<http::string_body> res{static_cast<http::status>(out.status), req.version()};
      res.set(http::field::content_type, out.content_type);
      res.keep_alive(false);
      res.body() = req.method() == http::verb::head ? std::string() : out.body;
      res.prepare_payload();
      http::write(socket, res, aec);
      socket.shutdown(tcp::socket::shutdown_both, aec);
    }
  });
  return absl::OkStatus();
}

void HttpServer::stop() {
  if (impl_ == nullptr) return;
  impl_->stopping = true;
  boost::system::error_code ec;
  // Closing the acceptor from another thread does not reliably wake a blocking accept():
  // connect to it once so the loop sees `stopping`.
  if (port_ != 0) {
    asio::io_context io;
    tcp::socket s(io);
    auto ep = impl_->acceptor.local_endpoint(ec);
    if (!ec) {
      if (ep.address().is_unspecified()) ep.address(asio::ip::make_address("127.0.0.1"));
      s.connect(ep, ec);
    }
  }
  if (thread_.joinable()) thread_.join();
  impl_->acceptor.close(ec);
  impl_.reset();
}

}  // namespace kop::manager
