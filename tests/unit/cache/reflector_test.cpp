#include "kop/cache/reflector.h"

#include <absl/strings/match.h>
#include <gtest/gtest.h>

#include "fake_client.h"
#include "kop/client/errors.h"
#include "test_util.h"

namespace kop::cache {
namespace {

using client::WatchEvent;
using testing::bookmark;
using testing::event;
using testing::eventually;
using testing::FakeClient;
using testing::gone_event;
using testing::make_object;
using testing::page;

// A ReflectorStore over an Indexer that records what the reflector did.
class RecordingStore : public ReflectorStore {
 public:
  Indexer::Replacement begin_replace() override { return indexer.begin_replace(); }
  void replace(Indexer::Replacement r, std::string_view rv) override {
    auto result = indexer.commit_replace(std::move(r));
    absl::MutexLock lock(&mu);
    replaces.push_back(std::string(rv));
    for (auto& d : result->deleted) deleted.push_back(d->key());
  }
  void add(api::ObjectPtr obj) override { record("add", indexer.upsert(obj), obj); }
  void update(api::ObjectPtr obj) override { record("update", indexer.upsert(obj), obj); }
  void remove(api::ObjectPtr obj) override {
    indexer.remove(obj->key());
    record("delete", nullptr, obj);
  }
  void record(const char* what, const api::ObjectPtr&, const api::ObjectPtr& obj) {
    absl::MutexLock lock(&mu);
    ops.push_back(std::string(what) + " " + obj->key() + "@" +
                  std::string(obj->resource_version()));
  }
  std::vector<std::string> get_ops() {
    absl::MutexLock lock(&mu);
    return ops;
  }
  size_t replace_count() {
    absl::MutexLock lock(&mu);
    return replaces.size();
  }

  Indexer indexer;
  absl::Mutex mu;
  std::vector<std::string> ops;
  std::vector<std::string> replaces;
  std::vector<std::string> deleted;
};

ReflectorOptions options(FakeClock* clock) {
  ReflectorOptions o;
  o.ref = client::ResourceRef::of(api::GroupVersionKind{"", "v1", "ConfigMap"});
  o.ref.resource = "configmaps";
  o.page_size = 2;
  o.clock = clock;
  o.seed = 99;
  return o;
}

TEST(Reflector, PaginatedListThenWatchFromListVersion) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "a", "3"), make_object("ns", "b", "4")}, "", "tok1"));
  fc.queue_list(page({make_object("ns", "c", "5")}, "10"));
  auto w = fc.queue_watch();
  RecordingStore store;
  Reflector r(fc, store, options(&clock));
  r.start();
  ASSERT_TRUE(eventually([&] { return r.has_synced(); }));
  ASSERT_TRUE(fc.wait_watch_calls(1));

  auto lists = fc.list_calls();
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(lists[0].limit, 2);
  EXPECT_EQ(lists[0].continue_token, "");
  EXPECT_EQ(lists[0].resource_version, "");  // a consistent read
  EXPECT_EQ(lists[1].continue_token, "tok1");
  EXPECT_EQ(store.indexer.size(), 3u);
  EXPECT_EQ(store.replace_count(), 1u);

  auto watches = fc.watch_calls();
  EXPECT_EQ(watches[0].resource_version, "10");
  EXPECT_TRUE(watches[0].allow_watch_bookmarks);
  ASSERT_TRUE(watches[0].timeout_seconds.has_value());
  EXPECT_GE(*watches[0].timeout_seconds, 300);  // [5 min, 10 min)
  EXPECT_LT(*watches[0].timeout_seconds, 600);

  w->push(event(WatchEvent::Type::kAdded, make_object("ns", "d", "11")));
  w->push(event(WatchEvent::Type::kModified, make_object("ns", "a", "12")));
  w->push(event(WatchEvent::Type::kDeleted, make_object("ns", "b", "13")));
  ASSERT_TRUE(eventually([&] { return store.get_ops().size() == 3; }));
  EXPECT_EQ(store.get_ops(),
            (std::vector<std::string>{"add ns/d@11", "update ns/a@12", "delete ns/b@13"}));
  EXPECT_EQ(r.last_sync_resource_version(), "13");
  EXPECT_EQ(store.indexer.get("ns/a")->resource_version(), "12");
  EXPECT_EQ(store.indexer.get("ns/b"), nullptr);
  r.stop();
  EXPECT_TRUE(w->cancelled());
}

