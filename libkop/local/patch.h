// Patch formats the API server accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
// strategic merge patch (built-in kinds: lists merged by their patchMergeKey, $patch,
// $retainKeys, $setElementOrder, $deleteFromPrimitiveList). Internal to kop::local.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "errors.h"
#include "kop/local/names.h"
#include "kop/local/resource.h"

namespace kop::local::patch {

// RFC 7386 on a copy of `orig`. Errors are 400 BadRequest as the API server words them.
absl::StatusOr<JsonDoc> merge(const JsonValue& orig, std::string_view text);
void merge_into(JsonValue& target, const JsonValue& patch, JsonAlloc& a);
// RFC 6902 (add, remove, replace, move, copy, test). A failed test or a missing path is
// 422 Invalid / 500 as the API server answers; see patch.cpp.
absl::StatusOr<JsonDoc> json_patch(const JsonValue& orig, std::string_view text);
// Strategic merge patch for the built-in kinds in `t`; 415 for custom resources, as the API
// server refuses them.
absl::StatusOr<JsonDoc> strategic(const ResourceType& t, const JsonValue& orig,
                                  std::string_view text);

// How a list at `path` ("spec.template.spec.containers", list items as "[]") merges, for both
// strategic merge patch and server-side apply: atomic, a set of scalars, or a map keyed by `keys`.
// Built-in kinds use their patchMergeKey tags; custom resources their schema's
// x-kubernetes-list-type / x-kubernetes-list-map-keys (default atomic).
struct ListInfo {
  enum Kind { Atomic, Set, Map } kind = Atomic;
  std::vector<std::string> keys;
};
ListInfo list_info(const ResourceType& t, const std::string& path);
// Whether the object at `path` is a map (keys are data, e.g. labels, ConfigMap data, CRD
// additionalProperties) rather than a struct; managedFields mark maps with ".".
bool is_map(const ResourceType& t, const std::string& path);

}  // namespace kop::local::patch
