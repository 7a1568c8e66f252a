// Worker threads, timers, buffers, upstream connections and pools.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "server.h"

namespace kop::proxy::server {

// ---------------------------------------------------------------------------------------------
// TimerWheel

TimerWheel::TimerWheel() {
  for (auto& s : slots_) s.prev = s.next = &s;
  tick_ = now_ms() / kTickMs;
}

void TimerWheel::arm(Timer& t, uint64_t now, uint64_t after) {
  cancel(t);
  uint64_t exp = (now + after + kTickMs - 1) / kTickMs;
  if (exp <= tick_) exp = tick_ + 1;
  t.expiry = exp;
  Timer& s = slots_[exp % kSlots];
  t.next = &s;
  t.prev = s.prev;
  s.prev->next = &t;
  s.prev = &t;
}

void TimerWheel::advance(uint64_t now) {
  uint64_t target = now / kTickMs;
  if (target > tick_ + kSlots) tick_ = target - kSlots;
  while (tick_ < target) {
    ++tick_;
    Timer& s = slots_[tick_ % kSlots];
    // Move the expired timers to a local list first: a callback may cancel or re-arm others.
    Timer local;
    local.prev = local.next = &local;
    for (Timer* t = s.next; t != &s;) {
      Timer* nx = t->next;
      if (t->expiry <= tick_) {
        cancel(*t);
        t->next = &local;
        t->prev = local.prev;
        local.prev->next = t;
        local.prev = t;
      }
      t = nx;
    }
    while (local.next != &local) {
      Timer* t = local.next;
      cancel(*t);
      t->fn(t->self);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writes

bool send_now_or_buffer(int fd, const struct iovec* iov, int n, Buffer& pending, bool batching) {
  if (pending.size() > 0 || batching) {
    for (int i = 0; i < n; ++i)
      pending.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return true;
  }
  struct msghdr msg {};
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(n);
  ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    w = 0;
  }
  size_t done = static_cast<size_t>(w);
  for (int i = 0; i < n; ++i) {
    size_t len = iov[i].iov_len;
    if (done >= len) {
      done -= len;
      continue;
    }
    pending.append(static_cast<const char*>(iov[i].iov_base) + done, len - done);
    done = 0;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Pool

Pool::~Pool() {
  while (idle_) {
    UpConn* c = idle_;
    remove(c);
    --open;
    c->detached = true;
    c->state = UpConn::State::kBusy;  // not idle any more: close() must not touch the pool
    c->close();
  }
}

UpConn* Pool::take() {
  UpConn* c = idle_;
  if (!c) return nullptr;
  remove(c);
  TimerWheel::cancel(c->timer);
  return c;
}

void Pool::put(UpConn* c) {
  c->idle_prev = nullptr;
  c->idle_next = idle_;
  if (idle_) idle_->idle_prev = c;
  idle_ = c;
}

void Pool::remove(UpConn* c) {
  if (c->idle_prev)
    c->idle_prev->idle_next = c->idle_next;
  else if (idle_ == c)
    idle_ = c->idle_next;
  else
    return;  // not in the list
  if (c->idle_next) c->idle_next->idle_prev = c->idle_prev;
  c->idle_prev = c->idle_next = nullptr;
}

// ---------------------------------------------------------------------------------------------
// UpConn

UpConn::UpConn(Pool& p, std::shared_ptr<Pool> keep)
    : pool(p), worker(p.worker()), pool_keep(std::move(keep)), sock(p.worker().io()) {
  ++pool.open;
  ++pool.worker().stats().upstream_active;
  timer.fn = &UpConn::on_timer;
  timer.self = this;
}

UpConn::~UpConn() {
  if (!detached) --pool.open;
  --worker.stats().upstream_active;
  if (cluster_open) --*cluster_open;
  PendingQueue::wake(worker, cluster_pending);
}

void UpConn::connect(uint64_t timeout_ms) {
  Worker& w = worker;
  ++w.stats().upstream_connects;
  error_code ec;
  sock.open(pool.endpoint().protocol(), ec);
  if (!ec) sock.set_option(tcp::no_delay(true), ec);
  if (ec) {
    // Report asynchronously so the caller's stack unwinds first.
    ++refs;
    asio::post(w.io(), [this] {
      --refs;
      if (state == State::kClosed) return unref();
      if (owner) owner->on_upstream_error(this, true, false);
    });
    return;
  }
  if (timeout_ms) w.timers().arm(timer, w.now(), timeout_ms);
  ++refs;
  sock.async_connect(pool.endpoint(), [this](const error_code& e) {
    --refs;
    if (state == State::kClosed) return unref();
    TimerWheel::cancel(timer);
    if (e) {
      if (owner) owner->on_upstream_error(this, true, false);
      return;
    }
    sock.non_blocking(true);
    state = State::kBusy;
    if (owner) owner->on_upstream_connected(this);
  });
}

void UpConn::on_timer(void* self) {
  auto* c = static_cast<UpConn*>(self);
  if (c->state == State::kConnecting) {
    if (c->owner)
      c->owner->on_upstream_error(c, true, true);
    else
      c->close();
  } else if (c->state == State::kIdle) {
    c->pool.remove(c);
    c->close();
  }
}

bool UpConn::send(const struct iovec* iov, int n) {
  if (state == State::kClosed) return false;
  if (!send_now_or_buffer(sock.native_handle(), iov, n, out_, worker.send_batch().enabled()))
    return false;
  flush();
  return true;
}

void UpConn::flush() {
  if (writing || out_.size() == 0 || state == State::kClosed) return;
  if (!worker.send_batch().enabled()) return flush_async();
  writing = true;
  ++refs;
  worker.send_batch().add(this);
}

void UpConn::batch_done(int result) {
  writing = false;
  --refs;
  if (state == State::kClosed) return unref();
  switch (apply_batch_result(result, out_)) {
    case BatchOutcome::kFailed:
      return write_failed();
    case BatchOutcome::kFull:
      return flush_async();
    case BatchOutcome::kDrained:
      return written();
  }
}

void UpConn::flush_async() {
  if (writing || out_.size() == 0 || state == State::kClosed) return;
  writing = true;
  ++refs;
  sock.async_write_some(asio::buffer(out_.data(), out_.size()),
                        [this](const error_code& ec, size_t n) {
                          writing = false;
                          --refs;
                          if (state == State::kClosed) return unref();
                          if (ec) return write_failed();
                          out_.consume(n);
                          if (out_.size() > 0) return flush_async();
                          written();
                        });
}

void UpConn::write_failed() {
  if (owner)
    owner->on_upstream_error(this, false, false);
  else
    close();
}

void UpConn::written() {
  if (owner) owner->on_upstream_writable(this);
}

void UpConn::start_read() {
  if (reading || state == State::kClosed || eof) return;
  if (in.cap == 0) in.reserve(16384);
  if (in.size() == 0)
    in.clear();
  else if (in.free() < 2048)
    in.compact();
  if (in.free() == 0) in.reserve(in.cap * 2);
  reading = true;
  ++refs;
  reader_.read(sock, in.end(), in.free());
}

void UpConn::on_read(const error_code& ec, size_t n) {
  reading = false;
  --refs;
  if (state == State::kClosed) return unref();
  if (state == State::kIdle) {
    // Data or EOF on an idle pooled connection: the server closed it (or misbehaves).
    pool.remove(this);
    close();
    return;
  }
  if (ec) {
    if (ec == asio::error::eof) {
      eof = true;
      if (owner)
        owner->on_upstream_data(this);
      else
        close();
    } else {
      if (owner)
        owner->on_upstream_error(this, false, false);
      else
        close();
    }
    return;
  }
  in.wpos += n;
  if (owner) owner->on_upstream_data(this);
}

void UpConn::release_to_pool() {
  owner = nullptr;
  state = State::kIdle;
  reused = true;
  in.clear();
  pool.put(this);
  if (pool.idle_timeout_ms) worker.timers().arm(timer, worker.now(), pool.idle_timeout_ms);
  start_read();
  PendingQueue::wake(worker, cluster_pending);
  // Last: dropping the reference may destroy the pool, which closes this connection.
  std::shared_ptr<Pool> keep = std::move(pool_keep);
}

void UpConn::close() {
  if (state == State::kClosed) return;
  if (state == State::kIdle) pool.remove(this);
  state = State::kClosed;
  owner = nullptr;
  TimerWheel::cancel(timer);
  error_code ec;
  sock.close(ec);
  unref();
}

void UpConn::unref() {
  if (refs == 0 && state == State::kClosed) delete this;
}

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
  ticker_.expires_after(std::chrono::milliseconds(TimerWheel::kTickMs));
  ticker_.async_wait([this](const error_code& ec) {
    if (!ec) tick();
  });
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

std::shared_ptr<Pool> Worker::pool_for(const Endpoint& ep, const Snapshot& snap) {
  auto it = pools_.find(ep.address_text);
  if (it != pools_.end()) {
    if (auto p = it->second.lock()) return p;
  }
  tcp::endpoint addr;
  auto r = snap.resolved.find(ep.address_text);
  if (r != snap.resolved.end()) addr = r->second;
  auto p = std::make_shared<Pool>(*this, ep.address_text, addr);
  pools_[ep.address_text] = p;
  return p;
}

void Worker::adopt(std::shared_ptr<const Snapshot> snap) {
  auto* ws = new WorkerSnapshot;
  ws->worker = this;
  const RouteTable& t = *snap->table;
  std::unordered_map<const Cluster*, std::shared_ptr<ClusterState>> states;
  states.reserve(t.clusters().size());
  std::vector<const ClusterState*> created;
  for (const auto& c : t.clusters()) {
    std::shared_ptr<ClusterState> cs;
    auto it = cluster_states_.find(c.get());
    if (it != cluster_states_.end()) {
      cs = std::move(it->second);
      cluster_states_.erase(it);  // what is left afterwards was dropped or replaced
    } else {
      cs = std::make_shared<ClusterState>();
      cs->cluster = c;
      cs->lb = make_load_balancer(*c, random());
      for (const Endpoint& ep : c->endpoints) {
        cs->pools.push_back(pool_for(ep, *snap));
        cs->pools.back()->idle_timeout_ms = static_cast<uint64_t>(c->config.idle_timeout.count());
      }
      created.push_back(cs.get());
    }
    states[c.get()] = cs;
    ws->clusters.push_back(cs);
  }
  // Only the pools of clusters dropped or replaced now can have lost their last user: scanning
  // every pool here would cost O(endpoints) per reload. Addresses the new clusters use are in
  // use (a replaced cluster usually keeps most of its endpoints).
  for (const auto& dropped : cluster_states_)
    for (const auto& p : dropped.second->pools) unused_candidates_.insert(p->address_text());
  if (!unused_candidates_.empty())
    for (const ClusterState* cs : created)
      for (const auto& p : cs->pools) unused_candidates_.erase(p->address_text());
  cluster_states_ = std::move(states);
  ws->route_counters.resize(t.route_count());
  access_log_ = snap->settings.access_log;
  ws->snap = std::move(snap);
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
  const RouteTable& t = *ws->snap->table;
  for (const VirtualHost& vh : t.virtual_hosts()) {
    for (const Route& r : vh.routes) {
      if (r.id >= ws->route_counters.size()) continue;
      const RouteCounters& rc = ws->route_counters[r.id];
      for (const CodeCount& c : rc.codes) {
        if (c.code) into[MetricKey{vh.name, r.name, c.code}] += c.count;
      }
      if (rc.other) into[MetricKey{vh.name, r.name, 0}] += rc.other;
    }
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
  if (r && ws && r->id < ws->route_counters.size()) {
    ws->route_counters[r->id].add(code);
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

void Worker::accept(std::shared_ptr<Acceptor> a) {
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
    cluster_states_.clear();
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

void Worker::log_access(std::string_view line) {
  std::lock_guard<std::mutex> l(log_mu_);
  if (log_buf_.size() < (8u << 20)) log_buf_.append(line.data(), line.size());
}

}  // namespace kop::proxy::server
