// ingress-nginx annotations -> what the model applies (nginx_annotations.h). Value syntax and
// defaults are ingress-nginx's (its annotations guide); whatever is not understood is ignored
// with a verdict saying why, never executed.
#include "kop/ingress/nginx_annotations.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <span>

#include "kop/proxy/access_control.h"
#include "kop/proxy/certificate.h"
#include "kop/proxy/cors.h"
#include "kop/proxy/hash_expression.h"
#include "paths.h"
#include "text_cat.h"

namespace kop::ingress {
namespace {

using internal::cat;
using Annotations = std::map<std::string, std::string, std::less<>>;

// Annotations ingress-nginx documents that kop-ingress does not implement, with the reason
// given to the user. Any other unknown name is reported as unknown.
const std::map<std::string_view, std::string_view>& not_supported() {
  static const std::map<std::string_view, std::string_view> table = {
      {"auth-snippet", "snippets are never executed"},
      {"auth-proxy-set-headers", "ConfigMaps are not read"},
      {"proxy-buffer-size", "responses are streamed, never buffered"},
      {"proxy-buffers-number", "responses are streamed, never buffered"},
      {"proxy-request-buffering", "request bodies are streamed, never buffered"},
      {"proxy-redirect-from", "rewriting upstream Location headers is not implemented"},
      {"proxy-redirect-to", "rewriting upstream Location headers is not implemented"},
      {"proxy-cookie-domain", "rewriting upstream cookies is not implemented"},
      {"proxy-cookie-path", "rewriting upstream cookies is not implemented"},
      {"proxy-http-version", "upstream requests are HTTP/1.1"},
      {"proxy-max-temp-file-size", "responses are streamed, never buffered"},
      {"server-snippet", "snippets are never executed"},
      {"stream-snippet", "snippets are never executed"},
      {"modsecurity-snippet", "snippets are never executed"},
      {"enable-modsecurity", "ModSecurity is not available"},
      {"enable-owasp-core-rules", "ModSecurity is not available"},
      {"modsecurity-transaction-id", "ModSecurity is not available"},
      {"mirror-target", "request mirroring is not implemented"},
      {"mirror-request-body", "request mirroring is not implemented"},
      {"mirror-host", "request mirroring is not implemented"},
      {"enable-access-log", "the access log is set for the whole proxy (--log-format)"},
      {"enable-rewrite-log", "nginx's rewrite log does not exist here"},
      {"enable-opentelemetry", "tracing is not implemented"},
      {"opentelemetry-trust-incoming-span", "tracing is not implemented"},
      {"satisfy", "authentication is not implemented"},
      {"ssl-ciphers", "TLS ciphers are set for the whole proxy"},
      {"ssl-prefer-server-ciphers", "TLS ciphers are set for the whole proxy"},
      {"ssl-passthrough", "TLS passthrough is an IngressRoute feature here"},
      {"preserve-trailing-slash", "only the default (trailing slash dropped on redirect) exists"},
      {"use-port-in-redirects", "redirects keep the port the request came to"},
      {"x-forwarded-port", "not implemented"},
      {"http2-push-preload", "HTTP/2 push does not exist here"},
      {"global-rate-limit", "the global (memcached) rate limit is not implemented"},
  };
  return table;
}

class Reader {
 public:
  explicit Reader(const api::Object& ingress) {
    for (const auto& [key, value] : ingress.annotations())
      if (key.size() > kNginxAnnotationPrefix.size() &&
          std::string_view(key).substr(0, kNginxAnnotationPrefix.size()) == kNginxAnnotationPrefix)
        values_.emplace(key.substr(kNginxAnnotationPrefix.size()), value);
  }

  // The value of `name`, marking it as read (supported unless a verdict says otherwise).
  const std::string* take(std::string_view name) {
    auto it = values_.find(name);
    if (it == values_.end()) return nullptr;
    verdicts_.emplace(std::string(name), NginxVerdict{std::string(name)});
    return &it->second;
  }
  bool has(std::string_view name) const { return values_.find(name) != values_.end(); }

  void different(std::string_view name, std::string note) {
    verdicts_[std::string(name)] =
        NginxVerdict{std::string(name), NginxSupport::kDifferent, std::move(note)};
  }
  void ignored(std::string_view name, std::string note) {
    verdicts_[std::string(name)] =
        NginxVerdict{std::string(name), NginxSupport::kIgnored, std::move(note)};
  }
  // A value that does not parse: ignored, ingress-nginx's default stays (as ingress-nginx does).
  void invalid(std::string_view name, std::string_view why) {
    ignored(name, cat("invalid value \"", values_.find(name)->second, "\": ", why));
  }

  std::optional<bool> boolean(std::string_view name) {
    const std::string* v = take(name);
    if (v == nullptr) return std::nullopt;
    auto b = parse_nginx_bool(*v);
    if (!b) invalid(name, "not a boolean");
    return b;
  }

  // Whether the boolean `name` is "true"; when not, each of `dependents` present is ignored.
  bool switched_on(std::string_view name, std::span<const std::string_view> dependents) {
    auto on = boolean(name);
    if (on && *on) return true;
    for (std::string_view d : dependents)
      if (take(d)) ignored(d, cat("without ", name, ": \"true\" it does nothing"));
    return false;
  }

  // Whole seconds (ingress-nginx's timeouts and counts are integers).
  std::optional<int64_t> integer(std::string_view name, int64_t min, int64_t max) {
    const std::string* v = take(name);
    if (v == nullptr) return std::nullopt;
    int64_t n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size() || n < min || n > max) {
      invalid(name, cat("not an integer from ", min, " to ", max));
      return std::nullopt;
    }
    return n;
  }

  // Every annotation not read by now gets its verdict from the table (or "unknown").
  // Access restrictions among them are named in `access` (the first one), and say that the
  // paths answer 403.
  std::vector<NginxVerdict> finish(std::string* access) {
    static constexpr std::string_view kAccess[] = {"auth-type", "auth-url"};
    for (std::string_view name : kAccess) {
      if (!has(name) || verdicts_.count(name)) continue;
      if (access->empty()) *access = std::string(name);
      auto it = not_supported().find(name);
      ignored(name,
              cat("not supported: ",
                  it != not_supported().end() ? it->second : std::string_view("not implemented"),
                  "; the Ingress' paths answer 403 rather than serve without it"));
    }
    for (const auto& [name, value] : values_) {
      if (verdicts_.count(name)) continue;
      auto it = not_supported().find(name);
      ignored(name, it != not_supported().end()
                        ? cat("not supported: ", it->second)
                        : std::string("not an annotation kop-ingress knows"));
    }
    std::vector<NginxVerdict> out;
    out.reserve(verdicts_.size());
    for (auto& [name, v] : verdicts_) out.push_back(std::move(v));
    return out;
  }

 private:
  Annotations values_;
  std::map<std::string, NginxVerdict, std::less<>> verdicts_;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Splits nginx directive arguments: words or double-quoted strings (no escapes beyond \" and
// \\). nullopt when a quote is not closed.
std::optional<std::vector<std::string>> split_words(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    if (is_space(text[i])) {
      ++i;
      continue;
    }
    std::string word;
    if (text[i] == '"' || text[i] == '\'') {
      char quote = text[i++];
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '\\' && i < text.size()) {
          word.push_back(text[i++]);
        } else if (c == quote) {
          closed = true;
          break;
        } else {
          word.push_back(c);
        }
      }
      if (!closed) return std::nullopt;
    } else {
      while (i < text.size() && !is_space(text[i])) word.push_back(text[i++]);
    }
    words.push_back(std::move(word));
  }
  return words;
}

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

