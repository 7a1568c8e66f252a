#include "kop/manager/leader_election.h"

#include <unistd.h>

#include <random>

#include "kop/api/views.h"
#include "kop/client/errors.h"
#include "kop/log/log.h"

namespace kop::manager {
namespace {

std::string micro_time(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

std::string default_identity() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::random_device rd;
  return std::string(host) + "_" + std::to_string(rd());
}

// The fields that identify a Lease record's state (what client-go compares as observedRawRecord).
std::string record_of(const api::Object& lease) {
  api::LeaseView v(lease);
  return std::string(v.holder_identity().value_or("")) + "|" + std::string(v.renew_time_text()) +
         "|" + std::to_string(v.lease_transitions().value_or(0));
}

}  // namespace

absl::Status LeaderElector::validate(const LeaderElectionOptions& o) {
  if (o.lease_name.empty() || o.lease_namespace.empty()) {
    return absl::InvalidArgumentError("leader election needs a Lease namespace and name");
  }
  if (o.renew_deadline >= o.lease_duration) {
    return absl::InvalidArgumentError("leader election: renew_deadline must be < lease_duration");
  }
  if (o.retry_period >= o.renew_deadline) {
    return absl::InvalidArgumentError("leader election: retry_period must be < renew_deadline");
  }
  return absl::OkStatus();
}

LeaderElector::LeaderElector(client::Client& client, LeaderElectionOptions options,
                             LeaderCallbacks callbacks)
    : client_(client),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      clock_(options_.clock != nullptr ? options_.clock : &workqueue::real_clock()),
      waiter_(clock_->new_waiter()) {
  if (options_.identity.empty()) options_.identity = default_identity();
  metrics::Registry& r =
      options_.registry != nullptr ? *options_.registry : metrics::default_registry();
  status_gauge_ = &r.gauge_vec("leader_election_master_status",
                               "Gauge of if the reporting system is master of the relevant lease, "
                               "0 indicates backup, 1 indicates master. 'name' is the string used "
                               "to identify the lease.",
                               {"name"})
                       .with({options_.lease_name});
  status_gauge_->set(0);
}

LeaderElector::~LeaderElector() {
  stop();
}

absl::Status LeaderElector::run() {
  if (auto s = validate(options_); !s.ok()) return s;
  if (thread_.joinable()) return absl::FailedPreconditionError("leader elector already running");
  thread_ = std::thread([this] { loop(); });
  return absl::OkStatus();
}

void LeaderElector::stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    return;
  }
  waiter_->notify();
  if (thread_.joinable()) thread_.join();
}

bool LeaderElector::is_leader() const {
  if (!leading_.load()) return false;
  absl::Time last = absl::FromUnixNanos(last_renew_ns_.load());
  return clock_->now() - last < options_.renew_deadline;
}

void LeaderElector::wait(absl::Duration d) {
  absl::Time deadline = clock_->now() + d;
  sleeps_.fetch_add(1);  // after reading the clock: a step from now on ends this wait
  waiter_->wait_until(deadline);
}

void LeaderElector::loop() {
  auto log = log::named("leader-election")
                 .with_values("lease", options_.lease_namespace + "/" + options_.lease_name,
                              "identity", options_.identity);
  while (!stopping_.load()) {
    // Acquire.
    while (!stopping_.load()) {
      if (try_acquire_or_renew()) break;
      wait(options_.retry_period);
    }
    if (stopping_.load()) return;
    auto last_renew = clock_->now();
    last_renew_ns_ = absl::ToUnixNanos(last_renew);
    leading_ = true;
    status_gauge_->set(1);
    log.info("became leader");
    if (callbacks_.on_started_leading) callbacks_.on_started_leading();
    // Renew until a renewal fails for renew_deadline, or we are stopped.
    while (!stopping_.load()) {
      wait(options_.retry_period);
      if (stopping_.load()) break;
      if (try_acquire_or_renew()) {
        last_renew = clock_->now();
        last_renew_ns_ = absl::ToUnixNanos(last_renew);
      } else if (clock_->now() - last_renew >= options_.renew_deadline) {
        log.error("failed to renew the lease within the renew deadline: leadership lost");
        break;
      }
    }
    bool released_cleanly = stopping_.load() && options_.release_on_cancel;
    if (released_cleanly) release();
    leading_ = false;
    status_gauge_->set(0);
    if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
    if (!options_.campaign_after_loss) return;
    if (!stopping_.load()) log.info("campaigning again for the lease");
  }
}

