// HTTP/2 server side (nghttp2): each stream is a Downstream driving its own Exchange, so h2
// requests go through the same routing, retries and upstream HTTP/1.1 pools as HTTP/1.1 ones.
#include <nghttp2/nghttp2.h>

#include <cstring>

#include "client_conn.h"
#include "dropped_body.h"
#include "exchange.h"
#include "h2_fields.h"
#include "h2_session.h"
#include "worker.h"

namespace kop::proxy::server {
namespace {
constexpr size_t kDeflateTableBytes = 1024;
}  // namespace

class H2Stream final : public Downstream {
 public:
  H2Stream(H2Session& s, int32_t id) : session_(s), id_(id), exchange_(s.worker()) {
    end_timer_.fn = &H2Stream::on_end_timer;
    end_timer_.self = this;
  }
  ~H2Stream() override {
    TimerWheel::cancel(end_timer_);
    if (exchange_.active()) exchange_.cancel();
    if (ws_) session_.worker().unref(ws_);
  }

  // Request building (nghttp2 callbacks). Past `limit` bytes (the request head limit) or about
  // h1::kMaxHeaders fields, nothing more is kept and start() answers 431, as over HTTP/1.1.
  void add_header(std::string_view name, std::string_view value, size_t limit) {
    head_bytes_ += name.size() + value.size() + 4;
    // Two slots stay free for the joined cookie and a Host made from :authority.
    if (head_bytes_ > limit || offsets_.size() >= h1::kMaxHeaders - 2) {
      too_large_ = true;
      return;
    }
    if (!name.empty() && name[0] == ':') {
      if (name == ":method")
        method_.assign(value);
      else if (name == ":path")
        path_.assign(value);
      else if (name == ":authority")
        authority_.assign(value);
      else if (name == ":scheme")
        scheme_.assign(value);
      return;
    }
    if (name == "cookie") {
      // RFC 9113 8.2.3: cookie crumbs become one field, joined by "; ", before they reach
      // HTTP/1.1.
      if (!cookie_.empty()) cookie_.append("; ");
      cookie_.append(value);
      return;
    }
    offsets_.push_back({store_.size(), name.size(), value.size()});
    store_.append(name);
    store_.append(value);
  }
  // Trailer fields (a HEADERS frame after the request head), kept as "name: value\r\n" lines
  // for the chunked upstream request's trailer section. False when they grow past `limit`.
  bool add_trailer(std::string_view name, std::string_view value, size_t limit) {
    if (trailers_.size() + name.size() + value.size() + 4 > limit) return false;
    // Framing, routing and hop-by-hop fields have no place in a trailer section (RFC 9110
    // 6.5.1); nghttp2 already refused pseudo-headers and connection-specific fields.
    if (h1::classify_header(name) != h1::HeaderKind::kOther) return true;
    trailers_.append(name).append(": ").append(value).append("\r\n");
    return true;
  }
  bool start(bool end_stream);
  void data(const uint8_t* d, size_t n) {
    body_received_ += n;
    // Answered already (locally, or a response complete before the body): dropped, while
    // nghttp2 gives the window back.
    if (answered_locally_ || !exchange_.active()) return drop(n);
    if (!body_ready_) {
      pending_.append(reinterpret_cast<const char*>(d), n);
      return;
    }
    if (exchange_.active()) exchange_.request_body(reinterpret_cast<const char*>(d), n);
  }
  void end_of_request() {
    request_ended_ = true;
    if (body_done_ && !end_released_) release_end(false);  // a held end goes out now
    if (body_ready_ && exchange_.active()) exchange_.request_end(trailers_);
  }

