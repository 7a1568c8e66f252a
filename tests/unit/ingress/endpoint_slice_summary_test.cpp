// endpoint_slice_summary(): an EndpointSlice as the EndpointSlice controller writes it loses
// what no build reads and keeps, field for field, what the builds read (EndpointSliceView).
#include "../../../operators/ingress/controllers/endpoint_slice_summary.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "../../../operators/ingress/controllers/ingress_controller.h"
#include "kop/api/views.h"

namespace kop::ingress {
namespace {

// Two endpoints as a cluster's EndpointSlice controller writes them.
constexpr std::string_view kSlice = R"({
  "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
  "metadata": {
    "name": "web-abcde", "namespace": "shop", "uid": "0b6c8f1e-1", "resourceVersion": "4711",
    "generation": 3, "generateName": "web-", "creationTimestamp": "2026-12-07T08:00:00Z",
    "labels": {"kubernetes.io/service-name": "web", "app": "web",
               "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
    "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-12-07T08:00:00Z"},
    "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "u-2",
                         "controller": true, "blockOwnerDeletion": true}]},
  "addressType": "IPv4",
  "endpoints": [
    {"addresses": ["10.0.0.7"], "conditions": {"ready": true, "serving": true,
                                                "terminating": false},
     "hostname": "web-0", "nodeName": "node-a", "zone": "zone-1",
     "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-0", "uid": "p-1"},
     "hints": {"forZones": [{"name": "zone-1"}]}},
    {"addresses": ["10.0.0.8"], "conditions": {"ready": false, "serving": true,
                                                "terminating": true},
     "nodeName": "node-b", "zone": "zone-2",
     "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-1", "uid": "p-2"}}],
  "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
})";

// What a build takes of a slice (builder.cpp): every address of each ready endpoint.
std::vector<std::string_view> ready_addresses(const api::EndpointSliceView& slice) {
  std::vector<std::string_view> out;
  for (const api::Endpoint& ep : slice.endpoints())
    if (ep.is_ready()) out.insert(out.end(), ep.addresses.begin(), ep.addresses.end());
  return out;
}

TEST(EndpointSliceSummary, KeepsWhatBuildsReadOnly) {
  auto slice = api::Object::parse(kSlice);
  ASSERT_TRUE(slice.ok()) << slice.status();
  api::ObjectPtr s = endpoint_slice_summary(*slice);

  EXPECT_EQ(s->gvk(), slice->gvk());
  EXPECT_EQ(s->name(), "web-abcde");
  EXPECT_EQ(s->ns(), "shop");
  EXPECT_EQ(s->uid(), "0b6c8f1e-1");
  EXPECT_EQ(s->resource_version(), "4711");
  EXPECT_EQ(s->label("kubernetes.io/service-name"), "web");
  EXPECT_FALSE(s->has_label("app"));
  for (const char* gone :
       {"/metadata/annotations", "/metadata/ownerReferences", "/metadata/generateName",
        "/endpoints/0/targetRef", "/endpoints/0/nodeName", "/endpoints/0/zone",
        "/endpoints/0/hints", "/endpoints/0/hostname", "/endpoints/1/targetRef"})
    EXPECT_EQ(s->at(gone), nullptr) << gone;
  EXPECT_TRUE(*s->at("/ports") == *slice->at("/ports"));
  // The not-ready endpoint is gone: a build reads the ready endpoints' addresses only.
  EXPECT_EQ(s->at("/endpoints/1"), nullptr);
  EXPECT_EQ(s->at("/endpoints/0/conditions"), nullptr);

  const api::EndpointSliceView before(*slice), after(*s);
  EXPECT_EQ(after.service_name(), before.service_name());
  EXPECT_EQ(after.address_type(), before.address_type());
  EXPECT_EQ(ready_addresses(after), ready_addresses(before));
  EXPECT_EQ(ready_addresses(after), (std::vector<std::string_view>{"10.0.0.7"}));
  auto ports_before = before.ports(), ports_after = after.ports();
  ASSERT_EQ(ports_after.size(), 1u);
  EXPECT_EQ(ports_after[0].name, ports_before[0].name);
  EXPECT_EQ(ports_after[0].port, ports_before[0].port);
  // The point of it: the JSON is less than half.
  EXPECT_LT(s->to_json().size() * 2, slice->to_json().size());
}

