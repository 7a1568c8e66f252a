// Host and path rules of networking.k8s.io/v1 (see paths.h and docs/ingress.md).
#include "paths.h"

#include <re2/re2.h>

#include <algorithm>

#include "text_cat.h"

namespace kop::ingress::internal {
namespace {

bool valid_label(std::string_view l) {
  if (l.empty() || l.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(l.front()) || !alnum(l.back())) return false;
  return std::all_of(l.begin(), l.end(), [&](char c) { return alnum(c) || c == '-'; });
}

bool valid_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!valid_label(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_ipv4(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

}  // namespace

absl::StatusOr<std::string> normalize_host(std::string_view host) {
  std::string h(host);
  std::transform(h.begin(), h.end(), h.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (is_ipv4(h) || h.find(':') != std::string::npos)
    return absl::InvalidArgumentError(cat("host \"", h, "\" must be a DNS name, not an IP"));
  std::string_view rest = h;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  if (!valid_subdomain(rest))
    return absl::InvalidArgumentError(
        cat("host \"", h, "\" is not a DNS name or a wildcard \"*.\" followed by one"));
  return h;
}

bool looks_like_regex(std::string_view path) {
  return path.find_first_of("^$*+?()[]{}|\\") != std::string_view::npos;
}

absl::StatusOr<PathRule> ingress_path_rule(std::string_view path_type, std::string_view path) {
  PathRule rule;
  if (path.empty()) path = "/";
  if (path_type == "Exact" || path_type == "Prefix" ||
      (path_type == "ImplementationSpecific" && !looks_like_regex(path))) {
    if (path.front() != '/')
      return absl::InvalidArgumentError(cat("path \"", path, "\" must begin with '/'"));
    rule.kind = path_type == "Exact" ? PathKind::kExact : PathKind::kPrefix;
    std::string value(path);
    if (rule.kind == PathKind::kPrefix)
      while (value.size() > 1 && value.back() == '/') value.pop_back();
    rule.value = value;
    return rule;
  }
  if (path_type == "ImplementationSpecific") {
    re2::RE2 re(re2::StringPiece(path.data(), path.size()), re2::RE2::Quiet);
    if (!re.ok())
      return absl::InvalidArgumentError(
          cat("invalid regular expression \"", path, "\": ", re.error()));
    rule.kind = PathKind::kRegex;
    rule.value = std::string(path);
    return rule;
  }
  return absl::InvalidArgumentError(
      cat("pathType \"", path_type, "\" is not one of Exact, Prefix, ImplementationSpecific"));
}

bool route_precedes(const Route& a, const Route& b) {
  if (a.path.value.size() != b.path.value.size()) return a.path.value.size() > b.path.value.size();
  if (a.path.kind != b.path.kind) return a.path.kind < b.path.kind;
  if (a.headers.size() != b.headers.size()) return a.headers.size() > b.headers.size();
  if (a.path.value != b.path.value) return a.path.value < b.path.value;
  return a.headers < b.headers;
}

}  // namespace kop::ingress::internal
