#include "kop/cache/transform.h"

#include <rapidjson/document.h>

#include <string_view>

namespace kop::cache {
namespace {

bool name_is(const rapidjson::Value& name, std::string_view s) {
  return std::string_view(name.GetString(), name.GetStringLength()) == s;
}

}  // namespace

api::ObjectPtr strip_managed_fields(api::ObjectPtr obj) {
  if (!obj || !obj->has_managed_fields()) return obj;
  // Copy member by member, leaving managedFields out: stripping in place would keep its bytes
  // in the document's pool allocator, which never frees.
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  for (const auto& member : obj->doc().GetObject()) {
    rapidjson::Value name(member.name, alloc);
    if (name_is(member.name, "metadata") && member.value.IsObject()) {
      rapidjson::Value meta(rapidjson::kObjectType);
      for (const auto& m : member.value.GetObject()) {
        if (name_is(m.name, "managedFields")) continue;
        meta.AddMember(rapidjson::Value(m.name, alloc), rapidjson::Value(m.value, alloc), alloc);
      }
      doc.AddMember(name, meta, alloc);
    } else {
      doc.AddMember(name, rapidjson::Value(member.value, alloc), alloc);
    }
  }
  auto stripped = api::Object::from_document(std::move(doc));
  if (!stripped.ok()) return obj;  // cannot happen: the root is an object
  return api::share(std::move(*stripped));
}

TransformFunc make_transform(bool keep_managed_fields, TransformFunc user) {
  if (keep_managed_fields && !user) return [](api::ObjectPtr obj) { return obj; };
  if (keep_managed_fields) return user;
  if (!user) return strip_managed_fields;
  return [user = std::move(user)](api::ObjectPtr obj) {
    api::ObjectPtr out = user(strip_managed_fields(std::move(obj)));
    return out;
  };
}

}  // namespace kop::cache