bool plain_value(std::string_view value) {
  // '$' would be an nginx variable: never interpolated, so refused rather than sent literally.
  return value.find_first_of("$\r\n") == std::string_view::npos;
}

// rewrite-target: a path; '$' only as the regex groups $1..$9.
bool valid_rewrite_target(std::string_view v) {
  if (v.empty() || v.find_first_of(" \t\r\n#") != std::string_view::npos) return false;
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == '$' && (i + 1 == v.size() || v[i + 1] < '0' || v[i + 1] > '9')) return false;
  return true;
}

// configuration-snippet limited to `more_set_headers "Name: value" ...;` (response) and
// `proxy_set_header Name value;` (request). Any other statement refuses the whole snippet.
std::string read_snippet(std::string_view snippet, NginxAnnotations& out) {
  HeaderPolicy request;
  HeaderPolicy response;
  size_t start = 0;
  while (start < snippet.size()) {
    size_t semi = snippet.find(';', start);
    std::string_view statement = snippet.substr(
        start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
    start = semi == std::string_view::npos ? snippet.size() : semi + 1;
    auto words = split_words(statement);
    if (!words) return cat("unclosed quote in \"", statement, "\"");
    if (words->empty()) continue;
    const std::string& directive = (*words)[0];
    if (directive != "more_set_headers" && directive != "proxy_set_header")
      return cat("\"", directive,
                 "\" is not one of the allowed forms (more_set_headers, proxy_set_header)");
    if (semi == std::string_view::npos) return cat("\"", statement, "\" does not end with ';'");
    if (directive == "more_set_headers") {
      if (words->size() < 2) return "more_set_headers without a header";
      for (size_t k = 1; k < words->size(); ++k) {
        const std::string& w = (*words)[k];
        size_t colon = w.find(':');
        std::string_view name = std::string_view(w).substr(0, colon);
        if (colon == std::string::npos || !valid_header_name(name))
          return cat("more_set_headers \"", w,
                     "\" is not \"Name: value\" (options such as -s/-t "
                     "are not supported)");
        std::string_view value = std::string_view(w).substr(colon + 1);
        while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
        if (!plain_value(value))
          return cat("more_set_headers \"", w, "\": nginx variables are not supported");
        response.set.push_back(Header{std::string(name), std::string(value)});
      }
    } else {  // proxy_set_header
      if (words->size() != 3 || !valid_header_name((*words)[1]))
        return cat("proxy_set_header takes a header name and a value: \"", statement, "\"");
      if (!plain_value((*words)[2]))
        return cat("proxy_set_header ", (*words)[1], ": nginx variables are not supported");
      request.set.push_back(Header{(*words)[1], (*words)[2]});
    }
  }
  for (auto& h : request.set) out.request_headers.set.push_back(std::move(h));
  for (auto& h : response.set) out.response_headers.set.push_back(std::move(h));
  return "";
}

// "https://example.com:8443/path" -> Redirect parts; nullopt when it is not an absolute URL.
std::optional<Redirect> parse_redirect_url(std::string_view url) {
  Redirect r;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  std::string scheme(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  r.scheme = scheme;
  std::string_view rest = url.substr(scheme_end + 3);
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (!path.empty() && path.front() == '?') return std::nullopt;  // a query without a path
  if (path.find_first_of(" \t\r\n") != std::string_view::npos) return std::nullopt;
  size_t colon = authority.rfind(':');
  std::string_view host = authority.substr(0, colon);
  if (colon != std::string_view::npos) {
    uint32_t port = 0;
    std::string_view digits = authority.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535)
      return std::nullopt;
    r.port = static_cast<uint16_t>(port);
  }
  auto h = internal::normalize_host(host);
  if (!h.ok() || h->front() == '*') return std::nullopt;
  r.host = *h;
  r.path = std::string(path);
  r.strip_query = true;  // nginx's `return CODE URL` does not append the request's arguments
  return r;
}

void read_redirects(Reader& in, NginxAnnotations& out) {
  if (const std::string* url = in.take("permanent-redirect")) {
    auto r = parse_redirect_url(*url);
    if (!r) {
      in.invalid("permanent-redirect", "not an absolute http(s) URL");
    } else {
      r->code = 301;
      if (auto code = in.integer("permanent-redirect-code", 300, 308)) {
        if (*code == 301 || *code == 302 || *code == 303 || *code == 307 || *code == 308)
          r->code = static_cast<uint32_t>(*code);
        else
          in.invalid("permanent-redirect-code",
                     "kop-ingress redirects with 301, 302, 303, 307 "
                     "or 308");
      }
      out.redirect = r;
    }
  } else if (in.has("permanent-redirect-code")) {
    in.take("permanent-redirect-code");
    in.ignored("permanent-redirect-code", "without permanent-redirect it does nothing");
  }
  if (const std::string* url = in.take("temporal-redirect")) {
    auto r = parse_redirect_url(*url);
    if (!r) {
      in.invalid("temporal-redirect", "not an absolute http(s) URL");
    } else if (out.redirect) {
      in.ignored("temporal-redirect", "permanent-redirect takes precedence");
    } else {
      r->code = 302;
      out.redirect = r;
    }
  }
}

void read_canary(Reader& in, NginxAnnotations& out) {
  static constexpr std::string_view kNames[] = {
      "canary-weight",          "canary-weight-total",      "canary-by-header",
      "canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie"};
  if (!in.switched_on("canary", kNames)) return;
  NginxCanary c;
  if (auto n = in.integer("canary-weight-total", 1, 1000000)) c.weight_total = *n;
  if (auto n = in.integer("canary-weight", 0, 1000000)) {
    if (*n > c.weight_total)
      in.invalid("canary-weight", cat("more than canary-weight-total (", c.weight_total, ")"));
    else
      c.weight = static_cast<uint32_t>(*n);
  }
  if (const std::string* v = in.take("canary-by-header")) {
    if (valid_header_name(*v))
      c.header = *v;
    else
      in.invalid("canary-by-header", "not a header name");
  }
  if (const std::string* v = in.take("canary-by-header-value")) {
    if (c.header.empty())
      in.ignored("canary-by-header-value", "without canary-by-header it does nothing");
    else if (!plain_value(*v))
      in.invalid("canary-by-header-value", "nginx variables are not supported");
    else
      c.header_value = *v;
  }
  if (const std::string* v = in.take("canary-by-header-pattern")) {
    re2::RE2 re(*v, re2::RE2::Quiet);
    if (c.header.empty())
      in.ignored("canary-by-header-pattern", "without canary-by-header it does nothing");
    else if (!c.header_value.empty())
      in.ignored("canary-by-header-pattern", "canary-by-header-value takes precedence");
    else if (!re.ok())
      in.invalid("canary-by-header-pattern",
                 cat("not a regular expression RE2 accepts: ", re.error()));
    else
      c.header_pattern = *v;
  }
  if (const std::string* v = in.take("canary-by-cookie")) {
    if (valid_header_name(*v))
      c.cookie = *v;
    else
      in.invalid("canary-by-cookie", "not a cookie name");
  }
  out.canary = c;
}

// affinity: cookie with session-cookie-name (default INGRESSCOOKIE), -path, -max-age and
// -expires (seconds).
void read_affinity_cookie(Reader& in, NginxAnnotations& out) {
  out.strategy = Strategy::kCookie;
  AffinityCookie cookie;
  cookie.name = "INGRESSCOOKIE";
  if (const std::string* v = in.take("session-cookie-name")) {
    if (valid_header_name(*v))
      cookie.name = *v;
    else
      in.invalid("session-cookie-name", "not a cookie name");
  }
  if (const std::string* v = in.take("session-cookie-path")) {
    bool ok = !v->empty() && v->front() == '/' && std::all_of(v->begin(), v->end(), [](char c) {
      return c != ';' && c != ',' && static_cast<unsigned char>(c) > 0x20;
    });
    if (ok)
      cookie.path = *v;
    else
      in.invalid("session-cookie-path", "a path without ';', ',' or spaces");
  }
  constexpr int64_t kYear = int64_t{366} * 24 * 3600;
  auto expires = in.integer("session-cookie-expires", 0, kYear);
  auto max_age = in.integer("session-cookie-max-age", 0, kYear);
  if (max_age)
    cookie.max_age = std::chrono::seconds(*max_age);
  else if (expires)
    cookie.max_age = std::chrono::seconds(*expires);
  if (expires && !max_age)
    in.different("session-cookie-expires", "sent as Max-Age (the same lifetime), not Expires");
  if (const std::string* v = in.take("session-cookie-samesite")) {
    if (*v == "None" || *v == "Lax" || *v == "Strict")
      cookie.samesite = *v;
    else
      in.invalid("session-cookie-samesite", "None, Lax or Strict");
  }
  if (auto b = in.boolean("session-cookie-secure")) cookie.secure = *b;
  // ingress-nginx's defaults: affinity-mode balanced, session-cookie-change-on-failure false.
  cookie.balanced = true;
  if (const std::string* v = in.take("affinity-mode")) {
    if (*v == "persistent")
      cookie.balanced = false;
    else if (*v != "balanced")
      in.invalid("affinity-mode", "balanced or persistent");
  }
  cookie.change_on_failure = false;
  if (auto b = in.boolean("session-cookie-change-on-failure")) cookie.change_on_failure = *b;
  if (auto b = in.boolean("session-cookie-conditional-samesite-none"))
    cookie.samesite_none_conditional = *b;
  if (cookie.samesite_none_conditional && cookie.samesite != "None")
    in.ignored("session-cookie-conditional-samesite-none",
               "without session-cookie-samesite: None it does nothing");
  out.cookie = cookie;
}

// "on" / "off", as nginx's flags (proxy_ssl_verify, proxy_ssl_server_name).
std::optional<bool> on_off(Reader& in, std::string_view name) {
  const std::string* v = in.take(name);
  if (v == nullptr) return std::nullopt;
  if (*v == "on") return true;
  if (*v == "off") return false;
  in.invalid(name, "not on or off");
  return std::nullopt;
}

// backend-protocol and the proxy-ssl-* annotations: how the proxy speaks to the backend.
void read_backend_protocol(Reader& in, NginxAnnotations& out) {
  std::string p = "HTTP";
  if (const std::string* v = in.take("backend-protocol")) {
    p = *v;
    std::transform(p.begin(), p.end(), p.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  }
  bool tls = p == "HTTPS" || p == "GRPCS";
  if (p == "GRPC" || p == "GRPCS" || p == "H2C") {
    out.backend_h2 = true;
  } else if (p == "AUTO_HTTP") {
    in.different("backend-protocol", "AUTO_HTTP speaks HTTP/1.1 to the backend");
  } else if (p != "HTTP" && p != "HTTPS") {
    in.ignored("backend-protocol",
               cat("not supported: ", p, " backends; requests go as plain HTTP/1.1"));
  }
  static constexpr std::string_view kSsl[] = {
      "proxy-ssl-secret",      "proxy-ssl-verify",    "proxy-ssl-verify-depth", "proxy-ssl-name",
      "proxy-ssl-server-name", "proxy-ssl-protocols", "proxy-ssl-ciphers"};
  if (!tls) {
    for (std::string_view d : kSsl)
      if (in.take(d))
        in.ignored(d, "without backend-protocol HTTPS or GRPCS the backend is plain HTTP");
    return;
  }
  proxy::UpstreamTlsConfig t;
  t.verify = false;    // proxy-ssl-verify: off
  t.verify_depth = 1;  // proxy-ssl-verify-depth: 1
  if (auto v = on_off(in, "proxy-ssl-verify")) t.verify = *v;
  if (auto n = in.integer("proxy-ssl-verify-depth", 1, 100)) t.verify_depth = *n;
  std::string name;
  if (const std::string* v = in.take("proxy-ssl-name")) name = *v;
  bool sni = on_off(in, "proxy-ssl-server-name").value_or(false);
  // nginx's default name is the upstream's ("upstream_balancer" in ingress-nginx), which no
  // certificate carries; kop checks the endpoint's address instead and sends no SNI.
  if (!name.empty() && sni) t.server_name = name;
  if (!name.empty() && !sni) t.subject_alt_names.push_back(name);
  if (sni && name.empty())
    in.different("proxy-ssl-server-name",
                 "without proxy-ssl-name no SNI is sent (nginx would send the upstream's name)");
  if (t.verify && name.empty())
    in.different("proxy-ssl-verify",
                 "without proxy-ssl-name the certificate must name the endpoint's IP address");
  if (const std::string* v = in.take("proxy-ssl-protocols")) {
    bool v12 = false, v13 = false, old = false;
    std::string_view rest = *v;
    while (!rest.empty()) {
      size_t sp = rest.find(' ');
      std::string_view tok = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      if (tok.empty()) continue;
      if (tok == "TLSv1.2")
        v12 = true;
      else if (tok == "TLSv1.3")
        v13 = true;
      else
        old = true;
    }
    if (!v12 && !v13) {
      in.invalid("proxy-ssl-protocols", "names neither TLSv1.2 nor TLSv1.3");
    } else {
      t.min_version = v12 ? proxy::TlsVersion::kTls12 : proxy::TlsVersion::kTls13;
      t.max_version = v13 ? proxy::TlsVersion::kTls13 : proxy::TlsVersion::kTls12;
      if (old)
        in.different("proxy-ssl-protocols", "only TLSv1.2 and TLSv1.3 are offered to backends");
    }
  }
  if (const std::string* v = in.take("proxy-ssl-ciphers")) {
    proxy::UpstreamTlsConfig probe;
    probe.ciphers = *v;
    if (proxy::load_upstream_tls(probe).ok())
      t.ciphers = *v;
    else
      in.invalid("proxy-ssl-ciphers", "OpenSSL knows none of these ciphers");
  }
  if (const std::string* v = in.take("proxy-ssl-secret")) out.proxy_ssl_secret = *v;
  out.backend_tls = std::move(t);
}

constexpr int64_t kWeek = int64_t{7} * 24 * 3600;  // a bound on the seconds, against overflow

void read_upstream(Reader& in, NginxAnnotations& out) {
  if (const std::string* v = in.take("load-balance")) {
    if (*v == "round_robin")
      out.strategy = Strategy::kRoundRobin;
    else if (*v == "ewma")
      out.strategy = Strategy::kWeightedLeastRequest,
      in.different("load-balance",
                   "ewma is served as least request (power of two choices on "
                   "requests in flight), not a latency average");
    else
      in.invalid("load-balance", "round_robin or ewma");
  }
  if (const std::string* v = in.take("affinity")) {
    if (*v == "cookie")
      read_affinity_cookie(in, out);
    else
      in.invalid("affinity", "only \"cookie\" exists");
  }
  if (const std::string* v = in.take("upstream-hash-by")) {
    if (auto e = proxy::HashExpression::parse(*v); !e.ok()) {
      in.invalid("upstream-hash-by", std::string(e.status().message()));
    } else if (out.strategy == Strategy::kCookie) {
      in.ignored("upstream-hash-by", "affinity: cookie takes precedence, as in ingress-nginx");
    } else {
      out.strategy = Strategy::kHash;
      out.hash_by = *v;
    }
  }
  // upstream-hash-by-subset(-size): a subset per key, only with upstream-hash-by.
  static constexpr std::string_view kSubsetSize[] = {"upstream-hash-by-subset-size"};
  if (in.switched_on("upstream-hash-by-subset", kSubsetSize)) {
    uint32_t size = 3;  // ingress-nginx's default, for "0" too
    if (auto n = in.integer("upstream-hash-by-subset-size", 0, 256); n && *n > 0)
      size = static_cast<uint32_t>(*n);
    if (out.strategy == Strategy::kHash) {
      out.hash_subset_size = size;
    } else {
      in.ignored("upstream-hash-by-subset", "without upstream-hash-by it does nothing");
      if (in.has("upstream-hash-by-subset-size"))
        in.ignored("upstream-hash-by-subset-size", "without upstream-hash-by it does nothing");
    }
  }
  static constexpr std::string_view kCookieNames[] = {"session-cookie-name",
                                                      "session-cookie-path",
                                                      "session-cookie-max-age",
                                                      "session-cookie-expires",
                                                      "session-cookie-samesite",
                                                      "session-cookie-secure",
                                                      "affinity-mode",
                                                      "session-cookie-change-on-failure",
                                                      "session-cookie-conditional-samesite-none"};
  for (std::string_view name : kCookieNames)
    if (!out.cookie && in.take(name)) in.ignored(name, "without affinity: cookie it does nothing");
  for (std::string_view name : {"affinity-canary-behavior", "session-cookie-domain"})
    if (in.take(name))
      in.ignored(name,
                 "not supported: the affinity cookie is set with Path, Max-Age, Secure, "
                 "SameSite and HttpOnly only, and canaries are picked before it");

  if (auto b = in.boolean("service-upstream")) {
    out.service_upstream = *b;
    if (*b)
      in.different("service-upstream",
                   "the cluster IP is one endpoint: outlier ejection and retries on another "
                   "endpoint do not apply, kube-proxy picks the pod");
  }
  read_backend_protocol(in, out);

  int64_t read = 60;
  int64_t send = 60;
  if (auto n = in.integer("proxy-read-timeout", 1, kWeek)) read = *n;
  if (auto n = in.integer("proxy-send-timeout", 1, kWeek)) send = *n;
  out.idle_timeout = std::chrono::seconds(std::max(read, send));
  out.read_timeout = std::chrono::seconds(read);
  if (in.has("proxy-read-timeout") && in.has("proxy-send-timeout") && read != send) {
    std::string note =
        "one idle timeout for both directions here: the larger of "
        "proxy-read-timeout and proxy-send-timeout applies";
    in.different(read >= send ? "proxy-send-timeout" : "proxy-read-timeout", note);
  }

  // proxy-next-upstream: "error timeout" by default; tries 3 (attempts, the first included).
  out.retry = RetryPolicy{};
  out.retry.on_reset = true;
  int64_t tries = 3;
  if (auto n = in.integer("proxy-next-upstream-tries", 0, 11)) {
    tries = *n;
    if (tries == 0) {
      tries = 11;
      in.different("proxy-next-upstream-tries", "0 (unlimited) is 10 retries here");
    }
  }
  if (const std::string* v = in.take("proxy-next-upstream")) {
    RetryPolicy p;
    p.on_connect_failure = false;
    bool off = false;
    std::string bad;
    bool timeout = false;
    for (const auto& w : split_words(*v).value_or(std::vector<std::string>{})) {
      if (w == "error") {
        p.on_connect_failure = true, p.on_reset = true;
      } else if (w == "timeout") {
        p.on_connect_failure = true, timeout = true;
      } else if (w == "invalid_header") {
        p.on_reset = true;
      } else if (w == "non_idempotent") {
        p.non_idempotent = true;
      } else if (w == "off") {
        off = true;
      } else if (w.size() == 8 && w.rfind("http_", 0) == 0 &&
                 (w == "http_500" || w == "http_502" || w == "http_503" || w == "http_504" ||
                  w == "http_403" || w == "http_404" || w == "http_429")) {
        p.statuses.push_back(static_cast<uint32_t>(std::stoi(w.substr(5))));
      } else {
        bad = w;
      }
    }
    if (!bad.empty()) {
      in.invalid("proxy-next-upstream", cat("unknown condition \"", bad, "\""));
    } else {
      out.retry = p;
      if (off) tries = 1;
      if (timeout)
        in.different("proxy-next-upstream",
                     "timeout retries connection timeouts only, not a "
                     "response that is slow to come");
    }
  }
  out.retry.num_retries = static_cast<uint32_t>(std::max<int64_t>(tries, 1) - 1);
  // proxy-next-upstream-timeout: seconds, 0 (the default) no limit.
  if (auto n = in.integer("proxy-next-upstream-timeout", 0, kWeek))
    out.retry.window = std::chrono::seconds(*n);
  // proxy-connect-timeout: seconds (ingress-nginx's default 5, the clusters' own here).
  if (auto n = in.integer("proxy-connect-timeout", 1, kWeek))
    out.connect_timeout = std::chrono::seconds(*n);
}

// A comma-separated list, each item trimmed; empty items dropped.
std::vector<std::string> comma_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    while (!item.empty() && is_space(item.front())) item.remove_prefix(1);
    while (!item.empty() && is_space(item.back())) item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

// default-backend (a Service name of the Ingress' namespace) and custom-http-errors (a
// comma-separated list of statuses that its answers replace).
void read_error_pages(Reader& in, NginxAnnotations& out) {
  if (const std::string* v = in.take("default-backend")) {
    bool label = !v->empty() && v->size() <= 63 && std::all_of(v->begin(), v->end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
    if (label && v->front() != '-' && v->back() != '-')
      out.default_backend = *v;
    else
      in.invalid("default-backend", "a Service name of the Ingress' namespace");
  }
  const std::string* v = in.take("custom-http-errors");
  if (v == nullptr) return;
  std::vector<uint32_t> codes;
  for (const auto& item : comma_list(*v)) {
    uint32_t code = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), code);
    if (ec != std::errc() || end != item.data() + item.size() || code < 300 || code > 599)
      return in.invalid("custom-http-errors",
                        cat("\"", item, "\" is not a status from 300 to 599"));
    codes.push_back(code);
  }
  if (codes.empty()) return in.invalid("custom-http-errors", "no status in the list");
  if (out.default_backend.empty())
    return in.ignored("custom-http-errors",
                      "without default-backend there is no error backend here (ingress-nginx "
                      "would use its controller's --default-backend-service)");
  std::sort(codes.begin(), codes.end());
  codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
  out.custom_http_errors = std::move(codes);
  in.different(
      "custom-http-errors",
      "the error request carries no body (nginx sends the request's own again), and an "
      "answer that comes while the request body is still being sent is passed on as it is");
}

// enable-cors and cors-*, with ingress-nginx's defaults.
void read_cors(Reader& in, NginxAnnotations& out) {
  static constexpr std::string_view kNames[] = {"cors-allow-origin",  "cors-allow-methods",
                                                "cors-allow-headers", "cors-allow-credentials",
                                                "cors-max-age",       "cors-expose-headers"};
  if (!in.switched_on("enable-cors", kNames)) return;
  Cors c;
  c.allow_origins = {"*"};
  c.allow_methods = {"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"};
  c.allow_headers = {
      "DNT",           "Keep-Alive",   "User-Agent", "X-Requested-With", "If-Modified-Since",
      "Cache-Control", "Content-Type", "Range",      "Authorization"};
  c.allow_credentials = true;
  c.max_age = 1728000;
  if (const std::string* v = in.take("cors-allow-origin")) {
    auto origins = comma_list(*v);
    auto bad = std::find_if(origins.begin(), origins.end(),
                            [](const std::string& o) { return !proxy::valid_cors_origin(o); });
    if (origins.empty() || bad != origins.end())
      in.invalid("cors-allow-origin",
                 cat("\"", origins.empty() ? std::string() : *bad,
                     "\" is not \"*\" or scheme://host[:port] (host maybe \"*.\"-led)"));
    else
      c.allow_origins = std::move(origins);
  }
  auto tokens = [&](std::string_view name, std::vector<std::string>& field) {
    const std::string* v = in.take(name);
    if (v == nullptr) return;
    auto items = comma_list(*v);
    if (std::all_of(items.begin(), items.end(),
                    [](const std::string& t) { return t == "*" || valid_header_name(t); }))
      field = std::move(items);
    else
      in.invalid(name, "a comma-separated list of names");
  };
  tokens("cors-allow-methods", c.allow_methods);
  tokens("cors-allow-headers", c.allow_headers);
  tokens("cors-expose-headers", c.expose_headers);
  if (auto b = in.boolean("cors-allow-credentials")) c.allow_credentials = *b;
  if (auto n = in.integer("cors-max-age", 0, int64_t{1} << 31))
    c.max_age = static_cast<uint32_t>(*n);
  in.different("enable-cors",
               "a preflight is answered 200 (ingress-nginx: 204), and an allowed origin is echoed "
               "in Access-Control-Allow-Origin (ingress-nginx sends \"*\" for \"*\")");
  out.cors = std::move(c);
}

void read_headers(Reader& in, NginxAnnotations& out) {
  if (const std::string* v = in.take("upstream-vhost")) {
    if (v->empty() || !plain_value(*v) || v->find_first_of(" \t") != std::string::npos)
      in.invalid("upstream-vhost", "a host name without nginx variables");
    else
      out.request_headers.set.push_back(Header{"host", *v});
  }
  if (const std::string* v = in.take("x-forwarded-prefix")) {
    if (!plain_value(*v))
      in.invalid("x-forwarded-prefix", "nginx variables are not supported");
    else
      out.request_headers.set.push_back(Header{"x-forwarded-prefix", *v});
  }
  if (const std::string* v = in.take("configuration-snippet")) {
    if (std::string error = read_snippet(*v, out); !error.empty())
      in.ignored("configuration-snippet", cat("not executed: ", error));
  }
}

// A CIDR list of a source-range annotation into `out`; on a bad entry the annotation is ignored
// and the Ingress fails closed (its paths answer 403), as ingress-nginx denies the location.
bool read_ranges(Reader& in, std::string_view name, std::vector<std::string>& out,
                 std::string& unenforced) {
  const std::string* v = in.take(name);
  if (v == nullptr) return false;
  std::vector<std::string> items = comma_list(*v);
  std::string error = items.empty() ? std::string("no CIDR in the list") : std::string();
  for (const auto& item : items) {
    if (!error.empty()) break;
    if (auto r = proxy::parse_address_range(item); !r.ok())
      error = std::string(r.status().message());
  }
  if (!error.empty()) {
    in.ignored(name, cat("invalid value \"", *v, "\": ", error,
                         "; the Ingress' paths answer 403 rather than serve to every address"));
    if (unenforced.empty()) unenforced = std::string(name);
    return false;
  }
  out = std::move(items);
  return true;
}

// auth-type basic with auth-secret, auth-secret-type and auth-realm. Anything that keeps basic
// authentication from being enforced (digest, no Secret named, another namespace's Secret, an
// unknown secret type) fails closed: the Ingress' paths answer 403.
void read_basic_auth(Reader& in, std::string_view ns, NginxAnnotations& out) {
  static constexpr std::string_view kDependents[] = {"auth-secret", "auth-secret-type",
                                                     "auth-realm"};
  const std::string* type = in.take("auth-type");
  if (type == nullptr) {
    for (std::string_view d : kDependents)
      if (in.take(d)) in.ignored(d, "without auth-type it does nothing");
    return;
  }
  auto refuse = [&](std::string_view name, const std::string& why) {
    in.ignored(name, cat(why, "; the Ingress' paths answer 403 rather than serve without it"));
    if (out.unenforced_access.empty()) out.unenforced_access = std::string(name);
  };
  if (*type != "basic") {
    for (std::string_view d : kDependents) in.take(d);
    return refuse("auth-type", *type == "digest"
                                   ? std::string("digest authentication is not supported")
                                   : cat("invalid value \"", *type, "\": basic or digest"));
  }
  NginxBasicAuth a;
  const std::string* secret = in.take("auth-secret");
  std::string_view ref = secret == nullptr ? std::string_view() : std::string_view(*secret);
  size_t slash = ref.find('/');
  a.secret_namespace = std::string(slash == std::string_view::npos ? ns : ref.substr(0, slash));
  a.secret_name = std::string(slash == std::string_view::npos ? ref : ref.substr(slash + 1));
  if (const std::string* t = in.take("auth-secret-type")) {
    if (*t == "auth-map") {
      a.auth_map = true;
    } else if (*t != "auth-file") {
      for (std::string_view d : kDependents) in.take(d);
      return refuse("auth-secret-type", cat("invalid value \"", *t, "\": auth-file or auth-map"));
    }
  }
  if (a.secret_name.empty() || a.secret_namespace.empty() ||
      a.secret_name.find('/') != std::string::npos) {
    in.take("auth-realm");
    return refuse(secret == nullptr ? "auth-type" : "auth-secret",
                  secret == nullptr
                      ? std::string("auth-secret is required with auth-type basic")
                      : cat("invalid value \"", *secret, "\": name or namespace/name"));
  }
  if (a.secret_namespace != ns) {
    in.take("auth-realm");
    return refuse("auth-secret", cat("Secret \"", *secret,
                                     "\" is in another namespace: only the Ingress' own "
                                     "namespace is read (ingress-nginx's "
                                     "--allow-cross-namespace-resources=false)"));
  }
  if (const std::string* realm = in.take("auth-realm")) {
    if (std::any_of(realm->begin(), realm->end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      in.invalid("auth-realm", "control characters");
    else
      a.realm = *realm;
  }
  out.basic_auth = std::move(a);
}

// auth-tls-secret with its companions (client certificates). What keeps them from being
// enforced (a Secret not named "namespace/name" or of another namespace, a match-cn that is not
// "CN=" then an RE2) fails closed: the Ingress' paths answer 403. Invalid verify-client and
// verify-depth values take ingress-nginx's defaults (on, 1), as ingress-nginx does.
void read_client_auth(Reader& in, std::string_view ns, NginxAnnotations& out) {
  static constexpr std::string_view kDependents[] = {
      "auth-tls-verify-client", "auth-tls-verify-depth", "auth-tls-error-page",
      "auth-tls-pass-certificate-to-upstream", "auth-tls-match-cn"};
  const std::string* secret = in.take("auth-tls-secret");
  if (secret == nullptr) {
    for (std::string_view d : kDependents)
      if (in.take(d)) in.ignored(d, "without auth-tls-secret it does nothing");
    return;
  }
  auto refuse = [&](std::string_view name, const std::string& why) {
    in.ignored(name, cat(why, "; the Ingress' paths answer 403 rather than serve without it"));
    if (out.unenforced_access.empty()) out.unenforced_access = std::string(name);
  };
  NginxClientAuth a;
  size_t slash = secret->find('/');
  if (slash != std::string::npos) {
    a.secret_namespace = secret->substr(0, slash);
    a.secret_name = secret->substr(slash + 1);
  }
  if (a.secret_namespace.empty() || a.secret_name.empty() ||
      a.secret_name.find('/') != std::string::npos) {
    for (std::string_view d : kDependents) in.take(d);
    return refuse("auth-tls-secret", cat("invalid value \"", *secret, "\": namespace/name"));
  }
  if (a.secret_namespace != ns) {
    for (std::string_view d : kDependents) in.take(d);
    return refuse("auth-tls-secret", cat("Secret \"", *secret,
                                         "\" is in another namespace: only the Ingress' own "
                                         "namespace is read (ingress-nginx's "
                                         "--allow-cross-namespace-resources=false)"));
  }
  proxy::ClientAuthConfig& c = a.config;
  if (const std::string* v = in.take("auth-tls-verify-client")) {
    if (*v == "on")
      c.verify = proxy::ClientVerify::kOn;
    else if (*v == "off")
      c.verify = proxy::ClientVerify::kOff;
    else if (*v == "optional")
      c.verify = proxy::ClientVerify::kOptional;
    else if (*v == "optional_no_ca")
      c.verify = proxy::ClientVerify::kOptionalNoCa;
    else
      in.invalid("auth-tls-verify-client", "on, off, optional or optional_no_ca (on is used)");
  }
  if (auto n = in.integer("auth-tls-verify-depth", 1, 100)) c.depth = static_cast<uint32_t>(*n);
  if (const std::string* v = in.take("auth-tls-error-page")) {
    if (v->empty() || std::any_of(v->begin(), v->end(), [](char ch) {
          return static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f;
        }))
      in.invalid("auth-tls-error-page", "a URL without spaces or control characters");
    else
      c.error_page = *v;
  }
  if (auto b = in.boolean("auth-tls-pass-certificate-to-upstream")) c.pass_certificate = *b;
  if (const std::string* v = in.take("auth-tls-match-cn")) {
    re2::RE2 re(*v, re2::RE2::Quiet);
    if (v->rfind("CN=", 0) != 0)
      return refuse("auth-tls-match-cn", cat("invalid value \"", *v, "\": CN= then a regex"));
    if (!re.ok())
      return refuse(
          "auth-tls-match-cn",
          cat("invalid value \"", *v, "\": not a regular expression RE2 accepts: ", re.error()));
    c.match_subject = *v;  // nginx: $ssl_client_s_dn ~ "CN=...", searched in the whole DN
  }
  out.client_auth = std::move(a);
}

// nginx's time syntax for proxy_cache_valid: digits and one unit (ms s m h d w M y).
std::optional<std::chrono::milliseconds> nginx_time(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9) return std::nullopt;
  int64_t n = 0;
  std::from_chars(text.data(), text.data() + digits, n);
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"ms", 1},       {"s", 1000},      {"m", 60000},      {"h", 3600000},
      {"d", 86400000}, {"w", 604800000}, {"M", 2592000000}, {"y", 31536000000}};
  for (const auto& [unit, ms] : kUnits)
    if (text.substr(digits) == unit) return std::chrono::milliseconds(n * ms);
  return std::nullopt;
}

