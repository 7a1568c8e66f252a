// parse_config(): the kop.proxy/v1 JSON schema -> Config. Every error carries the JSON path.
//
// Internally a ParseError exception unwinds the recursive descent; it never leaves this file.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include "core/text.h"
#include "kop/proxy/config.h"

namespace kop::proxy {
namespace {

using internal::cat;
using internal::quote;
using Value = rapidjson::Value;

struct ParseError {
  std::string message;
};

[[noreturn]] void fail(const std::string& path, std::string_view what) {
  throw ParseError{path.empty() ? std::string(what) : cat(path, ": ", what)};
}

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : cat(path, ".", key);
}
std::string item(const std::string& path, std::size_t i) {
  return cat(path, "[", i, "]");
}

std::string_view type_name(const Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "an array";
  return "an object";
}

std::string_view as_string(const Value& v, const std::string& path) {
  if (!v.IsString()) fail(path, cat("expected a string, got ", type_name(v)));
  return std::string_view(v.GetString(), v.GetStringLength());
}

bool as_bool(const Value& v, const std::string& path) {
  if (!v.IsBool()) fail(path, cat("expected a boolean, got ", type_name(v)));
  return v.GetBool();
}

uint64_t as_uint(const Value& v, const std::string& path, uint64_t min, uint64_t max) {
  if (!v.IsUint64()) {
    if (v.IsNumber()) fail(path, "expected a non-negative integer");
    fail(path, cat("expected an integer, got ", type_name(v)));
  }
  uint64_t n = v.GetUint64();
  if (n < min || n > max) fail(path, cat("value ", n, " out of range [", min, ", ", max, "]"));
  return n;
}

// Walks one JSON object, remembering which keys were read, so unknown keys are reported.
class Object {
 public:
  Object(const Value& v, std::string path) : v_(v), path_(std::move(path)) {
    if (!v.IsObject()) fail(path_, cat("expected an object, got ", type_name(v)));
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      std::string_view k(it->name.GetString(), it->name.GetStringLength());
      for (auto jt = v.MemberBegin(); jt != it; ++jt) {
        if (k == std::string_view(jt->name.GetString(), jt->name.GetStringLength()))
          fail(child(path_, k), "duplicate field");
      }
    }
  }

  const std::string& path() const { return path_; }
  std::string at(std::string_view key) const { return child(path_, key); }

  const Value* get(std::string_view key) {
    known_.push_back(key);
    auto it = v_.FindMember(rapidjson::StringRef(key.data(), key.size()));
    if (it == v_.MemberEnd()) return nullptr;
    return &it->value;
  }
  bool has(std::string_view key) const {
    return v_.FindMember(rapidjson::StringRef(key.data(), key.size())) != v_.MemberEnd();
  }
  const Value& require(std::string_view key) {
    const Value* v = get(key);
    if (v == nullptr) fail(at(key), "required field missing");
    return *v;
  }

  void str(std::string_view key, std::string* out, bool required = false) {
    const Value* v = required ? &require(key) : get(key);
    if (v != nullptr) *out = std::string(as_string(*v, at(key)));
  }
  // `out`: a std::optional<std::string> or a Boxed<std::string>.
  template <typename Optional>
  void opt_str(std::string_view key, Optional* out) {
    if (const Value* v = get(key)) *out = std::string(as_string(*v, at(key)));
  }
  void boolean(std::string_view key, bool* out) {
    if (const Value* v = get(key)) *out = as_bool(*v, at(key));
  }
  template <typename T>
  void uint(std::string_view key, T* out, uint64_t min, uint64_t max) {
    if (const Value* v = get(key)) *out = static_cast<T>(as_uint(*v, at(key), min, max));
  }
  void millis(std::string_view key, Millis* out) {
    if (const Value* v = get(key))
      *out = Millis(static_cast<int64_t>(as_uint(*v, at(key), 0, 365ull * 24 * 3600 * 1000)));
  }
  void strings(std::string_view key, std::vector<std::string>* out) {
    array(key, [&](const Value& e, const std::string& p) { out->emplace_back(as_string(e, p)); });
  }
  // Calls fn(element, path) for each element of an optional array field (replacing defaults).
  void array(std::string_view key,
             const std::function<void(const Value&, const std::string&)>& fn) {
    const Value* v = get(key);
    if (v == nullptr) return;
    if (!v->IsArray()) fail(at(key), cat("expected an array, got ", type_name(*v)));
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) fn((*v)[i], item(at(key), i));
  }

  // Reports the first field that no get() asked for.
  void finish() const {
    for (auto it = v_.MemberBegin(); it != v_.MemberEnd(); ++it) {
      std::string_view k(it->name.GetString(), it->name.GetStringLength());
      bool ok = false;
      for (std::string_view kk : known_) ok = ok || kk == k;
      if (!ok) fail(at(k), "unknown field");
    }
  }

 private:
  const Value& v_;
  std::string path_;
  std::vector<std::string_view> known_;
};

