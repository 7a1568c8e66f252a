// An Ingress read with its ingress-nginx annotations (nginx_ingress.h).
#include "nginx_ingress.h"

#include <re2/re2.h>

#include <algorithm>
#include <set>

#include "paths.h"
#include "text_cat.h"

namespace kop::ingress::internal {
namespace {

std::string annotation_field(std::string_view name) {
  return cat("metadata.annotations[", kNginxAnnotationPrefix, name, "]");
}

}  // namespace

NginxAnnotations read_nginx(Builder& b, const api::Object& ing, const ObjectRef& src) {
  NginxAnnotations a = read_nginx_annotations(ing);
  for (const auto& v : a.verdicts) {
    if (v.support == NginxSupport::kIgnored)
      b.event(src, "AnnotationIgnored", annotation_field(v.annotation), v.note);
    else if (v.support == NginxSupport::kDifferent)
      b.event(src, "AnnotationDiffers", annotation_field(v.annotation), v.note);
  }
  return a;
}

absl::StatusOr<PathRule> nginx_path_rule(std::string_view path_type, std::string_view path) {
  if (path_type != "ImplementationSpecific") return ingress_path_rule(path_type, path);
  if (path.empty()) path = "/";
  if (path.front() != '/')
    return absl::InvalidArgumentError(cat("path \"", path, "\" must begin with '/'"));
  return PathRule{PathKind::kStringPrefix, std::string(path)};
}

std::string nginx_location_regex(std::string_view path) {
  if (path.empty()) path = "/";
  // `^` binds only to the first alternative of a top-level '|', as nginx reads "^a|b".
  if (path.find('|') != std::string_view::npos) return cat("(?i).*?(?:^", path, ").*");
  return cat("(?i)", path, ".*");
}

void apply_nginx_route(const NginxAnnotations& a, std::string_view raw_path, RouteCandidate& c) {
  Route& r = c.route;
  c.nginx_path = std::string(raw_path.empty() ? "/" : raw_path);
  c.nginx_regex = a.use_regex || a.rewrite_target.has_value();
  // ingress-nginx: `rewrite "(?i)<path>" <target> break;` unless the target is the path.
  if (a.rewrite_target && *a.rewrite_target != *c.nginx_path && r.action == RouteAction::kForward)
    r.regex_rewrite = RegexRewrite{cat("(?i)", *c.nginx_path), *a.rewrite_target};
  if (a.redirect && r.action == RouteAction::kForward) {
    r.action = RouteAction::kRedirect;
    r.redirect = a.redirect;
    r.clusters.clear();
  }
  // nginx has no whole-request timeout: only the idle time between reads/writes bounds it.
  r.timeout = std::chrono::milliseconds(0);
  r.idle_timeout = a.idle_timeout;
  r.retry_policy = a.retry;
  for (const auto& h : a.request_headers.set) r.request_headers.set.push_back(h);
  for (const auto& h : a.response_headers.set) r.response_headers.set.push_back(h);
  r.https_redirect = a.ssl_redirect || a.force_ssl_redirect;
  r.https_redirect_code = 308;  // ingress-nginx's http-redirect-code default
}

void add_nginx_host_routes(Builder& b, const NginxAnnotations& a, const Age& age, size_t first,
                           const std::vector<std::string>& hosts, int& order) {
  const ObjectRef& src = age.ref;
  std::vector<std::string> served = hosts;
  size_t last = b.routes.size();
  for (const auto& alias : a.server_aliases) {
    if (std::find(hosts.begin(), hosts.end(), alias) != hosts.end()) continue;
    served.push_back(alias);
    for (size_t i = first; i < last; ++i) {
      RouteCandidate copy = b.routes[i];
      copy.host = alias;
      copy.order = order++;
      b.routes.push_back(std::move(copy));
    }
  }
  if (a.app_root) {
    for (const auto& host : served) {
      Route r;
      r.path = PathRule{PathKind::kExact, "/"};
      r.action = RouteAction::kRedirect;
      r.redirect = Redirect{};
      r.redirect->path = *a.app_root;
      r.redirect->code = 302;
      r.redirect->strip_query = true;
      r.source = src;
      r.field = annotation_field("app-root");
      b.routes.push_back(RouteCandidate{host, std::move(r), age, order++});
    }
  }
  if (a.from_to_www_redirect) {
    for (const auto& host : hosts) {
      if (host == "*" || host.front() == '*') continue;
      bool www = host.rfind("www.", 0) == 0;
      std::string other = www ? host.substr(4) : "www." + host;
      Route r;
      r.action = RouteAction::kRedirect;
      r.redirect = Redirect{};
      r.redirect->host = host;
      r.redirect->code = 308;
      r.source = src;
      r.field = annotation_field("from-to-www-redirect");
      RouteCandidate c{other, std::move(r), age, order++};
      c.host_fallback = true;
      b.routes.push_back(std::move(c));
    }
  }
}

void apply_nginx_host_rules(Builder& b) {
  std::set<std::string> regex_hosts;
  std::set<std::string> routed_hosts;
  for (const auto& c : b.routes) {
    if (c.nginx_regex) regex_hosts.insert(c.host);
    if (!c.host_fallback) routed_hosts.insert(c.host);
  }
  std::vector<RouteCandidate> kept;
  kept.reserve(b.routes.size());
  for (auto& c : b.routes) {
    if (c.host_fallback && routed_hosts.count(c.host)) continue;
    if (c.nginx_path && regex_hosts.count(c.host)) {
      std::string pattern = nginx_location_regex(*c.nginx_path);
      re2::RE2 re(pattern, re2::RE2::Quiet);
      if (!re.ok()) {
        b.event(c.route.source, "PathInvalid", c.route.field,
                cat("host \"", c.host, "\" uses regular expressions (use-regex), and path \"",
                    *c.nginx_path, "\" is not one RE2 accepts: ", re.error()));
        continue;
      }
      if (c.route.regex_rewrite && !re2::RE2(c.route.regex_rewrite->regex, re2::RE2::Quiet).ok()) {
        b.event(c.route.source, "PathInvalid", c.route.field,
                cat("path \"", *c.nginx_path,
                    "\" cannot be rewritten (rewrite-target): not a "
                    "regular expression RE2 accepts"));
        continue;
      }
      c.route.path = PathRule{PathKind::kRegex, std::move(pattern)};
    }
    kept.push_back(std::move(c));
  }
  b.routes = std::move(kept);
}

}  // namespace kop::ingress::internal