// auth-cache-duration: comma-separated "[status...] time" (a status is three digits or "any").
std::optional<std::vector<proxy::ExtAuthCacheRule>> cache_durations(std::string_view text) {
  std::vector<proxy::ExtAuthCacheRule> rules;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = std::min(text.find(',', at), text.size());
    auto words = split_words(text.substr(at, comma - at));
    at = comma + 1;
    if (!words || words->empty()) continue;
    proxy::ExtAuthCacheRule rule;
    for (size_t i = 0; i + 1 < words->size(); ++i) {
      const std::string& w = (*words)[i];
      if (w == "any") {
        rule.any = true;
        continue;
      }
      if (w.size() != 3 ||
          !std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
      uint32_t code = static_cast<uint32_t>(std::stoi(w));
      if (code < 100 || code > 599) return std::nullopt;
      rule.statuses.push_back(code);
    }
    auto ttl = nginx_time(words->back());
    if (!ttl || ttl->count() == 0) return std::nullopt;
    rule.ttl = *ttl;
    rules.push_back(std::move(rule));
  }
  if (rules.empty()) return std::nullopt;
  return rules;
}

// auth-url: "http[s]://host[:port][/path[?query]]", without variables or user information.
std::optional<NginxExtAuth> parse_auth_url(std::string_view url, std::string* why) {
  NginxExtAuth a;
  std::string_view rest;
  if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "https://") {
    a.tls = true;
    rest = url.substr(8);
  } else {
    *why = "not an http or https URL";
    return std::nullopt;
  }
  if (url.find('$') != std::string_view::npos) {
    *why = "nginx variables in auth-url are not supported";
    return std::nullopt;
  }
  size_t end = std::min(rest.find_first_of("/?"), rest.size());
  std::string_view authority = rest.substr(0, end);
  std::string_view path = rest.substr(end);
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *why = "unclosed '[' in the host";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        *why = "not a host";
        return std::nullopt;
      }
      port = authority.substr(close + 2);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  bool ip = proxy::parse_ip(host).has_value();
  bool name = !host.empty() && std::all_of(host.begin(), host.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.';
  });
  if (host.empty() || authority.find('@') != std::string_view::npos || (!ip && !name) ||
      (authority.front() == '[' && !ip)) {
    *why = "not a valid host";
    return std::nullopt;
  }
  a.host = std::string(host);
  for (char& ch : a.host) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  a.port = a.tls ? 443 : 80;
  if (!port.empty() || authority.back() == ':') {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || p != port.data() + port.size() || n < 1 || n > 65535) {
      *why = "not a valid port";
      return std::nullopt;
    }
    a.port = static_cast<uint16_t>(n);
  }
  if (path.empty()) path = "/";
  if (path.front() == '?') {
    a.config.path = cat("/", path);
  } else {
    a.config.path = std::string(path);
  }
  if (a.config.path.find_first_of(" \t\r\n#") != std::string::npos) {
    *why = "spaces or a fragment in the path";
    return std::nullopt;
  }
  // ingress-nginx's Host is the URL's host name, without the port.
  a.config.host = authority.front() == '[' ? cat("[", host, "]") : std::string(host);
  return a;
}