  // Downstream.
  void response_head(const ResponseHead& h) override;
  bool response_body(const char* data, size_t n) override {
    out_.append(data, n);
    nghttp2_session_resume_data(session_.ng(), id_);
    session_.schedule_flush();
    return out_.size() - out_pos_ < 65536;
  }
  void response_trailers(std::string_view fields) override { resp_trailers_.assign(fields); }
  void response_end() override;
  void request_body_ready() override {
    body_ready_ = true;
    if (!pending_.empty() && exchange_.active()) {
      std::string p;
      p.swap(pending_);
      exchange_.request_body(p.data(), p.size());
    }
    if (request_ended_ && exchange_.active()) exchange_.request_end(trailers_);
  }
  void resume_request_body() override {}
  void abort() override {
    record(exchange_.status() ? exchange_.status() : 502);
    nghttp2_submit_rst_stream(session_.ng(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
    session_.schedule_flush();
  }

  static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source* src, void*) {
    auto* st = static_cast<H2Stream*>(src->ptr);
    size_t avail = st->out_.size() - st->out_pos_;
    size_t n = std::min(avail, length);
    if (n) {
      std::memcpy(buf, st->out_.data() + st->out_pos_, n);
      st->out_pos_ += n;
      if (st->out_pos_ == st->out_.size()) {
        st->out_.clear();
        st->out_pos_ = 0;
        st->want_resume_ = true;
      }
    }
    if (st->out_.empty() && st->body_done_ && (st->request_ended_ || st->end_released_)) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      st->end_sent_ = true;
      if (!st->resp_trailers_.empty() && st->submit_trailers()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
      // Past the bounds on the body's rest: the client may stop sending (RFC 9113 8.1). Queued
      // now, the RST_STREAM follows the stream's last frame.
      if (st->reset_after_end_)
        nghttp2_submit_rst_stream(st->session_.ng(), NGHTTP2_FLAG_NONE, st->id_, NGHTTP2_NO_ERROR);
      return static_cast<ssize_t>(n);
    }
    if (n == 0) return NGHTTP2_ERR_DEFERRED;
    return static_cast<ssize_t>(n);
  }

  void maybe_resume() {
    if (want_resume_ && exchange_.active()) {
      want_resume_ = false;
      exchange_.resume_response();
    }
  }

  int32_t id() const { return id_; }
  bool closed = false;
  H2Stream* link_prev_ = nullptr;  // the session's list of open streams
  H2Stream* link_next_ = nullptr;

  // Makes a closed stream (exchange inactive, snapshot released) a fresh one for stream `id`,
  // keeping its buffers' capacity and without re-initialising the header arrays (~10 KB).
  void reuse(int32_t id) {
    id_ = id;
    closed = false;
    method_.clear();
    path_.clear();
    authority_.clear();
    scheme_.clear();
    store_.clear();
    offsets_.clear();
    cookie_.clear();
    head_bytes_ = 0;
    too_large_ = answered_locally_ = false;
    trailers_.clear();
    h1::RequestHead& h = head_;
    h.header_count = 0;
    h.head_bytes = 0;
    h.version_minor = 1;
    h.content_length = -1;
    h.chunked = h.conn_close = h.conn_keep_alive = h.conn_upgrade = h.conn_other = false;
    h.upgrade = h.method = h.target = h.path = h.query = h.host = std::string_view();
    h.host_index = h.xff_index = h.request_id_index = -1;
    h.expect_continue = h.is_head = h.is_get_like = false;
    pending_.clear();
    out_.clear();
    out_pos_ = 0;
    resp_store_.clear();
    resp_trailers_.clear();
    body_ready_ = request_ended_ = body_done_ = want_resume_ = recorded_ = false;
    hold_end_ = end_released_ = end_sent_ = reset_after_end_ = false;
    body_received_ = dropped_ = 0;
    start_ms_ = 0;
  }

 private:
  // The response trailers as a HEADERS frame with END_STREAM (from read_body, at the body's
  // end: nghttp2 sends it after the last DATA). False when nghttp2 refused them.
  bool submit_trailers() {
    field_lines_to_nv(resp_trailers_, trailer_nv_);
    return !trailer_nv_.empty() &&
           nghttp2_submit_trailer(session_.ng(), id_, trailer_nv_.data(), trailer_nv_.size()) == 0;
  }
  // Body bytes after the complete response: past the bound, the client is asked to stop.
  void drop(size_t n) {
    if (!body_done_ || reset_after_end_) return;
    dropped_ += n;
    if (dropped_ <= kDroppedBodyBytes) return;
    if (!end_sent_) return release_end(true);
    reset_after_end_ = true;
    nghttp2_submit_rst_stream(session_.ng(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_NO_ERROR);
    session_.schedule_flush();
  }
  // The end of the response (END_STREAM) goes out; `reset`: followed by RST_STREAM NO_ERROR.
  void release_end(bool reset) {
    TimerWheel::cancel(end_timer_);
    end_released_ = true;
    reset_after_end_ = reset && !request_ended_;
    nghttp2_session_resume_data(session_.ng(), id_);
    session_.schedule_flush();
  }
  static void on_end_timer(void* self) { static_cast<H2Stream*>(self)->release_end(true); }
  // Answers the stream with `status` and no body, before any routing (a request the proxy
  // refuses as it would over HTTP/1.1).
  void reply_local(int status);
  void record(int status) {
    if (recorded_) return;
    recorded_ = true;
    Worker& w = session_.worker();
    uint64_t ms = w.refresh_now() - start_ms_;
    w.record_latency(ms);
    w.count_request(exchange_.vhost(), exchange_.route(), status, ws_);
    AccessLog& log = w.access_log();
    if (!log.on()) return;
    HttpAccess a;
    a.protocol = HttpProtocol::kHttp2;
    a.client = session_.conn().client_ip();
    a.method = method_;
    a.path = path_;
    a.host = authority_;
    a.status = status;
    a.duration_ms = ms;
    exchange_.describe(a);
    a.tls = session_.conn().transport().tls();
    log.write(a);
  }
  struct Off {
    size_t at, name_len, value_len;
  };
  H2Session& session_;
  int32_t id_;
  Exchange exchange_;
  WorkerSnapshot* ws_ = nullptr;
  std::string method_, path_, authority_, scheme_;
  std::string store_;
  std::vector<Off> offsets_;
  std::string cookie_;  // the cookie fields, joined
  size_t head_bytes_ = 0;
  bool too_large_ = false;
  bool answered_locally_ = false;  // reply_local(): the request body is dropped
  std::string trailers_;
  h1::RequestHead head_;
  std::string pending_;
  std::string out_;
  size_t out_pos_ = 0;
  std::string resp_store_;
  std::string resp_trailers_;  // "name: value\r\n" lines, sent after the body
  std::vector<nghttp2_nv> trailer_nv_;
  bool body_ready_ = false;
  bool request_ended_ = false;
  bool body_done_ = false;
  bool want_resume_ = false;
  bool recorded_ = false;
  // A response complete before the request body (an early 413, or a 200 that ignores it): its
  // END_STREAM waits for the body's end, within the bounds of dropped_body.h, since a client
  // (curl 7.88) stops reading, and so stops receiving window updates, once its response ended.
  bool hold_end_ = false;
  bool end_released_ = false;
  bool end_sent_ = false;
  bool reset_after_end_ = false;  // RST_STREAM NO_ERROR follows (or followed) END_STREAM
  uint64_t body_received_ = 0;
  uint64_t dropped_ = 0;  // body bytes after the complete response
  Timer end_timer_;
  uint64_t start_ms_ = 0;
  friend class H2Session;
};

// ---------------------------------------------------------------------------------------------

bool H2Stream::start(bool end_stream) {
  ClientConn& c = session_.conn();
  c.adopt_latest_snapshot();
  if (!c.listener()) return false;
  ws_ = c.snapshot();
  session_.worker().ref(ws_);
  start_ms_ = session_.worker().refresh_now();
  const h1::Limits& limits = c.snapshot()->snap->limits;
  if (too_large_ || path_.size() > limits.max_uri_bytes) {
    reply_local(too_large_ ? 431 : 414);
    return true;
  }
  if (authority_.find('@') != std::string::npos) {
    // RFC 9113 8.3.1: no userinfo in :authority for http and https.
    nghttp2_submit_rst_stream(session_.ng(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_PROTOCOL_ERROR);
    return true;
  }
  h1::RequestHead& h = head_;
  h.header_count = 0;
  // Views into store_ (stable from here on).
  bool has_host = false;
  for (const Off& o : offsets_) {
    if (h.header_count == h1::kMaxHeaders) break;
    h1::Header& f = h.headers[h.header_count];
    f.name = std::string_view(store_.data() + o.at, o.name_len);
    f.value = std::string_view(store_.data() + o.at + o.name_len, o.value_len);
    f.kind = h1::classify_header(f.name);
    switch (f.kind) {
      case h1::HeaderKind::kHost:
        if (has_host) continue;  // keep one
        has_host = true;
        h.host_index = static_cast<int>(h.header_count);
        h.host = f.value;
        break;
      case h1::HeaderKind::kXForwardedFor:
        if (h.xff_index < 0) h.xff_index = static_cast<int>(h.header_count);
        break;
      case h1::HeaderKind::kXRequestId:
        if (h.request_id_index < 0) h.request_id_index = static_cast<int>(h.header_count);
        break;
      case h1::HeaderKind::kContentLength: {
        int64_t cl = 0;
        for (char ch : f.value) cl = cl * 10 + (ch - '0');  // nghttp2 validated it
        h.content_length = cl;
        break;
      }
      default:
        break;
    }
    ++h.header_count;
  }
  if (has_host && !authority_.empty() && !iequals(h.host, authority_)) {
    // RFC 9113 8.3.1: the target comes from :authority, and a Host naming another authority
    // makes the request malformed; a proxy must not forward it (8.1.1).
    nghttp2_submit_rst_stream(session_.ng(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_PROTOCOL_ERROR);
    return true;
  }
  if (!cookie_.empty() && h.header_count < h1::kMaxHeaders) {
    h1::Header& f = h.headers[h.header_count++];
    f.name = "cookie";
    f.value = cookie_;
    f.kind = h1::HeaderKind::kOther;
  }
  if (!has_host && !authority_.empty() && h.header_count < h1::kMaxHeaders) {
    h1::Header& f = h.headers[h.header_count];
    f.name = "host";
    f.value = authority_;
    f.kind = h1::HeaderKind::kHost;
    h.host_index = static_cast<int>(h.header_count++);
    h.host = authority_;
  }
  h.method = method_;
  h.target = path_;
  h.version_minor = 1;
  size_t q = path_.find('?');
  std::string_view pv(path_);
  h.path = q == std::string::npos ? pv : pv.substr(0, q);
  h.query = q == std::string::npos ? std::string_view() : pv.substr(q + 1);
  h.is_head = method_ == "HEAD";
  h.is_get_like = method_ == "GET" || h.is_head || method_ == "OPTIONS" || method_ == "TRACE" ||
                  method_ == "PUT" || method_ == "DELETE";
  h.chunked = !end_stream && h.content_length < 0;
  h.head_bytes = 0;
  request_ended_ = end_stream;
  DownRequest dr;
  dr.head = &head_;
  dr.tls = c.transport().tls();
  dr.sni = c.sni_;
  dr.client_cert = c.client_cert();
  dr.client_ip = c.client_ip();
  dr.client_address = c.client_address();
  dr.credentials = &c.credentials();
  dr.listener = c.listener();
  dr.has_body = !end_stream;
  if (path_.empty() || path_[0] != '/') {
    // CONNECT and friends are not proxied.
    nghttp2_submit_rst_stream(session_.ng(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_REFUSED_STREAM);
    return true;
  }
  exchange_.start(this, ws_, dr, start_ms_);
  return true;
}

void H2Stream::reply_local(int status) {
  char code[4];
  h1::to_dec(static_cast<uint64_t>(status), code);
  auto nv = [](std::string_view n, std::string_view v) {
    return nghttp2_nv{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(n.data())),
                      const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(v.data())), n.size(),
                      v.size(), NGHTTP2_NV_FLAG_NONE};
  };
  nghttp2_nv nva[3] = {nv(":status", std::string_view(code, 3)), nv("content-length", "0"),
                       nv("server", "kop")};
  bool server = ws_->snap->settings.server_header != ServerHeader::kPassThrough;
  nghttp2_submit_response(session_.ng(), id_, nva, server ? 3 : 2, nullptr);
  answered_locally_ = true;
  session_.worker().count_request(nullptr, nullptr, status, nullptr);
}

void H2Stream::response_head(const ResponseHead& rh) {
  // One pass over the serialized field lines straight into the session's reused nv array (no
  // per-response vectors). resp_store_ is sized once to the fields' length (an upper bound of
  // the lowercased names it holds), so the names never move while nva points at them.
  std::vector<nghttp2_nv>& nva = session_.nva_;
  nva.clear();
  char status[4];
  h1::to_dec(static_cast<uint64_t>(rh.status), status);
  nva.push_back({const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":status")),
                 reinterpret_cast<uint8_t*>(status), 7, 3, NGHTTP2_NV_FLAG_NONE});
  // Field lines "name: value\r\n": lowercase names, drop connection-specific ones.
  const char* p = rh.fields.data();
  const char* const end = p + rh.fields.size();
  if (resp_store_.size() < rh.fields.size()) resp_store_.resize(rh.fields.size());
  char* store = resp_store_.data();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* line_end = nl ? nl : end;
    const char* next = nl ? nl + 1 : end;
    if (line_end > p && line_end[-1] == '\r') --line_end;
    const char* colon =
        static_cast<const char*>(std::memchr(p, ':', static_cast<size_t>(line_end - p)));
    if (!colon) {
      p = next;
      continue;
    }
    size_t name_len = static_cast<size_t>(colon - p);
    char* name = store;
    for (size_t i = 0; i < name_len; ++i) {
      char ch = p[i];
      name[i] = ch >= 'A' && ch <= 'Z' ? char(ch + 32) : ch;
    }
    const char* value = colon + 1;
    while (value < line_end && *value == ' ') ++value;
    p = next;
    h1::HeaderKind k = h1::classify_header(std::string_view(name, name_len));
    if (h1::is_hop_by_hop(k)) continue;  // content-length is added below from the parsed value
    store += name_len;
    nva.push_back({reinterpret_cast<uint8_t*>(name),
                   const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value)), name_len,
                   static_cast<size_t>(line_end - value), NGHTTP2_NV_FLAG_NONE});
  }
  // A success before the request body's end keeps the stream open until that end (hold_end_),
  // without content-length: a client (curl) that has all the declared bytes stops reading, and
  // so never sees the window updates its upload waits for. An error status makes clients stop
  // sending (curl ends the stream short, which a held stream would reset as malformed): those
  // end at once, as before; so does a body-less response (one HEADERS frame with END_STREAM,
  // as a gRPC trailers-only answer must be).
  hold_end_ = !request_ended_ && !rh.no_body && rh.status < 300 && head_.content_length >= 0;
  char cl[24];
  size_t cl_len = 0;
  if (rh.content_length >= 0 && !hold_end_)
    cl_len = h1::to_dec(static_cast<uint64_t>(rh.content_length), cl);
  if (cl_len)
    nva.push_back({const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>("content-length")),
                   reinterpret_cast<uint8_t*>(cl), 14, cl_len, NGHTTP2_NV_FLAG_NONE});
  if (rh.upgrade) {
    // HTTP/2 has no 101: the upgrade cannot be tunnelled over a stream.
    nghttp2_submit_rst_stream(session_.ng(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_REFUSED_STREAM);
    return;
  }
  nghttp2_data_provider prov;
  prov.source.ptr = this;
  prov.read_callback = &H2Stream::read_body;
  nghttp2_submit_response(session_.ng(), id_, nva.data(), nva.size(), rh.no_body ? nullptr : &prov);
  if (rh.no_body) body_done_ = true;
  session_.schedule_flush();
}

