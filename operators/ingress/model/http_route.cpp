// HTTPRoute: each parentRef resolved against our Gateways' listeners (sectionName, port,
// allowedRoutes, hostname intersection), each rule turned into model Routes, and the status
// per parent that those decisions give.
#include <re2/re2.h>

#include <algorithm>

#include "gateway_internal.h"
#include "kop/proxy/cors.h"
#include "paths.h"

namespace kop::ingress::gateway::internal {

using ingress::internal::parse_duration;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

}  // namespace

bool is_token(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}
namespace {
bool is_header_value(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}
// A path the proxy can put on a request line: no space, control character, '?' or '#'.
bool is_path(std::string_view p) {
  return std::none_of(p.begin(), p.end(), [](char c) {
    return static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '?' || c == '#';
  });
}

std::string read_header_policy(const rapidjson::Value* mod, const std::string& field,
                               HeaderPolicy& policy) {
  for (const char* op : {"set", "add"}) {
    size_t i = 0;
    for (const rapidjson::Value* h : items_of(mod, op)) {
      Header header{lower(str_of(h, "name")), std::string(str_of(h, "value"))};
      if (!is_token(header.name))
        return cat(field, ".", op, "[", i, "].name: not a valid header name");
      if (!is_header_value(header.value))
        return cat(field, ".", op, "[", i, "].value: CR, LF and NUL are not allowed");
      (std::string_view(op) == "set" ? policy.set : policy.add).push_back(std::move(header));
      ++i;
    }
  }
  size_t i = 0;
  for (const rapidjson::Value* h : items_of(mod, "remove")) {
    std::string name = h->IsString() ? lower({h->GetString(), h->GetStringLength()}) : "";
    if (!is_token(name)) return cat(field, ".remove[", i, "]: not a valid header name");
    policy.remove.push_back(std::move(name));
    ++i;
  }
  return "";
}

}  // namespace

std::string header_policy(const rapidjson::Value* mod, const std::string& field,
                          proxy::OnHeap<HeaderPolicy>& policy) {
  // Filled apart and assigned: a policy left empty stays off the heap.
  HeaderPolicy filled = *policy;
  std::string error = read_header_policy(mod, field, filled);
  policy = std::move(filled);
  return error;
}

