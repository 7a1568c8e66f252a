// HTTP Basic authentication of a route (RFC 7617; nginx's auth_basic as ingress-nginx's
// auth-type basic writes it): the route's users and their htpasswd hashes (password_hash.h),
// a realm for the 401's WWW-Authenticate challenge.
//
// check() is the fast part, on the worker's thread: it parses the Authorization field, finds the
// user and looks the credentials up in the route's cache of verified credentials. A miss on a
// cheap hash ({SHA}, {SSHA}, $apr1$) is verified at once; a miss on a bcrypt or SHA-crypt hash
// (tens to hundreds of milliseconds) is left to verify(), which the caller runs off the event
// loop. The cache holds keyed digests (HMAC-SHA-256 under a random key of this BasicAuth, its
// inner and outer states computed once) of user and password, never the password; it is bounded
// (kCacheSlots, a newer entry replaces the one in its slot) and lives as long as the compiled
// route, so a changed Secret starts afresh. In front of the cache, each client connection keeps
// a Remembered: the Authorization value this BasicAuth last allowed on it, so a keep-alive
// client's next requests cost a byte compare (no digest, no lock); a new config compiles a new
// BasicAuth, under which nothing remembered counts. Threading: compile() on the control thread;
// check() and verify() on any thread (the cache has its own lock); a Remembered belongs to one
// connection's thread.
#pragma once

#include <openssl/types.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/base/thread_annotations.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>

#include "kop/proxy/config.h"

namespace kop::proxy {

class BasicAuth {
 public:
  static constexpr size_t kCacheSlots = 1024;
  using Digest = std::array<uint8_t, 32>;

  // Credentials read from a request, kept until verified. The password is wiped on destruction.
  struct Attempt {
    Attempt() = default;
    Attempt(const Attempt&) = delete;
    Attempt& operator=(const Attempt&) = delete;
    ~Attempt();
    uint32_t user = 0;  // index into the users; their count for an unknown user (a decoy)
    std::string password;
    Digest key{};  // the cache key of (user, password)
  };

  // What one client connection remembers of the credentials last allowed on it. The value is
  // wiped when replaced and on destruction.
  class Remembered {
   public:
    Remembered() = default;
    Remembered(const Remembered&) = delete;
    Remembered& operator=(const Remembered&) = delete;
    ~Remembered();

   private:
    friend class BasicAuth;
    uint64_t auth_ = 0;  // the id() of the BasicAuth that allowed it; 0: nothing remembered
    std::string authorization_;
  };

  enum class Outcome {
    kAllow,   // the credentials are good
    kDeny,    // missing, malformed, unknown user or wrong password: answer 401
    kVerify,  // call verify(attempt) off the event loop
  };

  // Every user's hash must be one hash_scheme() accepts; the error names the user.
  static absl::StatusOr<std::unique_ptr<BasicAuth>> compile(const BasicAuthConfig& config);

  // `authorization`: the request's Authorization field value ("" when absent). On kAllow the
  // value goes into `remembered` (when given) for recalled().
  Outcome check(std::string_view authorization, Attempt& attempt,
                Remembered* remembered = nullptr) const;
  // Whether this BasicAuth allowed exactly `authorization` on the connection last (check()
  // would allow it again: the users do not change for the life of a BasicAuth).
  bool recalled(const Remembered& remembered, std::string_view authorization) const;
  // Slow (bcrypt): whether the attempt's password is the user's; remembered when it is. An
  // unknown user on a route with slow hashes is also sent here (kVerify) and checked against
  // a decoy hash of the same cost, always denied: the time to a 401 does not tell which
  // user names exist.
  bool verify(const Attempt& attempt) const;

  // The 401's field line: "www-authenticate: Basic realm=\"...\"\r\n".
  const std::string& challenge_field() const { return challenge_; }

 private:
  struct User {
    std::string name;
    std::string hash;
    bool slow = false;
  };
  Outcome check_value(std::string_view authorization, Attempt& attempt) const;
  bool cached(const Digest& key) const;
  void remember(const Digest& key) const;

  // Unique in the process (never 0), so a Remembered is never taken for another BasicAuth's,
  // even one allocated where a freed one was.
  uint64_t id_ = 0;
  static std::atomic<uint64_t> next_id_;
  std::vector<User> users_;  // sorted by name
  std::string decoy_hash_;   // a slow user's hash (empty: no slow user), see verify()
  std::string challenge_;
  // HMAC-SHA-256's states after the key's inner and outer pads: each check copies them instead
  // of keying a MAC again (OpenSSL 3's one-shot HMAC() fetched and keyed one per call: 22k
  // instructions of a 37k-instruction request). Read-only after compile().
  struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const;
  };
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> inner_, outer_;
  bool digest(std::string_view material, Digest& out) const;
  mutable absl::Mutex mu_;
  mutable std::vector<Digest> cache_ ABSL_GUARDED_BY(mu_);  // kCacheSlots, zero = empty
};

}  // namespace kop::proxy
