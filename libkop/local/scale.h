// The scale subresource (autoscaling/v1 Scale) of kinds that have one: Deployment, and custom
// resources whose CRD version declares subresources.scale. A Scale is a view of its object:
// spec.replicas and status.replicas read from the kind's paths, status.selector as label
// selector text, metadata (name, namespace, uid, resourceVersion, creationTimestamp) the
// object's. Writing a Scale writes only the object's replicas, with the Scale's resourceVersion
// as the precondition. Internal to kop::local; pure functions, any thread.
#pragma once

#include <absl/status/statusor.h>

#include "kop/local/names.h"
#include "kop/local/resource.h"

namespace kop::local::scale {

// The Scale of `obj` (t.scale must be set).
absl::StatusOr<JsonDoc> of(const ResourceType& t, const JsonValue& obj);

// A copy of `obj` with the Scale's spec.replicas written at the kind's path and its
// metadata.resourceVersion (when set) as the object's. 422 Invalid for replicas that are not a
// non-negative integer, as ValidateScale answers.
absl::StatusOr<JsonDoc> applied(const ResourceType& t, const JsonValue& obj,
                                const JsonValue& scale);

}  // namespace kop::local::scale
