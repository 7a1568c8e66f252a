// Internal declarations of the data plane (not a public header): the published snapshot, the
// per-worker state, timers, upstream connections and pools, the downstream connection and the
// protocol-neutral Exchange that proxies one request.
//
// Request path, per worker thread, nothing shared but the immutable Snapshot:
//   ClientConn (HTTP/1.1 framing, TLS) --DownRequest--> Exchange --> UpConn (pooled, HTTP/1.1)
//   ClientConn <--Downstream interface (head, body, end)-- Exchange <-- UpConn
// The Downstream interface is the protocol boundary: an HTTP/2 stream implements the same four
// calls as ClientConn does.
// I/O model: asio's reactor for readiness (async_receive, speculative and edge-triggered) and
// direct non-blocking sendmsg for writes; nothing allocates per request on the fast path.
#pragma once

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "access_log.h"
#include "asio.h"
#include "buffer.h"
#include "edge_reader.h"
#include "h2_alloc.h"
#include "http1.h"
#include "kop/proxy/config.h"
#include "kop/proxy/load_balancer.h"
#include "kop/proxy/route_table.h"
#include "pool.h"
#include "send_batch.h"
#include "timer_wheel.h"
#include "up_conn.h"

namespace kop::proxy::server {

class Worker;
class ClientConn;
class UpConn;
class Pool;
class Exchange;
class TlsContexts;
class H2Session;
class H2Stream;
class TcpProxy;

// ---------------------------------------------------------------------------------------------
// Published configuration

struct Snapshot {
  uint64_t version = 0;
  std::shared_ptr<const RouteTable> table;
  // Per listener id: the TLS contexts (null for plain listeners).
  std::vector<std::shared_ptr<TlsContexts>> tls;
  h1::Limits limits;
  ServerSettings settings;
  // Endpoint address text -> resolved socket address (resolved on the control thread).
  std::unordered_map<std::string, tcp::endpoint> resolved;
};

// Writes `iov` to the non-blocking socket `fd` right away; whatever the kernel does not take is
// appended to `pending` for the caller to flush later. Behind output already pending, or when
// the worker batches its sends (SendBatch), all of it is appended and nothing is sent here.
// Returns false on a hard socket error.
bool send_now_or_buffer(int fd, const struct iovec* iov, int n, Buffer& pending, bool batching);

// The field line every response gets unless the server_header policy says otherwise.
inline constexpr std::string_view kServerField = "server: kop\r\n";

// ---------------------------------------------------------------------------------------------
// Metrics: plain per-worker counters, read only on the worker's own thread (a scrape posts a
// collector to every worker), so the request path has no shared atomics.

inline constexpr double kLatencyBucketsMs[] = {1,   2.5, 5,    10,   25,   50,   100,
                                               250, 500, 1000, 2500, 5000, 10000};
inline constexpr size_t kLatencyBuckets = std::size(kLatencyBucketsMs);

struct CodeCount {
  uint16_t code = 0;
  uint64_t count = 0;
};
struct RouteCounters {
  CodeCount codes[6];
  uint64_t other = 0;  // codes beyond the six slots (rare)
  void add(int code) {
    for (auto& c : codes) {
      if (c.code == code) {
        ++c.count;
        return;
      }
      if (c.code == 0) {
        c.code = static_cast<uint16_t>(code);
        c.count = 1;
        return;
      }
    }
    ++other;
  }
};
using MetricKey = std::tuple<std::string, std::string, int>;  // vhost, route, code

struct RelayCounters {
  uint64_t active = 0;
  uint64_t total = 0;
  uint64_t connect_failures = 0;  // attempts that failed (each endpoint tried)
  uint64_t bytes_up = 0;          // client -> upstream, by ended connections
  uint64_t bytes_down = 0;        // upstream -> client, by ended connections
  void add(const RelayCounters& o) {
    active += o.active;
    total += o.total;
    connect_failures += o.connect_failures;
    bytes_up += o.bytes_up;
    bytes_down += o.bytes_down;
  }
};

struct WorkerStats {
  uint64_t downstream_active = 0;
  uint64_t downstream_total = 0;
  uint64_t upstream_active = 0;
  uint64_t upstream_connects = 0;
  uint64_t upstream_connect_failures = 0;
  uint64_t upstream_reused = 0;
  uint64_t retries = 0;
  uint64_t pending_active = 0;    // requests waiting for an upstream connection (gauge)
  uint64_t pending_total = 0;     // requests that had to wait
  uint64_t pending_overflow = 0;  // requests refused (503): the pending queue was full
  // TCP relays (tcp_proxy.h): TLS passthrough, TLS-terminated tcp_proxy; the ClientHello
  // reader in front of passthrough.
  RelayCounters passthrough;
  RelayCounters tcp_proxy;
  uint64_t client_hello_rejected = 0;  // malformed, oversized or unmatched hellos
  uint64_t send_batches = 0;           // SendBatch system calls (filled in by a scrape)
  uint64_t batched_sends = 0;          // the sends they carried
  uint64_t send_batching_on = 0;       // workers batching (1 each)
  uint64_t latency_buckets[kLatencyBuckets + 1] = {};
  double latency_sum_ms = 0;
  uint64_t latency_count = 0;
  std::map<MetricKey, uint64_t> requests;  // folded from retired snapshots and unrouted
};

// Requests of one cluster on one worker waiting for an upstream connection because the
// cluster's or an endpoint's connection limit is reached (intrusive FIFO, no allocation).
// Shared with the connections, which wake one waiter when they close or go idle.
struct PendingQueue {
  Exchange* head = nullptr;
  Exchange* tail = nullptr;
  uint32_t size = 0;
  void push_back(Exchange* e);
  void push_front(Exchange* e);
  void remove(Exchange* e);
  Exchange* pop_front();
  // A connection of the cluster closed or went idle: retries the first waiter on the next
  // loop turn (never re-entering the exchange that released the connection).
  static void wake(Worker& w, const std::shared_ptr<PendingQueue>& q);
};

// Per worker, per compiled Cluster: the worker's LoadBalancer and its endpoints' pools.
struct ClusterState {
  std::shared_ptr<const Cluster> cluster;
  std::unique_ptr<LoadBalancer> lb;
  std::vector<std::shared_ptr<Pool>> pools;  // per endpoint index
  // Connections of this cluster on this worker. Shared with the connections, which may outlive
  // this state (a reload replaced the cluster while they were busy or idle).
  std::shared_ptr<uint32_t> open = std::make_shared<uint32_t>(0);
  std::shared_ptr<PendingQueue> pending = std::make_shared<PendingQueue>();
};

// A worker's view of one Snapshot. Refcounted (non-atomic: worker thread only); requests
// hold it so that they finish on the table they started with.
struct WorkerSnapshot {
  std::shared_ptr<const Snapshot> snap;
  std::vector<std::shared_ptr<ClusterState>> clusters;  // per cluster index
  std::vector<RouteCounters> route_counters;            // per Route::id
  uint32_t refs = 0;
  Worker* worker = nullptr;
};

// ---------------------------------------------------------------------------------------------
// The protocol boundary. ClientConn (HTTP/1.1) implements it; an HTTP/2 stream would too.

struct ResponseHead {
  int status = 200;
  // Header block already serialized as "name: value\r\n" lines (without the status line and
  // without framing headers).
  std::string_view fields;
  int64_t content_length = -1;  // -1: unknown length (chunked or close-delimited)
  bool no_body = false;         // HEAD, 204, 304
  bool upgrade = false;         // 101 Switching Protocols: tunnel from now on
};

class Downstream {
 public:
  virtual ~Downstream() = default;
  // The response head. Not written yet: it goes out with the first body bytes or at end.
  virtual void response_head(const ResponseHead& head) = 0;
  // Body bytes (always consumed). Returns false when the exchange must stop reading the
  // upstream until Exchange::resume_response() is called.
  virtual bool response_body(const char* data, size_t n) = 0;
  // The response is complete.
  virtual void response_end() = 0;
  // The exchange is ready for the request body (upstream connected and head sent).
  virtual void request_body_ready() = 0;
  // The exchange can take more request body (after request_body() returned false).
  virtual void resume_request_body() = 0;
  // The exchange failed after the response head was sent: abort the downstream.
  virtual void abort() = 0;
};

// The request as the exchange sees it (protocol-neutral; views valid for the exchange).
struct DownRequest {
  const h1::RequestHead* head = nullptr;
  bool tls = false;
  std::string_view sni;
  std::string_view client_ip;
  const Listener* listener = nullptr;
  bool has_body = false;  // content_length > 0 or chunked
  bool upgrade_websocket = false;
};

// ---------------------------------------------------------------------------------------------
// One proxied request: routing, retries, upstream I/O, response framing.

class Exchange final : public UpstreamUser {
 public:
  explicit Exchange(Worker& w) : worker_(w) {}
  ~Exchange();
  // Starts the exchange. `ws` is held until finish.
  void start(Downstream* down, WorkerSnapshot* ws, const DownRequest& req, uint64_t start_ms);
  // Request body from the downstream (decoded data). Returns false when the downstream must
  // pause until Downstream::resume_request_body().
  bool request_body(const char* data, size_t n);
  // The request ended. `trailer_fields` ("name: value\r\n" lines, from HTTP/2 trailers) go
  // into the trailer section of a chunked upstream request; without chunking they are dropped.
  void request_end(std::string_view trailer_fields = {});
  void resume_response();
  // The downstream went away: stop, close the upstream.
  void cancel();
  bool active() const { return active_; }
  int status() const { return status_; }
  const Route* route() const { return route_; }
  const VirtualHost* vhost() const { return vhost_; }
  uint64_t upstream_time_ms() const { return upstream_ms_; }
  const std::string& upstream_address() const { return upstream_address_; }
  bool upgraded() const { return tunnel_; }
  // After an upgrade: bytes from the client go here raw.
  bool tunnel_send(const char* data, size_t n);
  void tunnel_client_eof();

