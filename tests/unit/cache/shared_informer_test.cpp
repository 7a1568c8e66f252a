#include "kop/cache/shared_informer.h"

#include <absl/synchronization/notification.h>
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "fake_client.h"
#include "test_util.h"

namespace kop::cache {
namespace {

using client::WatchEvent;
using testing::event;
using testing::eventually;
using testing::FakeClient;
using testing::gone_event;
using testing::make_object;
using testing::page;

// Records what a handler saw as "verb key@rv" lines.
class Recorder : public EventHandler {
 public:
  void on_add(const api::ObjectPtr& obj, bool initial) override {
    push(std::string(initial ? "add-initial " : "add ") + id(obj));
  }
  void on_update(const api::ObjectPtr& old_obj, const api::ObjectPtr& new_obj) override {
    push("update " + id(old_obj) + "->" + id(new_obj));
  }
  void on_delete(const api::ObjectPtr& obj, bool unknown) override {
    push(std::string(unknown ? "delete-unknown " : "delete ") + id(obj));
  }
  std::vector<std::string> seen() const {
    absl::MutexLock lock(&mu_);
    return seen_;
  }
  size_t count() const {
    absl::MutexLock lock(&mu_);
    return seen_.size();
  }

 private:
  static std::string id(const api::ObjectPtr& o) {
    return o->key() + "@" + std::string(o->resource_version());
  }
  void push(std::string s) {
    absl::MutexLock lock(&mu_);
    seen_.push_back(std::move(s));
  }
  mutable absl::Mutex mu_;
  std::vector<std::string> seen_;
};

InformerOptions options(FakeClock* clock) {
  InformerOptions o;
  o.reflector.ref = client::ResourceRef::of(api::GroupVersionKind{"", "v1", "ConfigMap"});
  o.reflector.clock = clock;
  o.reflector.seed = 5;
  return o;
}

TEST(SharedInformer, HandlersSeeInitialListAndLiveChangesInOrder) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "a", "1")}, "10"));
  auto w = fc.queue_watch();
  metrics::Registry reg;
  InformerOptions o = options(&clock);
  o.reflector.registry = &reg;
  SharedInformer inf(fc, o);
  auto h1 = std::make_shared<Recorder>();
  auto h2 = std::make_shared<Recorder>();
  auto r1 = inf.add_event_handler(h1);
  auto r2 = inf.add_event_handler(h2);
  EXPECT_FALSE(r1->has_synced());
  inf.start();
  ASSERT_TRUE(inf.wait_for_sync(absl::Seconds(5)).ok());
  ASSERT_TRUE(eventually([&] { return r1->has_synced() && r2->has_synced(); }));
  ASSERT_TRUE(fc.wait_watch_calls(1));
  w->push(event(WatchEvent::Type::kModified, make_object("ns", "a", "11")));
  w->push(event(WatchEvent::Type::kAdded, make_object("ns", "b", "12")));
  w->push(event(WatchEvent::Type::kDeleted, make_object("ns", "a", "13")));
  const std::vector<std::string> want = {"add-initial ns/a@1", "update ns/a@1->ns/a@11",
                                         "add ns/b@12", "delete ns/a@13"};
  ASSERT_TRUE(eventually([&] { return h1->count() == 4 && h2->count() == 4; }));
  EXPECT_EQ(h1->seen(), want);
  EXPECT_EQ(h2->seen(), want);
  EXPECT_EQ(inf.indexer().size(), 1u);
  const std::string exposed = reg.expose();
  EXPECT_NE(exposed.find("kop_cache_objects{resource=\"/v1, Kind=ConfigMap\"} 1"),
            std::string::npos)
      << exposed;
  EXPECT_NE(exposed.find("kop_cache_informer_synced{resource=\"/v1, Kind=ConfigMap\"} 1"),
            std::string::npos)
      << exposed;
}

