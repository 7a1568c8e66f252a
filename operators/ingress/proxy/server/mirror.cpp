// Mirror: one request copy to a mirror cluster, its response dropped.
#include "mirror.h"

#include "kop/proxy/load_balancer.h"
#include "pool.h"
#include "worker.h"

namespace kop::proxy::server {

Mirror::Mirror(Worker& worker, std::shared_ptr<ClusterState> cluster)
    : worker_(worker), cluster_(std::move(cluster)) {
  timer_.fn = &Mirror::on_timer;
  timer_.self = this;
}

std::shared_ptr<Mirror> Mirror::start(Worker& worker, std::shared_ptr<ClusterState> cluster,
                                      std::string_view head, uint64_t timeout_ms) {
  WorkerStats& st = worker.stats();
  ++st.mirror_started;
  ClusterState& cs = *cluster;
  const ClusterConfig& cc = cs.cluster->config;
  if (cc.protocol != UpstreamProtocol::kHttp1) {
    ++st.mirror_failed;  // an h2c mirror cluster is not served yet (docs/proxy-config.md)
    return nullptr;
  }
  LbContext ctx;
  ctx.now = MonoClock::now();
  uint32_t ep = cs.lb->choose(ctx);
  if (ep == kNoEndpoint) {
    ++st.mirror_failed;
    return nullptr;
  }
  // A copy never waits for a connection: at the cluster's limit it is dropped.
  if ((cc.max_connections_per_endpoint &&
       cs.pools[ep]->open_count() >= cc.max_connections_per_endpoint) ||
      (cc.max_connections && *cs.open >= cc.max_connections)) {
    ++st.mirror_dropped;
    return nullptr;
  }
  std::shared_ptr<Mirror> m(new Mirror(worker, std::move(cluster)));
  m->self_ = m;
  m->endpoint_ = ep;
  m->waiting_.assign(head);
  ClusterState& mine = *m->cluster_;
  mine.lb->on_request_start(ep);
  worker.timers().arm(m->timer_, worker.now(), timeout_ms ? timeout_ms : 15000);
  m->conn_ = UpConn::open(mine.pools[ep], ClusterShare{mine.open, mine.pending}, m.get(),
                          static_cast<uint64_t>(cc.connect_timeout.count()));
  return m;
}

void Mirror::send(const struct iovec* iov, int n, bool last) {
  if (ended_) return;
  size_t bytes = 0;
  for (int i = 0; i < n; ++i) bytes += iov[i].iov_len;
  if (last) request_done_ = true;
  if (!connected_) {
    if (waiting_.size() + bytes > kMaxPendingBytes) return end(End::kDropped);
    for (int i = 0; i < n; ++i)
      waiting_.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return;
  }
  if (conn_->pending_bytes() + bytes > kMaxPendingBytes) return end(End::kDropped);
  if (n > 0 && !conn_->send(iov, n)) return end(End::kFailed);
  if (answered_ && request_done_) end(End::kAnswered);
}

void Mirror::abandon() {
  if (!ended_ && !request_done_) end(End::kDropped);
}

void Mirror::on_upstream_connected(UpConn* c) {
  if (c != conn_ || ended_) return;
  connected_ = true;
  iovec iov{waiting_.data(), waiting_.size()};
  if (!conn_->send(&iov, 1)) return end(End::kFailed);
  std::string().swap(waiting_);
  conn_->start_read();
}

void Mirror::on_upstream_data(UpConn* c) {
  if (c != conn_ || ended_) return;
  // Read and dropped: once the mirror has started to answer a complete request, the copy is
  // done (the rest of its answer would only be thrown away).
  if (c->input().size() > 0) answered_ = true;
  c->input().clear();
  if (answered_ && request_done_) return end(End::kAnswered);
  if (c->eof()) end(End::kFailed);
}

void Mirror::on_upstream_error(UpConn* c, bool, bool) {
  if (c != conn_ || ended_) return;
  end(answered_ ? End::kAnswered : End::kFailed);
}

void Mirror::on_timer(void* self) {
  static_cast<Mirror*>(self)->end(End::kFailed);
}

void Mirror::end(End how) {
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
  std::string().swap(waiting_);
  std::shared_ptr<Mirror> last = std::move(self_);  // may free this on return
}

}  // namespace kop::proxy::server