SocketAddress address(const Value& v, const std::string& path, bool allow_port_zero) {
  auto parsed = parse_socket_address(as_string(v, path), allow_port_zero);
  if (!parsed.ok()) fail(path, std::string(parsed.status().message()));
  return *parsed;
}

HeaderMutation header_mutation(const Value& v, const std::string& path) {
  HeaderMutation m;
  Object o(v, path);
  auto values = [&](std::string_view key, std::vector<HeaderValue>* out) {
    o.array(key, [&](const Value& e, const std::string& p) {
      Object h(e, p);
      HeaderValue hv;
      h.str("name", &hv.name, true);
      h.str("value", &hv.value, true);
      if (hv.name.empty()) fail(h.at("name"), "must not be empty");
      h.finish();
      out->push_back(std::move(hv));
    });
  };
  values("add", &m.add);
  values("set", &m.set);
  o.strings("remove", &m.remove);
  o.finish();
  return m;
}

std::string_view one_of(Object& o, std::initializer_list<std::string_view> keys, bool required,
                        std::string_view what) {
  std::string_view found;
  for (std::string_view k : keys) {
    if (!o.has(k)) continue;
    if (!found.empty()) fail(o.at(k), cat("only one of ", found, " and ", k, " may be set"));
    found = k;
  }
  if (found.empty() && required) fail(o.path(), cat("one of ", what, " is required"));
  return found;
}

HeaderMatch header_match(const Value& v, const std::string& path) {
  Object o(v, path);
  HeaderMatch m;
  o.str("name", &m.name, true);
  if (m.name.empty()) fail(o.at("name"), "must not be empty");
  std::string_view kind = one_of(o, {"exact", "present", "regex", "prefix", "suffix", "contains"},
                                 true, "exact, present, regex, prefix, suffix, contains");
  if (kind == "present") {
    if (!as_bool(o.require("present"), o.at("present")))
      fail(o.at("present"), "must be true (use invert for absence)");
    m.type = HeaderMatchType::kPresent;
  } else {
    o.str(kind, &m.value, true);
    if (kind == "exact") m.type = HeaderMatchType::kExact;
    if (kind == "regex") m.type = HeaderMatchType::kRegex;
    if (kind == "prefix") m.type = HeaderMatchType::kPrefix;
    if (kind == "suffix") m.type = HeaderMatchType::kSuffix;
    if (kind == "contains") m.type = HeaderMatchType::kContains;
  }
  o.boolean("invert", &m.invert);
  o.finish();
  return m;
}

QueryParamMatch query_param_match(const Value& v, const std::string& path) {
  Object o(v, path);
  QueryParamMatch m;
  o.str("name", &m.name, true);
  if (m.name.empty()) fail(o.at("name"), "must not be empty");
  std::string_view kind = one_of(o, {"exact", "present", "regex"}, true, "exact, present, regex");
  if (kind == "present") {
    if (!as_bool(o.require("present"), o.at("present"))) fail(o.at("present"), "must be true");
    m.type = QueryParamMatchType::kPresent;
  } else {
    o.str(kind, &m.value, true);
    m.type = kind == "exact" ? QueryParamMatchType::kExact : QueryParamMatchType::kRegex;
  }
  o.finish();
  return m;
}

RouteMatch route_match(const Value& v, const std::string& path) {
  Object o(v, path);
  RouteMatch m;
  std::string_view kind = one_of(o, {"exact", "prefix", "string_prefix", "regex"}, false, "");
  if (!kind.empty()) {
    o.str(kind, &m.path.value, true);
    if (kind == "exact") m.path.type = PathMatchType::kExact;
    if (kind == "prefix") m.path.type = PathMatchType::kPrefix;
    if (kind == "string_prefix") m.path.type = PathMatchType::kStringPrefix;
    if (kind == "regex") m.path.type = PathMatchType::kRegex;
    if (m.path.type != PathMatchType::kRegex && (m.path.value.empty() || m.path.value[0] != '/'))
      fail(o.at(kind), cat("path must start with '/': ", quote(m.path.value)));
  }
  o.str("method", &m.method);
  o.array("headers",
          [&](const Value& e, const std::string& p) { m.headers.push_back(header_match(e, p)); });
  o.array("query_params", [&](const Value& e, const std::string& p) {
    m.query_params.push_back(query_param_match(e, p));
  });
  o.finish();
  return m;
}

uint32_t retry_on_bit(std::string_view s, const std::string& path) {
  if (s == "connect-failure") return static_cast<uint32_t>(RetryOn::kConnectFailure);
  if (s == "5xx") return static_cast<uint32_t>(RetryOn::k5xx);
  if (s == "gateway-error") return static_cast<uint32_t>(RetryOn::kGatewayError);
  if (s == "reset") return static_cast<uint32_t>(RetryOn::kReset);
  if (s == "retriable-status-codes") return static_cast<uint32_t>(RetryOn::kRetriableStatusCodes);
  fail(path, cat("unknown retry condition ", quote(s),
                 " (connect-failure, 5xx, gateway-error, reset, retriable-status-codes)"));
}

