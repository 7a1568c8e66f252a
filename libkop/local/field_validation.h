// Server-side field validation (the fieldValidation query parameter kubectl sends: Strict, Warn,
// Ignore) for the built-in kinds, against the field tables of proto_schema.h: a member the kind's
// Go type does not have is an unknown field, named by its path as the API server names it
// (`spec.template.spec.containers[0].imagee`). Unknown fields are removed, as decoding into the
// Go type drops them; Strict refuses the body instead (400 `strict decoding error: unknown field
// "..."`), Warn answers with a Warning header per field. The same tables say which JSON type
// each known field takes: decode_error() is what decoding into the Go type refuses, whatever the
// parameter (the store calls it on every write). Custom resources are not checked here (their
// schema prunes them). Internal to kop::local; pure functions, any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kop/local/names.h"

namespace kop::local::field_validation {

// The paths of the unknown fields of `body`, a JSON object of the kind its apiVersion and kind
// name (or, for a patch, the kind given); those fields are removed from `body`. Members whose
// names start with "$" (strategic merge patch directives) are left alone. Empty when the kind
// has no table.
std::vector<std::string> prune_unknown(JsonValue& body, std::string_view api_version,
                                       std::string_view kind);

// What decoding `body` into the kind's Go type would refuse: the first member whose JSON type the
// Go field cannot hold (a boolean annotation, a string port, a list where an object goes), as
// the API server's decoder words it: `json: cannot unmarshal bool into Go struct field
// ObjectMeta.metadata.annotations of type string`. Unknown members are not checked (see
// prune_unknown). Nothing when the body decodes, or the kind has no table.
std::optional<std::string> decode_error(const JsonValue& body, std::string_view api_version,
                                        std::string_view kind);

}  // namespace kop::local::field_validation
