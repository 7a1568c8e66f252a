// ExtAuthCall: one auth request to a route's auth service, its answer's head read.
#include "ext_auth_call.h"

#include <sys/uio.h>

#include <utility>

#include "kop/proxy/load_balancer.h"
#include "pool.h"
#include "worker.h"

namespace kop::proxy::server {
namespace {

// Client fields the auth request sets itself (nginx's proxy_set_header in ingress-nginx's auth
// location), so the client's own never reach the auth service.
bool replaced(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "x-original-url",          "x-original-method", "x-sent-from", "x-real-ip",
      "x-auth-request-redirect", "x-original-uri",    "x-scheme"};
  for (std::string_view n : kNames)
    if (iequals(name, n)) return true;
  return false;
}

void field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

void write_ext_auth_request(const ExtAuth& auth, const DownRequest& req, const RequestView& view,
                            std::string_view request_id, std::span<const ClientField> client_fields,
                            std::string& out) {
  const ExtAuthConfig& c = auth.config();
  const h1::RequestHead& h = *req.head;
  std::string_view method = c.method.empty() ? h.method : std::string_view(c.method);
  out.append(method).append(" ").append(c.path).append(" HTTP/1.1\r\n");
  field(out, "host", c.host);
  for (uint32_t i = 0; i < h.header_count; ++i) {
    const h1::Header& f = h.headers[i];
    // Hop-by-hop and framing fields, Expect (no body is sent), the forwarding fields set below.
    if (f.kind != h1::HeaderKind::kOther && f.kind != h1::HeaderKind::kXForwardedHost &&
        f.kind != h1::HeaderKind::kServer)
      continue;
    if (h.conn_other && h1::named_by_connection(h, f.name)) continue;
    if (replaced(f.name)) continue;
    field(out, f.name, f.value);
  }
  std::string_view scheme = req.tls ? "https" : "http";
  out.append("x-original-url: ").append(scheme).append("://").append(h.host);
  if (!h.target.empty() && h.target[0] == '/') {
    out.append(h.target);
  } else {
    out.append(h.path);
    if (!h.query.empty()) out.append("?").append(h.query);
  }
  out.append("\r\n");
  field(out, "x-original-method", h.method);
  field(out, "x-sent-from", "nginx-ingress-controller");
  field(out, "x-real-ip", req.client_ip);
  field(out, "x-forwarded-for", req.client_ip);
  if (h.request_id_index >= 0)
    field(out, "x-request-id", h.headers[h.request_id_index].value);
  else
    field(out, "x-request-id", request_id);
  out.append("x-auth-request-redirect: ");
  auth.request_redirect(view, out);
  out.append("\r\n");
  if (!c.method.empty()) {
    // ingress-nginx sends these two only with auth-method.
    out.append("x-original-uri: ").append(h.path);
    if (!h.query.empty()) out.append("?").append(h.query);
    out.append("\r\n");
    field(out, "x-scheme", scheme);
  }
  for (const ClientField& f : client_fields) field(out, f.name, f.value);
  out.append("\r\n");
}

ExtAuthCall::ExtAuthCall(Worker& worker) : worker_(worker) {
  timer_.fn = &ExtAuthCall::on_timer;
  timer_.self = this;
}

bool ExtAuthCall::start(const std::shared_ptr<ClusterState>& cluster, std::string head,
                        const ExtAuth& auth, uint64_t timeout_ms, ExtAuthUser* user) {
  ClusterState& cs = *cluster;
  const ClusterConfig& cc = cs.cluster->config;
  if (cc.protocol != UpstreamProtocol::kHttp1) return false;  // HTTP/1.1 only: 500
  LbContext ctx;
  ctx.now = MonoClock::now();
  uint32_t ep = cs.lb->choose(ctx);
  if (ep == kNoEndpoint) return false;
  Pool& pool = *cs.pools[ep];
  UpConn* idle = pool.take();
  // An auth request never waits for a connection: at the cluster's limit it fails (500).
  if (idle == nullptr &&
      ((cc.max_connections_per_endpoint && pool.open_count() >= cc.max_connections_per_endpoint) ||
       (cc.max_connections && *cs.open >= cc.max_connections)))
    return false;
  cluster_ = cluster;
  auth_ = &auth;
  user_ = user;
  endpoint_ = ep;
  head_ = std::move(head);
  head_only_ = head_.compare(0, 5, "HEAD ") == 0;
  scan_ = 0;
  retried_ = false;
  cs.lb->on_request_start(ep);
  worker_.timers().arm(timer_, worker_.now(), timeout_ms);
  if (idle != nullptr) {
    idle->attach(this, cs.pools[ep]);
    conn_ = idle;
    if (!send_head()) {
      cancel_with(false);
      return false;
    }
    return true;
  }
  conn_ = UpConn::open(cs.pools[ep], ClusterShare{cs.open, cs.pending}, this,
                       static_cast<uint64_t>(cc.connect_timeout.count()));
  return true;
}

bool ExtAuthCall::send_head() {
  iovec iov{head_.data(), head_.size()};
  if (!conn_->send(&iov, 1)) return false;
  conn_->start_read();
  return true;
}

void ExtAuthCall::on_upstream_connected(UpConn* c) {
  if (c != conn_ || !active()) return;
  if (!send_head()) end(nullptr, false);
}

void ExtAuthCall::on_upstream_data(UpConn* c) {
  if (c != conn_ || !active()) return;
  h1::ResponseHead rh;
  size_t len = 0;
  for (;;) {
    len = h1::find_head_end(c->input().data(), c->input().size(), &scan_);
    if (len == 0) {
      if (c->eof() && c->input().size() == 0) return stale_or_failed();
      if (c->eof() || c->input().size() >= 65536) return end(nullptr, false);
      c->start_read();
      return;
    }
    const char* why = nullptr;
    if (!h1::parse_response(c->input().data(), len, &rh, &why)) return end(nullptr, false);
    if (rh.status >= 100 && rh.status < 200) {
      c->input().rpos += len;  // an interim answer
      scan_ = 0;
      rh = h1::ResponseHead();
      continue;
    }
    break;
  }
  HeaderField fields[h1::kMaxHeaders];
  for (uint32_t i = 0; i < rh.header_count; ++i)
    fields[i] = HeaderField{rh.headers[i].name, rh.headers[i].value};
  auto answer = std::make_shared<const ExtAuth::Answer>(
      auth_->answer(rh.status, std::span<const HeaderField>(fields, rh.header_count)));
  // The body is not needed: a connection whose whole body is here goes back to the pool.
  size_t body = 0;
  bool known = head_only_ || rh.status == 204 || rh.status == 304;
  if (!known && !rh.chunked && rh.content_length >= 0) {
    body = static_cast<size_t>(rh.content_length);
    known = true;
  }
  bool reuse = known && rh.keep_alive() && c->input().size() == len + body;
  c->input().clear();
  end(std::move(answer), reuse);
}

void ExtAuthCall::on_upstream_error(UpConn* c, bool connect_phase, bool) {
  if (c != conn_ || !active()) {
    c->close();
    return;
  }
  if (connect_phase || c->input().size() > 0) return end(nullptr, false);
  stale_or_failed();
}

void ExtAuthCall::stale_or_failed() {
  // A pooled connection the auth service closed just as it was reused: once more on a new one.
  if (!conn_->reused() || retried_) return end(nullptr, false);
  retried_ = true;
  conn_->release(false);
  ClusterState& cs = *cluster_;
  scan_ = 0;
  conn_ = UpConn::open(cs.pools[endpoint_], ClusterShare{cs.open, cs.pending}, this,
                       static_cast<uint64_t>(cs.cluster->config.connect_timeout.count()));
}

void ExtAuthCall::on_timer(void* self) {
  auto* call = static_cast<ExtAuthCall*>(self);
  if (call->active()) call->end(nullptr, false);
}

void ExtAuthCall::end(std::shared_ptr<const ExtAuth::Answer> answer, bool reuse) {
  ExtAuthUser* user = user_;
  cancel_with(reuse);
  user->on_ext_auth(std::move(answer));  // may cancel or restart this call's owner
}

void ExtAuthCall::cancel() {
  if (active()) cancel_with(false);
}

void ExtAuthCall::cancel_with(bool reuse) {
  user_ = nullptr;
  TimerWheel::cancel(timer_);
  if (cluster_) cluster_->lb->on_request_end(endpoint_);
  if (conn_) conn_->release(reuse);
  conn_ = nullptr;
  cluster_.reset();
  std::string().swap(head_);
}

}  // namespace kop::proxy::server
