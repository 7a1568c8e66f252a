// Watch: initial ADDED events, resume from a resourceVersion, 410 for too old, bookmarks,
// selectors entering/leaving, DELETED with the deletion's resourceVersion, slow watchers,
// timeouts and fault injection. Real threads.
#include <gtest/gtest.h>

#include <thread>

#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

TEST(Watch, FromEmptyVersionStartsWithAdded) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  ASSERT_TRUE(s.create(*cm, "default", configmap("a")).ok());
  ASSERT_TRUE(s.create(*cm, "default", configmap("b")).ok());
  for (auto v : {"", "0"}) {
    WatchOptions o;
    o.resource_version = v;
    auto w = s.watch(*cm, "default", o);
    ASSERT_TRUE(w.ok());
    auto e1 = next(*w), e2 = next(*w);
    ASSERT_TRUE(e1 && e2);
    EXPECT_EQ(e1->type, WatchEvent::Type::kAdded);
    EXPECT_EQ(meta(e1->object, "name"), "a");
    EXPECT_EQ(meta(e2->object, "name"), "b");
    EXPECT_FALSE(next(*w, 50).has_value());
  }
}

TEST(Watch, ResumesFromResourceVersionAcrossThreads) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto a = s.create(*cm, "default", configmap("a"));
  std::string from(rv(*a));
  ASSERT_TRUE(s.patch(*cm, "default", "a", PatchType::kJsonMerge, R"({"data":{"k":"2"}})").ok());
  WatchOptions o;
  o.resource_version = from;
  auto w = s.watch(*cm, "", o);
  ASSERT_TRUE(w.ok());
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(s.create(*cm, "default", configmap("b")).ok());
    EXPECT_TRUE(s.remove(*cm, "default", "a").ok());
  });
  auto e1 = next(*w);
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->type, WatchEvent::Type::kModified);  // replayed from history
  EXPECT_EQ(json::path_string(e1->object->doc(), {"data", "k"}), "2");
  auto e2 = next(*w);
  ASSERT_TRUE(e2);
  EXPECT_EQ(e2->type, WatchEvent::Type::kAdded);
  EXPECT_EQ(meta(e2->object, "name"), "b");
  auto e3 = next(*w);
  ASSERT_TRUE(e3);
  EXPECT_EQ(e3->type, WatchEvent::Type::kDeleted);
  EXPECT_EQ(meta(e3->object, "name"), "a");
  // DELETED carries the last state with the deletion's (new) resourceVersion.
  EXPECT_EQ(json::path_string(e3->object->doc(), {"data", "k"}), "2");
  EXPECT_EQ(std::stoull(std::string(rv(e3->object))), s.current_resource_version());
  writer.join();
}

TEST(Watch, TooOldResourceVersionIs410Event) {
  StoreOptions so;
  so.history_size = 3;
  Store s(so);
  auto cm = type(s, "", "v1", "configmaps");
  auto first = s.create(*cm, "default", configmap("a"));
  std::string old(rv(*first));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(s.patch(*cm, "default", "a", PatchType::kJsonMerge,
                        "{\"data\":{\"k\":\"" + std::to_string(i) + "\"}}")
                    .ok());
  }
  WatchOptions o;
  o.resource_version = old;
  auto w = s.watch(*cm, "default", o);
  ASSERT_TRUE(w.ok());
  auto e = next(*w);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->type, WatchEvent::Type::kError);
  // The error itself, and the same Status as the event's object.
  EXPECT_TRUE(client::is_resource_expired(e->error));
  EXPECT_EQ(client::to_json(api(e->error)), json::to_json(e->object->doc()));
  auto st = api(e->error);
  EXPECT_EQ(st.code, 410);
  EXPECT_EQ(st.reason, "Expired");
  // oldest remaining event is rv(current)-2; the API server reports oldest-1.
  uint64_t cur = s.current_resource_version();
  EXPECT_EQ(st.message, "too old resource version: " + old + " (" + std::to_string(cur - 3) + ")");
  EXPECT_EQ(json::to_json(e->object->doc()),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
                st.message + R"(","reason":"Expired","code":410})");
  EXPECT_FALSE(next(*w, 50));
  EXPECT_TRUE((*w)->ended());
  // The oldest still held is fine.
  o.resource_version = std::to_string(cur - 3);
  auto ok = s.watch(*cm, "default", o);
  auto e2 = next(*ok);
  ASSERT_TRUE(e2);
  EXPECT_EQ(e2->type, WatchEvent::Type::kModified);
}