RetryPolicy retry_policy(const Value& v, const std::string& path) {
  Object o(v, path);
  RetryPolicy r;
  if (o.has("retry_on")) r.retry_on = 0;
  o.array("retry_on", [&](const Value& e, const std::string& p) {
    r.retry_on |= retry_on_bit(as_string(e, p), p);
  });
  o.uint("num_retries", &r.num_retries, 0, 10);
  o.millis("per_try_timeout_ms", &r.per_try_timeout);
  o.millis("retry_window_ms", &r.retry_window);
  o.millis("backoff_ms", &r.backoff);
  o.boolean("retry_non_idempotent", &r.retry_non_idempotent);
  o.array("retriable_status_codes", [&](const Value& e, const std::string& p) {
    r.retriable_status_codes.push_back(static_cast<uint32_t>(as_uint(e, p, 100, 599)));
  });
  o.finish();
  return r;
}

MirrorPolicy mirror_policy(const Value& v, const std::string& path) {
  Object m(v, path);
  MirrorPolicy mp;
  m.str("cluster", &mp.cluster, true);
  m.uint("per_million", &mp.per_million, 0, 1000000);
  m.finish();
  return mp;
}

// "cluster": "name" or "clusters": [{"cluster", "weight"}...] (forward actions, TCP relays);
// a forward action's entries may answer directly or carry header mutations and mirrors.
std::vector<WeightedCluster> cluster_choice(Object& o, bool forward) {
  std::vector<WeightedCluster> out;
  std::string_view kind = one_of(o, {"cluster", "clusters"}, true, "cluster, clusters");
  if (kind == "cluster") {
    WeightedCluster wc;
    o.str("cluster", &wc.cluster, true);
    out.push_back(std::move(wc));
  } else {
    o.array("clusters", [&](const Value& e, const std::string& p) {
      Object c(e, p);
      WeightedCluster wc;
      if (forward && one_of(c, {"cluster", "direct_status"}, true, "cluster, direct_status") ==
                         "direct_status") {
        c.uint("direct_status", &wc.direct_status, 100, 599);
      } else {
        c.str("cluster", &wc.cluster, true);
      }
      c.uint("weight", &wc.weight, 0, 1000000);
      if (forward) {
        if (const Value* h = c.get("request_headers"))
          wc.request_headers = header_mutation(*h, c.at("request_headers"));
        if (const Value* h = c.get("response_headers"))
          wc.response_headers = header_mutation(*h, c.at("response_headers"));
        c.array("mirrors", [&](const Value& m, const std::string& mp) {
          wc.mirrors.push_back(mirror_policy(m, mp));
        });
      }
      c.finish();
      out.push_back(std::move(wc));
    });
    if (out.empty()) fail(o.at("clusters"), "must not be empty");
  }
  return out;
}

ErrorPagePolicy error_pages(const Value& v, const std::string& path) {
  Object o(v, path);
  ErrorPagePolicy e;
  o.array("statuses", [&](const Value& s, const std::string& p) {
    e.statuses.push_back(static_cast<uint32_t>(as_uint(s, p, 300, 599)));
  });
  if (e.statuses.empty()) fail(o.at("statuses"), "must not be empty");
  o.str("cluster", &e.cluster, true);
  o.array("request_headers", [&](const Value& h, const std::string& p) {
    Object ho(h, p);
    HeaderValue hv;
    ho.str("name", &hv.name, true);
    ho.str("value", &hv.value, true);
    if (hv.name.empty()) fail(ho.at("name"), "must not be empty");
    ho.finish();
    e.request_headers.push_back(std::move(hv));
  });
  o.finish();
  return e;
}

ForwardAction forward(const Value& v, const std::string& path) {
  Object o(v, path);
  ForwardAction f;
  f.clusters = cluster_choice(o, true);
  one_of(o, {"prefix_rewrite", "path_rewrite", "regex_rewrite"}, false, "");
  o.opt_str("prefix_rewrite", &f.prefix_rewrite);
  o.opt_str("path_rewrite", &f.path_rewrite);
  if (const Value* r = o.get("regex_rewrite")) {
    Object rw(*r, o.at("regex_rewrite"));
    RegexRewrite rr;
    rw.str("regex", &rr.regex, true);
    rw.str("substitution", &rr.substitution, true);
    rw.finish();
    f.regex_rewrite = std::move(rr);
  }
  o.opt_str("host_rewrite", &f.host_rewrite);
  o.millis("timeout_ms", &f.timeout);
  o.millis("idle_timeout_ms", &f.idle_timeout);
  o.millis("connect_timeout_ms", &f.connect_timeout);
  if (const Value* r = o.get("retry")) f.retry = retry_policy(*r, o.at("retry"));
  o.boolean("websocket", &f.websocket);
  o.array("mirrors",
          [&](const Value& e, const std::string& p) { f.mirrors.push_back(mirror_policy(e, p)); });
  if (const Value* e = o.get("error_pages")) f.error_pages = error_pages(*e, o.at("error_pages"));
  o.uint("response_bytes_per_second", &f.response_bytes_per_second, 0, uint64_t{1} << 40);
  o.uint("response_rate_after_bytes", &f.response_rate_after_bytes, 0, uint64_t{1} << 62);
  o.finish();
  return f;
}