// auth-url with its companions. What would let a request through that ingress-nginx refuses
// (an auth-url that does not parse, an invalid method, response header list or cache
// duration, auth-proxy-set-headers, which kop-ingress cannot read) fails closed: 403.
void read_ext_auth(Reader& in, NginxAnnotations& out) {
  static constexpr std::string_view kDependents[] = {"auth-method",
                                                     "auth-signin",
                                                     "auth-signin-redirect-param",
                                                     "auth-response-headers",
                                                     "auth-request-redirect",
                                                     "auth-cache-key",
                                                     "auth-cache-duration",
                                                     "auth-always-set-cookie",
                                                     "auth-keepalive",
                                                     "auth-keepalive-share-vars",
                                                     "auth-keepalive-requests",
                                                     "auth-keepalive-timeout"};
  const std::string* url = in.take("auth-url");
  if (url == nullptr) {
    for (std::string_view d : kDependents)
      if (in.take(d)) in.ignored(d, "without auth-url it does nothing");
    return;
  }
  auto refuse = [&](std::string_view name, const std::string& why) {
    for (std::string_view d : kDependents) in.take(d);
    in.ignored(name, cat(why, "; the Ingress' paths answer 403 rather than serve without it"));
    if (out.unenforced_access.empty()) out.unenforced_access = std::string(name);
  };
  std::string why;
  auto parsed = parse_auth_url(*url, &why);
  if (!parsed) return refuse("auth-url", cat("invalid value \"", *url, "\": ", why));
  NginxExtAuth a = *std::move(parsed);
  proxy::ExtAuthConfig& c = a.config;
  if (const std::string* m = in.take("auth-method")) {
    static constexpr std::string_view kMethods[] = {"GET",    "HEAD",    "POST",    "PUT",  "PATCH",
                                                    "DELETE", "CONNECT", "OPTIONS", "TRACE"};
    if (std::find(std::begin(kMethods), std::end(kMethods), *m) == std::end(kMethods))
      return refuse("auth-method", cat("invalid value \"", *m, "\": an HTTP method"));
    c.method = *m;
  }
  if (const std::string* h = in.take("auth-response-headers")) {
    for (std::string& name : comma_list(*h)) {
      if (!valid_header_name(name))
        return refuse("auth-response-headers", cat("invalid header name \"", name, "\""));
      c.response_headers.push_back(std::move(name));
    }
  }
  if (const std::string* d = in.take("auth-cache-duration")) {
    auto rules = cache_durations(*d);
    if (!rules)
      return refuse("auth-cache-duration",
                    cat("invalid value \"", *d, "\": \"[status ...] time\", comma-separated"));
    c.cache_valid = *std::move(rules);
  }
  if (in.has("auth-proxy-set-headers"))
    return refuse("auth-proxy-set-headers",
                  "its ConfigMap is not read, so the auth service would not get its headers");
  // Expressions of variables kop-ingress knows (hash_expression.h); another one is ignored
  // with its default, as ingress-nginx ignores an invalid value.
  auto expression = [&](std::string_view name, std::string* field) {
    const std::string* v = in.take(name);
    if (v == nullptr) return;
    if (auto e = proxy::HashExpression::parse(*v); !e.ok())
      in.invalid(name, std::string(e.status().message()));
    else if (v->find_first_of(" \t\r\n") != std::string::npos)
      in.invalid(name, "spaces or control characters");
    else
      *field = *v;
  };
  expression("auth-signin", &c.signin);
  if (const std::string* p = in.take("auth-signin-redirect-param")) {
    if (!valid_header_name(*p))
      in.invalid("auth-signin-redirect-param", "a query parameter name");
    else
      c.signin_redirect_param = *p;
  }
  expression("auth-request-redirect", &c.request_redirect);
  expression("auth-cache-key", &c.cache_key);
  if (!c.cache_key.empty() && c.cache_valid.empty())
    c.cache_valid = *cache_durations("200 202 401 5m");  // ingress-nginx's default
  if (c.cache_key.empty()) c.cache_valid.clear();
  if (auto v = in.boolean("auth-always-set-cookie")) c.always_set_cookie = *v;
  for (std::string_view k :
       {std::string_view("auth-keepalive"), std::string_view("auth-keepalive-share-vars"),
        std::string_view("auth-keepalive-requests"), std::string_view("auth-keepalive-timeout")})
    if (in.take(k))
      in.different(k,
                   "connections to the auth service are always kept alive and pooled; "
                   "variables are never shared with the auth request");
  out.ext_auth = std::move(a);
}

