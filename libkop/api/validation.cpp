#include "kop/api/validation.h"

#include <fmt/format.h>

namespace kop::api {

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

constexpr std::string_view kLabelMsg =
    "must consist of lower case alphanumeric characters or '-', and must start and end with an "
    "alphanumeric character";
constexpr std::string_view kSubdomainMsg =
    "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with "
    "an alphanumeric character";
constexpr std::string_view kQualifiedMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";

absl::Status invalid(std::string_view value, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("invalid value \"{}\": {}", value, what));
}

absl::Status check_subdomain(std::string_view value, std::string_view prefix) {
  if (value.size() > 253) {
    return invalid(value, fmt::format("{}must be no more than 253 characters", prefix));
  }
  size_t start = 0;
  while (true) {
    size_t dot = value.find('.', start);
    std::string_view part = value.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!is_dns_label_chars(part))
      return invalid(value, fmt::format("{}{}", prefix, kSubdomainMsg));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return absl::OkStatus();
}

}  // namespace

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool is_dns_label_chars(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  for (char c : s) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool is_qualified_name_chars(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

absl::Status validate_dns1123_label(std::string_view value) {
  if (value.size() > 63) return invalid(value, "must be no more than 63 characters");
  if (!is_dns_label_chars(value)) return invalid(value, kLabelMsg);
  return absl::OkStatus();
}

absl::Status validate_dns1123_subdomain(std::string_view value) {
  return check_subdomain(value, "");
}

absl::Status validate_qualified_name(std::string_view value) {
  std::string_view name = value;
  size_t slash = value.find('/');
  if (slash != std::string_view::npos) {
    if (value.find('/', slash + 1) != std::string_view::npos) {
      return invalid(value, fmt::format("a qualified name {} with an optional DNS subdomain prefix "
                                        "and '/' (e.g. 'example.com/MyName')",
                                        kQualifiedMsg));
    }
    std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) return invalid(value, "prefix part must be non-empty");
    if (auto s = check_subdomain(prefix, "prefix part "); !s.ok()) return s;
  }
  if (name.empty()) return invalid(value, "name part must be non-empty");
  if (name.size() > 63) return invalid(value, "name part must be no more than 63 characters");
  if (!is_qualified_name_chars(name))
    return invalid(value, fmt::format("name part {}", kQualifiedMsg));
  return absl::OkStatus();
}

absl::Status validate_label_value(std::string_view value) {
  if (value.empty()) return absl::OkStatus();
  if (value.size() > 63) return invalid(value, "must be no more than 63 characters");
  if (!is_qualified_name_chars(value)) {
    return invalid(value, fmt::format("a valid label value {}", kQualifiedMsg));
  }
  return absl::OkStatus();
}

}  // namespace kop::api
