// kop/manager/manager.h: runs an operator — caches, controllers, other runnables, leader
// election, /metrics /healthz /readyz, and graceful shutdown (controller-runtime's Manager).
//
//   kop::manager::Manager mgr(client, {.leader_election = true, .leader_election_id = "my-op",
//                                       .leader_election_namespace = "default",
//                                       .metrics_address = "127.0.0.1:8080"});
//   auto done = kop::controller::Builder(mgr).for_(kWebsite).complete(reconciler);
//   if (!done.ok()) return 1;
//   return mgr.run_until_signal().ok() ? 0 : 1;
//
// What runs where:
//   - all replicas: the cache, the HTTP endpoints, runnables added with leader_only = false;
//   - the leader only (every replica when leader_election is false): controllers and runnables
//     added with leader_only = true, started when the Lease is won, each on its own thread (a
//     controller waits for its informers to sync before its first reconcile).
// Losing the Lease (a renewal failing for renew_deadline) stops leader-only work at once (the
// controllers' reconciles see ctx.stop; none is awaited). Then:
//   - exit_on_lost_lease = true (default, as controller-runtime): wait() returns
//     Aborted("leader election lost") so the program exits and restarts clean;
//   - exit_on_lost_lease = false: the manager stays up (cache, endpoints and all-replica
//     runnables keep running; wait() does not return) and campaigns for the Lease again; on
//     winning it, it starts the leader-only work again: each controller first waits for the
//     reconciles of its previous term to end, then starts with a fresh queue and reconciles
//     every object again; each leader-only runnable's `start` is called again (after its
//     `stop`, which got a zero timeout), so it must support being restarted.
// Errors: a controller that cannot start (its caches did not sync within cache_sync_timeout,
// e.g. because listing a kind is forbidden) or a leader-only runnable whose start fails ends
// wait() with that error, as controller-runtime's Start returns it; the error names the
// controller, the kind and the failing verb ("controller cm: timed out waiting for cache to be
// synced for Kind /v1, Kind=Secret (last error: list /v1, Kind=Secret: ... forbidden ...)").
// Endpoints: /metrics (Prometheus text of `registry`), /healthz and /readyz (200 "ok" when every
// named check passes, else 500 listing "[-]name failed: reason"; ?verbose lists all). /readyz
// has the check "informer-sync", failing until every informer of the cache has synced (its
// message names the kinds not synced).
// Shutdown (stop(), or SIGTERM/SIGINT in run_until_signal): stop intake (the controllers'
// sources; queued requests are dropped) and drain the controllers' in-flight reconciles within
// graceful_shutdown_timeout (their ctx.stop is requested), stop the other runnables, release
// the Lease (holderIdentity cleared, leaseDurationSeconds 1, renewTime now) so another replica
// takes over at once, stop the cache and the endpoints. run_until_signal() then returns OK
// (DeadlineExceeded when reconciles outlived the timeout). A second SIGTERM/SIGINT while
// shutting down exits the process at once with status 1 (_exit(1): no drain, no release), as
// controller-runtime's second signal does os.Exit(1).
//
// Threading: add_*() before start(); start()/wait()/stop()/run_until_signal() from one thread
// (stop() also from any other); accessors from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/synchronization/notification.h>
#include <absl/time/time.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kop/cache/cache.h"
#include "kop/client/client.h"
#include "kop/controller/builder.h"
#include "kop/controller/controller.h"
#include "kop/manager/http_server.h"
#include "kop/manager/leader_election.h"
#include "kop/metrics/registry.h"