  // From UpConn.
  void on_upstream_connected(UpConn* c) override;
  void on_upstream_data(UpConn* c) override;
  void on_upstream_error(UpConn* c, bool connect_phase, bool timeout) override;
  void on_upstream_writable(UpConn* c) override;

 private:
  friend class ClientConn;
  void local_reply(int status, std::string_view body, std::string_view extra_fields = {},
                   bool plain = true);
  void abort_response();
  void report(UpstreamResult r);
  std::string_view upstream_address_view() const {
    return up_ ? up_->address() : std::string_view();
  }
  void attempt();
  void send_request_head();
  void handle_response_head();
  void pump_response_body();
  void finish_response(bool reuse);
  void fail(int status, std::string_view body);
  friend struct PendingQueue;
  // Waits in the cluster's pending queue (or 503 when it is full); the route timeout bounds it.
  void enqueue_pending();
  void dequeue_pending();
  void retry_or_fail(bool connect_phase, bool timeout);
  void release_upstream(bool reuse);
  void finish();
  static void on_timer(void* self);

  Worker& worker_;
  Downstream* down_ = nullptr;
  WorkerSnapshot* ws_ = nullptr;
  DownRequest req_;
  const VirtualHost* vhost_ = nullptr;
  const Route* route_ = nullptr;
  ClusterState* cs_ = nullptr;
  uint32_t endpoint_ = kNoEndpoint;
  uint32_t set_cookie_ = kNoEndpoint;  // cookie affinity: Set-Cookie for this endpoint
  uint32_t tried_[4] = {};
  uint32_t tried_count_ = 0;
  uint32_t attempts_left_ = 0;
  UpConn* up_ = nullptr;
  Timer timer_;
  bool active_ = false;
  bool head_sent_downstream_ = false;
  bool request_done_ = false;  // whole request body handed to the upstream
  bool body_started_ = false;
  bool response_started_ = false;
  bool tunnel_ = false;
  bool paused_response_ = false;
  bool request_chunked_ = false;
  bool stale_retry_used_ = false;
  bool reuse_ = false;
  bool lb_active_ = false;
  bool woken_ = false;  // attempt() runs for a woken waiter: back to the front if still limited
  // Pending queue membership (cs_->pending); pending_ is set while queued.
  PendingQueue* pending_ = nullptr;  // cs_ (held through ws_) owns it while we are queued
  Exchange* pend_prev_ = nullptr;
  Exchange* pend_next_ = nullptr;
  RequestView view_;
  int status_ = 0;
  uint64_t start_ms_ = 0;
  uint64_t sent_ms_ = 0;
  uint64_t upstream_ms_ = 0;
  // Response framing.
  h1::ResponseHead rhead_;
  size_t rscan_ = 0;
  int64_t rremaining_ = 0;  // content-length body left
  enum class Framing { kNone, kLength, kChunked, kClose } rframing_ = Framing::kNone;
  h1::ChunkedDecoder rchunk_;
  std::string head_buf_;  // serialized upstream request head / downstream response fields
  std::string upstream_address_;
};

// ---------------------------------------------------------------------------------------------
// TLS contexts of one listener (one SSL_CTX per certificate; SNI selects, ALPN on every one).

class TlsContexts {
 public:
  ~TlsContexts();
  static absl::StatusOr<std::shared_ptr<TlsContexts>> build(const Listener& listener,
                                                            const TlsContexts* previous);
  SSL_CTX* default_ctx() const { return ctxs_[default_index_]; }
  SSL_CTX* ctx(uint32_t i) const { return ctxs_[i]; }
  // The PEM + settings identity of each context (to reuse contexts across reloads, which
  // keeps session tickets valid).
  std::vector<std::string> keys_;
  std::vector<SSL_CTX*> ctxs_;
  uint32_t default_index_ = 0;
};

// ex_data index on SSL objects pointing at the owning ClientConn.
int ssl_conn_index();

// ---------------------------------------------------------------------------------------------
// HTTP/2 server session of one connection (nghttp2); its streams are Downstreams.

class H2Session {
 public:
  H2Session(ClientConn& conn, Worker& w);
  ~H2Session();
  // Sends the server's SETTINGS (`max_header_list`: the request head limit, in bytes).
  bool start(uint32_t max_streams, uint32_t max_header_list);
  // Feeds received bytes. False on a fatal protocol error: a GOAWAY is queued; close the
  // connection once it is written.
  bool input(const char* data, size_t n);
  // Sends pending frames through the connection. Never frees streams (callers may be streams).
  void flush();
  // Stream events call this: one flush is posted for the end of the loop turn (or folded into
  // the running input()/flush()).
  void schedule_flush();
  bool flush_posted_ = false;
  // Frees closed streams; only from top-level handlers.
  void reap();
  bool done() const;
  bool idle() const { return open_ == nullptr; }
  void shutdown();  // GOAWAY; the connection ends when the open streams are done
  nghttp2_session* ng() { return ng_; }
  Worker& worker() { return worker_; }
  ClientConn& conn() { return conn_; }

