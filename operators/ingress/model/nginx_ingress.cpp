// An Ingress read with its ingress-nginx annotations (nginx_ingress.h).
#include "nginx_ingress.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <absl/strings/ascii.h>
#include <absl/strings/escaping.h>
#include <absl/strings/match.h>

#include "kop/proxy/access_control.h"
#include "kop/proxy/password_hash.h"
#include "paths.h"
#include "text_cat.h"

namespace kop::ingress::internal {
namespace {

std::string annotation_field(std::string_view name) {
  return cat("metadata.annotations[", kNginxAnnotationPrefix, name, "]");
}

// The Cookie header holds `name=value` among its pairs.
std::string cookie_regex(std::string_view name, std::string_view value) {
  std::string n(name);
  return cat("(?:.*;[ \t]*)?", RE2::QuoteMeta(n), "=", value, "(?:;.*)?");
}

// Adds to `extra` the routes that send main's traffic to canary `c` (header, then cookie), and
// splits main's own traffic by the canary's weight.
void add_canary(RouteCandidate& main, const RouteCandidate& c, std::vector<RouteCandidate>& extra) {
  const NginxCanary& k = *c.canary;
  auto variant = [&](std::vector<HeaderCondition> conditions, bool to_canary) {
    RouteCandidate v = main;
    std::sort(conditions.begin(), conditions.end());
    Route r = *main.route;
    r.headers = std::move(conditions);
    if (to_canary) r.clusters = c.route->clusters;
    v.route = std::move(r);
    extra.push_back(std::move(v));
  };
  std::vector<HeaderCondition> header_undecided;
  if (!k.header.empty()) {
    std::string h = k.header;
    std::transform(h.begin(), h.end(), h.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (!k.header_value.empty()) {
      variant({{h, HeaderOp::kExact, k.header_value}}, true);
      header_undecided = {{h, HeaderOp::kNotExact, k.header_value}};
    } else if (!k.header_pattern.empty()) {
      std::string search = cat("(?s).*(?:", k.header_pattern, ").*");  // found anywhere
      variant({{h, HeaderOp::kRegex, search}}, true);
      header_undecided = {{h, HeaderOp::kNotRegex, search}};
    } else {
      variant({{h, HeaderOp::kExact, "always"}}, true);
      variant({{h, HeaderOp::kExact, "never"}}, false);
      header_undecided = {{h, HeaderOp::kNotExact, "always"}, {h, HeaderOp::kNotExact, "never"}};
    }
  }
  if (!k.cookie.empty()) {
    for (bool to_canary : {true, false}) {
      std::vector<HeaderCondition> conditions = header_undecided;
      conditions.push_back(
          {"cookie", HeaderOp::kRegex, cookie_regex(k.cookie, to_canary ? "always" : "never")});
      variant(std::move(conditions), to_canary);
    }
  }
  if (k.weight == 0) return;
  std::vector<WeightedCluster> split;
  if (k.weight < k.weight_total)
    for (auto wc : main.route->clusters) {
      wc.weight *= k.weight_total - k.weight;
      split.push_back(std::move(wc));
    }
  for (auto wc : c.route->clusters) {
    wc.weight *= k.weight;
    split.push_back(std::move(wc));
  }
  Route r = *main.route;
  r.clusters = std::move(split);
  main.route = std::move(r);
}

// Each canary path joins the main Ingress' route of the same host and path; a canary without
// one is not served (as ingress-nginx).
void merge_canaries(Builder& b) {
  std::vector<RouteCandidate> extra;
  for (const auto& c : b.routes) {
    if (!c.canary) continue;
    if (c.route->action != RouteAction::kForward || c.route->clusters.empty()) continue;
    bool found = false;
    for (auto& m : b.routes) {
      if (m.canary || m.host_fallback || m.host != c.host || m.route->path != c.route->path ||
          !m.route->headers.empty() || m.route->action != RouteAction::kForward ||
          m.route->source.kind != "Ingress")
        continue;
      found = true;
      add_canary(m, c, extra);
    }
    if (!found)
      b.event(c.route->source, "CanaryWithoutMain", c.route->field,
              cat("no main Ingress routes host \"", c.host, "\" path \"", c.route->path.value,
                  "\": the canary is not served"));
  }
  std::erase_if(b.routes, [](const RouteCandidate& c) { return c.canary.has_value(); });
  for (auto& e : extra) b.routes.push_back(std::move(e));
}

// The users of auth-type basic from its Secret (never logged: Events name users, not hashes).
// A Secret that cannot be read fails closed; a user whose hash kop-ingress refuses (plain text,
// DES crypt) is left out with an Event.
void load_basic_auth_users(Builder& b, const ObjectRef& src, NginxAnnotations& a) {
  NginxBasicAuth& auth = *a.basic_auth;
  std::string field = annotation_field("auth-secret");
  std::string key = cat(auth.secret_namespace, "/", auth.secret_name);
  auto fail_closed = [&](const std::string& why) {
    b.event(src, "SecretInvalid", field,
            cat(why, ": the Ingress' paths answer 403 rather than serve without authentication"));
    if (a.unenforced_access.empty()) a.unenforced_access = "auth-secret";
  };
  const api::Object* secret = b.read_secret(auth.secret_namespace, auth.secret_name);
  if (secret == nullptr) return fail_closed(cat("Secret \"", key, "\" not found"));
  std::vector<std::pair<std::string, std::string>> users;
  auto decode = [](std::string_view b64, std::string& out) {
    return absl::Base64Unescape(absl::string_view(b64.data(), b64.size()), &out);
  };
  if (auth.auth_map) {
    const rapidjson::Value* data = secret->at("/data");
    if (data == nullptr || !data->IsObject() || data->MemberCount() == 0)
      return fail_closed(cat("Secret \"", key, "\" has no data (auth-secret-type auth-map)"));
    for (const auto& m : data->GetObject()) {
      std::string hash;
      if (!m.value.IsString() || !decode(m.value.GetString(), hash))
        return fail_closed(
            cat("Secret \"", key, "\": the value of \"", m.name.GetString(), "\" is not base64"));
      while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
      users.emplace_back(m.name.GetString(), std::move(hash));
    }
  } else {
    auto b64 = secret->get_string("/data/auth");
    std::string text;
    if (!b64) return fail_closed(cat("Secret \"", key, "\" has no key \"auth\""));
    if (!decode(*b64, text))
      return fail_closed(cat("Secret \"", key, "\": the key \"auth\" is not base64"));
    // htpasswd lines "user:hash[:comment]"; blank lines and '#' comments skipped, as nginx does.
    for (size_t at = 0; at < text.size();) {
      size_t nl = std::min(text.find('\n', at), text.size());
      std::string_view line = std::string_view(text).substr(at, nl - at);
      at = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty() || line.front() == '#') continue;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        b.event(src, "AnnotationDiffers", field,
                cat("Secret \"", key, "\": a line of the key \"auth\" is not user:hash; skipped"));
        continue;
      }
      std::string_view hash = line.substr(colon + 1);
      hash = hash.substr(0, hash.find(':'));
      users.emplace_back(std::string(line.substr(0, colon)), std::string(hash));
    }
  }
  std::erase_if(users, [&](const std::pair<std::string, std::string>& u) {
    auto scheme = proxy::hash_scheme(u.second);
    if (scheme.ok()) return false;
    b.event(src, "AnnotationDiffers", field,
            cat("Secret \"", key, "\": user \"", u.first, "\" cannot log in: ",
                std::string(scheme.status().message().data(), scheme.status().message().size())));
    return true;
  });
  // The first line of a user counts, as nginx reads the file top down.
  std::stable_sort(users.begin(), users.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  users.erase(std::unique(users.begin(), users.end(),
                          [](const auto& x, const auto& y) { return x.first == y.first; }),
              users.end());
  auth.users = std::move(users);
}

// ingress-nginx's checks of a custom header (customheaders/main.go): names of letters, digits,
// '-' and '_'; values of printable ASCII.
bool custom_header_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}
bool custom_header_value(std::string_view value) {
  return !value.empty() &&
         std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// custom-headers: each key of the ConfigMap's data is a response header of the Ingress' paths,
// set as nginx's more_set_headers sets it (replacing the upstream's), its value literal ('$'
// included, as ingress-nginx escapes it). A missing ConfigMap, or a name or value ingress-nginx
// refuses, makes the paths answer 503, as ingress-nginx denies them.
void load_custom_headers(Builder& b, const ObjectRef& src, NginxAnnotations& a) {
  std::string field = annotation_field("custom-headers");
  std::string key = cat(a.custom_headers_namespace, "/", a.custom_headers_name);
  auto deny = [&](std::string reason, const std::string& why) {
    b.event(src, std::move(reason), field,
            cat(why, ": the Ingress' paths answer 503, as ingress-nginx denies them"));
    if (a.denied.empty()) a.denied = "custom-headers";
  };
  const api::Object* map = b.read_config_map(a.custom_headers_namespace, a.custom_headers_name);
  if (map == nullptr) return deny("ConfigMapNotFound", cat("ConfigMap \"", key, "\" not found"));
  std::vector<Header> headers;
  const rapidjson::Value* data = map->at("/data");
  if (data != nullptr && data->IsObject()) {
    for (const auto& m : data->GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      std::string_view value =
          m.value.IsString() ? std::string_view(m.value.GetString(), m.value.GetStringLength())
                             : std::string_view();
      if (!custom_header_name(name))
        return deny("ConfigMapInvalid", cat("ConfigMap \"", key, "\": \"", name,
                                            "\" is not a header name (letters, digits, '-', '_')"));
      if (!custom_header_value(value))
        return deny("ConfigMapInvalid", cat("ConfigMap \"", key, "\": the value of \"", name,
                                            "\" is empty or not printable ASCII"));
      std::string lower = absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
      static const std::set<std::string, std::less<>> kFraming = {
          "connection", "content-length",    "keep-alive", "te",
          "trailer",    "transfer-encoding", "upgrade"};
      if (kFraming.count(lower) != 0) {
        b.event(src, "AnnotationDiffers", field,
                cat("ConfigMap \"", key, "\": header \"", name,
                    "\" is not set: the proxy frames its responses itself"));
        continue;
      }
      headers.push_back(Header{std::string(name), std::string(value)});
    }
  }
  // They come after configuration-snippet's more_set_headers in ingress-nginx's location, so
  // a name both set takes the ConfigMap's value.
  auto& set = a.response_headers.set;
  std::erase_if(set, [&](const Header& h) {
    return std::any_of(headers.begin(), headers.end(),
                       [&](const Header& c) { return absl::EqualsIgnoreCase(c.name, h.name); });
  });
  std::sort(headers.begin(), headers.end(),
            [](const Header& x, const Header& y) { return x.name < y.name; });
  set.insert(set.end(), headers.begin(), headers.end());
}

// auth-url's service as a cluster of the model: a Service's DNS name (name.namespace.svc, with
// or without .cluster.local) is that Service port's endpoints, as any backend; another name or
// an address is a cluster of its own, resolved by the proxy (as ExternalName Services are). A
// missing Service or port fails closed. https is TLS with the URL's host as SNI and no
// verification, as ingress-nginx's auth location (proxy_ssl_verify off). The auth request is
// HTTP/1.1 whatever the port's appProtocol, as nginx sends it: an h2c port gets an Event, since
// a server that speaks only HTTP/2 will fail every auth request (500).
void resolve_ext_auth(Builder& b, const ObjectRef& src, NginxAnnotations& a) {
  NginxExtAuth& e = *a.ext_auth;
  std::optional<proxy::UpstreamTlsConfig> tls;
  bool ip = proxy::parse_ip(e.host).has_value();
  if (e.tls) {
    tls = proxy::UpstreamTlsConfig{};
    tls->verify = false;
    if (!ip) tls->server_name = e.host;
  }
  std::vector<std::string_view> labels;
  for (std::string_view rest = e.host; !rest.empty();) {
    size_t dot = rest.find('.');
    labels.push_back(rest.substr(0, dot));
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  }
  bool service = !ip && labels.size() >= 3 && labels[2] == "svc" &&
                 (labels.size() == 3 ||
                  (labels.size() == 5 && labels[3] == "cluster" && labels[4] == "local"));
  if (service) {
    BackendSpec spec;
    spec.ns = std::string(labels[1]);
    spec.service = std::string(labels[0]);
    spec.port_number = e.port;
    spec.tls = tls;
    spec.http1 = true;
    auto name = b.resolve_backend(src, annotation_field("auth-url"), spec);
    if (!name) {
      // resolve_backend's Event names the Service; the paths answer 403 rather than serve.
      if (a.unenforced_access.empty()) a.unenforced_access = "auth-url";
      return;
    }
    if (absl::EndsWith(*name, "/http1"))
      b.event(src, "AuthServiceProtocol", annotation_field("auth-url"),
              cat("Service \"", spec.ns, "/", spec.service, "\" port ", e.port,
                  " has appProtocol kubernetes.io/h2c: the auth request goes as HTTP/1.1, as "
                  "ingress-nginx sends it, and fails (500) if the service speaks only HTTP/2"));
    e.config.cluster = *name;
    return;
  }
  Cluster c;
  c.name = cat("auth-url/", e.tls ? "https" : "http", "/", e.host, ":", e.port);
  c.port = std::to_string(e.port);
  c.external_name = !ip;
  c.endpoints.push_back(Endpoint{e.host, e.port});
  c.tls = tls;
  if (b.recording != nullptr &&
      std::none_of(b.recording->clusters.begin(), b.recording->clusters.end(),
                   [&](const proxy::Shared<Cluster>& r) { return r->name == c.name; }))
    b.recording->clusters.emplace_back(c);  // one per name, as Builder::resolve_backend
  e.config.cluster = c.name;
  b.clusters[c.name] = std::move(c);
}

}  // namespace

NginxAnnotations read_nginx(Builder& b, const api::Object& ing, const ObjectRef& src) {
  NginxAnnotations a = read_nginx_annotations(ing);
  if (a.basic_auth) load_basic_auth_users(b, src, a);
  if (!a.custom_headers_name.empty()) load_custom_headers(b, src, a);
  if (a.ext_auth) resolve_ext_auth(b, src, a);
  if (a.client_auth) load_client_auth(b, src, a);
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
  c.nginx_path = std::string(raw_path.empty() ? "/" : raw_path);
  // A canary's own routing annotations do not apply: its main Ingress' do (merge_canaries).
  if (a.canary) return;
  Route r = *c.route;
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
  if (!a.unenforced_access.empty() && r.action == RouteAction::kForward) {
    r.action = RouteAction::kForbidden;  // fail closed: never serve without the restriction
    r.clusters.clear();
  } else if (!a.denied.empty() &&
             (r.action == RouteAction::kForward || r.action == RouteAction::kRedirect)) {
    // ingress-nginx's denied location: 503, before its permanent- or temporal-redirect and
    // the ssl redirect (both come later in the location). app-root and from-to-www-redirect
    // answer at the server level, before the location: their routes are added apart.
    r.action = RouteAction::kUnavailable;
    r.clusters.clear();
    r.redirect.reset();
  }
  r.timeout = std::chrono::milliseconds(0);
  r.idle_timeout = a.idle_timeout;
  r.retry_policy = a.retry;
  r.connect_timeout = a.connect_timeout;
  if (r.action == RouteAction::kForward) {
    r.cors = a.cors;
    r.max_body_bytes = a.max_body_bytes;
    if (a.basic_auth) r.basic_auth = BasicAuth{a.basic_auth->realm, a.basic_auth->users};
    if (a.ext_auth && !a.ext_auth->config.cluster.empty()) {
      r.ext_auth = a.ext_auth->config;
      r.ext_auth->timeout = a.read_timeout;  // nginx's proxy_read_timeout (auth location)
    }
    r.rate_limit = a.rate_limit;
    r.response_bytes_per_second = a.limit_rate_bytes;
    r.response_rate_after_bytes = a.limit_rate_after_bytes;
  }
  r.source_ranges = a.source_ranges;
  if (!a.request_headers.set.empty()) {
    auto& set = r.request_headers.edit().set;
    set.insert(set.end(), a.request_headers.set.begin(), a.request_headers.set.end());
  }
  if (!a.response_headers.set.empty()) {
    auto& set = r.response_headers.edit().set;
    set.insert(set.end(), a.response_headers.set.begin(), a.response_headers.set.end());
  }
  r.https_redirect = (a.ssl_redirect || a.force_ssl_redirect) && a.denied.empty();
  r.https_redirect_code = 308;  // ingress-nginx's http-redirect-code default
  c.route = std::move(r);
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
        b.event(c.route->source, "PathInvalid", c.route->field,
                cat("host \"", c.host, "\" uses regular expressions (use-regex), and path \"",
                    *c.nginx_path, "\" is not one RE2 accepts: ", re.error()));
        continue;
      }
      if (c.route->regex_rewrite &&
          !re2::RE2(c.route->regex_rewrite->regex, re2::RE2::Quiet).ok()) {
        b.event(c.route->source, "PathInvalid", c.route->field,
                cat("path \"", *c.nginx_path,
                    "\" cannot be rewritten (rewrite-target): not a "
                    "regular expression RE2 accepts"));
        continue;
      }
      Route r = *c.route;
      r.path = PathRule{PathKind::kRegex, std::move(pattern)};
      c.route = std::move(r);
    }
    kept.push_back(std::move(c));
  }
  b.routes = std::move(kept);
  merge_canaries(b);
}

}  // namespace kop::ingress::internal
