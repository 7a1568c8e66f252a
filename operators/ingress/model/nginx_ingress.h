// Internal to the model: how an Ingress read with its ingress-nginx annotations
// (nginx_annotations.h) differs from a plain one. ingress.cpp calls these while translating
// one Ingress; apply_nginx_regex_hosts() runs once all Ingresses are translated, because
// use-regex reaches every Ingress of a host.
// Threading: as the Builder (one build at a time).
#pragma once

#include <set>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>
#include "builder.h"
#include "kop/ingress/nginx_annotations.h"

namespace kop::ingress::internal {

// Reads the annotations and records an Event for each one not applied as in ingress-nginx.
NginxAnnotations read_nginx(Builder& b, const api::Object& ing, const ObjectRef& src);

// auth-tls-secret: the Secret's ca.crt (and optional ca.crl) into a.client_auth, checked as the
// proxy compiles them. A missing Secret or CA, or settings that do not compile, fail closed
// (a.unenforced_access, the paths answer 403) with an Event naming the annotation and why.
// (nginx_client_auth.cpp)
void load_client_auth(Builder& b, const ObjectRef& src, NginxAnnotations& a);

// With auth-tls-secret: the Ingress' forwarded routes (b.routes from `first_route`, its default
// backend from `first_default`) on hosts not in `tls_hosts` answer 403, with one Event
// ClientAuthWithoutTLS per host, since no certificate of that host asks for client certificates.
void close_hosts_without_tls(Builder& b, const ObjectRef& src, size_t first_route,
                             size_t first_default, const std::set<std::string>& tls_hosts);

// ingress-nginx's reading of a path without use-regex: ImplementationSpecific is a plain
// string prefix (nginx `location /path`), never a regular expression.
absl::StatusOr<PathRule> nginx_path_rule(std::string_view path_type, std::string_view path);

// Applies the per-route annotations (redirects, timeouts, retries, headers, ssl-redirect) to a
// route of the Ingress and marks the candidate for the host-wide regex pass.
void apply_nginx_route(const NginxAnnotations& a, std::string_view raw_path, RouteCandidate& c);

// Adds the host-level routes of the Ingress: app-root on each of `hosts`, the other name of
// from-to-www-redirect, and copies of the Ingress' routes (`first` onwards in b.routes) for
// each server-alias.
void add_nginx_host_routes(Builder& b, const NginxAnnotations& a, const Age& age, size_t first,
                           const std::vector<std::string>& hosts, int& order);

// use-regex / rewrite-target on any Ingress of a host: every nginx route of that host becomes
// a case-insensitive regular expression matched as a prefix (nginx `location ~* "^path"`).
// Then drops the from-to-www redirects of hosts that route on their own, and merges each canary
// Ingress' paths into its main Ingress' routes (header, cookie, weight).
void apply_nginx_host_rules(Builder& b);

// The RE2 (full match) of nginx's `location ~* "^<path>"`.
std::string nginx_location_regex(std::string_view path);

}  // namespace kop::ingress::internal
