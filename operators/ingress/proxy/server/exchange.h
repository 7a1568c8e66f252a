// Exchange: one proxied request, whatever the client's protocol: routing (421/404, redirects,
// direct responses), the cluster and endpoint choice, the upstream connection (pooled; HTTP/1.1
// through UpConn's interface, or a stream of an HTTP/2 H2UpConn for h2c clusters, in
// exchange_h2.cpp; waiting in the cluster's pending queue at its connection limit), retries,
// timeouts, and the response head, body and trailers handed to the Downstream.
// Threading: the worker's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "access_log.h"
#include "downstream.h"
#include "ext_auth_call.h"
#include "h2_up_conn.h"
#include "http1.h"
#include "kop/proxy/request_view.h"
#include "kop/proxy/route_table.h"
#include "mirror.h"
#include "snapshot.h"
#include "timer_wheel.h"
#include "up_conn.h"

namespace kop::proxy::server {

class Worker;
class Exchange;

// The exchange waiting for an off-loop password verification, or null once it went away
// (worker thread only: the verification posts its result back to the worker).
struct AuthWait {
  Exchange* exchange = nullptr;
};

class Exchange final : public UpstreamUser, public H2UpstreamUser, public ExtAuthUser {
 public:
  explicit Exchange(Worker& w) : worker_(w), ext_auth_call_(w) {}
  ~Exchange();
  // Starts the exchange. `ws` is held until finish.
  void start(Downstream* down, WorkerSnapshot* ws, const DownRequest& req, uint64_t start_ms);
  // Request body from the downstream (decoded data). Returns false when the downstream must
  // pause until Downstream::resume_request_body().
  bool request_body(const char* data, size_t n);
  // The request ended. `trailer_fields` ("name: value\r\n" lines, from HTTP/2 trailers) go
  // into the trailer section of a chunked upstream request; without chunking they are dropped.
  void request_end(std::string_view trailer_fields = {});
  void resume_response();
  // The downstream went away: stop, close the upstream.
  void cancel();
  bool active() const { return active_; }
  int status() const { return status_; }
  const Route* route() const { return route_; }
  const VirtualHost* vhost() const { return vhost_; }
  uint64_t upstream_time_ms() const { return upstream_ms_; }
  const std::string& upstream_address() const { return upstream_address_; }
  // The exchange's part of an access-log line (HTTP/1 and h2 alike): the endpoint tried, its
  // time, and the virtual host and route matched.
  void describe(HttpAccess& a) const {
    a.upstream = upstream_address_;
    a.upstream_ms = upstream_ms_;
    if (vhost_) a.vhost = vhost_->name;
    if (route_) a.route = route_->name;
  }
  bool upgraded() const { return tunnel_; }
  // After an upgrade: bytes from the client go here raw.
  bool tunnel_send(const char* data, size_t n);
  void tunnel_client_eof();

  // From UpConn.
  void on_upstream_connected(UpConn* c) override;
  void on_upstream_data(UpConn* c) override;
  void on_upstream_error(UpConn* c, bool connect_phase, bool timeout) override;
  void on_upstream_writable(UpConn* c) override;
  // From H2UpConn (exchange_h2.cpp).
  void on_h2_response_head(H2UpStream* s) override;
  bool on_h2_response_body(H2UpStream* s, const char* data, size_t n) override;
  void on_h2_response_end(H2UpStream* s) override;
  void on_h2_error(H2UpStream* s, H2UpFailure f) override;
  void on_h2_request_writable(H2UpStream* s) override;
  // From ExtAuthCall.
  void on_ext_auth(std::shared_ptr<const ExtAuth::Answer> answer) override;

