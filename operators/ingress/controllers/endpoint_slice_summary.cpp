// endpoint_slice_summary(): the fields a build reads, copied into a compact object
// (endpoint_slice_summary.h).
#include "endpoint_slice_summary.h"

#include <string_view>

#include "kop/api/views.h"

namespace kop::ingress {

api::ObjectPtr endpoint_slice_summary(const api::Object& slice) {
  using Value = api::Object::Value;
  api::Object out(slice.gvk());
  out.set_name(slice.name());
  out.set_namespace(slice.ns());
  if (!slice.uid().empty()) out.set_uid(slice.uid());
  if (!slice.resource_version().empty()) out.set_resource_version(slice.resource_version());
  if (slice.is_being_deleted()) out.set_deletion_timestamp(slice.deletion_timestamp());
  if (auto service = slice.label(api::EndpointSliceView::kServiceNameLabel))
    out.set_label(api::EndpointSliceView::kServiceNameLabel, *service);
  for (std::string_view field : {"/addressType", "/ports"})
    if (const Value* v = slice.at(field); v != nullptr) out.set(field, *v).IgnoreError();
  if (const Value* endpoints = slice.at("/endpoints");
      endpoints != nullptr && endpoints->IsArray()) {
    api::Object::Allocator& a = out.allocator();
    Value kept(rapidjson::kArrayType);
    kept.Reserve(endpoints->Size(), a);
    for (const Value& ep : endpoints->GetArray()) {
      if (!ep.IsObject()) continue;
      Value e(rapidjson::kObjectType);
      for (const char* member : {"addresses", "conditions"})
        if (auto m = ep.FindMember(member); m != ep.MemberEnd())
          e.AddMember(Value(member, a), Value(m->value, a), a);
      kept.PushBack(std::move(e), a);
    }
    out.doc().AddMember(Value("endpoints", a), std::move(kept), a);
  }
  return api::share(api::Object(out));  // the copy is sized to the object
}

}  // namespace kop::ingress
