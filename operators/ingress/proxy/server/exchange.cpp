// Exchange: routes one request, picks an endpoint, drives the upstream HTTP/1.1 connection
// (with retries), and hands the response to the Downstream.
#include <sys/uio.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>

#include "exchange.h"
#include "grpc_reply.h"
#include "kop/proxy/cors.h"
#include "kop/proxy/response_pacer.h"
#include "pool.h"
#include "request_fields.h"
#include "tls.h"
#include "worker.h"

namespace kop::proxy::server {
namespace {

bool lookup_header(const void* ctx, std::string_view lower_name, std::size_t nth,
                   std::string_view* value) {
  const auto* h = static_cast<const h1::RequestHead*>(ctx);
  for (uint32_t i = 0; i < h->header_count; ++i) {
    if (h->headers[i].name.size() == lower_name.size() &&
        iequal_fast(h->headers[i].name, lower_name)) {
      if (nth == 0) {
        *value = h->headers[i].value;
        return true;
      }
      --nth;
    }
  }
  return false;
}

RequestView make_view(const DownRequest& r) {
  RequestView v;
  v.method = r.head->method;
  v.path = r.head->path;
  v.query = r.head->query;
  v.host = r.head->host;
  v.client_address = r.client_ip;
  v.scheme = r.tls ? "https" : "http";
  v.lookup = &lookup_header;
  v.lookup_ctx = r.head;
  return v;
}

// A CORS preflight on a route with a CORS policy is answered here, never forwarded: 200 with
// the CORS fields (appended to `out`) for an allowed origin, 403 without them for another.
// 0: not a preflight.
int cors_preflight(const CorsPolicy& cors, const RequestView& v, std::string& out) {
  std::string_view origin, method, headers;
  if (v.method != "OPTIONS" || !v.header("origin", &origin) ||
      !v.header("access-control-request-method", &method))
    return 0;
  if (!cors_origin_allowed(cors, origin)) return 403;
  v.header("access-control-request-headers", &headers);
  append_cors_preflight(cors, origin, method, headers, out);
  return 200;
}

// Writes the bulk of a head through a raw cursor: the caller sizes the string once to an upper
// bound, so each of the many small pieces costs one inlined copy instead of a capacity check and
// a call per std::string::append. done() trims the string to what was written.
class HeadWriter {
 public:
  HeadWriter(std::string& out, size_t bound) : out_(out) {
    size_t at = out.size();
    out.resize(at + bound);
    p_ = out.data() + at;
  }
  void put(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void field(std::string_view name, std::string_view value) {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  }
  void num(uint64_t v) { p_ += h1::to_dec(v, p_); }
  // The fields the mutations set or add (their bytes are counted by Mutations::added()).
  void mutations(const Mutations& ms) {
    for (const HeaderMutation* m : ms) {
      for (const auto& v : m->set) field(v.name, v.value);
      for (const auto& v : m->add) field(v.name, v.value);
    }
  }
  void done() {
    assert(p_ <= out_.data() + out_.size() && "head bound too small");
    out_.resize(static_cast<size_t>(p_ - out_.data()));
  }

 private:
  std::string& out_;
  char* p_;
};

// Slack of a head's upper bound for the fields the proxy adds (forwarding headers, request id,
// framing, upgrade, service time: about 220 bytes at most) besides the variable parts counted.
constexpr size_t kAddedFieldsBound = 320;

}  // namespace

Exchange::~Exchange() {
  if (active_) cancel();
}

void Exchange::start(Downstream* down, WorkerSnapshot* ws, const DownRequest& req,
                     uint64_t start_ms) {
  down_ = down;
  ws_ = ws;
  worker_.ref(ws);
  req_ = req;
  start_ms_ = start_ms;
  active_ = true;
  worker_.exchange_started();
  vhost_ = nullptr;
  route_ = nullptr;
  entry_ = nullptr;
  cs_ = nullptr;
  in_progress_at_ = nullptr;
  endpoint_ = kNoEndpoint;
  set_cookie_ = kNoEndpoint;
  tried_count_ = 0;
  stale_retry_used_ = false;
  woken_ = false;
  up_ = nullptr;
  h2_ = nullptr;
  request_done_ = !req.has_body;
  body_started_ = false;
  response_started_ = false;
  tunnel_ = false;
  paused_response_ = false;
  status_ = 0;
  upstream_ms_ = 0;
  ext_answer_.reset();
  upstream_address_.clear();
  error_code_ = 0;
  request_id_made_ = false;
  timer_.fn = &Exchange::on_timer;
  timer_.self = this;
  backoff_timer_.fn = &Exchange::on_backoff;
  backoff_timer_.self = this;
  paced_bytes_ = 0;
  pace_wait_ = down_paused_ = false;
  pace_timer_.fn = &Exchange::on_pace_timer;
  pace_timer_.self = this;

  const RouteTable& rt = *ws->snap->table;
  const h1::RequestHead& h = *req.head;
  vhost_ = rt.find_virtual_host(*req.listener, h.host);
  if (req.tls && !req.sni.empty() && !rt.host_allowed_for_sni(*req.listener, req.sni, vhost_))
    return local_reply(421, "misdirected request\n");
  // Client certificates come before routing, as nginx checks them when the request head is read.
  client_field_count_ = 0;
  if (req.listener->client_auth && !client_certificate_allowed()) return;
  if (!vhost_) return local_reply(404, "no virtual host\n");
  view_ = make_view(req_);
  route_ = rt.match(*vhost_, view_);
  if (!route_) return local_reply(404, "no route\n");
  // Access control comes first (nginx's access phase; access_control.h).
  if (route_->source_filter && !route_->source_filter->allows(req.client_address))
    return local_reply(403, "forbidden\n");
  if (route_->config->cors) {
    std::string fields;
    if (int status = cors_preflight(*route_->config->cors, view_, fields))
      return local_reply(status, "", fields);
  }
  switch (route_->action) {
    case ActionType::kRedirect: {
      std::string loc;
      route_->redirect_location(view_, req.tls ? "https" : "http", loc);
      std::string extra = "location: " + loc + "\r\n";
      return local_reply(static_cast<int>(route_->config->redirect->code), "", extra);
    }
    case ActionType::kDirectResponse: {
      const DirectResponseAction& d = route_->config->direct_response;
      std::string extra;
      if (!d.body.empty()) extra = "content-type: " + d.content_type + "\r\n";
      return local_reply(static_cast<int>(d.status), d.body, extra, /*plain=*/false);
    }
    case ActionType::kForward:
      break;
  }
  // Per-client limits (rate_limit.h): after redirects and preflights, as nginx's preaccess phase.
  if (RateLimiter* limiter = route_->rate_limiter.get()) {
    RateLimiter::Verdict verdict = limiter->admit(req.client_address, worker_.now());
    if (verdict == RateLimiter::Verdict::kRefuse)
      return local_reply(static_cast<int>(limiter->policy().status), "request limit exceeded\n");
    if (verdict == RateLimiter::Verdict::kAdmit && limiter->policy().max_connections) {
      in_progress_at_ = limiter;
      limited_address_ = *req.client_address;
    }
  }
  // Basic authentication (basic_auth.h), nginx's access phase; a bcrypt verification resumes
  // the request in authenticated().
  if (route_->basic_auth && !authenticate()) return;
  ask_auth_service();
}

void Exchange::ask_auth_service() {
  if (!route_->ext_auth) return forward_request();
  const ExtAuth& auth = *route_->ext_auth;
  ++worker_.stats().ext_auth_checks;
  ext_auth_caching_ = auth.cache_key(view_, &ext_auth_key_);
  if (ext_auth_caching_) {
    if (auto answer = auth.cached(ext_auth_key_, static_cast<int64_t>(worker_.now()))) {
      ++worker_.stats().ext_auth_cached;
      ext_auth_caching_ = false;
      return ext_auth_decided(std::move(answer));
    }
  }
  // The upstream request carries the same x-request-id as the auth request (request_id()).
  std::string head;
  write_ext_auth_request(auth, req_, view_,
                         req_.head->request_id_index < 0 ? request_id() : std::string_view(),
                         std::span<const ClientField>(client_fields_, client_field_count_), head);
  if (!ext_auth_call_.start(ws_->cluster(route_->ext_auth_cluster), std::move(head), auth,
                            static_cast<uint64_t>(auth.config().timeout.count()), this))
    return ext_auth_decided(nullptr);
}

void Exchange::on_ext_auth(std::shared_ptr<const ExtAuth::Answer> answer) {
  if (!active_) return;
  if (answer && ext_auth_caching_)
    route_->ext_auth->remember(ext_auth_key_, answer, static_cast<int64_t>(worker_.now()));
  ext_auth_decided(std::move(answer));
}

void Exchange::ext_auth_decided(std::shared_ptr<const ExtAuth::Answer> answer) {
  WorkerStats& st = worker_.stats();
  const ExtAuth& auth = *route_->ext_auth;
  const ExtAuth::Answer& a = answer ? *answer : ExtAuth::failed();
  ext_answer_ = std::move(answer);
  if (a.verdict == ExtAuth::Verdict::kAllow) {
    ++st.ext_auth_allowed;
    return forward_request();
  }
  std::string extra;
  int status = 500;
  if (a.verdict == ExtAuth::Verdict::kUnauthorized || a.verdict == ExtAuth::Verdict::kForbidden) {
    ++st.ext_auth_denied;
    status = a.verdict == ExtAuth::Verdict::kForbidden ? 403 : 401;
  } else {
    ++st.ext_auth_failed;
  }
  if (status == 401) {
    std::string location;
    if (auth.signin_location(view_, location)) {
      status = 302;
      extra.append("location: ").append(location).append("\r\n");
    } else {
      for (const std::string& c : a.www_authenticate)
        extra.append("www-authenticate: ").append(c).append("\r\n");
    }
  }
  if (auth.sets_cookie_on(status))
    for (const HeaderValue& c : a.cookies.add)
      extra.append("set-cookie: ").append(c.value).append("\r\n");
  local_reply(status,
              status == 302   ? ""
              : status == 401 ? "unauthorized\n"
              : status == 403 ? "forbidden\n"
                              : "external authentication failed\n",
              extra);
}

bool Exchange::client_certificate_allowed() {
  const Listener& l = *req_.listener;
  const RouteTable& rt = *ws_->snap->table;
  // The policy of the certificate the SNI selected; without SNI, of the one the Host names.
  uint32_t i = req_.sni.empty() ? rt.certificate_for_host(l, req_.head->host)
                                : rt.certificate_for_sni(l, req_.sni);
  if (i >= l.certificates.size() || !l.certificates[i]->client_auth) return true;
  const ClientAuth& auth = *l.certificates[i]->client_auth;
  // The handshake's verification counts only when that very context made it: a connection
  // without SNI was verified by the default certificate's CAs, one from before a reload by
  // its context of then (contexts are reused across reloads while their settings hold).
  const PeerCertificate* peer = nullptr;
  const auto& contexts = ws_->snap->tls;
  if (req_.client_cert && l.id < contexts.size() && contexts[l.id] &&
      i < contexts[l.id]->ctxs_.size() && req_.client_cert->ctx == contexts[l.id]->ctx(i))
    peer = &req_.client_cert->peer;
  std::string_view refused;
  switch (auth.check(peer)) {
    case ClientAuth::Verdict::kAllow:
      client_field_count_ = static_cast<uint8_t>(auth.upstream_fields(peer, client_fields_));
      return true;
    case ClientAuth::Verdict::kSubjectRefused:
      local_reply(403, kSubjectRefusedBody);
      return false;
    case ClientAuth::Verdict::kNoCertificate:
      refused = kNoCertificateBody;
      break;
    case ClientAuth::Verdict::kCertificateError:
      refused = kCertificateErrorBody;
      break;
  }
  const std::string& page = auth.config().error_page;
  if (page.empty())
    local_reply(400, refused);
  else
    local_reply(302, "", "location: " + page + "\r\n");
  return false;
}

void Exchange::forward_request() {
  const h1::RequestHead& h = *req_.head;
  body_limit_ = route_->config->max_request_body_bytes;
  body_bytes_ = 0;
  if (body_limit_ && h.content_length > 0 && static_cast<uint64_t>(h.content_length) > body_limit_)
    return local_reply(413, "request body too large\n");
  if (route_->clusters.empty()) return local_reply(503, "no cluster\n");
  const RouteClusterRef& entry =
      route_->clusters.size() == 1 ? route_->clusters[0] : route_->pick(worker_.random());
  entry_ = &entry;
  // The share of the route's weight that is answered here (Gateway API: invalid backendRefs).
  if (entry.direct_status != 0) return local_reply(static_cast<int>(entry.direct_status), "");
  cs_ = ws_->cluster(entry.cluster).get();
  const ForwardAction& fw = route_->config->forward;
  if (!fw.websocket) req_.upgrade_websocket = false;
  attempts_left_ = 1 + std::min<uint32_t>(fw.retry.num_retries, 10);  // the parser's bound
  uint64_t timeout = static_cast<uint64_t>(fw.timeout.count());
  uint64_t per_try = static_cast<uint64_t>(fw.retry.per_try_timeout.count());
  if (per_try && (!timeout || per_try < timeout)) timeout = per_try;
  // Without a whole-request timeout the idle timeout bounds the wait for the response head
  // too, renewed while the request body flows (nginx's proxy_read_timeout and
  // proxy_send_timeout count from the request's last write).
  idle_wait_ = !timeout && fw.idle_timeout.count() > 0;
  if (idle_wait_) timeout = static_cast<uint64_t>(fw.idle_timeout.count());
  if (timeout) worker_.timers().arm(timer_, worker_.now(), timeout);
  attempt();
}

bool Exchange::authenticate() {
  const std::shared_ptr<const BasicAuth>& auth = route_->basic_auth;
  std::string_view value;
  view_.header("authorization", &value);
  // A keep-alive client's credentials, allowed on this connection before: a byte compare.
  if (req_.credentials != nullptr && auth->recalled(*req_.credentials, value)) return true;
  auto attempt = std::make_shared<BasicAuth::Attempt>();
  switch (auth->check(value, *attempt, req_.credentials)) {
    case BasicAuth::Outcome::kAllow:
      return true;
    case BasicAuth::Outcome::kDeny:
      local_reply(401, "unauthorized\n", auth->challenge_field());
      return false;
    case BasicAuth::Outcome::kVerify:
      break;
  }
  // A flood of bcrypt guesses waits in a bounded queue, never on the event loop.
  if (worker_.off_loop_jobs() >= kMaxOffLoopJobs) {
    local_reply(503, "too many authentications in progress\n");
    return false;
  }
  auth_wait_ = std::make_shared<AuthWait>(AuthWait{this});
  Worker& w = worker_;
  w.off_loop([&w, wait = auth_wait_, auth, attempt] {
    bool ok = auth->verify(*attempt);
    asio::post(w.io(), [&w, wait, ok] {
      w.off_loop_done();
      if (Exchange* e = wait->exchange) e->authenticated(ok);
    });
  });
  return false;
}

void Exchange::authenticated(bool ok) {
  auth_wait_->exchange = nullptr;
  auth_wait_.reset();
  if (!ok) return local_reply(401, "unauthorized\n", route_->basic_auth->challenge_field());
  ask_auth_service();
}

void Exchange::attempt() {
  const Cluster& cl = *cs_->cluster;
  LbContext ctx;
  ctx.now = MonoClock::now();
  uint64_t hash = 0;
  if (cl.lb_policy == LbPolicy::kRingHash || cl.lb_policy == LbPolicy::kMaglev) {
    ctx.has_hash = cl.hash_key(view_, &hash);
    ctx.hash = hash;
  }
  ctx.exclude = std::span<const uint32_t>(tried_, tried_count_);
  std::string_view cookie;
  const HashPolicy& hp = cl.hash_on;
  bool has_cookie = hp.set_cookie && find_cookie(view_, hp.name, &cookie);
  if (has_cookie && !hp.cookie_balanced) ctx.preferred = cl.affinity_endpoint(cookie);
  // A retry of a session without change-on-failure goes back to the session's endpoint.
  if (has_cookie && tried_count_ > 0 && !hp.cookie_change_on_failure) ctx.exclude = {};
  bool new_key = hp.set_cookie && hp.cookie_balanced &&
                 (!has_cookie || (tried_count_ > 0 && hp.cookie_change_on_failure));
  if (new_key) balanced_session_key(ctx);
  uint32_t ep = cs_->lb->choose(ctx);
  if (ep == kNoEndpoint) return fail(503, "no healthy upstream\n");
  // Cookie affinity: (re)issue the cookie when the request did not name this endpoint, or for
  // a new balanced session key.
  if (hp.set_cookie)
    set_cookie_ = hp.cookie_balanced ? (new_key ? ep : set_cookie_)
                                     : (ep == ctx.preferred ? kNoEndpoint : ep);
  endpoint_ = ep;
  if (tried_count_ < std::size(tried_)) tried_[tried_count_++] = ep;
  cs_->lb->on_request_start(ep);
  lb_active_ = true;
  if (cl.config.protocol != UpstreamProtocol::kHttp1) return attempt_h2(ep);
  Pool& pool = *cs_->pools[ep];
  if (UpConn* c = pool.take()) {
    woken_ = false;
    ++worker_.stats().upstream_reused;
    c->attach(this, cs_->pools[ep]);
    up_ = c;
    send_request_head();
    return;
  }
  const ClusterConfig& cc = cl.config;
  if ((cc.max_connections_per_endpoint && pool.open_count() >= cc.max_connections_per_endpoint) ||
      (cc.max_connections && *cs_->open >= cc.max_connections)) {
    return enqueue_pending();
  }
  woken_ = false;
  up_ = UpConn::open(cs_->pools[ep], ClusterShare{cs_->open, cs_->pending}, this,
                     connect_timeout_ms());
}

uint64_t Exchange::connect_timeout_ms() const {
  Millis route = route_->config->forward.connect_timeout;
  return static_cast<uint64_t>(route.count() > 0 ? route.count()
                                                 : cs_->cluster->config.connect_timeout.count());
}

std::string_view Exchange::request_id() {
  if (!request_id_made_) {
    format_request_id(request_id_, worker_.random(), worker_.random());
    request_id_made_ = true;
  }
  return {request_id_, sizeof(request_id_)};
}

void Exchange::balanced_session_key(LbContext& ctx) {
  // A key whose place on the ring is an endpoint not tried yet (a few draws: the ring spreads
  // keys evenly), hashed as every later request carrying it will be (Cluster::hash_key).
  static constexpr char kHex[] = "0123456789abcdef";
  const Cluster& cl = *cs_->cluster;
  for (int draw = 0; draw < 16; ++draw) {
    uint64_t r = worker_.random();
    for (char& c : cookie_key_) {
      c = kHex[r & 15];
      r >>= 4;
    }
    ctx.hash = stable_hash(std::string_view(cookie_key_, sizeof(cookie_key_)));
    ctx.has_hash = true;
    uint32_t at = cl.ring_endpoint(ctx.hash);
    if (std::find(tried_, tried_ + tried_count_, at) == tried_ + tried_count_) break;
  }
}

void Exchange::enqueue_pending() {
  // The endpoint was chosen for a connection we cannot open: undo that choice, so that the
  // waiter chooses again (maybe another endpoint) when a connection frees up.
  if (lb_active_) {
    lb_active_ = false;
    cs_->lb->on_request_end(endpoint_);
  }
  if (tried_count_ > 0) --tried_count_;
  endpoint_ = kNoEndpoint;
  PendingQueue& q = *cs_->pending;
  WorkerStats& st = worker_.stats();
  bool woken = woken_;
  woken_ = false;
  if (woken) {
    // Still limited (another waiter or a new request took the connection): keep our place.
    q.push_front(this);
  } else {
    if (q.size >= cs_->cluster->config.max_pending_requests) {
      ++st.pending_overflow;
      return fail(503, "upstream connection limit\n");
    }
    ++st.pending_total;
    q.push_back(this);
  }
  pending_ = &q;
  ++st.pending_active;
}

void Exchange::dequeue_pending() {
  if (!pending_) return;
  pending_->remove(this);
  pending_ = nullptr;
  --worker_.stats().pending_active;
}

void PendingQueue::push_back(Exchange* e) {
  e->pend_next_ = nullptr;
  e->pend_prev_ = tail;
  if (tail)
    tail->pend_next_ = e;
  else
    head = e;
  tail = e;
  ++size;
}

void PendingQueue::push_front(Exchange* e) {
  e->pend_prev_ = nullptr;
  e->pend_next_ = head;
  if (head)
    head->pend_prev_ = e;
  else
    tail = e;
  head = e;
  ++size;
}

void PendingQueue::remove(Exchange* e) {
  if (e->pend_prev_)
    e->pend_prev_->pend_next_ = e->pend_next_;
  else
    head = e->pend_next_;
  if (e->pend_next_)
    e->pend_next_->pend_prev_ = e->pend_prev_;
  else
    tail = e->pend_prev_;
  e->pend_prev_ = e->pend_next_ = nullptr;
  --size;
}

Exchange* PendingQueue::pop_front() {
  Exchange* e = head;
  if (e) remove(e);
  return e;
}

void PendingQueue::wake(Worker& w, const std::shared_ptr<PendingQueue>& q) {
  if (!q || !q->head) return;
  asio::post(w.io(), [q] {
    Exchange* e = q->head;
    if (!e) return;
    e->dequeue_pending();
    if (!e->active_) return;
    e->woken_ = true;
    e->attempt();
  });
}

void Exchange::on_upstream_connected(UpConn* c) {
  if (c != up_) return;
  send_request_head();
}

void Exchange::send_request_head() {
  const h1::RequestHead& h = *req_.head;
  // An error request carries its own fields only (nginx's error location sets its own), so
  // none of external authentication's either.
  const Mutations mut =
      error_code_ ? Mutations(error_fields_, kNoMutation, kNoMutation)
                  : Mutations(entry_mutation(*route_, *ws_->snap->table, cs_->cluster.get(),
                                             /*request=*/true),
                              route_->config->request_headers, vhost_->config->request_headers,
                              ext_answer_ ? ext_answer_->upstream : kNoMutation);
  const ForwardAction& fw = route_->config->forward;
  std::string& o = head_buf_;
  o.clear();
  o.append(h.method).push_back(' ');
  if (error_code_) {
    o.push_back('/');
  } else if (fw.prefix_rewrite || fw.path_rewrite || fw.regex_rewrite) {
    route_->rewrite_path(h.path, h.query, o);
  } else if (h.target[0] == '/') {
    o.append(h.target);
  } else {
    o.append(h.path);
    if (!h.query.empty()) o.append("?").append(h.query);
  }
  o.append(" HTTP/1.1\r\n");
  const std::string* host_rewrite = fw.host_rewrite && !error_code_ ? &*fw.host_rewrite : nullptr;
  size_t bound = kAddedFieldsBound + req_.client_ip.size() + h.host.size() + h.upgrade.size() +
                 upstream_address_view().size() + (host_rewrite ? host_rewrite->size() : 0) +
                 mut.added();
  for (uint8_t k = 0; k < client_field_count_; ++k)
    bound += client_fields_[k].name.size() + client_fields_[k].value.size() + 4;
  for (uint32_t i = 0; i < h.header_count; ++i)
    bound += h.headers[i].name.size() + h.headers[i].value.size() + 6;  // ": ", CRLF or ", "
  HeadWriter w(o, bound);
  for (uint32_t i = 0; i < h.header_count; ++i) {
    const h1::Header& f = h.headers[i];
    if (f.kind != h1::HeaderKind::kOther && f.kind != h1::HeaderKind::kHost &&
        f.kind != h1::HeaderKind::kXRequestId && f.kind != h1::HeaderKind::kExpect &&
        f.kind != h1::HeaderKind::kServer)
      continue;  // hop-by-hop, framing and the forwarding headers we regenerate
    if (f.kind == h1::HeaderKind::kExpect) continue;  // the proxy answers 100-continue itself
    if (host_rewrite && f.kind == h1::HeaderKind::kHost) continue;
    if (h.conn_other && h1::named_by_connection(h, f.name)) continue;
    if (mut.drops(f.name)) continue;
    if (f.kind == h1::HeaderKind::kXRequestId && static_cast<int>(i) != h.request_id_index)
      continue;
    w.field(f.name, f.value);
  }
  if (host_rewrite)
    w.field("host", *host_rewrite);
  else if (h.host_index < 0)
    w.field("host", upstream_address_view());
  w.put("x-forwarded-for: ");
  if (h.xff_index >= 0) {
    // Every X-Forwarded-For value, in order, then the client.
    bool first = true;
    for (uint32_t i = 0; i < h.header_count; ++i) {
      if (h.headers[i].kind != h1::HeaderKind::kXForwardedFor) continue;
      if (!first) w.put(", ");
      w.put(h.headers[i].value);
      first = false;
    }
    w.put(", ");
  }
  w.put(req_.client_ip);
  w.put("\r\n");
  w.put(req_.tls ? "x-forwarded-proto: https\r\n" : "x-forwarded-proto: http\r\n");
  if (!h.host.empty()) w.field("x-forwarded-host", h.host);
  if (h.request_id_index < 0) w.field("x-request-id", request_id());
  // The client certificate's fields (the client's own ssl-client-* were never copied above).
  for (uint8_t k = 0; k < client_field_count_; ++k)
    w.field(client_fields_[k].name, client_fields_[k].value);
  if (req_.upgrade_websocket) {
    w.put("connection: upgrade\r\n");
    w.field("upgrade", h.upgrade);
  }
  request_chunked_ = false;
  if (error_code_) {
    if (!h.is_get_like) w.put("content-length: 0\r\n");  // the error request has no body
  } else if (h.chunked) {
    w.put("transfer-encoding: chunked\r\n");
    request_chunked_ = true;
  } else if (h.content_length > 0 || (h.content_length == 0 && !h.is_get_like)) {
    w.put("content-length: ");
    w.num(static_cast<uint64_t>(h.content_length));
    w.put("\r\n");
  }
  w.mutations(mut);
  w.done();
  o.append("\r\n");
  upstream_address_ = up_->address();
  sent_ms_ = worker_.now();
  rscan_ = 0;
  if (mirrors_wanted()) start_mirrors(mirror_request_h1(o, h));
  iovec iov{o.data(), o.size()};
  UpConn* c = up_;
  if (!c->send(&iov, 1)) return on_upstream_error(c, false, false);
  c->start_read();
  if (!request_done_ || req_.upgrade_websocket) down_->request_body_ready();
}

bool Exchange::mirrors_wanted() {
  if (mirrors_started_) return false;
  mirrors_started_ = true;
  return (!route_->mirrors.empty() || (entry_ && !entry_->mirrors.empty())) &&
         !req_.upgrade_websocket;
}

MirrorRequest Exchange::mirror_request_h1(std::string_view head, const h1::RequestHead& h) const {
  MirrorRequest m;
  m.has_body = req_.has_body;
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp = line.find(' ');
  m.method = std::string(line.substr(0, sp));
  m.target = std::string(line.substr(sp + 1, line.rfind(' ') - sp - 1));
  for (uint32_t i = 0; i < h.header_count; ++i)
    if (h.headers[i].kind == h1::HeaderKind::kTe &&
        h.headers[i].value.find("trailers") != std::string_view::npos)
      m.te_trailers = true;
  for (size_t at = eol + 2; at < head.size();) {
    eol = head.find("\r\n", at);
    if (eol == std::string_view::npos || eol == at) break;
    line = head.substr(at, eol - at);
    at = eol + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& c : name)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name == "host") {
      m.authority = std::string(value);
    } else if (name == "content-length") {
      m.content_length =
          static_cast<int64_t>(std::strtoull(std::string(value).c_str(), nullptr, 10));
    } else if (name != "transfer-encoding" && name != "connection" && name != "upgrade") {
      m.fields.append(name).append(": ").append(value).append("\r\n");
    }
  }
  return m;
}