TEST(Reflector, ClosedWatchResumesFromLastVersionIncludingBookmarks) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "a", "3")}, "10"));
  auto w1 = fc.queue_watch();
  auto w2 = fc.queue_watch();
  RecordingStore store;
  Reflector r(fc, store, options(&clock));
  r.start();
  ASSERT_TRUE(fc.wait_watch_calls(1));
  w1->push(event(WatchEvent::Type::kModified, make_object("ns", "a", "11")));
  w1->push(bookmark("20"));
  w1->close();
  ASSERT_TRUE(fc.wait_watch_calls(2));
  EXPECT_EQ(fc.watch_calls()[1].resource_version, "20");
  EXPECT_EQ(fc.list_calls().size(), 1u);  // no relist
  EXPECT_TRUE(clock.sleeps().empty());    // a normal close does not back off
  w2->push(event(WatchEvent::Type::kAdded, make_object("ns", "b", "21")));
  ASSERT_TRUE(eventually([&] { return store.indexer.size() == 2; }));
  EXPECT_TRUE(r.status().last_error.ok());
}

TEST(Reflector, GoneErrorEventRelistsAndReportsVanishedObjects) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "a", "3"), make_object("ns", "b", "4")}, "10"));
  auto w1 = fc.queue_watch();
  // The relist: b vanished, a changed, c appeared.
  fc.queue_list(page({make_object("ns", "a", "30"), make_object("ns", "c", "31")}, "40"));
  auto w2 = fc.queue_watch();
  RecordingStore store;
  Reflector r(fc, store, options(&clock));
  r.start();
  ASSERT_TRUE(fc.wait_watch_calls(1));
  w1->push(gone_event());
  ASSERT_TRUE(fc.wait_watch_calls(2));
  EXPECT_EQ(fc.list_calls().size(), 2u);
  EXPECT_EQ(fc.watch_calls()[1].resource_version, "40");
  EXPECT_EQ(store.replace_count(), 2u);
  EXPECT_EQ(store.deleted, (std::vector<std::string>{"ns/b"}));
  EXPECT_EQ(store.indexer.get("ns/a")->resource_version(), "30");
  EXPECT_NE(store.indexer.get("ns/c"), nullptr);
  ReflectorStatus st = r.status();
  EXPECT_EQ(st.relists_gone, 1u);
  EXPECT_EQ(st.lists, 2u);
  ASSERT_EQ(clock.sleeps().size(), 1u);  // client-go backs off before relisting too
}

TEST(Reflector, GoneOnWatchCallRelists) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "a", "3")}, "10"));
  fc.queue_watch(client::resource_expired("too old resource version: 10 (50)"));
  fc.queue_list(page({}, "60"));
  auto w = fc.queue_watch();
  RecordingStore store;
  Reflector r(fc, store, options(&clock));
  r.start();
  ASSERT_TRUE(fc.wait_watch_calls(2));
  EXPECT_EQ(fc.watch_calls()[1].resource_version, "60");
  EXPECT_EQ(store.indexer.size(), 0u);
  EXPECT_EQ(store.deleted, (std::vector<std::string>{"ns/a"}));
}

TEST(Reflector, TransportErrorOnWatchResumesWithoutRelist) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({}, "10"));
  auto w1 = fc.queue_watch();
  fc.queue_watch();
  RecordingStore store;
  Reflector r(fc, store, options(&clock));
  r.start();
  ASSERT_TRUE(fc.wait_watch_calls(1));
  w1->push(event(WatchEvent::Type::kAdded, make_object("ns", "a", "11")));
  w1->fail(absl::UnavailableError("connection reset by peer"));
  ASSERT_TRUE(fc.wait_watch_calls(2));
  EXPECT_EQ(fc.watch_calls()[1].resource_version, "11");
  EXPECT_EQ(fc.list_calls().size(), 1u);
  EXPECT_EQ(clock.sleeps().size(), 1u);
}

// A flaky network: every watch delivers events, then its connection is reset. Each retry waits
// the initial delay again instead of doubling toward 30 s (the soak test saw a replica take
// 40 s to see a new Ingress after minutes of API cuts).
TEST(Reflector, WatchCutAfterRunningRetriesAfterTheInitialDelay) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({}, "10"));
  std::vector<std::shared_ptr<testing::FakeWatch>> watches;
  for (int i = 0; i < 6; ++i) watches.push_back(fc.queue_watch());
  RecordingStore store;
  Reflector r(fc, store, options(&clock));
  r.start();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(fc.wait_watch_calls(i + 1));
    watches[i]->push(event(WatchEvent::Type::kAdded,
                           make_object("ns", "a" + std::to_string(i), std::to_string(11 + i))));
    watches[i]->fail(absl::UnavailableError("connection reset by peer"));
  }
  ASSERT_TRUE(fc.wait_watch_calls(6));
  auto sleeps = clock.sleeps();
  ASSERT_EQ(sleeps.size(), 5u);
  for (size_t i = 0; i < sleeps.size(); ++i) {
    EXPECT_GE(sleeps[i], absl::Milliseconds(800)) << i;
    EXPECT_LT(sleeps[i], absl::Milliseconds(1600)) << i;
  }
  EXPECT_EQ(fc.list_calls().size(), 1u);
  EXPECT_EQ(fc.watch_calls()[5].resource_version, "15");
}

