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
  // A build reads the addresses of the ready endpoints only (builder.cpp): they are kept as
  // the addresses of one endpoint without conditions (unset ready reads as ready), in their
  // order. An endpoint as the API writes it costs about 130 bytes of DOM; an address in this
  // list, 16.
  if (const Value* endpoints = slice.at("/endpoints");
      endpoints != nullptr && endpoints->IsArray()) {
    api::Object::Allocator& a = out.allocator();
    Value addresses(rapidjson::kArrayType);
    for (const api::Endpoint& ep : api::EndpointSliceView(slice).endpoints()) {
      if (!ep.is_ready()) continue;
      for (std::string_view address : ep.addresses)
        addresses.PushBack(
            Value(address.data(), static_cast<rapidjson::SizeType>(address.size()), a), a);
    }
    Value kept(rapidjson::kArrayType);
    if (!addresses.Empty()) {
      Value endpoint(rapidjson::kObjectType);
      endpoint.AddMember(Value("addresses", a), std::move(addresses), a);
      kept.PushBack(std::move(endpoint), a);
    }
    out.doc().AddMember(Value("endpoints", a), std::move(kept), a);
  }
  return api::share(api::Object(out));  // the copy is sized to the object
}

}  // namespace kop::ingress