RedirectAction redirect(const Value& v, const std::string& path) {
  Object o(v, path);
  RedirectAction r;
  o.opt_str("scheme", &r.scheme);
  if (r.scheme && *r.scheme != "http" && *r.scheme != "https")
    fail(o.at("scheme"), cat("must be http or https, got ", quote(*r.scheme)));
  o.opt_str("host", &r.host);
  if (const Value* p = o.get("port"))
    r.port = static_cast<uint16_t>(as_uint(*p, o.at("port"), 1, 65535));
  one_of(o, {"path", "prefix_rewrite"}, false, "");
  o.opt_str("path", &r.path);
  o.opt_str("prefix_rewrite", &r.prefix_rewrite);
  o.boolean("strip_query", &r.strip_query);
  o.uint("code", &r.code, 0, 999);
  if (r.code != 301 && r.code != 302 && r.code != 303 && r.code != 307 && r.code != 308)
    fail(o.at("code"), cat("must be 301, 302, 303, 307 or 308, got ", r.code));
  o.finish();
  return r;
}

DirectResponseAction direct_response(const Value& v, const std::string& path) {
  Object o(v, path);
  DirectResponseAction d;
  o.uint("status", &d.status, 100, 599);
  o.str("body", &d.body);
  o.str("content_type", &d.content_type);
  o.finish();
  return d;
}

CorsPolicy cors(const Value& v, const std::string& path) {
  Object o(v, path);
  CorsPolicy c;
  o.strings("allow_origins", &c.allow_origins);
  o.strings("allow_methods", &c.allow_methods);
  o.strings("allow_headers", &c.allow_headers);
  o.strings("expose_headers", &c.expose_headers);
  o.boolean("allow_credentials", &c.allow_credentials);
  o.uint("max_age", &c.max_age, 0, uint64_t{86400} * 365);
  o.finish();
  return c;
}

BasicAuthConfig basic_auth(const Value& v, const std::string& path) {
  Object o(v, path);
  BasicAuthConfig a;
  o.str("realm", &a.realm);
  o.array("users", [&](const Value& e, const std::string& p) {
    Object u(e, p);
    BasicAuthUser user;
    u.str("name", &user.name, true);
    u.str("hash", &user.hash, true);
    u.finish();
    a.users.push_back(std::move(user));
  });
  o.finish();
  return a;
}

ExtAuthConfig ext_auth(const Value& v, const std::string& path) {
  Object o(v, path);
  ExtAuthConfig a;
  o.str("cluster", &a.cluster, true);
  o.str("path", &a.path);
  o.str("host", &a.host, true);
  o.str("method", &a.method);
  o.strings("response_headers", &a.response_headers);
  o.str("request_redirect", &a.request_redirect);
  o.str("signin", &a.signin);
  o.str("signin_redirect_param", &a.signin_redirect_param);
  o.boolean("always_set_cookie", &a.always_set_cookie);
  o.millis("timeout_ms", &a.timeout);
  o.str("cache_key", &a.cache_key);
  o.array("cache_valid", [&](const Value& e, const std::string& p) {
    Object c(e, p);
    ExtAuthCacheRule rule;
    c.array("statuses", [&](const Value& s, const std::string& sp) {
      rule.statuses.push_back(static_cast<uint32_t>(as_uint(s, sp, 100, 599)));
    });
    c.boolean("any", &rule.any);
    c.require("ttl_ms");
    c.millis("ttl_ms", &rule.ttl);
    c.finish();
    a.cache_valid.push_back(std::move(rule));
  });
  o.finish();
  return a;
}

SourceRanges source_ranges(const Value& v, const std::string& path) {
  Object o(v, path);
  SourceRanges r;
  o.strings("allow", &r.allow);
  o.strings("deny", &r.deny);
  o.finish();
  return r;
}

RateLimitPolicy rate_limit(const Value& v, const std::string& path) {
  Object o(v, path);
  RateLimitPolicy r;
  o.str("zone", &r.zone, true);
  o.uint("requests_per_second", &r.requests_per_second, 0, 1000000);
  o.uint("requests_per_minute", &r.requests_per_minute, 0, 60000000);
  o.uint("burst_multiplier", &r.burst_multiplier, 0, 1000);
  o.uint("max_connections", &r.max_connections, 0, 1000000);
  o.strings("exempt", &r.exempt);
  o.uint("status", &r.status, 400, 599);
  o.finish();
  return r;
}

