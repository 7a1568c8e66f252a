// kop/webhook/server.h: the HTTPS server that answers the API server's admission and conversion
// reviews (controller-runtime's webhook.Server).
//
//   auto certs =
//   std::make_shared<kop::webhook::FileCertificates>("/tmp/k8s-webhook-server/serving-certs");
//   kop::webhook::Server server({.address = "0.0.0.0:9443", .certificates = certs});
//   server.register_validator("/validate-website", std::make_shared<WebsiteValidator>());
//   server.register_defaulter("/mutate-website", std::make_shared<WebsiteDefaulter>());
//   server.register_converter("/convert", std::make_shared<WebsiteConverter>());
//   server.add_to(manager);  // runs on every replica, leader or not
//
// Serving: TLS 1.2 or newer only, HTTP/1.1 with keep-alive (the API server reuses connections),
// POST of application/json to a registered path. A body that is not a well-formed review of the
// path's kind is answered 400 with a review whose status says why (never a crash: the parser is
// fuzzed); an unknown path 404, another method 405, a body over max_request_bytes 413, a handler
// that throws 500. The certificate is asked of `certificates` on every new connection, so a
// rotated one is served from the next connection on.
//
// Metrics (controller-runtime's names, on the registry given or the manager's):
//   controller_runtime_webhook_requests_total{webhook,code}   counter, per path and HTTP code
//   controller_runtime_webhook_latency_seconds{webhook}        histogram
//   controller_runtime_webhook_requests_in_flight{webhook}     gauge
//
// Threads: register_*() and add_to() before start(); start()/stop() from one thread. Handlers
// run on the server's `threads` threads, several at once.
#pragma once

#include <absl/status/status.h>
#include <absl/time/time.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "kop/api/review.h"
#include "kop/metrics/registry.h"
#include "kop/webhook/admission.h"
#include "kop/webhook/certificates.h"
#include "kop/webhook/conversion.h"

namespace kop::manager {
class Manager;
}

namespace kop::webhook {

struct ServerOptions {
  // host:port to listen on. Defaults to "0.0.0.0:9443" (controller-runtime's port). Port 0
  // picks a free one (port()).
  std::string address = "0.0.0.0:9443";
  // The serving certificate. Required.
  std::shared_ptr<CertificateSource> certificates{};
  // Where the metrics go. Defaults to (nullptr means) the manager's registry with add_to(),
  // else the default registry.
  metrics::Registry* registry = nullptr;
  // Threads serving connections and running handlers. Defaults to 2.
  int threads = 2;
  // Largest request body. Defaults to 7 MiB (controller-runtime's limit; the API server's
  // objects are at most 3 MiB, a review of an update carries two).
  size_t max_request_bytes = size_t{7} << 20;
  // How long a connection may take to complete its TLS handshake, and then to send each
  // request (a keep-alive connection idle that long is closed). Defaults to 10 s / 60 s.
  absl::Duration handshake_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(60);
};

// The raw admission hook, for what Validator and Defaulter do not cover.
using AdmissionHandler = std::function<api::AdmissionResponse(const api::AdmissionRequest&)>;

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void register_validator(std::string path, std::shared_ptr<Validator> validator);
  void register_defaulter(std::string path, std::shared_ptr<Defaulter> defaulter);
  void register_converter(std::string path, std::shared_ptr<Converter> converter);
  void register_admission(std::string path, AdmissionHandler handler);

  // Makes the manager run this server on every replica (an all-replica runnable; its stop with
  // the manager's), with metrics on the manager's registry unless options name one, and adds
  // the readyz check "webhook-server" (fails until serving with a certificate).
  void add_to(manager::Manager& manager);

  // Listens and serves. Errors: bad address, port in use, no certificate source or one that
  // cannot serve as configured (CertificateSource::check_configuration(): FileCertificates
  // without its files), each saying what to set.
  absl::Status start();
  void stop();
  int port() const { return port_; }
  // OK once serving and the certificate source has a certificate.
  absl::Status ready() const;

  struct Impl;

 private:
  using Route = std::function<std::pair<int, std::string>(std::string_view body)>;
  void add_route(std::string path, Route route);

  ServerOptions options_;
  std::map<std::string, Route> routes_;
  std::shared_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace kop::webhook
