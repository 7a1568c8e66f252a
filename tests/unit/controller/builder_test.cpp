// Predicates, owner and map-function handlers, and the Builder's wiring, against kop::local with
// real informers.
#include "kop/controller/builder.h"

#include <gtest/gtest.h>

#include <atomic>

#include "test_env.h"

namespace kop::controller {
namespace {

using testing::eventually;
using testing::kConfigMap;
using testing::kSecret;
using testing::Recorder;

api::ObjectPtr obj(const std::function<void(api::Object&)>& fn) {
  api::Object o("v1", "ConfigMap");
  o.set_name("x");
  fn(o);
  return api::share(std::move(o));
}

TEST(Predicates, EachJudgesOnlyItsChange) {
  auto base = obj([](api::Object& o) {
    o.set_generation(1);
    o.set_resource_version("10");
    o.set_label("a", "1");
    o.set_annotation("n", "1");
  });
  auto same = obj([](api::Object& o) {
    o.set_generation(1);
    o.set_resource_version("10");
    o.set_label("a", "1");
    o.set_annotation("n", "1");
  });
  auto gen = obj([](api::Object& o) {
    o.set_generation(2);
    o.set_resource_version("11");
    o.set_label("a", "1");
    o.set_annotation("n", "1");
  });
  auto lab = obj([](api::Object& o) {
    o.set_generation(1);
    o.set_resource_version("11");
    o.set_label("a", "2");
    o.set_annotation("n", "1");
  });
  auto ann = obj([](api::Object& o) {
    o.set_generation(1);
    o.set_resource_version("11");
    o.set_label("a", "1");
    o.set_annotation("n", "2");
  });
  EXPECT_FALSE(generation_changed().on_update({base, same}));
  EXPECT_TRUE(generation_changed().on_update({base, gen}));
  EXPECT_FALSE(generation_changed().on_update({base, lab}));
  EXPECT_FALSE(resource_version_changed().on_update({base, same}));
  EXPECT_TRUE(resource_version_changed().on_update({base, ann}));
  EXPECT_TRUE(label_changed().on_update({base, lab}));
  EXPECT_FALSE(label_changed().on_update({base, ann}));
  EXPECT_TRUE(annotation_changed().on_update({base, ann}));
  EXPECT_FALSE(annotation_changed().on_update({base, lab}));
  // Creates, deletes and generic events pass the built-in ones.
  EXPECT_TRUE(generation_changed().on_create({base}));
  EXPECT_TRUE(label_changed().on_delete({base, false}));
  EXPECT_TRUE(annotation_changed().on_generic({base}));
}

TEST(Predicates, AndOrNotCustom) {
  auto base = obj([](api::Object& o) { o.set_label("a", "1"); });
  auto lab = obj([](api::Object& o) { o.set_label("a", "2"); });
  auto ann = obj([](api::Object& o) {
    o.set_label("a", "1");
    o.set_annotation("n", "2");
  });
  auto both = obj([](api::Object& o) {
    o.set_label("a", "2");
    o.set_annotation("n", "2");
  });
  auto l_and_a = all_of({label_changed(), annotation_changed()});
  auto l_or_a = any_of({label_changed(), annotation_changed()});
  EXPECT_FALSE(l_and_a.on_update({base, lab}));
  EXPECT_TRUE(l_and_a.on_update({base, both}));
  EXPECT_TRUE(l_or_a.on_update({base, lab}));
  EXPECT_TRUE(l_or_a.on_update({base, ann}));
  EXPECT_FALSE(l_or_a.on_update({base, base}));
  EXPECT_TRUE(negate(label_changed()).on_update({base, ann}));
  EXPECT_FALSE(negate(label_changed()).on_update({base, lab}));
  EXPECT_TRUE(all_of({}).on_create({base}));
  EXPECT_FALSE(any_of({}).on_create({base}));
  auto named_x = new_predicate_func([](const api::Object& o) { return o.label("a") == "2"; });
  EXPECT_FALSE(named_x.on_create({base}));
  EXPECT_TRUE(named_x.on_update({base, lab}));
  EXPECT_TRUE(pass({label_changed(), named_x}, UpdateEvent{base, lab}));
  EXPECT_FALSE(pass({label_changed(), named_x}, UpdateEvent{lab, base}));
}

TEST(Handlers, OwnerRequestsFollowControllerReferencesOfTheOwnerKind) {
  api::Object o("v1", "Secret");
  o.set_namespace("ns");
  o.set_name("child");
  o.set_owner_references({
      {"examples.kop.dev/v1alpha1", "Website", "site", "u1", true, true},
      {"examples.kop.dev/v1alpha1", "Website", "other", "u2", std::nullopt, std::nullopt},
      {"apps/v1", "Website", "wrong-group", "u3", true, std::nullopt},
  });
  api::GroupKind website{"examples.kop.dev", "Website"};
  auto only = owner_requests(o, website, {});
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0], (Request{"ns", "site"}));
  auto all = owner_requests(o, website, {.only_controller = false});
  EXPECT_EQ(all.size(), 2u);
  auto cluster = owner_requests(o, website, {.owner_namespaced = false});
  ASSERT_EQ(cluster.size(), 1u);
  EXPECT_EQ(cluster[0], (Request{"", "site"}));
}