RouteConfig route(const Value& v, const std::string& path) {
  Object o(v, path);
  RouteConfig r;
  o.str("name", &r.name);
  if (const Value* m = o.get("match")) r.match = route_match(*m, o.at("match"));
  std::string_view kind = one_of(o, {"forward", "redirect", "direct_response"}, true,
                                 "forward, redirect, direct_response");
  if (kind == "forward") {
    r.action = ActionType::kForward;
    r.forward = forward(o.require("forward"), o.at("forward"));
  } else if (kind == "redirect") {
    r.action = ActionType::kRedirect;
    r.redirect = redirect(o.require("redirect"), o.at("redirect"));
  } else {
    r.action = ActionType::kDirectResponse;
    r.direct_response = direct_response(o.require("direct_response"), o.at("direct_response"));
  }
  if (const Value* h = o.get("request_headers"))
    r.request_headers = header_mutation(*h, o.at("request_headers"));
  if (const Value* h = o.get("response_headers"))
    r.response_headers = header_mutation(*h, o.at("response_headers"));
  if (const Value* c = o.get("cors")) r.cors = cors(*c, o.at("cors"));
  if (const Value* c = o.get("source_ranges"))
    r.source_ranges = source_ranges(*c, o.at("source_ranges"));
  if (const Value* a = o.get("basic_auth")) r.basic_auth = basic_auth(*a, o.at("basic_auth"));
  if (const Value* a = o.get("ext_auth")) r.ext_auth = ext_auth(*a, o.at("ext_auth"));
  o.uint("max_request_body_bytes", &r.max_request_body_bytes, 0, uint64_t{1} << 62);
  if (const Value* l = o.get("rate_limit")) r.rate_limit = rate_limit(*l, o.at("rate_limit"));
  o.finish();
  return r;
}

VirtualHostConfig virtual_host(const Value& v, const std::string& path) {
  Object o(v, path);
  VirtualHostConfig vh;
  o.str("name", &vh.name, true);
  o.strings("domains", &vh.domains);
  if (const Value* ro = o.get("route_order")) {
    std::string_view s = as_string(*ro, o.at("route_order"));
    if (s == "specificity") {
      vh.route_order = RouteOrder::kSpecificity;
    } else if (s == "config") {
      vh.route_order = RouteOrder::kConfig;
    } else {
      fail(o.at("route_order"), cat("must be specificity or config, got ", quote(s)));
    }
  }
  o.array("routes",
          [&](const Value& e, const std::string& p) { vh.routes.push_back(route(e, p)); });
  if (const Value* h = o.get("request_headers"))
    vh.request_headers = header_mutation(*h, o.at("request_headers"));
  if (const Value* h = o.get("response_headers"))
    vh.response_headers = header_mutation(*h, o.at("response_headers"));
  o.finish();
  return vh;
}

TlsVersion tls_version(const Value& v, const std::string& path) {
  std::string_view s = as_string(v, path);
  if (s == "1.2") return TlsVersion::kTls12;
  if (s != "1.3") fail(path, cat("must be \"1.2\" or \"1.3\", got ", quote(s)));
  return TlsVersion::kTls13;
}

// A certificate chain and its key, each inline (PEM) or from a file: exactly one of each pair.
void pem_pair(Object& c, CertificateConfig& cert) {
  one_of(c, {"cert_pem", "cert_file"}, true, "cert_pem, cert_file");
  one_of(c, {"key_pem", "key_file"}, true, "key_pem, key_file");
  c.str("cert_pem", &cert.cert_pem);
  c.str("cert_file", &cert.cert_file);
  c.str("key_pem", &cert.key_pem);
  c.str("key_file", &cert.key_file);
}

ClientAuthConfig client_auth(const Value& v, const std::string& path) {
  Object o(v, path);
  ClientAuthConfig a;
  o.str("ca_pem", &a.ca_pem, true);
  o.str("crl_pem", &a.crl_pem);
  if (const Value* mv = o.get("verify")) {
    std::string_view s = as_string(*mv, o.at("verify"));
    bool known = false;
    for (ClientVerify cv : {ClientVerify::kOn, ClientVerify::kOff, ClientVerify::kOptional,
                            ClientVerify::kOptionalNoCa})
      if (to_string(cv) == s) {
        a.verify = cv;
        known = true;
      }
    if (!known)
      fail(o.at("verify"), cat("must be on, off, optional or optional_no_ca, got ", quote(s)));
  }
  o.uint("depth", &a.depth, 0, 100);
  o.str("error_page", &a.error_page);
  o.boolean("pass_certificate", &a.pass_certificate);
  o.str("match_subject", &a.match_subject);
  o.finish();
  return a;
}

