#include "kop/cache/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string_view>
#include <thread>

#include "fake_client.h"

namespace kop::cache {
namespace {

using testing::make_object;

std::vector<std::string> sorted_keys(const std::vector<api::ObjectPtr>& objs) {
  std::vector<std::string> keys;
  keys.reserve(objs.size());
  for (const auto& o : objs) keys.push_back(o->key());
  std::sort(keys.begin(), keys.end());
  return keys;
}

Indexers app_index() {
  Indexers idx;
  idx["app"] = [](const api::Object& o) -> std::vector<std::string> {
    if (auto v = o.label("app")) return {std::string(*v)};
    return {};
  };
  return idx;
}

TEST(Store, KeysAreNamespaceSlashNameOrName) {
  EXPECT_EQ(object_key("ns", "a"), "ns/a");
  EXPECT_EQ(object_key("", "node-1"), "node-1");
  Indexer store;
  store.upsert(make_object("ns", "a", "1"));
  store.upsert(make_object("", "cluster-thing", "2"));
  EXPECT_NE(store.get("ns/a"), nullptr);
  EXPECT_NE(store.get("ns", "a"), nullptr);
  EXPECT_NE(store.get("cluster-thing"), nullptr);
  EXPECT_EQ(store.get("other/a"), nullptr);
  EXPECT_EQ(store.size(), 2u);
}

TEST(Store, UpsertReturnsPreviousAndSharesTheInstance) {
  Indexer store;
  auto v1 = make_object("ns", "a", "1");
  auto v2 = make_object("ns", "a", "2");
  EXPECT_EQ(store.upsert(v1), nullptr);
  EXPECT_EQ(store.upsert(v2), v1);
  EXPECT_EQ(store.get("ns/a"), v2);  // the same pointer: reads never copy
  EXPECT_EQ(store.remove("ns/a"), v2);
  EXPECT_EQ(store.remove("ns/a"), nullptr);
  EXPECT_EQ(store.size(), 0u);
}

TEST(Store, NamespaceIndexIsBuiltIn) {
  Indexer store;
  store.upsert(make_object("a", "x", "1"));
  store.upsert(make_object("a", "y", "2"));
  store.upsert(make_object("b", "x", "3"));
  store.upsert(make_object("", "n", "4"));
  auto in_a = store.by_index(kNamespaceIndex, "a");
  ASSERT_TRUE(in_a.ok());
  EXPECT_EQ(sorted_keys(*in_a), (std::vector<std::string>{"a/x", "a/y"}));
  auto cluster = store.by_index(kNamespaceIndex, "");
  ASSERT_TRUE(cluster.ok());
  EXPECT_EQ(sorted_keys(*cluster), (std::vector<std::string>{"n"}));
  store.remove("a/x");
  auto keys = store.index_keys(kNamespaceIndex, "a");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, (std::vector<std::string>{"a/y"}));
}

TEST(Store, CustomIndexFollowsUpdatesAndDeletes) {
  Indexer store(app_index());
  store.upsert(make_object("ns", "a", "1", {{"app", "web"}}));
  store.upsert(make_object("ns", "b", "1", {{"app", "web"}}));
  store.upsert(make_object("ns", "c", "1"));  // no label: not in the index
  EXPECT_EQ(sorted_keys(*store.by_index("app", "web")), (std::vector<std::string>{"ns/a", "ns/b"}));
  // a moves from web to db.
  store.upsert(make_object("ns", "a", "2", {{"app", "db"}}));
  EXPECT_EQ(sorted_keys(*store.by_index("app", "web")), (std::vector<std::string>{"ns/b"}));
  EXPECT_EQ(sorted_keys(*store.by_index("app", "db")), (std::vector<std::string>{"ns/a"}));
  store.remove("ns/b");
  EXPECT_TRUE(store.by_index("app", "web")->empty());
  auto values = store.index_values("app");
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::vector<std::string>{"db"}));  // empty value sets are dropped
}

