// Request mirroring in the proxy config (a forward route's `mirrors`): parsed with its default,
// rendered back to JSON, refused with the JSON path when out of range or naming no cluster, and
// compiled by the RouteTable into cluster indexes with their sampling.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "kop/proxy/config.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

using testing::compile_or_die;
using testing::parse_or_die;

std::string with_mirrors(std::string_view mirrors) {
  return std::string(R"({"version":"kop.proxy/v1","clusters":[{"name":"main"},{"name":"m1"},)"
                     R"({"name":"m2"}],"virtual_hosts":[{"name":"v","domains":["*"],"routes":[)"
                     R"({"forward":{"cluster":"main","mirrors":)") +
         std::string(mirrors) + "}}]}]}";
}

TEST(MirrorConfig, ParsedWithTheDefaultAndRenderedBack) {
  Config c =
      parse_or_die(with_mirrors(R"([{"cluster":"m1"},{"cluster":"m2","per_million":250000}])"));
  const ForwardAction& f = c.virtual_hosts[0]->routes[0].forward;
  ASSERT_EQ(f.mirrors.size(), 2U);
  EXPECT_EQ(f.mirrors[0].cluster, "m1");
  EXPECT_EQ(f.mirrors[0].per_million, 1000000U);
  EXPECT_EQ(f.mirrors[1].per_million, 250000U);
  EXPECT_TRUE(validate(c).ok()) << validate(c);
  EXPECT_EQ(parse_or_die(to_json(c)), c);
  // No mirrors: the field is left out of the JSON.
  EXPECT_EQ(to_json(parse_or_die(with_mirrors("[]"))).find("mirrors"), std::string::npos);
}

TEST(MirrorConfig, ErrorsNameTheJsonPath) {
  auto bad = parse_config(with_mirrors(R"([{"cluster":"m1","per_million":1000001}])"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("mirrors[0].per_million"), std::string::npos)
      << bad.status();
  auto missing = parse_config(with_mirrors(R"([{"per_million":5}])"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("mirrors[0].cluster"), std::string::npos)
      << missing.status();
  Config unknown = parse_or_die(with_mirrors(R"([{"cluster":"m1"},{"cluster":"nope"}])"));
  absl::Status s = validate(unknown);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("routes[0].forward.mirrors[1].cluster"), std::string::npos) << s;
  EXPECT_NE(s.message().find("unknown cluster \"nope\""), std::string::npos) << s;
}

TEST(MirrorConfig, CompiledToClusterIndexes) {
  auto t = compile_or_die(with_mirrors(R"([{"cluster":"m2","per_million":7},{"cluster":"m1"}])"));
  ASSERT_NE(t, nullptr);
  const Route& r = t->virtual_hosts()[0]->routes[0];
  ASSERT_EQ(r.mirrors.size(), 2U);
  EXPECT_EQ(t->cluster(r.mirrors[0].first).name, "m2");
  EXPECT_EQ(r.mirrors[0].second, 7U);
  EXPECT_EQ(t->cluster(r.mirrors[1].first).name, "m1");
  EXPECT_EQ(r.mirrors[1].second, 1000000U);
  // The main cluster is still the only one requests are answered from.
  ASSERT_EQ(r.clusters.size(), 1U);
  EXPECT_EQ(t->cluster(r.clusters[0].cluster).name, "main");
}

}  // namespace
}  // namespace kop::proxy
