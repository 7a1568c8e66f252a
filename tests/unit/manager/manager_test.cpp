// The Manager against kop::local: /readyz before and after the caches sync over real HTTP,
// /metrics and /healthz, graceful shutdown draining in-flight reconciles, wait() returning a
// controller's cache-sync error, and two managers with leader election where only the leader
// reconciles, the other takes over, and (without exit_on_lost_lease) the one that lost the
// Lease campaigns again and restarts its leader-only work.
#include "kop/manager/manager.h"

#include <absl/strings/match.h>
#include <gtest/gtest.h>

#include <atomic>

#include "../cache/optional_kind_util.h"
#include "http_get.h"
#include "kop/client/errors.h"
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

void create_cm(client::Client& c, const std::string& name) {
  api::Object o("v1", "ConfigMap");
  o.set_namespace("default");
  o.set_name(name);
  ASSERT_TRUE(c.create(client::ResourceRef::of(kConfigMap, "default"), o).ok());
}

std::unique_ptr<controller::Controller> counting_controller(Manager& m,
                                                            const std::function<void()>& body,
                                                            std::string name = "cm") {
  controller::ControllerOptions o{.name = std::move(name)};
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

// Leader election on Lease default/`lease` as `id`, with short durations (1 s lease, 600 ms
// renew deadline, 100 ms retry) so that failover happens within a test.
ManagerOptions elected(metrics::Registry* r, std::string lease, std::string id) {
  ManagerOptions o{.leader_election = true, .leader_election_id = std::move(lease), .registry = r};
  o.leader_election_options.identity = std::move(id);
  o.leader_election_options.lease_duration = absl::Milliseconds(1000);
  o.leader_election_options.renew_deadline = absl::Milliseconds(600);
  o.leader_election_options.retry_period = absl::Milliseconds(100);
  return o;
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

// Builder(manager): the controller uses the manager's cache and registry (no registry passed)
// and complete() registers it, so it runs with the manager and its metrics are on /metrics.
TEST(Manager, BuilderFromTheManagerRegistersTheControllerAndItsMetrics) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  metrics::Registry registry;
  Manager m(client, {.metrics_address = "127.0.0.1:0", .registry = &registry});
  std::atomic<int> reconciles{0};
  auto done = controller::Builder(m)
                  .for_(kConfigMap)
                  .complete(std::make_shared<controller::ReconcilerFunc>(
                      [&](const controller::Context&,
                          const controller::Request&) -> absl::StatusOr<controller::Result> {
                        ++reconciles;
                        return controller::Result{};
                      }));
  ASSERT_TRUE(done.ok()) << done;
  create_cm(client, "a");
  ASSERT_TRUE(m.start().ok());
  ASSERT_TRUE(eventually([&] { return reconciles.load() >= 1; }));
  auto [code, body] = http_get(m.metrics_port(), "/metrics");
  EXPECT_EQ(code, 200);
  EXPECT_TRUE(absl::StrContains(
      body, "controller_runtime_reconcile_total{controller=\"configmap\",result=\"success\"} 1"))
      << body;
  EXPECT_TRUE(m.stop().ok());
  // A Builder made from a cache has no manager to register with.
  EXPECT_EQ(controller::Builder(m.cache())
                .for_(kConfigMap)
                .complete(std::make_shared<controller::ReconcilerFunc>(
                    [](const controller::Context&, const controller::Request&)
                        -> absl::StatusOr<controller::Result> { return controller::Result{}; }))
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(Manager, ReadyzDoesNotWaitForAnOptionalKindThatIsNotServed) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  metrics::Registry registry;
  const api::GroupVersionKind widget{"example.com", "v1", "Widget"};
  ManagerOptions o{.metrics_address = "127.0.0.1:0", .registry = &registry};
  o.cache.by_object[widget].optional = true;
  o.cache.by_object[widget].resource = "widgets";
  Manager m(client, o);
  controller::ControllerOptions co{.name = "widgets", .registry = &registry};
  auto c = controller::Builder(m.cache()).for_(widget).with_options(co).build(
      std::make_shared<controller::ReconcilerFunc>(
          [](const controller::Context&, const controller::Request&)
              -> absl::StatusOr<controller::Result> { return controller::Result{}; }));
  ASSERT_TRUE(c.ok()) << c.status();
  m.add_controller(std::move(*c));
  ASSERT_TRUE(m.start().ok());
  // No CRD: ready at once (before optional kinds, the Widget informer never synced).
  ASSERT_TRUE(eventually([&] { return http_get(m.health_port(), "/readyz").first == 200; },
                         std::chrono::seconds(5)));

  // Once served, the kind counts: its informer failing to list holds readiness up.
  store->faults().fail("list", 500, -1, "widgets");
  ASSERT_TRUE(client.create(cache::testing::kCrds, cache::testing::widget_crd()).ok());
  ASSERT_TRUE(eventually([&] {
    auto [code, body] = http_get(m.health_port(), "/readyz");
    return code == 500 && absl::StrContains(body, "Widget");
  }));
  store->faults().clear();
  EXPECT_TRUE(eventually([&] { return http_get(m.health_port(), "/readyz").first == 200; }));
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
    return elected(r, "test-op", std::move(id));
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
  Manager m(client, elected(&r, "lost", "me"));
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

// A client whose role may not list Secrets (403 Forbidden, as an RBAC rule missing).
class NoSecretsClient : public local::LocalClient {
 public:
  using LocalClient::LocalClient;
  absl::StatusOr<client::ObjectList> list(const client::ResourceRef& r,
                                          const client::ListOptions& o) override {
    if (r.resource == "secrets" || r.kind == "Secret") {
      return client::forbidden("", "secrets", "",
                               "User \"system:serviceaccount:default:op\" cannot list resource "
                               "\"secrets\" in API group \"\" at the cluster scope");
    }
    return LocalClient::list(r, o);
  }
};

TEST(Manager, WaitReturnsACacheSyncErrorNamingTheKindAndTheVerb) {
  auto store = std::make_shared<local::Store>();
  NoSecretsClient client(store);
  metrics::Registry registry;
  Manager m(client, {.registry = &registry});
  controller::ControllerOptions o{.name = "secret-watcher",
                                  .cache_sync_timeout = absl::Milliseconds(300)};
  o.registry = &registry;
  auto c = controller::Builder(m.cache()).for_(kSecret).with_options(o).build(
      std::make_shared<controller::ReconcilerFunc>(
          [](const controller::Context&,
             const controller::Request&) -> absl::StatusOr<controller::Result> {
            ADD_FAILURE() << "reconciled without a synced cache";
            return controller::Result{};
          }));
  ASSERT_TRUE(c.ok()) << c.status();
  m.add_controller(std::move(*c));
  ASSERT_TRUE(m.start().ok());
  auto t0 = absl::Now();
  absl::Status s = m.wait();  // ends on the error, without stop()
  EXPECT_LT(absl::Now() - t0, absl::Seconds(10));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "secret-watcher")) << s;  // the controller
  EXPECT_TRUE(absl::StrContains(s.message(), "Kind=Secret")) << s;     // the kind
  EXPECT_TRUE(absl::StrContains(s.message(), "list ")) << s;           // the verb
  EXPECT_TRUE(absl::StrContains(s.message(), "forbidden")) << s;       // and why
  EXPECT_TRUE(m.stop().ok());
  EXPECT_EQ(m.wait().code(), absl::StatusCode::kDeadlineExceeded);  // still the error after stop
}

TEST(Manager, ALeaderOnlyRunnableThatFailsToStartEndsWaitWithItsError) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  metrics::Registry registry;
  Manager m(client, {.registry = &registry});
  m.add_runnable(
      "webhook-certs", [] { return absl::UnavailableError("no certificate yet"); },
      [](absl::Duration) { return absl::OkStatus(); }, true);
  ASSERT_TRUE(m.start().ok());
  absl::Status s = m.wait();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "webhook-certs: no certificate yet")) << s;
  m.stop().IgnoreError();
}

