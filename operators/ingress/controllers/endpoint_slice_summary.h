// endpoint_slice_summary(): an EndpointSlice as kop-ingress' builds read it, for its cache.
//
// The EndpointSlice controller writes per endpoint a targetRef (the Pod: kind, namespace, name,
// uid), nodeName, zone, hints and often a hostname, and per slice labels copied from the
// Service and an annotation; a build reads none of it (builder.cpp: the service-name label, the
// ports, the addresses of the ready endpoints). Kept: apiVersion, kind, name, namespace, uid,
// resourceVersion, deletionTimestamp, the kubernetes.io/service-name label, addressType, ports,
// and the addresses of the ready endpoints, in their order, as one endpoint without conditions
// (a not-ready endpoint is left out); in one pool sized to the result.
// Threading: a pure function (the cache calls it on the reflector's thread).
#pragma once

#include "kop/api/object.h"

namespace kop::ingress {

api::ObjectPtr endpoint_slice_summary(const api::Object& slice);

}  // namespace kop::ingress
