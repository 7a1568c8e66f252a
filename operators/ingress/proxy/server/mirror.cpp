// Mirror: one request copy to a mirror cluster, framed for its protocol, its response dropped.
#include "mirror.h"

#include "http1.h"
#include "kop/proxy/load_balancer.h"
#include "pool.h"
#include "worker.h"

namespace kop::proxy::server {
namespace {

uint8_t* bytes(const char* p) {
  return const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(p));
}

nghttp2_nv nv(std::string_view name, std::string_view value) {
  return {bytes(name.data()), bytes(value.data()), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

Mirror::Mirror(Worker& worker, std::shared_ptr<ClusterState> cluster)
    : worker_(worker), cluster_(std::move(cluster)) {
  timer_.fn = &Mirror::on_timer;
  timer_.self = this;
}

std::shared_ptr<Mirror> Mirror::start(Worker& worker, std::shared_ptr<ClusterState> cluster,
                                      const MirrorRequest& req, uint64_t timeout_ms) {
  WorkerStats& st = worker.stats();
  ++st.mirror_started;
  ClusterState& cs = *cluster;
  const ClusterConfig& cc = cs.cluster->config;
  LbContext ctx;
  ctx.now = MonoClock::now();
  uint32_t ep = cs.lb->choose(ctx);
  if (ep == kNoEndpoint) {
    ++st.mirror_failed;
    return nullptr;
  }
  std::shared_ptr<Mirror> m(new Mirror(worker, std::move(cluster)));
  m->endpoint_ = ep;
  bool h2 = cc.protocol != UpstreamProtocol::kHttp1;
  if (!(h2 ? m->start_h2(req, cc) : m->start_h1(req, cc))) return nullptr;  // counted
  m->self_ = m;
  m->cluster_->lb->on_request_start(ep);
  worker.timers().arm(m->timer_, worker.now(), timeout_ms ? timeout_ms : 15000);
  return m;
}

bool Mirror::start_h1(const MirrorRequest& req, const ClusterConfig& cc) {
  ClusterState& cs = *cluster_;
  // A copy never waits for a connection: at the cluster's limit it is dropped.
  if ((cc.max_connections_per_endpoint &&
       cs.pools[endpoint_]->open_count() >= cc.max_connections_per_endpoint) ||
      (cc.max_connections && *cs.open >= cc.max_connections)) {
    ++worker_.stats().mirror_dropped;
    return false;
  }
  std::string& o = waiting_;
  o.reserve(req.method.size() + req.target.size() + req.authority.size() + req.fields.size() + 96);
  o.append(req.method).append(" ").append(req.target).append(" HTTP/1.1\r\nhost: ");
  o.append(req.authority).append("\r\n").append(req.fields);
  if (req.content_length >= 0) {
    char n[24];
    o.append("content-length: ").append(n, h1::to_dec(uint64_t(req.content_length), n));
    o.append("\r\n");
  } else if (req.has_body) {
    o.append("transfer-encoding: chunked\r\n");
    chunked_ = true;
  }
  // The mirror's end of stream ends the copy.
  o.append("connection: close\r\n\r\n");
  conn_ = UpConn::open(cs.pools[endpoint_], ClusterShare{cs.open, cs.pending}, this,
                       static_cast<uint64_t>(cc.connect_timeout.count()));
  return true;
}

bool Mirror::start_h2(const MirrorRequest& req, const ClusterConfig& cc) {
  ClusterState& cs = *cluster_;
  Pool& pool = *cs.pools[endpoint_];
  H2UpConn* c = pool.h2_available();
  if (!c) {
    if ((cc.max_connections_per_endpoint && pool.open_count() >= cc.max_connections_per_endpoint) ||
        (cc.max_connections && *cs.open >= cc.max_connections)) {
      ++worker_.stats().mirror_dropped;
      return false;
    }
    c = H2UpConn::open(cs.pools[endpoint_], ClusterShare{cs.open, cs.pending},
                       static_cast<uint64_t>(cc.connect_timeout.count()));
  }
  if (!c) {
    ++worker_.stats().mirror_failed;
    return false;
  }
  // nghttp2 copies the fields at submit: views into `req` and a local list suffice.
  std::vector<nghttp2_nv> nva;
  nva.reserve(16);
  nva.push_back(nv(":method", req.method));
  nva.push_back(nv(":scheme", cc.tls ? "https" : "http"));
  nva.push_back(nv(":authority", req.authority));
  nva.push_back(nv(":path", req.target));
  std::string_view f = req.fields;
  while (!f.empty()) {
    size_t eol = f.find("\r\n");
    std::string_view line = f.substr(0, eol);
    f.remove_prefix(eol == std::string_view::npos ? f.size() : eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    nva.push_back(nv(line.substr(0, colon), value));
  }
  if (req.te_trailers) nva.push_back(nv("te", "trailers"));
  char n[24];
  if (req.content_length >= 0)
    nva.push_back(
        nv("content-length", std::string_view(n, h1::to_dec(uint64_t(req.content_length), n))));
  stream_ = c->submit(this, cs.pools[endpoint_], nva, req.has_body);
  if (!stream_) {
    ++worker_.stats().mirror_failed;
    return false;
  }
  connected_ = true;
  if (!req.has_body) request_done_ = true;
  return true;
}

void Mirror::write(const struct iovec* iov, int n) {
  size_t bytes = 0;
  for (int i = 0; i < n; ++i) bytes += iov[i].iov_len;
  if (!connected_) {
    if (waiting_.size() + bytes > kMaxPendingBytes) return finish(End::kDropped);
    for (int i = 0; i < n; ++i)
      waiting_.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return;
  }
  if (conn_->pending_bytes() + bytes > kMaxPendingBytes) return finish(End::kDropped);
  if (n > 0 && !conn_->send(iov, n)) return finish(End::kFailed);
}

void Mirror::send(const char* data, size_t n) {
  if (ended_ || n == 0) return;
  if (stream_) {
    // The stream buffers what its flow-control window does not let out yet: over the bound,
    // the mirror is too slow.
    if (!stream_->send_body(data, n)) finish(End::kDropped);
    return;
  }
  if (chunked_) {
    char hex[20];
    size_t hl = h1::to_hex(n, hex);
    hex[hl++] = '\r';
    hex[hl++] = '\n';
    iovec iov[3] = {{hex, hl}, {const_cast<char*>(data), n}, {const_cast<char*>("\r\n"), 2}};
    return write(iov, 3);
  }
  iovec iov{const_cast<char*>(data), n};
  write(&iov, 1);
}

void Mirror::end(std::string_view trailer_fields) {
  if (ended_ || request_done_) return;
  request_done_ = true;
  if (stream_) {
    stream_->end_request(trailer_fields);
  } else if (chunked_) {
    // The last chunk, the trailer section (RFC 9112 7.1.2), the final CRLF.
    iovec iov[3] = {{const_cast<char*>("0\r\n"), 3},
                    {const_cast<char*>(trailer_fields.data()), trailer_fields.size()},
                    {const_cast<char*>("\r\n"), 2}};
    if (trailer_fields.empty()) iov[1] = iov[2];
    write(iov, trailer_fields.empty() ? 2 : 3);
  }
  // HTTP/1.1: done once the mirror started to answer; HTTP/2 waits for the end of the answer
  // (closing the stream earlier could cancel request bytes still queued in it).
  if (!ended_ && !stream_ && answered_) finish(End::kAnswered);
}

void Mirror::abandon() {
  if (!ended_ && !request_done_) finish(End::kDropped);
}

void Mirror::on_upstream_connected(UpConn* c) {
  if (c != conn_ || ended_) return;
  connected_ = true;
  iovec iov{waiting_.data(), waiting_.size()};
  if (!conn_->send(&iov, 1)) return finish(End::kFailed);
  std::string().swap(waiting_);
  conn_->start_read();
}

void Mirror::on_upstream_data(UpConn* c) {
  if (c != conn_ || ended_) return;
  // Read and dropped: once the mirror has started to answer a complete request, the copy is
  // done (the rest of its answer would only be thrown away).
  if (c->input().size() > 0) answered_ = true;
  c->input().clear();
  if (answered_ && request_done_) return finish(End::kAnswered);
  if (c->eof()) finish(End::kFailed);
}

void Mirror::on_upstream_error(UpConn* c, bool, bool) {
  if (c != conn_ || ended_) return;
  finish(answered_ ? End::kAnswered : End::kFailed);
}

void Mirror::on_h2_response_head(H2UpStream* s) {
  if (s != stream_ || ended_) return;
  answered_ = true;  // the body that follows is taken and dropped; the end finishes the copy
}

void Mirror::on_h2_response_end(H2UpStream* s) {
  if (s != stream_ || ended_) return;
  finish(End::kAnswered);
}

void Mirror::on_h2_error(H2UpStream* s, H2UpFailure) {
  if (s != stream_ || ended_) return;
  finish(answered_ ? End::kAnswered : End::kFailed);
}

void Mirror::on_timer(void* self) {
  static_cast<Mirror*>(self)->finish(End::kFailed);
}

void Mirror::finish(End how) {
  if (ended_) return;
  ended_ = true;
  TimerWheel::cancel(timer_);
  WorkerStats& st = worker_.stats();
  if (how == End::kAnswered) ++st.mirror_answered;
  if (how == End::kDropped) ++st.mirror_dropped;
  if (how == End::kFailed) ++st.mirror_failed;
  cluster_->lb->on_request_end(endpoint_);
  if (conn_) conn_->release(false);
  conn_ = nullptr;
  if (stream_) stream_->release();  // RST_STREAM CANCEL if it is still open
  stream_ = nullptr;
  std::string().swap(waiting_);
  std::shared_ptr<Mirror> last = std::move(self_);  // may free this on return
}

}  // namespace kop::proxy::server
