#include "kop/proxy/route_table.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace kop::proxy {
namespace {

using testing::compile_or_die;

constexpr std::string_view kBasic = R"({
  "version": "kop.proxy/v1",
  "listeners": [{"name": "http", "address": "0.0.0.0:8080"}],
  "virtual_hosts": [
    {"name": "exact", "domains": ["a.example.com"],
     "routes": [{"name": "a", "forward": {"cluster": "c"}}]},
    {"name": "wild", "domains": ["*.example.com"],
     "routes": [{"name": "w", "forward": {"cluster": "c"}}]},
    {"name": "any", "domains": ["*"],
     "routes": [{"name": "any", "direct_response": {"status": 404}}]}
  ],
  "clusters": [{"name": "c", "endpoints": ["127.0.0.1:9000"]}]
})";

TEST(RouteTable, HostSelection) {
  auto t = compile_or_die(kBasic);
  ASSERT_NE(t, nullptr);
  auto vh = [&](std::string_view host) {
    const VirtualHost* v = t->find_virtual_host("http", host);
    return v == nullptr ? std::string("<null>") : v->name;
  };
  EXPECT_EQ(vh("a.example.com"), "exact");
  EXPECT_EQ(vh("A.Example.COM:8080"), "exact");
  EXPECT_EQ(vh("b.example.com"), "wild");
  EXPECT_EQ(vh("x.y.example.com"), "any");  // wildcard matches exactly one label
  EXPECT_EQ(vh("example.com"), "any");
  EXPECT_EQ(vh("[::1]:8080"), "any");
}

TEST(RouteTable, PrefixMatch) {
  auto t = compile_or_die(R"({
    "version": "kop.proxy/v1",
    "listeners": [{"name": "http", "address": "0.0.0.0:8080"}],
    "virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [
      {"name": "foo", "match": {"prefix": "/foo"}, "forward": {"cluster": "c"}},
      {"name": "root", "match": {"prefix": "/"}, "forward": {"cluster": "c"}}]}],
    "clusters": [{"name": "c", "endpoints": ["127.0.0.1:9000"]}]
  })");
  ASSERT_NE(t, nullptr);
  const VirtualHost* v = t->find_virtual_host("http", "x");
  ASSERT_NE(v, nullptr);
  auto route = [&](std::string_view path) {
    RequestView r;
    r.method = "GET";
    r.path = path;
    const Route* m = t->match(*v, r);
    return m == nullptr ? std::string("<null>") : m->name;
  };
  EXPECT_EQ(route("/foo"), "foo");
  EXPECT_EQ(route("/foo/bar"), "foo");
  EXPECT_EQ(route("/foobar"), "root");
}

}  // namespace
}  // namespace kop::proxy