TlsConfig tls(const Value& v, const std::string& path) {
  Object o(v, path);
  TlsConfig t;
  o.array("certificates", [&](const Value& e, const std::string& p) {
    Object c(e, p);
    CertificateConfig cert;
    c.str("name", &cert.name);
    c.strings("server_names", &cert.server_names);
    pem_pair(c, cert);
    if (const Value* mv = c.get("min_version"))
      cert.min_version = tls_version(*mv, c.at("min_version"));
    if (const Value* ca = c.get("client_auth"))
      cert.client_auth = client_auth(*ca, c.at("client_auth"));
    c.finish();
    t.certificates.push_back(std::move(cert));
  });
  auto relay = [&](const Value& e, const std::string& p) {
    Object po(e, p);
    TcpProxyConfig pt;
    po.strings("server_names", &pt.server_names);
    if (pt.server_names.empty()) fail(po.at("server_names"), "at least one name is required");
    pt.clusters = cluster_choice(po, false);
    po.millis("idle_timeout_ms", &pt.idle_timeout);
    po.finish();
    return pt;
  };
  o.array("passthrough",
          [&](const Value& e, const std::string& p) { t.passthrough.push_back(relay(e, p)); });
  o.array("tcp_proxy",
          [&](const Value& e, const std::string& p) { t.tcp_proxy.push_back(relay(e, p)); });
  if (t.certificates.empty() && t.passthrough.empty())
    fail(o.at("certificates"), "at least one certificate is required (or a passthrough entry)");
  o.str("default_certificate", &t.default_certificate);
  if (const Value* mv = o.get("min_version")) t.min_version = tls_version(*mv, o.at("min_version"));
  if (o.has("alpn")) t.alpn.clear();
  o.array("alpn", [&](const Value& e, const std::string& p) {
    std::string_view s = as_string(e, p);
    if (s != "h2" && s != "http/1.1")
      fail(p, cat("unsupported protocol ", quote(s), " (h2, http/1.1)"));
    t.alpn.emplace_back(s);
  });
  o.finish();
  return t;
}

UpstreamTlsConfig upstream_tls(const Value& v, const std::string& path) {
  Object o(v, path);
  UpstreamTlsConfig t;
  o.str("server_name", &t.server_name);
  o.boolean("verify", &t.verify);
  one_of(o, {"ca_pem", "ca_file"}, false, "ca_pem, ca_file");
  o.str("ca_pem", &t.ca_pem);
  o.str("ca_file", &t.ca_file);
  o.strings("subject_alt_names", &t.subject_alt_names);
  o.uint("verify_depth", &t.verify_depth, 0, 100);
  if (const Value* cv = o.get("client_certificate")) {
    Object c(*cv, o.at("client_certificate"));
    CertificateConfig cert;
    pem_pair(c, cert);
    c.finish();
    t.client_certificate = std::move(cert);
  }
  if (const Value* mv = o.get("min_version")) t.min_version = tls_version(*mv, o.at("min_version"));
  if (const Value* mv = o.get("max_version")) t.max_version = tls_version(*mv, o.at("max_version"));
  if (t.min_version == TlsVersion::kTls13 && t.max_version == TlsVersion::kTls12)
    fail(o.at("max_version"), "is below min_version");
  o.str("ciphers", &t.ciphers);
  o.finish();
  return t;
}

ListenerConfig listener(const Value& v, const std::string& path) {
  Object o(v, path);
  ListenerConfig l;
  o.str("name", &l.name, true);
  l.address = address(o.require("address"), o.at("address"), /*allow_port_zero=*/true);
  if (const Value* t = o.get("tls")) l.tls = tls(*t, o.at("tls"));
  o.strings("virtual_hosts", &l.virtual_hosts);
  o.str("virtual_host_prefix", &l.virtual_host_prefix);
  if (const Value* w = o.get("domain_wildcards")) {
    std::string_view s = as_string(*w, o.at("domain_wildcards"));
    if (s == to_string(DomainWildcards::kOneOrMoreLabels))
      l.domain_wildcards = DomainWildcards::kOneOrMoreLabels;
    else if (s != to_string(DomainWildcards::kOneLabel))
      fail(o.at("domain_wildcards"),
           cat("unknown value ", quote(s), " (one_label, one_or_more_labels)"));
  }
  o.finish();
  return l;
}

LbPolicy lb_policy(std::string_view s, const std::string& path) {
  for (LbPolicy p : {LbPolicy::kRoundRobin, LbPolicy::kWeightedRoundRobin, LbPolicy::kLeastRequest,
                     LbPolicy::kRandom, LbPolicy::kRingHash, LbPolicy::kMaglev}) {
    if (to_string(p) == s) return p;
  }
  fail(path, cat("unknown policy ", quote(s),
                 " (round_robin, weighted_round_robin, least_request, random, "
                 "ring_hash, maglev)"));
}

