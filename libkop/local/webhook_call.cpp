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
#include <absl/strings/escaping.h>
#include <openssl/rand.h>
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

absl::StatusOr<Endpoint> endpoint_of(const StoredReader& store, const JsonValue& config,
                                     const std::string& query) {
  Endpoint ep;
  std::string_view ca_b64 = json::string_or_empty(&config, "caBundle");
  if (!ca_b64.empty() &&
      !absl::Base64Unescape(absl::string_view(ca_b64.data(), ca_b64.size()), &ep.ca_bundle)) {
    return absl::InvalidArgumentError("clientConfig.caBundle is not base64");
  }
  std::string_view url = json::string_or_empty(&config, "url");
  if (!url.empty()) {
    if (url.substr(0, 8) != "https://") {
      return absl::InvalidArgumentError("clientConfig.url must be https://");
    }
    std::string_view rest = url.substr(8);
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    ep.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (!authority.empty() && authority.front() == '[') {
      size_t close = authority.find(']');
      if (close == std::string_view::npos)
        return absl::InvalidArgumentError("bad clientConfig.url");
      ep.host = std::string(authority.substr(1, close - 1));
      std::string_view after = authority.substr(close + 1);
      ep.port = after.size() > 1 && after.front() == ':' ? std::string(after.substr(1)) : "443";
    } else {
      size_t colon = authority.rfind(':');
      ep.host = std::string(authority.substr(0, colon));
      ep.port = colon == std::string_view::npos ? "443" : std::string(authority.substr(colon + 1));
    }
    if (ep.host.empty()) return absl::InvalidArgumentError("clientConfig.url has no host");
    ep.server_name = ep.host;
    ep.path += (ep.path.find('?') == std::string::npos ? "?" : "&") + query;
    return ep;
  }
  const JsonValue* svc = json::find(config, "service");
  if (svc == nullptr || !svc->IsObject()) {
    return absl::InvalidArgumentError("clientConfig needs url or service");
  }
  std::string ns(json::string_or_empty(svc, "namespace"));
  std::string name(json::string_or_empty(svc, "name"));
  int64_t port = json::get_int(svc, "port").value_or(443);
  std::string path(json::string_or_empty(svc, "path"));
  ep.path = (path.empty() ? "/" : path) + "?" + query;
  ep.server_name = name + "." + ns + ".svc";
  auto svc_type = store.type("", "v1", "services");
  auto service = store.stored(*svc_type, ns, name);
  if (service == nullptr)
    return absl::UnavailableError("service " + ns + "/" + name + " not found");
  std::string port_name;
  if (const JsonValue* ports = json::path(service->doc(), {"spec", "ports"});
      ports && ports->IsArray()) {
    for (const auto& p : ports->GetArray()) {
      if (json::get_int(&p, "port") == port) port_name = json::string_or_empty(&p, "name");
    }
  }
  auto slice_type = store.type("discovery.k8s.io", "v1", "endpointslices");
  if (slice_type != nullptr) {
    for (const auto& slice : store.stored(*slice_type)) {
      if (slice->namespace_() != ns || slice->label("kubernetes.io/service-name") != name) continue;
      std::string slice_port;
      if (const JsonValue* ports = json::find(slice->doc(), "ports"); ports && ports->IsArray()) {
        for (const auto& p : ports->GetArray()) {
          if (ports->Size() == 1 || json::string_or_empty(&p, "name") == port_name) {
            if (auto n = json::get_int(&p, "port")) slice_port = std::to_string(*n);
          }
        }
      }
      const JsonValue* eps = json::find(slice->doc(), "endpoints");
      if (slice_port.empty() || eps == nullptr || !eps->IsArray()) continue;
      for (const auto& e : eps->GetArray()) {
        const JsonValue* addrs = json::find(e, "addresses");
        if (json::path(e, {"conditions", "ready"}) != nullptr &&
            json::get_bool(json::find(e, "conditions"), "ready") == false) {
          continue;
        }
        if (addrs != nullptr && addrs->IsArray() && !addrs->Empty()) {
          ep.host = std::string(json::as_string_view((*addrs)[0]));
          ep.port = slice_port;
          return ep;
        }
      }
    }
  }
  return absl::UnavailableError(
      "service " + ns + "/" + name +
      " has no ready endpoint in kop-local (it has no cluster network: store an EndpointSlice "
      "labelled kubernetes.io/service-name=" +
      name + " whose address is where the webhook listens)");
}

std::string review_uid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string hex = absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(b), 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

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