namespace {

// RequestRedirect: the rule answers with a redirect instead of forwarding. A redirect without
// scheme and port goes to the listener's port, filled in when the rule is placed.
std::string redirect(const rapidjson::Value* rr, const std::string& field, Route& r) {
  Redirect red;
  if (std::string_view v = str_of(rr, "scheme"); !v.empty()) {
    if (v != "http" && v != "https") return cat(field, ".scheme: \"", v, "\" is not supported");
    red.scheme = std::string(v);
  }
  if (std::string_view v = str_of(rr, "hostname"); !v.empty()) {
    auto host = ingress::internal::normalize_host(v);
    if (!host.ok() || (*host)[0] == '*') return field + ".hostname: not a valid host name";
    red.host = *host;
  }
  if (auto port = int_of(rr, "port")) {
    if (*port < 1 || *port > 65535) return field + ".port: must be 1-65535";
    red.port = uint16_t(*port);
  }
  red.code = uint32_t(int_of(rr, "statusCode").value_or(302));
  if (red.code != 301 && red.code != 302 && red.code != 303 && red.code != 307 && red.code != 308)
    return cat(field, ".statusCode: ", red.code, " is not a redirect code");
  if (const rapidjson::Value* path = member(rr, "path")) {
    std::string_view type = str_of(path, "type");
    if (type == "ReplaceFullPath") {
      red.path = std::string(str_of(path, "replaceFullPath"));
      if (red.path->empty()) red.path = "/";
      if ((*red.path)[0] != '/') return field + ".path.replaceFullPath: must start with '/'";
    } else if (type == "ReplacePrefixMatch" && r.path.kind == PathKind::kPrefix) {
      red.prefix_rewrite = std::string(str_of(path, "replacePrefixMatch"));
      if (red.prefix_rewrite->empty()) red.prefix_rewrite = "/";
      if ((*red.prefix_rewrite)[0] != '/')
        return field + ".path.replacePrefixMatch: must start with '/'";
    } else {
      return cat(field, ".path: ", type, " is not supported here (ReplacePrefixMatch needs a ",
                 "PathPrefix match)");
    }
  }
  if (r.prefix_rewrite) return field + ": a redirect and a URLRewrite cannot share a rule";
  r.action = RouteAction::kRedirect;
  r.redirect = std::move(red);
  r.clusters.clear();
  return "";
}

// URLRewrite's path: ReplacePrefixMatch (on a PathPrefix match) or ReplaceFullPath.
std::string url_rewrite_path(const rapidjson::Value* path, const std::string& ff, Route& r) {
  std::string_view type = str_of(path, "type");
  if (type == "ReplacePrefixMatch" && r.path.kind == PathKind::kPrefix) {
    r.prefix_rewrite = std::string(str_of(path, "replacePrefixMatch"));
    if (r.prefix_rewrite->empty()) r.prefix_rewrite = std::string("/");
    if ((*r.prefix_rewrite)[0] != '/' || !is_path(*r.prefix_rewrite))
      return ff + ".urlRewrite.path.replacePrefixMatch: must be a path starting with '/'";
    return "";
  }
  if (type == "ReplaceFullPath") {
    r.path_rewrite = std::string(str_of(path, "replaceFullPath"));
    if (r.path_rewrite->empty()) r.path_rewrite = std::string("/");
    if ((*r.path_rewrite)[0] != '/' || !is_path(*r.path_rewrite))
      return ff + ".urlRewrite.path.replaceFullPath: must be a path starting with '/'";
    return "";
  }
  return cat(ff, ".urlRewrite.path: ", type,
             " is not supported here (ReplacePrefixMatch needs a PathPrefix match)");
}

// The CORS filter: origins the proxy can match, methods and header names that are tokens.
std::string cors(const rapidjson::Value* c, const std::string& field, Route& r) {
  Cors out;
  size_t i = 0;
  for (const rapidjson::Value* o : items_of(c, "allowOrigins")) {
    std::string origin(o->IsString() ? std::string_view(o->GetString(), o->GetStringLength())
                                     : std::string_view());
    if (!proxy::valid_cors_origin(origin))
      return cat(field, ".allowOrigins[", i, "]: not \"*\" or scheme://host[:port]");
    out.allow_origins.push_back(std::move(origin));
    ++i;
  }
  for (auto [key, list] : {std::pair{"allowMethods", &out.allow_methods},
                           std::pair{"allowHeaders", &out.allow_headers},
                           std::pair{"exposeHeaders", &out.expose_headers}}) {
    i = 0;
    for (const rapidjson::Value* v : items_of(c, key)) {
      std::string s(v->IsString() ? std::string_view(v->GetString(), v->GetStringLength())
                                  : std::string_view());
      if (s != "*" && !is_token(s)) return cat(field, ".", key, "[", i, "]: not a token");
      list->push_back(std::move(s));
      ++i;
    }
  }
  out.allow_credentials = ingress::internal::bool_of(c, "allowCredentials").value_or(false);
  int64_t max_age = int_of(c, "maxAge").value_or(5);
  if (max_age < 1 || max_age > int64_t{86400} * 365)
    return field + ".maxAge: must be 1 second to 1 year";
  out.max_age = uint32_t(max_age);
  r.cors = std::move(out);
  return "";
}

// Filters the model can express today, applied to `r`; else the unsupported field.
std::string apply_filters(const rapidjson::Value* rule, const std::string& field, Route& r) {
  size_t i = 0;
  for (const rapidjson::Value* f : items_of(rule, "filters")) {
    std::string ff = cat(field, ".filters[", i++, "]");
    std::string_view type = str_of(f, "type");
    std::string err;
    if (type == "RequestHeaderModifier") {
      err = header_policy(member(f, "requestHeaderModifier"), ff + ".requestHeaderModifier",
                          r.request_headers);
    } else if (type == "ResponseHeaderModifier") {
      err = header_policy(member(f, "responseHeaderModifier"), ff + ".responseHeaderModifier",
                          r.response_headers);
    } else if (type == "URLRewrite") {
      const rapidjson::Value* rw = member(f, "urlRewrite");
      const rapidjson::Value* path = member(rw, "path");
      if (r.redirect) {
        err = ff + ": a redirect and a URLRewrite cannot share a rule";
      } else if (member(rw, "hostname") != nullptr) {
        auto host = ingress::internal::normalize_host(str_of(rw, "hostname"));
        if (!host.ok() || (*host)[0] == '*')
          err = ff + ".urlRewrite.hostname: not a valid host name";
        else
          r.host_rewrite = *host;
      }
      if (err.empty() && path != nullptr) err = url_rewrite_path(path, ff, r);
    } else if (type == "RequestRedirect") {
      err = redirect(member(f, "requestRedirect"), ff + ".requestRedirect", r);
    } else if (type == "CORS") {
      err = cors(member(f, "cors"), ff + ".cors", r);
    } else if (type == "RequestMirror") {
      // Resolved once per rule (its backendRef) by mirrors().
    } else {
      err = cat(ff, ".type: ", type, " is not supported yet");
    }
    if (!err.empty()) return err;
  }
  return "";
}

// The path and header conditions of one match; else the unsupported field.
std::string apply_match(const rapidjson::Value* m, const std::string& field, Route& r) {
  if (!m->IsObject()) return field + ": not an object";
  if (member(m, "method") != nullptr) {
    std::string_view method = str_of(m, "method");
    static constexpr std::string_view kMethods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                    "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods))
      return cat(field, ".method: \"", method, "\" is not an HTTP method");
    r.method = std::string(method);
  }
  size_t qi = 0;
  for (const rapidjson::Value* q : items_of(m, "queryParams")) {
    std::string qf = cat(field, ".queryParams[", qi++, "]");
    std::string_view type = member(q, "type") ? str_of(q, "type") : "Exact";
    std::string name(str_of(q, "name"));
    std::string value(str_of(q, "value"));
    if (name.empty() || name.find_first_of("&=#") != std::string::npos || !is_path(name))
      return qf + ".name: not a valid query parameter name";
    if (type == "RegularExpression") {
      RE2 re(value, RE2::Quiet);
      if (!re.ok()) return cat(qf, ".value: invalid regular expression: ", re.error());
    } else if (type != "Exact") {
      return cat(qf, ".type: \"", type, "\" is not supported");
    }
    // The spec: of several matches on one parameter name, only the first counts.
    if (std::none_of(r.query_params.begin(), r.query_params.end(),
                     [&](const QueryCondition& c) { return c.name == name; }))
      r.query_params.push_back(
          QueryCondition{std::move(name), type == "RegularExpression", std::move(value)});
  }
  std::sort(r.query_params.begin(), r.query_params.end());
  if (const rapidjson::Value* p = member(m, "path")) {
    std::string_view type = member(p, "type") ? str_of(p, "type") : "PathPrefix";
    std::string value(member(p, "value") ? str_of(p, "value") : "/");
    if (value.empty() || value[0] != '/') return field + ".path.value: must start with '/'";
    if (type == "Exact") {
      r.path = PathRule{PathKind::kExact, value};
    } else if (type == "PathPrefix") {
      while (value.size() > 1 && value.back() == '/') value.pop_back();
      r.path = PathRule{PathKind::kPrefix, value};
    } else if (type == "RegularExpression") {
      RE2 re(value, RE2::Quiet);
      if (!re.ok()) return cat(field, ".path.value: invalid regular expression: ", re.error());
      r.path = PathRule{PathKind::kRegex, value};
    } else {
      return cat(field, ".path.type: \"", type, "\" is not supported");
    }
  }
  return header_matches(m, field, r);
}

}  // namespace

