// Mirror: a copy of one proxied request sent to a mirror cluster (a forward route's `mirrors`,
// Gateway API's RequestMirror), its response read and dropped.
//
// The Exchange that owns the request starts one Mirror per sampled mirror cluster with the
// request head it sent to the main upstream (mutations applied; `connection: close` added, so
// the mirror's end of stream ends the copy), then hands it the request body exactly as framed
// for the main upstream. Nothing flows back: the client only ever sees the main response, and
// the Exchange never waits for a mirror. The copy is done (answered) as soon as the mirror has
// started to answer the complete request; the rest of its answer is not read. Memory is bounded:
// what the mirror's socket has not taken (or, before it connected, what is waiting for it) may not
// exceed kMaxPendingBytes; a mirror that falls further behind is dropped, never slowing the main
// exchange. The copy also ends at its timeout, when the Exchange ends before the request did
// (abandon()), and on any connection error. Every ending is counted in WorkerStats (mirror_*).
//
// Ownership: a Mirror keeps itself alive until it ends; the Exchange holds a shared_ptr only
// to feed it. Threading: the worker's thread only.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "snapshot.h"
#include "timer_wheel.h"
#include "up_conn.h"

namespace kop::proxy::server {

class Worker;

class Mirror final : public UpstreamUser {
 public:
  static constexpr size_t kMaxPendingBytes = size_t{64} * 1024;

  // Starts the copy to an endpoint `cluster`'s load balancer picks; null when it cannot start
  // (no endpoint, the cluster's connection limit: counted). `timeout_ms` 0: 15 s.
  static std::shared_ptr<Mirror> start(Worker& worker, std::shared_ptr<ClusterState> cluster,
                                       std::string_view head, uint64_t timeout_ms);
  ~Mirror() = default;
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // Request bytes, framed as for the main upstream. `last`: the request is complete.
  void send(const struct iovec* iov, int n, bool last);
  // The main exchange ended: a copy whose request is not complete ends too (dropped).
  void abandon();
  bool ended() const { return ended_; }

  void on_upstream_connected(UpConn* c) override;
  void on_upstream_data(UpConn* c) override;
  void on_upstream_error(UpConn* c, bool connect_phase, bool timeout) override;
  void on_upstream_writable(UpConn*) override {}

 private:
  enum class End { kAnswered, kDropped, kFailed };
  Mirror(Worker& worker, std::shared_ptr<ClusterState> cluster);
  void end(End how);
  static void on_timer(void* self);

  Worker& worker_;
  std::shared_ptr<ClusterState> cluster_;
  std::shared_ptr<Mirror> self_;  // set while the copy runs
  UpConn* conn_ = nullptr;
  uint32_t endpoint_ = 0;
  std::string waiting_;  // bytes sent before the connection was up
  bool connected_ = false;
  bool request_done_ = false;
  bool answered_ = false;
  bool ended_ = false;
  Timer timer_;
};

}  // namespace kop::proxy::server
