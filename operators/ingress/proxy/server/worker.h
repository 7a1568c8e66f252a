// Worker: one thread with its own io_context, its listening sockets (SO_REUSEPORT), client
// connections, snapshots, upstream pools by address, timer wheel, send batch and counters. The
// control thread talks to it only by posting (publish, add_listener, drain, stop); everything
// else runs on the worker's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "access_log.h"
#include "asio.h"
#include "h2_alloc.h"
#include "kop/proxy/config.h"
#include "send_batch.h"
#include "snapshot.h"
#include "stats.h"
#include "timer_wheel.h"

namespace kop::proxy::server {

class ClientConn;
class OffLoop;
class Pool;
class UpstreamTls;

class Worker {
 public:
  // The pool of endpoint `ep` (with `tls`): the live one of its address, else a new one
  // connecting to `address` (null: the name did not resolve). Worker thread.
  std::shared_ptr<Pool> pool_for(const Endpoint& ep, const tcp::endpoint* address,
                                 const std::shared_ptr<const UpstreamTls>& tls,
                                 uint64_t idle_timeout_ms);
  // The live pool of that address and TLS context, or null.
  std::shared_ptr<Pool> live_pool(const Endpoint& ep, const UpstreamTls* tls);
  Worker(uint32_t index);
  ~Worker();
  void start();
  void join();
  asio::io_context& io() { return io_; }
  uint32_t index() const { return index_; }

  // Control thread -> worker (posted).
  void publish(std::shared_ptr<const Snapshot> snap);
  void add_listener(std::string name, int fd);  // takes the listening fd
  void remove_listener(std::string name);
  void drain();       // stop accepting, close idle connections, close others when they go idle
  void stop();        // closes everything; the thread ends when the last operation completed
  void force_stop();  // any thread: stops the loop now

  // Worker thread only.
  WorkerSnapshot* current() { return current_; }
  void ref(WorkerSnapshot* ws) { ++ws->refs; }
  void unref(WorkerSnapshot* ws);
  TimerWheel& timers() { return timers_; }
  uint64_t now() const { return now_ms_; }
  uint64_t refresh_now() { return now_ms_ = now_ms(); }
  uint64_t random();
  SendBatch& send_batch() { return batch_; }
  // nghttp2's allocator for this worker's sessions (see h2_alloc.h).
  const std::shared_ptr<H2Allocator>& h2_allocator() { return h2_alloc_; }
  WorkerStats& stats() { return stats_; }
  // Runs `job` on the worker's helper thread (started on first use) for work too slow for the
  // event loop (bcrypt); the job posts its result back to io() and that handler calls
  // off_loop_done(). off_loop_jobs() counts the jobs not done yet.
  void off_loop(std::function<void()> job);
  void off_loop_done() { --off_loop_jobs_; }
  uint32_t off_loop_jobs() const { return off_loop_jobs_; }
  void add_conn(ClientConn* c);
  void remove_conn(ClientConn* c);
  // A new state for cluster `index` of `ws` (WorkerSnapshot::cluster() keeps it), or the
  // current snapshot's when that has the same cluster there: one load balancer and one
  // connection count per cluster and worker, as when every state was made at adopt().
  std::shared_ptr<ClusterState> cluster_state(const WorkerSnapshot& ws, uint32_t index);
  // Exchanges in flight (Exchange::start to its finish): the timers tick every 10 ms while
  // there are any, else every 100 ms.
  void exchange_started() {
    ++exchanges_;
    if (!fast_ticks_) speed_up_ticks();
  }
  void exchange_finished() { --exchanges_; }
  bool draining() const { return draining_; }
  // Written on this thread, taken by the logger thread.
  AccessLog& access_log() { return access_log_; }
  void record_latency(uint64_t ms);
  void count_request(const VirtualHost* vh, const Route* r, int code, WorkerSnapshot* ws);

  // Scrape: runs on the worker thread.
  struct Scrape {
    WorkerStats stats;
    uint64_t idle_upstream = 0;
  };
  Scrape collect();
  uint64_t active_connections() const { return active_conns_.load(std::memory_order_relaxed); }

 private:
  struct Acceptor {
    std::string name;
    tcp::acceptor acc;
    bool open = true;
    explicit Acceptor(asio::io_context& io) : acc(io) {}
  };
  void accept(const std::shared_ptr<Acceptor>& a);
  void tick();
  void speed_up_ticks();
  void adopt(std::shared_ptr<const Snapshot> snap);
  // Erases the pools_ entries of unused_candidates_ whose pool is gone.
  void forget_unused_pools();
  void fold(WorkerSnapshot* ws, std::map<MetricKey, uint64_t>& into);

  uint32_t index_;
  asio::io_context io_;
  SendBatch batch_;
  asio::steady_timer ticker_;
  static constexpr uint64_t kIdleTickMs = 100;  // the ticks while no request is in flight
  bool fast_ticks_ = false;
  uint32_t exchanges_ = 0;
  std::thread thread_;
  TimerWheel timers_;
  uint64_t now_ms_ = 0;
  uint64_t rng_;
  std::shared_ptr<H2Allocator> h2_alloc_ = std::make_shared<H2Allocator>();
  WorkerSnapshot* current_ = nullptr;
  std::vector<std::shared_ptr<Acceptor>> acceptors_;
  std::vector<WorkerSnapshot*> live_;                           // snapshots still referenced
  std::unordered_map<std::string, std::weak_ptr<Pool>> pools_;  // by Pool::key()
  // Pool keys whose pool may have lost its last user (its cluster was dropped or replaced).
  std::unordered_set<std::string> unused_candidates_;
  ClientConn* conns_ = nullptr;
  bool draining_ = false;
  bool stopped_ = false;
  WorkerStats stats_;
  std::atomic<uint64_t> active_conns_{0};
  AccessLog access_log_;
  uint32_t off_loop_jobs_ = 0;
  // Last: destroyed (its thread joined) first, while io_ still takes the jobs' results.
  std::unique_ptr<OffLoop> off_loop_;
};

}  // namespace kop::proxy::server