std::string header_matches(const rapidjson::Value* m, const std::string& field, Route& r) {
  size_t i = 0;
  for (const rapidjson::Value* h : items_of(m, "headers")) {
    std::string_view type = member(h, "type") ? str_of(h, "type") : "Exact";
    std::string value(str_of(h, "value"));
    HeaderOp op = HeaderOp::kExact;
    if (type == "RegularExpression") {
      RE2 re(value, RE2::Quiet);
      if (!re.ok())
        return cat(field, ".headers[", i, "].value: invalid regular expression: ", re.error());
      op = HeaderOp::kRegex;
    } else if (type != "Exact") {
      return cat(field, ".headers[", i, "].type: \"", type, "\" is not supported");
    }
    std::string name = lower(str_of(h, "name"));
    if (!is_token(name)) return cat(field, ".headers[", i, "].name: not a valid header name");
    // The spec: of several matches on one header name, only the first counts.
    if (std::none_of(r.headers.begin(), r.headers.end(),
                     [&](const HeaderCondition& c) { return c.name == name; }))
      r.headers.push_back(HeaderCondition{name, op, std::move(value)});
    ++i;
  }
  std::sort(r.headers.begin(), r.headers.end());
  return "";
}

namespace {

// A backendRef's filters: header changes for the requests sent to it and for its responses;
// its RequestMirror filters are rule_backends()'.
std::string backend_filters(const rapidjson::Value* ref, const std::string& field,
                            WeightedCluster& entry) {
  size_t i = 0;
  for (const rapidjson::Value* f : items_of(ref, "filters")) {
    std::string ff = cat(field, ".filters[", i++, "]");
    std::string_view type = str_of(f, "type");
    std::string err;
    if (type == "RequestHeaderModifier") {
      err = header_policy(member(f, "requestHeaderModifier"), ff + ".requestHeaderModifier",
                          entry.request_headers);
    } else if (type == "ResponseHeaderModifier") {
      err = header_policy(member(f, "responseHeaderModifier"), ff + ".responseHeaderModifier",
                          entry.response_headers);
    } else if (type == "RequestMirror") {
      // The backendRef's mirrors (request_mirrors(), called by rule_backends()).
    } else {
      err = cat(ff, ".type: ", type, " is not supported on a backendRef");
    }
    if (!err.empty()) return err;
  }
  return "";
}

}  // namespace