// A watch that fails before it delivers anything still backs off exponentially.
TEST(Reflector, WatchFailingAtOnceBacksOffExponentially) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({}, "10"));
  std::vector<std::shared_ptr<testing::FakeWatch>> watches;
  for (int i = 0; i < 4; ++i) watches.push_back(fc.queue_watch());
  RecordingStore store;
  Reflector r(fc, store, options(&clock));
  r.start();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(fc.wait_watch_calls(i + 1));
    watches[i]->fail(absl::UnavailableError("connection reset by peer"));
  }
  ASSERT_TRUE(fc.wait_watch_calls(4));
  auto sleeps = clock.sleeps();
  ASSERT_EQ(sleeps.size(), 3u);
  EXPECT_GE(sleeps[2], absl::Milliseconds(3200));
}

TEST(Reflector, ForbiddenListIsNamedCountedAndBacksOffExponentially) {
  FakeClient fc;
  FakeClock clock;
  for (int i = 0; i < 5; ++i) {
    fc.queue_list(client::forbidden("", "configmaps", "",
                                    "User \"system:serviceaccount:x:y\" cannot list resource"));
  }
  fc.queue_list(page({make_object("ns", "a", "1")}, "5"));
  auto w = fc.queue_watch();
  RecordingStore store;
  metrics::Registry reg;
  ReflectorOptions o = options(&clock);
  o.registry = &reg;
  Reflector r(fc, store, o);
  r.start();
  ASSERT_TRUE(eventually([&] { return r.status().errors >= 1; }));
  absl::Status err = r.status().last_error;
  if (!err.ok()) {  // may already have recovered; checked again below via the sleeps
    EXPECT_TRUE(client::is_forbidden(err)) << err;
    EXPECT_NE(err.message().find("list /v1, Resource=configmaps"), absl::string_view::npos) << err;
  }
  ASSERT_TRUE(eventually([&] { return r.has_synced(); }));
  auto sleeps = clock.sleeps();
  ASSERT_EQ(sleeps.size(), 5u);
  absl::Duration base = absl::Milliseconds(800);
  for (size_t i = 0; i < sleeps.size(); ++i) {
    EXPECT_GE(sleeps[i], base) << i;
    EXPECT_LT(sleeps[i], 2 * base) << i;
    base *= 2;
  }
  EXPECT_EQ(r.status().errors, 5u);
  EXPECT_TRUE(r.status().last_error.ok());  // cleared by the successful list
  const std::string exposed = reg.expose();
  EXPECT_NE(exposed.find("kop_cache_reflector_errors_total{resource=\"/v1, "
                         "Resource=configmaps\",verb=\"list\",reason=\"Forbidden\"} 5"),
            std::string::npos)
      << exposed;
  EXPECT_NE(exposed.find("kop_cache_reflector_lists_total{resource=\"/v1, "
                         "Resource=configmaps\"} 1"),
            std::string::npos)
      << exposed;
}

TEST(Reflector, ErrorMessageNamesVerbAndKind) {
  FakeClient fc;
  FakeClock clock;
  fc.wait_ = absl::Milliseconds(1);
  fc.set_list_fn([](const client::ResourceRef&,
                    const client::ListOptions&) -> absl::StatusOr<client::ObjectList> {
    return client::not_found("example.dev", "widgets", "");
  });
  RecordingStore store;
  ReflectorOptions o = options(&clock);
  o.description = "example.dev/v1, Kind=Widget";
  Reflector r(fc, store, o);
  r.start();
  ASSERT_TRUE(eventually([&] { return !r.status().last_error.ok(); }));
  absl::Status err = r.status().last_error;
  EXPECT_TRUE(client::is_not_found(err));  // the API Status payload survives
  EXPECT_TRUE(absl::StartsWith(err.message(), "list example.dev/v1, Kind=Widget: ")) << err;
  EXPECT_FALSE(r.has_synced());
}

