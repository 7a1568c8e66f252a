// kop/api/validation.h: Kubernetes name and label syntax checks (apimachinery's validation).
//
// Used by the selector parsers, by kop::local to reject what a real API server rejects, and by
// operators that build names. Each returns OK or InvalidArgument with apimachinery's wording.
#pragma once

#include <absl/status/status.h>

#include <string_view>

namespace kop::api {

// The character rules alone, without length limits or messages, for validators that word their
// own (kop::local writes apimachinery's message lists):
// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool is_dns_label_chars(std::string_view s);
// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool is_qualified_name_chars(std::string_view s);

// RFC 1123 label: at most 63 lowercase alphanumerics or '-', alphanumeric at both ends
// (Namespace and Service names).
absl::Status validate_dns1123_label(std::string_view value);

// RFC 1123 subdomain: at most 253 characters, dot-separated RFC 1123 labels (most object names).
absl::Status validate_dns1123_subdomain(std::string_view value);

// Qualified name ([prefix/]name): prefix a DNS subdomain, name at most 63 alphanumerics,
// '-', '_' or '.', alphanumeric at both ends. Label and annotation keys.
absl::Status validate_qualified_name(std::string_view value);

// Label key: a qualified name.
inline absl::Status validate_label_key(std::string_view key) {
  return validate_qualified_name(key);
}

// Label value: empty, or at most 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends.
absl::Status validate_label_value(std::string_view value);

}  // namespace kop::api
