// forward.regex_rewrite: nginx's `rewrite REGEX SUBSTITUTION break` as ingress-nginx's
// rewrite-target uses it (the documented /something(/|$)(.*) -> /$2 example); parsed,
// validated, rendered back to JSON, and applied by the compiled route.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "kop/proxy/config.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

using testing::compile_or_die;

std::string config_with_route(std::string_view match, std::string_view rewrite) {
  return std::string(R"j({"version":"kop.proxy/v1","clusters":[{"name":"c"}],)j") +
         R"j("virtual_hosts":[{"name":"v","domains":["*"],"routes":[{"match":)j" +
         std::string(match) + R"j(,"forward":{"cluster":"c","regex_rewrite":)j" +
         std::string(rewrite) + "}}]}]}";
}

// The upstream path of `path`?`query` through the table's only route.
std::string upstream(const RouteTable& t, std::string_view path, std::string_view query = {}) {
  std::string out;
  t.virtual_hosts()[0]->routes.at(0).rewrite_path(path, query, out);
  return out;
}

TEST(RegexRewrite, IngressNginxRewriteExample) {
  auto t = compile_or_die(config_with_route(R"j({"regex":"(?i)/something(/|$)(.*).*"})j",
                                            R"j({"regex":"(?i)/something(/|$)(.*)",)j"
                                            R"j("substitution":"/$2"})j"));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(upstream(*t, "/something"), "/");
  EXPECT_EQ(upstream(*t, "/something/"), "/");
  EXPECT_EQ(upstream(*t, "/something/new"), "/new");
  EXPECT_EQ(upstream(*t, "/SOMETHING/new", "a=1"), "/new?a=1");
}

TEST(RegexRewrite, WholePathReplacedQueryArgumentsJoined) {
  auto t = compile_or_die(
      config_with_route(R"j({"prefix":"/"})j",
                        R"j({"regex":"^/v(\\d+)/(.*)$","substitution":"/api/$2?version=$1$9"})j"));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(upstream(*t, "/v2/users/7"), "/api/users/7?version=2");  // $9: no such group
  EXPECT_EQ(upstream(*t, "/v2/users", "page=3"), "/api/users?version=2&page=3");
  EXPECT_EQ(upstream(*t, "/other", "x=1"), "/other?x=1");  // no match: sent as it is
}

TEST(RegexRewrite, SearchedAnywhereAndWithoutGroups) {
  auto t = compile_or_die(
      config_with_route(R"j({"prefix":"/"})j", R"j({"regex":"/old","substitution":"/"})j"));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(upstream(*t, "/x/old/y"), "/");  // unanchored, as nginx's rewrite
  EXPECT_EQ(upstream(*t, "/new"), "/new");
}

TEST(RegexRewrite, RoundTripsAndBadValuesNameTheirField) {
  std::string json =
      config_with_route(R"j({"prefix":"/"})j", R"j({"regex":"/a(.*)","substitution":"/b$1"})j");
  auto c = parse_config(json);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->virtual_hosts[0]->routes[0].forward.regex_rewrite);
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);

  struct Bad {
    std::string rewrite;
    std::string field;
  };
  for (const Bad& b :
       {Bad{R"j({"regex":"/a(","substitution":"/b"})j", "regex_rewrite.regex"},
        Bad{R"j({"regex":"/a","substitution":"b"})j", "regex_rewrite.substitution"},
        Bad{R"j({"regex":"/a","substitution":"/b c"})j", "regex_rewrite.substitution"},
        Bad{R"j({"regex":"/a"})j", "regex_rewrite.substitution"}}) {
    auto parsed = parse_config(config_with_route(R"j({"prefix":"/"})j", b.rewrite));
    absl::Status s = parsed.ok() ? validate(*parsed) : parsed.status();
    EXPECT_FALSE(s.ok()) << b.rewrite;
    EXPECT_NE(std::string(s.message()).find(b.field), std::string::npos) << s;
  }
  auto both = parse_config(
      R"j({"version":"kop.proxy/v1","clusters":[{"name":"c"}],"virtual_hosts":[{"name":"v",)j"
      R"j("domains":["*"],"routes":[{"forward":{"cluster":"c","path_rewrite":"/x",)j"
      R"j("regex_rewrite":{"regex":"/","substitution":"/"}}}]}]})j");
  EXPECT_FALSE(both.ok());
}

}  // namespace
}  // namespace kop::proxy