void H2Stream::response_end() {
  record(exchange_.status());
  body_done_ = true;
  // Before the request body's end: its rest is dropped (data(), within the byte bound) while
  // END_STREAM waits for it, within the time bound; a response that could not hold its end
  // (response_head) ends now.
  if (!request_ended_ && hold_end_)
    session_.worker().timers().arm(end_timer_, session_.worker().refresh_now(), kDroppedBodyMs);
  else if (!request_ended_)
    end_released_ = true;
  nghttp2_session_resume_data(session_.ng(), id_);
  session_.schedule_flush();
}

// ---------------------------------------------------------------------------------------------

H2Session::H2Session(ClientConn& conn, Worker& w)
    : conn_(conn), worker_(w), alloc_(w.h2_allocator()) {}

H2Session::~H2Session() {
  for (H2Stream* st = open_; st;) {
    H2Stream* next = st->link_next_;
    delete st;
    st = next;
  }
  for (H2Stream* st : dead_) delete st;
  for (H2Stream* st : free_) delete st;
  if (ng_) nghttp2_session_del(ng_);
}

bool H2Session::start(uint32_t max_streams, uint32_t max_header_list) {
  max_head_bytes_ = max_header_list;
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &H2Session::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, &H2Session::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &H2Session::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &H2Session::on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &H2Session::on_stream_close);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, &H2Session::on_begin_frame);
  // A 1 KB HPACK encoder table instead of the 4 KB default: upstream `date` values (one new
  // one per second) pile up in the table under one name, and nghttp2 compares each new value
  // against every entry of that name, on every response. A small table keeps that chain short
  // while the stable fields (server, content-type, small values) stay indexed.
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, kDeflateTableBytes);
  int rv = nghttp2_session_server_new3(&ng_, cb, this, opt, alloc_->mem());
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) return false;
  // The header list limit is advisory (RFC 9113 6.5.2): what goes past it is answered 431.
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams},
                                 {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
                                 {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, max_header_list}};
  nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv, 3);
  nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0, 1 << 24);
  flush();
  return true;
}

