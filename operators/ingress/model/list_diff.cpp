// ListTracker::update(): a positional pointer compare, then the moved objects matched by pointer
// (list_diff.h states the contract).
#include "kop/ingress/list_diff.h"

#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <initializer_list>
#include <string_view>

namespace kop::ingress {

ListDiff ListTracker::update(const std::vector<api::ObjectPtr>& now) {
  ListDiff d;
  const size_t common = std::min(last_.size(), now.size());
  for (size_t i = 0; i < common; ++i) {
    if (last_[i] == now[i]) continue;  // the usual case: unchanged, in the same place
    d.removed.push_back(std::move(last_[i]));
    last_[i] = now[i];
    d.added.push_back(now[i]);
  }
  for (size_t i = common; i < last_.size(); ++i) d.removed.push_back(std::move(last_[i]));
  last_.resize(common);
  for (size_t i = common; i < now.size(); ++i) {
    last_.push_back(now[i]);
    d.added.push_back(now[i]);
  }
  if (d.added.empty() || d.removed.empty()) return d;
  // An object on both sides only moved: after an insertion or a removal every later position
  // differs.
  absl::flat_hash_set<const api::Object*> removed;
  removed.reserve(d.removed.size());
  for (const api::ObjectPtr& o : d.removed) removed.insert(o.get());
  absl::flat_hash_set<const api::Object*> moved;
  for (const api::ObjectPtr& o : d.added)
    if (removed.contains(o.get())) moved.insert(o.get());
  if (moved.empty()) return d;
  auto was_moved = [&](const api::ObjectPtr& o) { return moved.contains(o.get()); };
  std::erase_if(d.added, was_moved);
  std::erase_if(d.removed, was_moved);
  return d;
}

bool only_status_changed(const api::Object& before, const api::Object& after) {
  const rapidjson::Value& a = before.doc();
  const rapidjson::Value& b = after.doc();
  if (!a.IsObject() || !b.IsObject()) return false;
  auto same_except = [](const rapidjson::Value& x, const rapidjson::Value& y,
                        std::initializer_list<std::string_view> skip) {
    auto skipped = [&](const rapidjson::Value& name) {
      std::string_view n(name.GetString(), name.GetStringLength());
      for (std::string_view s : skip)
        if (n == s) return true;
      return false;
    };
    size_t nx = 0, ny = 0;
    for (auto m = x.MemberBegin(); m != x.MemberEnd(); ++m) {
      if (skipped(m->name)) continue;
      ++nx;
      auto o = y.FindMember(m->name);
      if (o == y.MemberEnd() || !(o->value == m->value)) return false;
    }
    for (auto m = y.MemberBegin(); m != y.MemberEnd(); ++m)
      if (!skipped(m->name)) ++ny;
    return nx == ny;
  };
  auto ma = a.FindMember("metadata");
  auto mb = b.FindMember("metadata");
  if (ma == a.MemberEnd() || mb == b.MemberEnd() || !ma->value.IsObject() || !mb->value.IsObject())
    return false;
  return same_except(a, b, {"status", "metadata"}) &&
         same_except(ma->value, mb->value, {"resourceVersion", "managedFields"});
}

}  // namespace kop::ingress