TEST(EndpointSliceSummary, KeepsEveryReadyAddressInOrder) {
  auto slice = api::Object::parse(R"({"apiVersion": "discovery.k8s.io/v1",
      "kind": "EndpointSlice", "metadata": {"name": "s", "namespace": "shop",
      "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv6",
      "endpoints": [
        {"addresses": ["fd00::1"]},
        {"addresses": ["fd00::2"], "conditions": {"ready": false}},
        {"addresses": ["fd00::3", "fd00::4"], "conditions": {"ready": true}},
        {"addresses": ["fd00:0000:0000:0000:0000:0000:0000:0005"],
         "conditions": {"serving": true, "terminating": true}}],
      "ports": [{"name": "http", "port": 8080}]})");
  ASSERT_TRUE(slice.ok()) << slice.status();
  api::ObjectPtr s = endpoint_slice_summary(*slice);
  EXPECT_EQ(ready_addresses(api::EndpointSliceView(*s)),
            ready_addresses(api::EndpointSliceView(*slice)));
  EXPECT_EQ(ready_addresses(api::EndpointSliceView(*s)),
            (std::vector<std::string_view>{"fd00::1", "fd00::3", "fd00::4",
                                           "fd00:0000:0000:0000:0000:0000:0000:0005"}));

  // No endpoint ready: no endpoint at all.
  auto none = api::Object::parse(R"({"apiVersion": "discovery.k8s.io/v1",
      "kind": "EndpointSlice", "metadata": {"name": "s", "namespace": "shop"},
      "addressType": "IPv4", "endpoints": [
        {"addresses": ["10.0.0.1"], "conditions": {"ready": false}}]})");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(api::EndpointSliceView(*endpoint_slice_summary(*none)).endpoints().empty());
}

TEST(EndpointSliceSummary, ABeingDeletedSliceWithoutEndpointsStaysSo) {
  auto slice = api::Object::parse(R"({"apiVersion": "discovery.k8s.io/v1",
      "kind": "EndpointSlice", "metadata": {"name": "empty", "namespace": "shop",
      "deletionTimestamp": "2026-12-07T08:00:00Z"}, "addressType": "IPv4", "endpoints": null})");
  ASSERT_TRUE(slice.ok()) << slice.status();
  api::ObjectPtr s = endpoint_slice_summary(*slice);
  EXPECT_TRUE(s->is_being_deleted());
  EXPECT_EQ(s->at("/endpoints"), nullptr);
  EXPECT_TRUE(api::EndpointSliceView(*s).endpoints().empty());
  EXPECT_EQ(api::EndpointSliceView(*s).service_name(), "");
}

// The cache summarizes slices it copies anyway, never kop::local's shared objects (a summary
// would be a second copy of each).
TEST(EndpointSliceSummary, TheCacheSummarizesUnlessItSharesObjects) {
  Kinds kinds;
  cache::CacheOptions copying;
  configure_cache(copying, kinds);
  ASSERT_TRUE(copying.by_object.count(kinds.endpoint_slice));
  const cache::TransformFunc& t = copying.by_object[kinds.endpoint_slice].transform;
  ASSERT_TRUE(t);
  auto slice = api::Object::parse(kSlice);
  ASSERT_TRUE(slice.ok());
  EXPECT_EQ(t(api::share(*std::move(slice)))->at("/endpoints/0/targetRef"), nullptr);

  cache::CacheOptions sharing;
  sharing.share_objects = true;
  configure_cache(sharing, kinds);
  EXPECT_FALSE(sharing.by_object[kinds.endpoint_slice].transform);
}

}  // namespace
}  // namespace kop::ingress