 private:
  friend class H2Stream;
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame*, void*);
  static int on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t,
                       const uint8_t*, size_t, uint8_t, void*);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame*, void*);
  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int on_stream_close(nghttp2_session*, int32_t, uint32_t, void*);
  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd*, void*);
  H2Stream* find(int32_t id);

  ClientConn& conn_;
  Worker& worker_;
  std::shared_ptr<H2Allocator> alloc_;  // the worker's; outlives ng_
  nghttp2_session* ng_ = nullptr;
  H2Stream* open_ = nullptr;  // open streams (intrusive list; nghttp2 maps ids to them)
  H2Stream* last_ = nullptr;  // the stream find() returned last
  std::vector<H2Stream*> dead_;
  static constexpr size_t kFreeStreams = 32;
  std::vector<H2Stream*> free_;  // closed streams kept for reuse
  std::string batch_;            // frames of one flush, written at once (capacity reused)
  std::vector<nghttp2_nv> nva_;  // response header array, reused by every stream's head
  bool in_flush_ = false;
  bool flush_again_ = false;
  bool in_input_ = false;
  bool failed_ = false;  // nghttp2 gave up on the input: a GOAWAY is queued, then the close
  // The highest client stream id seen in a HEADERS frame, and the ranges of ids skipped below
  // it (never opened; bounded: the oldest range is forgotten first).
  int32_t max_stream_id_ = -1;
  size_t max_head_bytes_ = 0;  // a request head's (and its trailers') limit, from start()
  static constexpr size_t kSkippedRanges = 16;
  std::vector<std::pair<int32_t, int32_t>> skipped_;
};

