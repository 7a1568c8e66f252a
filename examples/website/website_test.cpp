// The Website operator end to end through the REST transport: kop::local's HTTP front on
// 127.0.0.1 (port 0, HTTPS), a RestClient from the front's kubeconfig, a Manager running the
// Website controller. Create a Website -> its ConfigMap, Deployment and Service appear (owned,
// status Ready); update spec.content -> the ConfigMap follows; delete an owned object -> it is
// recreated; delete the Website -> the finalizer runs (an Event) and the dependents are
// garbage-collected.
#include <gtest/gtest.h>
#include <kop/api/conditions.h>
#include <kop/api/yaml.h>
#include <kop/client/config.h>
#include <kop/client/errors.h>
#include <kop/client/rest_client.h>
#include <kop/local/http_front.h>
#include <kop/local/local_client.h>
#include <kop/local/store.h>
#include <kop/manager/manager.h>

#include <chrono>
#include <thread>

#include "website_reconciler.h"

namespace website {
namespace {

bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class WebsiteOperator : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(front_.start().ok());
    auto crd = kop::api::load_manifest_file(WEBSITE_CRD);
    ASSERT_TRUE(crd.ok()) << crd.status();
    ASSERT_EQ(crd->size(), 1u);
    ASSERT_TRUE(local_.create(kop::client::ResourceRef::of((*crd)[0]), (*crd)[0]).ok());
    auto config = kop::client::parse_kubeconfig(front_.kubeconfig(), "test-kubeconfig");
    ASSERT_TRUE(config.ok()) << config.status();
    config->qps = 0;  // no client-side throttling in the test
    auto rest = kop::client::RestClient::create(*config);
    ASSERT_TRUE(rest.ok()) << rest.status();
    rest_ = *rest;
    mgr_ = std::make_unique<kop::manager::Manager>(
        *rest_,
        kop::manager::ManagerOptions{.metrics_address = "127.0.0.1:0", .registry = &registry_});
    events_ = std::make_unique<kop::record::Recorder>(
        *rest_, kop::record::RecorderOptions{.component = "website-operator"});
    auto c = build_controller(mgr_->cache(),
                              std::make_shared<WebsiteReconciler>(*rest_, mgr_->cache(), *events_),
                              &registry_);
    ASSERT_TRUE(c.ok()) << c.status();
    mgr_->add_controller(std::move(*c));
    ASSERT_TRUE(mgr_->start().ok());
  }
  void TearDown() override {
    if (mgr_) {
      EXPECT_TRUE(mgr_->stop().ok());
    }
  }

  kop::ObjectPtr get(const kop::api::GroupVersionKind& gvk, std::string name) {
    auto r = local_.get(kop::client::ResourceRef::of(gvk, "default", name));
    return r.ok() ? *r : nullptr;
  }

  std::shared_ptr<kop::local::Store> store_ = std::make_shared<kop::local::Store>();
  kop::local::LocalClient local_{store_};
  kop::local::HttpFront front_{store_};
  std::shared_ptr<kop::client::RestClient> rest_;
  kop::metrics::Registry registry_;
  std::unique_ptr<kop::manager::Manager> mgr_;
  std::unique_ptr<kop::record::Recorder> events_;
};

TEST_F(WebsiteOperator, ReconcilesOwnedObjectsThroughTheirLifecycle) {
  auto site = kop::api::Object::parse(R"({"apiVersion":"examples.kop.dev/v1alpha1",
      "kind":"Website","metadata":{"name":"blog","namespace":"default"},
      "spec":{"content":"<h1>hello</h1>","replicas":2}})");
  ASSERT_TRUE(site.ok());
  auto created = rest_->create(kop::client::ResourceRef::of(*site), *site);
  ASSERT_TRUE(created.ok()) << created.status();

  // Owned objects appear, controlled by the Website.
  ASSERT_TRUE(eventually([&] {
    return get(kConfigMap, "blog-content") && get(kDeployment, "blog") && get(kService, "blog");
  }));
  auto cm = get(kConfigMap, "blog-content");
  EXPECT_EQ(cm->get_string("/data/index.html"), "<h1>hello</h1>");
  ASSERT_TRUE(cm->controller_reference().has_value());
  EXPECT_EQ(cm->controller_reference()->uid, (*created)->uid());
  EXPECT_EQ(get(kDeployment, "blog")->get_int("/spec/replicas"), 2);
  EXPECT_EQ(get(kService, "blog")->controller_reference()->kind, "Website");
  ASSERT_TRUE(eventually([&] {
    auto w = get(kWebsite, "blog");
    return w && kop::api::is_condition_true(*w, "Ready") &&
           w->get_int("/status/observedGeneration") == w->generation() &&
           w->has_finalizer(kFinalizer);
  }));

  // spec.content changes -> the ConfigMap follows.
  ASSERT_TRUE(rest_
                  ->patch(kop::client::ResourceRef::of(kWebsite, "default", "blog"),
                          kop::client::PatchType::kJsonMerge,
                          R"({"spec":{"content":"<h1>v2</h1>"}})")
                  .ok());
  ASSERT_TRUE(eventually([&] {
    auto c = get(kConfigMap, "blog-content");
    return c && c->get_string("/data/index.html") == "<h1>v2</h1>";
  }));
  ASSERT_TRUE(eventually([&] {
    auto w = get(kWebsite, "blog");
    return w && w->get_int("/status/observedGeneration") == w->generation();
  }));

  // An owned object deleted -> recreated.
  auto old_uid = std::string(get(kService, "blog")->uid());
  ASSERT_TRUE(local_.remove(kop::client::ResourceRef::of(kService, "default", "blog")).ok());
  ASSERT_TRUE(eventually([&] {
    auto s = get(kService, "blog");
    return s && s->uid() != old_uid;
  }));

  // The Website deleted -> finalizer runs, then the dependents are collected.
  ASSERT_TRUE(rest_->remove(kop::client::ResourceRef::of(kWebsite, "default", "blog")).ok());
  ASSERT_TRUE(eventually([&] { return get(kWebsite, "blog") == nullptr; }));
  ASSERT_TRUE(eventually([&] {
    return !get(kConfigMap, "blog-content") && !get(kDeployment, "blog") && !get(kService, "blog");
  }));
  auto evs = local_.list(kop::client::ResourceRef{"", "v1", "events", {}, "default", {}});
  ASSERT_TRUE(evs.ok());
  bool finalized = false;
  for (const auto& e : evs->items) finalized |= e->get_string("/reason") == "Finalized";
  EXPECT_TRUE(finalized);
}

}  // namespace
}  // namespace website
