// Ingresses read the ingress-nginx way -> Gateway, ReferenceGrants and HTTPRoutes
// (gateway_migration.h).
#include "kop/ingress/gateway_migration.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "gateway_migration_internal.h"
#include "kop/api/json.h"
#include "kop/api/yaml.h"
#include "kop/ingress/model.h"
#include "nginx_ingress.h"
#include "paths.h"
#include "text_cat.h"

namespace kop::ingress {
namespace {

using api::json::Allocator;
using api::json::Value;
using internal::cat;
using internal::MigrationFacts;
using internal::RewriteOutcome;

constexpr std::string_view kApiVersion = "gateway.networking.k8s.io/v1";
constexpr std::string_view kHttpListener = "http";
constexpr size_t kMaxRules = 16;  // HTTPRoute spec.rules maxItems

// ---- an intermediate form of HTTPRoute rules, compared to group hosts ----

struct HeaderMatch {
  std::string type;  // Exact, RegularExpression
  std::string name;
  std::string value;
  bool operator==(const HeaderMatch&) const = default;
};

struct BackendRef {
  std::string ns;  // "" = the route's
  std::string name;
  int64_t port = 0;
  std::optional<uint32_t> weight;
  bool operator==(const BackendRef&) const = default;
};

struct Rule {
  std::string path_type;  // "" = no match (every request)
  std::string path;
  std::vector<HeaderMatch> headers;
  std::optional<Redirect> redirect;
  std::vector<BackendRef> backends;  // empty and no redirect: the Gateway answers 500
  std::vector<Header> request_set;
  std::vector<Header> response_set;
  std::optional<std::string> rewrite_host;
  std::optional<std::string> rewrite_full_path;
  std::optional<std::string> rewrite_prefix;
  std::optional<Cors> cors;
  size_t order_length = 0;  // the raw path's length (regex hosts: longest first, as nginx)
  bool operator==(const Rule&) const = default;
};

// ---- JSON building ----

class Json {
 public:
  explicit Json(Allocator& a) : a_(a) {}
  Value str(std::string_view s) { return api::json::make_string(s, a_); }
  Value obj() { return Value(rapidjson::kObjectType); }
  Value arr() { return Value(rapidjson::kArrayType); }
  void put(Value& o, std::string_view key, Value v) { o.AddMember(str(key), v, a_); }
  void put(Value& o, std::string_view key, std::string_view v) { put(o, key, str(v)); }
  void put_int(Value& o, std::string_view key, int64_t v) { put(o, key, Value(v)); }
  void push(Value& a, Value v) { a.PushBack(v, a_); }
  Value strings(const std::vector<std::string>& items) {
    Value a = arr();
    for (const auto& s : items) push(a, str(s));
    return a;
  }

