// CustomResourceDefinitions in kop::local: registering the kinds a CRD serves, the CRD's own
// status (NamesAccepted, Established), its validation, and the structural-schema validation,
// pruning and defaulting of custom resources. Internal to kop::local.
#pragma once

#include <optional>

#include "errors.h"
#include "kop/local/names.h"
#include "kop/local/resource.h"

namespace kop::local::crd {

// Registers (or re-registers) every served version of the CRD `crd`.
void register_crd(Registry& reg, const JsonValue& crd);
bool status_is_current(const JsonValue& crd);
void set_status(JsonDoc& crd);
// apiextensions validation of the CRD object itself (names, versions, scope).
absl::Status validate_crd(const JsonValue& crd, const JsonValue* old);

// Structural schema of `t` applied to a custom resource: prune unknown fields, apply defaults.
void default_custom(const ResourceType& t, JsonDoc& obj);
// Schema validation (types, required, enum, pattern, bounds, formats, int-or-string ...).
void validate_custom(const ResourceType& t, const JsonValue& obj, const JsonValue* old,
                     FieldErrors& errs);

}  // namespace kop::local::crd
