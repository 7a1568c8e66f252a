// H1Session: HTTP/1.1 request framing and response writing over a client connection's
// transport.
#include "h1_session.h"

#include <sys/uio.h>

#include <algorithm>

#include "client_conn.h"
#include "dropped_body.h"
#include "transport.h"
#include "worker.h"

namespace kop::proxy::server {

H1Session::H1Session(ClientConn& conn, Transport& t, Worker& w)
    : conn_(conn), transport_(t), worker_(w), in_(t.in()), exchange_(w) {}

void H1Session::on_peer_eof() {
  if (phase_ == Phase::kTunnel) {
    if (exchange_.active()) exchange_.tunnel_client_eof();
    return;
  }
  if (phase_ == Phase::kReadHead || phase_ == Phase::kBody) return conn_.close();
  if (phase_ == Phase::kDropBody) {
    // The body stops short: the response (maybe still queued) goes out, then the close.
    keep_alive_ = false;
    return close_after_write();
  }
  // Waiting for the response: finish it, then close.
}

void H1Session::on_timeout() {
  // Slow headers (slowloris): 408 and close.
  if (phase_ == Phase::kReadHead && in_.size() > 0)
    return send_local(408, "request header timeout\n", true);
  if (phase_ == Phase::kDropBody) {
    // The body's rest did not come in time: the client has its response, the connection ends.
    keep_alive_ = false;
    return close_after_write();
  }
  conn_.close();
}

bool H1Session::drain() {
  draining_ = true;
  keep_alive_ = false;
  return phase_ == Phase::kReadHead && !exchange_.active() && in_.size() == 0;
}

void H1Session::close_after_write() {
  closing_after_write_ = true;
  phase_ = Phase::kWaitResponse;
  if (transport_.pending() == 0 && !transport_.writing()) conn_.linger_close(body_done_);
}

void H1Session::process() {
  if (in_process_) return;
  in_process_ = true;
  while (!conn_.closed()) {
    if (phase_ == Phase::kReadHead && requests_ == 0 && !transport_.tls() && in_.size() > 0 &&
        in_.data()[0] == 'P') {
      // HTTP/2 prior knowledge (h2c): the client preface instead of a request line. Its first
      // line, a method no HTTP/1 request uses, decides; nghttp2 checks the rest, so a client
      // that sends a broken preface gets a GOAWAY PROTOCOL_ERROR (RFC 9113 3.4), not a 400.
      static constexpr std::string_view kPrefaceLine = "PRI * HTTP/2.0\r\n";
      size_t n = std::min(in_.size(), kPrefaceLine.size());
      if (std::string_view(in_.data(), n) == kPrefaceLine.substr(0, n)) {
        if (n < kPrefaceLine.size()) break;  // wait for the rest of the line
        in_process_ = false;
        return conn_.start_h2_prior_knowledge();
      }
    }
    if (phase_ == Phase::kReadHead) {
      if (in_.size() == 0) {
        if (transport_.peer_eof()) {
          in_process_ = false;
          return conn_.close();
        }
        break;
      }
      const h1::Limits& lim = conn_.snapshot()->snap->limits;
      size_t len = h1::find_head_end(in_.data(), in_.size(), &scan_);
      if (!len) {
        if (in_.size() >= lim.max_head_bytes) {
          int st = h1::oversize_status(in_.data(), in_.size(), lim);
          send_local(st, st == 414 ? "uri too long\n" : "request header fields too large\n", true);
          continue;
        }
        if (transport_.peer_eof()) {
          in_process_ = false;
          return conn_.close();
        }
        break;
      }
      if (len > lim.max_head_bytes) {
        send_local(h1::oversize_status(in_.data(), len, lim), "request header fields too large\n",
                   true);
        continue;
      }
      req_.header_count = 0;
      req_.content_length = -1;
      req_.chunked = req_.conn_close = req_.conn_keep_alive = req_.conn_upgrade = req_.conn_other =
          false;
      req_.upgrade = {};
      req_.host = {};
      req_.host_index = req_.xff_index = req_.request_id_index = -1;
      req_.expect_continue = false;
      h1::Error err;
      if (!h1::parse_request(in_.data(), len, lim, &req_, &err)) {
        send_local(err.status, std::string(err.reason) + "\n", true);
        continue;
      }
      start_request();
      continue;
    }
    if (phase_ == Phase::kBody) {
      if (body_ready_ && !body_paused_) {
        size_t before = in_.size();
        bool was_done = body_done_;
        feed_body();
        if (phase_ == Phase::kBody && !body_done_ && !body_paused_ && in_.size() == before &&
            was_done == body_done_) {
          conn_.read_more();
          break;
        }
        continue;
      }
      break;
    }
    if (phase_ == Phase::kDropBody) {
      if (!drop_body()) {
        conn_.read_more();
        break;
      }
      request_complete();  // the body is done: the next request, or the close
      continue;
    }
    if (phase_ == Phase::kTunnel) {
      if (in_.size() > 0 && !body_paused_) {
        const char* d = in_.data();
        size_t n = in_.size();
        in_.clear();
        if (!exchange_.tunnel_send(d, n)) body_paused_ = true;
        continue;
      }
      if (!body_paused_) conn_.read_more();
      break;
    }
    break;  // kWaitResponse
  }
  in_process_ = false;
  if (phase_ == Phase::kReadHead && !closing_after_write_) conn_.read_more();
}

void H1Session::start_request() {
  conn_.cancel_timer();
  header_timer_ = false;
  conn_.adopt_latest_snapshot();
  if (!conn_.listener()) return conn_.close();
  ++requests_;
  request_start_ms_ = worker_.refresh_now();
  keep_alive_ = req_.keep_alive() && !draining_ && !worker_.draining();
  size_t len = req_.head_bytes;
  transport_.keep_input(in_.rpos + len);
  in_.rpos += len;
  scan_ = 0;
  body_chunked_ = req_.chunked;
  body_remaining_ = req_.chunked ? 0 : (req_.content_length > 0 ? req_.content_length : 0);
  body_done_ = !req_.chunked && body_remaining_ == 0;
  if (body_chunked_) body_chunk_.reset();
  body_paused_ = false;
  body_ready_ = false;
  continue_sent_ = false;
  response_chunked_ = false;
  response_close_delimited_ = false;
  response_trailers_.clear();
  response_no_body_ = false;
  head_pending_ = false;
  if (worker_.access_log().on()) {
    log_method_.assign(req_.method);
    log_path_.assign(req_.target);
    log_host_.assign(req_.host);
  }
  DownRequest dr;
  dr.head = &req_;
  dr.tls = transport_.tls();
  dr.sni = conn_.sni_;
  dr.client_cert = conn_.client_cert();
  dr.client_ip = conn_.client_ip();
  dr.client_address = conn_.client_address();
  dr.credentials = &conn_.credentials();
  dr.listener = conn_.listener();
  dr.has_body = !body_done_;
  dr.upgrade_websocket =
      req_.conn_upgrade && req_.upgrade.size() == 9 && iequals(req_.upgrade, "websocket");
  phase_ = body_done_ ? Phase::kWaitResponse : Phase::kBody;
  exchange_.start(this, conn_.snapshot(), dr, request_start_ms_);
}

void H1Session::request_body_ready() {
  if (conn_.closed()) return;
  body_ready_ = true;
  if (exchange_.upgraded()) return;
  if (req_.expect_continue && in_.size() == 0 && !body_done_) {
    static const char k100[] = "HTTP/1.1 100 Continue\r\n\r\n";
    iovec iov{const_cast<char*>(k100), sizeof k100 - 1};
    if (!transport_.write(&iov, 1)) return conn_.close();
    continue_sent_ = true;
  }
  if (!in_process_) process();
}

void H1Session::feed_body() {
  while (!body_done_ && in_.size() > 0 && !body_paused_ && phase_ == Phase::kBody) {
    bool more = true;
    if (body_chunked_) {
      h1::ChunkedDecoder::Segment segs[16];
      size_t consumed = 0, nseg = 0;
      auto st = body_chunk_.decode(in_.data(), in_.size(), segs, 16, &consumed, &nseg);
      in_.rpos += consumed;
      for (size_t i = 0; i < nseg && exchange_.active(); ++i)
        more = exchange_.request_body(segs[i].data, segs[i].size) && more;
      if (st == h1::ChunkedDecoder::Status::kError) {
        // Bad framing mid-body: the upstream got a partial request; drop both sides.
        if (exchange_.active()) exchange_.cancel();
        if (!conn_.closed()) send_local(400, "invalid chunked body\n", true);
        return;
      }
      if (st == h1::ChunkedDecoder::Status::kDone) body_done_ = true;
    } else {
      size_t take = in_.size();
      if (static_cast<int64_t>(take) > body_remaining_) take = static_cast<size_t>(body_remaining_);
      const char* d = in_.data();
      in_.rpos += take;
      body_remaining_ -= static_cast<int64_t>(take);
      if (body_remaining_ == 0) body_done_ = true;
      if (exchange_.active()) more = exchange_.request_body(d, take);
    }
    if (phase_ != Phase::kBody) return;
    if (!more) body_paused_ = true;
  }
  if (body_done_ && phase_ == Phase::kBody) {
    phase_ = Phase::kWaitResponse;
    if (exchange_.active()) exchange_.request_end();
  }
}

void H1Session::resume_request_body() {
  if (!body_paused_) return;
  body_paused_ = false;
  if (!in_process_) process();
}

void H1Session::response_head(const ResponseHead& h) {
  std::string& o = head_scratch_;
  o.clear();
  o.append("HTTP/1.1 ");  // also to HTTP/1.0 clients (RFC 9110 2.5)
  char num[24];
  o.append(num, h1::to_dec(static_cast<uint64_t>(h.status), num));
  o.push_back(' ');
  o.append(h1::reason_phrase(h.status));
  o.append("\r\n");
  o.append(h.fields);
  if (h.upgrade) {
    phase_ = Phase::kTunnel;
    body_done_ = true;
    keep_alive_ = false;
  } else if (h.no_body) {
    response_no_body_ = true;
    if (h.content_length >= 0) {
      o.append("content-length: ");
      o.append(num, h1::to_dec(static_cast<uint64_t>(h.content_length), num));
      o.append("\r\n");
    }
  } else if (h.content_length >= 0) {
    o.append("content-length: ");
    o.append(num, h1::to_dec(static_cast<uint64_t>(h.content_length), num));
    o.append("\r\n");
  } else if (req_.version_minor >= 1) {
    o.append("transfer-encoding: chunked\r\n");
    response_chunked_ = true;
  } else {
    keep_alive_ = false;  // HTTP/1.0 client, unknown length: close-delimited
    response_close_delimited_ = true;
  }
  // Answered before the body was read: the connection stays only when the rest can be dropped.
  if (!body_done_ && !h.upgrade && !body_droppable()) keep_alive_ = false;
  if (!h.upgrade) {
    if (!keep_alive_)
      o.append("connection: close\r\n");
    else if (req_.version_minor == 0)
      o.append("connection: keep-alive\r\n");
  }
  o.append("\r\n");
  head_pending_ = true;
  if (h.upgrade) {
    // Send the 101 now: the tunnel starts.
    iovec iov{o.data(), o.size()};
    head_pending_ = false;
    if (!transport_.write(&iov, 1)) return conn_.close();
    body_paused_ = false;
    if (!in_process_) process();
  }
}

bool H1Session::response_body(const char* data, size_t n) {
  if (conn_.closed()) return false;
  iovec iov[4];
  int k = 0;
  if (head_pending_) {
    iov[k++] = {head_scratch_.data(), head_scratch_.size()};
    head_pending_ = false;
  }
  char hex[20];
  if (response_chunked_ && n) {
    size_t hl = h1::to_hex(n, hex);
    hex[hl++] = '\r';
    hex[hl++] = '\n';
    iov[k++] = {hex, hl};
    iov[k++] = {const_cast<char*>(data), n};
    iov[k++] = {const_cast<char*>("\r\n"), 2};
  } else if (n) {
    iov[k++] = {const_cast<char*>(data), n};
  }
  if (k && !transport_.write(iov, k)) {
    conn_.close();
    return false;
  }
  return !transport_.output_blocked();
}

void H1Session::response_end() {
  if (conn_.closed()) return;
  int status = exchange_.status();
  if (phase_ == Phase::kTunnel) {
    // Upstream closed the tunnel: close after flushing.
    record(status);
    keep_alive_ = false;
    closing_after_write_ = true;
    if (transport_.pending() == 0) conn_.close();
    return;
  }
  iovec iov[4];
  int k = 0;
  if (head_pending_) {
    iov[k++] = {head_scratch_.data(), head_scratch_.size()};
    head_pending_ = false;
  }
  if (response_chunked_ && !response_trailers_.empty()) {
    // The last chunk, the trailer section (an HTTP/2 upstream's trailers: gRPC's status),
    // the final CRLF.
    iov[k++] = {const_cast<char*>("0\r\n"), 3};
    iov[k++] = {response_trailers_.data(), response_trailers_.size()};
    iov[k++] = {const_cast<char*>("\r\n"), 2};
  } else if (response_chunked_) {
    iov[k++] = {const_cast<char*>("0\r\n\r\n"), 5};
  }
  if (k && !transport_.write(iov, k)) return conn_.close();
  record(status);
  request_complete();
}

void H1Session::abort() {
  if (conn_.closed()) return;
  keep_alive_ = false;
  if (head_pending_) {
    // The head was held back for the first body bytes, so nothing of this response went out:
    // the client gets a whole 502 rather than an empty reply. The connection still closes.
    head_pending_ = false;
    record(502);
    if (write_local(502, "upstream response broken\n", true)) close_after_write();
    return;
  }
  // The response broke after its head went out: the client must see a truncated message. What
  // is queued goes out first when the length (or chunking) shows the cut; a close-delimited body
  // would look complete after an orderly close, so that connection is dropped at once.
  record(exchange_.status() ? exchange_.status() : 502);
  if (response_close_delimited_) return conn_.close();
  close_after_write();
}

bool H1Session::body_droppable() const {
  return !body_chunked_ && static_cast<uint64_t>(body_remaining_) <= kDroppedBodyBytes &&
         (!req_.expect_continue || continue_sent_);
}

bool H1Session::drop_body() {
  size_t take = in_.size();
  if (static_cast<int64_t>(take) > body_remaining_) take = static_cast<size_t>(body_remaining_);
  in_.rpos += take;
  body_remaining_ -= static_cast<int64_t>(take);
  body_done_ = body_remaining_ == 0;
  return body_done_;
}

void H1Session::request_complete() {
  if (!body_done_ && keep_alive_ && !transport_.peer_eof() && !draining_) {
    // An early response: the body's rest is dropped, within the time bound, before the next
    // request (response_head() kept the connection only for a droppable body).
    phase_ = Phase::kDropBody;
    body_paused_ = false;
    conn_.arm_timer(kDroppedBodyMs);
    if (!in_process_) process();
    return;
  }
  if (!body_done_) keep_alive_ = false;
  if (!keep_alive_ || transport_.peer_eof() || draining_) {
    close_after_write();
    return;
  }
  phase_ = Phase::kReadHead;
  transport_.keep_input(0);
  scan_ = 0;
  if (in_.size() == 0)
    in_.clear();
  else if (!transport_.reading())
    in_.compact();
  header_timer_ = in_.size() > 0;
  const auto& settings = conn_.snapshot()->snap->settings;
  uint64_t t = static_cast<uint64_t>(header_timer_ ? settings.request_header_timeout.count()
                                                   : settings.idle_timeout.count());
  if (t) conn_.arm_timer(t);
  if (!in_process_) process();
}

void H1Session::send_local(int status, std::string_view body, bool close_after) {
  conn_.cancel_timer();
  if (!write_local(status, body, close_after)) return;
  worker_.count_request(nullptr, nullptr, status, nullptr);
  if (worker_.access_log().on()) {
    log_method_.clear();
    log_path_.clear();
    log_host_.clear();
  }
  if (close_after) {
    keep_alive_ = false;
    body_done_ = false;  // unread input may follow: linger
    close_after_write();
  }
}

bool H1Session::write_local(int status, std::string_view body, bool close_after) {
  std::string& o = head_scratch_;
  o.clear();
  char num[24];
  o.append("HTTP/1.1 ");
  o.append(num, h1::to_dec(static_cast<uint64_t>(status), num));
  o.push_back(' ');
  o.append(h1::reason_phrase(status));
  o.append("\r\n");
  if (conn_.snapshot()->snap->settings.server_header != ServerHeader::kPassThrough)
    o.append(kServerField);
  o.append("content-type: text/plain\r\ncontent-length: ");
  o.append(num, h1::to_dec(body.size(), num));
  if (close_after) o.append("\r\nconnection: close");
  o.append("\r\n\r\n");
  o.append(body);
  iovec iov{o.data(), o.size()};
  if (transport_.write(&iov, 1)) return true;
  conn_.close();
  return false;
}

void H1Session::record(int status) {
  uint64_t now = worker_.refresh_now();
  uint64_t ms = now - request_start_ms_;
  worker_.record_latency(ms);
  worker_.count_request(exchange_.vhost(), exchange_.route(), status, conn_.snapshot());
  AccessLog& log = worker_.access_log();
  if (!log.on()) return;
  HttpAccess a;
  a.protocol = req_.version_minor == 0 ? HttpProtocol::kHttp10 : HttpProtocol::kHttp11;
  a.client = conn_.client_ip();
  a.method = log_method_;
  a.path = log_path_;
  a.host = log_host_;
  a.status = status;
  a.duration_ms = ms;
  exchange_.describe(a);
  a.tls = transport_.tls();
  log.write(a);
}

}  // namespace kop::proxy::server
