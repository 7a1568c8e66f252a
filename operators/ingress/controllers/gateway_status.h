// The status JSON kop-ingress writes on Gateway API objects (GatewayClass, Gateway, the routes,
// BackendTLSPolicy),
// made from the translator's statuses (kop/ingress/gateway_api.h) and the object as the cache
// holds it (internal to the controllers; used by the StatusWriter).
//
// Each function returns the whole new `status` of the object:
//  - a condition without a message gets its reason as the message (the real API server tool
//    refuses an empty string in custom resources, docs/real-apiserver.md);
//  - a condition keeps the object's lastTransitionTime when one of the same type (on the same
//    listener, or the same parent) has the same status; otherwise it gets `now`;
//  - HTTPRoute status.parents: the entries of other controllers are kept as they are (in their
//    order, first); ours are replaced by the desired ones, so a parent we no longer serve loses
//    its entry.
// unchanged() tells whether writing would change nothing (fields the API server defaulted into
// the status, and that we do not write, are ignored; lists must match in length and order).
// Threading: pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "kop/api/object.h"
#include "kop/ingress/gateway_api.h"

namespace kop::ingress::gateway_status {

std::string gateway_class(const api::Object& current, const gateway::ClassStatus& want,
                          std::string_view now);
std::string gateway(const api::Object& current, const gateway::GatewayStatus& want,
                    std::string_view now);
std::string route(const api::Object& current, const gateway::RouteStatus& want,
                  std::string_view controller_name, std::string_view now);
// A policy's status.ancestors (BackendTLSPolicy), as route()'s status.parents: other
// controllers' entries kept first, ours replaced.
std::string policy(const api::Object& current, const gateway::PolicyStatus& want,
                   std::string_view controller_name, std::string_view now);

// Whether `status_json` (an object) says nothing that `current`'s status does not say already.
bool unchanged(const api::Object& current, std::string_view status_json);

// Whether `route`'s status.parents holds an entry of `controller_name`.
bool has_parent_of(const api::Object& route, std::string_view controller_name);
// Whether `policy`'s status.ancestors holds an entry of `controller_name`.
bool has_ancestor_of(const api::Object& policy, std::string_view controller_name);

}  // namespace kop::ingress::gateway_status
