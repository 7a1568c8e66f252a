// Optional kinds against a real kube-apiserver (KOP_TEST_KUBECONFIG names its kubeconfig;
// skipped otherwise, so CI, which has none, skips it): a CRD applied after the cache started,
// deleted while it runs (the API server's own finalizer deletes the objects, then the CRD), and
// the polling fallback when CRDs are forbidden. Each run uses its own API group, so a shared
// server is not disturbed; the CRD is deleted at the end.
#include <gtest/gtest.h>

#include <cstdlib>

#include "kop/cache/cache.h"
#include "kop/client/config.h"
#include "kop/client/rest_client.h"
#include "optional_kind_util.h"
#include "test_util.h"

namespace kop::cache {
namespace {

using testing::CountingClient;
using testing::eventually;
using testing::kCrds;
using testing::Tracker;

std::shared_ptr<client::RestClient> real_client() {
  const char* path = std::getenv("KOP_TEST_KUBECONFIG");
  if (!path || !*path) return nullptr;
  auto cfg = client::load_kubeconfig({.paths = {path}});
  EXPECT_TRUE(cfg.ok()) << cfg.status();
  if (!cfg.ok()) return nullptr;
  cfg->qps = 0;
  auto rc = client::RestClient::create(*cfg);
  EXPECT_TRUE(rc.ok()) << rc.status();
  return rc.ok() ? *rc : nullptr;
}

void run(bool forbid_crds) {
  auto rest = real_client();
  if (!rest) GTEST_SKIP() << "KOP_TEST_KUBECONFIG is not set: no real API server";
  const std::string group = "optional" +
                            std::to_string(absl::ToUnixMillis(absl::Now()) % 100000000) +
                            (forbid_crds ? "p" : "w") + ".kop.dev";
  const api::GroupVersionKind gvk{group, "v1", "Widget"};
  const client::ResourceRef widgets{group, "v1", "widgets", "Widget", "default", ""};
  CountingClient counting(*rest, group);
  counting.forbid_crds = forbid_crds;

  CacheOptions options;
  options.by_object[gvk].optional = true;
  options.by_object[gvk].resource = "widgets";
  options.presence.poll_min = absl::Milliseconds(100);
  options.presence.poll_max = absl::Milliseconds(400);
  Cache cache(counting, options);
  auto tracker = std::make_shared<Tracker>();
  ASSERT_TRUE(cache.add_event_handler(gvk, tracker).ok());
  cache.start();
  ASSERT_TRUE(cache.wait_for_cache_sync(absl::Seconds(30)).ok());  // a shared, busy server
  EXPECT_EQ(cache.served(gvk), false);
  if (!forbid_crds) {
    EXPECT_EQ(counting.widget_requests.load(), 0);  // (polling probes would count)
  }

  auto created = rest->create(kCrds, testing::widget_crd(group));
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(eventually([&] { return cache.served(gvk) == true; }, absl::Seconds(20)));
  auto w = rest->create(widgets, testing::widget(gvk, "a"));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(eventually([&] { return tracker->held() == std::set<std::string>{"default/a"}; },
                         absl::Seconds(10)));

  ASSERT_TRUE(rest->remove(kCrds.named("widgets." + group)).ok());
  EXPECT_TRUE(eventually([&] { return cache.served(gvk) == false; }, absl::Seconds(20)));
  EXPECT_TRUE(tracker->held().empty());
  EXPECT_EQ(cache.find_informer(gvk), nullptr);
  EXPECT_TRUE(cache.has_synced());
  cache.stop();
}

TEST(OptionalKindReal, FollowsTheCrdByWatchingCrds) {
  run(false);
}

TEST(OptionalKindReal, FollowsTheCrdByPollingWhenCrdsAreForbidden) {
  run(true);
}

}  // namespace
}  // namespace kop::cache
