// ShardedMap (sharded_map.h): a copy shares every shard, and a write to either map copies the
// shard it touches first, so the other map reads what it held. Checked against std::map copies
// over random writes to a chain of maps, each copied from the one before.
#include "kop/proxy/sharded_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kop/proxy/string_map.h"

namespace kop::proxy {
namespace {

using Map = ShardedMap<std::string, int, ICaseStringHash, ICaseStringEq>;

std::map<std::string, int> contents(const Map& m) {
  std::map<std::string, int> out;
  m.for_each([&](const std::string& k, int v) { out.emplace(k, v); });
  return out;
}

TEST(ShardedMap, FindsInsertsAndErases) {
  Map m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find(std::string_view("a.example.com")), nullptr);
  EXPECT_TRUE(m.emplace("a.example.com", 1).second);
  EXPECT_FALSE(m.emplace("A.Example.COM", 2).second);  // the hash and equality ignore case
  ASSERT_NE(m.find(std::string_view("A.EXAMPLE.com")), nullptr);
  EXPECT_EQ(*m.find(std::string_view("a.example.com")), 1);
  *m.find_mutable(std::string_view("a.example.com")) = 3;
  EXPECT_EQ(*m.find(std::string_view("a.example.com")), 3);
  EXPECT_EQ(m.find_mutable(std::string_view("b.example.com")), nullptr);
  EXPECT_FALSE(m.erase_unless(std::string_view("a.example.com"), [](int v) { return v == 3; }));
  EXPECT_TRUE(m.erase_unless(std::string_view("a.example.com"), [](int) { return false; }));
  EXPECT_FALSE(m.erase_unless(std::string_view("a.example.com"), [](int) { return false; }));
  EXPECT_TRUE(m.empty());
}

TEST(ShardedMap, CopiesNeverSeeEachOthersWrites) {
  std::mt19937 rng(7);
  std::vector<Map> maps(1);
  std::vector<std::map<std::string, int>> expected(1);
  for (int step = 0; step < 60; ++step) {
    // Copy any earlier map, then write to the copy or to the original.
    std::size_t from = rng() % maps.size();
    maps.push_back(maps[from]);
    expected.push_back(expected[from]);
    std::size_t target = rng() % 2 == 0 ? maps.size() - 1 : from;
    Map& m = maps[target];
    std::map<std::string, int>& e = expected[target];
    for (int w = 0; w < 50; ++w) {
      std::string key = "h" + std::to_string(rng() % 400) + ".example.com";
      switch (rng() % 3) {
        case 0: {
          bool inserted = m.emplace(key, step).second;
          EXPECT_EQ(inserted, e.emplace(key, step).second);
          break;
        }
        case 1:
          if (int* v = m.find_mutable(std::string_view(key))) {
            *v = -step;
            e[key] = -step;
          } else {
            EXPECT_EQ(e.count(key), 0u);
          }
          break;
        default:
          EXPECT_EQ(m.erase_unless(std::string_view(key), [](int) { return false; }),
                    e.erase(key) == 1);
      }
    }
    for (std::size_t i = 0; i < maps.size(); ++i) {
      ASSERT_EQ(contents(maps[i]), expected[i]) << "map " << i << " after step " << step;
      ASSERT_EQ(maps[i].size(), expected[i].size());
    }
  }
}

}  // namespace
}  // namespace kop::proxy
