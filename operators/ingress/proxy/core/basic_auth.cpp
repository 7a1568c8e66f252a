// Basic authentication of a route (basic_auth.h).
#include "kop/proxy/basic_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include <absl/strings/escaping.h>

#include "core/text.h"
#include "kop/proxy/password_hash.h"

namespace kop::proxy {
namespace {

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (internal::lower(a[i]) != internal::lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::atomic<uint64_t> BasicAuth::next_id_{1};

BasicAuth::Attempt::~Attempt() {
  OPENSSL_cleanse(password.data(), password.size());
}

BasicAuth::Remembered::~Remembered() {
  OPENSSL_cleanse(authorization_.data(), authorization_.size());
}

absl::StatusOr<std::unique_ptr<BasicAuth>> BasicAuth::compile(const BasicAuthConfig& config) {
  auto auth = std::make_unique<BasicAuth>();
  auth->id_ = next_id_.fetch_add(1, std::memory_order_relaxed);
  for (const auto& u : config.users) {
    auto scheme = hash_scheme(u.hash);
    if (!scheme.ok())
      return absl::InvalidArgumentError(
          internal::cat("user ", internal::quote(u.name), ": ", scheme.status().message()));
    auth->users_.push_back(User{u.name, u.hash, slow_hash_scheme(*scheme)});
    if (auth->users_.back().slow && auth->decoy_hash_.empty()) auth->decoy_hash_ = u.hash;
  }
  std::sort(auth->users_.begin(), auth->users_.end(),
            [](const User& a, const User& b) { return a.name < b.name; });
  auth->challenge_ =
      internal::cat("www-authenticate: Basic realm=", internal::quote(config.realm), "\r\n");
  // HMAC (RFC 2104) with a 32-byte key: H((K ^ opad) || H((K ^ ipad) || m)); both pads
  // are one SHA-256 block, hashed here once.
  std::array<uint8_t, 64> ipad{}, opad{};
  if (RAND_bytes(ipad.data(), 32) != 1)
    return absl::InternalError("no random bytes for the credentials cache key");
  opad = ipad;
  for (size_t i = 0; i < 64; ++i) {
    ipad[i] ^= 0x36;
    opad[i] ^= 0x5c;
  }
  auth->inner_.reset(EVP_MD_CTX_new());
  auth->outer_.reset(EVP_MD_CTX_new());
  bool keyed = auth->inner_ && auth->outer_ &&
               EVP_DigestInit_ex(auth->inner_.get(), EVP_sha256(), nullptr) == 1 &&
               EVP_DigestUpdate(auth->inner_.get(), ipad.data(), ipad.size()) == 1 &&
               EVP_DigestInit_ex(auth->outer_.get(), EVP_sha256(), nullptr) == 1 &&
               EVP_DigestUpdate(auth->outer_.get(), opad.data(), opad.size()) == 1;
  OPENSSL_cleanse(ipad.data(), ipad.size());
  OPENSSL_cleanse(opad.data(), opad.size());
  if (!keyed) return absl::InternalError("cannot set up the credentials cache key");
  absl::MutexLock lock(&auth->mu_);
  auth->cache_.assign(kCacheSlots, Digest{});
  return auth;
}

bool BasicAuth::recalled(const Remembered& remembered, std::string_view authorization) const {
  const std::string& kept = remembered.authorization_;
  if (remembered.auth_ != id_ || kept.size() != authorization.size()) return false;
  // In constant time (a connection may carry several users' requests, through a front proxy),
  // 8 bytes a step: OpenSSL's CRYPTO_memcmp goes a byte at a time, as long as the rest.
  uint64_t diff = 0;
  size_t n = kept.size(), i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x = 0, y = 0;
    std::memcpy(&x, kept.data() + i, 8);
    std::memcpy(&y, authorization.data() + i, 8);
    diff |= x ^ y;
  }
  for (; i < n; ++i) diff |= static_cast<uint8_t>(kept[i] ^ authorization[i]);
  return diff == 0;
}

BasicAuth::Outcome BasicAuth::check(std::string_view authorization, Attempt& attempt,
                                    Remembered* remembered) const {
  Outcome out = check_value(authorization, attempt);
  if (out == Outcome::kAllow && remembered != nullptr) {
    std::string& kept = remembered->authorization_;
    OPENSSL_cleanse(kept.data(), kept.size());
    kept.assign(authorization);
    remembered->auth_ = id_;
  }
  return out;
}

BasicAuth::Outcome BasicAuth::check_value(std::string_view authorization, Attempt& attempt) const {
  // "Basic" 1*SP token68, the scheme case-insensitive (RFC 9110 11.6.2).
  std::string_view value = trim(authorization);
  size_t sp = value.find(' ');
  if (sp == std::string_view::npos || !iequal(value.substr(0, sp), "basic")) return Outcome::kDeny;
  std::string decoded;
  if (!absl::Base64Unescape(internal::absl_view(trim(value.substr(sp + 1))), &decoded))
    return Outcome::kDeny;
  size_t colon = decoded.find(':');
  Outcome out = Outcome::kDeny;
  if (colon != std::string::npos) {
    std::string_view name = std::string_view(decoded).substr(0, colon);
    auto it = std::lower_bound(users_.begin(), users_.end(), name,
                               [](const User& u, std::string_view n) { return u.name < n; });
    if (it != users_.end() && it->name == name) {
      attempt.user = static_cast<uint32_t>(it - users_.begin());
      attempt.password.assign(decoded, colon + 1);
      // The key covers the user's hash too: a user whose hash changed is never found.
      std::string material;
      material.reserve(decoded.size() + it->hash.size() + 1);
      material.append(decoded).push_back('\0');
      material.append(it->hash);
      bool keyed = digest(material, attempt.key);
      OPENSSL_cleanse(material.data(), material.size());
      // A cheap hash is checked here; a slow one goes to verify() off the loop.
      if ((keyed && cached(attempt.key)) || (keyed && !it->slow && verify(attempt)))
        out = Outcome::kAllow;
      else if (keyed && it->slow)
        out = Outcome::kVerify;
    } else if (!decoy_hash_.empty()) {
      // An unknown user costs a slow check too (verify() then denies).
      attempt.user = static_cast<uint32_t>(users_.size());
      attempt.password.assign(decoded, colon + 1);
      out = Outcome::kVerify;
    }
  }
  OPENSSL_cleanse(decoded.data(), decoded.size());
  return out;
}

void BasicAuth::MdCtxFree::operator()(EVP_MD_CTX* c) const {
  EVP_MD_CTX_free(c);
}

bool BasicAuth::digest(std::string_view material, Digest& out) const {
  // One scratch context per thread (checks run on every worker and the verify threads).
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> scratch(EVP_MD_CTX_new());
  std::array<uint8_t, 32> inner{};
  unsigned int n = 0, m = 0;
  bool ok = scratch && EVP_MD_CTX_copy_ex(scratch.get(), inner_.get()) == 1 &&
            EVP_DigestUpdate(scratch.get(), material.data(), material.size()) == 1 &&
            EVP_DigestFinal_ex(scratch.get(), inner.data(), &n) == 1 && n == inner.size() &&
            EVP_MD_CTX_copy_ex(scratch.get(), outer_.get()) == 1 &&
            EVP_DigestUpdate(scratch.get(), inner.data(), inner.size()) == 1 &&
            EVP_DigestFinal_ex(scratch.get(), out.data(), &m) == 1 && m == out.size();
  OPENSSL_cleanse(inner.data(), inner.size());
  return ok;
}

bool BasicAuth::verify(const Attempt& attempt) const {
  if (attempt.user >= users_.size()) {
    // The decoy: as long as a real check, whatever the password.
    if (!decoy_hash_.empty()) (void)password_matches(decoy_hash_, attempt.password);
    return false;
  }
  if (!password_matches(users_[attempt.user].hash, attempt.password)) return false;
  remember(attempt.key);
  return true;
}

bool BasicAuth::cached(const Digest& key) const {
  size_t slot = (size_t{key[0]} | (size_t{key[1]} << 8)) % kCacheSlots;
  absl::MutexLock lock(&mu_);
  return CRYPTO_memcmp(cache_[slot].data(), key.data(), key.size()) == 0;
}

void BasicAuth::remember(const Digest& key) const {
  size_t slot = (size_t{key[0]} | (size_t{key[1]} << 8)) % kCacheSlots;
  absl::MutexLock lock(&mu_);
  cache_[slot] = key;
}

}  // namespace kop::proxy