void Exchange::start_mirrors(const MirrorRequest& req) {
  uint64_t timeout = static_cast<uint64_t>(route_->config->forward.timeout.count());
  auto start = [&](const std::vector<std::pair<uint32_t, uint32_t>>& list) {
    for (const auto& [cluster, per_million] : list) {
      if (per_million < 1000000 && worker_.random() % 1000000 >= per_million) continue;
      if (auto m = Mirror::start(worker_, ws_->cluster(cluster), req, timeout))
        mirrors_.push_back(std::move(m));
    }
  };
  start(route_->mirrors);
  if (entry_) start(entry_->mirrors);  // the picked backendRef's own (Gateway API)
  // A request without a body may have ended before the upstream connection was up.
  if (request_done_ && !mirrors_.empty()) end_mirrors({});
}

void Exchange::feed_mirrors(const char* data, size_t n) {
  for (const auto& m : mirrors_) m->send(data, n);
}

void Exchange::end_mirrors(std::string_view trailer_fields) {
  for (const auto& m : mirrors_) m->end(trailer_fields);
  mirrors_.clear();  // each runs on by itself until its response ends
}

bool Exchange::request_body(const char* data, size_t n) {
  // A body without a declared length (chunked, HTTP/2) is counted as it streams: past the
  // limit the upstream request is abandoned and the client answered 413 (when no response
  // started yet; else the response is cut).
  body_bytes_ += n;
  if (idle_wait_ && !response_started_)
    worker_.timers().arm(timer_, worker_.now(),
                         static_cast<uint64_t>(route_->config->forward.idle_timeout.count()));
  if (body_limit_ && body_bytes_ > body_limit_) {
    fail(413, "request body too large\n");
    return false;
  }
  if (n && !mirrors_.empty()) feed_mirrors(data, n);
  if (h2_ && n) {
    body_started_ = true;
    return h2_->send_body(data, n);
  }
  if (!up_ || n == 0) return true;
  body_started_ = true;
  UpConn* c = up_;
  bool ok;
  if (request_chunked_) {
    char hex[20];
    size_t hl = h1::to_hex(n, hex);
    hex[hl++] = '\r';
    hex[hl++] = '\n';
    iovec iov[3] = {{hex, hl}, {const_cast<char*>(data), n}, {const_cast<char*>("\r\n"), 2}};
    ok = c->send(iov, 3);
  } else {
    iovec iov{const_cast<char*>(data), n};
    ok = c->send(&iov, 1);
  }
  if (!ok) {
    on_upstream_error(c, false, false);
    return false;
  }
  return !c->write_pending();
}

