// Hash key expressions (hash_expression.h) and consistent hashing on them: nginx variables
// read from the request, and an endpoint change moving only that endpoint's share of the keys.
#include "kop/proxy/hash_expression.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kop/proxy/cluster.h"
#include "kop/proxy/load_balancer.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

std::string eval(std::string_view expression, const RequestView& r) {
  auto e = HashExpression::parse(expression);
  EXPECT_TRUE(e.ok()) << e.status();
  std::string out;
  if (e.ok()) e->evaluate(r, out);
  return out;
}

TEST(HashExpression, NginxVariables) {
  std::vector<HeaderField> headers = {{"x-user", "ann"}, {"cookie", "a=1; session=s42"}};
  RequestView r;
  r.method = "GET";
  r.path = "/shop/cart";
  r.query = "id=7&lang=en";
  r.host = "Shop.Example.com:8080";
  r.client_address = "10.1.2.3";
  r.headers = headers;
  EXPECT_EQ(eval("$request_uri", r), "/shop/cart?id=7&lang=en");
  EXPECT_EQ(eval("$uri", r), "/shop/cart");
  EXPECT_EQ(eval("$args", r), "id=7&lang=en");
  EXPECT_EQ(eval("$query_string", r), "id=7&lang=en");
  EXPECT_EQ(eval("$host", r), "shop.example.com");
  EXPECT_EQ(eval("$remote_addr", r), "10.1.2.3");
  EXPECT_EQ(eval("$binary_remote_addr", r), "10.1.2.3");
  EXPECT_EQ(eval("$request_method", r), "GET");
  EXPECT_EQ(eval("$http_x_user", r), "ann");
  EXPECT_EQ(eval("$HTTP_X_USER", r), "ann");
  EXPECT_EQ(eval("$http_x_absent", r), "");
  EXPECT_EQ(eval("$cookie_session", r), "s42");
  EXPECT_EQ(eval("$arg_lang", r), "en");
  EXPECT_EQ(eval("$host$request_uri", r), "shop.example.com/shop/cart?id=7&lang=en");
  EXPECT_EQ(eval("user-$http_x_user/${uri}x", r), "user-ann//shop/cartx");
  EXPECT_EQ(eval("constant", r), "constant");
  // External authentication's sign-in URL (ext_auth.h) uses these.
  r.scheme = "https";
  EXPECT_EQ(eval("$scheme://$http_host", r), "https://Shop.Example.com:8080");
  EXPECT_EQ(eval("$pass_access_scheme", r), "https");
  EXPECT_EQ(eval("$escaped_request_uri", r), "%2Fshop%2Fcart%3Fid%3D7%26lang%3Den");
  r.query = {};
  EXPECT_EQ(eval("$request_uri", r), "/shop/cart");
  r.host = "[2001:db8::1]:443";
  EXPECT_EQ(eval("$host", r), "[2001:db8::1]");
}

TEST(HashExpression, UnknownVariablesAreErrors) {
  for (std::string_view bad : {"", "$", "$nosuch", "${uri", "$http_", "${}", "$server_name$uri"}) {
    auto e = HashExpression::parse(bad);
    EXPECT_FALSE(e.ok()) << bad;
  }
  auto e = HashExpression::parse("$request_uri$upstream_addr");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("$upstream_addr"), std::string::npos) << e.status();
}

std::string cluster_json(int endpoints, std::string_view expression) {
  std::string eps;
  for (int i = 0; i < endpoints; ++i)
    eps +=
        std::string(i ? "," : "") + R"({"address":"10.0.0.)" + std::to_string(i + 1) + R"(:80"})";
  return R"({"version":"kop.proxy/v1","clusters":[{"name":"c","lb_policy":"ring_hash",)" +
         std::string(R"("hash_on":{"expression":")") + std::string(expression) +
         R"("},"endpoints":[)" + eps + R"(]}],"virtual_hosts":[]})";
}

// The endpoint (address) each of `paths` goes to.
std::vector<std::string> placement(const RouteTable& t, const std::vector<std::string>& paths) {
  const Cluster& c = t.cluster(0);
  auto lb = make_load_balancer(c);
  std::vector<std::string> out;
  for (const auto& p : paths) {
    RequestView r;
    r.path = p;
    LbContext ctx;
    uint64_t key = 0;
    ctx.has_hash = c.hash_key(r, &key);
    ctx.hash = key;
    uint32_t ep = lb->choose(ctx);
    out.push_back(ep == kNoEndpoint ? "-" : std::string(c.endpoints[ep].address_text()));
  }
  return out;
}

TEST(HashExpression, ConsistentHashingMovesFewKeys) {
  // 5 and 6 endpoints of weight 1 get 512 ring points each (ring_size 4096).
  auto four = testing::compile_or_die(cluster_json(5, "$request_uri"));
  auto five = testing::compile_or_die(cluster_json(6, "$request_uri"));
  ASSERT_NE(four, nullptr);
  ASSERT_NE(five, nullptr);
  std::vector<std::string> paths;
  paths.reserve(2000);
  for (int i = 0; i < 2000; ++i) paths.push_back("/item/" + std::to_string(i));
  auto before = placement(*four, paths);
  EXPECT_EQ(before, placement(*four, paths));  // the same key, the same endpoint
  auto after = placement(*five, paths);
  int moved = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    EXPECT_EQ(after[i], "10.0.0.6:80") << "a key moved between two old endpoints";
  }
  // About a sixth moves to the new endpoint; modulo hashing would move five sixths.
  EXPECT_GT(moved, 150);
  EXPECT_LT(moved, 600);
}

TEST(HashExpression, ConfigRoundTripsAndIsValidated) {
  Config c = testing::parse_or_die(cluster_json(2, "$host$request_uri"));
  EXPECT_EQ(c.clusters[0]->hash_on->on, HashOn::kExpression);
  EXPECT_EQ(c.clusters[0]->hash_on->name, "$host$request_uri");
  auto again = parse_config(to_json(c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, c);
  auto bad = parse_config(cluster_json(2, "$nosuch"));
  absl::Status s = bad.ok() ? RouteTable::compile(*bad).status() : bad.status();
  EXPECT_NE(s.message().find("hash_on.expression"), std::string::npos) << s;
}

}  // namespace
}  // namespace kop::proxy