// The indexes hold the stored objects themselves: an update or a delete must leave no index
// holding (and keeping alive) the object it replaced, and by_index gives the stored pointer.
TEST(Store, IndexesHoldOnlyTheStoredObjects) {
  Indexer store(app_index());
  auto v1 = make_object("ns", "a", "1", {{"app", "web"}});
  std::weak_ptr<const api::Object> gone = v1;
  store.upsert(v1);
  v1.reset();
  auto v2 = make_object("ns", "a", "2", {{"app", "web"}});  // the same index values
  store.upsert(v2);
  EXPECT_TRUE(gone.expired());
  for (std::string_view index : {kNamespaceIndex, std::string_view("app")}) {
    auto got = store.by_index(index, index == kNamespaceIndex ? "ns" : "web");
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u) << index;
    EXPECT_EQ(got->front(), v2) << index;
  }
  // A relist that replaces it drops the old one from the indexes too.
  gone = v2;
  v2.reset();
  Indexer::Replacement r = store.begin_replace();
  r.add(make_object("ns", "a", "3", {{"app", "db"}}));
  ASSERT_TRUE(store.commit_replace(std::move(r)).ok());
  EXPECT_TRUE(gone.expired());
  EXPECT_TRUE(store.by_index("app", "web")->empty());
  EXPECT_EQ(*store.index_keys("app", "db"), (std::vector<std::string>{"ns/a"}));
  gone = store.get("ns/a");
  store.remove("ns/a");
  EXPECT_TRUE(gone.expired());
  EXPECT_TRUE(store.by_index(kNamespaceIndex, "ns")->empty());
}

TEST(Store, UnknownIndexIsNotFound) {
  Indexer store;
  EXPECT_TRUE(absl::IsNotFound(store.by_index("nope", "x").status()));
  EXPECT_TRUE(absl::IsNotFound(store.index_keys("nope", "x").status()));
  EXPECT_TRUE(absl::IsNotFound(store.index_values("nope").status()));
}

TEST(Store, AddIndexersComputesOverExistingObjects) {
  Indexer store;
  store.upsert(make_object("ns", "a", "1", {{"app", "web"}}));
  ASSERT_TRUE(store.add_indexers(app_index()).ok());
  EXPECT_EQ(sorted_keys(*store.by_index("app", "web")), (std::vector<std::string>{"ns/a"}));
  EXPECT_TRUE(absl::IsAlreadyExists(store.add_indexers(app_index())));
  auto names = store.index_names();
  EXPECT_EQ(names, (std::vector<std::string>{"app", "namespace"}));
}

TEST(Store, ReplaceReportsAddsUpdatesDeletesAndSharesUnchanged) {
  Indexer store(app_index());
  auto keep = make_object("ns", "keep", "1", {{"app", "web"}});
  auto change = make_object("ns", "change", "1", {{"app", "web"}});
  auto gone = make_object("ns", "gone", "1", {{"app", "web"}});
  store.upsert(keep);
  store.upsert(change);
  store.upsert(gone);

  Indexer::Replacement r = store.begin_replace();
  r.add(make_object("ns", "keep", "1", {{"app", "web"}}));  // same RV: shared, not duplicated
  auto changed = make_object("ns", "change", "5", {{"app", "db"}});
  r.add(changed);
  auto fresh = make_object("other", "new", "6");
  r.add(fresh);
  // Readers still see the old content while the replacement is filled.
  EXPECT_NE(store.get("ns/gone"), nullptr);

  auto result = store.commit_replace(std::move(r));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->unchanged, 1u);
  ASSERT_EQ(result->added.size(), 1u);
  EXPECT_EQ(result->added[0], fresh);
  ASSERT_EQ(result->updated.size(), 1u);
  EXPECT_EQ(result->updated[0].first, change);
  EXPECT_EQ(result->updated[0].second, changed);
  ASSERT_EQ(result->deleted.size(), 1u);
  EXPECT_EQ(result->deleted[0], gone);

  EXPECT_EQ(store.get("ns/keep"), keep);  // the very same instance
  EXPECT_EQ(store.get("ns/gone"), nullptr);
  EXPECT_EQ(store.size(), 3u);
  EXPECT_EQ(sorted_keys(*store.by_index("app", "web")), (std::vector<std::string>{"ns/keep"}));
  EXPECT_EQ(sorted_keys(*store.by_index("app", "db")), (std::vector<std::string>{"ns/change"}));
  EXPECT_EQ(sorted_keys(*store.by_index(kNamespaceIndex, "other")),
            (std::vector<std::string>{"other/new"}));
}

TEST(Store, GenerationChangesWithEveryWriteAndOnlyThen) {
  Indexer store;
  const uint64_t g0 = store.generation();
  store.upsert(make_object("ns", "a", "1"));
  const uint64_t g1 = store.generation();
  EXPECT_NE(g1, g0);
  // Reads leave it.
  EXPECT_NE(store.get("ns/a"), nullptr);
  EXPECT_EQ(store.list().size(), 1u);
  EXPECT_EQ(store.generation(), g1);
  store.upsert(make_object("ns", "a", "2"));  // replaced
  const uint64_t g2 = store.generation();
  EXPECT_NE(g2, g1);
  EXPECT_EQ(store.remove("ns/missing"), nullptr);  // nothing removed: nothing changed
  EXPECT_EQ(store.generation(), g2);
  EXPECT_NE(store.remove("ns/a"), nullptr);
  const uint64_t g3 = store.generation();
  EXPECT_NE(g3, g2);
  Indexer::Replacement r = store.begin_replace();
  r.add(make_object("ns", "b", "3"));
  EXPECT_EQ(store.generation(), g3);  // not before the commit
  ASSERT_TRUE(store.commit_replace(std::move(r)).ok());
  EXPECT_NE(store.generation(), g3);
}

