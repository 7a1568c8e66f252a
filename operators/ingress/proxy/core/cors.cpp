// CORS: origin patterns and the fields of preflight answers and responses (cors.h).
#include "kop/proxy/cors.h"

#include <algorithm>

#include "kop/proxy/request_view.h"

namespace kop::proxy {
namespace {

// The part of an origin pattern after "scheme://": host[:port], the host maybe "*."-led.
bool valid_authority(std::string_view a) {
  if (a.starts_with("*.")) a.remove_prefix(2);
  if (a.empty()) return false;
  std::size_t colon = a.rfind(':');
  if (colon != std::string_view::npos) {
    std::string_view port = a.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    a = a.substr(0, colon);
  }
  return !a.empty() && std::all_of(a.begin(), a.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
  });
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool pattern_matches(std::string_view pattern, std::string_view origin) {
  if (pattern == "*") return true;
  std::size_t star = pattern.find('*');
  if (star == std::string_view::npos) return iequals(pattern, origin);
  // "scheme://*.rest": one or more host labels (no '/', ':' or '@') stand for the '*'.
  std::string_view prefix = pattern.substr(0, star);
  std::string_view suffix = pattern.substr(star + 1);
  if (origin.size() <= prefix.size() + suffix.size()) return false;
  if (!starts_with_icase(origin, prefix)) return false;
  if (!iequals(origin.substr(origin.size() - suffix.size()), suffix)) return false;
  std::string_view labels =
      origin.substr(prefix.size(), origin.size() - prefix.size() - suffix.size());
  return labels.find_first_of("/:@") == std::string_view::npos;
}

bool has_star(const std::vector<std::string>& list) {
  return std::find(list.begin(), list.end(), "*") != list.end();
}

void field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

void list_field(std::string& out, std::string_view name, const std::vector<std::string>& list) {
  if (list.empty()) return;
  out.append(name).append(": ");
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out.append(", ");
    out.append(list[i]);
  }
  out.append("\r\n");
}

// The fields of an allowed origin's response after access-control-allow-origin.
void append_after_origin(const CorsPolicy& policy, std::string& out) {
  if (policy.allow_credentials) field(out, "access-control-allow-credentials", "true");
  list_field(out, "access-control-expose-headers", policy.expose_headers);
  field(out, "vary", "origin");
}

}  // namespace

bool valid_cors_origin(std::string_view pattern) {
  if (pattern == "*") return true;
  std::size_t sep = pattern.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  std::string_view scheme = pattern.substr(0, sep);
  if (!std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '-' || c == '.';
      }))
    return false;
  return valid_authority(pattern.substr(sep + 3));
}

bool cors_origin_allowed(const CorsPolicy& policy, std::string_view origin) {
  if (origin.empty() || origin == "null") return has_star(policy.allow_origins);
  return std::any_of(policy.allow_origins.begin(), policy.allow_origins.end(),
                     [&](const std::string& p) { return pattern_matches(p, origin); });
}

void append_cors_preflight(const CorsPolicy& policy, std::string_view origin,
                           std::string_view method, std::string_view headers, std::string& out) {
  field(out, "access-control-allow-origin", origin);
  if (has_star(policy.allow_methods))
    field(out, "access-control-allow-methods", method);
  else
    list_field(out, "access-control-allow-methods", policy.allow_methods);
  if (has_star(policy.allow_headers)) {
    if (!headers.empty()) field(out, "access-control-allow-headers", headers);
  } else {
    list_field(out, "access-control-allow-headers", policy.allow_headers);
  }
  list_field(out, "access-control-expose-headers", policy.expose_headers);
  field(out, "access-control-max-age", std::to_string(policy.max_age));
  if (policy.allow_credentials) field(out, "access-control-allow-credentials", "true");
  field(out, "vary", "origin");
}

void append_cors_response(const CorsPolicy& policy, std::string_view origin, std::string& out) {
  field(out, "access-control-allow-origin", origin);
  append_after_origin(policy, out);
}

CorsRules::CorsRules(const CorsPolicy& policy) : after_origin_("\r\n") {
  for (const std::string& p : policy.allow_origins) {
    if (p == "*")
      any_origin_ = true;
    else
      (p.find('*') == std::string::npos ? exact_ : wildcard_).push_back(p);
  }
  append_after_origin(policy, after_origin_);
}

bool CorsRules::allows(std::string_view origin) const {
  if (any_origin_) return true;
  if (origin.empty() || origin == "null") return false;
  return std::any_of(exact_.begin(), exact_.end(),
                     [&](const std::string& p) { return iequals(p, origin); }) ||
         std::any_of(wildcard_.begin(), wildcard_.end(),
                     [&](const std::string& p) { return pattern_matches(p, origin); });
}

}  // namespace kop::proxy