bool H2Session::input(const char* data, size_t n) {
  // Streams answered while the input is processed (local replies) go out with the flush below.
  in_input_ = true;
  ssize_t r = nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(data), n);
  in_input_ = false;
  if (r < 0) {
    // nghttp2 stops without a GOAWAY on these (a bad client preface, a flood, a failed
    // callback): the peer still gets one (RFC 9113 5.4.1) before the connection closes.
    uint32_t code = r == NGHTTP2_ERR_BAD_CLIENT_MAGIC ? NGHTTP2_PROTOCOL_ERROR
                    : r == NGHTTP2_ERR_FLOODED        ? NGHTTP2_ENHANCE_YOUR_CALM
                                                      : NGHTTP2_INTERNAL_ERROR;
    nghttp2_session_terminate_session(ng_, code);
    failed_ = true;
  }
  flush();
  return !failed_;
}

void H2Session::schedule_flush() {
  if (in_flush_) {
    flush_again_ = true;
    return;
  }
  if (in_input_ || flush_posted_) return;
  // A closed connection writes nothing, and its deletion may already be posted: no new ref.
  if (conn_.closed()) return;
  // One flush per event-loop turn: every stream answered by the upstream reads of this turn
  // goes out in the same write (one TLS record, one send) instead of one per stream event.
  // The posted handler runs after the completions already queued; it holds a connection ref.
  flush_posted_ = true;
  conn_.hold();
  asio::post(worker_.io(), [this] { conn_.on_h2_flush(); });
}

