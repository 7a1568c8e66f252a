// Route access control in the proxy core: source ranges (IPv4 and IPv6 CIDRs, bare addresses,
// deny before allow, families kept apart, IPv4-mapped clients judged as IPv4) and the request
// body limit; parsed, validated, rendered back to JSON and compiled into the RouteTable.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "kop/proxy/access_control.h"
#include "kop/proxy/config.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

using testing::compile_or_die;

SourceRangeFilter filter(std::vector<std::string> allow, std::vector<std::string> deny = {}) {
  auto f = SourceRangeFilter::compile(SourceRanges{std::move(allow), std::move(deny)});
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *f : SourceRangeFilter();
}

TEST(SourceRanges, AllowListAdmitsOnlyItsRanges) {
  auto f = filter({"10.0.0.0/8", "192.168.1.7", "2001:db8::/32"});
  EXPECT_TRUE(f.allows("10.1.2.3"));
  EXPECT_TRUE(f.allows("10.255.255.255"));
  EXPECT_FALSE(f.allows("11.0.0.0"));
  EXPECT_TRUE(f.allows("192.168.1.7"));
  EXPECT_FALSE(f.allows("192.168.1.8"));
  EXPECT_TRUE(f.allows("2001:db8:1::5"));
  EXPECT_FALSE(f.allows("2001:db9::1"));
  EXPECT_FALSE(f.allows("::1"));
}

TEST(SourceRanges, PrefixesThatEndInsideAByte) {
  auto f = filter({"172.16.0.0/12", "fe80::/10"});
  EXPECT_TRUE(f.allows("172.31.255.1"));
  EXPECT_FALSE(f.allows("172.32.0.1"));
  EXPECT_FALSE(f.allows("172.15.0.1"));
  EXPECT_TRUE(f.allows("febf::1"));
  EXPECT_FALSE(f.allows("fec0::1"));
}

TEST(SourceRanges, HostBitsPastThePrefixAreIgnoredAsNginxDoes) {
  auto f = filter({"10.1.2.3/8"});
  EXPECT_TRUE(f.allows("10.200.0.1"));
}

TEST(SourceRanges, DenyIsCheckedFirstAndAloneDeniesOnlyItsRanges) {
  auto both = filter({"127.0.0.0/8"}, {"127.0.0.1"});
  EXPECT_FALSE(both.allows("127.0.0.1"));
  EXPECT_TRUE(both.allows("127.0.0.2"));
  EXPECT_FALSE(both.allows("10.0.0.1"));
  auto deny = filter({}, {"192.0.2.0/24", "::1/128"});
  EXPECT_FALSE(deny.allows("192.0.2.9"));
  EXPECT_FALSE(deny.allows("::1"));
  EXPECT_TRUE(deny.allows("198.51.100.1"));
  EXPECT_TRUE(deny.allows("::2"));
}

TEST(SourceRanges, FamiliesStayApartAndMappedClientsAreIPv4) {
  auto v6all = filter({"::/0"});
  EXPECT_TRUE(v6all.allows("2001:db8::1"));
  EXPECT_FALSE(v6all.allows("10.0.0.1"));
  auto v4all = filter({"0.0.0.0/0"});
  EXPECT_TRUE(v4all.allows("203.0.113.5"));
  EXPECT_FALSE(v4all.allows("2001:db8::1"));
  // A dual-stack listener sees an IPv4 peer as ::ffff:a.b.c.d.
  auto ten = filter({"10.0.0.0/8"});
  EXPECT_TRUE(ten.allows("::ffff:10.9.8.7"));
  EXPECT_FALSE(ten.allows("::ffff:11.9.8.7"));
}

TEST(SourceRanges, AnAddressThatDoesNotParseIsRefused) {
  auto open = filter({}, {"192.0.2.1"});
  EXPECT_FALSE(open.allows(""));
  EXPECT_FALSE(open.allows("not-an-ip"));
  EXPECT_FALSE(open.allows("10.0.0.1:80"));
  EXPECT_FALSE(open.allows(std::string(100, '1')));
}

TEST(SourceRanges, BadRangesAreNamed) {
  for (std::string_view bad : {"10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/x", "",
                               "example.com", "10.0.0.0/8/8", "[::1]/128"}) {
    auto r = parse_address_range(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  auto ok = parse_address_range("2001:db8::/32");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->prefix, 32u);
  EXPECT_FALSE(ok->v4);
  auto v4 = parse_address_range("10.0.0.0/8");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->prefix, 104u);
  EXPECT_TRUE(v4->v4);
}

std::string config_with_route(std::string_view route_fields) {
  return std::string(R"({"version":"kop.proxy/v1","clusters":[{"name":"c"}],)") +
         R"("virtual_hosts":[{"name":"v","domains":["*"],"routes":[{"name":"r",)" +
         std::string(route_fields) + "}]}]}";
}

TEST(RouteAccess, ParsedRenderedAndCompiled) {
  std::string text = config_with_route(
      R"("forward":{"cluster":"c"},"source_ranges":{"allow":["10.0.0.0/8"],"deny":["10.0.0.1"]},)"
      R"("max_request_body_bytes":1048576)");
  auto c = parse_config(text);
  ASSERT_TRUE(c.ok()) << c.status();
  const RouteConfig& r = c->virtual_hosts[0]->routes[0];
  ASSERT_TRUE(r.source_ranges);
  EXPECT_EQ(r.source_ranges->allow, std::vector<std::string>{"10.0.0.0/8"});
  EXPECT_EQ(r.source_ranges->deny, std::vector<std::string>{"10.0.0.1"});
  EXPECT_EQ(r.max_request_body_bytes, 1048576u);
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
  auto table = compile_or_die(text);
  const Route& route = table->virtual_hosts()[0]->routes[0];
  ASSERT_TRUE(route.source_filter);
  EXPECT_TRUE(route.source_filter->allows("10.0.0.2"));
  EXPECT_FALSE(route.source_filter->allows("10.0.0.1"));
  auto none = compile_or_die(config_with_route(R"("forward":{"cluster":"c"})"));
  EXPECT_FALSE(none->virtual_hosts()[0]->routes[0].source_filter);
  EXPECT_EQ(none->virtual_hosts()[0]->routes[0].config->max_request_body_bytes, 0u);
}

TEST(RouteAccess, BadValuesNameTheirPath) {
  auto bad_range = parse_config(config_with_route(
      R"("forward":{"cluster":"c"},"source_ranges":{"deny":["10.0.0.0/8","300.0.0.0/8"]})"));
  ASSERT_TRUE(bad_range.ok());
  auto s = validate(*bad_range);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("virtual_hosts[0].routes[0].source_ranges.deny[1]"), std::string::npos)
      << s;
  auto unknown =
      parse_config(config_with_route(R"("forward":{"cluster":"c"},"source_ranges":{"permit":[]})"));
  EXPECT_FALSE(unknown.ok());
  auto redirect_limit = parse_config(
      config_with_route(R"("redirect":{"host":"a.example.com"},"max_request_body_bytes":10)"));
  ASSERT_TRUE(redirect_limit.ok());
  s = validate(*redirect_limit);
  EXPECT_NE(s.message().find("routes[0].max_request_body_bytes"), std::string::npos) << s;
  // Source ranges apply to every action, a redirect's too.
  auto redirect_ranges = parse_config(config_with_route(
      R"("redirect":{"host":"a.example.com"},"source_ranges":{"allow":["::1"]})"));
  ASSERT_TRUE(redirect_ranges.ok());
  EXPECT_TRUE(validate(*redirect_ranges).ok());
}

}  // namespace
}  // namespace kop::proxy