// A reader that saw generation g asks what was written since: the keys in write order, a
// removal too; nothing when nothing was; nullopt once the log no longer reaches back to g (more
// writes than it keeps) or a replace came after g.
TEST(Store, KeysWrittenSinceAGeneration) {
  Indexer store;
  const uint64_t g0 = store.generation();
  store.upsert(make_object("ns", "a", "1"));
  store.upsert(make_object("ns", "b", "1"));
  const uint64_t g1 = store.generation();
  store.upsert(make_object("ns", "a", "2"));
  EXPECT_EQ(store.remove("ns/missing"), nullptr);
  EXPECT_NE(store.remove("ns/b"), nullptr);
  auto since0 = store.keys_written_since(g0);
  ASSERT_TRUE(since0.has_value());
  EXPECT_EQ(since0->keys, (std::vector<std::string>{"ns/a", "ns/b", "ns/a", "ns/b"}));
  EXPECT_EQ(since0->generation, store.generation());
  auto since1 = store.keys_written_since(g1);
  ASSERT_TRUE(since1.has_value());
  EXPECT_EQ(since1->keys, (std::vector<std::string>{"ns/a", "ns/b"}));
  auto now = store.keys_written_since(store.generation());
  ASSERT_TRUE(now.has_value());
  EXPECT_TRUE(now->keys.empty());
  EXPECT_FALSE(store.keys_written_since(store.generation() + 1).has_value());  // not yet seen

  // More writes than the log keeps: a reader from before them must look at everything; one
  // from within the kept ones gets exactly the later writes.
  const uint64_t before = store.generation();
  for (size_t i = 0; i < Indexer::kWrittenKeysKept; ++i)
    store.upsert(make_object("ns", "k" + std::to_string(i), "1"));
  const uint64_t within = store.generation();
  store.upsert(make_object("ns", "last", "1"));
  EXPECT_FALSE(store.keys_written_since(before).has_value());
  auto later = store.keys_written_since(within);
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->keys, (std::vector<std::string>{"ns/last"}));
  EXPECT_TRUE(store.keys_written_since(within - 1).has_value());

  // A replace (a relist) may change any key.
  const uint64_t g2 = store.generation();
  Indexer::Replacement r = store.begin_replace();
  r.add(make_object("ns", "c", "1"));
  ASSERT_TRUE(store.commit_replace(std::move(r)).ok());
  EXPECT_FALSE(store.keys_written_since(g2).has_value());
  store.upsert(make_object("ns", "d", "1"));
  auto after = store.keys_written_since(g2 + 1);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->keys, (std::vector<std::string>{"ns/d"}));
}

TEST(Store, ReplaceFromAnotherStoreIsRefused) {
  Indexer a, b;
  auto r = a.begin_replace();
  EXPECT_TRUE(absl::IsFailedPrecondition(b.commit_replace(std::move(r)).status()));
}

TEST(Store, IndexAddedDuringReplaceIsBuiltOnCommit) {
  Indexer store;
  auto r = store.begin_replace();
  r.add(make_object("ns", "a", "1", {{"app", "web"}}));
  ASSERT_TRUE(store.add_indexers(app_index()).ok());
  ASSERT_TRUE(store.commit_replace(std::move(r)).ok());
  EXPECT_EQ(sorted_keys(*store.by_index("app", "web")), (std::vector<std::string>{"ns/a"}));
}

TEST(Store, ConcurrentReadersAndWriterStayConsistent) {
  Indexer store(app_index());
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  readers.reserve(3);
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto web = store.by_index("app", "web");  // keep the StatusOr alive over the loop
        for (const auto& o : *web) {
          if (o->label("app") != "web") ++bad;  // an index must never point at a stale value
        }
        (void)store.list();
      }
    });
  }
  for (int i = 0; i < 2000; ++i) {
    std::string name = "o" + std::to_string(i % 50);
    store.upsert(make_object("ns", name, std::to_string(i), {{"app", i % 2 ? "web" : "db"}}));
    if (i % 7 == 0) store.remove("ns/" + name);
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace kop::cache
