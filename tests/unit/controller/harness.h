// A controller for ConfigMaps built on a testing::Env, for the controller tests: build() with
// options and a reconcile function (and event filters), start() the cache and the controller,
// and read the metrics.
#pragma once

#include <absl/strings/match.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kop/controller/builder.h"
#include "kop/controller/controller.h"
#include "test_env.h"

namespace kop::controller::testing {

struct Harness {
  Env env;
  std::unique_ptr<Controller> controller;

  void build(ControllerOptions options, ReconcilerFunc::Fn fn,
             const std::vector<Predicate>& filter = {}) {
    options.registry = &env.registry;
    Builder b(env.cache);
    b.for_(kConfigMap).with_options(std::move(options));
    for (const auto& p : filter) b.with_event_filter(p);
    auto c = b.build(std::make_shared<ReconcilerFunc>(std::move(fn)));
    ASSERT_TRUE(c.ok()) << c.status();
    controller = std::move(*c);
  }
  void start() {
    env.cache.start();
    auto s = controller->start();
    ASSERT_TRUE(s.ok()) << s;
  }
  std::string metrics() const { return env.registry.expose(); }
  bool has_metric(const std::string& line) const { return absl::StrContains(metrics(), line); }
};

}  // namespace kop::controller::testing
