// kop::local::HttpFront — kop::local's store served over the Kubernetes REST API, so kubectl and
// libkop's REST client (kop::client::RestClient) work against it.
//
// Serves /api, /apis, /api/v1/..., /apis/GROUP/VERSION/... (get, list, watch with ?watch=1 as
// chunked newline-delimited JSON, create, update, patch in all four content types, delete,
// deletecollection, /status), /version and /healthz; errors are Status bodies; lists are XxxList;
// `Accept: application/json;as=Table;g=meta.k8s.io;v=v1` gets a Table (kubectl get). HTTPS with a
// CA and serving certificate generated at start (default), or plain HTTP; bearer-token auth when a
// token is set. /openapi is not served (404); docs/local.md lists what kubectl does without it.
//
// Threading: start() binds and returns; one thread accepts and one thread serves each
// connection (HTTP/1.1 keep-alive). stop() (or the destructor) closes the listener and every
// connection, ending their watches. Faults: store.faults().refusing_connections() makes the
// front reset new connections; the store's latency and error faults apply to every request.
#pragma once

#include <memory>
#include <string>

#include <absl/status/status.h>
#include "kop/local/store.h"

namespace kop::local {

struct HttpFrontOptions {
  // host:port to listen on; port 0 picks a free port. Defaults to "127.0.0.1:0".
  std::string listen = "127.0.0.1:0";
  // HTTPS with a generated CA (default true); false serves plain HTTP.
  bool tls = true;
  // Bearer token every request must carry ("Authorization: Bearer TOKEN"); empty accepts all.
  // Defaults to empty.
  std::string token{};
  // Serving certificate and key (PEM); empty generates a CA and a certificate for 127.0.0.1,
  // ::1 and localhost.
  std::string cert_pem{}, key_pem{}, ca_pem{};
};

class HttpFront {
 public:
  HttpFront(std::shared_ptr<Store> store, HttpFrontOptions options = {});
  ~HttpFront();
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  absl::Status start();
  void stop();

  int port() const;
  // "https://127.0.0.1:PORT" (or http://).
  std::string url() const;
  // The CA certificate (PEM) clients should trust; empty for plain HTTP.
  const std::string& ca_pem() const;
  // A kubeconfig (YAML) for this server: cluster, user (token), context `context_name`.
  std::string kubeconfig(std::string_view context_name = "kop-local") const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kop::local
