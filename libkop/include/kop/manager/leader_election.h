// kop/manager/leader_election.h: one leader among replicas, through a coordination.k8s.io/v1
// Lease (client-go's leaderelection with a LeaseLock).
//
// A LeaderElector tries every retry_period to take the Lease: it may when the Lease does not
// exist, has no holder, is its own, or has not been renewed for lease_duration as measured on
// this elector's clock since it last saw the record change (client-go's rule: the other
// holder's timestamps are not trusted across machines). Taking it writes holderIdentity,
// acquireTime, renewTime, leaseDurationSeconds and increments leaseTransitions; the update
// carries the resourceVersion read, so two candidates racing for it cannot both win (409).
// The leader renews every retry_period; if no renewal succeeded for renew_deadline it gives up
// leadership (on_stopped_leading) — before lease_duration has passed, so that no other replica
// can already be leading. is_leader() turns false as soon as renew_deadline has passed since
// the last renewal, even while the elector's thread is stuck in a call that does not return
// (a hung leader): two electors never both answer true when they share a clock's pace.
// stop() of a leader releases the Lease when release_on_cancel, as client-go's ReleaseOnCancel
// (holderIdentity cleared, leaseDurationSeconds 1, acquireTime and renewTime now,
// leaseTransitions kept), so a successor takes it at once.
// After losing leadership (not after stop()), the elector campaigns again when
// campaign_after_loss is set (default: it ends, as client-go's Run returns).
// Metric: leader_election_master_status{name} is 1 while leading, else 0.
//
// Threading: run() starts one thread; the callbacks are called on it, in order started ->
// stopped (again for each new term with campaign_after_loss), each pair at most once per term.
// is_leader() and the accessors from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "kop/client/client.h"
#include "kop/metrics/registry.h"
#include "kop/workqueue/clock.h"

namespace kop::manager {

struct LeaderElectionOptions {
  // The Lease's namespace and name. Required.
  std::string lease_namespace{};
  std::string lease_name{};
  // This candidate's identity. Defaults to "" = hostname + "_" + a random suffix.
  std::string identity{};
  // How long a Lease not renewed stays valid for others. Defaults to 15 s (controller-runtime).
  absl::Duration lease_duration = absl::Seconds(15);
  // How long the leader keeps trying to renew before giving up. Defaults to 10 s.
  absl::Duration renew_deadline = absl::Seconds(10);
  // Interval between attempts to take or renew. Defaults to 2 s.
  absl::Duration retry_period = absl::Seconds(2);
  // Clear the holder when stopped while leading. Defaults to true (controller-runtime's
  // LeaderElectionReleaseOnCancel is opt-in; kop releases by default so failover is immediate
  // after a clean shutdown).
  bool release_on_cancel = true;
  // After losing the Lease (a failed renewal, not stop()), campaign again and call the
  // callbacks again on a new win. Defaults to false (the elector's thread ends).
  bool campaign_after_loss = false;
  // Time source for the decisions (expiry, deadlines, waits). Defaults to (nullptr means) the
  // real clock. Timestamps written into the Lease always use wall time.
  workqueue::Clock* clock = nullptr;
  // Where leader_election_master_status goes. Defaults to (nullptr means) the default registry.
  metrics::Registry* registry = nullptr;
};

struct LeaderCallbacks {
  std::function<void()> on_started_leading;  // Defaults to none.
  std::function<void()> on_stopped_leading;  // Defaults to none. Called only after started.
  std::function<void(const std::string& identity)> on_new_leader;  // Defaults to none.
};

class LeaderElector {
 public:
  LeaderElector(client::Client& client, LeaderElectionOptions options, LeaderCallbacks callbacks);
  ~LeaderElector();  // stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // InvalidArgument for missing names or renew_deadline >= lease_duration, or
  // retry_period >= renew_deadline.
  static absl::Status validate(const LeaderElectionOptions& options);

  // Starts campaigning on a thread. Once.
  absl::Status run();
  // Stops campaigning; releases the Lease if leading (and release_on_cancel); joins the thread.
  void stop();
  // Leading, and the last renewal is younger than renew_deadline (see above).
  bool is_leader() const;
  const std::string& identity() const { return options_.identity; }
  // How many times the elector's thread has gone to sleep until its next attempt. A test on a
  // FakeClock steps time once this has grown, so the step cannot be missed.
  uint64_t sleeps() const { return sleeps_.load(); }

 private:
  void loop();
  // One attempt to take or renew; true when we hold the Lease afterwards.
  bool try_acquire_or_renew();
  void release();
  void wait(absl::Duration d);

  client::Client& client_;
  LeaderElectionOptions options_;
  LeaderCallbacks callbacks_;
  workqueue::Clock* clock_;
  std::unique_ptr<workqueue::Waiter> waiter_;
  metrics::Gauge* status_gauge_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> sleeps_{0};
  // When the Lease was last taken or renewed: absl::ToUnixNanos of a time on clock_.
  std::atomic<int64_t> last_renew_ns_{0};
  std::thread thread_;
  // What we last saw of the Lease, and when (on our clock) it last changed.
  std::string observed_record_;
  std::string observed_holder_;
  absl::Time observed_time_{};
};

}  // namespace kop::manager