void rule_backends(Translation& t, const api::Object& route, const ObjectRef& src,
                   const rapidjson::Value* rule, const std::string& field, RouteRule& out,
                   std::vector<WeightedCluster>& clusters, uint32_t& invalid_weight, bool h2c) {
  size_t i = 0;
  std::vector<const rapidjson::Value*> refs = items_of(rule, "backendRefs");
  for (const rapidjson::Value* ref : refs) {
    std::string rfield = cat(field, ".backendRefs[", i, "]");
    int64_t weight = int_of(ref, "weight").value_or(1);
    WeightedCluster entry;
    std::string filters = backend_filters(ref, rfield, entry);
    // RequestMirror on this backendRef: copies of the requests this entry gets (a GRPCRoute
    // rule's only backendRef: the rule's, translate_rule() in grpc_route.cpp).
    if (filters.empty() && !(h2c && refs.size() == 1)) {
      Route own;
      request_mirrors(t, route, src, ref, rfield, out, own, h2c);
      entry.mirrors = std::move(own.mirrors);
    }
    bool invalid = false;
    if (weight < 0 || weight > 1000000) {
      out.unsupported = rfield + ".weight: must be 0-1000000";
    } else if (!filters.empty()) {
      out.unsupported = filters;
    } else if (ServiceBackend b = service_backend(t, route, src, ref, rfield, h2c); !b.cluster) {
      invalid = true;
      if (out.refs_reason.empty() && !b.reason.empty()) {
        out.refs_reason = b.reason;
        out.refs_message = cat(rfield, ": ", b.message);
      }
    } else if (weight > 0) {
      entry.cluster = *b.cluster;
      entry.weight = uint32_t(weight);
      // The proxy applies the filters of a cluster's first entry to all of its entries.
      for (const WeightedCluster& c : clusters)
        if (c.cluster == entry.cluster && (c.request_headers != entry.request_headers ||
                                           c.response_headers != entry.response_headers))
          out.unsupported = rfield +
                            ".filters: another backendRef to this Service port has different "
                            "filters";
      clusters.push_back(std::move(entry));
    }
    if (invalid && weight > 0 && weight <= 1000000) invalid_weight += uint32_t(weight);
    ++i;
  }
}