namespace kop::manager {

struct ManagerOptions {
  // Run leader-only work only while holding the Lease. Defaults to false (always run it).
  bool leader_election = false;
  // The Lease's name. Required with leader_election.
  std::string leader_election_id{};
  // The Lease's namespace. Defaults to "default".
  std::string leader_election_namespace = "default";
  // Identity, durations (15 s / 10 s / 2 s), release on cancel and clock: see
  // LeaderElectionOptions (its namespace, name and registry are set from the fields here).
  LeaderElectionOptions leader_election_options{};
  // After losing the Lease, wait() returns Aborted (and run_until_signal() returns it). Defaults
  // to true (controller-runtime exits). False: leader-only work stops, the rest keeps running,
  // and the manager campaigns again, restarting leader-only work when it wins (see above).
  bool exit_on_lost_lease = true;
  // host:port of /metrics. Defaults to "" = not served. Port 0 picks one (metrics_port()).
  std::string metrics_address{};
  // host:port of /healthz and /readyz. Defaults to "" = served with /metrics (if that is served).
  std::string health_probe_address{};
  // How long stop() waits for in-flight reconciles. Defaults to 30 s (controller-runtime).
  absl::Duration graceful_shutdown_timeout = absl::Seconds(30);
  // The cache's options (namespaces, per-kind settings). Defaults to all namespaces.
  cache::CacheOptions cache{};
  // Where metrics go and what /metrics serves. Defaults to (nullptr means) the default registry.
  metrics::Registry* registry = nullptr;
  // Time source of the workqueue and rate limiter of each controller built with
  // Builder(manager) whose options name no clock. Defaults to (nullptr means) the real clock;
  // kop::testing's Env puts its FakeClock here. Must outlive the manager.
  workqueue::Clock* controller_clock = nullptr;
};

using Check = std::function<absl::Status()>;

class Manager : public controller::ControllerHost {
 public:
  Manager(client::Client& client, ManagerOptions options);
  ~Manager() override;  // stop()
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  client::Client& client() { return client_; }
  cache::Cache& cache() override { return cache_; }
  metrics::Registry& registry() override { return *registry_; }
  workqueue::Clock* controller_clock() override { return options_.controller_clock; }

  // A controller (leader-only). Before start().
  void add_controller(std::unique_ptr<controller::Controller> controller) override;
  // Any work: `start` must return promptly (start threads); `stop` gets the drain timeout.
  void add_runnable(std::string name, std::function<absl::Status()> start,
                    std::function<absl::Status(absl::Duration)> stop, bool leader_only);
  void add_healthz_check(std::string name, Check check);
  void add_readyz_check(std::string name, Check check);

  // Starts the endpoints, the cache, the all-replica runnables and leader election (or the
  // leader-only work at once). Returns after starting (not after sync).
  absl::Status start();
  // Blocks until stop(), a fatal error (returned; see above) or (with exit_on_lost_lease) the
  // loss of the Lease (Aborted). OK after stop() alone.
  absl::Status wait();
  // Graceful shutdown (see above). DeadlineExceeded when reconciles were still running after
  // graceful_shutdown_timeout. Idempotent.
  absl::Status stop();
  // start(), then wait for SIGTERM/SIGINT (or what ends wait()), then stop(). Returns the
  // error that ended the wait, else stop()'s answer.
  absl::Status run_until_signal();

  bool is_leader() const;
  // Bound ports (0 when not served).
  int metrics_port() const;
  int health_port() const;
  // The /readyz and /healthz answers, as served.
  HttpResponse readyz(const std::string& target = "/readyz") const;
  HttpResponse healthz(const std::string& target = "/healthz") const;

 private:
  struct Runnable {
    std::string name;
    std::function<absl::Status()> start;
    std::function<absl::Status(absl::Duration)> stop;
    bool leader_only;
  };
  void start_leader_work();
  absl::Status stop_leader_work(absl::Duration timeout);
  // Records the first fatal error and ends wait().
  void fail(absl::Status error);
  static HttpResponse run_checks(const std::vector<std::pair<std::string, Check>>& checks,
                                 const std::string& target, std::string_view what);

  client::Client& client_;
  ManagerOptions options_;
  metrics::Registry* registry_;
  cache::Cache cache_;
  std::vector<std::unique_ptr<controller::Controller>> controllers_;
  std::vector<Runnable> runnables_;
  std::vector<std::pair<std::string, Check>> healthz_;
  std::vector<std::pair<std::string, Check>> readyz_;
  std::unique_ptr<HttpServer> metrics_server_;
  std::unique_ptr<HttpServer> health_server_;
  std::unique_ptr<LeaderElector> elector_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool leader_work_running_ ABSL_GUARDED_BY(mu_) = false;
  bool lease_lost_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> starters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::manager
