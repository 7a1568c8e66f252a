// SelfSubjectAccessReview and SelfSubjectRulesReview (authorization.k8s.io/v1), the reviews
// behind `kubectl auth can-i` and `kubectl auth can-i --list`, and SelfSubjectReview
// (authentication.k8s.io/v1, `kubectl auth whoami`). kop::local's authorization model
// is one bearer token (or none, with authentication off) that may do everything, so every
// review is answered truthfully with "allowed": whoever gets as far as asking was authenticated,
// and nothing is denied to them. Requests are validated as the API server validates them.
// Internal to kop::local; pure functions, any thread.
#pragma once

#include <absl/status/statusor.h>

#include <string_view>

#include "kop/local/names.h"

namespace kop::local::access_review {

inline constexpr std::string_view kGroup = "authorization.k8s.io";
inline constexpr std::string_view kVersion = "v1";

// The resources of authorization.k8s.io/v1 served ("selfsubjectaccessreviews", ...): create only.
bool is_review(std::string_view resource);

// The review `body` (of `resource`) answered: the request's spec and a status. 422 Invalid for a
// spec the API server refuses, 400 for a body of another kind.
absl::StatusOr<JsonDoc> answer(std::string_view resource, const JsonValue& body);

// The discovery entries of authorization.k8s.io/v1 (APIResource objects).
void add_discovery(JsonValue& resources, JsonAlloc& a);

// authentication.k8s.io/v1 selfsubjectreviews: who the caller is. With token authentication on,
// the token's holder "kop-local" in system:masters; with it off, system:anonymous.
inline constexpr std::string_view kAuthnGroup = "authentication.k8s.io";
inline constexpr std::string_view kWhoami = "selfsubjectreviews";
JsonDoc whoami(bool authenticated);
void add_authn_discovery(JsonValue& resources, JsonAlloc& a);

}  // namespace kop::local::access_review