void request_mirrors(Translation& t, const api::Object& route, const ObjectRef& src,
                     const rapidjson::Value* owner, const std::string& field, RouteRule& out,
                     Route& base, bool h2c) {
  size_t i = 0;
  for (const rapidjson::Value* f : items_of(owner, "filters")) {
    std::string ff = cat(field, ".filters[", i++, "].requestMirror");
    if (str_of(f, "type") != "RequestMirror") continue;
    const rapidjson::Value* m = member(f, "requestMirror");
    const rapidjson::Value* fraction = member(m, "fraction");
    uint32_t per_million = 1000000;
    if (member(m, "percent") != nullptr && fraction != nullptr) {
      out.unsupported = ff + ": percent and fraction cannot both be set";
      return;
    }
    if (member(m, "percent") != nullptr) {
      int64_t percent = int_of(m, "percent").value_or(-1);
      if (percent < 0 || percent > 100) {
        out.unsupported = ff + ".percent: must be 0-100";
        return;
      }
      per_million = uint32_t(percent * 10000);
    } else if (fraction != nullptr) {
      int64_t num = int_of(fraction, "numerator").value_or(-1);
      int64_t den = int_of(fraction, "denominator").value_or(100);
      if (num < 0 || den <= 0 || num > den || den > 1000000000) {
        out.unsupported = ff + ".fraction: want 0 <= numerator <= denominator, denominator > 0";
        return;
      }
      per_million = uint32_t(num * 1000000 / den);
    }
    std::string rfield = ff + ".backendRef";
    ServiceBackend b = service_backend(t, route, src, member(m, "backendRef"), rfield, h2c);
    if (!b.cluster) {
      if (out.refs_reason.empty() && !b.reason.empty()) {
        out.refs_reason = b.reason;
        out.refs_message = cat(rfield, ": ", b.message);
      }
      continue;
    }
    base.mirrors.emplace_back(*b.cluster, per_million);
  }
}