void Exchange::request_end(std::string_view trailer_fields) {
  if (request_done_) return;
  request_done_ = true;
  if (!mirrors_.empty()) end_mirrors(trailer_fields);
  if (h2_) return h2_->end_request(trailer_fields);
  if (!up_) return;
  if (request_chunked_) {
    // The last chunk, the trailer section (RFC 9112 7.1.2), the final CRLF.
    iovec iov[3] = {{const_cast<char*>("0\r\n"), 3},
                    {const_cast<char*>(trailer_fields.data()), trailer_fields.size()},
                    {const_cast<char*>("\r\n"), 2}};
    if (trailer_fields.empty()) iov[1] = iov[2];
    UpConn* c = up_;
    if (!c->send(iov, trailer_fields.empty() ? 2 : 3)) return on_upstream_error(c, false, false);
  }
}

void Exchange::on_upstream_writable(UpConn* c) {
  if (c != up_) return;
  down_->resume_request_body();
}

bool Exchange::tunnel_send(const char* data, size_t n) {
  if (!up_) return true;
  iovec iov{const_cast<char*>(data), n};
  UpConn* c = up_;
  if (!c->send(&iov, 1)) {
    on_upstream_error(c, false, false);
    return false;
  }
  return !c->write_pending();
}

void Exchange::tunnel_client_eof() {
  if (!up_) return;
  up_->shutdown_send();
}