void H2Session::flush() {
  if (in_flush_) {
    flush_again_ = true;
    return;
  }
  in_flush_ = true;
  do {
    flush_again_ = false;
    // All frames nghttp2 has ready go out as one write (one TLS record and one send for a
    // HEADERS + DATA pair, or for every stream answered in this turn) instead of one per frame.
    // Back-pressure: stop producing while the socket has a lot queued.
    batch_.clear();
    while (conn_.transport().pending() + batch_.size() < (256u << 10) && !conn_.closed()) {
      const uint8_t* out = nullptr;
      ssize_t n = nghttp2_session_mem_send(ng_, &out);
      if (n <= 0) break;
      batch_.append(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
    }
    if (!batch_.empty() && !conn_.closed()) {
      iovec iov{batch_.data(), batch_.size()};
      conn_.transport().write(&iov, 1);
    }
    // Streams whose buffer drained may produce more.
    for (H2Stream* st = open_; st; st = st->link_next_) st->maybe_resume();
  } while (flush_again_);
  in_flush_ = false;
}

void H2Session::reap() {
  // Closed streams are kept for the next ones (up to kFreeStreams): a new stream then costs
  // no allocation and no header-array initialisation.
  for (H2Stream* st : dead_) {
    if (free_.size() < kFreeStreams && !st->exchange_.active() && !st->ws_)
      free_.push_back(st);
    else
      delete st;
  }
  dead_.clear();
}

bool H2Session::done() const {
  return failed_ || (!nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_));
}