StatusRange status_range(const Value& v, const std::string& path) {
  if (v.IsNumber()) {
    uint32_t s = static_cast<uint32_t>(as_uint(v, path, 100, 599));
    return StatusRange{s, s};
  }
  std::string_view s = as_string(v, path);
  std::size_t dash = s.find('-');
  auto num = [&](std::string_view t) -> uint32_t {
    uint32_t n = 0;
    if (t.size() != 3) fail(path, cat("invalid status range ", quote(s)));
    for (char c : t) {
      if (c < '0' || c > '9') fail(path, cat("invalid status range ", quote(s)));
      n = n * 10 + static_cast<uint32_t>(c - '0');
    }
    if (n < 100 || n > 599) fail(path, cat("invalid status range ", quote(s)));
    return n;
  };
  if (dash == std::string_view::npos) {
    uint32_t n = num(s);
    return StatusRange{n, n};
  }
  StatusRange r{num(s.substr(0, dash)), num(s.substr(dash + 1))};
  if (r.start > r.end) fail(path, cat("invalid status range ", quote(s)));
  return r;
}

bool is_prime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

ClusterConfig cluster(const Value& v, const std::string& path) {
  Object o(v, path);
  ClusterConfig c;
  o.str("name", &c.name, true);
  o.array("endpoints", [&](const Value& e, const std::string& p) {
    EndpointConfig ep;
    if (e.IsString()) {
      ep.address = address(e, p, false);
    } else {
      Object eo(e, p);
      ep.address = address(eo.require("address"), eo.at("address"), false);
      eo.uint("weight", &ep.weight, 1, 128);
      eo.finish();
    }
    c.endpoints.push_back(std::move(ep));
  });
  if (const Value* p = o.get("lb_policy"))
    c.lb_policy = lb_policy(as_string(*p, o.at("lb_policy")), o.at("lb_policy"));
  if (const Value* p = o.get("protocol")) {
    std::string_view s = as_string(*p, o.at("protocol"));
    if (s == "h2c")
      c.protocol = UpstreamProtocol::kH2c;
    else if (s == "h2")
      c.protocol = UpstreamProtocol::kH2;
    else if (s != "http1")
      fail(o.at("protocol"), cat("unknown protocol ", quote(s), " (http1, h2c, h2)"));
  }
  if (const Value* t = o.get("tls")) c.tls = upstream_tls(*t, o.at("tls"));
  if (c.protocol == UpstreamProtocol::kH2 && !c.tls)
    fail(o.at("protocol"), "\"h2\" is HTTP/2 over TLS: set tls (or use \"h2c\" for plain text)");
  if (c.protocol == UpstreamProtocol::kH2c && c.tls)
    fail(o.at("protocol"), "\"h2c\" is HTTP/2 over plain TCP: use \"h2\" with tls");
  if (const Value* h = o.get("hash_on")) {
    Object ho(*h, o.at("hash_on"));
    HashPolicy& hash = c.hash_on.edit();
    std::string_view kind = one_of(ho, {"header", "cookie", "source_ip", "expression"}, true,
                                   "header, cookie, source_ip, expression");
    if (kind == "source_ip") {
      if (!as_bool(ho.require("source_ip"), ho.at("source_ip")))
        fail(ho.at("source_ip"), "must be true");
      hash.on = HashOn::kSourceIp;
    } else {
      ho.str(kind, &hash.name, true);
      if (hash.name.empty()) fail(ho.at(kind), "must not be empty");
      hash.on = kind == "header"   ? HashOn::kHeader
                : kind == "cookie" ? HashOn::kCookie
                                   : HashOn::kExpression;
    }
    if (hash.on == HashOn::kCookie) {
      ho.boolean("set_cookie", &hash.set_cookie);
      ho.millis("cookie_ttl_ms", &hash.cookie_ttl);
      ho.str("cookie_path", &hash.cookie_path);
      ho.str("cookie_samesite", &hash.cookie_samesite);
      ho.boolean("cookie_secure", &hash.cookie_secure);
      ho.boolean("cookie_balanced", &hash.cookie_balanced);
      ho.boolean("cookie_change_on_failure", &hash.cookie_change_on_failure);
      ho.boolean("cookie_samesite_none_conditional", &hash.cookie_samesite_none_conditional);
    }
    ho.finish();
  }
  o.uint("ring_size", &c.ring_size, 1, 8u << 20);
  o.uint("ring_subset_size", &c.ring_subset_size, 0, 256);
  o.uint("maglev_table_size", &c.maglev_table_size, 3, 5000011);
  if (!is_prime(c.maglev_table_size))
    fail(o.at("maglev_table_size"), cat("must be prime, got ", c.maglev_table_size));
  o.millis("connect_timeout_ms", &c.connect_timeout);
  o.millis("idle_timeout_ms", &c.idle_timeout);
  o.uint("max_connections_per_endpoint", &c.max_connections_per_endpoint, 0, UINT32_MAX);
  o.uint("max_connections", &c.max_connections, 0, UINT32_MAX);
  o.uint("max_pending_requests", &c.max_pending_requests, 0, UINT32_MAX);
  if (const Value* od = o.get("outlier_detection")) {
    Object oo(*od, o.at("outlier_detection"));
    auto& d = c.outlier_detection;
    oo.boolean("enabled", &d.enabled);
    oo.uint("consecutive_5xx", &d.consecutive_5xx, 0, 1000000);
    oo.uint("consecutive_connect_failures", &d.consecutive_connect_failures, 0, 1000000);
    oo.millis("base_ejection_time_ms", &d.base_ejection_time);
    oo.millis("max_ejection_time_ms", &d.max_ejection_time);
    oo.uint("max_ejection_percent", &d.max_ejection_percent, 0, 100);
    oo.finish();
  }
  if (const Value* hc = o.get("health_check")) {
    Object ho(*hc, o.at("health_check"));
    HealthCheckConfig h;
    ho.str("path", &h.path);
    if (h.path.empty() || h.path[0] != '/')
      fail(ho.at("path"), cat("must start with '/': ", quote(h.path)));
    ho.str("host", &h.host);
    ho.millis("interval_ms", &h.interval);
    ho.millis("timeout_ms", &h.timeout);
    ho.uint("healthy_threshold", &h.healthy_threshold, 1, 1000);
    ho.uint("unhealthy_threshold", &h.unhealthy_threshold, 1, 1000);
    if (ho.has("expected_statuses")) h.expected_statuses.clear();
    ho.array("expected_statuses", [&](const Value& e, const std::string& p) {
      h.expected_statuses.push_back(status_range(e, p));
    });
    if (h.expected_statuses.empty()) fail(ho.at("expected_statuses"), "must not be empty");
    ho.finish();
    c.health_check = std::move(h);
  }
  o.finish();
  return c;
}