void Exchange::on_upstream_data(UpConn* c) {
  if (c != up_) return;
  if (!response_started_) return handle_response_head();
  // Each read renews the stream idle timeout, as an HTTP/2 upstream's DATA does: a slow but
  // steady body is not cut.
  uint64_t idle = static_cast<uint64_t>(route_->config->forward.idle_timeout.count());
  if (idle && !tunnel_) worker_.timers().arm(timer_, worker_.now(), idle);
  pump_response_body();
}

void Exchange::handle_response_head() {
  UpConn* c = up_;
  for (;;) {
    size_t len = h1::find_head_end(c->input().data(), c->input().size(), &rscan_);
    if (!len) {
      if (c->eof()) return on_upstream_error(c, false, false);
      if (c->input().size() >= 65536) return fail(502, "upstream response head too large\n");
      c->start_read();
      return;
    }
    rhead_.header_count = 0;
    rhead_.content_length = -1;
    rhead_.chunked = rhead_.conn_close = rhead_.conn_keep_alive = rhead_.conn_upgrade =
        rhead_.conn_other = false;
    rhead_.upgrade = {};
    const char* why = nullptr;
    if (!h1::parse_response(c->input().data(), len, &rhead_, &why)) {
      report(UpstreamResult::kReset);
      return fail(502, "invalid upstream response\n");
    }
    if (rhead_.status >= 100 && rhead_.status < 200 && rhead_.status != 101) {
      c->input().rpos += len;  // interim response (100 Continue was already answered by us)
      rscan_ = 0;
      continue;
    }
    break;
  }
  size_t len = rhead_.head_bytes;
  upstream_ms_ = worker_.refresh_now() - sent_ms_;
  int st = rhead_.status;
  // A retry stays within the route's timeout: its timer keeps counting.
  if (retry_on_status(st)) return;
  TimerWheel::cancel(timer_);
  if (intercept_error(st, /*answered=*/true)) return;
  status_ = st;
  response_started_ = true;
  ResponseHead rh;
  rh.status = st;
  if (st == 101) {
    if (!req_.upgrade_websocket) return fail(502, "unexpected upgrade from upstream\n");
    rframing_ = Framing::kClose;
    tunnel_ = true;
    rh.upgrade = true;
  } else if (req_.head->is_head || st == 204 || st == 304) {
    rframing_ = Framing::kNone;
    rh.no_body = true;
    rh.content_length = rhead_.content_length;
  } else if (rhead_.chunked) {
    rframing_ = Framing::kChunked;
    rchunk_.reset();
  } else if (rhead_.content_length >= 0) {
    rframing_ = Framing::kLength;
    rremaining_ = rhead_.content_length;
    rh.content_length = rhead_.content_length;
  } else {
    rframing_ = Framing::kClose;
  }
  // An answer that came before the whole request body went out: the upstream may not have read
  // the body (an early 413, or a 200 that ignores it), so its connection is not reused.
  reuse_ = rhead_.keep_alive() && rframing_ != Framing::kClose && request_done_;
  write_response_fields();
  if (tunnel_) {
    head_buf_.append("connection: upgrade\r\nupgrade: ").append(rhead_.upgrade).append("\r\n");
  }
  rh.fields = head_buf_;
  c->input().rpos += len;
  if (c->input().rpos == c->input().wpos) c->input().clear();
  report(st >= 500 ? UpstreamResult::kHttp5xx : UpstreamResult::kSuccess);
  uint64_t idle = static_cast<uint64_t>(route_->config->forward.idle_timeout.count());
  if (idle && !tunnel_) worker_.timers().arm(timer_, worker_.now(), idle);
  down_->response_head(rh);
  if (!active_) return;
  if (rframing_ == Framing::kNone) {
    if (c->input().size() > 0) reuse_ = false;
    return finish_response(reuse_);
  }
  if (tunnel_) down_->request_body_ready();
  if (!active_) return;
  pump_response_body();
}

