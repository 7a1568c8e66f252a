// External authentication of a route (nginx's auth_request as ingress-nginx's auth-url writes
// it): before a request goes upstream, the server asks the route's auth service about it (the
// auth request carries the client's method and fields, no body; server/ext_auth_call.h writes
// and sends it) and hands the answer's status and fields to answer(), which keeps what the
// rules need:
//  - 2xx: the request goes on, with the config's response_headers set from the answer (a name
//    the answer lacks is removed, so a client can never supply it itself);
//  - 401 and 403: that status to the client, with the answer's WWW-Authenticate; a 401 becomes a
//    302 to the sign-in URL when the route has one (the original URL in its `rd` parameter);
//  - anything else, and a failure to ask (connect error, timeout, bad answer): 500.
// The answer's Set-Cookie fields go on the client's response when it is a 2xx or 3xx one
// (nginx's add_header), or on every response with always_set_cookie.
//
// With a cache key, answers are remembered per value of the key expression for the time
// cache_valid gives their status. Answers carrying Set-Cookie, or Cache-Control no-store,
// no-cache or private, are not kept (nginx's proxy_cache does not keep them either). The cache
// is bounded (kCacheEntries: expired entries go first, then the soonest to expire), keyed by a
// SHA-256 digest of the key's value (which may hold credentials), and lives as long as the
// compiled route: a new config keeps it while the route's virtual host is unchanged (RouteTable
// reuses that host's compiled form) and starts afresh otherwise.
// Threading: compile() on the control thread; the rest on any thread (the cache has its lock).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>

#include "kop/proxy/config.h"
#include "kop/proxy/hash_expression.h"
#include "kop/proxy/request_view.h"

namespace kop::proxy {

class ExtAuth {
 public:
  static constexpr size_t kCacheEntries = 4096;
  using Key = std::array<uint8_t, 32>;

  enum class Verdict { kAllow, kUnauthorized, kForbidden, kError };

  // What the exchange needs from one answer of the auth service.
  struct Answer {
    Verdict verdict = Verdict::kError;
    int status = 0;                             // the auth service's status; 0: not asked
    HeaderMutation upstream;                    // response_headers, set or removed
    HeaderMutation cookies;                     // add: the answer's Set-Cookie fields
    std::vector<std::string> www_authenticate;  // the answer's challenges (with a 401)
    bool cacheable = false;
  };

  // The error message starts with the field at fault ("signin: ...").
  static absl::StatusOr<std::unique_ptr<ExtAuth>> compile(const ExtAuthConfig& config);

  const ExtAuthConfig& config() const { return config_; }

  // The meaning of the auth service's answer `status` with its `fields`.
  Answer answer(int status, std::span<const HeaderField> fields) const;
  // The answer when the auth service could not be asked: an error (500).
  static const Answer& failed();
  static Verdict judge(int status);

  // Appends the x-auth-request-redirect value for `request`.
  void request_redirect(const RequestView& request, std::string& out) const;
  // Appends the Location of the sign-in redirect; false (nothing appended) without a sign-in URL.
  bool signin_location(const RequestView& request, std::string& out) const;
  // Whether the answer's Set-Cookie fields go on a client response of `status`.
  bool sets_cookie_on(int status) const;

  // The cache key of `request`; false when the route caches nothing.
  bool cache_key(const RequestView& request, Key* key) const;
  // The answer remembered for `key` that is still fresh at `now_ms`, or null.
  std::shared_ptr<const Answer> cached(const Key& key, int64_t now_ms) const;
  // Remembers `answer` when it is cacheable and cache_valid keeps its status.
  void remember(const Key& key, const std::shared_ptr<const Answer>& answer, int64_t now_ms) const;
  size_t cache_size() const;

 private:
  ExtAuth() = default;
  // How long answers of `status` are kept; nullopt: not kept.
  std::optional<int64_t> ttl_ms(int status) const;

  struct Entry {
    std::shared_ptr<const Answer> answer;
    int64_t expires_ms = 0;
  };

  ExtAuthConfig config_;
  std::optional<HashExpression> signin_;  // with the redirect parameter added
  std::optional<HashExpression> request_redirect_;
  std::optional<HashExpression> cache_key_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<Key, Entry> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::proxy
