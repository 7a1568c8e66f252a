// The test kit itself: eventually()/wait_for() messages, an Env in-process and over HTTPS
// (apply, get, CRDs, the test namespace), a controller built on the Env's manager reconciling
// in it with its metrics on the Env's registry, the fake clock driving a requeue, and an
// injected fault reaching the caller as "Reason: message". With KOP_TEST_KUBECONFIG set, the
// same tests run against that API server (the fault test skips: a real server has no injector).
#include <absl/strings/match.h>
#include <gmock/gmock.h>
#include <kop/controller/builder.h>
#include <kop/manager/helpers.h>
#include <kop/testing/gtest.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>

namespace {

using ::testing::HasSubstr;
using namespace std::string_literals;

const kop::api::GroupVersionKind kConfigMap{"", "v1", "ConfigMap"};
const kop::api::GroupVersionKind kWidget{"kit.kop.dev", "v1", "Widget"};

constexpr std::string_view kWidgetCrd = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.kit.kop.dev}
spec:
  group: kit.kop.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
)";

TEST(Wait, EventuallyReturnsAtOnceWhenTheCheckPasses) {
  int calls = 0;
  KOP_EXPECT_OK(kop::testing::eventually("nothing", [&] {
    ++calls;
    return absl::OkStatus();
  }));
  EXPECT_EQ(calls, 1);
}

TEST(Wait, ATimeoutSaysWhatWasAwaitedAndTheLastError) {
  int calls = 0;
  absl::Status s = kop::testing::eventually(
      "the copy exists",
      [&] {
        ++calls;
        return absl::NotFoundError("check " + std::to_string(calls));
      },
      {.timeout = absl::Milliseconds(50), .interval = absl::Milliseconds(5)});
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(s.message()), HasSubstr("for \"the copy exists\""));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("last check: NOT_FOUND: check " + std::to_string(calls)));
  EXPECT_GE(calls, 2);
  absl::Status f =
      kop::testing::wait_for("a flag", [] { return false; }, {.timeout = absl::Milliseconds(20)});
  EXPECT_THAT(std::string(f.message()), HasSubstr("for \"a flag\""));
}

TEST(Wait, KopTestTimeoutScaleStretchesTimeouts) {
  // The value the run was started with comes back at the end (a sanitizer build may set it).
  const char* outer = std::getenv("KOP_TEST_TIMEOUT_SCALE");
  std::optional<std::string> saved;
  if (outer != nullptr) saved = outer;
  ASSERT_EQ(setenv("KOP_TEST_TIMEOUT_SCALE", "3", 1), 0);
  EXPECT_EQ(kop::testing::scaled(absl::Seconds(10)), absl::Seconds(30));
  ASSERT_EQ(setenv("KOP_TEST_TIMEOUT_SCALE", "nonsense", 1), 0);
  EXPECT_EQ(kop::testing::scaled(absl::Seconds(10)), absl::Seconds(10));
  ASSERT_EQ(unsetenv("KOP_TEST_TIMEOUT_SCALE"), 0);
  EXPECT_EQ(kop::testing::scaled(absl::Seconds(10)), absl::Seconds(10));
  if (saved) setenv("KOP_TEST_TIMEOUT_SCALE", saved->c_str(), 1);
}

class EnvKit : public kop::testing::EnvTest, public ::testing::WithParamInterface<bool> {
 protected:
  kop::testing::EnvOptions env_options() override {
    return {.crds_yaml = std::string(kWidgetCrd), .http = GetParam()};
  }
};

TEST_P(EnvKit, AppliesYamlIntoTheTestNamespaceAndReadsItBack) {
  auto& env = this->env();
  EXPECT_TRUE(absl::StartsWith(env.namespace_(), "kop-test-")) << env.namespace_();
  auto applied = env.apply(R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
---
apiVersion: kit.kop.dev/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
---
apiVersion: v1
kind: Namespace
metadata: {name: kit-applied}
)");
  KOP_ASSERT_OK(applied);
  ASSERT_EQ(applied->size(), 3u);
  // A cluster-scoped object stays cluster-scoped.
  EXPECT_EQ((*applied)[2]->namespace_(), "");
  KOP_EXPECT_OK(env.cluster_get({"", "v1", "Namespace"}, "kit-applied"));
  if (env.real_server()) {
    KOP_EXPECT_OK(env.client().remove(kop::client::ResourceRef::of(
        kop::api::GroupVersionKind{"", "v1", "Namespace"}, "", "kit-applied")));
  }
  EXPECT_EQ((*applied)[0]->namespace_(), env.namespace_());
  auto cm = env.get(kConfigMap, "settings");
  KOP_ASSERT_OK(cm);
  EXPECT_EQ((*cm)->get_string("/data/mode"), "fast");
  auto w = env.get(kWidget, "w1");
  KOP_ASSERT_OK(w);
  EXPECT_EQ((*w)->get_int("/spec/size"), 3);

  // Applying again changes the object in place (server-side apply).
  KOP_ASSERT_OK(
      env.apply("{apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, "
                "data: {mode: slow}}"));
  EXPECT_EQ((*env.get(kConfigMap, "settings"))->get_string("/data/mode"), "slow");
  auto listed = env.list(kConfigMap);
  KOP_ASSERT_OK(listed);
  EXPECT_FALSE(listed->empty());

  // An error names the object and reads "Reason: message".
  auto missing = env.get(kConfigMap, "nope");
  EXPECT_TRUE(kop::client::is_not_found(missing.status()));
  auto bad = env.apply("{apiVersion: v1, kind: ConfigMap, metadata: {name: Bad_Name}}");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("apply ConfigMap Bad_Name: Invalid:"));
  KOP_EXPECT_OK(env.remove(kConfigMap, "settings"));
  KOP_EXPECT_OK(kop::testing::eventually("settings is gone", [&]() -> absl::Status {
    auto g = env.get(kConfigMap, "settings");
    if (g.ok()) return absl::FailedPreconditionError("still there");
    return kop::client::is_not_found(g.status()) ? absl::OkStatus() : g.status();
  }));
}