bool Exchange::retry_on_status(int st) {
  // Retry per policy on 5xx-class answers, before anything went downstream.
  const RetryPolicy& rp = route_->config->forward.retry;
  bool idempotent = req_.head->is_get_like || rp.retry_non_idempotent;
  if (attempts_left_ <= 1 || !idempotent || body_started_ || req_.has_body || !retry_window_open())
    return false;
  bool want = ((rp.retry_on & uint32_t(RetryOn::k5xx)) && st >= 500) ||
              ((rp.retry_on & uint32_t(RetryOn::kGatewayError)) && st >= 502 && st <= 504);
  if (!want && (rp.retry_on & uint32_t(RetryOn::kRetriableStatusCodes))) {
    for (uint32_t code : rp.retriable_status_codes)
      if (int(code) == st) want = true;
  }
  if (!want) return false;
  report(st >= 500 ? UpstreamResult::kHttp5xx : UpstreamResult::kSuccess);
  release_upstream(false);
  --attempts_left_;
  ++worker_.stats().retries;
  retry();
  return true;
}

void Exchange::retry() {
  const Millis backoff = route_->config->forward.retry.backoff;
  if (backoff.count() == 0) return attempt();
  // The route's timer keeps running meanwhile: a timeout during the wait answers 504.
  worker_.timers().arm(backoff_timer_, worker_.refresh_now(),
                       static_cast<uint64_t>(backoff.count()));
}