TEST(SharedInformer, SlowHandlerDoesNotBlockOthers) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({}, "10"));
  auto w = fc.queue_watch();
  SharedInformer inf(fc, options(&clock));
  absl::Notification release;
  std::atomic<int> slow_calls{0};
  auto slow = std::make_shared<EventHandlerFuncs>();
  slow->add = [&](const api::ObjectPtr&, bool) {
    ++slow_calls;
    release.WaitForNotification();  // stuck until the end of the test
  };
  auto fast = std::make_shared<Recorder>();
  inf.add_event_handler(slow);
  inf.add_event_handler(fast);
  inf.start();
  ASSERT_TRUE(fc.wait_watch_calls(1));
  for (int i = 0; i < 100; ++i) {
    w->push(event(WatchEvent::Type::kAdded,
                  make_object("ns", "o" + std::to_string(i), std::to_string(11 + i))));
  }
  ASSERT_TRUE(eventually([&] { return fast->count() == 100; }));
  EXPECT_EQ(inf.indexer().size(), 100u);  // the store is not held up either
  // The slow handler's thread may not have started its first call yet on a loaded machine.
  EXPECT_TRUE(eventually([&] { return slow_calls.load() == 1; }));
  EXPECT_EQ(slow_calls.load(), 1);
  release.Notify();
}

TEST(SharedInformer, LateHandlerGetsSyntheticAddsThenLiveEvents) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "a", "1"), make_object("ns", "b", "2")}, "10"));
  auto w = fc.queue_watch();
  SharedInformer inf(fc, options(&clock));
  inf.start();
  ASSERT_TRUE(inf.wait_for_sync(absl::Seconds(5)).ok());
  auto late = std::make_shared<Recorder>();
  auto reg = inf.add_event_handler(late);
  ASSERT_TRUE(eventually([&] { return reg->has_synced(); }));
  ASSERT_TRUE(fc.wait_watch_calls(1));
  w->push(event(WatchEvent::Type::kModified, make_object("ns", "a", "11")));
  ASSERT_TRUE(eventually([&] { return late->count() == 3; }));
  auto seen = late->seen();
  std::sort(seen.begin(), seen.begin() + 2);
  EXPECT_EQ(seen, (std::vector<std::string>{"add-initial ns/a@1", "add-initial ns/b@2",
                                            "update ns/a@1->ns/a@11"}));
}

TEST(SharedInformer, RelistAfterGoneReportsDifferencesOnly) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "keep", "1"), make_object("ns", "change", "2"),
                      make_object("ns", "vanish", "3")},
                     "10"));
  auto w1 = fc.queue_watch();
  fc.queue_list(page({make_object("ns", "keep", "1"), make_object("ns", "change", "20"),
                      make_object("ns", "new", "21")},
                     "30"));
  fc.queue_watch();
  SharedInformer inf(fc, options(&clock));
  auto h = std::make_shared<Recorder>();
  inf.add_event_handler(h);
  inf.start();
  ASSERT_TRUE(fc.wait_watch_calls(1));
  w1->push(gone_event());
  ASSERT_TRUE(eventually([&] { return h->count() == 6; }));
  auto seen = h->seen();
  std::vector<std::string> after(seen.begin() + 3, seen.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, (std::vector<std::string>{"add ns/new@21", "delete-unknown ns/vanish@3",
                                             "update ns/change@2->ns/change@20"}));
}

TEST(SharedInformer, ResyncRedeliversAsUpdateWithSameObject) {
  FakeClient fc;
  FakeClock clock;  // resync sleeps advance it
  fc.queue_list(page({make_object("ns", "a", "1")}, "10"));
  fc.queue_watch();
  InformerOptions o = options(&clock);
  SharedInformer inf(fc, o);
  auto resyncing = std::make_shared<Recorder>();
  auto plain = std::make_shared<Recorder>();
  inf.add_event_handler(resyncing, absl::Seconds(30));
  inf.add_event_handler(plain);  // default: no resync
  inf.start();
  ASSERT_TRUE(eventually([&] { return resyncing->count() >= 3; }));
  auto seen = resyncing->seen();
  EXPECT_EQ(seen[0], "add-initial ns/a@1");
  EXPECT_EQ(seen[1], "update ns/a@1->ns/a@1");
  EXPECT_EQ(plain->seen(), (std::vector<std::string>{"add-initial ns/a@1"}));
}

TEST(SharedInformer, ThrowingHandlerIsContained) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "a", "1"), make_object("ns", "b", "2")}, "10"));
  fc.queue_watch();
  SharedInformer inf(fc, options(&clock));
  std::atomic<int> calls{0};
  auto thrower = std::make_shared<EventHandlerFuncs>();
  thrower->add = [&](const api::ObjectPtr&, bool) {
    ++calls;
    throw std::runtime_error("boom");
  };
  auto reg = inf.add_event_handler(thrower);
  inf.start();
  ASSERT_TRUE(eventually([&] { return reg->has_synced(); }));
  EXPECT_EQ(calls.load(), 2);  // both delivered despite the first throw
}

