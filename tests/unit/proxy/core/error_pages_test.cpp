// Error pages and the per-route timeouts in the proxy config (a forward route's `error_pages`,
// `connect_timeout_ms`, retry `retry_window_ms` and `backoff_ms`): parsed, rendered back only when
// set, refused with the JSON path when out of range or naming no cluster, and compiled by the
// RouteTable into the error cluster's index and the statuses it takes.
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

std::string with_forward(std::string_view extra) {
  return std::string(R"({"version":"kop.proxy/v1","clusters":[{"name":"main"},{"name":"errors"}],)"
                     R"("virtual_hosts":[{"name":"v","domains":["*"],"routes":[)"
                     R"({"forward":{"cluster":"main")") +
         std::string(extra) + "}}]}]}";
}

constexpr std::string_view kErrorPages =
    R"(,"error_pages":{"statuses":[404,503],"cluster":"errors",)"
    R"("request_headers":[{"name":"x-namespace","value":"default"}]})";

TEST(ErrorPagesConfig, ParsedAndRenderedBack) {
  Config c = parse_or_die(with_forward(
      std::string(kErrorPages) +
      R"(,"connect_timeout_ms":2000,"retry":{"retry_window_ms":7000,"backoff_ms":250})"));
  const ForwardAction& f = c.virtual_hosts[0]->routes[0].forward;
  ASSERT_TRUE(f.error_pages);
  EXPECT_EQ(f.error_pages->statuses, (std::vector<uint32_t>{404, 503}));
  EXPECT_EQ(f.error_pages->cluster, "errors");
  ASSERT_EQ(f.error_pages->request_headers.size(), 1U);
  EXPECT_EQ(f.error_pages->request_headers[0].name, "x-namespace");
  EXPECT_EQ(f.connect_timeout, Millis(2000));
  EXPECT_EQ(f.retry.retry_window, Millis(7000));
  EXPECT_EQ(f.retry.backoff, Millis(250));
  EXPECT_TRUE(validate(c).ok()) << validate(c);
  EXPECT_EQ(parse_or_die(to_json(c)), c);
  // Unset, none of them is written: configs without them dump as before (the two clusters
  // have a connect_timeout_ms of their own).
  std::string plain = to_json(parse_or_die(with_forward("")));
  for (std::string_view field : {"error_pages", "retry_window_ms", "backoff_ms"})
    EXPECT_EQ(plain.find(field), std::string::npos) << field;
  size_t connect = 0;
  for (size_t at = plain.find("connect_timeout_ms"); at != std::string::npos;
       at = plain.find("connect_timeout_ms", at + 1))
    ++connect;
  EXPECT_EQ(connect, 2U);
}

TEST(ErrorPagesConfig, ErrorsNameTheJsonPath) {
  auto low = parse_config(with_forward(R"(,"error_pages":{"statuses":[200],"cluster":"errors"})"));
  ASSERT_FALSE(low.ok());
  EXPECT_NE(low.status().message().find("error_pages.statuses[0]"), std::string::npos)
      << low.status();
  auto empty = parse_config(with_forward(R"(,"error_pages":{"statuses":[],"cluster":"errors"})"));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("error_pages.statuses"), std::string::npos)
      << empty.status();
  auto nameless = parse_config(with_forward(R"(,"error_pages":{"statuses":[404]})"));
  ASSERT_FALSE(nameless.ok());
  EXPECT_NE(nameless.status().message().find("error_pages.cluster"), std::string::npos)
      << nameless.status();
  Config unknown =
      parse_or_die(with_forward(R"(,"error_pages":{"statuses":[404],"cluster":"nope"})"));
  absl::Status s = validate(unknown);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("routes[0].forward.error_pages.cluster"), std::string::npos) << s;
  Config header =
      parse_or_die(with_forward(R"(,"error_pages":{"statuses":[404],"cluster":"errors",)"
                                R"("request_headers":[{"name":"bad name","value":"x"}]})"));
  s = validate(header);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("error_pages.request_headers[0]"), std::string::npos) << s;
}

TEST(ErrorPagesConfig, CompiledToTheClusterAndItsStatuses) {
  auto t = compile_or_die(with_forward(kErrorPages));
  ASSERT_NE(t, nullptr);
  const Route& r = t->virtual_hosts()[0]->routes[0];
  ASSERT_NE(r.error_cluster, Route::kNoErrorCluster);
  EXPECT_EQ(t->cluster(r.error_cluster).name, "errors");
  EXPECT_TRUE(r.intercepts(404));
  EXPECT_TRUE(r.intercepts(503));
  EXPECT_FALSE(r.intercepts(500));
  EXPECT_FALSE(r.intercepts(200));
  auto plain = compile_or_die(with_forward(""));
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->virtual_hosts()[0]->routes[0].intercepts(404));
}

}  // namespace
}  // namespace kop::proxy
