// ListTracker (kop/ingress/list_diff.h): a listing against the previous one, by object pointer:
// changes in place, objects added and removed at any position, the same objects in another
// order (no change), and random sequences of all of these against a by-name reference.
#include "kop/ingress/list_diff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>

namespace kop::ingress {
namespace {

api::ObjectPtr object(const std::string& name) {
  api::Object o(api::GroupVersionKind{"", "v1", "Service"});
  o.set_name(name);
  o.set_namespace("default");
  return api::share(std::move(o));
}

std::set<const api::Object*> pointers(const std::vector<api::ObjectPtr>& v) {
  std::set<const api::Object*> out;
  for (const auto& o : v) out.insert(o.get());
  return out;
}

TEST(ListTracker, FindsWhatWasAddedRemovedOrReplacedAndNothingElse) {
  std::vector<api::ObjectPtr> list = {object("a"), object("b"), object("c"), object("d")};
  ListTracker t;
  ListDiff first = t.update(list);
  EXPECT_EQ(first.added.size(), 4u);
  EXPECT_TRUE(first.removed.empty());
  EXPECT_TRUE(t.update(list).empty());

  // The same objects in another order: no change.
  std::vector<api::ObjectPtr> shuffled = {list[2], list[0], list[3], list[1]};
  EXPECT_TRUE(t.update(shuffled).empty());

  // "b" replaced, "a" removed from the front (every later position moves), "e" added.
  api::ObjectPtr b2 = object("b"), e = object("e");
  std::vector<api::ObjectPtr> now = {list[2], list[3], b2, e};
  ListDiff d = t.update(now);
  EXPECT_EQ(pointers(d.added), (std::set<const api::Object*>{b2.get(), e.get()}));
  EXPECT_EQ(pointers(d.removed), (std::set<const api::Object*>{list[0].get(), list[1].get()}));

  EXPECT_EQ(t.update({}).removed.size(), 4u);
  t.reset();
  EXPECT_EQ(t.update(now).added.size(), 4u);
}

TEST(ListTracker, RandomListingsAgainstAReference) {
  std::mt19937 rng(3);
  std::vector<api::ObjectPtr> list;
  ListTracker t;
  for (int step = 0; step < 500; ++step) {
    std::vector<api::ObjectPtr> before = list;
    int what = static_cast<int>(rng() % 4);
    if (what == 0 || list.empty()) {
      list.insert(list.begin() + static_cast<std::ptrdiff_t>(rng() % (list.size() + 1)),
                  object("o" + std::to_string(step)));
    } else if (what == 1) {
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(rng() % list.size()));
    } else if (what == 2) {
      auto& o = list[rng() % list.size()];
      o = object(std::string(o->name()));
    } else {
      std::shuffle(list.begin(), list.end(), rng);
    }
    std::set<const api::Object*> was = pointers(before), is = pointers(list);
    std::set<const api::Object*> added, removed;
    std::set_difference(is.begin(), is.end(), was.begin(), was.end(),
                        std::inserter(added, added.end()));
    std::set_difference(was.begin(), was.end(), is.begin(), is.end(),
                        std::inserter(removed, removed.end()));
    ListDiff d = t.update(list);
    ASSERT_EQ(pointers(d.added), added) << "step " << step;
    ASSERT_EQ(pointers(d.removed), removed) << "step " << step;
    ASSERT_EQ(d.added.size(), added.size());
    ASSERT_EQ(d.removed.size(), removed.size());
  }
}

}  // namespace
}  // namespace kop::ingress