void Exchange::on_backoff(void* self) {
  auto* e = static_cast<Exchange*>(self);
  if (e->active_) e->attempt();
}

bool Exchange::intercept_error(int st, bool answered) {
  // Only before anything went downstream, and once the whole request was sent (the error
  // request has no body, and a body still arriving would have nowhere to go).
  if (error_code_ || !route_->intercepts(st) || response_started_ || !request_done_ || tunnel_)
    return false;
  const ErrorPagePolicy& policy = *route_->config->forward.error_pages;
  if (answered) report(st >= 500 ? UpstreamResult::kHttp5xx : UpstreamResult::kSuccess);
  release_upstream(false);
  endpoint_ = kNoEndpoint;
  error_code_ = st;
  const h1::RequestHead& h = *req_.head;
  error_fields_.set.clear();
  error_fields_.set.push_back(HeaderValue{"x-code", std::to_string(st)});
  std::string_view accept;
  if (view_.header("accept", &accept) && !accept.empty())
    error_fields_.set.push_back(HeaderValue{"x-format", std::string(accept)});
  std::string uri(!h.target.empty() && h.target[0] == '/' ? h.target : h.path);
  if ((h.target.empty() || h.target[0] != '/') && !h.query.empty()) uri.append("?").append(h.query);
  error_fields_.set.push_back(HeaderValue{"x-original-uri", std::move(uri)});
  // x-request-id is nginx's $req_id: the id the upstream got, the client's or the one
  // request_id() made, sent again as for any request.
  for (const HeaderValue& v : policy.request_headers) error_fields_.set.push_back(v);
  req_.upgrade_websocket = false;
  cs_ = ws_->cluster(route_->error_cluster).get();
  tried_count_ = 0;
  attempts_left_ = 1;  // the error request is not retried
  stale_retry_used_ = false;
  set_cookie_ = kNoEndpoint;
  body_started_ = false;
  const ForwardAction& fw = route_->config->forward;
  uint64_t timeout = static_cast<uint64_t>((idle_wait_ ? fw.idle_timeout : fw.timeout).count());
  if (timeout) worker_.timers().arm(timer_, worker_.refresh_now(), timeout);
  attempt();
  return true;
}

