// Mirror: a copy of one proxied request sent to a mirror cluster (a forward route's `mirrors`,
// Gateway API's RequestMirror on HTTPRoute and GRPCRoute), its response read and dropped.
//
// The Exchange that owns the request describes it once as it was sent to the main upstream
// (MirrorRequest: rewrites and header mutations applied), whatever the protocol on either side,
// and starts one Mirror per sampled mirror cluster; then it hands each the request body as
// decoded bytes and, at the end, the request's trailer fields. Each Mirror frames the copy for
// its own cluster: HTTP/1.1 (plain or over TLS; `connection: close`, so the mirror's end of
// stream ends the copy; a body of unknown length chunked, trailers in the last chunk) or HTTP/2
// (h2c or over TLS: a stream of a pooled connection, body and trailers as DATA and HEADERS, so
// a gRPC mirror gets a complete call). Nothing flows back: the client only ever sees the main
// response, and the Exchange never waits for a mirror. Over HTTP/1.1 the copy is done (answered)
// as soon as the mirror has started to answer the complete request (the rest of its answer is
// not read); over HTTP/2 when the mirror's answer ends (its DATA taken and dropped as it comes,
// so a stream is never cancelled while request bytes are still queued in it).
// Memory is bounded: what the mirror has not taken (its socket, or its HTTP/2 stream's send
// buffer, or what waits for the connection) may not exceed kMaxPendingBytes; a mirror that falls
// further behind is dropped, never slowing the main exchange. The copy also ends at its timeout,
// when the Exchange ends before the request did (abandon()), and on any connection error. Every
// ending is counted in WorkerStats (mirror_*).
//
// Ownership: a Mirror keeps itself alive until it ends; the Exchange holds a shared_ptr only
// to feed it. Threading: the worker's thread only.
#pragma once

#include <nghttp2/nghttp2.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "h2_up_conn.h"
#include "snapshot.h"
#include "timer_wheel.h"
#include "up_conn.h"

namespace kop::proxy::server {

class Worker;

// The request as the main upstream got it, protocol-neutral.
struct MirrorRequest {
  std::string method;
  std::string target;     // origin form: path and query
  std::string authority;  // Host / :authority
  // "name: value\r\n" lines, lowercase names; no Host, framing (content-length,
  // transfer-encoding) or connection-specific fields.
  std::string fields;
  int64_t content_length = -1;  // -1: none declared
  bool has_body = false;        // a body follows (of content_length bytes, or until the end)
  bool te_trailers = false;     // the client takes trailers (gRPC): `te: trailers` over HTTP/2
};

class Mirror final : public UpstreamUser, public H2UpstreamUser {
 public:
  static constexpr size_t kMaxPendingBytes = size_t{64} * 1024;

  // Starts the copy to an endpoint `cluster`'s load balancer picks; null when it cannot start
  // (no endpoint, the cluster's connection limit: counted). `timeout_ms` 0: 15 s.
  static std::shared_ptr<Mirror> start(Worker& worker, std::shared_ptr<ClusterState> cluster,
                                       const MirrorRequest& req, uint64_t timeout_ms);
  ~Mirror() = default;
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // Request body bytes (decoded).
  void send(const char* data, size_t n);
  // The request is complete; `trailer_fields` ("name: value\r\n" lines) end it.
  void end(std::string_view trailer_fields);
  // The main exchange ended: a copy whose request is not complete ends too (dropped).
  void abandon();
  bool ended() const { return ended_; }

  // HTTP/1.1 mirror clusters.
  void on_upstream_connected(UpConn* c) override;
  void on_upstream_data(UpConn* c) override;
  void on_upstream_error(UpConn* c, bool connect_phase, bool timeout) override;
  void on_upstream_writable(UpConn*) override {}
  // HTTP/2 mirror clusters.
  void on_h2_response_head(H2UpStream* s) override;
  bool on_h2_response_body(H2UpStream*, const char*, size_t) override { return true; }
  void on_h2_response_end(H2UpStream* s) override;
  void on_h2_error(H2UpStream* s, H2UpFailure f) override;
  void on_h2_request_writable(H2UpStream*) override {}

 private:
  enum class End { kAnswered, kDropped, kFailed };
  Mirror(Worker& worker, std::shared_ptr<ClusterState> cluster);
  bool start_h1(const MirrorRequest& req, const ClusterConfig& cc);
  bool start_h2(const MirrorRequest& req, const ClusterConfig& cc);
  // HTTP/1.1: bytes to the connection, or kept until it is up.
  void write(const struct iovec* iov, int n);
  void finish(End how);
  static void on_timer(void* self);

  Worker& worker_;
  std::shared_ptr<ClusterState> cluster_;
  std::shared_ptr<Mirror> self_;  // set while the copy runs
  UpConn* conn_ = nullptr;        // HTTP/1.1
  H2UpStream* stream_ = nullptr;  // HTTP/2
  uint32_t endpoint_ = 0;
  std::string waiting_;  // HTTP/1.1: bytes sent before the connection was up
  bool chunked_ = false;
  bool connected_ = false;
  bool request_done_ = false;
  bool answered_ = false;
  bool ended_ = false;
  Timer timer_;
};

}  // namespace kop::proxy::server
