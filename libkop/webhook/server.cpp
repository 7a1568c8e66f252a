#include "kop/webhook/server.h"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// Boost 1.74's asio turns coroutines on for GCC only; clang 16 with libstdc++'s <coroutine> (the
// fuzz build, clang-tidy) supports them the same way.
#if defined(__clang__) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif
//
#include <absl/base/thread_annotations.h>
#include <absl/strings/match.h>
#include <absl/synchronization/mutex.h>
#include <openssl/ssl.h>
#include "text.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "kop/log/log.h"
#include "kop/manager/manager.h"

namespace kop::webhook {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

const log::Logger& logger() {
  static const log::Logger l = log::named("webhook");
  return l;
}

std::chrono::steady_clock::duration to_chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// A TLS context for one certificate generation: TLS 1.2 and newer, no compression.
absl::StatusOr<std::shared_ptr<ssl::context>> make_tls_context(const Certificate& cert) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                   ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain(asio::buffer(cert.cert_pem), ec);
  if (ec) return absl::InvalidArgumentError("serving certificate: " + ec.message());
  ctx->use_private_key(asio::buffer(cert.key_pem), ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError("serving key: " + ec.message());
  return ctx;
}

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

Reply text(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body)};
}

}  // namespace

struct Server::Impl {
  // First member, so destroyed last: its destructor frees the pending coroutine frames, which
  // use the other members only while running.
  asio::io_context io;
  tcp::acceptor acceptor{io};
  ServerOptions options;
  std::map<std::string, Route> routes;
  metrics::CounterVec* requests = nullptr;
  metrics::HistogramVec* latency = nullptr;
  metrics::GaugeVec* in_flight = nullptr;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};

  absl::Mutex tls_mu;
  uint64_t tls_generation ABSL_GUARDED_BY(tls_mu) = 0;
  std::shared_ptr<ssl::context> tls ABSL_GUARDED_BY(tls_mu);
  std::string tls_error ABSL_GUARDED_BY(tls_mu);

  // The TLS context of the source's current certificate (rebuilt when it changed).
  std::shared_ptr<ssl::context> tls_context() {
    auto cert = options.certificates->current();
    absl::MutexLock lock(&tls_mu);
    if (!cert.ok()) {
      std::string err(cert.status().message());
      if (err != tls_error) {
        // Unavailable: not yet (a self-managed certificate before its first pass), no error.
        if (absl::IsUnavailable(cert.status())) {
          logger().info("waiting for the webhook serving certificate", "reason", err);
        } else {
          logger().error(cert.status(), "no webhook serving certificate");
        }
      }
      tls_error = std::move(err);
      return tls;  // keep serving the last good one, if any
    }
    if ((*cert)->generation == tls_generation && tls) return tls;
    auto ctx = make_tls_context(**cert);
    if (!ctx.ok()) {
      logger().error(ctx.status(), "webhook serving certificate refused");
      return tls;
    }
    tls = std::move(*ctx);
    tls_generation = (*cert)->generation;
    tls_error.clear();
    return tls;
  }

  Reply respond(const http::request<http::string_body>& req) {
    std::string_view target(req.target().data(), req.target().size());
    std::string path(target.substr(0, target.find('?')));
    auto it = routes.find(path);
    if (it == routes.end()) return text(404, detail::cat("no webhook at ", path, "\n"));
    if (req.method() != http::verb::post) return text(405, "only POST\n");
    auto ct = req[http::field::content_type];
    std::string_view content_type(ct.data(), ct.size());
    if (!absl::StartsWith(absl::string_view(content_type.data(), content_type.size()),
                          "application/json")) {
      return text(400, detail::cat("contentType=", content_type, ", expected application/json\n"));
    }
    if (req.body().empty()) return text(400, "request body is empty\n");
    auto& gauge = in_flight->with({path});
    gauge.inc();
    auto start = absl::Now();
    Reply reply;
    try {
      auto [status, body] = it->second(req.body());
      reply = {status, "application/json", std::move(body)};
    } catch (const std::exception& e) {
      logger().error("webhook handler threw", "webhook", path, "exception", e.what());
      reply = text(500, detail::cat("webhook handler failed: ", e.what(), "\n"));
    }
    latency->with({path}).observe(absl::ToDoubleSeconds(absl::Now() - start));
    requests->with({path, std::to_string(reply.status)}).inc();
    gauge.dec();
    return reply;
  }

  asio::awaitable<void> session(tcp::socket socket, std::shared_ptr<ssl::context> ctx) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *ctx);
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    beast::get_lowest_layer(stream).expires_after(to_chrono(options.handshake_timeout));
    co_await stream.async_handshake(ssl::stream_base::server, token);
    if (ec) co_return;
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.max_request_bytes);
      beast::get_lowest_layer(stream).expires_after(to_chrono(options.idle_timeout));
      co_await http::async_read(stream, buffer, parser, token);
      bool too_large = ec == http::error::body_limit;
      if (ec && !too_large) break;
      Reply reply = too_large ? text(413, "request body too large\n") : respond(parser.get());
      bool keep_alive = !too_large && parser.get().keep_alive();
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      res.set(http::field::content_type, reply.content_type);
      res.keep_alive(keep_alive);
      res.body() = std::move(reply.body);
      res.prepare_payload();
      beast::get_lowest_layer(stream).expires_after(to_chrono(options.handshake_timeout));
      co_await http::async_write(stream, res, token);
      if (ec || !keep_alive) break;
    }
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
    co_await stream.async_shutdown(token);
  }

  asio::awaitable<void> accept_loop() {
    boost::system::error_code ec;
    for (;;) {
      tcp::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (stopping.load()) co_return;
      if (ec) {
        // Out of descriptors or an aborted handshake: wait a little rather than spin.
        asio::steady_timer pause(io, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      auto ctx = tls_context();
      if (!ctx) continue;  // no certificate yet: the connection is closed
      asio::co_spawn(io, session(std::move(socket), std::move(ctx)), asio::detached);
    }
  }
};

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() {
  stop();
}

void Server::add_route(std::string path, Route route) {
  routes_[std::move(path)] = std::move(route);
}

namespace {

std::pair<int, std::string> admission_error(const absl::Status& st) {
  api::AdmissionResponse bad;
  bad.allowed = false;
  bad.code = 400;
  bad.reason = "BadRequest";
  bad.message = std::string(st.message());
  return {400, api::admission_review_json(bad)};
}

std::pair<int, std::string> admit(std::string_view body, const AdmissionHandler& handler) {
  auto request = api::parse_admission_review(body);
  if (!request.ok()) {
    logger().warn("malformed admission review", "error", request.status());
    return admission_error(request.status());
  }
  api::AdmissionResponse response = handler(*request);
  response.uid = request->uid;
  return {200, api::admission_review_json(response, request->review_api_version)};
}

}  // namespace

void Server::register_admission(std::string path, AdmissionHandler handler) {
  add_route(std::move(path),
            [handler = std::move(handler)](std::string_view body) { return admit(body, handler); });
}

void Server::register_validator(std::string path, std::shared_ptr<Validator> validator) {
  register_admission(std::move(path),
                     [validator = std::move(validator)](const api::AdmissionRequest& r) {
                       return validate(*validator, r);
                     });
}

void Server::register_defaulter(std::string path, std::shared_ptr<Defaulter> defaulter) {
  register_admission(std::move(path),
                     [defaulter = std::move(defaulter)](const api::AdmissionRequest& r) {
                       return mutate(*defaulter, r);
                     });
}

void Server::register_converter(std::string path, std::shared_ptr<Converter> converter) {
  add_route(std::move(path), [converter = std::move(converter)](std::string_view body) {
    auto request = api::parse_conversion_review(body);
    if (!request.ok()) {
      logger().warn("malformed conversion review", "error", request.status());
      api::ConversionResponse bad;
      bad.result = request.status();
      return std::pair<int, std::string>(400, api::conversion_review_json(bad));
    }
    return std::pair<int, std::string>(
        200,
        api::conversion_review_json(convert(*converter, *request), request->review_api_version));
  });
}

void Server::add_to(manager::Manager& manager) {
  if (options_.registry == nullptr) options_.registry = &manager.registry();
  manager.add_runnable(
      "webhook-server", [this] { return start(); },
      [this](absl::Duration) {
        stop();
        return absl::OkStatus();
      },
      /*leader_only=*/false);
  manager.add_readyz_check("webhook-server", [this] { return ready(); });
}

absl::Status Server::start() {
  if (impl_ != nullptr) return absl::FailedPreconditionError("webhook server already started");
  if (options_.certificates == nullptr) {
    return absl::InvalidArgumentError(
        "webhook server: no serving certificate configured: set ServerOptions::certificates to "
        "a SelfManagedCertificates (kop/webhook/self_managed.h: the operator makes, shares and "
        "rotates its own) or a FileCertificates(DIR) (tls.crt and tls.key in DIR, e.g. "
        "cert-manager's Secret mounted there)");
  }
  if (absl::Status st = options_.certificates->check_configuration(); !st.ok()) {
    return absl::Status(st.code(), detail::cat("webhook server: ", st.message()));
  }
  auto colon = options_.address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("webhook address must be host:port: " + options_.address);
  }
  std::string host = options_.address.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = -1;
  auto port_text = std::string_view(options_.address).substr(colon + 1);
  if (!port_text.empty() && port_text.size() <= 5 &&
      port_text.find_first_not_of("0123456789") == std::string_view::npos) {
    port = std::stoi(std::string(port_text));
  }
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError("bad port in webhook address " + options_.address);
  }
  auto impl = std::make_shared<Impl>();
  impl->options = options_;
  impl->routes = routes_;
  metrics::Registry& reg =
      options_.registry != nullptr ? *options_.registry : metrics::default_registry();
  impl->requests = &reg.counter_vec("controller_runtime_webhook_requests_total",
                                    "Total number of admission requests by HTTP status code.",
                                    {"webhook", "code"});
  impl->latency =
      &reg.histogram_vec("controller_runtime_webhook_latency_seconds",
                         "Histogram of the latency of processing admission requests", {"webhook"});
  impl->in_flight =
      &reg.gauge_vec("controller_runtime_webhook_requests_in_flight",
                     "Current number of admission requests being served.", {"webhook"});
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return absl::InvalidArgumentError("bad webhook address " + options_.address);
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return absl::UnavailableError("webhook server: listen on " + options_.address + ": " +
                                  ec.message());
  port_ = impl->acceptor.local_endpoint().port();
  impl->tls_context();  // load the certificate now (one that comes later is waited for)
  asio::co_spawn(impl->io, impl->accept_loop(), asio::detached);
  int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) {
    impl->threads.emplace_back([raw = impl.get()] { raw->io.run(); });
  }
  impl_ = std::move(impl);
  logger().info("webhook server started", "address", options_.address, "port", port_, "paths",
                routes_.size());
  return absl::OkStatus();
}

void Server::stop() {
  if (impl_ == nullptr) return;
  impl_->stopping = true;
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_.reset();
}

absl::Status Server::ready() const {
  if (impl_ == nullptr) return absl::UnavailableError("webhook server not started");
  // The source is asked as a new connection would ask it: a certificate that arrives after the
  // start (a self-managed one is made as the manager starts) makes the server ready without
  // waiting for a first connection, which the API server sends only once the pod is ready.
  if (impl_->tls_context() != nullptr) return absl::OkStatus();
  absl::MutexLock lock(&impl_->tls_mu);
  return absl::UnavailableError(impl_->tls_error.empty()
                                    ? "no serving certificate yet"
                                    : "no serving certificate: " + impl_->tls_error);
}

}  // namespace kop::webhook
