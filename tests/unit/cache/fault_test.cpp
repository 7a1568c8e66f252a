// The informer under faults, against kop::local: watches dropped at random, forced 410s and a
// short event history, while a writer creates, updates and deletes objects. When the writer
// stops, the informer's store must equal the server's state and every handler must have seen
// each object's final state (its last add/update carries the server's resourceVersion, and
// objects that no longer exist were last reported deleted).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <thread>

#include "final_states.h"
#include "kop/cache/cache.h"
#include "kop/cache/shared_informer.h"
#include "kop/client/errors.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"
#include "test_util.h"

namespace kop::cache {
namespace {

using testing::eventually;

using testing::cache_state;
using testing::FinalStates;
using testing::server_state;

TEST(InformerUnderFaults, EndsEqualToServerAndHandlersSawFinalStates) {
  local::StoreOptions so;
  so.history_size = 40;  // short history: resuming often hits 410 for real
  so.bookmark_interval = absl::Milliseconds(50);
  auto store = std::make_shared<local::Store>(so);
  local::LocalClient client(store);
  const client::ResourceRef all{"", "v1", "configmaps", {}, ""};
  const client::ResourceRef in_default = all.in("default");

  InformerOptions io;
  io.reflector.ref = all;
  io.reflector.page_size = 7;                            // many pages
  io.reflector.backoff.initial = absl::Milliseconds(5);  // scaled down so the test is short
  io.reflector.backoff.max = absl::Milliseconds(50);
  metrics::Registry reg;
  io.reflector.registry = &reg;
  SharedInformer informer(client, io);
  auto early = std::make_shared<FinalStates>();
  auto slow = std::make_shared<FinalStates>();
  informer.add_event_handler(early);
  auto slow_wrapper = std::make_shared<EventHandlerFuncs>();
  slow_wrapper->add = [&](const api::ObjectPtr& o, bool i) {
    absl::SleepFor(absl::Microseconds(200));  // a slow handler must still end correct
    slow->on_add(o, i);
  };
  slow_wrapper->update = [&](const api::ObjectPtr& a, const api::ObjectPtr& b) {
    absl::SleepFor(absl::Microseconds(200));
    slow->on_update(a, b);
  };
  slow_wrapper->del = [&](const api::ObjectPtr& o, bool u) { slow->on_delete(o, u); };
  informer.add_event_handler(slow_wrapper);

  // Some objects before the informer starts.
  for (int i = 0; i < 20; ++i) {
    api::Object cm("v1", "ConfigMap");
    cm.set_name("pre-" + std::to_string(i));
    cm.set_namespace("default");
    ASSERT_TRUE(client.create(in_default, cm).ok());
  }
  store->faults().close_watches_randomly(0.05, 7);
  informer.start();

  std::mt19937 rng(12345);
  std::shared_ptr<FinalStates> late;
  HandlerRegistrationPtr late_reg;
  for (int op = 0; op < 1500; ++op) {
    if (op == 700) {  // a handler registered mid-stream
      late = std::make_shared<FinalStates>();
      late_reg = informer.add_event_handler(late);
    }
    if (op % 250 == 100) store->faults().fail("watch", 410, 2);  // forced 410 Expired
    if (op % 400 == 300) store->faults().fail("list", 500, 1);   // a failing relist
    std::string name = "obj-" + std::to_string(rng() % 60);
    int what = rng() % 10;
    if (what < 4) {
      api::Object cm("v1", "ConfigMap");
      cm.set_name(name);
      cm.set_namespace("default");
      (void)cm.set_string("/data/v", std::to_string(op));
      (void)client.create(in_default, cm);  // AlreadyExists is fine
    } else if (what < 8) {
      api::Object cm("v1", "ConfigMap");
      cm.set_name(name);
      cm.set_namespace("default");
      (void)cm.set_string("/data/v", std::to_string(op));
      (void)client.update(in_default.named(name), cm);  // NotFound is fine
    } else {
      (void)client.remove(in_default.named(name));
    }
    absl::SleepFor(absl::Milliseconds(1));  // let watches interleave with writes
  }
  store->faults().clear();
  const auto want = server_state(client, all);
  ASSERT_GT(want.size(), 10u);

  EXPECT_TRUE(
      eventually([&] { return cache_state(informer.indexer()) == want; }, absl::Seconds(20)));
  EXPECT_EQ(cache_state(informer.indexer()), want);
  EXPECT_TRUE(eventually([&] { return early->live() == want; }, absl::Seconds(20)));
  EXPECT_EQ(early->live(), want);
  EXPECT_TRUE(eventually([&] { return slow->live() == want; }, absl::Seconds(20)));
  EXPECT_EQ(slow->live(), want);
  ASSERT_NE(late, nullptr);
  EXPECT_TRUE(eventually([&] { return late->live() == want; }, absl::Seconds(20)));
  EXPECT_EQ(late->live(), want);
  EXPECT_TRUE(late_reg->has_synced());

  // The faults really happened: watches were restarted and 410s forced relists.
  ReflectorStatus st = informer.status();
  EXPECT_GT(st.watches, 5u) << "watches";
  EXPECT_GE(st.relists_gone, 1u) << "relists after 410";
  EXPECT_GE(st.lists, 2u);
  std::printf(
      "faults: lists=%llu relists_gone=%llu watches=%llu events=%llu errors=%llu\n",
      static_cast<unsigned long long>(st.lists), static_cast<unsigned long long>(st.relists_gone),
      static_cast<unsigned long long>(st.watches), static_cast<unsigned long long>(st.watch_events),
      static_cast<unsigned long long>(st.errors));
  informer.stop();
}

// The Cache end to end over kop::local: kinds mapped by the transport (no plural given),
// per-kind namespaces, live changes visible to readers, deletes too.
TEST(CacheOverLocal, NamespacedReadsFollowTheServer) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  const client::ResourceRef cms{"", "v1", "configmaps", {}, ""};
  for (const char* ns : {"team-a", "team-b"}) {
    api::Object n("v1", "Namespace");
    n.set_name(ns);
    ASSERT_TRUE(client.create({"", "v1", "namespaces", {}, ""}, n).ok());
    api::Object cm("v1", "ConfigMap");
    cm.set_name("settings");
    cm.set_namespace(ns);
    cm.set_label("app", "web");
    ASSERT_TRUE(client.create(cms.in(ns), cm).ok());
  }
  const api::GroupVersionKind kConfigMap{"", "v1", "ConfigMap"};
  CacheOptions o;
  ByObject by;
  by.namespaces = std::vector<std::string>{"team-a"};
  o.by_object[kConfigMap] = by;
  metrics::Registry reg;
  o.reflector.registry = &reg;
  Cache cache(client, o);
  ASSERT_TRUE(cache.get_informer(kConfigMap).ok());
  cache.start();
  ASSERT_TRUE(cache.wait_for_cache_sync(absl::Seconds(10)).ok());

  auto got = cache.get(kConfigMap, "team-a", "settings");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->label("app"), "web");
  EXPECT_TRUE(absl::IsFailedPrecondition(cache.get(kConfigMap, "team-b", "settings").status()));

  api::Object extra("v1", "ConfigMap");
  extra.set_name("extra");
  extra.set_namespace("team-a");
  ASSERT_TRUE(client.create(cms.in("team-a"), extra).ok());
  EXPECT_TRUE(eventually([&] { return cache.get(kConfigMap, "team-a", "extra").ok(); }));
  ASSERT_TRUE(client.remove(cms.in("team-a").named("settings")).ok());
  EXPECT_TRUE(eventually(
      [&] { return client::is_not_found(cache.get(kConfigMap, "team-a", "settings").status()); }));
  auto all = cache.list(kConfigMap);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0]->key(), "team-a/extra");
}

}  // namespace
}  // namespace kop::cache
