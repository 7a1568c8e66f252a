// The Website operator's tests, written with the test kit (kop/testing) as docs/testing.md
// shows:
//   - WebsiteOperator: the whole operator in-process, through the REST transport (kop::local's
//     HTTPS front): create a Website -> its ConfigMap, Deployment and Service appear (owned,
//     status Ready); update spec.content -> the ConfigMap follows; delete an owned object -> it
//     is recreated; delete the Website -> the finalizer runs (an Event) and the dependents are
//     garbage-collected;
//   - WebsiteReconcilerUnit: the reconciler called directly, without a controller: one call
//     makes the children, a second changes nothing;
//   - WebsiteFaults: an injected API failure makes a reconcile fail and be retried until the
//     children exist (kop::local only).
// With KOP_TEST_KUBECONFIG set, the first two run against that API server (start the real API
// server tool with --controller-manager: garbage collection is the controller-manager's job).
#include <gtest/gtest.h>
#include <kop/api/conditions.h>
#include <kop/testing/gtest.h>

#include "website_reconciler.h"

namespace website {
namespace {

using kop::testing::eventually;

const kop::api::GroupVersionKind kEvent{"", "v1", "Event"};

constexpr std::string_view kBlog = R"(
apiVersion: examples.kop.dev/v1alpha1
kind: Website
metadata: {name: blog}
spec: {content: "<h1>hello</h1>", replicas: 2}
)";

// OK once `name` of `gvk` exists in the test namespace.
absl::Status exists(kop::testing::Env& env, const kop::api::GroupVersionKind& gvk,
                    std::string_view name) {
  return env.get(gvk, name).status();
}

absl::Status gone(kop::testing::Env& env, const kop::api::GroupVersionKind& gvk,
                  std::string_view name) {
  auto o = env.get(gvk, name);
  if (o.ok()) return absl::FailedPreconditionError(std::string(name) + " still exists");
  return kop::client::is_not_found(o.status()) ? absl::OkStatus() : o.status();
}

class WebsiteOperator : public kop::testing::EnvTest {
 protected:
  kop::testing::EnvOptions env_options() override {
    return {.crd_files = {WEBSITE_CRD}, .http = true};
  }
  void SetUp() override {
    EnvTest::SetUp();
    if (HasFatalFailure()) return;
    events_ = std::make_unique<kop::record::Recorder>(
        env().client(), kop::record::RecorderOptions{.component = "website-operator"});
    KOP_ASSERT_OK(add_controller(
        env().manager(),
        std::make_shared<WebsiteReconciler>(env().client(), env().manager().cache(), *events_)));
    KOP_ASSERT_OK(env().run());
  }
  void TearDown() override {
    EnvTest::TearDown();  // stops the manager before the recorder goes
    events_.reset();
  }
  std::unique_ptr<kop::record::Recorder> events_;
};

TEST_F(WebsiteOperator, ReconcilesOwnedObjectsThroughTheirLifecycle) {
  auto& env = this->env();
  auto applied = env.apply(kBlog);
  KOP_ASSERT_OK(applied);
  const auto& site = applied->front();

  // Owned objects appear, controlled by the Website.
  KOP_ASSERT_OK(eventually("the ConfigMap, Deployment and Service exist", [&] {
    absl::Status s = exists(env, kConfigMap, "blog-content");
    s.Update(exists(env, kDeployment, "blog"));
    s.Update(exists(env, kService, "blog"));
    return s;
  }));
  auto cm = *env.get(kConfigMap, "blog-content");
  EXPECT_EQ(cm->get_string("/data/index.html"), "<h1>hello</h1>");
  ASSERT_TRUE(cm->controller_reference().has_value());
  EXPECT_EQ(cm->controller_reference()->uid, site->uid());
  EXPECT_EQ((*env.get(kDeployment, "blog"))->get_int("/spec/replicas"), 2);
  EXPECT_EQ((*env.get(kService, "blog"))->controller_reference()->kind, "Website");
  KOP_ASSERT_OK(eventually("the Website is Ready, observed and finalized", [&]() -> absl::Status {
    auto w = env.get(kWebsite, "blog");
    if (!w.ok()) return w.status();
    if (!kop::api::is_condition_true(**w, "Ready")) return absl::UnavailableError("not Ready");
    if (v1alpha1::Website(**w).status().observed_generation() != (*w)->generation()) {
      return absl::UnavailableError("observedGeneration behind");
    }
    if (!(*w)->has_finalizer(kFinalizer)) return absl::UnavailableError("no finalizer");
    return absl::OkStatus();
  }));

  // spec.content changes -> the ConfigMap follows.
  KOP_ASSERT_OK(env.apply(R"(
apiVersion: examples.kop.dev/v1alpha1
kind: Website
metadata: {name: blog}
spec: {content: "<h1>v2</h1>", replicas: 2}
)"));
  KOP_ASSERT_OK(eventually("the ConfigMap holds v2", [&]() -> absl::Status {
    auto c = env.get(kConfigMap, "blog-content");
    if (!c.ok()) return c.status();
    if ((*c)->get_string("/data/index.html") != "<h1>v2</h1>") {
      return absl::UnavailableError("index.html is still the old content");
    }
    return absl::OkStatus();
  }));

  // An owned object deleted -> recreated.
  std::string old_uid((*env.get(kService, "blog"))->uid());
  KOP_ASSERT_OK(env.remove(kService, "blog"));
  KOP_ASSERT_OK(eventually("the Service is recreated", [&]() -> absl::Status {
    auto s = env.get(kService, "blog");
    if (!s.ok()) return s.status();
    return (*s)->uid() != old_uid ? absl::OkStatus() : absl::UnavailableError("the old Service");
  }));

  // The Website deleted -> finalizer runs, then the dependents are collected.
  KOP_ASSERT_OK(env.remove(kWebsite, "blog"));
  KOP_ASSERT_OK(eventually("the Website is gone", [&] { return gone(env, kWebsite, "blog"); }));
  KOP_ASSERT_OK(eventually("the dependents are collected", [&] {
    absl::Status s = gone(env, kConfigMap, "blog-content");
    s.Update(gone(env, kDeployment, "blog"));
    s.Update(gone(env, kService, "blog"));
    return s;
  }));
  auto events = env.list(kEvent);
  KOP_ASSERT_OK(events);
  bool finalized = false;
  for (const auto& e : *events) finalized |= e->get_string("/reason") == "Finalized";
  EXPECT_TRUE(finalized);
}

// A reconciler is a function of the API's state: call it directly (no controller, no queue)
// once the manager's cache has the Website, then look at what it wrote.
class WebsiteReconcilerUnit : public kop::testing::EnvTest {
 protected:
  kop::testing::EnvOptions env_options() override { return {.crd_files = {WEBSITE_CRD}}; }
};

TEST_F(WebsiteReconcilerUnit, OneReconcileMakesTheChildrenAndASecondChangesNothing) {
  auto& env = this->env();
  kop::record::Recorder events(env.client(), {.component = "website-test"});
  WebsiteReconciler reconciler(env.client(), env.manager().cache(), events);
  KOP_ASSERT_OK(env.manager().cache().get_informer(kWebsite));
  KOP_ASSERT_OK(env.run());  // starts the cache (there is no controller)
  KOP_ASSERT_OK(env.apply(kBlog));
  KOP_ASSERT_OK(eventually("the cache has the Website", [&] {
    return env.manager().cache().get(kWebsite, env.namespace_(), "blog").status();
  }));

  kop::controller::Request req{env.namespace_(), "blog"};
  auto first = reconciler.reconcile({}, req);
  KOP_ASSERT_OK(first);
  auto cm = env.get(kConfigMap, "blog-content");
  KOP_ASSERT_OK(cm);
  EXPECT_EQ((*cm)->get_string("/data/index.html"), "<h1>hello</h1>");
  KOP_EXPECT_OK(exists(env, kDeployment, "blog"));
  KOP_EXPECT_OK(exists(env, kService, "blog"));

  // Nothing changed: a second reconcile writes nothing.
  std::string cm_version((*cm)->resource_version());
  KOP_ASSERT_OK(eventually("the cache has the finalizer", [&]() -> absl::Status {
    auto w = env.manager().cache().get(kWebsite, env.namespace_(), "blog");
    if (!w.ok()) return w.status();
    return (*w)->has_finalizer(kFinalizer) ? absl::OkStatus()
                                           : absl::UnavailableError("no finalizer yet");
  }));
  // (On a real server the Deployment controller writes the Deployment too: a Conflict there is
  // retried, as the controller's queue would.)
  KOP_ASSERT_OK(
      eventually("a second reconcile", [&] { return reconciler.reconcile({}, req).status(); }));
  EXPECT_EQ((*env.get(kConfigMap, "blog-content"))->resource_version(), cm_version);

  // A Website that does not exist: nothing to do, no error.
  KOP_EXPECT_OK(reconciler.reconcile({}, {env.namespace_(), "missing"}));
}

// Fault injection: the API refuses the first Service create with 500; the controller's retry
// (rate-limited, 5 ms first) makes the Service anyway, and the error is counted.
class WebsiteFaults : public WebsiteOperator {};

TEST_F(WebsiteFaults, AFailedWriteIsRetried) {
  auto& env = this->env();
  if (env.faults() == nullptr) GTEST_SKIP() << "a real API server has no fault injector";
  env.faults()->fail("create", 500, 1, "services");
  KOP_ASSERT_OK(env.apply(kBlog));
  KOP_ASSERT_OK(eventually("the Service exists", [&] { return exists(env, kService, "blog"); }));
  // The failure was counted (the retries may have met other errors, e.g. conflicts).
  std::string metrics = env.registry().expose();
  constexpr std::string_view kErrors =
      "controller_runtime_reconcile_errors_total{controller=\"website\"} ";
  auto at = metrics.find(kErrors);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_GE(std::stoi(metrics.substr(at + kErrors.size())), 1);
}

}  // namespace
}  // namespace website