// allowlist-source-range (whitelist-source-range, its older name), denylist-source-range,
// proxy-body-size, client-body-buffer-size, proxy-buffering.
void read_access(Reader& in, NginxAnnotations& out) {
  SourceRanges ranges;
  bool any = false;
  if (in.has("allowlist-source-range")) {
    any |= read_ranges(in, "allowlist-source-range", ranges.allow, out.unenforced_access);
    if (in.take("whitelist-source-range"))
      in.ignored("whitelist-source-range", "allowlist-source-range, its newer name, is set");
  } else {
    any |= read_ranges(in, "whitelist-source-range", ranges.allow, out.unenforced_access);
  }
  any |= read_ranges(in, "denylist-source-range", ranges.deny, out.unenforced_access);
  if (any) out.source_ranges = std::move(ranges);
  if (const std::string* v = in.take("proxy-body-size")) {
    if (auto n = parse_nginx_size(*v))
      out.max_body_bytes = *n;
    else
      in.invalid("proxy-body-size", "a size: digits with an optional unit k, m or g");
  }
  if (const std::string* v = in.take("client-body-buffer-size")) {
    if (parse_nginx_size(*v))
      in.different("client-body-buffer-size",
                   "accepted without effect: request bodies are streamed, never buffered");
    else
      in.invalid("client-body-buffer-size", "a size: digits with an optional unit k, m or g");
  }
  // "off" is ingress-nginx's default and what the proxy always does; nginx's flag values are
  // case-insensitive.
  if (const std::string* v = in.take("proxy-buffering")) {
    std::string flag = *v;
    std::transform(flag.begin(), flag.end(), flag.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (flag == "on")
      in.different("proxy-buffering",
                   "responses are still streamed as they arrive (nginx reads them whole first): "
                   "the client gets the same response; a slow client holds the backend connection "
                   "until it has read it");
    else if (flag != "off")
      in.invalid("proxy-buffering", "on or off");
  }
}

// limit-rps, limit-rpm, limit-connections, limit-burst-multiplier, limit-allowlist (or
// limit-whitelist): ingress-nginx's limit_req / limit_conn zones of the Ingress.
void read_limits(Reader& in, std::string_view zone, NginxAnnotations& out) {
  static constexpr int64_t kMax = 1000000;
  RateLimit l;
  l.zone = std::string(zone);
  if (auto n = in.integer("limit-rps", 0, kMax)) l.requests_per_second = static_cast<uint32_t>(*n);
  if (auto n = in.integer("limit-rpm", 0, kMax)) l.requests_per_minute = static_cast<uint32_t>(*n);
  if (auto n = in.integer("limit-connections", 0, kMax)) l.connections = static_cast<uint32_t>(*n);
  bool limited = l.requests_per_second || l.requests_per_minute || l.connections;
  static constexpr std::string_view kDependents[] = {"limit-burst-multiplier", "limit-allowlist",
                                                     "limit-whitelist"};
  if (!limited) {
    for (std::string_view d : kDependents)
      if (in.take(d))
        in.ignored(d, "without limit-rps, limit-rpm or limit-connections it does nothing");
    return;
  }
  // ingress-nginx takes a multiplier below 1 as its default.
  if (auto n = in.integer("limit-burst-multiplier", 0, 1000); n && *n >= 1)
    l.burst_multiplier = static_cast<uint32_t>(*n);
  std::string_view list = in.has("limit-allowlist") ? "limit-allowlist" : "limit-whitelist";
  if (const std::string* v = in.take(list)) {
    std::vector<std::string> items = comma_list(*v);
    std::string error;
    for (const auto& item : items)
      if (auto r = proxy::parse_address_range(item); !r.ok() && error.empty())
        error = std::string(r.status().message());
    if (error.empty())
      l.exempt = std::move(items);
    else
      in.invalid(list, cat(error, "; every client is limited"));
  }
  if (list == "limit-allowlist" && in.take("limit-whitelist"))
    in.ignored("limit-whitelist", "limit-allowlist, its newer name, is set");
  out.rate_limit = std::move(l);
}

// limit-rate (KB per second) and limit-rate-after (KB): integers, nginx's `k` of 1024 bytes.
void read_bandwidth(Reader& in, NginxAnnotations& out) {
  constexpr int64_t kMaxKb = int64_t{1} << 30;
  if (auto n = in.integer("limit-rate", 0, kMaxKb))
    out.limit_rate_bytes = static_cast<uint64_t>(*n) << 10;
  if (auto n = in.integer("limit-rate-after", 0, kMaxKb)) {
    out.limit_rate_after_bytes = static_cast<uint64_t>(*n) << 10;
    if (out.limit_rate_bytes == 0 && *n > 0)
      in.ignored("limit-rate-after", "without limit-rate it does nothing");
  }
}

// custom-headers "namespace/name" or "name": a ConfigMap of the Ingress' own namespace (the
// model reads it). One it may not read makes the Ingress' paths answer 503, as ingress-nginx
// denies the locations whose custom headers it cannot apply.
void read_custom_headers(Reader& in, std::string_view ns, NginxAnnotations& out) {
  const std::string* v = in.take("custom-headers");
  if (v == nullptr) return;
  std::string_view ref = *v;
  size_t slash = ref.find('/');
  std::string_view map_ns = slash == std::string_view::npos ? ns : ref.substr(0, slash);
  std::string_view name = slash == std::string_view::npos ? ref : ref.substr(slash + 1);
  std::string why;
  if (map_ns.empty() || name.empty() || name.find('/') != std::string_view::npos)
    why = cat("invalid value \"", *v, "\": namespace/name of a ConfigMap");
  else if (map_ns != ns)
    why = cat("ConfigMap \"", *v,
              "\" is in another namespace: only the Ingress' own namespace is read");
  if (!why.empty()) {
    in.ignored("custom-headers",
               cat(why, "; the Ingress' paths answer 503, as ingress-nginx denies them"));
    if (out.denied.empty()) out.denied = "custom-headers";
    return;
  }
  out.custom_headers_namespace = std::string(map_ns);
  out.custom_headers_name = std::string(name);
}

}  // namespace