TEST(Watch, BookmarksOnRequest) {
  StoreOptions so;
  so.bookmark_interval = absl::Milliseconds(30);
  Store s(so);
  auto cm = type(s, "", "v1", "configmaps");
  WatchOptions o;
  o.resource_version = std::to_string(s.current_resource_version());
  o.allow_watch_bookmarks = true;
  auto w = s.watch(*cm, "default", o);
  ASSERT_TRUE(s.create(*cm, "kube-system", configmap("elsewhere", "kube-system")).ok());
  auto e = next(*w, 1000);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, WatchEvent::Type::kBookmark);
  EXPECT_EQ(json::to_json(e->object->doc()),
            R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":")" +
                std::to_string(s.current_resource_version()) + R"("}})");
  // Without the request, no bookmarks.
  o.allow_watch_bookmarks = false;
  auto w2 = s.watch(*cm, "default", o);
  EXPECT_FALSE(next(*w2, 100));
}

TEST(Watch, SelectorsTurnModificationsIntoAddedAndDeleted) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  ASSERT_TRUE(s.create(*cm, "default", configmap("a", "default", R"({"app":"x"})")).ok());
  WatchOptions o;
  o.resource_version = std::to_string(s.current_resource_version());
  o.label_selector = "app=web";
  auto w = s.watch(*cm, "default", o);
  ASSERT_TRUE(s.patch(*cm, "default", "a", PatchType::kJsonMerge,
                      R"({"metadata":{"labels":{"app":"web"}}})")
                  .ok());
  auto e1 = next(*w);
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->type, WatchEvent::Type::kAdded);
  ASSERT_TRUE(s.patch(*cm, "default", "a", PatchType::kJsonMerge, R"({"data":{"k":"9"}})").ok());
  auto e2 = next(*w);
  ASSERT_TRUE(e2);
  EXPECT_EQ(e2->type, WatchEvent::Type::kModified);
  auto left = s.patch(*cm, "default", "a", PatchType::kJsonMerge,
                      R"({"metadata":{"labels":{"app":"db"}}})");
  auto e3 = next(*w);
  ASSERT_TRUE(e3);
  EXPECT_EQ(e3->type, WatchEvent::Type::kDeleted);
  // The previous content with the new resourceVersion, as the cacher sends it.
  EXPECT_EQ(json::path_string(e3->object->doc(), {"metadata", "labels", "app"}), "web");
  EXPECT_EQ(rv(e3->object), rv(*left));
  // Field selectors.
  WatchOptions f;
  f.field_selector = "metadata.name=b";
  auto wf = s.watch(*cm, "", f);
  ASSERT_TRUE(s.create(*cm, "default", configmap("c")).ok());
  ASSERT_TRUE(s.create(*cm, "default", configmap("b")).ok());
  auto ef = next(*wf);
  ASSERT_TRUE(ef);
  EXPECT_EQ(meta(ef->object, "name"), "b");
  WatchOptions bad;
  bad.field_selector = "spec.nodeName=x";
  auto wb = s.watch(*cm, "", bad);
  ASSERT_FALSE(wb.ok());
  EXPECT_EQ(api(wb.status()).code, 400);
  EXPECT_EQ(
      api(wb.status()).message,
      R"("spec.nodeName" is not a known field selector: only "metadata.name", "metadata.namespace")");
}

TEST(Watch, NamespaceScoped) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  WatchOptions o;
  o.resource_version = std::to_string(s.current_resource_version());
  auto w = s.watch(*cm, "kube-system", o);
  ASSERT_TRUE(s.create(*cm, "default", configmap("a")).ok());
  ASSERT_TRUE(s.create(*cm, "kube-system", configmap("b", "kube-system")).ok());
  auto e = next(*w);
  ASSERT_TRUE(e);
  EXPECT_EQ(meta(e->object, "name"), "b");
}

