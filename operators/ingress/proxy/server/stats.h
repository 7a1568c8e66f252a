// A worker's counters: plain fields, written and read only on the worker's own thread (a
// metrics scrape posts a collector to every worker, proxy.cpp), so the request path has no
// shared atomics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <tuple>

namespace kop::proxy::server {

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
  uint64_t upstream_tls_failures = 0;  // handshakes failed (verification, ALPN, protocol)
  uint64_t upstream_tls_resumed = 0;   // handshakes that resumed the endpoint's last session
  uint64_t upstream_reused = 0;
  uint64_t retries = 0;
  uint64_t pending_active = 0;    // requests waiting for an upstream connection (gauge)
  uint64_t pending_total = 0;     // requests that had to wait
  uint64_t pending_overflow = 0;  // requests refused (503): the pending queue was full
  // Request mirroring (mirror.h): copies started, answered by the mirror, dropped (too slow or
  // at the cluster's connection limit), failed (no endpoint, connect or write error, timeout).
  uint64_t mirror_started = 0;
  uint64_t mirror_answered = 0;
  uint64_t mirror_dropped = 0;
  uint64_t mirror_failed = 0;
  // External authentication (ext_auth.h): requests checked, answers taken from the cache, and
  // the verdicts: allowed, denied (401 / 403), failed (another status, no answer: 500).
  uint64_t ext_auth_checks = 0;
  uint64_t ext_auth_cached = 0;
  uint64_t ext_auth_allowed = 0;
  uint64_t ext_auth_denied = 0;
  uint64_t ext_auth_failed = 0;
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

}  // namespace kop::proxy::server