namespace {

// HTTPRoute `retry` (experimental channel, GEP-1731) as the proxy's retry policy of the rule.
// Connection errors (not connected, connect timeout, reset before an answer) are retried as the
// type's comment asks, then the listed codes; any method, as Envoy does (a request with a body
// is retried only when it never reached the backend: the proxy keeps no copy of bodies).
// `attempts` counts retries after the first try (default 1), each `backoff` after the last.
void apply_retry(Translation& t, const ObjectRef& src, const rapidjson::Value* rule,
                 const std::string& field, RouteRule& out, Route& base) {
  const rapidjson::Value* retry = member(rule, "retry");
  if (retry == nullptr || retry->IsNull()) return;
  std::string rf = field + ".retry";
  if (!retry->IsObject()) {
    out.unsupported = rf + ": not an object";
    return;
  }
  RetryPolicy p;
  p.num_retries = 1;
  p.on_connect_failure = true;
  p.on_reset = true;
  p.non_idempotent = true;
  size_t i = 0;
  for (const rapidjson::Value* c : items_of(retry, "codes")) {
    if (!c->IsInt() || c->GetInt() < 400 || c->GetInt() > 599) {
      out.unsupported = cat(rf, ".codes[", i, "]: must be 400-599");
      return;
    }
    p.statuses.push_back(uint32_t(c->GetInt()));
    ++i;
  }
  std::sort(p.statuses.begin(), p.statuses.end());
  p.statuses.erase(std::unique(p.statuses.begin(), p.statuses.end()), p.statuses.end());
  if (member(retry, "attempts") != nullptr) {
    int64_t attempts = int_of(retry, "attempts").value_or(0);
    if (attempts < 1) {
      out.unsupported = rf + ".attempts: must be at least 1";
      return;
    }
    constexpr int64_t kMaxRetries = 10;  // the proxy's bound (docs/proxy-config.md "Retry")
    if (attempts > kMaxRetries)
      t.builder.event(src, "UnsupportedValue", rf + ".attempts",
                      cat(attempts, " retries asked, at most ", kMaxRetries, " are made"));
    p.num_retries = uint32_t(std::min(attempts, kMaxRetries));
  }
  if (std::string_view d = str_of(retry, "backoff"); !d.empty()) {
    auto ms = parse_duration(d);
    if (!ms) {
      out.unsupported = cat(rf, ".backoff: invalid duration \"", d, "\"");
      return;
    }
    p.backoff = *ms;
  }
  // The proxy's backendRequest timer runs from the first try: an attempt that reaches it is
  // answered 504, never retried (GEP-1731 asks for a retry).
  if (base.per_try_timeout && base.per_try_timeout->count() > 0)
    t.builder.event(src, "UnsupportedValue", rf,
                    "an attempt that reaches timeouts.backendRequest is answered 504, not "
                    "retried: that timeout bounds the first try and its retries together");
  base.retry_policy = std::move(p);
}

RouteRule translate_rule(Translation& t, const api::Object& route, const ObjectRef& src,
                         const rapidjson::Value* rule, size_t index) {
  RouteRule out;
  std::string field = cat("spec.rules[", index, "]");
  if (!rule->IsObject()) {
    out.unsupported = field + ": not an object";
    t.builder.event(src, "UnsupportedValue", field, "not an object");
    return out;
  }
  Route base;
  base.source = src;
  // Upgrades pass on every HTTPRoute: GEP-1911 says a Service port without `appProtocol:
  // kubernetes.io/ws` must not turn WebSocket off (as Envoy Gateway and NGINX Gateway Fabric).
  base.websocket = true;
  if (const rapidjson::Value* to = member(rule, "timeouts")) {
    if (std::string_view d = str_of(to, "request"); !d.empty()) {
      if (auto ms = parse_duration(d))
        base.timeout = *ms;
      else
        out.unsupported = cat(field, ".timeouts.request: invalid duration \"", d, "\"");
    }
    if (std::string_view d = str_of(to, "backendRequest"); !d.empty()) {
      if (auto ms = parse_duration(d))
        base.per_try_timeout = *ms;
      else
        out.unsupported = cat(field, ".timeouts.backendRequest: invalid duration \"", d, "\"");
    }
  }
  if (base.timeout && base.per_try_timeout && base.timeout->count() > 0 &&
      (base.per_try_timeout->count() == 0 || *base.per_try_timeout > *base.timeout))
    out.unsupported = field + ".timeouts.backendRequest: must not exceed timeouts.request";
  if (out.unsupported.empty()) apply_retry(t, src, rule, field, out, base);
  std::vector<WeightedCluster> clusters;
  uint32_t invalid_weight = 0;
  rule_backends(t, route, src, rule, field, out, clusters, invalid_weight, false);
  request_mirrors(t, route, src, rule, field, out, base, false);
  if (clusters.empty()) {
    base.action = RouteAction::kNoBackend;
  } else {
    base.clusters = std::move(clusters);
    base.invalid_weight = invalid_weight;
  }
  std::vector<const rapidjson::Value*> matches = items_of(rule, "matches");
  rapidjson::Value empty(rapidjson::kObjectType);
  if (matches.empty()) matches.push_back(&empty);  // no match = every path
  for (size_t m = 0; m < matches.size() && out.unsupported.empty(); ++m) {
    Route r = base;
    r.field = matches[m] == &empty ? field : cat(field, ".matches[", m, "]");
    std::string err = apply_match(matches[m], r.field, r);
    if (err.empty()) err = apply_filters(rule, field, r);
    if (!err.empty()) {
      out.unsupported = err;
      break;
    }
    out.routes.push_back(std::move(r));
  }
  if (!out.unsupported.empty()) {
    out.routes.clear();
    // out.unsupported is "field: why"; the Event names both apart.
    size_t colon = out.unsupported.find(": ");
    t.builder.event(src, "UnsupportedValue", out.unsupported.substr(0, colon),
                    out.unsupported.substr(colon + 2));
  }
  return out;
}

}  // namespace

void count_rule(RuleOutcome& outcome, const RouteRule& rule) {
  if (rule.unsupported.empty()) {
    ++outcome.served;
  } else {
    ++outcome.dropped;
    if (outcome.unsupported.empty()) outcome.unsupported = rule.unsupported;
  }
  if (outcome.refs_reason.empty() && !rule.refs_reason.empty()) {
    outcome.refs_reason = rule.refs_reason;
    outcome.refs_message = rule.refs_message;
  }
}

std::vector<std::string> served_hosts(const Listener& l, const std::vector<std::string>& hosts) {
  std::vector<std::string> out;
  if (hosts.empty()) out.push_back(l.hostname.empty() ? "*" : l.hostname);
  for (const std::string& h : hosts)
    if (auto i = intersect_hostnames(l.hostname, h)) out.push_back(*i);
  return out;
}

void translate_http_routes(Translation& t) {
  translate_routes(t, t.snapshot.http_routes, "HTTPRoute", translate_rule);
}

}  // namespace kop::ingress::gateway::internal