void H2Session::shutdown() {
  nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  flush();
}

H2Stream* H2Session::find(int32_t id) {
  // The header callbacks of one stream come in a row: remember the last one found.
  if (last_ && last_->id() == id) return last_;
  auto* st = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(ng_, id));
  if (st) last_ = st;
  return st;
}

int H2Session::on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* u) {
  auto* s = static_cast<H2Session*>(u);
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  H2Stream* st;
  if (!s->free_.empty()) {
    st = s->free_.back();
    s->free_.pop_back();
    st->reuse(f->hd.stream_id);
  } else {
    st = new H2Stream(*s, f->hd.stream_id);
  }
  // nghttp2 keeps the stream's pointer (no map of our own, so no node allocated per stream).
  nghttp2_session_set_stream_user_data(s->ng_, f->hd.stream_id, st);
  st->link_prev_ = nullptr;
  st->link_next_ = s->open_;
  if (s->open_) s->open_->link_prev_ = st;
  s->open_ = st;
  s->last_ = st;
  return 0;
}

int H2Session::on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name,
                         size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* u) {
  auto* s = static_cast<H2Session*>(u);
  if (f->hd.type != NGHTTP2_HEADERS) return 0;
  H2Stream* st = s->find(f->hd.stream_id);
  if (!st) return 0;
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (f->headers.cat == NGHTTP2_HCAT_HEADERS) {
    // Trailers. Too many: the stream is reset (nghttp2 sends RST_STREAM INTERNAL_ERROR).
    return st->add_trailer(n, v, s->max_head_bytes_) ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  st->add_header(n, v, s->max_head_bytes_);
  return 0;
}

int H2Session::on_begin_frame(nghttp2_session* ng, const nghttp2_frame_hd* hd, void* u) {
  auto* s = static_cast<H2Session*>(u);
  if (hd->type != NGHTTP2_HEADERS || (hd->stream_id & 1) == 0) return 0;
  int32_t id = hd->stream_id;
  if (id > s->max_stream_id_) {
    // Client stream ids skipped over are closed without ever having been used (RFC 9113
    // 5.1.1); remember them, so a HEADERS frame that opens one later is caught below.
    if (id > s->max_stream_id_ + 2) {
      if (s->skipped_.size() == kSkippedRanges) s->skipped_.erase(s->skipped_.begin());
      s->skipped_.emplace_back(s->max_stream_id_ + 2, id - 2);
    }
    s->max_stream_id_ = id;
    return 0;
  }
  // A lower id: trailers or a late frame of a stream that was used (nghttp2 deals with those),
  // or an attempt to open a stream below one already opened, which RFC 9113 5.1.1 makes a
  // connection error. nghttp2 ignores the latter (it cannot tell the two apart).
  for (const auto& [lo, hi] : s->skipped_) {
    if (id >= lo && id <= hi) {
      nghttp2_session_terminate_session(ng, NGHTTP2_PROTOCOL_ERROR);
      return 0;
    }
  }
  return 0;
}

int H2Session::on_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* u) {
  auto* s = static_cast<H2Session*>(u);
  H2Stream* st = s->find(f->hd.stream_id);
  if (!st) return 0;
  bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
    if (!st->start(end)) return NGHTTP2_ERR_CALLBACK_FAILURE;
  } else if (end && (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS)) {
    // The request ends with the DATA frame or the trailers HEADERS frame that carries
    // END_STREAM (nghttp2 refuses trailers without it).
    st->end_of_request();
  }
  return 0;
}

int H2Session::on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n,
                             void* u) {
  auto* s = static_cast<H2Session*>(u);
  if (H2Stream* st = s->find(id)) st->data(d, n);
  return 0;
}

int H2Session::on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* u) {
  auto* s = static_cast<H2Session*>(u);
  auto* st = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(s->ng_, id));
  if (!st || st->closed) return 0;
  if (st->link_prev_)
    st->link_prev_->link_next_ = st->link_next_;
  else
    s->open_ = st->link_next_;
  if (st->link_next_) st->link_next_->link_prev_ = st->link_prev_;
  st->link_prev_ = st->link_next_ = nullptr;
  if (s->last_ == st) s->last_ = nullptr;
  st->closed = true;
  TimerWheel::cancel(st->end_timer_);
  if (st->exchange_.active()) st->exchange_.cancel();
  if (st->ws_) {
    s->worker_.unref(st->ws_);
    st->ws_ = nullptr;
  }
  s->dead_.push_back(st);
  return 0;
}

}  // namespace kop::proxy::server