bool Exchange::retry_window_open() {
  const Millis window = route_->config->forward.retry.retry_window;
  return window.count() == 0 ||
         worker_.refresh_now() - start_ms_ < static_cast<uint64_t>(window.count());
}

void Exchange::write_response_fields() {
  // Response fields: everything but hop-by-hop headers, then ours.
  const Mutations mut(
      entry_mutation(*route_, *ws_->snap->table, cs_->cluster.get(), /*request=*/false),
      route_->config->response_headers, vhost_->config->response_headers,
      ext_answer_ && route_->ext_auth->sets_cookie_on(status_) ? ext_answer_->cookies
                                                               : kNoMutation);
  std::string& o = head_buf_;
  o.clear();
  size_t bound = kAddedFieldsBound + mut.added();
  for (uint32_t i = 0; i < rhead_.header_count; ++i)
    bound += rhead_.headers[i].name.size() + rhead_.headers[i].value.size() + 4;
  // CORS fields for an allowed origin (cors.h), written with the others.
  const CorsRules* cors = route_->cors.get();
  std::string_view origin;
  if (cors && !(view_.header("origin", &origin) && cors->allows(origin))) cors = nullptr;
  if (cors) bound += CorsRules::kAllowOrigin.size() + origin.size() + cors->after_origin().size();
  HeadWriter w(o, bound);
  const ServerHeader server_policy = ws_->snap->settings.server_header;
  bool has_server = false;
  for (uint32_t i = 0; i < rhead_.header_count; ++i) {
    const h1::Header& f = rhead_.headers[i];
    if (h1::is_hop_by_hop(f.kind)) continue;
    // Fields the upstream's Connection header names are hop-by-hop too (RFC 9110 7.6.1); an
    // HTTP/2 client would find the response malformed with them (RFC 9113 8.2.2).
    if (rhead_.conn_other && h1::named_by_connection(rhead_, f.name)) continue;
    if (f.kind == h1::HeaderKind::kServer) {
      if (server_policy == ServerHeader::kOverwrite) continue;
      has_server = true;
    }
    if (mut.drops(f.name)) continue;
    w.field(f.name, f.value);
  }
  if (server_policy == ServerHeader::kOverwrite ||
      (server_policy == ServerHeader::kAppendIfAbsent && !has_server))
    w.put(kServerField);
  w.put("x-kop-upstream-service-time: ");
  w.num(upstream_ms_);
  w.put("\r\n");
  w.mutations(mut);
  if (cors) {
    w.put(CorsRules::kAllowOrigin);
    w.put(origin);
    w.put(cors->after_origin());
  }
  w.done();
  // Cookie affinity (rare): appended after the sized part, so it needs no room in the bound.
  if (set_cookie_ != kNoEndpoint) {
    const Cluster& cl = *cs_->cluster;
    std::string_view agent;
    view_.header("user-agent", &agent);
    cl.append_set_cookie(cl.hash_on.cookie_balanced ? std::string(cookie_key_, sizeof(cookie_key_))
                                                    : cl.affinity_value(set_cookie_),
                         route_->path_type == PathMatchType::kRegex ? "" : route_->path, agent, o);
  }
}

void Exchange::pump_response_body() {
  UpConn* c = up_;
  if (!c) return;
  paused_response_ = false;
  bool more = true;
  switch (rframing_) {
    case Framing::kLength: {
      size_t take = c->input().size();
      if (static_cast<int64_t>(take) > rremaining_) take = static_cast<size_t>(rremaining_);
      if (take) {
        const char* d = c->input().data();
        c->input().rpos += take;
        rremaining_ -= static_cast<int64_t>(take);
        more = deliver(d, take);
        if (!active_) return;
      }
      if (rremaining_ == 0) {
        if (c->input().rpos != c->input().wpos) reuse_ = false;  // extra bytes: not reusable
        return finish_response(reuse_);
      }
      if (c->input().rpos == c->input().wpos) c->input().clear();
      if (c->eof()) return abort_response();
      break;
    }
    case Framing::kChunked: {
      h1::ChunkedDecoder::Segment segs[16];
      for (;;) {
        size_t consumed = 0, nseg = 0;
        auto st = rchunk_.decode(c->input().data(), c->input().size(), segs, 16, &consumed, &nseg);
        c->input().rpos += consumed;
        for (size_t i = 0; i < nseg; ++i) {
          more = deliver(segs[i].data, segs[i].size) && more;
          if (!active_) return;
        }
        if (st == h1::ChunkedDecoder::Status::kError) return abort_response();
        if (st == h1::ChunkedDecoder::Status::kDone) {
          if (c->input().rpos != c->input().wpos) reuse_ = false;
          return finish_response(reuse_);
        }
        if (nseg < 16) break;
      }
      if (c->input().rpos == c->input().wpos) c->input().clear();
      if (c->eof()) return abort_response();
      break;
    }
    case Framing::kClose: {
      if (c->input().size()) {
        const char* d = c->input().data();
        size_t n = c->input().size();
        c->input().clear();
        more = deliver(d, n);
        if (!active_) return;
      }
      if (c->eof()) return finish_response(false);
      break;
    }
    case Framing::kNone:
      return finish_response(reuse_);
  }
  if (!more) {
    paused_response_ = true;
    return;
  }
  c->start_read();
}

bool Exchange::deliver(const char* data, size_t n) {
  bool more = down_->response_body(data, n);
  if (!active_) return false;
  if (!more) down_paused_ = true;
  return pace(n) && more;
}

bool Exchange::pace(size_t n) {
  const ForwardAction& fw = route_->config->forward;
  if (fw.response_bytes_per_second == 0 || tunnel_) return true;
  paced_bytes_ += n;
  uint64_t now = worker_.refresh_now();
  // The next read goes once one of this size fits the budget too (response_pacer.h).
  uint64_t wait = pace_delay_ms(fw.response_bytes_per_second, fw.response_rate_after_bytes,
                                paced_bytes_ + n, now > start_ms_ ? now - start_ms_ : 0);
  if (wait == 0) return true;
  pace_wait_ = true;
  worker_.timers().arm(pace_timer_, now, wait);
  TimerWheel::cancel(timer_);  // the idle timeout counts the upstream's silences, not ours
  return false;
}

void Exchange::on_pace_timer(void* self) {
  auto* e = static_cast<Exchange*>(self);
  if (!e->active_ || !e->pace_wait_) return;
  e->pace_wait_ = false;
  uint64_t idle = static_cast<uint64_t>(e->route_->config->forward.idle_timeout.count());
  if (idle) e->worker_.timers().arm(e->timer_, e->worker_.now(), idle);
  if (!e->down_paused_) e->resume_reading();
}

void Exchange::resume_response() {
  down_paused_ = false;
  if (!pace_wait_) resume_reading();  // else pace_timer_ resumes
}