 private:
  // The proxy's own answer. To a gRPC client (content-type application/grpc...) a status of
  // 400 or more goes as a trailers-only response (grpc_reply.h) with `grpc_code`, or when -1
  // the code gRPC maps `status` to.
  void local_reply(int status, std::string_view body, std::string_view extra_fields = {},
                   bool plain = true, int grpc_code = -1);
  void abort_response();
  void report(UpstreamResult r);
  std::string_view upstream_address_view() const {
    if (h2_) return h2_->conn().address();
    return up_ ? up_->address() : std::string_view();
  }
  // After access control: the body limit, the cluster and endpoint, the first attempt.
  void forward_request();
  // The client certificate policy of the request's certificate (client_auth.h): true when the
  // request may go on (its ssl-client-* fields in client_fields_); otherwise it was answered.
  bool client_certificate_allowed();
  // Basic authentication: true when the request may go on now; otherwise it was answered, or
  // waits for authenticated() (a verification too slow for the event loop).
  bool authenticate();
  void authenticated(bool ok);
  // External authentication (ext_auth.h), after basic authentication: the cached answer or the
  // auth request; then forward_request() or the answer's status.
  void ask_auth_service();
  void ext_auth_decided(std::shared_ptr<const ExtAuth::Answer> answer);
  // Off-loop verifications queued per worker before requests needing one get 503.
  static constexpr uint32_t kMaxOffLoopJobs = 256;
  void attempt();
  // Cookie affinity in balanced mode: a new session key into cookie_key_, its hash into `ctx`.
  void balanced_session_key(LbContext& ctx);
  void send_request_head();
  // True once per exchange, when the route has mirrors (mirror.h) for this request.
  bool mirrors_wanted();
  // The request as `head` (sent over HTTP/1.1) or h2_nva_ (HTTP/2) carried it, for mirrors.
  MirrorRequest mirror_request_h1(std::string_view head, const h1::RequestHead& h) const;
  MirrorRequest mirror_request_h2() const;
  // The route's mirrors, sampled, each started with `req`.
  void start_mirrors(const MirrorRequest& req);
  // Request body bytes (decoded) to every running mirror; the end with the trailer fields.
  void feed_mirrors(const char* data, size_t n);
  void end_mirrors(std::string_view trailer_fields);
  void handle_response_head();
  // After a response head: true when the rule's retry policy retries this status (the attempt
  // is then under way).
  bool retry_on_status(int status);
  // An upstream answer (or the proxy's own 502/503/504) the route's error_pages take: true when
  // the error request to its cluster is under way instead (at most once per exchange).
  // `answered`: the status is the upstream's (reported to its health).
  bool intercept_error(int status, bool answered);
  // Whether a retry may still start (forward.retry.retry_window).
  bool retry_window_open();
  // The route's connect timeout, or the cluster's.
  uint64_t connect_timeout_ms() const;
  // The request id sent upstream when the client gave none: made once, so the auth request, a
  // retry and an error request carry the same one.
  std::string_view request_id();
  // The response fields sent downstream: rhead_'s fields but hop-by-hop ones, the server
  // policy, the upstream time, the header mutations, cookie affinity, CORS (into head_buf_).
  void write_response_fields();
  // HTTP/2 upstream (exchange_h2.cpp): a stream on a pooled connection of endpoint `ep`.
  void attempt_h2(uint32_t ep);
  void send_h2_request(H2UpConn* c);
  void pump_response_body();
  // Body bytes to the downstream: false when reading the upstream must pause, for the
  // downstream (it calls resume_response()) or for the route's pacing (pace_timer_ resumes).
  bool deliver(const char* data, size_t n);
  // forward.response_bytes_per_second (response_pacer.h) after `n` more body bytes: false when
  // the upstream must wait for pace_timer_.
  bool pace(size_t n);
  void resume_reading();
  static void on_pace_timer(void* self);
  void finish_response(bool reuse);
  void fail(int status, std::string_view body, int grpc_code = -1);
  friend struct PendingQueue;
  // Waits in the cluster's pending queue (or 503 when it is full); the route timeout bounds it.
  void enqueue_pending();
  void dequeue_pending();
  void retry_or_fail(bool connect_phase, bool timeout);
  // Another attempt: at once, or after the route's retry backoff (backoff_timer_).
  void retry();
  static void on_backoff(void* self);
  void release_upstream(bool reuse);
  void finish();
  static void on_timer(void* self);

