// H2Session: the HTTP/2 server side of one client connection (nghttp2). Each stream is a
// Downstream driving its own Exchange (h2.cpp), so HTTP/2 requests take the same routing,
// retries and upstream pools as HTTP/1.1 ones. Frames of one flush go out in one write.
// Threading: the worker's thread only.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "h2_alloc.h"

namespace kop::proxy::server {

class ClientConn;
class H2Stream;
class Worker;

class H2Session {
 public:
  H2Session(ClientConn& conn, Worker& w);
  ~H2Session();
  // Sends the server's SETTINGS (`max_header_list`: the request head limit, in bytes).
  bool start(uint32_t max_streams, uint32_t max_header_list);
  // Feeds received bytes. False on a fatal protocol error: a GOAWAY is queued; close the
  // connection once it is written.
  bool input(const char* data, size_t n);
  // Sends pending frames through the connection. Never frees streams (callers may be streams).
  void flush();
  // Stream events call this: one flush is posted for the end of the loop turn (or folded into
  // the running input()/flush()).
  void schedule_flush();
  bool flush_posted_ = false;
  // Frees closed streams; only from top-level handlers.
  void reap();
  bool done() const;
  bool idle() const { return open_ == nullptr; }
  void shutdown();  // GOAWAY; the connection ends when the open streams are done
  nghttp2_session* ng() { return ng_; }
  Worker& worker() { return worker_; }
  ClientConn& conn() { return conn_; }

 private:
  friend class H2Stream;
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame*, void*);
  static int on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t,
                       const uint8_t*, size_t, uint8_t, void*);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame*, void*);
  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int on_stream_close(nghttp2_session*, int32_t, uint32_t, void*);
  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd*, void*);
  H2Stream* find(int32_t id);

  ClientConn& conn_;
  Worker& worker_;
  std::shared_ptr<H2Allocator> alloc_;  // the worker's; outlives ng_
  nghttp2_session* ng_ = nullptr;
  H2Stream* open_ = nullptr;  // open streams (intrusive list; nghttp2 maps ids to them)
  H2Stream* last_ = nullptr;  // the stream find() returned last
  std::vector<H2Stream*> dead_;
  static constexpr size_t kFreeStreams = 32;
  std::vector<H2Stream*> free_;  // closed streams kept for reuse
  std::string batch_;            // frames of one flush, written at once (capacity reused)
  std::vector<nghttp2_nv> nva_;  // response header array, reused by every stream's head
  bool in_flush_ = false;
  bool flush_again_ = false;
  bool in_input_ = false;
  bool failed_ = false;  // nghttp2 gave up on the input: a GOAWAY is queued, then the close
  // The highest client stream id seen in a HEADERS frame, and the ranges of ids skipped below
  // it (never opened; bounded: the oldest range is forgotten first).
  int32_t max_stream_id_ = -1;
  size_t max_head_bytes_ = 0;  // a request head's (and its trailers') limit, from start()
  static constexpr size_t kSkippedRanges = 16;
  std::vector<std::pair<int32_t, int32_t>> skipped_;
};

}  // namespace kop::proxy::server
