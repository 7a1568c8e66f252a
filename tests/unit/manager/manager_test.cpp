// The Manager against kop::local: /readyz before and after the caches sync over real HTTP,
// /metrics and /healthz, graceful shutdown draining in-flight reconciles, and two managers
// with leader election where only the leader reconciles and the other takes over.
#include "kop/manager/manager.h"

#include <absl/strings/match.h>
#include <gtest/gtest.h>

#include <atomic>

#include "http_get.h"
#include "kop/controller/builder.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"

namespace kop::manager {
namespace {

using testing::http_get;

const api::GroupVersionKind kConfigMap{"", "v1", "ConfigMap"};
const api::GroupVersionKind kSecret{"", "v1", "Secret"};

bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

void create_cm(client::Client& c, std::string name) {
  api::Object o("v1", "ConfigMap");
  o.set_namespace("default");
  o.set_name(name);
  ASSERT_TRUE(c.create(client::ResourceRef::of(kConfigMap, "default"), o).ok());
}

std::unique_ptr<controller::Controller> counting_controller(Manager& m, std::function<void()> body,
                                                            std::string name = "cm") {
  controller::ControllerOptions o{.name = name};
  o.registry = &m.registry();
  auto c = controller::Builder(m.cache())
               .for_(kConfigMap)
               .with_options(o)
               .build(std::make_shared<controller::ReconcilerFunc>(
                   [body](const controller::Context&,
                          const controller::Request&) -> absl::StatusOr<controller::Result> {
                     body();
                     return controller::Result{};
                   }));
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

TEST(Manager, ReadyzFailsUntilTheCachesSyncAndServesMetrics) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  metrics::Registry registry;
  store->faults().fail("list", 500, -1, "secrets");  // the Secret informer cannot sync yet
  ManagerOptions o{.metrics_address = "127.0.0.1:0", .registry = &registry};
  Manager m(client, o);
  ASSERT_TRUE(m.cache().get_informer(kSecret).ok());
  m.add_controller(counting_controller(m, [] {}));
  ASSERT_TRUE(m.start().ok());
  ASSERT_NE(m.metrics_port(), 0);
  auto [code, body] = http_get(m.health_port(), "/readyz");
  EXPECT_EQ(code, 500) << body;
  EXPECT_TRUE(absl::StrContains(body, "[-]informer-sync failed")) << body;
  EXPECT_TRUE(absl::StrContains(body, "Secret")) << body;
  auto [hcode, hbody] = http_get(m.health_port(), "/healthz");
  EXPECT_EQ(hcode, 200);
  EXPECT_EQ(hbody, "ok");
  store->faults().clear();
  ASSERT_TRUE(eventually([&] { return http_get(m.health_port(), "/readyz").first == 200; }));
  auto [vcode, vbody] = http_get(m.health_port(), "/readyz?verbose");
  EXPECT_EQ(vcode, 200);
  EXPECT_TRUE(absl::StrContains(vbody, "[+]informer-sync ok")) << vbody;
  auto [mcode, mbody] = http_get(m.metrics_port(), "/metrics");
  EXPECT_EQ(mcode, 200);
  EXPECT_TRUE(absl::StrContains(
      mbody, "controller_runtime_max_concurrent_reconciles{controller=\"cm\"} 1"));
  EXPECT_EQ(http_get(m.metrics_port(), "/nope").first, 404);
  EXPECT_TRUE(m.stop().ok());
}

TEST(Manager, GracefulShutdownDrainsInFlightReconciles) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  metrics::Registry registry;
  Manager m(client, {.registry = &registry});
  std::atomic<int> started{0}, finished{0};
  m.add_controller(counting_controller(m, [&] {
    ++started;
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    ++finished;
  }));
  create_cm(client, "a");
  ASSERT_TRUE(m.start().ok());
  ASSERT_TRUE(eventually([&] { return started == 1; }));
  EXPECT_TRUE(m.stop().ok());
  EXPECT_EQ(finished.load(), 1);
  EXPECT_TRUE(m.wait().ok());  // returns at once after stop()
}

TEST(Manager, ShutdownTimeoutIsReported) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  metrics::Registry registry;
  Manager m(client, {.graceful_shutdown_timeout = absl::Milliseconds(50), .registry = &registry});
  std::atomic<int> started{0};
  m.add_controller(counting_controller(m, [&] {
    ++started;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }));
  create_cm(client, "a");
  ASSERT_TRUE(m.start().ok());
  ASSERT_TRUE(eventually([&] { return started == 1; }));
  EXPECT_EQ(m.stop().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(Manager, OnlyTheLeaderReconcilesAndTheOtherTakesOver) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  create_cm(client, "a");
  auto options = [](metrics::Registry* r, std::string id) {
    ManagerOptions o{.leader_election = true, .leader_election_id = "test-op", .registry = r};
    o.leader_election_options.identity = std::move(id);
    o.leader_election_options.lease_duration = absl::Milliseconds(1000);
    o.leader_election_options.renew_deadline = absl::Milliseconds(600);
    o.leader_election_options.retry_period = absl::Milliseconds(100);
    return o;
  };
  metrics::Registry r1, r2;
  std::atomic<int> calls1{0}, calls2{0};
  auto m1 = std::make_unique<Manager>(client, options(&r1, "one"));
  m1->add_controller(counting_controller(*m1, [&] { ++calls1; }));
  ASSERT_TRUE(m1->start().ok());
  ASSERT_TRUE(eventually([&] { return calls1 == 1; }));
  Manager m2(client, options(&r2, "two"));
  m2.add_controller(counting_controller(m2, [&] { ++calls2; }));
  ASSERT_TRUE(m2.start().ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_FALSE(m1->is_leader() && m2.is_leader());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(calls2.load(), 0);  // not the leader: its controller does not run
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(m1->stop().ok());
  m1.reset();
  ASSERT_TRUE(eventually([&] { return calls2 == 1; }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000));
  EXPECT_TRUE(m2.is_leader());
  EXPECT_TRUE(m2.stop().ok());
}

TEST(Manager, LosingTheLeaseStopsLeaderWorkAndEndsWait) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  metrics::Registry r;
  ManagerOptions o{.leader_election = true, .leader_election_id = "lost", .registry = &r};
  o.leader_election_options.identity = "me";
  o.leader_election_options.lease_duration = absl::Milliseconds(1000);
  o.leader_election_options.renew_deadline = absl::Milliseconds(600);
  o.leader_election_options.retry_period = absl::Milliseconds(100);
  Manager m(client, o);
  ASSERT_TRUE(m.start().ok());
  ASSERT_TRUE(eventually([&] { return m.is_leader(); }));
  // Someone else takes the Lease (an admin, or a partition healed on the other side).
  client::ResourceRef ref{"coordination.k8s.io", "v1", "leases", {}, "default", "lost"};
  ASSERT_TRUE(client
                  .patch(ref, client::PatchType::kJsonMerge,
                         R"({"spec":{"holderIdentity":"intruder","leaseDurationSeconds":60}})")
                  .ok());
  absl::Status s = m.wait();
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_FALSE(m.is_leader());
  m.stop().IgnoreError();
}

}  // namespace
}  // namespace kop::manager
