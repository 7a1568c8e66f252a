// only_status_changed(): both objects' top-level members compared but status and metadata, and
// their metadata but resourceVersion and managedFields (status_only_change.h).
#include "kop/ingress/status_only_change.h"

#include <initializer_list>
#include <string_view>

namespace kop::ingress {

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
