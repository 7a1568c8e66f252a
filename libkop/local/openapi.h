// The OpenAPI documents kop::local serves: /openapi/v2 (Swagger 2.0, JSON) and /openapi/v3 (an
// index of group-versions, then one document per group-version), with a schema for every kind
// served — built-in kinds from the field tables of proto_schema.h (types, formats, the strategic
// merge patch tags; no descriptions), custom resources from their CRD version's
// openAPIV3Schema — each marked with x-kubernetes-group-version-kind as kubectl explain looks
// them up. PATCH operations list the fieldValidation parameter (kubectl then validates on the
// server) and no strategic-merge request body (so client-side apply keeps its compiled-in patch
// metadata). Internal to kop::local; pure functions of the registry, any thread.
#pragma once

#include <optional>
#include <string_view>

#include "kop/local/names.h"
#include "kop/local/resource.h"

namespace kop::local::openapi {

JsonDoc v2(const Registry& registry);

JsonDoc v3_index(const Registry& registry);

// `want` is "api/v1" or "apis/<group>/<version>"; nullopt when nothing is served there.
std::optional<JsonDoc> v3_group_version(const Registry& registry, std::string_view want);

}  // namespace kop::local::openapi
