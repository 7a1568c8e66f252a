// The event recorder against kop::local: Event fields, aggregation by count bump, a new Event
// after the old one is gone, the per-object spam filter (burst, then refill by time), and the
// combining of similar events (same reason, different messages) as client-go's EventCorrelator.
#include "kop/record/recorder.h"

#include <gtest/gtest.h>

#include <map>

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
  // Different reasons: neither aggregated nor combined, so each is a new Event.
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(r.event(env.pod("web"), kEventTypeNormal, "R" + std::to_string(i), "m").ok()) << i;
  }
  absl::Status dropped = r.event(env.pod("web"), kEventTypeNormal, "R25", "m");
  EXPECT_EQ(dropped.code(), absl::StatusCode::kResourceExhausted) << dropped;
  // Another object has its own bucket.
  EXPECT_TRUE(r.event(env.pod("db"), kEventTypeNormal, "R", "m").ok());
  env.now += absl::Minutes(4);
  EXPECT_FALSE(r.event(env.pod("web"), kEventTypeNormal, "R26", "m").ok());
  env.now += absl::Minutes(1) + absl::Seconds(1);
  absl::Status refilled = r.event(env.pod("web"), kEventTypeNormal, "R27", "m");
  EXPECT_TRUE(refilled.ok()) << refilled;
  EXPECT_FALSE(r.event(env.pod("web"), kEventTypeNormal, "R28", "m").ok());
  EXPECT_EQ(env.events().size(), 27u);
}

TEST(Recorder, RepeatedEventsTakeTokensToo) {
  Env env;
  Recorder r(env.client, env.options());
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "BackOff", "restarting").ok()) << i;
  }
  EXPECT_EQ(r.event(env.pod("web"), kEventTypeWarning, "BackOff", "restarting").code(),
            absl::StatusCode::kResourceExhausted);
  auto evs = env.events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]->get_int("/count"), 25);  // the dropped one did not bump it
  env.now += absl::Minutes(5);
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "BackOff", "restarting").ok());
  evs = env.events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]->get_int("/count"), 26);
  EXPECT_EQ(evs[0]->get_string("/lastTimestamp"), "2027-01-15T08:05:00Z");
}

// Messages of the events about "web" with reason `reason`, by message, with their counts.
std::map<std::string, int64_t> by_message(Env& env, std::string_view reason) {
  std::map<std::string, int64_t> out;
  for (const auto& e : env.events()) {
    if (e->get_string("/reason") == reason && e->get_string("/involvedObject/name") == "web") {
      out[std::string(e->get_string("/message").value_or(""))] = e->get_int("/count").value_or(0);
    }
  }
  return out;
}

TEST(Recorder, TenSimilarEventsWithinTenMinutesAreCombined) {
  Env env;
  Recorder r(env.client, env.options());
  // Nine different messages: nine Events.
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE(
        r.event(env.pod("web"), kEventTypeWarning, "Failed", "pull " + std::to_string(i)).ok());
    env.now += absl::Seconds(50);
  }
  EXPECT_EQ(by_message(env, "Failed").size(), 9u);
  // The tenth different message within the window: one combined Event instead.
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "Failed", "pull 9").ok());
  auto m = by_message(env, "Failed");
  ASSERT_EQ(m.size(), 10u);
  EXPECT_EQ(m.count("pull 9"), 0u);
  EXPECT_EQ(m["(combined from similar events): pull 9"], 1);
  // Further new messages bump that same Event, its message the latest one.
  env.now += absl::Seconds(10);
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "Failed", "pull 10").ok());
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "Failed", "pull 11").ok());
  m = by_message(env, "Failed");
  ASSERT_EQ(m.size(), 10u);
  EXPECT_EQ(m["(combined from similar events): pull 11"], 3);
  for (const auto& e : env.events()) {
    if (e->get_string("/message") == "(combined from similar events): pull 11") {
      EXPECT_EQ(e->get_string("/type"), "Warning");
      EXPECT_EQ(e->get_string("/involvedObject/name"), "web");
      EXPECT_EQ(e->get_string("/firstTimestamp"), "2027-01-15T08:07:30Z");
      EXPECT_EQ(e->get_string("/lastTimestamp"), "2027-01-15T08:07:40Z");
    }
  }
  // Another reason, or another object, is tracked apart.
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "Other", "pull 12").ok());
  ASSERT_TRUE(r.event(env.pod("db"), kEventTypeWarning, "Failed", "pull 12").ok());
  EXPECT_EQ(by_message(env, "Other").count("pull 12"), 1u);
  bool db_plain = false;
  for (const auto& e : env.events()) {
    if (e->get_string("/involvedObject/name") == "db")
      db_plain = e->get_string("/message") == "pull 12";
  }
  EXPECT_TRUE(db_plain);
}

TEST(Recorder, AGapOfMoreThanTenMinutesStartsSimilarTrackingAfresh) {
  Env env;
  Recorder r(env.client, env.options());
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE(
        r.event(env.pod("web"), kEventTypeNormal, "Scaled", "to " + std::to_string(i)).ok());
    env.now += absl::Minutes(1);
  }
  env.now += absl::Minutes(10);  // 11 minutes since the last one
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeNormal, "Scaled", "to 9").ok());
  auto m = by_message(env, "Scaled");
  EXPECT_EQ(m.size(), 10u);
  EXPECT_EQ(m["to 9"], 1);  // not combined: the count restarted with it
  // Eight more new ones within the window: still below ten different messages since the gap.
  for (int i = 10; i < 18; ++i) {
    ASSERT_TRUE(
        r.event(env.pod("web"), kEventTypeNormal, "Scaled", "to " + std::to_string(i)).ok());
  }
  m = by_message(env, "Scaled");
  EXPECT_EQ(m.size(), 18u);
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeNormal, "Scaled", "to 18").ok());
  EXPECT_EQ(by_message(env, "Scaled")["(combined from similar events): to 18"], 1);
}

TEST(Recorder, MessagesWithQuotesSurviveTheRepeatPatch) {
  Env env;
  Recorder r(env.client, env.options());
  std::string msg = "image \"web:1\" failed\nnext line";
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "Pull", msg).ok());
  ASSERT_TRUE(r.event(env.pod("web"), kEventTypeWarning, "Pull", msg).ok());
  auto evs = env.events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]->get_string("/message"), msg);
  EXPECT_EQ(evs[0]->get_int("/count"), 2);
}

}  // namespace
}  // namespace kop::record
