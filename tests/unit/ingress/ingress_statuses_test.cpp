// IngressStatuses (controllers/ingress_statuses.h): set, erase, find and assign; a copy shares
// every shard but the one a change touched, and keeps its own values when the original changes.
#include "../../../operators/ingress/controllers/ingress_statuses.h"

#include <gtest/gtest.h>

#include <string>

namespace kop::ingress {
namespace {

const DesiredIngressStatus kOurs{R"([{"ip":"192.0.2.1"}])", ""};
const DesiredIngressStatus kNotOurs{"[]", R"([{"ip":"192.0.2.1"}])"};

TEST(IngressStatuses, AChangeCopiesOneShardOnly) {
  IngressStatuses statuses;
  std::vector<std::pair<std::string, DesiredIngressStatus>> all;
  all.reserve(2000);
  for (int i = 0; i < 2000; ++i) all.emplace_back("default/ing-" + std::to_string(i), kOurs);
  statuses.assign(all);
  ASSERT_EQ(statuses.size(), 2000u);
  size_t listed = 0;
  for (const auto& shard : statuses.shards())
    if (shard) listed += shard->size();
  EXPECT_EQ(listed, 2000u);

  const IngressStatuses before = statuses;
  statuses.set("default/ing-7", kNotOurs);
  statuses.erase("default/ing-8");
  statuses.set("default/new", kOurs);
  statuses.set("default/ing-9", kOurs);  // unchanged: no copy
  EXPECT_EQ(statuses.size(), 2000u);
  EXPECT_EQ(*statuses.find("default/ing-7"), kNotOurs);
  EXPECT_EQ(statuses.find("default/ing-8"), nullptr);
  EXPECT_EQ(*statuses.find("default/new"), kOurs);
  // The copy is as it was.
  EXPECT_EQ(before.size(), 2000u);
  EXPECT_EQ(*before.find("default/ing-7"), kOurs);
  EXPECT_NE(before.find("default/ing-8"), nullptr);
  EXPECT_EQ(before.find("default/new"), nullptr);
  size_t shared = 0;
  for (size_t i = 0; i < IngressStatuses::kShards; ++i)
    shared += before.shards()[i] == statuses.shards()[i] ? 1 : 0;
  EXPECT_GE(shared, IngressStatuses::kShards - 3);  // at most the three changed shards differ

  for (int i = 0; i < 2000; ++i) statuses.erase("default/ing-" + std::to_string(i));
  statuses.erase("default/new");
  EXPECT_EQ(statuses.size(), 0u);
  for (const auto& shard : statuses.shards()) EXPECT_EQ(shard, nullptr);
}

}  // namespace
}  // namespace kop::ingress