// ---------------------------------------------------------------------------------------------
// Downstream HTTP/1.1 connection (plain or TLS).

class ClientConn final : public Downstream, public BatchedWriter {
 public:
  ClientConn(Worker& w, tcp::socket s, const std::string& listener_name);
  ~ClientConn() override;
  void adopt_latest_snapshot();
  void start();
  void shutdown_gracefully();  // close when idle; used by drain and listener removal
  void h2_watch_idle();        // arm the idle timeout when no h2 stream is open, else cancel it
  void force_close();
  bool idle() const { return !exchange_.active() && state_ == State::kReadHead; }

  // Downstream.
  void response_head(const ResponseHead& head) override;
  bool response_body(const char* data, size_t n) override;
  void response_end() override;
  void request_body_ready() override;
  void resume_request_body() override;
  void abort() override;

  // SendBatch (this turn's output goes out at its end).
  int batch_fd() override { return state_ == State::kClosed ? -1 : sock_.native_handle(); }
  Buffer& batch_out() override { return out_; }
  void batch_done(int result) override;

  // TLS callback support.
  const Listener* listener() const { return listener_; }
  WorkerSnapshot* snapshot() const { return ws_; }
  std::string sni_;

  ClientConn* prev = nullptr;  // worker's connection list
  ClientConn* next = nullptr;