std::optional<uint64_t> parse_nginx_size(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t scale = 1;
  switch (text.back()) {
    case 'k':
    case 'K':
      scale = uint64_t{1} << 10;
      break;
    case 'm':
    case 'M':
      scale = uint64_t{1} << 20;
      break;
    case 'g':
    case 'G':
      scale = uint64_t{1} << 30;
      break;
    default:
      break;
  }
  std::string_view digits = scale == 1 ? text : text.substr(0, text.size() - 1);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    return std::nullopt;
  if (n > (uint64_t{1} << 62) / scale) return std::nullopt;
  return n * scale;
}

std::string_view to_string(NginxSupport support) {
  switch (support) {
    case NginxSupport::kSupported:
      return "supported";
    case NginxSupport::kDifferent:
      return "different";
    case NginxSupport::kIgnored:
      return "ignored";
  }
  return "";
}

std::optional<bool> parse_nginx_bool(std::string_view text) {
  if (text == "1" || text == "t" || text == "T" || text == "TRUE" || text == "true" ||
      text == "True")
    return true;
  if (text == "0" || text == "f" || text == "F" || text == "FALSE" || text == "false" ||
      text == "False")
    return false;
  return std::nullopt;
}

std::optional<std::string> nginx_custom_headers_key(const api::Object& ingress) {
  auto v = ingress.annotation(cat(kNginxAnnotationPrefix, "custom-headers"));
  if (!v) return std::nullopt;
  if (v->find('/') != std::string_view::npos) return std::string(*v);
  return cat(ingress.namespace_(), "/", *v);
}

