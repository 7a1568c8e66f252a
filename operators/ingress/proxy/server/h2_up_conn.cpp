// H2UpConn: the HTTP/2 client side towards an upstream (nghttp2), see h2_up_conn.h.
//
// nghttp2 calls back from inside mem_recv/mem_send; the connection holds a reference around
// them, so a user that closes it (or drops the last pool) from a callback never frees the
// session under nghttp2's feet. Users hear of progress from those callbacks, which run in the
// event loop (reads and the posted flush); their own calls only schedule a flush.
#include "h2_up_conn.h"

#include <algorithm>
#include <cstring>

#include "h2_fields.h"
#include "pool.h"
#include "snapshot.h"
#include "worker.h"

namespace kop::proxy::server {
namespace {

// Our receive windows: 1 MiB per stream (a response streams without waiting for every window
// update), 16 MiB per connection, as the downstream h2 side.
constexpr int32_t kStreamWindow = 1 << 20;
constexpr int32_t kConnectionWindow = 16 << 20;
constexpr size_t kWriteChunk = 65536;

std::string_view view(const uint8_t* p, size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// H2UpStream

bool H2UpStream::send_body(const char* data, size_t n) {
  body_.append(data, n);
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_.ng_, id_);
  }
  conn_.schedule_flush();
  if (body_.size() - body_pos_ < kRequestBodyLimit) return true;
  want_writable_ = true;
  return false;
}

void H2UpStream::end_request(std::string_view trailer_fields) {
  request_ended_ = true;
  request_trailers_.assign(trailer_fields);
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_.ng_, id_);
  }
  conn_.schedule_flush();
}

void H2UpStream::resume_response() {
  if (!paused_) return;
  paused_ = false;
  conn_.resumed_.push_back(this);
  conn_.schedule_flush();
}

void H2UpStream::release() {
  user_ = nullptr;
  H2UpConn& c = conn_;
  auto& r = c.resumed_;
  r.erase(std::remove(r.begin(), r.end(), this), r.end());
  // The user's reference on the connection (taken at submit) goes last: the connection may
  // free itself then.
  if (ng_closed_) {
    delete this;
  } else if (!(done_ && request_sent_) && c.state_ != H2UpConn::State::kClosed) {
    // The response did not end (the user gave up), or the request is still going out after
    // the response ended: nothing more is wanted from this stream. (Both ends done: nghttp2
    // closes it by itself.)
    nghttp2_submit_rst_stream(c.ng_, NGHTTP2_FLAG_NONE, id_,
                              done_ ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL);
    c.schedule_flush();
  }
  --c.refs_;
  c.unref();
}

ssize_t H2UpStream::read_body(nghttp2_session* ng, int32_t id, uint8_t* buf, size_t length,
                              uint32_t* flags, nghttp2_data_source* src, void*) {
  auto* s = static_cast<H2UpStream*>(src->ptr);
  size_t avail = s->body_.size() - s->body_pos_;
  size_t n = std::min(avail, length);
  if (n) {
    std::memcpy(buf, s->body_.data() + s->body_pos_, n);
    s->body_pos_ += n;
    if (s->body_pos_ == s->body_.size()) {
      s->body_.clear();
      s->body_pos_ = 0;
    }
  }
  if (s->body_.empty() && s->request_ended_) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    s->request_sent_ = true;
    if (!s->request_trailers_.empty()) {
      // "name: value\r\n" lines (from an HTTP/2 client: lowercase already) as a trailers
      // HEADERS frame carrying END_STREAM.
      field_lines_to_nv(s->request_trailers_, s->trailer_nv_);
      if (!s->trailer_nv_.empty() &&
          nghttp2_submit_trailer(ng, id, s->trailer_nv_.data(), s->trailer_nv_.size()) == 0)
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    return static_cast<ssize_t>(n);
  }
  if (n == 0) {
    s->deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(n);
}

// ---------------------------------------------------------------------------------------------
// H2UpConn

H2UpConn* H2UpConn::open(std::shared_ptr<Pool> pool, ClusterShare cluster,
                         uint64_t connect_timeout_ms) {
  auto* c = new H2UpConn(std::move(pool), std::move(cluster));
  if (!c->start_session()) {
    c->close();
    return nullptr;
  }
  c->connect(connect_timeout_ms, &c->tls_out_);
  return c;
}

H2UpConn::H2UpConn(std::shared_ptr<Pool> pool, ClusterShare cluster)
    : UpLink(std::move(pool), std::move(cluster)), alloc_(worker_.h2_allocator()) {
  pool_.h2_.push_back(this);
  timer_.fn = &H2UpConn::on_timer;
  timer_.self = this;
}

H2UpConn::~H2UpConn() {
  if (ng_) nghttp2_session_del(ng_);
}

bool H2UpConn::start_session() {
  nghttp2_session_callbacks* cb;
  if (nghttp2_session_callbacks_new(&cb) != 0) return false;
  nghttp2_session_callbacks_set_on_header_callback(cb, &H2UpConn::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &H2UpConn::on_frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, &H2UpConn::on_frame_send);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &H2UpConn::on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &H2UpConn::on_stream_close);
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  // Window updates follow what the user took (flow control towards a slow client).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // Until the peer's SETTINGS say otherwise, count on 100 streams per connection (RFC 9113
  // recommends at least 100), so a burst opens further connections instead of queueing.
  nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
  int rv = nghttp2_session_client_new3(&ng_, cb, this, opt, alloc_->mem());
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) {
    ng_ = nullptr;
    return false;
  }
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                 {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow}};
  nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv, std::size(iv));
  nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  return true;
}

