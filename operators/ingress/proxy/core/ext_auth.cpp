// External authentication's rules and answer cache (ext_auth.h).
#include "kop/proxy/ext_auth.h"

#include <openssl/sha.h>

#include <algorithm>
#include <utility>

#include "core/text.h"

namespace kop::proxy {
namespace {

using internal::cat;
using internal::quote;

bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), token_char);
}
bool field_value_ok(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto b = static_cast<unsigned char>(c);
    return (b < 0x20 && c != '\t') || b == 0x7f;
  });
}

// Whether the query of `url` (after its first '?') names `param` with a value (ingress-nginx
// then leaves the sign-in URL as it is).
bool names_param(std::string_view url, std::string_view param) {
  size_t q = url.find('?');
  if (q == std::string_view::npos) return false;
  std::string_view query = url.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == param && eq + 1 < pair.size())
      return true;
  }
  return false;
}

// Cache-Control directives that keep nginx's proxy_cache from storing a response.
bool forbids_caching(std::string_view cache_control) {
  std::string v = internal::to_lower(cache_control);
  return v.find("no-store") != std::string::npos || v.find("no-cache") != std::string::npos ||
         v.find("private") != std::string::npos;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExtAuth>> ExtAuth::compile(const ExtAuthConfig& config) {
  auto bad = [](std::string_view field, const std::string& why) {
    return absl::InvalidArgumentError(cat(field, ": ", why));
  };
  const ExtAuthConfig& c = config;
  if (c.cluster.empty()) return bad("cluster", "required");
  if (c.path.empty() || c.path[0] != '/' || c.path.find_first_of(" \t#") != std::string::npos ||
      !field_value_ok(c.path))
    return bad("path", cat("must start with '/', without spaces: ", quote(c.path)));
  if (c.host.empty() || c.host.find_first_of(" \t/") != std::string::npos ||
      !field_value_ok(c.host))
    return bad("host", cat("not a host: ", quote(c.host)));
  if (!c.method.empty() && !is_token(c.method))
    return bad("method", cat("not a method: ", quote(c.method)));
  for (size_t i = 0; i < c.response_headers.size(); ++i)
    if (!is_token(c.response_headers[i]))
      return bad(cat("response_headers[", i, "]"),
                 cat("not a field name: ", quote(c.response_headers[i])));
  if (!is_token(c.signin_redirect_param) ||
      c.signin_redirect_param.find_first_of("&=$") != std::string::npos)
    return bad("signin_redirect_param",
               cat("not a parameter name: ", quote(c.signin_redirect_param)));
  if (c.timeout.count() <= 0) return bad("timeout_ms", "must be positive");
  std::unique_ptr<ExtAuth> a(new ExtAuth());
  a->config_ = c;
  auto expression = [&](std::string_view field, const std::string& text,
                        std::optional<HashExpression>* out) -> absl::Status {
    if (text.empty()) return absl::OkStatus();
    if (!field_value_ok(text) || text.find_first_of(" \t") != std::string::npos)
      return bad(field, cat("control characters or spaces in ", quote(text)));
    auto e = HashExpression::parse(text);
    if (!e.ok()) return bad(field, std::string(e.status().message()));
    *out = *std::move(e);
    return absl::OkStatus();
  };
  if (auto s = expression("request_redirect", c.request_redirect, &a->request_redirect_); !s.ok())
    return s;
  if (auto s = expression("cache_key", c.cache_key, &a->cache_key_); !s.ok()) return s;
  if (!c.signin.empty()) {
    // ingress-nginx's sign-in URL: the original URL goes in the redirect parameter unless the
    // URL already names that parameter.
    std::string signin = c.signin;
    if (!names_param(signin, c.signin_redirect_param))
      signin =
          cat(signin, signin.find('?') == std::string::npos ? "?" : "&", c.signin_redirect_param,
              "=$pass_access_scheme://$http_host$escaped_request_uri");
    if (auto s = expression("signin", signin, &a->signin_); !s.ok()) return s;
  }
  if (c.cache_key.empty() && !c.cache_valid.empty())
    return bad("cache_valid", "only with cache_key");
  if (!c.cache_key.empty() && c.cache_valid.empty()) return bad("cache_valid", "required");
  for (size_t i = 0; i < c.cache_valid.size(); ++i) {
    if (c.cache_valid[i].ttl.count() <= 0)
      return bad(cat("cache_valid[", i, "].ttl_ms"), "must be positive");
    for (uint32_t s : c.cache_valid[i].statuses)
      if (s < 100 || s > 599)
        return bad(cat("cache_valid[", i, "].statuses"), cat("not a status: ", s));
  }
  return a;
}

ExtAuth::Verdict ExtAuth::judge(int status) {
  if (status >= 200 && status < 300) return Verdict::kAllow;
  if (status == 401) return Verdict::kUnauthorized;
  if (status == 403) return Verdict::kForbidden;
  return Verdict::kError;
}

const ExtAuth::Answer& ExtAuth::failed() {
  static const Answer kFailed;
  return kFailed;
}

ExtAuth::Answer ExtAuth::answer(int status, std::span<const HeaderField> fields) const {
  Answer a;
  a.status = status;
  a.verdict = judge(status);
  a.cacheable = true;
  for (const HeaderField& f : fields) {
    if (iequals(f.name, "set-cookie")) {
      a.cookies.add.push_back(HeaderValue{"set-cookie", std::string(f.value)});
      a.cacheable = false;
    } else if (iequals(f.name, "www-authenticate")) {
      if (a.verdict == Verdict::kUnauthorized) a.www_authenticate.emplace_back(f.value);
    } else if (iequals(f.name, "cache-control")) {
      if (forbids_caching(f.value)) a.cacheable = false;
    } else if (iequals(f.name, "vary")) {
      if (f.value == "*") a.cacheable = false;
    }
  }
  if (a.verdict == Verdict::kAllow) {
    for (const std::string& name : config_.response_headers) {
      const HeaderField* found = nullptr;
      for (const HeaderField& f : fields)
        if (iequals(f.name, name)) {
          found = &f;
          break;
        }
      // nginx's proxy_set_header with an empty value sends no field: the client's is dropped.
      if (found != nullptr && !found->value.empty())
        a.upstream.set.push_back(HeaderValue{name, std::string(found->value)});
      else
        a.upstream.remove.push_back(name);
    }
  }
  return a;
}

void ExtAuth::request_redirect(const RequestView& request, std::string& out) const {
  if (request_redirect_) return request_redirect_->evaluate(request, out);
  out.append(request.path);
  if (!request.query.empty()) out.append("?").append(request.query);
}

bool ExtAuth::signin_location(const RequestView& request, std::string& out) const {
  if (!signin_) return false;
  signin_->evaluate(request, out);
  return true;
}

bool ExtAuth::sets_cookie_on(int status) const {
  if (config_.always_set_cookie) return true;
  // nginx's add_header: 200, 201, 204, 206, 301, 302, 303, 304, 307, 308.
  switch (status) {
    case 200:
    case 201:
    case 204:
    case 206:
    case 301:
    case 302:
    case 303:
    case 304:
    case 307:
    case 308:
      return true;
    default:
      return false;
  }
}

bool ExtAuth::cache_key(const RequestView& request, Key* key) const {
  if (!cache_key_) return false;
  std::string value;
  cache_key_->evaluate(request, value);
  SHA256(reinterpret_cast<const unsigned char*>(value.data()), value.size(), key->data());
  return true;
}

std::optional<int64_t> ExtAuth::ttl_ms(int status) const {
  for (const ExtAuthCacheRule& r : config_.cache_valid) {
    bool listed = r.any;
    if (r.statuses.empty() && !r.any) listed = status == 200 || status == 301 || status == 302;
    for (uint32_t s : r.statuses) listed = listed || static_cast<int>(s) == status;
    if (listed) return r.ttl.count();
  }
  return std::nullopt;
}

std::shared_ptr<const ExtAuth::Answer> ExtAuth::cached(const Key& key, int64_t now_ms) const {
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  if (it->second.expires_ms <= now_ms) {
    cache_.erase(it);
    return nullptr;
  }
  return it->second.answer;
}

void ExtAuth::remember(const Key& key, const std::shared_ptr<const Answer>& answer,
                       int64_t now_ms) const {
  if (!answer->cacheable) return;
  std::optional<int64_t> ttl = ttl_ms(answer->status);
  if (!ttl) return;
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= kCacheEntries && !cache_.contains(key)) {
    absl::erase_if(cache_, [&](const auto& e) { return e.second.expires_ms <= now_ms; });
    if (cache_.size() >= kCacheEntries) {
      auto soonest = std::min_element(
          cache_.begin(), cache_.end(),
          [](const auto& x, const auto& y) { return x.second.expires_ms < y.second.expires_ms; });
      cache_.erase(soonest);
    }
  }
  cache_[key] = Entry{answer, now_ms + *ttl};
}

size_t ExtAuth::cache_size() const {
  absl::MutexLock lock(&mu_);
  return cache_.size();
}

}  // namespace kop::proxy
