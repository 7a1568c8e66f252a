// Leader election with two candidates against one kop::local store: one leader at a time,
// failover when the leader stops (release) or hangs (lease expiry), and the Lease's fields —
// in real time with short durations, and on a FakeClock with the default durations (15 s lease,
// 10 s renew deadline, 2 s retry) where every bound is checked exactly.
#include "kop/manager/leader_election.h"

#include <absl/strings/match.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "kop/api/views.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"
#include "kop/workqueue/clock.h"

namespace kop::manager {
namespace {

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// Forwards to a LocalClient; while `mode` is set every call fails (kFail) or blocks (kHang).
class UnreliableClient : public local::LocalClient {
 public:
  enum Mode { kOk, kFail, kHang };
  using LocalClient::LocalClient;
  std::atomic<int> mode{kOk};

  absl::StatusOr<api::ObjectPtr> get(const client::ResourceRef& r,
                                     const client::GetOptions& o) override {
    if (auto s = gate(); !s.ok()) return s;
    return LocalClient::get(r, o);
  }
  absl::StatusOr<api::ObjectPtr> create(const client::ResourceRef& r, const api::Object& obj,
                                        const client::CreateOptions& o) override {
    if (auto s = gate(); !s.ok()) return s;
    return LocalClient::create(r, obj, o);
  }
  absl::StatusOr<api::ObjectPtr> update(const client::ResourceRef& r, const api::Object& obj,
                                        const client::UpdateOptions& o) override {
    if (auto s = gate(); !s.ok()) return s;
    return LocalClient::update(r, obj, o);
  }

 private:
  absl::Status gate() {
    while (mode == kHang) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (mode == kFail) return absl::UnavailableError("network down");
    return absl::OkStatus();
  }
};

struct Candidate {
  UnreliableClient client;
  metrics::Registry registry;
  std::unique_ptr<LeaderElector> elector;
  std::atomic<int> started{0}, stopped{0};

