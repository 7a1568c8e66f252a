// KindListing against the reference, Cache::list: after random creates, updates and deletes of
// namespaced and cluster-scoped objects through kop::local, refreshed while the writes are still
// arriving and once the cache has them all, the kept listing holds exactly the cache's objects
// (the same pointers, no duplicate), and it got there by patching when the store remembered the
// writes and by listing in full when it did not.
#include "../../../operators/ingress/controllers/kind_listing.h"
#include "eventually.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kop/cache/store.h"
#include "kop/client/client.h"
#include "kop/local/local_client.h"

namespace kop::ingress {
namespace {

const api::GroupVersionKind kConfigMap{"", "v1", "ConfigMap"};
const api::GroupVersionKind kIngressClass{"networking.k8s.io", "v1", "IngressClass"};

using testing::eventually;

std::string object_json(const api::GroupVersionKind& gvk, const std::string& ns,
                        const std::string& name, int value) {
  if (gvk == kConfigMap)
    return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
           R"(","namespace":")" + ns + R"("},"data":{"v":")" + std::to_string(value) + R"("}})";
  // spec.controller is immutable: an update changes a label.
  return R"({"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":")" +
         name + R"(","labels":{"v":")" + std::to_string(value) +
         R"("}},"spec":{"controller":"example.com/c"}})";
}

std::vector<const api::Object*> pointers(const std::vector<api::ObjectPtr>& objects) {
  std::vector<const api::Object*> out;
  out.reserve(objects.size());
  for (const api::ObjectPtr& o : objects) out.push_back(o.get());
  std::sort(out.begin(), out.end());
  return out;
}

// "namespace/name@resourceVersion" of each object, sorted.
std::vector<std::string> versions(const std::vector<api::ObjectPtr>& objects) {
  std::vector<std::string> out;
  out.reserve(objects.size());
  for (const api::ObjectPtr& o : objects)
    out.push_back(std::string(o->ns()) + "/" + std::string(o->name()) + "@" +
                  std::string(o->resource_version()));
  std::sort(out.begin(), out.end());
  return out;
}

// Writes through `client` with names from a small set (so creates, updates and deletes meet),
// refreshes a KindListing after each batch and compares with the cache once it caught up.
void check_against_cache(const api::GroupVersionKind& gvk, bool namespaced) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  cache::Cache cache(client, cache::CacheOptions{});
  ASSERT_TRUE(cache.get_informer(gvk).ok());
  cache.start();
  ASSERT_TRUE(cache.wait_for_cache_sync(absl::Seconds(10)).ok());

  std::mt19937 rng(18);
  const std::vector<std::string> namespaces =
      namespaced ? std::vector<std::string>{"a", "b"} : std::vector<std::string>{""};
  for (const std::string& ns : namespaces) {
    if (ns.empty()) continue;
    auto made = client.create(client::ResourceRef::of(api::GroupVersionKind{"", "v1", "Namespace"}),
                              *api::Object::parse(R"({"apiVersion":"v1","kind":"Namespace",)"
                                                  R"("metadata":{"name":")" +
                                                  ns + R"("}})"));
    ASSERT_TRUE(made.ok()) << made.status();
  }
  KindListing kind;
  std::vector<api::ObjectPtr> listing;
  int value = 0;
  for (int round = 0; round < 60; ++round) {
    // Mostly a few writes (patched); now and then more than the store remembers (in full).
    const bool beyond = round % 10 == 9;
    const int batch = beyond ? static_cast<int>(cache::Indexer::kWrittenKeysKept) + 20
                             : static_cast<int>(rng() % 12);
    for (int i = 0; i < batch; ++i) {
      const std::string& ns = namespaces[rng() % namespaces.size()];
      const std::string name = "o" + std::to_string(rng() % 40);
      const client::ResourceRef ref = client::ResourceRef::of(gvk, ns, name);
      auto obj = api::Object::parse(object_json(gvk, ns, name, ++value));
      ASSERT_TRUE(obj.ok());
      if (client.get(ref).ok()) {
        if (rng() % 3 == 0) {
          ASSERT_TRUE(client.remove(ref).ok());
        } else {
          auto updated = client.update(ref, *obj);
          ASSERT_TRUE(updated.ok()) << updated.status();
        }
      } else {
        auto made = client.create(ref.in(ns), *obj);
        ASSERT_TRUE(made.ok()) << made.status();
      }
      // Sometimes mid-batch, while the informer is still behind.
      if (!beyond && rng() % 4 == 0) {
        ASSERT_TRUE(kind.refresh(cache, gvk, listing).ok());
      }
    }
    // The cache caught up: its objects are the server's, resourceVersion for resourceVersion.
    auto served = client.list(client::ResourceRef::of(gvk));
    ASSERT_TRUE(served.ok());
    const std::vector<std::string> want = versions(served->items);
    ASSERT_TRUE(eventually([&] { return versions(*cache.list(gvk)) == want; }))
        << "round " << round;
    ASSERT_TRUE(kind.refresh(cache, gvk, listing).ok());
    auto reference = cache.list(gvk);
    ASSERT_TRUE(reference.ok());
    ASSERT_EQ(pointers(listing), pointers(*reference)) << "round " << round;
  }
  cache.stop();
  // Both ways were taken, and unchanged listings were kept as they were.
  EXPECT_GT(kind.patched(), 30u);
  EXPECT_GE(kind.full_listings(), 6u);
  EXPECT_GT(kind.kept(), 0u);
}

TEST(KindListing, PatchedListingEqualsTheCachesNamespaced) {
  check_against_cache(kConfigMap, true);
}

TEST(KindListing, PatchedListingEqualsTheCachesClusterScoped) {
  check_against_cache(kIngressClass, false);
}

// A kind the cache does not watch: Cache::list's error, and an empty listing.
TEST(KindListing, AnUnwatchedKindIsCacheListsError) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  cache::Cache cache(client, cache::CacheOptions{});
  cache.start();
  KindListing kind;
  std::vector<api::ObjectPtr> listing;
  EXPECT_FALSE(kind.refresh(cache, kConfigMap, listing).ok());
  EXPECT_TRUE(listing.empty());
  cache.stop();
}

}  // namespace
}  // namespace kop::ingress