bool LeaderElector::try_acquire_or_renew() {
  client::ResourceRef ref{"coordination.k8s.io", "v1", "leases", {}, options_.lease_namespace,
                          options_.lease_name};
  absl::Time wall = absl::Now();
  auto got = client_.get(ref);
  if (!got.ok()) {
    if (!client::is_not_found(got.status())) return false;
    api::Object lease("coordination.k8s.io/v1", "Lease");
    lease.set_namespace(options_.lease_namespace);
    lease.set_name(options_.lease_name);
    lease.set_string("/spec/holderIdentity", options_.identity).IgnoreError();
    lease.set_int("/spec/leaseDurationSeconds", absl::ToInt64Seconds(options_.lease_duration))
        .IgnoreError();
    lease.set_string("/spec/acquireTime", micro_time(wall)).IgnoreError();
    lease.set_string("/spec/renewTime", micro_time(wall)).IgnoreError();
    lease.set_int("/spec/leaseTransitions", 0).IgnoreError();
    auto created = client_.create(ref.named(""), lease);
    if (!created.ok()) return false;
    observed_record_ = record_of(**created);
    observed_holder_ = options_.identity;
    observed_time_ = clock_->now();
    return true;
  }
  const api::Object& current = **got;
  api::LeaseView view(current);
  std::string holder(view.holder_identity().value_or(""));
  std::string record = record_of(current);
  if (record != observed_record_) {
    observed_record_ = record;
    observed_time_ = clock_->now();
    if (holder != observed_holder_ && !holder.empty() && callbacks_.on_new_leader) {
      callbacks_.on_new_leader(holder);
    }
    observed_holder_ = holder;
  }
  absl::Duration held_for = absl::Seconds(view.lease_duration_seconds().value_or(0));
  bool valid_for_other =
      !holder.empty() && holder != options_.identity && clock_->now() < observed_time_ + held_for;
  if (valid_for_other) return false;
  api::Object lease(current);
  if (holder != options_.identity) {
    lease.set_string("/spec/acquireTime", micro_time(wall)).IgnoreError();
    lease.set_int("/spec/leaseTransitions", view.lease_transitions().value_or(0) + 1).IgnoreError();
  }
  lease.set_string("/spec/holderIdentity", options_.identity).IgnoreError();
  lease.set_int("/spec/leaseDurationSeconds", absl::ToInt64Seconds(options_.lease_duration))
      .IgnoreError();
  lease.set_string("/spec/renewTime", micro_time(wall)).IgnoreError();
  auto updated = client_.update(ref, lease);  // carries the resourceVersion read: 409 if raced
  if (!updated.ok()) return false;
  observed_record_ = record_of(**updated);
  observed_holder_ = options_.identity;
  observed_time_ = clock_->now();
  return true;
}

void LeaderElector::release() {
  client::ResourceRef ref{"coordination.k8s.io", "v1", "leases", {}, options_.lease_namespace,
                          options_.lease_name};
  auto got = client_.get(ref);
  if (!got.ok()) return;
  if (api::LeaseView(**got).holder_identity().value_or("") != options_.identity) return;
  api::Object lease(**got);
  // client-go's release: no holder, a 1 s lease, both times now, the transitions kept.
  std::string now = micro_time(absl::Now());
  lease.set_string("/spec/holderIdentity", "").IgnoreError();
  lease.set_int("/spec/leaseDurationSeconds", 1).IgnoreError();
  lease.set_string("/spec/acquireTime", now).IgnoreError();
  lease.set_string("/spec/renewTime", now).IgnoreError();
  auto s = client_.update(ref, lease);
  if (!s.ok())
    log::named("leader-election").warn("releasing the lease failed", "error", s.status());
}

}  // namespace kop::manager