void H2UpConn::link_up() {
  state_ = State::kOpen;
  read();
  flush();
}

void H2UpConn::link_failed() {
  fail_streams(true, false);
  close();
}

bool H2UpConn::can_take_stream() const {
  if (state_ == State::kClosed || goaway_ || worker_.draining()) return false;
  return stream_count_ <
         nghttp2_session_get_remote_settings(ng_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

H2UpStream* H2UpConn::submit(H2UpstreamUser* user, const std::shared_ptr<Pool>& pool,
                             std::span<const nghttp2_nv> nva, bool has_body) {
  if (state_ == State::kClosed) return nullptr;
  auto* s = new H2UpStream(*this, user);
  nghttp2_data_provider prov;
  prov.source.ptr = s;
  prov.read_callback = &H2UpStream::read_body;
  int32_t id =
      nghttp2_submit_request(ng_, nullptr, nva.data(), nva.size(), has_body ? &prov : nullptr, s);
  if (id < 0) {
    delete s;
    return nullptr;
  }
  s->id_ = id;
  s->request_ended_ = s->request_sent_ = !has_body;
  s->next_ = streams_;
  if (streams_) streams_->prev_ = s;
  streams_ = s;
  ++stream_count_;
  ++refs_;  // the user's, until H2UpStream::release()
  used_ = true;
  if (state_ == State::kOpen) TimerWheel::cancel(timer_);  // the idle timeout
  if (!pool_keep_) pool_keep_ = pool;
  schedule_flush();
  return s;
}

void H2UpConn::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  ++refs_;
  asio::post(worker_.io(), [this] {
    flush_posted_ = false;
    flush();  // closed: still hands resumed streams what they hold
    --refs_;
    unref();
  });
}

void H2UpConn::read() {
  if (reading_ || state_ != State::kOpen) return;
  Buffer* into = &in_;
  if (tls_) {
    into = &tls_->raw();
    if (into->free() < 4096) into->compact();
    if (into->free() < 4096) into->reserve(into->cap * 2);
  } else {
    if (in_.cap == 0) in_.reserve(16384);
    in_.clear();
  }
  reading_ = true;
  ++refs_;
  sock_.async_read_some(asio::buffer(into->end(), into->free()),
                        [this](const error_code& ec, size_t n) { on_read(ec, n); });
}

void H2UpConn::on_read(const error_code& ec, size_t n) {
  reading_ = false;
  if (state_ == State::kClosed) {
    --refs_;
    return unref();
  }
  if (ec) {
    // EOF or reset: streams not answered yet end here (refused when never sent).
    fail_streams(false, false);
    close();
    --refs_;
    return unref();
  }
  const char* data = in_.data();
  if (tls_) {
    tls_->raw().wpos += n;
    plain_.clear();
    UpTlsSession::Read r = tls_->decrypt(plain_);
    if (r != UpTlsSession::Read::kOk && plain_.size() == 0) {
      // close_notify or a broken record: as a reset (the streams fail).
      fail_streams(false, false);
      close();
      --refs_;
      return unref();
    }
    data = plain_.data();
    n = plain_.size();
  }
  ssize_t rv = nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(data), n);
  if (rv < 0) {
    // A protocol error of the upstream: nghttp2 queued a GOAWAY; streams fail.
    fail_streams(false, false);
    flush();
    close();
  }
  if (state_ != State::kClosed) {
    flush();  // may close (the last pool reference dropped): the read's reference keeps us
    read();
  }
  --refs_;
  unref();
}