void Exchange::resume_reading() {
  if (h2_ && active_) return h2_->resume_response();
  if (!active_ || !paused_response_ || !up_) return;
  pump_response_body();
}

void Exchange::abort_response() {
  report(UpstreamResult::kReset);
  release_upstream(false);
  Downstream* d = down_;
  finish();
  d->abort();
}

void Exchange::finish_response(bool reuse) {
  // The downstream drops the rest of a request body that did not go out (dropped_body.h).
  release_upstream(reuse);
  Downstream* d = down_;
  finish();
  d->response_end();
}

void Exchange::report(UpstreamResult r) {
  if (!cs_ || endpoint_ == kNoEndpoint) return;
  cs_->cluster->health().report(endpoint_, r, MonoClock::now());
}

void Exchange::release_upstream(bool reuse) {
  if (lb_active_) {
    lb_active_ = false;
    cs_->lb->on_request_end(endpoint_);
  }
  if (H2UpStream* s = h2_) {
    h2_ = nullptr;
    s->release();
  }
  UpConn* c = up_;
  if (!c) return;
  up_ = nullptr;
  c->release(reuse);
}

void Exchange::on_upstream_error(UpConn* c, bool connect_phase, bool timeout) {
  if (c != up_) {
    c->close();
    return;
  }
  if (connect_phase) {
    ++worker_.stats().upstream_connect_failures;
    report(timeout ? UpstreamResult::kConnectTimeout : UpstreamResult::kConnectFailure);
  } else if (!response_started_) {
    report(UpstreamResult::kReset);
  }
  bool stale = c->reused() && !connect_phase && c->input().size() == 0 && !response_started_;
  release_upstream(false);
  if (response_started_) {
    if (rframing_ == Framing::kClose && !tunnel_) return finish_response(false);
    Downstream* d = down_;
    finish();
    d->abort();
    return;
  }
  // A pooled connection that the upstream closed just as we reused it: try again once on a
  // fresh connection, whatever the method (nothing reached the application).
  if (stale && !body_started_ && !stale_retry_used_) {
    stale_retry_used_ = true;
    --tried_count_;
    return attempt();
  }
  retry_or_fail(connect_phase, timeout);
}

void Exchange::retry_or_fail(bool connect_phase, bool timeout) {
  const RetryPolicy& rp = route_->config->forward.retry;
  bool idempotent = req_.head->is_get_like || rp.retry_non_idempotent;
  bool can = attempts_left_ > 1 && !body_started_ && retry_window_open();
  if (can) {
    if (connect_phase)
      can = (rp.retry_on & uint32_t(RetryOn::kConnectFailure)) != 0;
    else
      can = idempotent &&
            (rp.retry_on & (uint32_t(RetryOn::kReset) | uint32_t(RetryOn::k5xx) |
                            uint32_t(RetryOn::kGatewayError))) != 0 &&
            !timeout;
  }
  if (can) {
    --attempts_left_;
    ++worker_.stats().retries;
    return retry();
  }
  if (timeout && !connect_phase)
    return fail(504, "upstream timeout\n", grpc_reply::kDeadlineExceeded);
  fail(connect_phase && timeout ? 504 : 502,
       connect_phase ? "upstream connect error\n" : "upstream connection reset\n");
}

void Exchange::on_timer(void* self) {
  auto* e = static_cast<Exchange*>(self);
  if (!e->active_) return;
  if (e->response_started_) {
    // Stream idle timeout while the body flows.
    e->report(UpstreamResult::kTimeout);
    return e->abort_response();
  }
  if (e->up_ || e->h2_) e->report(UpstreamResult::kTimeout);
  e->release_upstream(false);
  e->fail(504, "upstream timeout\n", grpc_reply::kDeadlineExceeded);
}

void Exchange::fail(int status, std::string_view body, int grpc_code) {
  release_upstream(false);
  if ((status == 502 || status == 503 || status == 504) && intercept_error(status, false)) return;
  if (response_started_) {
    Downstream* d = down_;
    finish();
    d->abort();
    return;
  }
  local_reply(status, body, {}, true, grpc_code);
}

void Exchange::local_reply(int status, std::string_view body, std::string_view extra, bool plain,
                           int grpc_code) {
  status_ = status;  // the access log keeps the cause, also when a gRPC client gets 200
  response_started_ = true;
  std::string& o = head_buf_;
  o.clear();
  if (ws_->snap->settings.server_header != ServerHeader::kPassThrough) o.append(kServerField);
  ResponseHead rh;
  rh.status = status;
  std::string_view content_type;
  bool grpc = status >= 400 && req_.head &&
              lookup_header(req_.head, "content-type", 0, &content_type) &&
              grpc_reply::is_grpc_content_type(content_type);
  if (grpc) {
    // A gRPC client: a trailers-only response carrying the status (grpc_reply.h).
    grpc_reply::append_fields(grpc_code >= 0 ? grpc_code : grpc_reply::status_for_http(status),
                              body, o);
    if (plain) o.append(extra);  // a direct response's content-type went with its body
    rh.status = 200;
    body = {};
  } else {
    if (plain && !body.empty()) o.append("content-type: text/plain\r\n");
    o.append(extra);
  }
  rh.fields = o;
  rh.content_length = static_cast<int64_t>(body.size());
  rh.no_body = grpc || (req_.head && req_.head->is_head);
  Downstream* d = down_;
  d->response_head(rh);
  if (!active_) return;
  if (!body.empty() && !rh.no_body) d->response_body(body.data(), body.size());
  if (!active_) return;
  finish();
  d->response_end();
}

void Exchange::finish() {
  if (!active_) return;
  active_ = false;
  worker_.exchange_finished();
  TimerWheel::cancel(timer_);
  TimerWheel::cancel(backoff_timer_);
  TimerWheel::cancel(pace_timer_);
  pace_wait_ = false;
  for (const auto& m : mirrors_) m->abandon();
  mirrors_.clear();
  mirrors_started_ = false;
  if (auth_wait_) {
    auth_wait_->exchange = nullptr;  // a verification still running finds nobody to resume
    auth_wait_.reset();
  }
  ext_auth_call_.cancel();
  ext_answer_.reset();
  dequeue_pending();
  if (up_ || h2_) release_upstream(false);
  if (in_progress_at_) {
    in_progress_at_->release(limited_address_);
    in_progress_at_ = nullptr;
  }
  WorkerSnapshot* ws = ws_;
  ws_ = nullptr;
  if (ws) worker_.unref(ws);
}

void Exchange::cancel() {
  if (!active_) return;
  release_upstream(false);
  finish();
}

}  // namespace kop::proxy::server
