// Helpers shared by the proxy core tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "kop/proxy/config.h"
#include "kop/proxy/route_table.h"

namespace kop::proxy::testing {

inline Config parse_or_die(std::string_view json) {
  auto c = parse_config(json);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : Config{};
}

inline std::shared_ptr<const RouteTable> compile_or_die(std::string_view json) {
  auto t = RouteTable::compile(parse_or_die(json));
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : nullptr;
}

}  // namespace kop::proxy::testing