 private:
  friend class H2Session;
  friend class H2Stream;
  friend class TcpProxy;
  friend class EdgeReader<ClientConn>;
  // kSniff: reading the ClientHello of a TLS listener with passthrough entries (tcp_proxy.cpp);
  // kPassthrough: relayed as raw TCP by tcp_; kTcpProxy: TLS terminated here, the plaintext
  // relayed as TCP by tcp_.
  enum class State {
    kHandshake,
    kReadHead,
    kBody,
    kWaitResponse,
    kTunnel,
    kLinger,
    kH2,
    kClosed,
    kSniff,
    kPassthrough,
    kTcpProxy
  };
  bool start_tls();        // TLS server state on the listener's default context
  void on_client_hello();  // kSniff: in_ holds the bytes so far (tcp_proxy.cpp)
  bool start_h2();
  void on_h2_flush();  // the flush posted by H2Session::schedule_flush()
  void read_more();
  void on_read(const error_code& ec, size_t n);
  void on_plain_data();
  bool tls_decrypt();  // raw -> in_; false on fatal error
  // Drains this thread's OpenSSL error queue after a failed TLS call; returns false. Worker
  // threads keep the queue empty this way instead of clearing it before every SSL call.
  static bool tls_clear_errors();
  void process();
  void start_request();
  void feed_body();
  void send_local(int status, std::string_view body, bool close);
  bool write(const struct iovec* iov, int n);  // false: connection failed
  void flush();  // at the end of the turn (SendBatch), else now, then asynchronously
  void flush_async();
  void on_write(const error_code& ec, size_t n);
  void written();  // out_ drained: what waited for it goes on
  // Backpressure for response bodies: output waits for a full socket (queued for this turn's
  // batch does not count, up to a bound).
  bool output_blocked() const {
    return out_.size() > 0 && !(batched_ && out_.size() < kBatchedBytes);
  }
  static constexpr size_t kBatchedBytes = 64 * 1024;
  void request_complete();
  void close();
  void linger_close();
  void unref();
  void record(int status);
  static void on_timer(void* self);

