// Leader election with two candidates against one kop::local store: one leader at a time,
// failover when the leader stops (release) or hangs (lease expiry), and the Lease's fields.
#include "kop/manager/leader_election.h"

#include <absl/strings/match.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "kop/api/views.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"

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

  Candidate(std::shared_ptr<local::Store> store, std::string id) : client(std::move(store)) {
    LeaderElectionOptions o;
    o.lease_namespace = "default";
    o.lease_name = "op-lock";
    o.identity = std::move(id);
    o.lease_duration = absl::Milliseconds(1000);
    o.renew_deadline = absl::Milliseconds(600);
    o.retry_period = absl::Milliseconds(100);
    o.registry = &registry;
    elector = std::make_unique<LeaderElector>(
        client, o, LeaderCallbacks{[this] { ++started; }, [this] { ++stopped; }, nullptr});
  }
  bool leader() const { return elector->is_leader(); }
};

api::ObjectPtr lease(local::Store& store) {
  local::LocalClient c(std::shared_ptr<local::Store>(&store, [](local::Store*) {}));
  auto got = c.get({"coordination.k8s.io", "v1", "leases", {}, "default", "op-lock"});
  return got.ok() ? *got : nullptr;
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
  ASSERT_TRUE(a.elector->run().ok());
  ASSERT_TRUE(eventually([&] { return a.leader(); }, std::chrono::seconds(5)));
  ASSERT_TRUE(b.elector->run().ok());
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
  ASSERT_TRUE(a.elector->run().ok());
  ASSERT_TRUE(eventually([&] { return a.leader(); }, std::chrono::seconds(5)));
  ASSERT_TRUE(b.elector->run().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
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
  ASSERT_TRUE(a.elector->run().ok());
  ASSERT_TRUE(eventually([&] { return a.leader(); }, std::chrono::seconds(5)));
  ASSERT_TRUE(b.elector->run().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto t0 = std::chrono::steady_clock::now();
  a.client.mode = UnreliableClient::kHang;  // a's process is stuck in a call
  ASSERT_TRUE(eventually([&] { return b.leader(); }, std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000 + 300));
  a.client.mode = UnreliableClient::kOk;  // a wakes up: it must notice b holds the Lease
  ASSERT_TRUE(eventually([&] { return !a.leader(); }, std::chrono::seconds(3)));
  EXPECT_TRUE(b.leader());
  EXPECT_EQ(api::LeaseView(*lease(*store)).holder_identity(), "b");
}

}  // namespace
}  // namespace kop::manager
