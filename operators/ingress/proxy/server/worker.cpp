// Worker threads: the event loop, listeners, snapshots, pools by address, counters.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "client_conn.h"
#include "off_loop.h"
#include "pool.h"
#include "tls.h"
#include "up_conn.h"
#include "worker.h"

namespace kop::proxy::server {

// ---------------------------------------------------------------------------------------------
// Worker

Worker::Worker(uint32_t index)
    : index_(index), io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO), batch_(io_), ticker_(io_) {
  std::random_device rd;
  rng_ = (uint64_t(rd()) << 32) ^ rd() ^ (uint64_t(index) << 17) ^ 0x9E3779B97F4A7C15ull;
  now_ms_ = now_ms();
}

Worker::~Worker() {
  join();
  // Connections close their sockets; pools and snapshots go with the maps.
  while (conns_) {
    ClientConn* c = conns_;
    remove_conn(c);
    delete c;
  }
  for (WorkerSnapshot* ws : live_) delete ws;
  live_.clear();
}

void Worker::start() {
  tick();
  thread_ = std::thread([this] {
    batch_.open();
    io_.run();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::tick() {
  if (stopped_) return;
  now_ms_ = now_ms();
  timers_.advance(now_ms_);
  // Every 10 ms while requests are in flight (their timeouts, retry backoff, pacing). Without
  // any, the timers left (idle client and upstream connections, header timeouts, a mirror
  // finishing) fire within 100 ms, and an idle proxy wakes ten times less: at 100 wake-ups a
  // second per worker the ticks were an idle process's CPU, also with keep-alive clients.
  fast_ticks_ = exchanges_ > 0;
  ticker_.expires_after(std::chrono::milliseconds(fast_ticks_ ? TimerWheel::kTickMs : kIdleTickMs));
  ticker_.async_wait([this](const error_code& ec) {
    if (!ec) tick();
  });
}

void Worker::off_loop(std::function<void()> job) {
  if (!off_loop_) off_loop_ = std::make_unique<OffLoop>();
  ++off_loop_jobs_;
  off_loop_->run(std::move(job));
}

uint64_t Worker::random() {
  // xorshift64*
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 0x2545F4914F6CDD1Dull;
}

void Worker::publish(std::shared_ptr<const Snapshot> snap) {
  asio::post(io_, [this, snap = std::move(snap)]() mutable { adopt(std::move(snap)); });
}

std::shared_ptr<Pool> Worker::live_pool(const Endpoint& ep, const UpstreamTls* tls) {
  auto it = pools_.find(Pool::key_for(ep.address_text(), tls));
  return it == pools_.end() ? nullptr : it->second.lock();
}

std::shared_ptr<Pool> Worker::pool_for(const Endpoint& ep, const tcp::endpoint* address,
                                       const std::shared_ptr<const UpstreamTls>& tls,
                                       uint64_t idle_timeout_ms) {
  std::string key = Pool::key_for(ep.address_text(), tls.get());
  if (!unused_candidates_.empty()) unused_candidates_.erase(key);
  auto it = pools_.find(key);
  std::shared_ptr<Pool> p = it != pools_.end() ? it->second.lock() : nullptr;
  if (!p) {
    p = std::make_shared<Pool>(*this, std::string(ep.address_text()),
                               address ? *address : tcp::endpoint(), ep.address().host, tls);
    pools_[std::move(key)] = p;
  }
  p->set_idle_timeout_ms(idle_timeout_ms);
  return p;
}

const std::shared_ptr<Pool>& EndpointPools::operator[](size_t i) const {
  if (made_.empty()) made_.resize(cluster_->endpoints.size());
  std::shared_ptr<Pool>& p = made_[i];
  if (!p) {
    std::optional<tcp::endpoint> address =
        addresses_ ? addresses_->address(*cluster_, i) : std::nullopt;
    p = worker_->pool_for(cluster_->endpoints[i], address ? &*address : nullptr, tls_,
                          static_cast<uint64_t>(cluster_->config.idle_timeout.count()));
  }
  return p;
}

const std::shared_ptr<ClusterState>& WorkerSnapshot::cluster(uint32_t index) {
  std::shared_ptr<ClusterState>& cs = clusters[index];
  if (!cs) cs = worker->cluster_state(*this, index);
  return cs;
}

std::shared_ptr<ClusterState> Worker::cluster_state(const WorkerSnapshot& ws, uint32_t index) {
  const std::shared_ptr<const Cluster>& c = ws.snap->table->clusters()[index];
  if (!c) return nullptr;  // the index of a removed cluster: no route refers to it
  if (current_ != nullptr && current_ != &ws && index < current_->clusters.size() &&
      current_->snap->table->clusters()[index] == c)
    return current_->cluster(index);
  auto cs = std::make_shared<ClusterState>();
  cs->cluster = c;
  cs->lb = make_load_balancer(*c, random());
  cs->pools = EndpointPools(this, c.get(), ws.snap->upstream_tls[index], ws.snap->resolved[index]);
  // A replaced cluster's endpoints keep their pools and idle connections; the others get
  // theirs at the first request.
  if (!pools_.empty()) cs->pools.adopt_live();
  return cs;
}

void EndpointPools::adopt_live() {
  for (size_t i = 0; i < cluster_->endpoints.size(); ++i) {
    if (!worker_->live_pool(cluster_->endpoints[i], tls_.get())) continue;
    (*this)[i];  // the live pool, with this cluster's idle timeout
  }
}

void Worker::adopt(std::shared_ptr<const Snapshot> snap) {
  auto* ws = new WorkerSnapshot;
  ws->worker = this;
  ws->snap = std::move(snap);
  const Snapshot& next = *ws->snap;
  const RouteTable& t = *next.table;
  // A cluster keeps its index while it exists: the state of a cluster the previous snapshot
  // had is carried over by index and pointer (no map of every cluster per reload). Where the
  // tables share a chunk of clusters (ChunkedVector) every cluster in it is kept: the states
  // are all copied, then only the indexes in the other chunks are looked at.
  static const std::vector<std::shared_ptr<ClusterState>> kNone;
  static const ChunkedVector<std::shared_ptr<const Cluster>> kNoClusters;
  const std::vector<std::shared_ptr<ClusterState>>& before = current_ ? current_->clusters : kNone;
  const auto& before_table = current_ ? current_->snap->table->clusters() : kNoClusters;
  const size_t n = t.clusters().size();
  ws->clusters.assign(before.begin(), before.begin() + std::min(n, before.size()));
  ws->clusters.resize(n);
  std::vector<const ClusterState*> created;
  t.clusters().for_each_unshared_index(before_table, [&](size_t ci) {
    const auto& c = t.clusters()[ci];
    std::shared_ptr<ClusterState>& cs = ws->clusters[ci];
    // The index of a removed cluster (no route refers to it), or a state made at its first use.
    if (!c || !cs) {
      cs = nullptr;
      return;
    }
    if (cs->cluster == c) return;
    // A replaced cluster that had a state: made now, so that it takes over the pools (and
    // idle connections) of the endpoints it keeps before the old state goes with its snapshot.
    cs = cluster_state(*ws, static_cast<uint32_t>(ci));
    created.push_back(cs.get());
  });
  // Names are resolved again at every apply (the snapshot's `refreshed` indexes, the others'
  // addresses are the same objects); an IP literal's addresses stay the same object.
  for (uint32_t ci : next.refreshed) {
    if (ci >= n || !ws->clusters[ci]) continue;
    ClusterState& cs = *ws->clusters[ci];
    if (cs.pools.addresses() != next.resolved[ci].get()) cs.pools.set_addresses(next.resolved[ci]);
  }
  // Only the pools of clusters dropped or replaced now can have lost their last user: scanning
  // every pool here would cost O(endpoints) per reload. Addresses the new clusters use are in
  // use (a replaced cluster usually keeps most of its endpoints).
  before_table.for_each_unshared_index(t.clusters(), [&](size_t ci) {
    if (!before[ci] || (ci < ws->clusters.size() && ws->clusters[ci] == before[ci])) return;
    for (const auto& p : before[ci]->pools.made())
      if (p) unused_candidates_.insert(p->key());
  });
  if (!unused_candidates_.empty())
    for (const ClusterState* cs : created)
      for (const auto& p : cs->pools.made())
        if (p) unused_candidates_.erase(p->key());
  access_log_.set_format(next.settings.access_log);
  ws->refs = 1;
  live_.push_back(ws);
  WorkerSnapshot* old = current_;
  current_ = ws;
  if (old) unref(old);
  forget_unused_pools();
  // Idle keep-alive connections switch to the new table at their next request; nothing to do.
}

void Worker::forget_unused_pools() {
  // A candidate's pool may still be held by an older snapshot that a request is finishing on,
  // by a busy connection, or by an unchanged cluster with the same endpoint address: it stays a
  // candidate until its pool is gone (its idle connections closed with it). Candidates are
  // addresses with a pools_ entry, so there are never more of them than pools.
  for (auto it = unused_candidates_.begin(); it != unused_candidates_.end();) {
    auto p = pools_.find(*it);
    if (p == pools_.end()) {
      it = unused_candidates_.erase(it);
    } else if (p->second.expired()) {
      pools_.erase(p);
      it = unused_candidates_.erase(it);
    } else {
      ++it;
    }
  }
}

void Worker::fold(WorkerSnapshot* ws, std::map<MetricKey, uint64_t>& into) {
  for (const auto& [r, rc] : ws->route_counters) {
    const std::string& host = r->virtual_host->name;
    for (const CodeCount& c : rc.codes) {
      if (c.code) into[MetricKey{host, r->name, c.code}] += c.count;
    }
    if (rc.other) into[MetricKey{host, r->name, 0}] += rc.other;
  }
}

void Worker::unref(WorkerSnapshot* ws) {
  if (--ws->refs > 0) return;
  fold(ws, stats_.requests);
  for (size_t i = 0; i < live_.size(); ++i) {
    if (live_[i] == ws) {
      live_[i] = live_.back();
      live_.pop_back();
      break;
    }
  }
  delete ws;
}

void Worker::count_request(const VirtualHost* vh, const Route* r, int code, WorkerSnapshot* ws) {
  if (r && ws) {
    ws->route_counters[r].add(code);
    return;
  }
  ++stats_.requests[MetricKey{vh ? vh->name : std::string(), std::string(), code}];
}

void Worker::record_latency(uint64_t ms) {
  size_t i = 0;
  while (i<kLatencyBuckets&& double(ms)> kLatencyBucketsMs[i]) ++i;
  ++stats_.latency_buckets[i];
  stats_.latency_sum_ms += double(ms);
  ++stats_.latency_count;
}

void Worker::add_listener(std::string name, int fd) {
  asio::post(io_, [this, name = std::move(name), fd] {
    auto a = std::make_shared<Acceptor>(io_);
    a->name = name;
    error_code ec;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    a->acc.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) {
      ::close(fd);
      return;
    }
    a->acc.non_blocking(true, ec);
    acceptors_.push_back(a);
    if (!draining_) accept(a);
  });
}

void Worker::remove_listener(std::string name) {
  asio::post(io_, [this, name = std::move(name)] {
    for (size_t i = 0; i < acceptors_.size(); ++i) {
      if (acceptors_[i]->name == name) {
        acceptors_[i]->open = false;
        error_code ec;
        acceptors_[i]->acc.close(ec);
        acceptors_.erase(acceptors_.begin() + static_cast<long>(i));
        break;
      }
    }
  });
}

void Worker::accept(const std::shared_ptr<Acceptor>& a) {
  a->acc.async_accept([this, a](const error_code& ec, tcp::socket s) {
    if (!a->open || draining_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // EMFILE and friends: try again shortly instead of spinning.
      auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
      t->async_wait([this, a, t](const error_code&) {
        if (a->open && !draining_) accept(a);
      });
      return;
    }
    if (current_) {
      auto* c = new ClientConn(*this, std::move(s), a->name);
      c->start();
    }
    accept(a);
  });
}

void Worker::add_conn(ClientConn* c) {
  c->prev = nullptr;
  c->next = conns_;
  if (conns_) conns_->prev = c;
  conns_ = c;
  ++stats_.downstream_active;
  ++stats_.downstream_total;
  active_conns_.store(stats_.downstream_active, std::memory_order_relaxed);
}

void Worker::speed_up_ticks() {
  // The first request after a quiet spell: its timers count from now, and the 10 ms ticks
  // start at once (after this handler, so no timer fires in the middle of the request's start).
  fast_ticks_ = true;
  refresh_now();
  asio::post(io_, [this] { tick(); });
}

void Worker::remove_conn(ClientConn* c) {
  if (c->prev)
    c->prev->next = c->next;
  else if (conns_ == c)
    conns_ = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
  --stats_.downstream_active;
  active_conns_.store(stats_.downstream_active, std::memory_order_relaxed);
}

void Worker::drain() {
  asio::post(io_, [this] {
    draining_ = true;
    for (auto& a : acceptors_) {
      a->open = false;
      error_code ec;
      a->acc.close(ec);
    }
    acceptors_.clear();
    for (ClientConn* c = conns_; c;) {
      ClientConn* nx = c->next;
      c->shutdown_gracefully();
      c = nx;
    }
  });
}

void Worker::stop() {
  asio::post(io_, [this] {
    // Close everything; io_.run() returns once the aborted operations have completed, which
    // frees every connection object.
    stopped_ = true;
    draining_ = true;
    error_code ec;
    ticker_.cancel(ec);
    for (auto& a : acceptors_) {
      a->open = false;
      a->acc.close(ec);
    }
    acceptors_.clear();
    for (ClientConn* c = conns_; c;) {
      ClientConn* nx = c->next;
      c->force_close();
      c = nx;
    }
    if (current_) {
      WorkerSnapshot* ws = current_;
      current_ = nullptr;
      unref(ws);
    }
  });
}

void Worker::force_stop() {
  io_.stop();
}

Worker::Scrape Worker::collect() {
  Scrape s;
  s.stats = stats_;
  s.stats.send_batches = batch_.submits();
  s.stats.batched_sends = batch_.sends();
  s.stats.send_batching_on = batch_.enabled() ? 1 : 0;
  for (WorkerSnapshot* ws : live_) fold(ws, s.stats.requests);
  return s;
}

}  // namespace kop::proxy::server
