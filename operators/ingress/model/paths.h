// Internal to the model: host and path validation and normalisation (networking.k8s.io/v1).
// Threading: pure functions.
#pragma once

#include <string>
#include <string_view>

#include <absl/status/statusor.h>
#include "kop/ingress/model.h"

namespace kop::ingress::internal {

// Lowercases and checks an Ingress host: a DNS-1123 subdomain, or "*." followed by one (the
// wildcard covers exactly one label). IP addresses are refused, as by the API server.
absl::StatusOr<std::string> normalize_host(std::string_view host);

// Whether `path` has one of the characters that make an ImplementationSpecific path a regex.
bool looks_like_regex(std::string_view path);

// The PathRule of an Ingress path: Exact and Prefix need a leading '/'; Prefix drops trailing
// slashes (they are ignored when matching); ImplementationSpecific is Prefix unless the path
// looks like a regex, which must compile with RE2.
absl::StatusOr<PathRule> ingress_path_rule(std::string_view path_type, std::string_view path);

// Route precedence within a virtual host: longest path first, then Exact, Prefix,
// StringPrefix, Regex; then more header conditions first; then path text.
bool route_precedes(const Route& a, const Route& b);

}  // namespace kop::ingress::internal
