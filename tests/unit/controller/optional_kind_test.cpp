// A controller built with the Builder on an optional kind (cache::ByObject::optional), against
// kop::local: it starts without the kind's CRD, reconciles the kind's objects once the CRD is
// applied, and reconciles each of them once more (now absent from the cache) when it is deleted.
#include <absl/synchronization/mutex.h>
#include <gtest/gtest.h>

#include <map>

#include "../cache/optional_kind_util.h"
#include "kop/controller/builder.h"
#include "test_env.h"

namespace kop::controller {
namespace {

using cache::testing::kCrds;
using cache::testing::widget_crd;
using testing::eventually;

const api::GroupVersionKind kWidget{"example.com", "v1", "Widget"};

// What the reconciler saw last per key: whether the object was in the cache.
class Seen {
 public:
  void record(const std::string& key, bool exists) {
    absl::MutexLock lock(&mu_);
    last_[key] = exists;
  }
  std::map<std::string, bool> last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, bool> last_ ABSL_GUARDED_BY(mu_);
};

TEST(OptionalKindController, StartsWithoutTheCrdAndFollowsIt) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client{store};
  cache::CacheOptions co;
  co.by_object[kWidget].optional = true;
  co.by_object[kWidget].resource = "widgets";
  cache::Cache cache(client, co);
  Seen seen;
  auto reconciler = std::make_shared<ReconcilerFunc>(
      [&](const Context&, const Request& r) -> absl::StatusOr<Result> {
        auto got = cache.get(kWidget, r.namespace_, r.name);
        seen.record(r.key(), got.ok());
        return Result{};
      });
  auto built = Builder(cache)
                   .for_(kWidget)
                   .with_options({.cache_sync_timeout = absl::Seconds(5)})
                   .build(reconciler);
  ASSERT_TRUE(built.ok()) << built.status();
  std::unique_ptr<Controller> controller = std::move(*built);
  cache.start();
  // Before this feature, start() waited cache_sync_timeout and failed (the kind never synced).
  const absl::Time before = absl::Now();
  ASSERT_TRUE(controller->start().ok());
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));

  ASSERT_TRUE(client.create(kCrds, widget_crd()).ok());
  api::Object w(kWidget);
  w.set_name("a");
  w.set_namespace("default");
  ASSERT_TRUE(eventually([&] {
    return client.create(client::ResourceRef::of(kWidget, "default"), w).ok() ||
           client.get(client::ResourceRef::of(kWidget, "default", "a")).ok();
  }));
  ASSERT_TRUE(eventually([&] {
    return seen.last() == std::map<std::string, bool>{{"default/a", true}};
  }));

  ASSERT_TRUE(client.remove(kCrds.named("widgets.example.com")).ok());
  ASSERT_TRUE(eventually([&] {
    return seen.last() == std::map<std::string, bool>{{"default/a", false}};
  }));
  EXPECT_TRUE(controller->stop().ok());
  cache.stop();
}

}  // namespace
}  // namespace kop::controller
