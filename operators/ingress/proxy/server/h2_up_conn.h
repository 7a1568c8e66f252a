// H2UpConn: one HTTP/2 connection from a worker to an upstream endpoint (h2c: prior knowledge
// over plain TCP; h2: over TLS with ALPN h2, the handshake UpLink's), an nghttp2 client
// session carrying many requests at once, one H2UpStream each.
//
// Life: an Exchange finds a connection of its endpoint's Pool that can take another stream
// (Pool::h2_available) or opens one (H2UpConn::open), then submits its request (submit). The
// connection belongs to the pool's list from open to close; it holds the pool while it carries
// streams and, without streams, waits the pool's idle timeout and closes. Requests submitted
// while it connects go out once it is connected. The object frees itself once closed and no
// socket operation refers to it.
//
// Flow control both ways: a request body is buffered up to kRequestBodyLimit per stream
// (send_body returns false beyond, and the user hears on_h2_request_writable once it drained
// into DATA frames); response DATA is acknowledged (WINDOW_UPDATE) only once the user took it:
// a user that returns false from on_h2_response_body holds the window until
// H2UpStream::resume_response, so the upstream never sends more than one window ahead.
//
// Failures say whether the request may have reached the application: kRefused (RST_STREAM
// REFUSED_STREAM, a stream above a GOAWAY's last id, a stream whose HEADERS never went out on
// a connection that closed) is safe to retry for any method; kReset is not.
//
// Threading: the worker's thread only. User callbacks come from the event loop, never from
// inside submit(), send_body(), end_request(), resume_response() or cancel().
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asio.h"
#include "buffer.h"
#include "h2_alloc.h"
#include "timer_wheel.h"
#include "up_conn.h"

namespace kop::proxy::server {

class H2UpConn;
class H2UpStream;
class Pool;
class Worker;

enum class H2UpFailure {
  kConnect,         // the connection could not be made
  kConnectTimeout,  // nor within the cluster's connect timeout
  kRefused,         // the upstream did not process the request: safe to retry
  kReset,           // the stream or connection ended before the response did
};

// What the user of a stream hears from it.
class H2UpstreamUser {
 public:
  // The response head is in H2UpStream::status(), fields(), content_length().
  virtual void on_h2_response_head(H2UpStream* s) = 0;
  // Body bytes (taken). False: hold the upstream's window until resume_response().
  virtual bool on_h2_response_body(H2UpStream* s, const char* data, size_t n) = 0;
  // The response ended; its trailer fields (if any) are in H2UpStream::trailers().
  virtual void on_h2_response_end(H2UpStream* s) = 0;
  virtual void on_h2_error(H2UpStream* s, H2UpFailure f) = 0;
  // The request body buffer drained after send_body() returned false.
  virtual void on_h2_request_writable(H2UpStream* s) = 0;

 protected:
  ~H2UpstreamUser() = default;
};

class H2UpStream {
 public:
  // Request body bytes (copied). False: the buffer is over kRequestBodyLimit; wait for
  // on_h2_request_writable.
  bool send_body(const char* data, size_t n);
  // The request ends; `trailer_fields` ("name: value\r\n" lines) go as a trailers HEADERS.
  void end_request(std::string_view trailer_fields);
  // The user can take more after on_h2_response_body returned false: what arrived meanwhile
  // follows from the loop, then the upstream may send the next window.
  void resume_response();
  // The user leaves (done, failed or cancelled): RST_STREAM CANCEL if the stream is still
  // open. The stream must not be used afterwards.
  void release();

  int status() const { return status_; }
  // Response fields as "name: value\r\n" lines (pseudo-headers and content-length left out).
  const std::string& fields() const { return fields_; }
  int64_t content_length() const { return content_length_; }
  // The response head came with END_STREAM: no body, no trailers (gRPC's trailers-only
  // responses carry their status this way).
  bool head_ends_stream() const { return head_ends_stream_; }
  const std::string& trailers() const { return trailers_; }
  H2UpConn& conn() { return conn_; }

  static constexpr size_t kRequestBodyLimit = 65536;

 private:
  friend class H2UpConn;
  H2UpStream(H2UpConn& c, H2UpstreamUser* user) : conn_(c), user_(user) {}
  static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source* src, void*);