  // Real time, short durations; or, with `clock`, the default durations on that clock.
  Candidate(std::shared_ptr<local::Store> store, std::string id,
            workqueue::FakeClock* clock = nullptr, bool campaign_after_loss = false)
      : client(std::move(store)) {
    LeaderElectionOptions o;
    o.lease_namespace = "default";
    o.lease_name = "op-lock";
    o.identity = std::move(id);
    if (clock == nullptr) {
      o.lease_duration = absl::Milliseconds(1000);
      o.renew_deadline = absl::Milliseconds(600);
      o.retry_period = absl::Milliseconds(100);
    }
    o.clock = clock;
    o.campaign_after_loss = campaign_after_loss;
    o.registry = &registry;
    elector = std::make_unique<LeaderElector>(
        client, o, LeaderCallbacks{[this] { ++started; }, [this] { ++stopped; }, nullptr});
  }
  ~Candidate() { client.mode = UnreliableClient::kOk; }  // a hung call returns: the join ends
  bool leader() const { return elector->is_leader(); }
};

api::ObjectPtr lease(local::Store& store) {
  local::LocalClient c(std::shared_ptr<local::Store>(&store, [](local::Store*) {}));
  auto got = c.get({"coordination.k8s.io", "v1", "leases", {}, "default", "op-lock"});
  return got.ok() ? *got : nullptr;
}

// a takes the Lease, then b campaigns too (and, with `settle`, has been refused for a while).
void a_leads_then_b_campaigns(Candidate& a, Candidate& b, bool settle) {
  ASSERT_TRUE(a.elector->run().ok());
  ASSERT_TRUE(eventually([&] { return a.leader(); }, std::chrono::seconds(5)));
  ASSERT_TRUE(b.elector->run().ok());
  if (settle) std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

TEST(LeaderElection, ValidatesDurations) {
  LeaderElectionOptions o{.lease_namespace = "default", .lease_name = "x"};
  EXPECT_TRUE(LeaderElector::validate(o).ok());  // 15 s / 10 s / 2 s
  o.renew_deadline = absl::Seconds(15);
  EXPECT_FALSE(LeaderElector::validate(o).ok());
  EXPECT_FALSE(LeaderElector::validate({}).ok());
}

TEST(LeaderElection, OneLeaderAtATimeAndFailoverOnCleanStop) {
  auto store = std::make_shared<local::Store>();
  Candidate a(store, "a"), b(store, "b");
  a_leads_then_b_campaigns(a, b, /*settle=*/false);
  if (HasFatalFailure()) return;
  // Both campaign for a while: never two leaders.
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(a.leader() && b.leader());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(a.leader());
  EXPECT_FALSE(b.leader());
  auto l = lease(*store);
  ASSERT_NE(l, nullptr);
  api::LeaseView v(*l);
  EXPECT_EQ(v.holder_identity(), "a");
  EXPECT_EQ(v.lease_duration_seconds(), 1);
  EXPECT_TRUE(
      absl::StrContains(a.registry.expose(), "leader_election_master_status{name=\"op-lock\"} 1"));
  EXPECT_TRUE(
      absl::StrContains(b.registry.expose(), "leader_election_master_status{name=\"op-lock\"} 0"));

  auto t0 = std::chrono::steady_clock::now();
  a.elector->stop();  // releases the Lease
  EXPECT_EQ(a.stopped.load(), 1);
  ASSERT_TRUE(eventually([&] { return b.leader(); }, std::chrono::seconds(3)));
  // Released: b takes it on its next retry, well within the lease duration.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000));
  l = lease(*store);
  EXPECT_EQ(api::LeaseView(*l).holder_identity(), "b");
  EXPECT_EQ(api::LeaseView(*l).lease_transitions(), 1);
}

TEST(LeaderElection, PartitionedLeaderStepsDownBeforeTheOtherTakesOver) {
  auto store = std::make_shared<local::Store>();
  Candidate a(store, "a"), b(store, "b");
  a_leads_then_b_campaigns(a, b, /*settle=*/true);
  if (HasFatalFailure()) return;
  auto t0 = std::chrono::steady_clock::now();
  a.client.mode = UnreliableClient::kFail;  // a cannot renew
  bool overlap = false;
  bool b_led = eventually(
      [&] {
        if (a.leader() && b.leader()) overlap = true;
        return b.leader();
      },
      std::chrono::seconds(5));
  ASSERT_TRUE(b_led);
  auto failover = std::chrono::steady_clock::now() - t0;
  EXPECT_FALSE(overlap);
  EXPECT_EQ(a.stopped.load(), 1);  // a gave up after the renew deadline
  // b waits for the lease duration from the last renewal it saw (+ one retry period).
  EXPECT_LT(failover, std::chrono::milliseconds(1000 + 300));
}

TEST(LeaderElection, HungLeaderIsReplacedWithinTheLeaseDuration) {
  auto store = std::make_shared<local::Store>();
  Candidate a(store, "a"), b(store, "b");
  a_leads_then_b_campaigns(a, b, /*settle=*/true);
  if (HasFatalFailure()) return;
  auto t0 = std::chrono::steady_clock::now();
  a.client.mode = UnreliableClient::kHang;  // a's process is stuck in a call
  ASSERT_TRUE(eventually([&] { return b.leader(); }, std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000 + 300));
  a.client.mode = UnreliableClient::kOk;  // a wakes up: it must notice b holds the Lease
  ASSERT_TRUE(eventually([&] { return !a.leader(); }, std::chrono::seconds(3)));
  EXPECT_TRUE(b.leader());
  EXPECT_EQ(api::LeaseView(*lease(*store)).holder_identity(), "b");
}

// ---- On a FakeClock, with the default durations ----------------------------------------------

constexpr absl::Duration kRetry = absl::Seconds(2);

// Runs `c` and waits for its first attempt to end (it is asleep until the next one).
void run(Candidate& c) {
  ASSERT_TRUE(c.elector->run().ok());
  ASSERT_TRUE(eventually([&] { return c.elector->sleeps() >= 1; }, std::chrono::seconds(5)));
}

// Steps the clock by one retry period and waits until each of `awake` has made its attempt and
// gone back to sleep (or ended leading for good), so the next step cannot be missed.
void tick(workqueue::FakeClock& clock, std::vector<Candidate*> awake) {
  std::vector<uint64_t> sleeps;
  std::vector<int> stops;
  for (Candidate* c : awake) {
    sleeps.push_back(c->elector->sleeps());
    stops.push_back(c->stopped);
  }
  clock.step(kRetry);
  for (size_t i = 0; i < awake.size(); ++i) {
    ASSERT_TRUE(eventually(
        [&] { return awake[i]->elector->sleeps() > sleeps[i] || awake[i]->stopped > stops[i]; },
        std::chrono::seconds(5)))
        << "candidate " << awake[i]->elector->identity() << " did not finish its attempt";
  }
}

absl::Duration since(workqueue::FakeClock& clock, absl::Time t) {
  return clock.now() - t;
}

TEST(LeaderElectionFakeClock, HungLeaderIsReplacedWithinTheLeaseDurationOneLeaderAtATime) {
  workqueue::FakeClock clock;
  auto store = std::make_shared<local::Store>();
  Candidate a(store, "a", &clock), b(store, "b", &clock);
  run(a);
  ASSERT_TRUE(a.leader());
  run(b);
  for (int i = 0; i < 3; ++i) {
    tick(clock, {&a, &b});
    ASSERT_TRUE(a.leader());
    ASSERT_FALSE(b.leader());
  }
  // a hangs: from its next attempt on it is stuck in a call — no renewal, no release.
  a.client.mode = UnreliableClient::kHang;
  const auto last_renewal = clock.now();
  bool overlap = false;
  for (int i = 0; i < 12 && !b.leader(); ++i) {
    tick(clock, {&b});
    if (a.leader() && b.leader()) overlap = true;
    // a claims leadership only within its renew deadline.
    EXPECT_EQ(a.leader(), since(clock, last_renewal) < absl::Seconds(10))
        << "at " << absl::FormatDuration(since(clock, last_renewal)) << " after the last renewal";
  }
  ASSERT_TRUE(b.leader());
  EXPECT_FALSE(overlap);
  // Not before the lease duration (b cannot know a is gone), and within it plus the time b
  // needs to notice: at most one retry period to see the last renewal, one to try again.
  EXPECT_GE(since(clock, last_renewal), absl::Seconds(15));
  EXPECT_LE(since(clock, last_renewal), absl::Seconds(15) + 2 * kRetry);
  EXPECT_EQ(api::LeaseView(*lease(*store)).holder_identity(), "b");
  EXPECT_EQ(api::LeaseView(*lease(*store)).lease_transitions(), 1);
  EXPECT_EQ(a.stopped.load(), 0);  // a's thread is still stuck in its call
  // a's call returns: it sees b's Lease and steps down; b stays the leader.
  a.client.mode = UnreliableClient::kOk;
  ASSERT_TRUE(eventually([&] { return a.stopped == 1; }, std::chrono::seconds(5)));
  EXPECT_FALSE(a.leader());
  tick(clock, {&b});
  EXPECT_TRUE(b.leader());
}

TEST(LeaderElectionFakeClock, LeaderThatCannotRenewStepsDownAtTheRenewDeadline) {
  workqueue::FakeClock clock;
  auto store = std::make_shared<local::Store>();
  Candidate a(store, "a", &clock), b(store, "b", &clock);
  run(a);
  run(b);
  tick(clock, {&a, &b});
  a.client.mode = UnreliableClient::kFail;  // every call of a fails from now on
  const auto last_renewal = clock.now();
  std::optional<absl::Duration> a_down, b_up;
  bool overlap = false;
  for (int i = 0; i < 12 && !b_up; ++i) {
    std::vector<Candidate*> awake{&b};
    if (!a_down) awake.push_back(&a);
    tick(clock, awake);
    if (a.leader() && b.leader()) overlap = true;
    if (!a_down && a.stopped == 1) a_down = since(clock, last_renewal);
    if (!b_up && b.leader()) b_up = since(clock, last_renewal);
  }
  ASSERT_TRUE(a_down.has_value());
  ASSERT_TRUE(b_up.has_value());
  EXPECT_FALSE(overlap);
  // a gives up exactly at its renew deadline (its attempts come every 2 s: at 10 s).
  EXPECT_EQ(*a_down, absl::Seconds(10));
  EXPECT_EQ(a.started.load(), 1);
  EXPECT_GE(*b_up, absl::Seconds(15));
  EXPECT_LE(*b_up, absl::Seconds(15) + 2 * kRetry);
  // a did not release (it could not reach the API): b took over by expiry.
  EXPECT_EQ(api::LeaseView(*lease(*store)).holder_identity(), "b");
}

TEST(LeaderElectionFakeClock, StaleLeaseExpiresAfterTheLeaseDurationOnTheCandidatesClock) {
  workqueue::FakeClock clock;
  auto store = std::make_shared<local::Store>();
  {
    // A Lease left by a replica that died long ago: its old renewTime is not trusted (the
    // clocks of two machines differ); the candidate waits a full lease duration from now.
    local::LocalClient c(store);
    api::Object l("coordination.k8s.io/v1", "Lease");
    l.set_namespace("default");
    l.set_name("op-lock");
    ASSERT_TRUE(l.set_string("/spec/holderIdentity", "ghost").ok());
    ASSERT_TRUE(l.set_int("/spec/leaseDurationSeconds", 15).ok());
    ASSERT_TRUE(l.set_string("/spec/renewTime", "2001-01-01T00:00:00.000000Z").ok());
    ASSERT_TRUE(l.set_int("/spec/leaseTransitions", 4).ok());
    ASSERT_TRUE(c.create({"coordination.k8s.io", "v1", "leases", {}, "default", {}}, l).ok());
  }
  Candidate b(store, "b", &clock);
  const auto t0 = clock.now();
  run(b);
  while (since(clock, t0) < absl::Seconds(14)) {
    tick(clock, {&b});
    ASSERT_FALSE(b.leader()) << "took a valid Lease after "
                             << absl::FormatDuration(since(clock, t0));
  }
  tick(clock, {&b});  // 16 s: more than the 15 s lease duration since b first saw it
  EXPECT_TRUE(b.leader());
  api::LeaseView v(*lease(*store));
  EXPECT_EQ(v.holder_identity(), "b");
  EXPECT_EQ(v.lease_transitions(), 5);
  EXPECT_EQ(v.lease_duration_seconds(), 15);
}

TEST(LeaderElectionFakeClock, CampaignAfterLossLeadsAgainOnceTheLeaseIsFree) {
  workqueue::FakeClock clock;
  auto store = std::make_shared<local::Store>();
  Candidate a(store, "a", &clock, /*campaign_after_loss=*/true), b(store, "b", &clock);
  run(a);
  run(b);
  a.client.mode = UnreliableClient::kFail;
  for (int i = 0; i < 12 && !b.leader(); ++i) tick(clock, {&a, &b});
  ASSERT_TRUE(b.leader());
  EXPECT_EQ(a.stopped.load(), 1);
  a.client.mode = UnreliableClient::kOk;
  // b renews: a keeps campaigning without taking it.
  for (int i = 0; i < 10; ++i) {
    tick(clock, {&a, &b});
    ASSERT_FALSE(a.leader());
    ASSERT_TRUE(b.leader());
  }
  b.elector->stop();  // releases
  EXPECT_EQ(api::LeaseView(*lease(*store)).holder_identity(), "");
  tick(clock, {&a});
  EXPECT_TRUE(a.leader());
  EXPECT_EQ(a.started.load(), 2);  // a second term, with its callbacks
  EXPECT_EQ(a.stopped.load(), 1);
  EXPECT_EQ(api::LeaseView(*lease(*store)).holder_identity(), "a");
}

TEST(LeaderElection, ReleaseOnStopClearsTheHolderAsClientGoDoes) {
  auto store = std::make_shared<local::Store>();
  Candidate a(store, "a");
  ASSERT_TRUE(a.elector->run().ok());
  ASSERT_TRUE(eventually([&] { return a.leader(); }, std::chrono::seconds(5)));
  auto before = api::LeaseView(*lease(*store)).lease_transitions();
  absl::Time stop_time = absl::Now() - absl::Milliseconds(1);
  a.elector->stop();
  api::LeaseView v(*lease(*store));
  EXPECT_EQ(v.holder_identity().value_or("?"), "");
  EXPECT_EQ(v.lease_duration_seconds(), 1);
  EXPECT_EQ(v.lease_transitions(), before);
  ASSERT_TRUE(v.renew_time().has_value());
  ASSERT_TRUE(v.acquire_time().has_value());
  EXPECT_GE(*v.renew_time(), stop_time);
  EXPECT_EQ(*v.acquire_time(), *v.renew_time());
  EXPECT_FALSE(a.leader());
}

}  // namespace
}  // namespace kop::manager