NginxAnnotations read_nginx_annotations(const api::Object& ingress) {
  Reader in(ingress);
  NginxAnnotations out;

  read_canary(in, out);
  if (auto b = in.boolean("use-regex")) out.use_regex = *b;
  if (const std::string* v = in.take("rewrite-target")) {
    if (valid_rewrite_target(*v))
      out.rewrite_target = *v;
    else
      in.invalid("rewrite-target", "a path with no nginx variable other than $1..$9");
  }
  if (const std::string* v = in.take("app-root")) {
    if (v->empty() || v->front() != '/' || !plain_value(*v) ||
        v->find_first_of(" \t?#") != std::string::npos)
      in.invalid("app-root", "a path starting with '/'");
    else
      out.app_root = *v;
  }
  read_redirects(in, out);
  if (auto b = in.boolean("ssl-redirect")) out.ssl_redirect = *b;
  if (auto b = in.boolean("force-ssl-redirect")) {
    out.force_ssl_redirect = *b;
    if (*b)
      in.different("force-ssl-redirect",
                   "redirects only on hosts that have a certificate here "
                   "(TLS ended by an outer load balancer is not seen)");
  }
  if (auto b = in.boolean("from-to-www-redirect")) out.from_to_www_redirect = *b;
  if (const std::string* v = in.take("server-alias")) {
    for (const auto& item : comma_list(*v)) {
      auto h = internal::normalize_host(item);
      if (!h.ok()) {
        out.server_aliases.clear();
        in.invalid("server-alias", std::string(h.status().message()));
        break;
      }
      out.server_aliases.push_back(*h);
    }
  }
  read_upstream(in, out);
  read_error_pages(in, out);
  read_headers(in, out);
  read_cors(in, out);
  read_access(in, out);
  read_basic_auth(in, ingress.namespace_(), out);
  read_ext_auth(in, out);
  read_client_auth(in, ingress.namespace_(), out);
  read_limits(in, cat(ingress.namespace_(), "/", ingress.name()), out);
  read_bandwidth(in, out);
  read_custom_headers(in, ingress.namespace_(), out);
  out.verdicts = in.finish(&out.unenforced_access);
  return out;
}

}  // namespace kop::ingress
