#include "webhook_call.h"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// Boost 1.74's asio turns coroutines on for GCC only; clang 16 with libstdc++'s <coroutine> (the
// fuzz build, clang-tidy) supports them the same way.
#if defined(__clang__) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif
//
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

namespace kop::local::admission {

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Outcome {
  std::optional<std::string> body;
  std::string error;
};

asio::awaitable<void> exchange(asio::io_context& io, ssl::context& ctx, const Endpoint& ep,
                               const std::string& body, Outcome& out) {
  boost::system::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  tcp::resolver resolver(io);
  auto addresses = co_await resolver.async_resolve(ep.host, ep.port, token);
  if (ec) {
    out.error = "resolving " + ep.host + ": " + ec.message();
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  SSL_set_tlsext_host_name(stream.native_handle(), ep.server_name.c_str());
  // The certificate must name the host the API server reaches (an IP address or a DNS name).
  X509_VERIFY_PARAM* param = SSL_get0_param(stream.native_handle());
  boost::system::error_code ip_ec;
  asio::ip::make_address(ep.server_name, ip_ec);
  if (ip_ec) {
    X509_VERIFY_PARAM_set1_host(param, ep.server_name.c_str(), 0);
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(param, ep.server_name.c_str());
  }
  co_await beast::get_lowest_layer(stream).async_connect(addresses, token);
  if (ec) {
    out.error = "connecting to " + ep.host + ":" + ep.port + ": " + ec.message();
    co_return;
  }
  co_await stream.async_handshake(ssl::stream_base::client, token);
  if (ec) {
    out.error = "TLS handshake with " + ep.host + ":" + ep.port + ": " + ec.message();
    co_return;
  }
  http::request<http::string_body> req{http::verb::post, ep.path, 11};
  req.set(http::field::host, ep.server_name);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::accept, "application/json");
  req.set(http::field::user_agent, "kop-local");
  req.body() = body;
  req.prepare_payload();
  co_await http::async_write(stream, req, token);
  if (ec) {
    out.error = "sending the review: " + ec.message();
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(size_t{16} << 20);
  co_await http::async_read(stream, buffer, parser, token);
  if (ec) {
    out.error = "reading the answer: " + ec.message();
    co_return;
  }
  auto& res = parser.get();
  if (res.result_int() != 200) {
    out.error = "expected response code 200, got " + std::to_string(res.result_int()) + ": " +
                res.body().substr(0, 512);
    co_return;
  }
  // No TLS close_notify wait: the answer is in, and a peer slow to close must not hold it.
  out.body = std::move(res.body());
}

}  // namespace

absl::StatusOr<std::string> post_review(const Endpoint& endpoint, const std::string& body,
                                        absl::Duration timeout) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (endpoint.ca_bundle.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.add_certificate_authority(asio::buffer(endpoint.ca_bundle), ec);
  }
  if (ec) return absl::InvalidArgumentError("caBundle: " + ec.message());
  asio::io_context io;
  Outcome out;
  asio::co_spawn(io, exchange(io, ctx, endpoint, body, out), asio::detached);
  io.run_for(absl::ToChronoNanoseconds(timeout));
  if (out.body) return std::move(*out.body);
  if (!out.error.empty()) return absl::UnavailableError(out.error);
  return absl::DeadlineExceededError("no answer within " + absl::FormatDuration(timeout));
}

}  // namespace kop::local::admission