// A reconciler copying each ConfigMap "x" (without label copy) to "x-copy".
absl::StatusOr<kop::controller::Result> mirror(kop::Client& client, const std::string& ns,
                                               const kop::controller::Request& req) {
  auto src = client.get(kop::client::ResourceRef::of(kConfigMap, req.namespace_, req.name));
  if (kop::client::is_not_found(src.status())) return kop::controller::Result{};
  if (!src.ok()) return src.status();
  if ((*src)->has_label("copy")) return kop::controller::Result{};
  kop::Object copy(kConfigMap);
  copy.set_namespace(ns);
  copy.set_name(req.name + "-copy");
  auto r = kop::manager::create_or_update(client, copy, [&](kop::Object& o) {
    o.set_label("copy", "true");
    const auto* data = (*src)->at("/data");
    return data != nullptr ? o.set("/data", *data) : absl::OkStatus();
  });
  if (!r.ok()) return r.status();
  return kop::controller::Result{};
}

TEST_P(EnvKit, RunsAControllerBuiltOnItsManager) {
  auto& env = this->env();
  std::string ns = env.namespace_();
  KOP_ASSERT_OK(
      kop::controller::Builder(env.manager())
          .for_(kConfigMap)
          .complete(std::make_shared<kop::controller::ReconcilerFunc>(
              [&env, ns](const kop::controller::Context&, const kop::controller::Request& req) {
                return mirror(env.client(), ns, req);
              })));
  KOP_ASSERT_OK(env.run());
  KOP_ASSERT_OK(
      env.apply("{apiVersion: v1, kind: ConfigMap, metadata: {name: src}, "
                "data: {k: v}}"));
  KOP_ASSERT_OK(kop::testing::eventually("src-copy has data.k = v", [&]() -> absl::Status {
    auto c = env.get(kConfigMap, "src-copy");
    if (!c.ok()) return c.status();
    if ((*c)->get_string("/data/k") != "v") return absl::NotFoundError("data.k is not v yet");
    return absl::OkStatus();
  }));
  // The controller's metrics are on the Env's private registry.
  EXPECT_THAT(env.registry().expose(),
              HasSubstr("controller_runtime_reconcile_total{controller=\"configmap\""));
}

INSTANTIATE_TEST_SUITE_P(InProcessAndHttps, EnvKit, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Https"s : "InProcess"s; });

class FakeClockKit : public kop::testing::EnvTest {
 protected:
  kop::testing::EnvOptions env_options() override { return {.fake_clock = true}; }
  // What the reconciler touches lives in the fixture: TearDown stops the manager after the test
  // body's locals are gone, and a requeue may still fire until then.
  std::atomic<int> reconciles{0};
};

// requeue_after is measured on the fake clock: the second reconcile comes when the test moves
// time by the hour asked for, without waiting an hour.
TEST_F(FakeClockKit, RequeueAfterFollowsTheFakeClock) {
  auto& env = this->env();
  ASSERT_NE(env.fake_clock(), nullptr);
  // No clock named: Builder(manager) takes the Env's fake clock from the manager.
  KOP_ASSERT_OK(
      kop::controller::Builder(env.manager())
          .for_(kConfigMap)
          .complete(std::make_shared<kop::controller::ReconcilerFunc>(
              [&](const kop::controller::Context&,
                  const kop::controller::Request& req) -> absl::StatusOr<kop::controller::Result> {
                if (req.name != "tick") return kop::controller::Result{};
                ++reconciles;
                return kop::controller::Result{.requeue_after = absl::Hours(1)};
              })));
  KOP_ASSERT_OK(env.run());
  KOP_ASSERT_OK(env.apply("{apiVersion: v1, kind: ConfigMap, metadata: {name: tick}}"));
  KOP_ASSERT_OK(kop::testing::wait_for("the first reconcile", [&] { return reconciles >= 1; }));
  EXPECT_EQ(reconciles.load(), 1);
  // Each check moves time by an hour, so the requeue fires whichever check comes after the
  // queue registered it.
  KOP_ASSERT_OK(kop::testing::wait_for("a reconcile an hour later", [&] {
    env.fake_clock()->step(absl::Hours(1));
    return reconciles >= 2;
  }));
}

TEST(FaultKit, AnInjectedFaultReachesTheCallerReadably) {
  auto env = kop::testing::Env::start();
  KOP_ASSERT_OK(env);
  if ((*env)->faults() == nullptr) GTEST_SKIP() << "a real API server has no fault injector";
  (*env)->faults()->fail("patch", 500, 1, "configmaps");
  auto r = (*env)->apply("{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(kop::client::is_internal(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("apply ConfigMap a: InternalError:"));
  KOP_EXPECT_OK((*env)->apply("{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}"));
}

}  // namespace