TEST(SharedInformer, RemovedHandlerGetsNothingMore) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({}, "10"));
  auto w = fc.queue_watch();
  SharedInformer inf(fc, options(&clock));
  auto h = std::make_shared<Recorder>();
  auto other = std::make_shared<Recorder>();
  auto reg = inf.add_event_handler(h);
  inf.add_event_handler(other);
  inf.start();
  ASSERT_TRUE(fc.wait_watch_calls(1));
  ASSERT_TRUE(inf.remove_event_handler(reg).ok());
  EXPECT_TRUE(absl::IsNotFound(inf.remove_event_handler(reg)));
  w->push(event(WatchEvent::Type::kAdded, make_object("ns", "a", "11")));
  ASSERT_TRUE(eventually([&] { return other->count() == 1; }));
  EXPECT_EQ(h->count(), 0u);
}

TEST(SharedInformer, WaitForSyncErrorNamesKindVerbAndCause) {
  FakeClient fc;
  FakeClock clock;
  fc.wait_ = absl::Milliseconds(1);
  fc.set_list_fn([](const client::ResourceRef&,
                    const client::ListOptions&) -> absl::StatusOr<client::ObjectList> {
    return client::forbidden("", "secrets", "", "cannot list resource \"secrets\"");
  });
  InformerOptions o = options(&clock);
  o.reflector.description = "/v1, Kind=Secret";
  SharedInformer inf(fc, o);
  inf.start();
  ASSERT_TRUE(eventually([&] { return inf.status().errors > 0; }));
  absl::Status st = inf.wait_for_sync(absl::Milliseconds(50));
  EXPECT_TRUE(absl::IsDeadlineExceeded(st));
  EXPECT_NE(st.message().find("/v1, Kind=Secret"), absl::string_view::npos) << st;
  EXPECT_NE(st.message().find("list /v1, Kind=Secret"), absl::string_view::npos) << st;
  EXPECT_NE(st.message().find("forbidden"), absl::string_view::npos) << st;
}

TEST(SharedInformer, TransformAndKeepManagedFields) {
  FakeClient fc;
  FakeClock clock;
  fc.queue_list(page({make_object("ns", "a", "1", {}, true)}, "10"));
  fc.queue_watch();
  InformerOptions o = options(&clock);
  o.keep_managed_fields = true;
  o.transform = [](const api::ObjectPtr& obj) {
    api::Object copy(*obj);
    copy.set_label("transformed", "yes");
    return api::share(std::move(copy));
  };
  SharedInformer inf(fc, o);
  inf.start();
  ASSERT_TRUE(inf.wait_for_sync(absl::Seconds(5)).ok());
  auto obj = inf.indexer().get("ns/a");
  ASSERT_NE(obj, nullptr);
  EXPECT_TRUE(obj->has_managed_fields());
  EXPECT_EQ(obj->label("transformed"), "yes");
}

TEST(SharedInformer, SharedObjectsAreTheClientsOwn) {
  FakeClient fc;
  FakeClock clock;
  api::ObjectPtr listed = make_object("ns", "a", "1", {}, true);
  api::ObjectPtr watched = make_object("ns", "b", "11", {}, true);
  fc.queue_list(page({listed}, "10"));
  auto w = fc.queue_watch();
  InformerOptions o = options(&clock);
  o.share_objects = true;  // keep_managed_fields stays false: sharing wins, nothing is copied
  SharedInformer inf(fc, o);
  inf.start();
  ASSERT_TRUE(inf.wait_for_sync(absl::Seconds(5)).ok());
  w->push(event(WatchEvent::Type::kAdded, watched));
  EXPECT_EQ(inf.indexer().get("ns/a"), listed);
  EXPECT_TRUE(inf.indexer().get("ns/a")->has_managed_fields());
  ASSERT_TRUE(eventually([&] { return inf.indexer().get("ns/b") != nullptr; }));
  EXPECT_EQ(inf.indexer().get("ns/b"), watched);
}

}  // namespace
}  // namespace kop::cache
