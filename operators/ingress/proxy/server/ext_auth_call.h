// ExtAuthCall: the auth request of one exchange to its route's auth service (ext_auth.h), on an
// upstream connection of the auth cluster like any other (pooled, plain or TLS), so the event
// loop never waits for it.
//
// write_ext_auth_request() writes the request nginx's auth_request sends for ingress-nginx's
// auth-url: the client's method (or the configured one), the auth URL's path and Host, the
// client's fields (hop-by-hop and framing ones, and the ones below, left out; no body), then
// x-original-url, x-original-method, x-sent-from, x-real-ip, x-forwarded-for, x-request-id and
// x-auth-request-redirect (plus x-original-uri and x-scheme with a configured method).
//
// The call reads the answer's head only: its status and fields go to ExtAuth::answer(); a body
// that already arrived whole (Content-Length) lets the connection go back to the pool, any other
// is closed. The call ends with exactly one on_ext_auth() to its user, from the event loop
// (never from inside start()): the answer, or null on a connect or read error, a malformed
// answer or the timeout (the exchange answers 500). cancel() ends it without a call (the exchange
// went away). Threading: the worker's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "downstream.h"
#include "http1.h"
#include "kop/proxy/client_auth.h"
#include "kop/proxy/ext_auth.h"
#include "snapshot.h"
#include "timer_wheel.h"
#include "up_conn.h"

namespace kop::proxy::server {

class Worker;

class ExtAuthUser {
 public:
  virtual void on_ext_auth(std::shared_ptr<const ExtAuth::Answer> answer) = 0;

 protected:
  ~ExtAuthUser() = default;
};

// Appends the auth request's head for the client request `req` (seen as `view`) to `out`.
// `request_id` is the x-request-id the upstream request will carry when the client sent none;
// `client_fields` the client certificate's ssl-client-* fields (client_auth.h), which
// ingress-nginx's auth location sends too (the client's own never go).
void write_ext_auth_request(const ExtAuth& auth, const DownRequest& req, const RequestView& view,
                            std::string_view request_id, std::span<const ClientField> client_fields,
                            std::string& out);

class ExtAuthCall final : public UpstreamUser {
 public:
  explicit ExtAuthCall(Worker& worker);
  ~ExtAuthCall() { cancel(); }
  ExtAuthCall(const ExtAuthCall&) = delete;
  ExtAuthCall& operator=(const ExtAuthCall&) = delete;

  // Sends `head` to an endpoint of `cluster`. False when it cannot start (no endpoint, an
  // HTTP/2 cluster, the cluster's connection limit): nothing was sent and no call follows.
  bool start(const std::shared_ptr<ClusterState>& cluster, std::string head, const ExtAuth& auth,
             uint64_t timeout_ms, ExtAuthUser* user);
  void cancel();
  bool active() const { return user_ != nullptr; }

  void on_upstream_connected(UpConn* c) override;
  void on_upstream_data(UpConn* c) override;
  void on_upstream_error(UpConn* c, bool connect_phase, bool timeout) override;
  void on_upstream_writable(UpConn*) override {}

 private:
  bool send_head();
  void stale_or_failed();
  void end(std::shared_ptr<const ExtAuth::Answer> answer, bool reuse);
  void cancel_with(bool reuse);
  static void on_timer(void* self);

  Worker& worker_;
  std::shared_ptr<ClusterState> cluster_;
  const ExtAuth* auth_ = nullptr;
  ExtAuthUser* user_ = nullptr;  // set while the call runs
  UpConn* conn_ = nullptr;
  uint32_t endpoint_ = 0;
  std::string head_;
  size_t scan_ = 0;
  bool head_only_ = false;  // a HEAD request: the answer has no body
  bool retried_ = false;    // a stale pooled connection was replaced once
  Timer timer_;
};

}  // namespace kop::proxy::server
