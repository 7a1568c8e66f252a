// Exchange over an HTTP/2 upstream (h2c clusters): the request as one stream of a pooled
// H2UpConn (pseudo-headers from the request line and Host, the same forwarded fields as over
// HTTP/1.1), the response head through the same field policy, the body with flow control, and
// the trailers passed on to the downstream (gRPC's grpc-status).
#include <cstdlib>
#include <cstring>

#include "exchange.h"
#include "pool.h"
#include "request_fields.h"
#include "worker.h"

namespace kop::proxy::server {
namespace {

bool contains_token(std::string_view list, std::string_view token) {
  size_t at = 0;
  while (at < list.size()) {
    size_t comma = list.find(',', at);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view t = list.substr(at, comma - at);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (iequals(t, token)) return true;
    at = comma + 1;
  }
  return false;
}

// The request's nghttp2 header array, pointing into `store` (sized once up front, so nothing
// moves while the array is built).
class NvWriter {
 public:
  NvWriter(std::vector<nghttp2_nv>& nva, std::string& store, size_t bound)
      : nva_(nva), store_(store) {
    nva_.clear();
    store_.resize(bound);
    p_ = store_.data();
  }
  // A field whose name and value outlive the submit (the request head, the config).
  void ref(std::string_view name, std::string_view value) {
    nva_.push_back(
        {ptr(name.data()), ptr(value.data()), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  // A field whose name may need lowercasing (from an HTTP/1.1 client).
  void lower(std::string_view name, std::string_view value) {
    char* n = p_;
    for (char ch : name) *p_++ = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch;
    nva_.push_back({reinterpret_cast<uint8_t*>(n), ptr(value.data()), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE});
  }
  // Copies `s` into the store; the view stays valid until the store is rebuilt.
  std::string_view copy(std::string_view s) {
    char* at = p_;
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
    return {at, s.size()};
  }
  char* cursor() { return p_; }
  void advance(size_t n) { p_ += n; }

 private:
  static uint8_t* ptr(const char* p) {
    return const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(p));
  }
  std::vector<nghttp2_nv>& nva_;
  std::string& store_;
  char* p_;
};

}  // namespace

void Exchange::attempt_h2(uint32_t ep) {
  Pool& pool = *cs_->pools[ep];
  const ClusterConfig& cc = cs_->cluster->config;
  H2UpConn* c = pool.h2_available();
  if (c) {
    if (c->used()) ++worker_.stats().upstream_reused;
  } else {
    if ((cc.max_connections_per_endpoint && pool.open_count() >= cc.max_connections_per_endpoint) ||
        (cc.max_connections && *cs_->open >= cc.max_connections))
      return enqueue_pending();
    c = H2UpConn::open(cs_->pools[ep], ClusterShare{cs_->open, cs_->pending}, connect_timeout_ms());
    if (!c) return fail(502, "upstream connect error\n");
  }
  woken_ = false;
  send_h2_request(c);
}

void Exchange::send_h2_request(H2UpConn* c) {
  const h1::RequestHead& h = *req_.head;
  const ForwardAction& fw = route_->config->forward;
  req_.upgrade_websocket = false;  // HTTP/2 has no 101: an upgrade goes as a plain request
  // An error request carries its own fields only, as over HTTP/1.1.
  const Mutations mut =
      error_code_ ? Mutations(error_fields_, kNoMutation, kNoMutation)
                  : Mutations(entry_mutation(*route_, *ws_->snap->table, cs_->cluster.get(),
                                             /*request=*/true),
                              route_->config->request_headers, vhost_->config->request_headers,
                              ext_answer_ ? ext_answer_->upstream : kNoMutation);
  // :path, rewritten or as received ("/" for an error request).
  std::string& path = head_buf_;
  path.clear();
  if (error_code_) {
    path.push_back('/');
  } else if (fw.prefix_rewrite || fw.path_rewrite || fw.regex_rewrite) {
    route_->rewrite_path(h.path, h.query, path);
  } else if (!h.target.empty() && h.target[0] == '/') {
    path.append(h.target);
  } else {
    path.append(h.path);
    if (!h.query.empty()) path.append("?").append(h.query);
  }
  std::string_view authority = fw.host_rewrite && !error_code_ ? std::string_view(*fw.host_rewrite)
                               : !h.host.empty()               ? h.host
                                                               : c->address();
  size_t bound = 128 + req_.client_ip.size();
  for (uint32_t i = 0; i < h.header_count; ++i)
    bound += h.headers[i].name.size() + h.headers[i].value.size() + 2;
  NvWriter w(h2_nva_, h2_store_, bound);
  w.ref(":method", h.method);
  w.ref(":scheme", cs_->cluster->config.tls ? "https" : "http");
  w.ref(":authority", authority);
  w.ref(":path", path);
  bool te_trailers = false;
  for (uint32_t i = 0; i < h.header_count; ++i) {
    const h1::Header& f = h.headers[i];
    if (f.kind == h1::HeaderKind::kTe && contains_token(f.value, "trailers")) te_trailers = true;
    if (f.kind != h1::HeaderKind::kOther && f.kind != h1::HeaderKind::kXRequestId &&
        f.kind != h1::HeaderKind::kServer)
      continue;  // Host (now :authority), hop-by-hop, framing and regenerated fields
    if (h.conn_other && h1::named_by_connection(h, f.name)) continue;
    if (mut.drops(f.name)) continue;
    if (f.kind == h1::HeaderKind::kXRequestId && static_cast<int>(i) != h.request_id_index)
      continue;
    w.lower(f.name, f.value);
  }
  // gRPC servers want to know that the client takes trailers (RFC 9113 8.2.2: te may only say
  // "trailers").
  if (te_trailers) w.ref("te", "trailers");
  // X-Forwarded-For: every value received, in order, then the client.
  char* xff = w.cursor();
  size_t xff_len = 0;
  for (uint32_t i = 0; i < h.header_count; ++i) {
    if (h.headers[i].kind != h1::HeaderKind::kXForwardedFor) continue;
    w.copy(h.headers[i].value);
    w.copy(", ");
    xff_len += h.headers[i].value.size() + 2;
  }
  w.copy(req_.client_ip);
  xff_len += req_.client_ip.size();
  w.ref("x-forwarded-for", std::string_view(xff, xff_len));
  w.ref("x-forwarded-proto", req_.tls ? "https" : "http");
  if (!h.host.empty()) w.ref("x-forwarded-host", h.host);
  if (h.request_id_index < 0) w.ref("x-request-id", request_id());
  for (uint8_t k = 0; k < client_field_count_; ++k)
    w.ref(client_fields_[k].name, client_fields_[k].value);
  if (error_code_) {
    if (!h.is_get_like) w.ref("content-length", "0");  // the error request has no body
  } else if (h.content_length >= 0 && !(h.content_length == 0 && h.is_get_like)) {
    char* cl = w.cursor();
    size_t n = h1::to_dec(static_cast<uint64_t>(h.content_length), cl);
    w.advance(n);
    w.ref("content-length", std::string_view(cl, n));
  }
  for (const HeaderMutation* m : mut) {
    for (const auto& v : m->set) w.ref(v.name, v.value);
    for (const auto& v : m->add) w.ref(v.name, v.value);
  }
  upstream_address_ = c->address();
  sent_ms_ = worker_.now();
  if (mirrors_wanted()) start_mirrors(mirror_request_h2());
  // The extra fields above are few and short; the bound's slack covers them.
  h2_ = c->submit(this, cs_->pools[endpoint_], h2_nva_, !request_done_);
  if (!h2_) return retry_or_fail(false, false);
  if (!request_done_) down_->request_body_ready();
}

MirrorRequest Exchange::mirror_request_h2() const {
  MirrorRequest m;
  m.has_body = req_.has_body;
  for (const nghttp2_nv& f : h2_nva_) {
    std::string_view name(reinterpret_cast<const char*>(f.name), f.namelen);
    std::string_view value(reinterpret_cast<const char*>(f.value), f.valuelen);
    if (name == ":method") {
      m.method = std::string(value);
    } else if (name == ":path") {
      m.target = std::string(value);
    } else if (name == ":authority") {
      m.authority = std::string(value);
    } else if (name == "content-length") {
      m.content_length =
          static_cast<int64_t>(std::strtoull(std::string(value).c_str(), nullptr, 10));
    } else if (name == "te") {
      m.te_trailers = true;  // only ever "trailers" here
    } else if (name[0] != ':') {
      m.fields.append(name).append(": ").append(value).append("\r\n");
    }
  }
  return m;
}

void Exchange::on_h2_response_head(H2UpStream* s) {
  if (s != h2_) return;
  upstream_ms_ = worker_.refresh_now() - sent_ms_;
  int st = s->status();
  if (retry_on_status(st)) return;  // within the route's timeout: its timer keeps counting
  TimerWheel::cancel(timer_);
  if (intercept_error(st, /*answered=*/true)) return;
  status_ = st;
  response_started_ = true;
  // The fields as rhead_ views, so the HTTP/1.1 field policy applies unchanged.
  rhead_.header_count = 0;
  rhead_.conn_other = false;
  const std::string& f = s->fields();
  size_t at = 0;
  while (at < f.size() && rhead_.header_count < h1::kMaxHeaders) {
    size_t eol = f.find("\r\n", at);
    size_t colon = f.find(':', at);
    h1::Header& hd = rhead_.headers[rhead_.header_count++];
    hd.name = std::string_view(f).substr(at, colon - at);
    hd.value = std::string_view(f).substr(colon + 2, eol - colon - 2);
    hd.kind = h1::classify_header(hd.name);
    at = eol + 2;
  }
  write_response_fields();
  ResponseHead rh;
  rh.status = st;
  rh.fields = head_buf_;
  rh.content_length = s->content_length();
  rh.no_body = req_.head->is_head || st == 204 || st == 304;
  if (s->head_ends_stream() && !rh.no_body) {
    // Nothing follows the head: an HTTP/2 client gets one HEADERS frame with END_STREAM (what
    // a gRPC client expects of a trailers-only response), an HTTP/1.1 client a length of 0.
    rh.no_body = true;
    if (rh.content_length < 0) rh.content_length = 0;
  }
  report(st >= 500 ? UpstreamResult::kHttp5xx : UpstreamResult::kSuccess);
  uint64_t idle = static_cast<uint64_t>(route_->config->forward.idle_timeout.count());
  if (idle) worker_.timers().arm(timer_, worker_.now(), idle);
  down_->response_head(rh);
}

bool Exchange::on_h2_response_body(H2UpStream* s, const char* data, size_t n) {
  if (s != h2_) return true;
  uint64_t idle = static_cast<uint64_t>(route_->config->forward.idle_timeout.count());
  if (idle) worker_.timers().arm(timer_, worker_.now(), idle);
  if (req_.head->is_head) return true;
  return deliver(data, n);
}

void Exchange::on_h2_response_end(H2UpStream* s) {
  if (s != h2_) return;
  if (!s->trailers().empty()) down_->response_trailers(s->trailers());
  if (!active_) return;
  finish_response(true);
}

void Exchange::on_h2_error(H2UpStream* s, H2UpFailure f) {
  if (s != h2_) {
    s->release();
    return;
  }
  bool connect_phase = f == H2UpFailure::kConnect || f == H2UpFailure::kConnectTimeout;
  if (connect_phase) {
    ++worker_.stats().upstream_connect_failures;
    report(f == H2UpFailure::kConnectTimeout ? UpstreamResult::kConnectTimeout
                                             : UpstreamResult::kConnectFailure);
  } else if (!response_started_ && f == H2UpFailure::kReset) {
    report(UpstreamResult::kReset);
  }
  release_upstream(false);
  if (response_started_) {
    Downstream* d = down_;
    finish();
    d->abort();
    return;
  }
  // Refused (REFUSED_STREAM, above a GOAWAY's last stream, never sent): the upstream did not
  // process it, so one more try on another stream is safe for any method, as for a pooled
  // HTTP/1.1 connection closed just as it was reused. A body already streamed is gone, though.
  if (f == H2UpFailure::kRefused && !body_started_ && !stale_retry_used_) {
    stale_retry_used_ = true;
    --tried_count_;
    return attempt();
  }
  retry_or_fail(connect_phase, f == H2UpFailure::kConnectTimeout);
}

void Exchange::on_h2_request_writable(H2UpStream* s) {
  if (s != h2_) return;
  down_->resume_request_body();
}

}  // namespace kop::proxy::server