TEST(Watch, SlowWatcherIsClosedNotBlocking) {
  StoreOptions so;
  so.watch_buffer = 5;
  Store s(so);
  auto cm = type(s, "", "v1", "configmaps");
  WatchOptions o;
  o.resource_version = std::to_string(s.current_resource_version());
  auto w = s.watch(*cm, "default", o);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(s.create(*cm, "default", configmap("c" + std::to_string(i))).ok());
  int n = 0;
  while (next(*w, 100)) ++n;
  EXPECT_EQ(n, 5);
  EXPECT_TRUE((*w)->ended());
}

TEST(Watch, TimeoutEndsTheWatch) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  WatchOptions o;
  o.timeout_seconds = 1;
  auto w = s.watch(*cm, "default", o);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(next(*w, 10000));
  EXPECT_TRUE((*w)->ended());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
}

TEST(Watch, StopFromAnotherThreadWakesTheReader) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto w = s.watch(*cm, "default", {});
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    (*w)->stop();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(next(*w, 5000));
  EXPECT_TRUE((*w)->ended());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  t.join();
}

TEST(Watch, FaultsCloseAfterNEventsAnd410) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  s.faults().close_watches_after(2);
  auto w = s.watch(*cm, "default", {});
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(s.create(*cm, "default", configmap("c" + std::to_string(i))).ok());
  EXPECT_TRUE(next(*w));
  EXPECT_TRUE(next(*w));
  EXPECT_FALSE(next(*w, 50));
  EXPECT_TRUE((*w)->ended());
  s.faults().clear();
  s.faults().fail("watch", 410);
  auto w2 = s.watch(*cm, "default", {});
  auto e = next(*w2);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, WatchEvent::Type::kError);
  EXPECT_EQ(client::http_code_of(e->error), 410);
  auto w3 = s.watch(*cm, "default", {});  // only once
  auto e3 = next(*w3);
  ASSERT_TRUE(e3);
  EXPECT_EQ(e3->type, WatchEvent::Type::kAdded);
}

TEST(Watch, RandomCloseIsSeeded) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(s.create(*cm, "default", configmap("c" + std::to_string(i))).ok());
  s.faults().close_watches_randomly(0.2, 7);
  auto w = s.watch(*cm, "default", {});
  int n = 0;
  while (next(*w, 50)) ++n;
  EXPECT_GT(n, 0);
  EXPECT_LT(n, 50);
}

TEST(Watch, InjectedErrorsForVerbs) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  s.faults().fail("list", 500, 2);
  s.faults().fail("*", 429, 1, "secrets");
  EXPECT_EQ(api(s.list(*cm, "").status()).code, 500);
  EXPECT_EQ(api(s.list(*cm, "").status()).code, 500);
  EXPECT_TRUE(s.list(*cm, "").ok());
  auto sec = type(s, "", "v1", "secrets");
  auto r = s.get(*sec, "default", "x");
  EXPECT_EQ(api(r.status()).code, 429);
  EXPECT_EQ(api(r.status()).details->retry_after_seconds, 1);
  EXPECT_EQ(api(s.get(*sec, "default", "x").status()).code, 404);
}

}  // namespace
}  // namespace kop::local

namespace kop::local {
namespace {

TEST(Faults, LatencyAndOtherCodes) {
  Store s;
  auto cm = testing::type(s, "", "v1", "configmaps");
  s.faults().set_latency(absl::Milliseconds(60));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.list(*cm, "").ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(55));
  s.faults().clear();
  s.faults().fail("create", 503, 1);
  s.faults().fail("get", 504, 1);
  s.faults().fail("list", 410, 1);
  EXPECT_EQ(api(s.create(*cm, "default", testing::configmap("a")).status()).code, 503);
  EXPECT_EQ(api(s.get(*cm, "default", "a").status()).code, 504);
  auto l = s.list(*cm, "");
  EXPECT_EQ(api(l.status()).code, 410);
  EXPECT_EQ(api(l.status()).message, "The resourceVersion for the provided list is too old.");
  s.faults().fail("*", 500, -1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(api(s.list(*cm, "").status()).code, 500);
  s.faults().clear();
  EXPECT_TRUE(s.list(*cm, "").ok());
}

}  // namespace
}  // namespace kop::local