AdminConfig admin(const Value& v, const std::string& path) {
  Object o(v, path);
  AdminConfig a;
  o.boolean("enabled", &a.enabled);
  if (const Value* ad = o.get("address")) a.address = address(*ad, o.at("address"), true);
  o.finish();
  return a;
}

ServerSettings server(const Value& v, const std::string& path) {
  Object o(v, path);
  ServerSettings s;
  o.uint("workers", &s.workers, 0, 1024);
  o.millis("request_header_timeout_ms", &s.request_header_timeout);
  o.millis("idle_timeout_ms", &s.idle_timeout);
  o.millis("drain_timeout_ms", &s.drain_timeout);
  o.uint("max_request_header_bytes", &s.max_request_header_bytes, 1024, 16u << 20);
  o.uint("max_uri_bytes", &s.max_uri_bytes, 64, 16u << 20);
  o.uint("http2_max_concurrent_streams", &s.http2_max_concurrent_streams, 1, 1u << 20);
  if (const Value* al = o.get("access_log")) {
    std::string_view f = as_string(*al, o.at("access_log"));
    if (f == "off") {
      s.access_log = AccessLogFormat::kOff;
    } else if (f == "json") {
      s.access_log = AccessLogFormat::kJson;
    } else if (f == "text") {
      s.access_log = AccessLogFormat::kText;
    } else {
      fail(o.at("access_log"), cat("must be off, json or text, got ", quote(f)));
    }
  }
  o.str("access_log_path", &s.access_log_path);
  if (const Value* sh = o.get("server_header")) {
    std::string_view name = as_string(*sh, o.at("server_header"));
    std::optional<ServerHeader> policy = parse_server_header(name);
    if (!policy)
      fail(o.at("server_header"),
           cat("must be overwrite, append_if_absent or pass_through, got ", quote(name)));
    s.server_header = *policy;
  }
  o.finish();
  return s;
}

Config config(const Value& v) {
  Object o(v, "");
  Config c;
  std::string version;
  o.str("version", &version, true);
  if (version != kSchemaVersion)
    fail("version",
         cat("unsupported schema ", quote(version), " (expected ", quote(kSchemaVersion), ")"));
  c.version = version;
  o.str("generation", &c.generation);
  o.array("listeners",
          [&](const Value& e, const std::string& p) { c.listeners.push_back(listener(e, p)); });
  o.array("virtual_hosts", [&](const Value& e, const std::string& p) {
    c.virtual_hosts.emplace_back(virtual_host(e, p));
  });
  o.array("clusters",
          [&](const Value& e, const std::string& p) { c.clusters.emplace_back(cluster(e, p)); });
  if (const Value* a = o.get("admin")) c.admin = admin(*a, "admin");
  if (const Value* s = o.get("server")) c.server = server(*s, "server");
  o.finish();
  return c;
}

}  // namespace

absl::StatusOr<Config> parse_config(std::string_view json) {
  rapidjson::Document doc;
  // Default flags: trailing non-whitespace is an error (kParseErrorDocumentRootNotSingular).
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError(cat("invalid JSON at offset ", doc.GetErrorOffset(), ": ",
                                          rapidjson::GetParseError_En(doc.GetParseError())));
  }
  try {
    return config(doc);
  } catch (const ParseError& e) {
    return absl::InvalidArgumentError(e.message);
  }
}

}  // namespace kop::proxy