void H2UpConn::deliver_held(H2UpStream* s) {
  while (s->held_pos_ < s->held_.size()) {
    size_t n = std::min<size_t>(s->held_.size() - s->held_pos_, 16384);
    const char* d = s->held_.data() + s->held_pos_;
    s->held_pos_ += n;
    bool more = s->user_->on_h2_response_body(s, d, n);
    if (!s->user_) return;  // released from the callback
    if (!more) {
      s->paused_ = true;
      return;
    }
  }
  s->held_.clear();
  s->held_pos_ = 0;
  if (s->unconsumed_) {
    nghttp2_session_consume(ng_, s->id_, s->unconsumed_);
    s->unconsumed_ = 0;
  }
  if (s->end_pending_) {
    s->end_pending_ = false;
    s->done_ = true;
    s->user_->on_h2_response_end(s);  // the user releases it
  }
}

void H2UpConn::flush() {
  while (!resumed_.empty()) {
    H2UpStream* s = resumed_.back();
    resumed_.pop_back();
    if (s->user_ && !s->paused_) deliver_held(s);
  }
  if (state_ != State::kOpen || writing_) return;
  for (size_t taken = out_.size(); taken < kWriteChunk;) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(ng_, &data);
    if (n < 0 ||
        (tls_ && !tls_->encrypt(reinterpret_cast<const char*>(data), static_cast<size_t>(n)))) {
      fail_streams(false, false);
      return close();
    }
    if (n == 0) break;
    if (!tls_) out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    taken += static_cast<size_t>(n);
  }
  if (tls_out_.size() > 0) {
    out_.append(tls_out_.data(), tls_out_.size());
    tls_out_.clear();
  }
  // Streams whose request body drained below the limit may send more.
  for (H2UpStream* s = streams_; s; s = s->next_) {
    if (s->want_writable_ && s->user_ &&
        s->body_.size() - s->body_pos_ < H2UpStream::kRequestBodyLimit) {
      s->want_writable_ = false;
      s->user_->on_h2_request_writable(s);
      if (state_ != State::kOpen) return;
    }
  }
  if (out_.empty()) {
    if (!nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_)) return close();
    if (stream_count_ == 0) became_idle();
    return;
  }
  write_out();
}

void H2UpConn::write_out() {
  writing_ = true;
  ++refs_;
  sock_.async_write_some(asio::buffer(out_.data() + out_pos_, out_.size() - out_pos_),
                         [this](const error_code& ec, size_t n) {
                           writing_ = false;
                           --refs_;
                           if (state_ == State::kClosed) return unref();
                           if (ec) {
                             fail_streams(false, false);
                             return close();
                           }
                           out_pos_ += n;
                           if (out_pos_ < out_.size()) return write_out();
                           out_.clear();
                           out_pos_ = 0;
                           flush();
                         });
}

void H2UpConn::became_idle() {
  if (state_ != State::kOpen || timer_.armed()) return;
  if (goaway_ || worker_.draining()) return close();
  if (pool_.idle_timeout_ms_) worker_.timers().arm(timer_, worker_.now(), pool_.idle_timeout_ms_);
  // Last: dropping the pool may destroy it, which closes this connection.
  std::shared_ptr<Pool> keep = std::move(pool_keep_);
}

void H2UpConn::fail_streams(bool connect_phase, bool timeout) {
  goaway_ = true;  // a user retrying from its callback must not land here again
  while (H2UpStream* s = streams_) {
    streams_ = s->next_;
    if (streams_) streams_->prev_ = nullptr;
    --stream_count_;
    s->ng_closed_ = true;
    if (s->user_ && !s->done_) {
      s->done_ = true;
      H2UpFailure f = connect_phase
                          ? (timeout ? H2UpFailure::kConnectTimeout : H2UpFailure::kConnect)
                      : s->head_sent_ ? H2UpFailure::kReset
                                      : H2UpFailure::kRefused;
      s->user_->on_h2_error(s, f);  // the user releases it
    } else if (!s->user_) {
      delete s;
    }
  }
}

void H2UpConn::stream_done(H2UpStream* s) {
  if (s->prev_)
    s->prev_->next_ = s->next_;
  else
    streams_ = s->next_;
  if (s->next_) s->next_->prev_ = s->prev_;
  s->prev_ = s->next_ = nullptr;
  --stream_count_;
  s->ng_closed_ = true;
  PendingQueue::wake(worker_, cluster_.pending);  // a stream slot is free
}

void H2UpConn::on_timer(void* self) {
  auto* c = static_cast<H2UpConn*>(self);
  if (c->state_ == State::kConnecting) {
    c->fail_streams(true, true);
    c->close();
  } else if (c->state_ == State::kOpen && c->stream_count_ == 0) {
    c->close();
  }
}