TEST(Reflector, VeryShortWatchBacksOff) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({}, "10"));
  auto w1 = fc.queue_watch();
  fc.queue_watch();
  RecordingStore store;
  Reflector r(fc, store, options(&clock));
  r.start();
  ASSERT_TRUE(fc.wait_watch_calls(1));
  w1->close();  // no event, at once
  ASSERT_TRUE(fc.wait_watch_calls(2));
  EXPECT_EQ(clock.sleeps().size(), 1u);
  EXPECT_EQ(fc.watch_calls()[1].resource_version, "10");
  EXPECT_EQ(fc.list_calls().size(), 1u);
}

TEST(Reflector, SilentWatchIsCancelledAndRestarted) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({}, "10"));
  auto w1 = fc.queue_watch();
  auto w2 = fc.queue_watch();
  RecordingStore store;
  ReflectorOptions o = options(&clock);
  o.min_watch_timeout = absl::Seconds(1);  // timeoutSeconds 1
  o.watch_silence_grace = absl::Milliseconds(200);
  Reflector r(fc, store, o);
  const absl::Time start = absl::Now();
  r.start();
  ASSERT_TRUE(fc.wait_watch_calls(2, absl::Seconds(5)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(w1->cancelled());
  EXPECT_GE(took, absl::Milliseconds(1200));
  EXPECT_LT(took, absl::Seconds(4));
  EXPECT_EQ(r.status().silent_restarts, 1u);
  EXPECT_EQ(fc.watch_calls()[1].resource_version, "10");
  EXPECT_EQ(fc.list_calls().size(), 1u);
}

TEST(Reflector, ExpiredContinueTokenRestartsTheList) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "a", "3"), make_object("ns", "b", "4")}, "", "tok"));
  fc.queue_list(client::resource_expired("The provided continue parameter is too old"));
  fc.queue_list(page({make_object("ns", "a", "3"), make_object("ns", "c", "7")}, "20"));
  fc.queue_watch();
  RecordingStore store;
  Reflector r(fc, store, options(&clock));
  r.start();
  ASSERT_TRUE(fc.wait_watch_calls(1));
  auto lists = fc.list_calls();
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_EQ(lists[2].continue_token, "");
  EXPECT_EQ(lists[2].limit, 0);
  EXPECT_EQ(store.indexer.size(), 2u);  // a and c: the partial first attempt was discarded
  EXPECT_EQ(store.indexer.get("ns/b"), nullptr);
}

TEST(Reflector, ManagedFieldsStrippedByDefault) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "a", "3", {}, /*managed_fields=*/true)}, "10"));
  fc.queue_watch();
  RecordingStore store;
  Reflector r(fc, store, options(&clock));
  r.start();
  ASSERT_TRUE(eventually([&] { return r.has_synced(); }));
  auto obj = store.indexer.get("ns/a");
  ASSERT_NE(obj, nullptr);
  EXPECT_FALSE(obj->has_managed_fields());
  EXPECT_EQ(obj->get_string("/data/key"), "value-3");  // the rest is intact
  EXPECT_EQ(obj->resource_version(), "3");
}

// Stopping is not a failure: a watch cut by stop() (and a watch call racing with it) records no
// error and logs nothing at error level. Repeated because the window is between two threads.
TEST(Reflector, StopDuringWatchRecordsNoError) {
  for (int i = 0; i < 30; ++i) {
    FakeClient fc;
    fc.wait_ = absl::Milliseconds(1);
    fc.set_list_fn([](const client::ResourceRef&,
                      const client::ListOptions&) -> absl::StatusOr<client::ObjectList> {
      return page({}, "5");
    });
    fc.set_watch_fn(
        [](const client::ResourceRef&,
           const client::WatchOptions&) -> absl::StatusOr<std::shared_ptr<testing::FakeWatch>> {
          return std::make_shared<testing::FakeWatch>();
        });
    RecordingStore store;
    Reflector r(fc, store, options(nullptr));
    r.start();
    ASSERT_TRUE(fc.wait_watch_calls(1));
    r.stop();
    EXPECT_EQ(r.status().errors, 0u) << "run " << i << ": " << r.status().last_error;
  }
}

TEST(Reflector, StopInterruptsBackoff) {
  FakeClient fc;
  fc.wait_ = absl::Milliseconds(1);
  RecordingStore store;
  ReflectorOptions o = options(nullptr);  // real clock: the first backoff is >= 800 ms
  o.backoff.initial = absl::Seconds(30);
  Reflector r(fc, store, o);
  r.start();
  ASSERT_TRUE(fc.wait_list_calls(1));
  absl::SleepFor(absl::Milliseconds(50));
  const absl::Time start = absl::Now();
  r.stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

}  // namespace
}  // namespace kop::cache
