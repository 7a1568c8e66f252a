#include "fake_api_server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <fstream>
#include <sstream>

#include <absl/time/clock.h>

namespace kop::client::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

const char* reason_phrase(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

// A connection's stream: plain TCP or TLS over it.
struct Conn {
  tcp::socket sock;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
  explicit Conn(tcp::socket s) : sock(std::move(s)) {}
  template <class Buf>
  size_t read_some(const Buf& b, boost::system::error_code& ec) {
    return tls ? tls->read_some(b, ec) : sock.read_some(b, ec);
  }
  template <class Buf>
  void write(const Buf& b, boost::system::error_code& ec) {
    if (tls)
      asio::write(*tls, b, ec);
    else
      asio::write(sock, b, ec);
  }
};

struct FakeApiServer::Impl {
  Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::unique_ptr<asio::ssl::context> ssl;
  std::thread accept_thread;
  mutable std::mutex mu;
  std::vector<Request> requests;
  std::vector<std::thread> conn_threads;
  std::vector<std::shared_ptr<Conn>> conns;
  std::atomic<bool> stopping{false};

  void serve(const std::shared_ptr<Conn>& c) {
    boost::system::error_code ec;
    std::string client_subject;
    if (ssl) {
      c->tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(c->sock, *ssl);
      c->tls->handshake(asio::ssl::stream_base::server, ec);
      if (ec) return;
      if (X509* peer = SSL_get_peer_certificate(c->tls->native_handle())) {
        char buf[256];
        X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
        client_subject = buf;
        X509_free(peer);
      }
    }
    std::string in;
    char buf[16384];
    while (!stopping) {
      // Headers.
      size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        size_t n = c->read_some(asio::buffer(buf), ec);
        if (ec || n == 0) return;
        in.append(buf, n);
      }
      Request req;
      req.client_cert_subject = client_subject;
      std::istringstream hs(in.substr(0, end));
      std::string line;
      std::getline(hs, line);
      std::istringstream rl(line);
      std::string version;
      rl >> req.method >> req.target >> version;
      while (std::getline(hs, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        req.headers[lower(line.substr(0, colon))] = v;
      }
      in.erase(0, end + 4);
      size_t len = 0;
      if (auto it = req.headers.find("content-length"); it != req.headers.end())
        len = std::stoul(it->second);
      if (lower(req.header("transfer-encoding")) == "chunked") {
        // Request bodies in chunks (cpprest may send them so): decode.
        for (;;) {
          size_t le;
          while ((le = in.find("\r\n")) == std::string::npos) {
            size_t n = c->read_some(asio::buffer(buf), ec);
            if (ec || n == 0) return;
            in.append(buf, n);
          }
          size_t sz = std::stoul(in.substr(0, le), nullptr, 16);
          while (in.size() < le + 2 + sz + 2) {
            size_t n = c->read_some(asio::buffer(buf), ec);
            if (ec || n == 0) return;
            in.append(buf, n);
          }
          req.body += in.substr(le + 2, sz);
          in.erase(0, le + 2 + sz + 2);
          if (sz == 0) break;
        }
      } else {
        while (in.size() < len) {
          size_t n = c->read_some(asio::buffer(buf), ec);
          if (ec || n == 0) return;
          in.append(buf, n);
        }
        req.body = in.substr(0, len);
        in.erase(0, len);
      }
      auto q = req.target.find('?');
      req.path = req.target.substr(0, q);
      if (q != std::string::npos) {
        req.raw_query = req.target.substr(q + 1);
        std::istringstream qs(req.raw_query);
        std::string kv;
        while (std::getline(qs, kv, '&')) {
          auto eq = kv.find('=');
          req.query[url_decode(kv.substr(0, eq))] =
              eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1));
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        requests.push_back(req);
      }
      Reply r = handler(req);
      std::string head =
          "HTTP/1.1 " + std::to_string(r.code) + " " + reason_phrase(r.code) + "\r\n";
      if (!r.content_type.empty()) head += "Content-Type: " + r.content_type + "\r\n";
      for (const auto& [k, v] : r.headers) head.append(k).append(": ").append(v).append("\r\n");
      if (r.chunked) {
        head += "Transfer-Encoding: chunked\r\n\r\n";
        c->write(asio::buffer(head), ec);
        if (ec) return;
        for (const auto& chunk : r.chunks) {
          if (r.chunk_delay > absl::ZeroDuration()) absl::SleepFor(r.chunk_delay);
          std::ostringstream cs;
          cs << std::hex << chunk.size() << "\r\n" << chunk << "\r\n";
          c->write(asio::buffer(cs.str()), ec);
          if (ec) return;
        }
        if (r.hold_open) {
          // Until the client goes away (its cancel closes the connection) or we stop.
          while (!stopping) {
            size_t n = c->read_some(asio::buffer(buf), ec);
            if (ec || n == 0) return;
          }
          return;
        }
        c->write(asio::buffer(std::string("0\r\n\r\n")), ec);
        if (ec) return;
      } else {
        head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n";
        c->write(asio::buffer(head + r.body), ec);
        if (ec) return;
      }
    }
  }
};

FakeApiServer::FakeApiServer(Handler handler, const TlsFiles* tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  if (tls) {
    impl_->ssl = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    impl_->ssl->use_certificate_chain(asio::buffer(tls->cert_pem));
    impl_->ssl->use_private_key(asio::buffer(tls->key_pem), asio::ssl::context::pem);
    if (!tls->client_ca_pem.empty()) {
      impl_->ssl->add_certificate_authority(asio::buffer(tls->client_ca_pem));
      impl_->ssl->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    }
  }
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept_thread = std::thread([impl = impl_.get()] {
    while (!impl->stopping) {
      boost::system::error_code ec;
      tcp::socket s(impl->io);
      impl->acceptor.accept(s, ec);
      if (ec || impl->stopping) return;
      auto c = std::make_shared<Conn>(std::move(s));
      std::lock_guard<std::mutex> lock(impl->mu);
      impl->conns.push_back(c);
      impl->conn_threads.emplace_back([impl, c] { impl->serve(c); });
    }
  });
}

FakeApiServer::~FakeApiServer() {
  stop();
}

void FakeApiServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  boost::system::error_code ec;
  impl_->acceptor.cancel(ec);
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  impl_->acceptor.close(ec);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto& c : impl_->conns) ::shutdown(c->sock.native_handle(), SHUT_RDWR);
    threads.swap(impl_->conn_threads);
  }
  for (auto& t : threads) t.join();
}

std::string FakeApiServer::url() const {
  return std::string(impl_->ssl ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<Request> FakeApiServer::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}

size_t FakeApiServer::request_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests.size();
}

std::string testdata(const std::string& name) {
  std::ifstream in(std::string(KOP_CLIENT_TESTDATA) + "/" + name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace kop::client::testing
