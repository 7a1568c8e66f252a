// kop-ingress admission decision: would this object, as written, be invalid to kop-ingress?
//
// The answer comes from the translation kop-ingress serves traffic with, run in process on a
// copy of the current inputs with the reviewed object put in place of the stored one (or added
// beside them): build_model() for Ingress and IngressRoute, gateway::translate() for Gateway,
// HTTPRoute, GRPCRoute, TLSRoute and ReferenceGrant. Nothing of the object is ever run as a program
// (the ingress-nginx admission webhook ran `nginx -t` on user input: CVE-2025-1974).
//
// Only the object's OWN problems refuse it, each with the field and the reason:
//  - Ingress (of our class): an invalid host, path or backend (HostInvalid, PathInvalid,
//    BackendInvalid Events);
//  - IngressRoute: a status Invalid whose cause lies in the object itself (fqdn missing, a
//    wildcard, or already used by another IngressRoute; passthrough with secretName; tcpproxy
//    without TLS or without services; services and delegate together; a match not starting with
//    '/'), and the HeaderMatchInvalid, BackendInvalid and TimeoutInvalid Events;
//  - Gateway (of a GatewayClass of ours): UnsupportedValue, UnsupportedProtocol,
//    InvalidRouteKinds, ProtocolConflict and HostnameConflict between its own listeners,
//    UnsupportedAddress;
//  - HTTPRoute, GRPCRoute, TLSRoute attached to a Gateway of ours: UnsupportedValue (a match,
//    filter, timeout, weight or hostname kop-ingress cannot serve).
// Never for another object: a Service, Secret, delegate, parent Gateway or ReferenceGrant that
// is missing or unusable, a conflict with another route, an object another controller owns.
// Those are statuses and Events, as before; applying objects in any order keeps working.
//
// Threading: pure functions; call from any thread.
#pragma once

#include <absl/status/status.h>

#include <string>
#include <string_view>
#include <vector>

#include "kop/api/object.h"
#include "kop/ingress/gateway_api.h"
#include "kop/ingress/model.h"

namespace kop::ingress::admission {

// What the translation reads, as the caches hold it. gateway.base is set by the decision.
struct Inputs {
  Snapshot base;
  gateway::Snapshot gateway;
};

struct DecisionOptions {
  Options model;             // class selection, as the controller's
  gateway::Options gateway;  // controller name, as the controller's
};

// One reason the object would be refused.
struct Problem {
  std::string field;  // e.g. "spec.routes[0].match"; "" when the message names it
  std::string message;
  bool operator==(const Problem&) const = default;
};

// Whether the decision reads objects of this API group and kind.
bool handles(std::string_view api_group, std::string_view kind);

// The problems of `obj`'s own making once it replaces the object of the same kind, namespace
// and name in `inputs` (or joins them). Empty: admitted.
std::vector<Problem> own_problems(Inputs inputs, const api::Object& obj,
                                  const DecisionOptions& options);

// OK, or InvalidArgument `IngressRoute "ns/name": spec.routes[0].match must start with '/'`
// (several problems joined with "; ").
absl::Status decide(Inputs inputs, const api::Object& obj, const DecisionOptions& options);

}  // namespace kop::ingress::admission
