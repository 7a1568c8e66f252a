#include "kop/proxy/config.h"

#include <gtest/gtest.h>

#include <string>

namespace kop::proxy {
namespace {

std::string error_of(std::string_view json) {
  auto c = parse_config(json);
  EXPECT_FALSE(c.ok()) << json;
  return c.ok() ? "" : std::string(c.status().message());
}

TEST(ConfigParse, Minimal) {
  auto c = parse_config(R"({"version": "kop.proxy/v1"})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->listeners.empty());
  EXPECT_EQ(c->admin.address.to_string(), "127.0.0.1:9901");
  EXPECT_TRUE(validate(*c).ok());
}

TEST(ConfigParse, InvalidPortNamesPath) {
  EXPECT_EQ(error_of(R"({"version":"kop.proxy/v1","clusters":[{"name":"a"},{"name":"b"},
      {"name":"c","endpoints":[{"address":"10.0.0.1:99999"}]}]})"),
            "clusters[2].endpoints[0].address: invalid port \"99999\"");
}

}  // namespace
}  // namespace kop::proxy