 private:
  Allocator& a_;
};

Value header_list(Json& j, const std::vector<Header>& headers) {
  Value a = j.arr();
  for (const auto& h : headers) {
    Value e = j.obj();
    j.put(e, "name", h.name);
    j.put(e, "value", h.value);
    j.push(a, std::move(e));
  }
  return a;
}

Value filter(Json& j, std::string_view type, std::string_view field, Value body) {
  Value f = j.obj();
  j.put(f, "type", type);
  j.put(f, field, std::move(body));
  return f;
}

Value rule_json(Json& j, const Rule& r) {
  Value rule = j.obj();
  if (!r.path_type.empty()) {
    Value match = j.obj();
    Value path = j.obj();
    j.put(path, "type", r.path_type);
    j.put(path, "value", r.path);
    j.put(match, "path", std::move(path));
    if (!r.headers.empty()) {
      Value headers = j.arr();
      for (const auto& h : r.headers) {
        Value e = j.obj();
        j.put(e, "type", h.type);
        j.put(e, "name", h.name);
        j.put(e, "value", h.value);
        j.push(headers, std::move(e));
      }
      j.put(match, "headers", std::move(headers));
    }
    Value matches = j.arr();
    j.push(matches, std::move(match));
    j.put(rule, "matches", std::move(matches));
  }
  Value filters = j.arr();
  if (r.redirect) {
    const Redirect& d = *r.redirect;
    Value rr = j.obj();
    if (d.scheme) j.put(rr, "scheme", *d.scheme);
    if (d.host) j.put(rr, "hostname", *d.host);
    if (d.port) j.put_int(rr, "port", *d.port);
    if (d.path) {
      Value p = j.obj();
      j.put(p, "type", "ReplaceFullPath");
      j.put(p, "replaceFullPath", *d.path);
      j.put(rr, "path", std::move(p));
    }
    j.put_int(rr, "statusCode", d.code);
    j.push(filters, filter(j, "RequestRedirect", "requestRedirect", std::move(rr)));
  }
  if (!r.request_set.empty()) {
    Value m = j.obj();
    j.put(m, "set", header_list(j, r.request_set));
    j.push(filters, filter(j, "RequestHeaderModifier", "requestHeaderModifier", std::move(m)));
  }
  if (!r.response_set.empty()) {
    Value m = j.obj();
    j.put(m, "set", header_list(j, r.response_set));
    j.push(filters, filter(j, "ResponseHeaderModifier", "responseHeaderModifier", std::move(m)));
  }
  if (r.rewrite_host || r.rewrite_full_path || r.rewrite_prefix) {
    Value rw = j.obj();
    if (r.rewrite_host) j.put(rw, "hostname", *r.rewrite_host);
    if (r.rewrite_full_path || r.rewrite_prefix) {
      Value p = j.obj();
      if (r.rewrite_full_path) {
        j.put(p, "type", "ReplaceFullPath");
        j.put(p, "replaceFullPath", *r.rewrite_full_path);
      } else {
        j.put(p, "type", "ReplacePrefixMatch");
        j.put(p, "replacePrefixMatch", *r.rewrite_prefix);
      }
      j.put(rw, "path", std::move(p));
    }
    j.push(filters, filter(j, "URLRewrite", "urlRewrite", std::move(rw)));
  }
  if (r.cors) {
    Value c = j.obj();
    j.put(c, "allowOrigins", j.strings(r.cors->allow_origins));
    if (!r.cors->allow_methods.empty()) j.put(c, "allowMethods", j.strings(r.cors->allow_methods));
    if (!r.cors->allow_headers.empty()) j.put(c, "allowHeaders", j.strings(r.cors->allow_headers));
    if (!r.cors->expose_headers.empty())
      j.put(c, "exposeHeaders", j.strings(r.cors->expose_headers));
    if (r.cors->allow_credentials) j.put(c, "allowCredentials", Value(true));
    if (r.cors->max_age > 0) j.put_int(c, "maxAge", r.cors->max_age);
    j.push(filters, filter(j, "CORS", "cors", std::move(c)));
  }
  if (!filters.Empty()) j.put(rule, "filters", std::move(filters));
  if (!r.backends.empty()) {
    Value refs = j.arr();
    for (const auto& b : r.backends) {
      Value e = j.obj();
      j.put(e, "name", b.name);
      if (!b.ns.empty()) j.put(e, "namespace", b.ns);
      j.put_int(e, "port", b.port);
      if (b.weight) j.put_int(e, "weight", *b.weight);
      j.push(refs, std::move(e));
    }
    j.put(rule, "backendRefs", std::move(refs));
  }
  return rule;
}

// ---- reading the Ingresses ----

struct IngressPath {
  std::string host;  // "*" = no host
  std::string type;  // Exact, Prefix, ImplementationSpecific
  std::string path;
  const Value* backend = nullptr;
  std::string field;
};

struct ReadIngress {
  const api::Object* object = nullptr;
  std::string key;
  std::string created;
  NginxAnnotations a;
  std::vector<std::string> hosts;  // rule hosts in spec order, "*" for a rule without host
  std::vector<IngressPath> paths;
  const Value* default_backend = nullptr;
  std::vector<std::string> notes;
  MigrationFacts facts;
};

const Value* member(const Value* v, std::string_view key) {
  return v == nullptr ? nullptr : api::json::find(*v, key);
}
std::string_view str(const Value* v, std::string_view key) {
  const Value* m = member(v, key);
  return m && m->IsString() ? api::json::as_string_view(*m) : std::string_view();
}
std::vector<const Value*> items(const Value* v, std::string_view key) {
  std::vector<const Value*> out;
  const Value* m = member(v, key);
  if (m && m->IsArray())
    for (const auto& e : m->GetArray()) out.push_back(&e);
  return out;
}

ReadIngress read_ingress(const api::Object& ing) {
  ReadIngress r;
  r.object = &ing;
  r.key = cat(ing.ns().empty() ? "default" : ing.ns(), "/", ing.name());
  r.created = std::string(ing.creation_timestamp());
  r.a = read_nginx_annotations(ing);
  const Value* spec = ing.spec();
  r.default_backend = member(spec, "defaultBackend");
  auto rules = items(spec, "rules");
  for (size_t i = 0; i < rules.size(); ++i) {
    std::string host = "*";
    if (std::string_view h = str(rules[i], "host"); !h.empty()) {
      auto n = internal::normalize_host(h);
      if (!n.ok()) {
        r.notes.push_back(cat("spec.rules[", i, "].host \"", h, "\": ",
                              std::string(n.status().message()), "; the rule is not converted"));
        continue;
      }
      host = *n;
    }
    if (std::find(r.hosts.begin(), r.hosts.end(), host) == r.hosts.end()) r.hosts.push_back(host);
    auto paths = items(member(rules[i], "http"), "paths");
    for (size_t k = 0; k < paths.size(); ++k) {
      IngressPath p;
      p.host = host;
      p.type = std::string(str(paths[k], "pathType"));
      if (p.type.empty()) p.type = "ImplementationSpecific";
      p.path = std::string(str(paths[k], "path"));
      if (p.path.empty()) p.path = "/";
      p.backend = member(paths[k], "backend");
      p.field = cat("spec.rules[", i, "].http.paths[", k, "]");
      r.paths.push_back(std::move(p));
    }
  }
  return r;
}

// The backendRef of an Ingress backend; nullopt (with a note) when it names no Service port
// the Gateway API can refer to.
std::optional<BackendRef> backend_ref(const ReadIngress& ing, const Value* backend,
                                      std::string_view field,
                                      const std::map<std::string, const api::Object*>& services,
                                      std::vector<std::string>& notes) {
  const Value* service = member(backend, "service");
  if (service == nullptr) {
    notes.push_back(cat(field, ": a resource backend has no Gateway API form; not converted"));
    return std::nullopt;
  }
  BackendRef ref;
  ref.name = std::string(str(service, "name"));
  const Value* port = member(service, "port");
  if (const Value* n = member(port, "number"); n && n->IsInt64()) ref.port = n->GetInt64();
  std::string_view port_name = str(port, "name");
  if (ref.port == 0 && !port_name.empty()) {
    auto it = services.find(cat(ing.object->ns(), "/", ref.name));
    if (it != services.end()) {
      for (const Value* p : items(it->second->spec(), "ports"))
        if (str(p, "name") == port_name)
          if (const Value* n = member(p, "port"); n && n->IsInt64()) ref.port = n->GetInt64();
    }
    if (ref.port == 0) {
      notes.push_back(cat(field, ": Service \"", ref.name, "\" port \"", port_name,
                          "\": a backendRef needs the port number, and the Service is not among "
                          "the objects read; not converted"));
      return std::nullopt;
    }
  }
  if (ref.name.empty() || ref.port <= 0 || ref.port > 65535) {
    notes.push_back(cat(field, ": no Service name and port; not converted"));
    return std::nullopt;
  }
  return ref;
}

// An ImplementationSpecific path without regex is nginx's `location /path`: a string prefix.
std::string string_prefix_regex(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (std::string_view("\\.+*?()|[]{}^$").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out + ".*";
}

bool plain_path(std::string_view p) {
  return !p.empty() && p.front() == '/' &&
         p.find_first_of("\\.+*?()|[]{}^$") == std::string_view::npos;
}

// rewrite-target's one form Gateway API can say: path "<prefix>(/|$)(.*)" with target
// "<replacement>/$2" (or "/$2"): the prefix replaced. Returns (prefix, replacement).
std::optional<std::pair<std::string, std::string>> prefix_rewrite(std::string_view path,
                                                                  std::string_view target) {
  constexpr std::string_view kTail = "(/|$)(.*)";
  if (path.size() <= kTail.size() || path.substr(path.size() - kTail.size()) != kTail)
    return std::nullopt;
  std::string_view prefix = path.substr(0, path.size() - kTail.size());
  constexpr std::string_view kGroup = "/$2";
  if (!plain_path(prefix) || prefix == "/" || target.size() < kGroup.size() ||
      target.substr(target.size() - kGroup.size()) != kGroup)
    return std::nullopt;
  std::string_view replacement = target.substr(0, target.size() - kGroup.size());
  if (replacement.empty()) replacement = "/";
  if (!plain_path(replacement)) return std::nullopt;
  return std::make_pair(std::string(prefix), std::string(replacement));
}

struct Canary {
  ReadIngress* ingress = nullptr;
  const IngressPath* path = nullptr;
};

using CanaryKey = std::tuple<std::string, std::string, std::string>;  // host, type, path

struct Context {
  std::set<std::string> regex_hosts;
  std::map<std::string, std::string> tls_listener;  // host -> listener name
  std::set<std::string> routed_hosts;
  std::map<CanaryKey, std::vector<Canary>> canaries;
  std::map<std::string, const api::Object*> services;  // "ns/name"
};

bool fail_closed(const NginxAnnotations& a) {
  return a.basic_auth.has_value() || a.ext_auth.has_value() || a.source_ranges.has_value() ||
         a.client_auth.has_value() || !a.unenforced_access.empty();
}

// The path match of an Ingress path on `host`, and the rewrite-target applied to it (to
// forwarded rules only: a redirect or a closed rule has nothing to rewrite).
void path_match(const Context& cx, ReadIngress& ing, const IngressPath& p, Rule& r) {
  r.order_length = p.path.size();
  if (cx.regex_hosts.count(p.host)) {
    const auto& target = ing.a.rewrite_target;
    if (target && *target != p.path && !ing.a.canary && !ing.a.redirect && !fail_closed(ing.a)) {
      if (auto pr = prefix_rewrite(p.path, *target)) {
        r.path_type = "PathPrefix";
        r.path = pr->first;
        r.rewrite_prefix = pr->second;
        if (ing.facts.rewrite != RewriteOutcome::kUnexpressed)
          ing.facts.rewrite = RewriteOutcome::kPrefix;
        return;
      }
      if (target->find('$') == std::string::npos) {
        r.rewrite_full_path = *target;
        if (ing.facts.rewrite == RewriteOutcome::kNone)
          ing.facts.rewrite = RewriteOutcome::kFullPath;
      } else {
        ing.facts.rewrite = RewriteOutcome::kUnexpressed;
      }
    }
    r.path_type = "RegularExpression";
    r.path = internal::nginx_location_regex(p.path);
    // The same RE2 with the leading '/' first: Gateway API implementations (kop-ingress among
    // them) want a path match to start with '/'; a flag group may follow it.
    if (r.path.rfind("(?i)/", 0) == 0) r.path = "/(?i)" + r.path.substr(5);
    return;
  }
  if (p.type == "Exact") {
    r.path_type = "Exact";
    r.path = p.path;
  } else if (p.type == "Prefix" || p.path == "/") {
    r.path_type = "PathPrefix";
    r.path = p.path;
  } else {
    r.path_type = "RegularExpression";
    r.path = string_prefix_regex(p.path);
  }
}

// The forwarding part of a rule: backends and the filters the annotations ask for.
void forward(const NginxAnnotations& a, BackendRef backend, Rule& r) {
  if (a.redirect) {
    r.redirect = a.redirect;
    return;
  }
  if (fail_closed(a)) return;  // no backendRefs: 500 rather than serve without the restriction
  r.backends.push_back(std::move(backend));
  for (const auto& h : a.request_headers.set) {
    if (h.name == "host")
      r.rewrite_host = h.value;  // upstream-vhost: the Host the backend sees
    else
      r.request_set.push_back(h);
  }
  r.response_set = a.response_headers.set;
  r.cors = a.cors;
}

std::string cookie_regex(std::string_view name, std::string_view value) {
  std::string quoted;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return cat("(?:.*;[ \\t]*)?", quoted, "=", value, "(?:;.*)?");
}

// The rules of main path `base` with canary `c` merged: header rules, cookie rules (each first
// the way to the canary), then the base rule with the weights split.
std::vector<Rule> with_canary(const Context& cx, const Rule& base, Canary& c,
                              std::string_view main_ns, std::vector<std::string>& notes) {
  const NginxCanary& k = *c.ingress->a.canary;
  std::optional<BackendRef> to =
      backend_ref(*c.ingress, c.path->backend, c.path->field, cx.services, c.ingress->notes);
  if (!to || base.backends.empty()) return {base};
  if (c.ingress->object->ns() != main_ns) {
    to->ns = std::string(c.ingress->object->ns());
    notes.push_back(cat("the canary ", c.ingress->key,
                        " is in another namespace: its backendRef needs a ReferenceGrant from "
                        "this HTTPRoute's namespace (not written here)"));
  }
  c.ingress->facts.canary_merged = true;
  std::vector<Rule> out;
  auto variant = [&](std::vector<HeaderMatch> headers, bool to_canary) {
    Rule v = base;
    v.headers = std::move(headers);
    if (to_canary) v.backends = {*to};
    out.push_back(std::move(v));
  };
  if (!k.header.empty()) {
    if (!k.header_value.empty()) {
      variant({{"Exact", k.header, k.header_value}}, true);
    } else if (!k.header_pattern.empty()) {
      variant({{"RegularExpression", k.header, cat("(?s).*(?:", k.header_pattern, ").*")}}, true);
    } else {
      variant({{"Exact", k.header, "always"}}, true);
      variant({{"Exact", k.header, "never"}}, false);
    }
  }
  if (!k.cookie.empty()) {
    variant({{"RegularExpression", "Cookie", cookie_regex(k.cookie, "always")}}, true);
    variant({{"RegularExpression", "Cookie", cookie_regex(k.cookie, "never")}}, false);
  }
  Rule main = base;
  if (k.weight > 0) {
    main.backends.clear();
    if (k.weight < k.weight_total) {
      BackendRef m = base.backends.front();
      m.weight = k.weight_total - k.weight;
      main.backends.push_back(std::move(m));
    }
    BackendRef w = *to;
    w.weight = k.weight;
    main.backends.push_back(std::move(w));
  }
  out.push_back(std::move(main));
  return out;
}

std::string listener_name(std::string_view host) {
  std::string out = "https-";
  for (char c : host) {
    if (c == '*')
      out += "wildcard";
    else if (c == '.')
      out.push_back('-');
    else
      out.push_back(c);
  }
  return out;
}

// ---- HTTPRoute objects ----

struct RouteSpec {
  std::string name;
  std::vector<std::string> hostnames;  // empty: every host
  std::vector<std::string> sections;   // listener names; empty: the whole Gateway
  std::vector<Rule> rules;
};

api::Object route_object(const GatewayMigrationOptions& o, std::string_view ns,
                         const RouteSpec& s) {
  api::Object route(kApiVersion, "HTTPRoute");
  route.set_name(s.name);
  route.set_namespace(ns);
  Json j(route.allocator());
  Value spec = j.obj();
  Value parents = j.arr();
  auto parent = [&](std::string_view section) {
    Value p = j.obj();
    j.put(p, "name", o.gateway_name);
    if (o.gateway_namespace != ns) j.put(p, "namespace", o.gateway_namespace);
    if (!section.empty()) j.put(p, "sectionName", section);
    j.push(parents, std::move(p));
  };
  if (s.sections.empty()) parent("");
  for (const auto& section : s.sections) parent(section);
  j.put(spec, "parentRefs", std::move(parents));
  if (!s.hostnames.empty()) j.put(spec, "hostnames", j.strings(s.hostnames));
  Value rules = j.arr();
  for (const auto& r : s.rules) j.push(rules, rule_json(j, r));
  j.put(spec, "rules", std::move(rules));
  route.mutable_spec() = std::move(spec);
  return route;
}

// Adds `spec` to `out`, split into routes of at most 16 rules (the CRD's bound).
void add_routes(RouteSpec spec, std::vector<RouteSpec>& out) {
  if (spec.rules.size() <= kMaxRules) {
    out.push_back(std::move(spec));
    return;
  }
  for (size_t at = 0, part = 1; at < spec.rules.size(); at += kMaxRules, ++part) {
    RouteSpec s = spec;
    s.rules.assign(spec.rules.begin() + static_cast<std::ptrdiff_t>(at),
                   spec.rules.begin() +
                       static_cast<std::ptrdiff_t>(std::min(at + kMaxRules, spec.rules.size())));
    if (part > 1) s.name = cat(spec.name, "-part", part);
    out.push_back(std::move(s));
  }
}

// The HTTPRoutes of one (non-canary) Ingress.
std::vector<RouteSpec> ingress_routes(Context& cx, ReadIngress& ing) {
  const NginxAnnotations& a = ing.a;
  const std::string name(ing.object->name());
  ing.facts.fail_closed = fail_closed(a);
  if (ing.facts.fail_closed)
    ing.notes.emplace_back(
        "its rules have no backendRefs (the Gateway answers 500): an access restriction named "
        "above has no Gateway API form, and serving without it would open what the Ingress closed");

  std::vector<std::string> served = ing.hosts;
  for (const auto& alias : a.server_aliases)
    if (std::find(served.begin(), served.end(), alias) == served.end()) served.push_back(alias);

  // Per host: its serving rules and listeners, and its HTTP -> HTTPS redirect rules.
  using Key = std::pair<std::vector<Rule>, std::vector<std::string>>;
  std::vector<std::pair<Key, std::vector<std::string>>> groups;  // first-seen order
  std::vector<std::pair<std::vector<Rule>, std::vector<std::string>>> redirect_groups;
  for (const auto& host : served) {
    bool alias = std::find(ing.hosts.begin(), ing.hosts.end(), host) == ing.hosts.end();
    std::vector<Rule> rules;
    for (const auto& p : ing.paths) {
      if (!alias && p.host != host) continue;
      auto backend = backend_ref(ing, p.backend, p.field, cx.services, ing.notes);
      if (!backend) continue;
      IngressPath at = p;
      at.host = host;
      Rule base;
      path_match(cx, ing, at, base);
      forward(a, *backend, base);
      auto canaries = cx.canaries.find({host, p.type, p.path});
      if (canaries != cx.canaries.end() && !a.redirect && !ing.facts.fail_closed) {
        auto merged = with_canary(cx, base, canaries->second.front(), ing.object->ns(), ing.notes);
        for (auto& r : merged) rules.push_back(std::move(r));
        if (canaries->second.size() > 1)
          ing.notes.push_back(cat("host \"", host, "\" path \"", p.path,
                                  "\": only the first canary Ingress is merged"));
      } else {
        rules.push_back(std::move(base));
      }
    }
    if (cx.regex_hosts.count(host))
      std::stable_sort(rules.begin(), rules.end(), [](const Rule& x, const Rule& y) {
        return x.order_length > y.order_length;
      });
    if (a.app_root) {
      Rule root;
      root.path_type = "Exact";
      root.path = "/";
      root.redirect = Redirect{};
      root.redirect->path = *a.app_root;
      root.redirect->code = 302;
      rules.insert(rules.begin(), std::move(root));
    }
    if (rules.empty()) continue;
    auto tls = cx.tls_listener.find(host);
    bool redirected = tls != cx.tls_listener.end() && (a.ssl_redirect || a.force_ssl_redirect);
    std::vector<std::string> sections;
    if (!redirected) sections.emplace_back(kHttpListener);
    if (tls != cx.tls_listener.end()) sections.push_back(tls->second);
    if (redirected) {
      std::vector<Rule> to_https;
      for (const auto& r : rules) {
        Rule d;
        d.path_type = r.path_type;
        d.path = r.path;
        d.redirect = Redirect{};
        d.redirect->scheme = "https";
        d.redirect->code = 308;
        if (std::find(to_https.begin(), to_https.end(), d) == to_https.end())
          to_https.push_back(std::move(d));
      }
      auto g = std::find_if(redirect_groups.begin(), redirect_groups.end(),
                            [&](const auto& e) { return e.first == to_https; });
      if (g == redirect_groups.end())
        redirect_groups.emplace_back(std::move(to_https), std::vector<std::string>{host});
      else
        g->second.push_back(host);
    }
    // "*" (every host) cannot share a route with named hosts.
    if (host == "*") sections.insert(sections.begin(), "*");
    Key key{std::move(rules), std::move(sections)};
    auto g =
        std::find_if(groups.begin(), groups.end(), [&](const auto& e) { return e.first == key; });
    if (g == groups.end())
      groups.emplace_back(std::move(key), std::vector<std::string>{host});
    else
      g->second.push_back(host);
  }

  std::vector<RouteSpec> out;
  size_t n = 0;
  auto next_name = [&] {
    ++n;
    return n == 1 ? name : cat(name, "-", n);
  };
  for (auto& [key, hosts] : groups) {
    RouteSpec s;
    s.name = next_name();
    s.rules = key.first;
    for (const auto& sec : key.second)
      if (sec != "*") s.sections.push_back(sec);
    if (hosts != std::vector<std::string>{"*"}) s.hostnames = hosts;
    std::sort(s.hostnames.begin(), s.hostnames.end());
    add_routes(std::move(s), out);
  }
  for (size_t i = 0; i < redirect_groups.size(); ++i) {
    RouteSpec s;
    s.name = i == 0 ? cat(name, "-https-redirect") : cat(name, "-https-redirect-", i + 1);
    s.rules = redirect_groups[i].first;
    s.sections = {std::string(kHttpListener)};
    s.hostnames = redirect_groups[i].second;
    std::sort(s.hostnames.begin(), s.hostnames.end());
    add_routes(std::move(s), out);
  }
  if (a.from_to_www_redirect) {
    size_t k = 0;
    for (const auto& host : ing.hosts) {
      if (host == "*" || host.front() == '*') continue;
      std::string other = host.rfind("www.", 0) == 0 ? host.substr(4) : "www." + host;
      if (cx.routed_hosts.count(other)) continue;
      RouteSpec s;
      s.name = ++k == 1 ? cat(name, "-from-to-www") : cat(name, "-from-to-www-", k);
      s.sections = {std::string(kHttpListener)};
      s.hostnames = {other};
      Rule r;
      r.redirect = Redirect{};
      r.redirect->host = host;
      r.redirect->code = 308;
      s.rules.push_back(std::move(r));
      out.push_back(std::move(s));
    }
  }
  if (ing.default_backend) {
    if (auto backend =
            backend_ref(ing, ing.default_backend, "spec.defaultBackend", cx.services, ing.notes)) {
      RouteSpec s;
      s.name = cat(name, "-default-backend");
      Rule r;
      r.backends.push_back(*backend);
      s.rules.push_back(std::move(r));
      out.push_back(std::move(s));
      ing.notes.emplace_back(
          "spec.defaultBackend: an HTTPRoute without hostnames or matches (every request no "
          "other rule takes)");
    }
  }
  return out;
}

// ---- the Gateway ----

struct TlsClaim {
  std::string secret_ns;
  std::string secret;
  std::string ingress;
};

api::Object gateway_object(const GatewayMigrationOptions& o,
                           const std::map<std::string, TlsClaim>& tls, bool other_namespaces) {
  api::Object gw(kApiVersion, "Gateway");
  gw.set_name(o.gateway_name);
  gw.set_namespace(o.gateway_namespace);
  Json j(gw.allocator());
  Value spec = j.obj();
  j.put(spec, "gatewayClassName", o.gateway_class);
  Value listeners = j.arr();
  auto allowed = [&](Value& l) {
    if (!other_namespaces) return;
    Value a = j.obj();
    Value ns = j.obj();
    j.put(ns, "from", "All");
    j.put(a, "namespaces", std::move(ns));
    j.put(l, "allowedRoutes", std::move(a));
  };
  Value http = j.obj();
  j.put(http, "name", kHttpListener);
  j.put(http, "protocol", "HTTP");
  j.put_int(http, "port", 80);
  allowed(http);
  j.push(listeners, std::move(http));
  for (const auto& [host, claim] : tls) {
    Value l = j.obj();
    j.put(l, "name", listener_name(host));
    j.put(l, "protocol", "HTTPS");
    j.put_int(l, "port", 443);
    j.put(l, "hostname", host);
    Value t = j.obj();
    j.put(t, "mode", "Terminate");
    Value refs = j.arr();
    Value ref = j.obj();
    j.put(ref, "kind", "Secret");
    j.put(ref, "name", claim.secret);
    if (claim.secret_ns != o.gateway_namespace) j.put(ref, "namespace", claim.secret_ns);
    j.push(refs, std::move(ref));
    j.put(t, "certificateRefs", std::move(refs));
    j.put(l, "tls", std::move(t));
    allowed(l);
    j.push(listeners, std::move(l));
  }
  j.put(spec, "listeners", std::move(listeners));
  gw.mutable_spec() = std::move(spec);
  return gw;
}

// A ReferenceGrant in `ns` letting the Gateway read `secrets` there.
api::Object reference_grant(const GatewayMigrationOptions& o, const std::string& ns,
                            const std::set<std::string>& secrets) {
  api::Object g(kApiVersion, "ReferenceGrant");
  g.set_name(cat("gateway-", o.gateway_namespace, "-", o.gateway_name, "-secrets"));
  g.set_namespace(ns);
  Json j(g.allocator());
  Value spec = j.obj();
  Value from = j.arr();
  Value f = j.obj();
  j.put(f, "group", "gateway.networking.k8s.io");
  j.put(f, "kind", "Gateway");
  j.put(f, "namespace", o.gateway_namespace);
  j.push(from, std::move(f));
  j.put(spec, "from", std::move(from));
  Value to = j.arr();
  for (const auto& s : secrets) {
    Value t = j.obj();
    j.put(t, "group", "");
    j.put(t, "kind", "Secret");
    j.put(t, "name", s);
    j.push(to, std::move(t));
  }
  j.put(spec, "to", std::move(to));
  g.mutable_spec() = std::move(spec);
  return g;
}

std::string comment(std::string_view text) {
  std::string out = "# ";
  for (char c : text) {
    if (c == '\n')
      out += "\\n";
    else if (c != '\r')
      out.push_back(c);
  }
  return out + "\n";
}

}  // namespace

GatewayMigration migrate_to_gateway(const std::vector<api::Object>& objects,
                                    const GatewayMigrationOptions& options) {
  Context cx;
  std::vector<ReadIngress> ingresses;
  for (const auto& o : objects) {
    if (o.kind() == "Ingress") ingresses.push_back(read_ingress(o));
    if (o.kind() == "Service") cx.services[cat(o.ns(), "/", o.name())] = &o;
  }
  std::sort(ingresses.begin(), ingresses.end(),
            [](const ReadIngress& x, const ReadIngress& y) { return x.key < y.key; });

  GatewayMigration out;
  // TLS hosts: the oldest Ingress (then namespace/name) wins a host, as in the model.
  std::vector<ReadIngress*> by_age;
  by_age.reserve(ingresses.size());
  for (auto& ing : ingresses) by_age.push_back(&ing);
  std::stable_sort(by_age.begin(), by_age.end(), [](const ReadIngress* x, const ReadIngress* y) {
    return x->created < y->created;
  });
  std::map<std::string, TlsClaim> tls;
  for (ReadIngress* ing : by_age) {
    auto entries = items(ing->object->spec(), "tls");
    for (size_t i = 0; i < entries.size(); ++i) {
      std::string secret(str(entries[i], "secretName"));
      auto hosts = items(entries[i], "hosts");
      if (hosts.empty() || secret.empty()) {
        ing->notes.push_back(cat("spec.tls[", i,
                                 "]: without hosts and a secretName it binds no certificate "
                                 "(kop-ingress ignores it too); not converted"));
        continue;
      }
      for (const Value* h : hosts) {
        auto host = internal::normalize_host(h->IsString() ? api::json::as_string_view(*h) : "");
        if (!host.ok()) continue;
        TlsClaim claim{std::string(ing->object->ns()), secret, ing->key};
        auto [it, fresh] = tls.emplace(*host, claim);
        if (!fresh && (it->second.secret != secret || it->second.secret_ns != claim.secret_ns))
          out.gateway_notes.push_back(cat("TLS host \"", *host, "\": ", it->second.ingress,
                                          "'s Secret is used; ", ing->key, "'s \"", secret,
                                          "\" is not (the older Ingress wins, as in kop-ingress)"));
      }
    }
  }
  for (const auto& [host, claim] : tls) cx.tls_listener[host] = listener_name(host);

  for (auto& ing : ingresses) {
    if (ing.a.canary) {
      for (const auto& p : ing.paths) cx.canaries[{p.host, p.type, p.path}].push_back({&ing, &p});
      continue;
    }
    for (const auto& h : ing.hosts) cx.routed_hosts.insert(h);
    for (const auto& h : ing.a.server_aliases) cx.routed_hosts.insert(h);
    if (ing.a.use_regex || ing.a.rewrite_target) {
      for (const auto& h : ing.hosts) cx.regex_hosts.insert(h);
      for (const auto& h : ing.a.server_aliases) cx.regex_hosts.insert(h);
    }
  }

  bool other_namespaces = false;
  std::vector<std::vector<RouteSpec>> specs(ingresses.size());
  for (size_t i = 0; i < ingresses.size(); ++i) {
    if (ingresses[i].a.canary) continue;
    specs[i] = ingress_routes(cx, ingresses[i]);
    if (!specs[i].empty() && ingresses[i].object->ns() != options.gateway_namespace)
      other_namespaces = true;
  }
  for (size_t i = 0; i < ingresses.size(); ++i) {
    ReadIngress& ing = ingresses[i];
    MigratedIngress m;
    m.key = ing.key;
    for (const auto& s : specs[i]) m.routes.push_back(route_object(options, ing.object->ns(), s));
    if (ing.a.canary)
      ing.notes.emplace_back(ing.facts.canary_merged
                                 ? "a canary: merged into its main Ingress' HTTPRoute rules"
                                 : "a canary without a main Ingress on its host and path: not "
                                   "converted (kop-ingress does not serve it either)");
    for (const auto& v : ing.a.verdicts) m.annotations.push_back(convert_annotation(v, ing.facts));
    m.notes = std::move(ing.notes);
    out.ingresses.push_back(std::move(m));
  }

  out.gateway = gateway_object(options, tls, other_namespaces);
  std::map<std::string, std::set<std::string>> grants;
  for (const auto& [host, claim] : tls)
    if (claim.secret_ns != options.gateway_namespace) grants[claim.secret_ns].insert(claim.secret);
  for (const auto& [ns, secrets] : grants)
    out.reference_grants.push_back(reference_grant(options, ns, secrets));
  return out;
}

std::string migration_yaml(const GatewayMigration& m) {
  std::string out;
  size_t routes = 0;
  std::map<Conversion, size_t> totals;
  out += comment(cat("Gateway API v1.6.1 objects for ", m.ingresses.size(),
                     " Ingresses (kop-ingress migrate --to-gateway); the comments name what "
                     "did not convert"));
  for (const auto& note : m.gateway_notes) out += comment(note);
  out += api::to_yaml(m.gateway);
  for (const auto& g : m.reference_grants) out += "---\n" + api::to_yaml(g);
  for (const auto& ing : m.ingresses) {
    out += "---\n";
    out += comment(cat("Ingress ", ing.key, ": ", ing.routes.size(), " HTTPRoute",
                       ing.routes.size() == 1 ? "" : "s"));
    for (const auto& a : ing.annotations) {
      ++totals[a.conversion];
      std::string_view label = a.conversion == Conversion::kConverted   ? "converted"
                               : a.conversion == Conversion::kDifferent ? "converted, different"
                                                                        : "NOT CONVERTED";
      out += comment(cat("  ", kNginxAnnotationPrefix, a.annotation, ": ", label,
                         a.note.empty() ? "" : ": ", a.note));
    }
    for (const auto& note : ing.notes) out += comment(cat("  note: ", note));
    for (size_t i = 0; i < ing.routes.size(); ++i) {
      if (i) out += "---\n";
      out += api::to_yaml(ing.routes[i]);
      ++routes;
    }
  }
  out += "---\n";
  out += comment(cat("Total: ", m.ingresses.size(), " Ingresses, 1 Gateway, ", routes,
                     " HTTPRoutes, ", m.reference_grants.size(), " ReferenceGrants; ",
                     totals[Conversion::kConverted] + totals[Conversion::kDifferent] +
                         totals[Conversion::kNoEquivalent],
                     " annotations: ", totals[Conversion::kConverted], " converted, ",
                     totals[Conversion::kDifferent], " converted with a difference, ",
                     totals[Conversion::kNoEquivalent],
                     " without a Gateway API equivalent (NOT CONVERTED above)"));
  return out;
}

}  // namespace kop::ingress
