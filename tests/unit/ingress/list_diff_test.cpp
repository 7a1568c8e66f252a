// ListTracker (kop/ingress/list_diff.h): a listing against the previous one, by object pointer:
// changes in place, objects added and removed at any position, the same objects in another
// order (no change), and random sequences of all of these against a by-name reference; the
// replacements recorded as status-only (StatusOnlyReplacements: runs of status writes, ended by
// any other update) reported apart, in place or moved, and the others as before.
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

// A copy of `o` with a status written: a new object, as the cache makes one per update.
api::ObjectPtr status_written(const api::ObjectPtr& o, const std::string& ip) {
  api::Object w(*o);
  EXPECT_TRUE(w.set_string("/status/ip", ip).ok());
  return api::share(std::move(w));
}

TEST(StatusOnlyReplacements, ARunOfStatusWritesEndsAtItsLastObjectUntilAnotherUpdate) {
  api::ObjectPtr a = object("a"), b = status_written(a, "1"), c = status_written(b, "2");
  StatusOnlyReplacements r;
  r.record(a, b, true);
  EXPECT_EQ(r.replaced(b.get()), a.get());
  r.record(b, c, true);  // the run goes on: c replaced a, b is no run's end any more
  EXPECT_EQ(r.replaced(c.get()), a.get());
  EXPECT_EQ(r.replaced(b.get()), nullptr);
  EXPECT_EQ(r.size(), 1u);
  r.record(c, c, true);  // a resync
  EXPECT_EQ(r.replaced(c.get()), a.get());
  api::ObjectPtr d = object("a");  // a spec change after the writes: not status-only
  r.record(c, d, false);
  EXPECT_EQ(r.replaced(d.get()), nullptr);
  EXPECT_EQ(r.replaced(c.get()), nullptr);
  EXPECT_TRUE(r.empty());
  api::ObjectPtr e = status_written(d, "3");  // a new run from the changed object
  r.record(d, e, true);
  EXPECT_EQ(r.replaced(e.get()), d.get());
}

TEST(ListTracker, StatusOnlyReplacementsComeApartInPlaceOrMoved) {
  std::vector<api::ObjectPtr> list = {object("a"), object("b"), object("c"), object("d")};
  ListTracker t;
  t.update(list);
  StatusOnlyReplacements writes;
  std::vector<api::ObjectPtr> now = list;
  for (api::ObjectPtr& o : now) {
    api::ObjectPtr w = status_written(o, "192.0.2.1");
    writes.record(o, w, true);
    o = w;
  }
  // "c" was written twice (one run), "d" changed after its write (no run any more).
  api::ObjectPtr c2 = status_written(now[2], "192.0.2.2");
  writes.record(now[2], c2, true);
  now[2] = c2;
  api::ObjectPtr d2 = object("d");
  writes.record(now[3], d2, false);
  now[3] = d2;
  // In another order, and "e" added: only "a", "b" and "c" are status-only.
  std::vector<api::ObjectPtr> shuffled = {now[1], object("e"), now[3], now[2], now[0]};
  ListDiff d = t.update(shuffled, &writes);
  std::set<std::pair<const api::Object*, const api::Object*>> pairs;
  for (const ListDiff::Replaced& r : d.status_only) pairs.insert({r.before.get(), r.after.get()});
  EXPECT_EQ(pairs, (std::set<std::pair<const api::Object*, const api::Object*>>{
                       {list[0].get(), now[0].get()},
                       {list[1].get(), now[1].get()},
                       {list[2].get(), c2.get()}}));
  EXPECT_EQ(pointers(d.added), (std::set<const api::Object*>{shuffled[1].get(), d2.get()}));
  EXPECT_EQ(pointers(d.removed), (std::set<const api::Object*>{list[3].get()}));

  // In place, as a status round leaves a listing patched key by key; without the record the
  // same replacements are an object removed and one added each.
  std::vector<api::ObjectPtr> again = shuffled;
  StatusOnlyReplacements more;
  for (size_t i : {0u, 4u}) {
    api::ObjectPtr w = status_written(again[i], "192.0.2.3");
    more.record(again[i], w, true);
    again[i] = w;
  }
  ListTracker copy;
  copy.update(shuffled);
  d = t.update(again, &more);
  ASSERT_EQ(d.status_only.size(), 2u);
  EXPECT_EQ(d.status_only[0].before, shuffled[0]);
  EXPECT_EQ(d.status_only[0].after, again[0]);
  EXPECT_EQ(d.status_only[1].after, again[4]);
  EXPECT_TRUE(d.added.empty() && d.removed.empty());
  d = copy.update(again);
  EXPECT_TRUE(d.status_only.empty());
  EXPECT_EQ(d.added.size(), 2u);
  EXPECT_EQ(d.removed.size(), 2u);
}

TEST(ListTracker, RandomListingsAgainstAReference) {
  std::mt19937 rng(3);
  std::vector<api::ObjectPtr> list;
  ListTracker t;
  size_t status_only_seen = 0;
  for (int step = 0; step < 500; ++step) {
    std::vector<api::ObjectPtr> before = list;
    StatusOnlyReplacements writes;  // taken by each build
    std::set<std::pair<const api::Object*, const api::Object*>> status_only;
    int what = static_cast<int>(rng() % 5);
    if (what == 4 && !list.empty()) {
      // Status writes, recorded or not (a record lost to a race), some listings reordered.
      for (int n = static_cast<int>(rng() % 3); n >= 0; --n) {
        api::ObjectPtr& o = list[rng() % list.size()];
        api::ObjectPtr w = status_written(o, std::to_string(step));
        const bool recorded = rng() % 4 != 0;
        writes.record(o, w, recorded);
        const bool first_write = pointers(before).count(o.get()) != 0;
        if (recorded && first_write) status_only.insert({o.get(), w.get()});
        if (recorded && !first_write)  // the run goes on from the listed object
          for (auto it = status_only.begin(); it != status_only.end(); ++it)
            if (it->second == o.get()) {
              auto run = std::pair{it->first, w.get()};
              status_only.erase(it);
              status_only.insert(run);
              break;
            }
        if (!recorded)
          std::erase_if(status_only, [&](const auto& p) { return p.second == o.get(); });
        o = w;
      }
      if (rng() % 2 == 0) std::shuffle(list.begin(), list.end(), rng);
    } else if (what == 0 || list.empty()) {
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
    for (const auto& [b, a] : status_only) {
      removed.erase(b);
      added.erase(a);
    }
    ListDiff d = t.update(list, &writes);
    std::set<std::pair<const api::Object*, const api::Object*>> got;
    for (const ListDiff::Replaced& r : d.status_only) got.insert({r.before.get(), r.after.get()});
    ASSERT_EQ(got, status_only) << "step " << step;
    ASSERT_EQ(d.status_only.size(), status_only.size());
    status_only_seen += got.size();
    ASSERT_EQ(pointers(d.added), added) << "step " << step;
    ASSERT_EQ(pointers(d.removed), removed) << "step " << step;
    ASSERT_EQ(d.added.size(), added.size());
    ASSERT_EQ(d.removed.size(), removed.size());
  }
  EXPECT_GT(status_only_seen, 50u);  // the status writes were exercised
}

}  // namespace
}  // namespace kop::ingress