  H2UpConn& conn_;
  H2UpstreamUser* user_;
  int32_t id_ = -1;
  bool head_sent_ = false;      // HEADERS written: the upstream may have seen the request
  bool response_head_ = false;  // the final response head arrived
  bool head_ends_stream_ = false;
  bool done_ = false;       // the response ended (or failed): no more callbacks
  bool ng_closed_ = false;  // nghttp2 (or the connection) closed it: freed at release()
  bool request_ended_ = false;
  bool request_sent_ = false;  // END_STREAM (or the trailers) handed to nghttp2
  bool deferred_ = false;      // the body's read callback is waiting for bytes
  bool want_writable_ = false;
  int status_ = 0;
  int64_t content_length_ = -1;
  size_t unconsumed_ = 0;  // body bytes received and not yet acknowledged (WINDOW_UPDATE)
  // After the user returned false, body bytes wait in held_ (at most one window) and the end
  // of the response waits behind them, until resume_response().
  bool paused_ = false;
  bool end_pending_ = false;
  std::string held_;
  size_t held_pos_ = 0;
  std::string fields_;
  std::string trailers_;
  std::string body_;  // request body not yet framed
  size_t body_pos_ = 0;
  std::string request_trailers_;
  std::vector<nghttp2_nv> trailer_nv_;
  H2UpStream* prev_ = nullptr;  // the connection's list
  H2UpStream* next_ = nullptr;
};

class H2UpConn final : public UpLink {
 public:
  // A new connection of `pool`, connecting at once. `connect_timeout_ms` 0: no timeout.
  static H2UpConn* open(std::shared_ptr<Pool> pool, ClusterShare cluster,
                        uint64_t connect_timeout_ms);
  // Submits a request: `nva` are its pseudo-headers and fields (lowercase names); `has_body`:
  // DATA follows through send_body/end_request. `pool` is held while streams are open.
  H2UpStream* submit(H2UpstreamUser* user, const std::shared_ptr<Pool>& pool,
                     std::span<const nghttp2_nv> nva, bool has_body);
  // Another stream fits now: connected or connecting, no GOAWAY, below the peer's
  // SETTINGS_MAX_CONCURRENT_STREAMS.
  bool can_take_stream() const;
  // Has carried a stream before (for the reuse counter).
  bool used() const { return used_; }
  void close();

 private:
  friend class H2UpStream;
  friend class Pool;
  H2UpConn(std::shared_ptr<Pool> pool, ClusterShare cluster);
  ~H2UpConn() override;
  bool start_session();
  void link_up() override;
  void link_failed() override;
  bool link_closed() const override { return state_ == State::kClosed; }
  void read();
  void on_read(const error_code& ec, size_t n);
  void schedule_flush();
  void flush();
  void write_out();  // out_ from out_pos_, asynchronously
  void fail_streams(bool connect_phase, bool timeout);
  // Hands a resumed stream what it held back (from the loop, in flush()).
  void deliver_held(H2UpStream* s);
  void stream_done(H2UpStream* s);
  void became_idle();
  static void on_timer(void* self);

  static int on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t,
                       const uint8_t*, size_t, uint8_t, void*);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame*, void*);
  static int on_frame_send(nghttp2_session*, const nghttp2_frame*, void*);
  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int on_stream_close(nghttp2_session*, int32_t, uint32_t, void*);

  enum class State { kConnecting, kOpen, kClosed };
  std::shared_ptr<H2Allocator> alloc_;  // the worker's block cache; outlives ng_
  nghttp2_session* ng_ = nullptr;
  State state_ = State::kConnecting;
  Buffer in_;
  Buffer plain_;     // TLS: decrypted bytes of one read
  Buffer tls_out_;   // TLS: records the engine wrote, moved to out_
  std::string out_;  // frames (TLS: records) being written
  size_t out_pos_ = 0;
  H2UpStream* streams_ = nullptr;
  std::vector<H2UpStream*> resumed_;  // streams whose held bytes go to their user next flush
  uint32_t stream_count_ = 0;
  bool used_ = false;
  bool goaway_ = false;  // received or sent: no new streams
  bool reading_ = false;
  bool writing_ = false;
  bool flush_posted_ = false;
};

}  // namespace kop::proxy::server