void H2UpConn::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  goaway_ = true;
  TimerWheel::cancel(timer_);
  if (!detached_) {
    auto& list = pool_.h2_;
    list.erase(std::remove(list.begin(), list.end(), this), list.end());
  }
  error_code ec;
  sock_.close(ec);
  fail_streams(false, false);
  std::shared_ptr<Pool> keep = std::move(pool_keep_);
  ++refs_;  // dropping the pool below must not free this before unref()
  keep.reset();
  --refs_;
  unref();
}

// ---------------------------------------------------------------------------------------------
// nghttp2 callbacks

int H2UpConn::on_header(nghttp2_session* ng, const nghttp2_frame* frame, const uint8_t* name,
                        size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* s = static_cast<H2UpStream*>(nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id));
  if (!s) return 0;
  std::string_view n = view(name, namelen);
  std::string_view v = view(value, valuelen);
  if (s->response_head_) {
    // Trailer fields (nghttp2 refused pseudo-headers in them).
    s->trailers_.append(n).append(": ").append(v).append("\r\n");
    return 0;
  }
  if (n == ":status") {
    int st = 0;
    for (char ch : v) st = st * 10 + (ch - '0');  // nghttp2 checked: three digits
    s->status_ = st;
    return 0;
  }
  if (n == "content-length") {
    int64_t cl = 0;
    for (char ch : v) cl = cl * 10 + (ch - '0');  // nghttp2 checked: digits only
    s->content_length_ = cl;
    return 0;
  }
  s->fields_.append(n).append(": ").append(v).append("\r\n");
  return 0;
}

int H2UpConn::on_frame_recv(nghttp2_session* ng, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<H2UpConn*>(user);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    // Streams above last_stream_id are closed by nghttp2 as REFUSED_STREAM (retried
    // elsewhere); the others finish here; no new stream comes here.
    c->goaway_ = true;
    return 0;
  }
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  auto* s = static_cast<H2UpStream*>(nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id));
  if (!s || s->done_) return 0;
  bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && !s->response_head_) {
    if (s->status_ >= 100 && s->status_ < 200) {
      // An interim response: the final head follows.
      s->status_ = 0;
      s->fields_.clear();
      s->content_length_ = -1;
      return 0;
    }
    s->response_head_ = true;
    s->head_ends_stream_ = end;
    if (s->user_) s->user_->on_h2_response_head(s);
  }
  if (end && !s->done_) {
    if (s->paused_ || s->held_pos_ < s->held_.size()) {
      s->end_pending_ = true;  // after the held bytes
      return 0;
    }
    s->done_ = true;
    if (s->user_) s->user_->on_h2_response_end(s);
  }
  return 0;
}

int H2UpConn::on_frame_send(nghttp2_session* ng, const nghttp2_frame* frame, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* s = static_cast<H2UpStream*>(nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id));
  if (s) s->head_sent_ = true;
  return 0;
}

int H2UpConn::on_data_chunk(nghttp2_session* ng, uint8_t, int32_t id, const uint8_t* data, size_t n,
                            void*) {
  auto* s = static_cast<H2UpStream*>(nghttp2_session_get_stream_user_data(ng, id));
  if (!s || !s->user_ || s->done_) {
    nghttp2_session_consume(ng, id, n);
    return 0;
  }
  s->unconsumed_ += n;
  if (s->paused_ || s->held_pos_ < s->held_.size()) {
    // The user asked for no more until it resumes, or it resumed and what was held has not
    // reached it yet: keep the bytes in order, hold the window.
    s->held_.append(reinterpret_cast<const char*>(data), n);
    return 0;
  }
  bool more = s->user_->on_h2_response_body(s, reinterpret_cast<const char*>(data), n);
  if (!s->user_) return 0;
  if (!more) {
    s->paused_ = true;
    return 0;
  }
  nghttp2_session_consume(ng, id, s->unconsumed_);
  s->unconsumed_ = 0;
  return 0;
}

int H2UpConn::on_stream_close(nghttp2_session* ng, int32_t id, uint32_t error_code, void* user) {
  auto* c = static_cast<H2UpConn*>(user);
  auto* s = static_cast<H2UpStream*>(nghttp2_session_get_stream_user_data(ng, id));
  if (!s) return 0;
  c->stream_done(s);
  if (s->end_pending_) return 0;  // complete; its end follows the held bytes
  if (s->user_ && !s->done_) {
    s->done_ = true;
    s->user_->on_h2_error(s, error_code == NGHTTP2_REFUSED_STREAM || !s->head_sent_
                                 ? H2UpFailure::kRefused
                                 : H2UpFailure::kReset);  // the user releases it
  } else if (!s->user_) {
    delete s;
  }
  return 0;
}

}  // namespace kop::proxy::server