struct Fixture {
  testing::Env env;
  Recorder rec;
  std::unique_ptr<Controller> controller;
  std::shared_ptr<Reconciler> reconciler() {
    return std::make_shared<ReconcilerFunc>(
        [this](const Context&, const Request& r) -> absl::StatusOr<Result> {
          rec.enter(r.key());
          rec.leave(r.key());
          return Result{};
        });
  }
  void start(absl::StatusOr<std::unique_ptr<Controller>> c) {
    ASSERT_TRUE(c.ok()) << c.status();
    controller = std::move(*c);
    env.cache.start();
    ASSERT_TRUE(controller->start().ok());
  }
  // No more reconciles of `key` than `n` within a while.
  void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(250)); }
};

// The update contract written in handler.h: a predicate built with new_predicate_func judges
// object_new only, and a map function then sees object_old too, which no predicate checked.
TEST(Handlers, AMapFunctionSeesTheOldObjectOfAnUpdateThePredicatePassed) {
  auto is_copy = new_predicate_func([](const api::Object& o) { return o.has_annotation("from"); });
  std::vector<std::string> seen;
  auto handler = enqueue_requests_from_map_func([&](const api::Object& o) -> std::vector<Request> {
    seen.emplace_back(o.annotation("from").value_or("(none)"));
    auto from = o.annotation("from");
    if (!from) return {};
    return {Request{std::string(o.namespace_()), std::string(*from)}};
  });
  auto before = obj([](api::Object&) {});
  auto after = obj([](api::Object& o) { o.set_annotation("from", "src"); });
  UpdateEvent e{before, after};
  ASSERT_TRUE(pass({is_copy}, e));
  workqueue::RateLimitingQueue<Request> q;
  handler->update(e, q);
  EXPECT_EQ(seen, (std::vector<std::string>{"(none)", "src"}));
  ASSERT_EQ(q.len(), 1u);
  EXPECT_EQ(q.get()->name, "src");
  q.shutdown();
}

TEST(Builder, EventFilterDropsUpdatesThatDoNotPass) {
  Fixture run;
  run.env.create(kConfigMap, "cm");
  ControllerOptions o{.name = "labels"};
  o.registry = &run.env.registry;
  run.start(Builder(run.env.cache)
                .for_(kConfigMap)
                .with_event_filter(label_changed())
                .with_options(o)
                .build(run.reconciler()));
  ASSERT_TRUE(eventually([&] { return run.rec.calls("default/cm") == 1; }));  // create passes
  run.env.edit(kConfigMap, "cm",
               [](api::Object& o) { o.set_json("/data", R"({"k":"v"})").IgnoreError(); });
  run.settle();
  EXPECT_EQ(run.rec.calls("default/cm"), 1);  // data change filtered out
  run.env.edit(kConfigMap, "cm", [](api::Object& o) { o.set_label("tier", "web"); });
  ASSERT_TRUE(eventually([&] { return run.rec.calls("default/cm") == 2; }))
      << run.rec.calls("default/cm")
      << " rv=" << run.env.cache.get(kConfigMap, "default", "cm").value()->resource_version();
}