  Worker& worker_;
  tcp::socket sock_;
  std::string listener_name_;
  const Listener* listener_ = nullptr;
  WorkerSnapshot* ws_ = nullptr;
  size_t keep_ = 0;  // in_ bytes [0, keep_) hold the active request head
  bool in_process_ = false;
  bool header_timer_ = false;  // the timer measures the header timeout (else idle)
  State state_ = State::kReadHead;
  Buffer in_;   // plaintext request bytes
  Buffer out_;  // pending plaintext (plain) or ciphertext (TLS) not yet sent
  Buffer raw_;  // TLS: ciphertext received
  SSL* ssl_ = nullptr;
  h1::RequestHead req_;
  size_t scan_ = 0;
  Exchange exchange_;
  h1::ChunkedDecoder body_chunk_;
  int64_t body_remaining_ = 0;
  bool body_chunked_ = false;
  bool body_done_ = true;
  bool body_paused_ = false;
  bool body_ready_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool batched_ = false;  // writing_ through the worker's SendBatch
  bool keep_alive_ = true;
  bool peer_eof_ = false;
  bool closing_after_write_ = false;
  bool draining_ = false;
  bool response_chunked_ = false;
  bool response_no_body_ = false;
  bool head_pending_ = false;  // response head serialized in out_ but held back
  bool write_blocked_response_ = false;
  uint64_t request_start_ms_ = 0;
  uint32_t requests_ = 0;
  Timer timer_;
  uint32_t refs_ = 0;
  std::string client_ip_;
  std::string log_method_, log_path_, log_host_;
  std::string head_scratch_;
  std::string tls_scratch_;  // TLS: the pieces of one write, coalesced into one SSL_write
  std::unique_ptr<H2Session> h2_;
  std::unique_ptr<TcpProxy> tcp_;  // kPassthrough, kTcpProxy
  bool delete_posted_ = false;
  EdgeReader<ClientConn> reader_{*this};
};

// ---------------------------------------------------------------------------------------------
// Worker: one thread, one io_context, its listeners, connections, pools and counters.

class Worker {
 public:
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
  void add_conn(ClientConn* c);
  void remove_conn(ClientConn* c);
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
  void accept(std::shared_ptr<Acceptor> a);
  void tick();
  void adopt(std::shared_ptr<const Snapshot> snap);
  std::shared_ptr<Pool> pool_for(const Endpoint& ep, const Snapshot& snap);
  // Erases the pools_ entries of unused_candidates_ whose pool is gone.
  void forget_unused_pools();
  void fold(WorkerSnapshot* ws, std::map<MetricKey, uint64_t>& into);

  uint32_t index_;
  asio::io_context io_;
  SendBatch batch_;
  asio::steady_timer ticker_;
  std::thread thread_;
  TimerWheel timers_;
  uint64_t now_ms_ = 0;
  uint64_t rng_;
  std::shared_ptr<H2Allocator> h2_alloc_ = std::make_shared<H2Allocator>();
  WorkerSnapshot* current_ = nullptr;
  std::vector<std::shared_ptr<Acceptor>> acceptors_;
  std::vector<WorkerSnapshot*> live_;  // snapshots still referenced
  std::unordered_map<const Cluster*, std::shared_ptr<ClusterState>> cluster_states_;
  std::unordered_map<std::string, std::weak_ptr<Pool>> pools_;
  // Addresses whose pool may have lost its last user (its cluster was dropped or replaced).
  std::unordered_set<std::string> unused_candidates_;
  ClientConn* conns_ = nullptr;
  bool draining_ = false;
  bool stopped_ = false;
  WorkerStats stats_;
  std::atomic<uint64_t> active_conns_{0};
  AccessLog access_log_;
};

}  // namespace kop::proxy::server
