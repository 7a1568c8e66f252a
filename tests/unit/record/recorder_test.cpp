// The event recorder against kop::local: Event fields, aggregation by count bump, a new Event
// after the old one is gone, and the per-object spam filter (burst, then refill by time).
#include "kop/record/recorder.h"

#include <gtest/gtest.h>

#include "kop/client/errors.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"

namespace kop::record {
namespace {

struct Env {
  std::shared_ptr<local::Store> store = std::make_shared<local::Store>();
  local::LocalClient client{store};
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  api::Object pod(std::string name) {
    api::Object o("v1", "ConfigMap");
    o.set_namespace("default");
    o.set_name(name);
    o.set_uid("uid-" + name);
    return o;
  }
  std::vector<api::ObjectPtr> events() {
    auto l = client.list(client::ResourceRef{"", "v1", "events", {}, "default", {}});
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? l->items : std::vector<api::ObjectPtr>{};
  }
  RecorderOptions options() {
    return {.component = "test-controller", .now = [this] { return now; }};
  }
};

TEST(Recorder, WritesACoreEvent) {
  Env env;
  Recorder r(env.client, env.options());
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeNormal, "Created", "made it").ok());
  auto evs = env.events();
  ASSERT_EQ(evs.size(), 1u);
  const api::Object& e = *evs[0];
  EXPECT_EQ(e.get_string("/involvedObject/kind"), "ConfigMap");
  EXPECT_EQ(e.get_string("/involvedObject/name"), "web");
  EXPECT_EQ(e.get_string("/involvedObject/namespace"), "default");
  EXPECT_EQ(e.get_string("/involvedObject/uid"), "uid-web");
  EXPECT_EQ(e.get_string("/reason"), "Created");
  EXPECT_EQ(e.get_string("/message"), "made it");
  EXPECT_EQ(e.get_string("/type"), "Normal");
  EXPECT_EQ(e.get_string("/source/component"), "test-controller");
  EXPECT_EQ(e.get_string("/firstTimestamp"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(e.get_string("/lastTimestamp"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(e.get_int("/count"), 1);
  EXPECT_TRUE(e.name().starts_with("web."));
  EXPECT_FALSE(r.event(env.pod("web"), "Info", "X", "y").ok());
}

TEST(Recorder, SameEventBumpsCountAndLastTimestamp) {
  Env env;
  Recorder r(env.client, env.options());
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "Failed", "no").ok());
  env.now += absl::Seconds(30);
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "Failed", "no").ok());
  env.now += absl::Seconds(30);
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "Failed", "no").ok());
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "Failed", "other message").ok());
  auto evs = env.events();
  ASSERT_EQ(evs.size(), 2u);
  for (const auto& e : evs) {
    if (e->get_string("/message") == "no") {
      EXPECT_EQ(e->get_int("/count"), 3);
      EXPECT_EQ(e->get_string("/firstTimestamp"), "2027-01-15T08:00:00Z");
      EXPECT_EQ(e->get_string("/lastTimestamp"), "2027-01-15T08:01:00Z");
    } else {
      EXPECT_EQ(e->get_int("/count"), 1);
    }
  }
}

TEST(Recorder, DeletedEventIsWrittenAgain) {
  Env env;
  Recorder r(env.client, env.options());
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeNormal, "Synced", "ok").ok());
  auto evs = env.events();
  ASSERT_EQ(evs.size(), 1u);
  ASSERT_TRUE(env.client
                  .remove(client::ResourceRef{
                      "", "v1", "events", {}, "default", std::string(evs[0]->name())})
                  .ok());
  env.now += absl::Seconds(1);
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeNormal, "Synced", "ok").ok());
  evs = env.events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]->get_int("/count"), 1);
}

TEST(Recorder, SpamFilterAllowsABurstOf25PerObjectThenOnePerFiveMinutes) {
  Env env;
  Recorder r(env.client, env.options());
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(r.event(env.pod("web"), kEventTypeNormal, "R", "m" + std::to_string(i)).ok()) << i;
  }
  absl::Status dropped = r.event(env.pod("web"), kEventTypeNormal, "R", "m25");
  EXPECT_EQ(dropped.code(), absl::StatusCode::kResourceExhausted) << dropped;
  // Another object has its own bucket.
  EXPECT_TRUE(r.event(env.pod("db"), kEventTypeNormal, "R", "m").ok());
  env.now += absl::Minutes(4);
  EXPECT_FALSE(r.event(env.pod("web"), kEventTypeNormal, "R", "m26").ok());
  env.now += absl::Minutes(1) + absl::Seconds(1);
  absl::Status refilled = r.event(env.pod("web"), kEventTypeNormal, "R", "m27");
  EXPECT_TRUE(refilled.ok()) << refilled;
  EXPECT_FALSE(r.event(env.pod("web"), kEventTypeNormal, "R", "m28").ok());
  EXPECT_EQ(env.events().size(), 27u);
}

}  // namespace
}  // namespace kop::record