  Worker& worker_;
  Downstream* down_ = nullptr;
  WorkerSnapshot* ws_ = nullptr;
  DownRequest req_;
  const VirtualHost* vhost_ = nullptr;
  const Route* route_ = nullptr;
  const RouteClusterRef* entry_ = nullptr;  // the route's entry picked for this request
  ClusterState* cs_ = nullptr;
  // The route's rate limit zone while this request holds one of its connection slots (the
  // route's table is held through ws_ until finish() gives the slot back).
  RateLimiter* in_progress_at_ = nullptr;
  ClientAddress limited_address_{};
  uint32_t endpoint_ = kNoEndpoint;
  uint32_t set_cookie_ = kNoEndpoint;  // cookie affinity: Set-Cookie for this endpoint
  char cookie_key_[16] = {};           // a new balanced session key (HashPolicy::cookie_balanced)
  uint32_t tried_[4] = {};
  uint32_t tried_count_ = 0;
  uint32_t attempts_left_ = 0;
  UpConn* up_ = nullptr;
  H2UpStream* h2_ = nullptr;  // the HTTP/2 stream instead of up_ (h2c clusters)
  std::vector<nghttp2_nv> h2_nva_;
  std::string h2_store_;  // the lowercased names and generated values h2_nva_ points into
  Timer timer_;
  Timer backoff_timer_;  // armed while a retry waits for its backoff
  bool active_ = false;
  bool head_sent_downstream_ = false;
  bool request_done_ = false;  // whole request body handed to the upstream
  bool body_started_ = false;
  bool response_started_ = false;
  bool tunnel_ = false;
  bool paused_response_ = false;
  bool request_chunked_ = false;
  bool stale_retry_used_ = false;
  bool reuse_ = false;
  bool lb_active_ = false;
  bool idle_wait_ = false;  // the idle timeout bounds the wait for the response head
  bool woken_ = false;      // attempt() runs for a woken waiter: back to the front if still limited
  // Pending queue membership (cs_->pending); pending_ is set while queued.
  PendingQueue* pending_ = nullptr;  // cs_ (held through ws_) owns it while we are queued
  Exchange* pend_prev_ = nullptr;
  Exchange* pend_next_ = nullptr;
  RequestView view_;
  uint64_t body_limit_ = 0;  // route's max_request_body_bytes (0: none)
  uint64_t body_bytes_ = 0;  // request body bytes seen so far
  int status_ = 0;
  uint64_t start_ms_ = 0;
  uint64_t sent_ms_ = 0;
  uint64_t upstream_ms_ = 0;
  // Response framing.
  h1::ResponseHead rhead_;
  size_t rscan_ = 0;
  int64_t rremaining_ = 0;  // content-length body left
  enum class Framing { kNone, kLength, kChunked, kClose } rframing_ = Framing::kNone;
  h1::ChunkedDecoder rchunk_;
  std::string head_buf_;  // serialized upstream request head / downstream response fields
  std::vector<std::shared_ptr<Mirror>> mirrors_;  // copies of this request, while fed
  bool mirrors_started_ = false;
  std::shared_ptr<AuthWait> auth_wait_;  // while a password verification runs off the loop
  ExtAuthCall ext_auth_call_;            // the auth request, while it runs
  std::shared_ptr<const ExtAuth::Answer> ext_answer_;  // the auth service's answer, once known
  ExtAuth::Key ext_auth_key_{};
  bool ext_auth_caching_ = false;  // remember the answer under ext_auth_key_
  std::string upstream_address_;
  // The status an error request replaces (intercept_error), 0 while none; its fields (x-code,
  // x-format, x-original-uri and the policy's own).
  int error_code_ = 0;
  HeaderMutation error_fields_;
  char request_id_[36] = {};
  bool request_id_made_ = false;
  // The ssl-client-* fields sent upstream (views into the connection's ClientCertificate, which
  // outlives the exchange).
  ClientField client_fields_[ClientAuth::kMaxFields];
  uint8_t client_field_count_ = 0;
  // Response pacing: body bytes handed downstream, and who holds the upstream reading back.
  uint64_t paced_bytes_ = 0;
  bool pace_wait_ = false;    // pace_timer_ is armed
  bool down_paused_ = false;  // the downstream asked to pause and has not resumed yet
  Timer pace_timer_;
};

}  // namespace kop::proxy::server