// Forwards to a LocalClient; while `block_leases` is set, Lease calls fail (this replica is cut
// off from the API for leader election, while its cache keeps working).
class LeaseGateClient : public local::LocalClient {
 public:
  using LocalClient::LocalClient;
  std::atomic<bool> block_leases{false};
  absl::StatusOr<api::ObjectPtr> get(const client::ResourceRef& r,
                                     const client::GetOptions& o) override {
    if (blocked(r)) return absl::UnavailableError("lease calls blocked");
    return LocalClient::get(r, o);
  }
  absl::StatusOr<api::ObjectPtr> update(const client::ResourceRef& r, const api::Object& obj,
                                        const client::UpdateOptions& o) override {
    if (blocked(r)) return absl::UnavailableError("lease calls blocked");
    return LocalClient::update(r, obj, o);
  }
  absl::StatusOr<api::ObjectPtr> create(const client::ResourceRef& r, const api::Object& obj,
                                        const client::CreateOptions& o) override {
    if (blocked(r)) return absl::UnavailableError("lease calls blocked");
    return LocalClient::create(r, obj, o);
  }

 private:
  bool blocked(const client::ResourceRef& r) const {
    return block_leases && r.group == "coordination.k8s.io";
  }
};

TEST(Manager, WithoutExitOnLostLeaseItCampaignsAgainAndRestartsLeaderWork) {
  auto store = std::make_shared<local::Store>();
  LeaseGateClient client1(store);
  local::LocalClient client2(store);
  create_cm(client2, "a");
  auto options = [](metrics::Registry* r, std::string id) {
    ManagerOptions o = elected(r, "rejoin", std::move(id));
    o.exit_on_lost_lease = false;
    return o;
  };
  metrics::Registry r1, r2;
  std::atomic<int> calls1{0}, calls2{0}, task_starts{0}, task_stops{0};
  Manager m1(client1, options(&r1, "one"));
  m1.add_controller(counting_controller(m1, [&] { ++calls1; }));
  m1.add_runnable(
      "leader-task",
      [&] {
        ++task_starts;
        return absl::OkStatus();
      },
      [&](absl::Duration) {
        ++task_stops;
        return absl::OkStatus();
      },
      true);
  ASSERT_TRUE(m1.start().ok());
  ASSERT_TRUE(eventually([&] { return calls1 == 1 && m1.is_leader(); }));
  std::atomic<bool> wait_returned{false};
  absl::Status wait_status;
  std::thread waiter([&] {
    wait_status = m1.wait();
    wait_returned = true;
  });
  Manager m2(client2, options(&r2, "two"));
  m2.add_controller(counting_controller(m2, [&] { ++calls2; }));
  ASSERT_TRUE(m2.start().ok());

  // m1 can no longer renew: it loses the Lease, m2 takes over; never both at once.
  client1.block_leases = true;
  bool overlap = false;
  ASSERT_TRUE(eventually([&] {
    if (m1.is_leader() && m2.is_leader()) overlap = true;
    return m2.is_leader() && calls2 >= 1;
  }));
  EXPECT_FALSE(overlap);
  ASSERT_TRUE(eventually([&] { return task_stops == 1; }));  // m1's leader-only work stopped
  EXPECT_FALSE(wait_returned.load());                        // but m1 keeps running
  EXPECT_EQ(m1.readyz().status, 200);                        // its cache included
  // Changes are reconciled by the new leader only.
  int calls1_after_loss = calls1;
  client2
      .patch(client::ResourceRef::of(kConfigMap, "default", "a"), client::PatchType::kJsonMerge,
             R"({"metadata":{"annotations":{"x":"1"}}})")
      .IgnoreError();
  ASSERT_TRUE(eventually([&] { return calls2 >= 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(calls1.load(), calls1_after_loss);

  // m1 reaches the API again; while m2 renews, m1 only waits.
  client1.block_leases = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(m1.is_leader());
  EXPECT_EQ(task_starts.load(), 1);
  // m2 goes away (releasing the Lease): m1 wins again and restarts its leader-only work,
  // reconciling every object again.
  ASSERT_TRUE(m2.stop().ok());
  ASSERT_TRUE(eventually([&] { return m1.is_leader() && calls1 > calls1_after_loss; }));
  EXPECT_EQ(task_starts.load(), 2);
  EXPECT_FALSE(wait_returned.load());
  // And it reconciles new changes.
  int before = calls1;
  create_cm(client2, "b");
  ASSERT_TRUE(eventually([&] { return calls1 > before; }));
  EXPECT_TRUE(m1.stop().ok());
  waiter.join();
  EXPECT_TRUE(wait_status.ok()) << wait_status;
  EXPECT_EQ(task_stops.load(), 2);
}

}  // namespace
}  // namespace kop::manager