TEST(Builder, OwnsEnqueuesTheControllerOwner) {
  Fixture run;
  auto parent = run.env.create(kConfigMap, "parent");
  auto other = run.env.create(kConfigMap, "other");
  ControllerOptions o;
  o.registry = &run.env.registry;
  run.start(Builder(run.env.cache)
                .for_(kConfigMap)
                .owns(kSecret)
                .with_options(o)
                .build(run.reconciler()));
  EXPECT_EQ(run.controller->name(), "configmap");
  ASSERT_TRUE(eventually([&] { return run.rec.calls("default/parent") == 1; }));
  ASSERT_TRUE(eventually([&] { return run.rec.calls("default/other") == 1; }));
  run.env.create(kSecret, "child", [&](api::Object& s) {
    s.set_owner_references(
        {api::OwnerReference{"v1", "ConfigMap", "parent", std::string(parent->uid()), true, true},
         api::OwnerReference{"v1", "ConfigMap", "other", std::string(other->uid()), false, false}});
  });
  ASSERT_TRUE(eventually([&] { return run.rec.calls("default/parent") == 2; }));
  run.env.edit(kSecret, "child", [](api::Object& s) { s.set_label("x", "1"); });
  ASSERT_TRUE(eventually([&] { return run.rec.calls("default/parent") == 3; }));
  ASSERT_TRUE(run.env.client.remove(run.env.ref(kSecret, "default", "child")).ok());
  ASSERT_TRUE(eventually([&] { return run.rec.calls("default/parent") == 4; }));
  run.settle();
  EXPECT_EQ(run.rec.calls("default/other"), 1);  // not the controller owner
  EXPECT_EQ(run.rec.calls("default/child"), 0);  // a Secret is not reconciled itself
}

TEST(Builder, MapFuncAndChannelSource) {
  Fixture run;
  auto channel = std::make_shared<ChannelSource>();
  ControllerOptions o;
  o.registry = &run.env.registry;
  run.start(Builder(run.env.cache)
                .named("mapped")
                .watches(kSecret, enqueue_requests_from_map_func([](const api::Object& s) {
                           std::vector<Request> out;
                           if (auto t = s.label("target"))
                             out.push_back({"default", std::string(*t)});
                           return out;
                         }))
                .watches(channel, enqueue_request_for_object())
                .with_options(o)
                .build(run.reconciler()));
  run.env.create(kSecret, "s1", [](api::Object& s) { s.set_label("target", "alpha"); });
  run.env.create(kSecret, "s2");
  ASSERT_TRUE(eventually([&] { return run.rec.calls("default/alpha") == 1; }));
  api::Object ping("v1", "ConfigMap");
  ping.set_namespace("elsewhere");
  ping.set_name("ping");
  channel->send(api::share(std::move(ping)));
  ASSERT_TRUE(eventually([&] { return run.rec.calls("elsewhere/ping") == 1; }));
  run.settle();
  EXPECT_EQ(run.rec.total(), 2);
}

TEST(Builder, RejectsIncompleteConfigurations) {
  testing::Env env;
  auto r = std::make_shared<ReconcilerFunc>(
      [](const Context&, const Request&) -> absl::StatusOr<Result> { return Result{}; });
  EXPECT_FALSE(Builder(env.cache).build(r).ok());                           // no for_, no name
  EXPECT_FALSE(Builder(env.cache).named("x").owns(kSecret).build(r).ok());  // owns without for_
  EXPECT_FALSE(Builder(env.cache).for_(kConfigMap).for_(kSecret).build(r).ok());
  EXPECT_FALSE(Builder(env.cache).for_(kConfigMap).build(nullptr).ok());
}

}  // namespace
}  // namespace kop::controller
