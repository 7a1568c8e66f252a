// What a worker serves from: the published Snapshot (the compiled route table, TLS contexts,
// limits and settings, resolved endpoint addresses; immutable, shared by every worker) and the
// worker's own view of it (WorkerSnapshot: per-cluster load balancers, pools and pending
// queues, per-route counters). A request holds its WorkerSnapshot until it ends, so it finishes
// on the table it started with while a newer one serves new requests.
// Threading: Snapshot is built on the control thread and read by every worker; WorkerSnapshot
// and ClusterState belong to one worker thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "asio.h"
#include "http1.h"
#include "kop/proxy/chunked_vector.h"
#include "kop/proxy/config.h"
#include "kop/proxy/load_balancer.h"
#include "kop/proxy/route_table.h"
#include "stats.h"

namespace kop::proxy::server {

class Exchange;
class Pool;
class TlsContexts;
class UpstreamTls;
class Worker;

// One cluster's endpoint addresses as the control thread resolved them, per endpoint index
// (nullopt: the name did not resolve). Shared by the snapshots that keep the cluster: an IP
// literal cannot change, so only a new or changed cluster, or one naming a host (`names`:
// resolved again at every apply, the reload is how a name is re-resolved), is resolved again.
// A cluster whose endpoints are all IP literals (an EndpointSlice's are) keeps no list: every
// such cluster shares one object with `literals` set, and address() reads the literal, so ten
// thousand clusters of ten endpoints do not hold 100k addresses the compiled clusters already
// say (8.7 MB at 10k apps).
struct ResolvedEndpoints {
  std::vector<std::optional<tcp::endpoint>> addresses;
  bool names = false;
  bool literals = false;  // every endpoint is an IP literal; `addresses` is empty
  // Endpoint i of `cluster` (the cluster these were resolved for): its address, or nullopt
  // when its name did not resolve.
  std::optional<tcp::endpoint> address(const Cluster& cluster, size_t i) const {
    if (!literals) return i < addresses.size() ? addresses[i] : std::nullopt;
    error_code ec;
    const SocketAddress& a = cluster.endpoints[i].address();
    auto ip = asio::ip::make_address(a.host, ec);
    if (ec) return std::nullopt;
    return tcp::endpoint(ip, a.port);
  }
};

struct Snapshot {
  uint64_t version = 0;
  std::shared_ptr<const RouteTable> table;
  // Per listener id: the TLS contexts (null for plain listeners).
  std::vector<std::shared_ptr<TlsContexts>> tls;
  // Per cluster index: the client TLS context towards its endpoints (null: plain TCP).
  // Chunked as the table's clusters: a snapshot shares with the previous one the chunks whose
  // clusters the tables share, so an apply touches the changed clusters' chunks only.
  ChunkedVector<std::shared_ptr<const UpstreamTls>> upstream_tls;
  h1::Limits limits;
  ServerSettings settings;
  // Per cluster index: its endpoints' addresses (null at the index of a removed cluster).
  ChunkedVector<std::shared_ptr<const ResolvedEndpoints>> resolved;
  // The cluster indexes whose context or addresses are made again at every apply although the
  // cluster is kept (endpoint names are resolved again, TLS files read again): few, if any.
  std::vector<uint32_t> refreshed;
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

// The pools of one cluster's endpoints on one worker, each made at its first use: made up
// front, 10k clusters of 10 endpoints were 200k pools per worker (heaptrack: ~75 MB at two
// workers), most of them for endpoints that see no request before the next reload.
class EndpointPools {
 public:
  EndpointPools() = default;
  EndpointPools(Worker* w, const Cluster* c, std::shared_ptr<const UpstreamTls> tls,
                std::shared_ptr<const ResolvedEndpoints> addresses)
      : worker_(w), cluster_(c), tls_(std::move(tls)), addresses_(std::move(addresses)) {}
  // Endpoint i's pool: the worker's pool of that address (and TLS context) when one is alive,
  // else a new one. Worker thread only.
  const std::shared_ptr<Pool>& operator[](size_t i) const;
  // Pools made so far (null: not used yet).
  const std::vector<std::shared_ptr<Pool>>& made() const { return made_; }
  // Takes the live pools of these endpoints' addresses (a replaced cluster's connections).
  void adopt_live();
  // The newest snapshot's addresses for this cluster (new pools connect to them).
  const ResolvedEndpoints* addresses() const { return addresses_.get(); }
  void set_addresses(std::shared_ptr<const ResolvedEndpoints> a) { addresses_ = std::move(a); }

 private:
  Worker* worker_ = nullptr;
  const Cluster* cluster_ = nullptr;  // owned by the ClusterState
  std::shared_ptr<const UpstreamTls> tls_;
  std::shared_ptr<const ResolvedEndpoints> addresses_;
  mutable std::vector<std::shared_ptr<Pool>> made_;  // per endpoint index; empty until used
};

// Per worker, per compiled Cluster: the worker's LoadBalancer and its endpoints' pools.
struct ClusterState {
  std::shared_ptr<const Cluster> cluster;
  std::unique_ptr<LoadBalancer> lb;
  EndpointPools pools;
  // Connections of this cluster on this worker. Shared with the connections, which may outlive
  // this state (a reload replaced the cluster while they were busy or idle).
  std::shared_ptr<uint32_t> open = std::make_shared<uint32_t>(0);
  std::shared_ptr<PendingQueue> pending = std::make_shared<PendingQueue>();
};

// A worker's view of one Snapshot. Refcounted (non-atomic: worker thread only); requests
// hold it so that they finish on the table they started with.
struct WorkerSnapshot {
  std::shared_ptr<const Snapshot> snap;
  // Per cluster index; null until cluster() makes it at the cluster's first use on this worker
  // (or a reload replaced a cluster that had a state: its pools are taken over at once). Most
  // of ten thousand clusters see no request between two reloads, and a state is a load
  // balancer, pools and queues: made for every cluster they were 13 MB at 10k apps and two
  // workers.
  std::vector<std::shared_ptr<ClusterState>> clusters;
  // The routes that answered a request on this snapshot: a reload neither sizes nor walks an
  // array of every route (20k at 10k apps), only these are folded into the totals.
  absl::flat_hash_map<const Route*, RouteCounters> route_counters;
  uint32_t refs = 0;
  Worker* worker = nullptr;
  // The state of cluster `index` of snap's table (null for the index of a removed cluster).
  const std::shared_ptr<ClusterState>& cluster(uint32_t index);
};

}  // namespace kop::proxy::server
