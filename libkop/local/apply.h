// Server-side apply and managedFields in kop::local. Internal; see docs/local.md for limits.
#pragma once

#include <string_view>

#include "errors.h"
#include "kop/local/names.h"
#include "kop/local/resource.h"

namespace kop::local::apply {

// Applies the configuration `body` (YAML or JSON) for `manager` to `live` (null: create).
// Returns the object to store, with managedFields updated; 409 Conflict with one cause per
// conflicting field unless `force`.
absl::StatusOr<JsonDoc> apply(const ResourceType& t, const JsonValue* live, std::string_view body,
                              std::string_view manager, bool force, bool status);
// Records a non-apply write (operation "Update") by `manager` in obj's managedFields: the fields
// it changed become its own and leave other managers' sets. No-op when manager is empty.
// `request` (when given) is what the fields are computed from: the API server runs its field
// manager on the decoded, defaulted request, before the strategy allocates or resets fields.
void track_update(const ResourceType& t, const JsonValue* old, JsonDoc& obj,
                  std::string_view manager, std::string_view operation,
                  const JsonValue* request = nullptr);

}  // namespace kop::local::apply
