// htpasswd hash schemes (password_hash.h).
#include "kop/proxy/password_hash.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <string>

#include <absl/strings/escaping.h>

#include "core/text.h"

namespace kop::proxy {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// libxcrypt's schemes. crypt_data is about 32 KiB: on the heap, not the caller's stack.
// crypt_rn rather than crypt_r: the same hashing, NULL on failure, and no sanitizer interceptor
// in the way (GCC 12's ASan wraps crypt_r, and its wrapper jumped to address 0 on every call).
bool crypt_matches(std::string_view hash, std::string_view password) {
  // crypt_rn wants terminated strings; a NUL inside the password would cut it short.
  if (password.find('\0') != std::string_view::npos) return false;
  std::string pw(password);
  std::string setting(hash);
  auto data = std::make_unique<crypt_data>();
  const char* out =
      crypt_rn(pw.c_str(), setting.c_str(), data.get(), static_cast<int>(sizeof(crypt_data)));
  OPENSSL_cleanse(pw.data(), pw.size());
  bool ok = out != nullptr && out[0] != '*' && same(out, hash);
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

// One digest over the concatenation of `parts`.
template <size_t N>
bool digest(const EVP_MD* md, const std::string_view (&parts)[N], unsigned char* out) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) return false;
  for (std::string_view p : parts)
    if (!p.empty() && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) return false;
  return EVP_DigestFinal_ex(ctx.get(), out, nullptr) == 1;
}

constexpr std::string_view kCryptAlphabet =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void to64(std::string& out, uint32_t v, int n) {
  while (n-- > 0) {
    out.push_back(kCryptAlphabet[v & 0x3f]);
    v >>= 6;
  }
}

// Apache's MD5 crypt: Poul-Henning Kamp's md5crypt with the magic "$apr1$" (1000 rounds).
std::string apr1(std::string_view password, std::string_view salt) {
  constexpr std::string_view kMagic = "$apr1$";
  const EVP_MD* md5 = EVP_md5();
  unsigned char alt[16];
  if (!digest(md5, {password, salt, password}, alt)) return {};
  // The main digest: password, magic, salt, then `alt` repeated over the password's length,
  // then one byte per bit of the length (a NUL for a set bit, the password's first byte else).
  std::string input;
  input.append(password).append(kMagic).append(salt);
  for (size_t left = password.size(); left > 0; left -= std::min<size_t>(left, 16))
    input.append(reinterpret_cast<const char*>(alt), std::min<size_t>(left, 16));
  for (size_t bits = password.size(); bits != 0; bits >>= 1)
    input.push_back((bits & 1) ? '\0' : (password.empty() ? '\0' : password[0]));
  unsigned char fin[16];
  bool ok = digest(md5, {std::string_view(input)}, fin);
  OPENSSL_cleanse(input.data(), input.size());
  if (!ok) return {};
  for (int i = 0; i < 1000; ++i) {
    std::string_view prev(reinterpret_cast<const char*>(fin), 16);
    std::string_view first = (i & 1) ? password : prev;
    std::string_view s = (i % 3) ? salt : std::string_view();
    std::string_view p = (i % 7) ? password : std::string_view();
    std::string_view last = (i & 1) ? prev : password;
    unsigned char next[16];
    if (!digest(md5, {first, s, p, last}, next)) return {};
    std::memcpy(fin, next, 16);
  }
  std::string out;
  out.append(kMagic).append(salt).push_back('$');
  static constexpr int kOrder[5][3] = {{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}};
  for (const auto& g : kOrder)
    to64(out, (uint32_t{fin[g[0]]} << 16) | (uint32_t{fin[g[1]]} << 8) | fin[g[2]], 4);
  to64(out, fin[11], 2);
  OPENSSL_cleanse(fin, sizeof fin);
  return out;
}

bool apr1_matches(std::string_view hash, std::string_view password) {
  std::string_view rest = hash.substr(6);
  size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos) return false;
  std::string computed = apr1(password, rest.substr(0, dollar));
  return !computed.empty() && same(computed, hash);
}

// {SHA}: base64(SHA-1(password)); {SSHA}: base64(SHA-1(password + salt) + salt).
bool sha1_matches(std::string_view hash, std::string_view password, bool salted) {
  std::string raw;
  std::string_view b64 = hash.substr(salted ? 6 : 5);
  if (!absl::Base64Unescape(internal::absl_view(b64), &raw) || raw.size() < 20) return false;
  if (!salted && raw.size() != 20) return false;
  std::string_view salt = std::string_view(raw).substr(20);
  unsigned char sum[20];
  if (!digest(EVP_sha1(), {password, salt}, sum)) return false;
  return same(std::string_view(reinterpret_cast<const char*>(sum), 20),
              std::string_view(raw).substr(0, 20));
}

}  // namespace

absl::StatusOr<HashScheme> hash_scheme(std::string_view hash) {
  if (starts_with(hash, "$2y$") || starts_with(hash, "$2a$") || starts_with(hash, "$2b$"))
    return HashScheme::kBcrypt;
  if (starts_with(hash, "$5$") || starts_with(hash, "$6$")) return HashScheme::kShaCrypt;
  if (starts_with(hash, "$apr1$")) {
    if (hash.find('$', 6) == std::string_view::npos)
      return absl::InvalidArgumentError("an $apr1$ hash without its salt");
    return HashScheme::kApr1;
  }
  if (starts_with(hash, "{SHA}")) return HashScheme::kSha1;
  if (starts_with(hash, "{SSHA}")) return HashScheme::kSaltedSha1;
  if (starts_with(hash, "{PLAIN}"))
    return absl::InvalidArgumentError("a plain-text password ({PLAIN}) is refused");
  if (hash.size() == 13 && hash.find('$') == std::string_view::npos)
    return absl::InvalidArgumentError(
        "a traditional DES crypt hash is refused (8-character passwords, broken in seconds): "
        "use bcrypt (htpasswd -B)");
  if (starts_with(hash, "$")) {
    size_t end = hash.find('$', 1);
    return absl::InvalidArgumentError(
        internal::cat("unsupported hash scheme ",
                      internal::quote(hash.substr(0, end == std::string_view::npos ? 1 : end + 1)),
                      " (bcrypt, SHA-crypt $5$/$6$, $apr1$, {SHA} and {SSHA} are)"));
  }
  return absl::InvalidArgumentError(
      "not a hash (a plain-text password?): bcrypt, SHA-crypt $5$/$6$, $apr1$, {SHA} and "
      "{SSHA} are accepted");
}

bool slow_hash_scheme(HashScheme scheme) {
  return scheme == HashScheme::kBcrypt || scheme == HashScheme::kShaCrypt;
}

bool password_matches(std::string_view hash, std::string_view password) {
  auto scheme = hash_scheme(hash);
  if (!scheme.ok()) return false;
  switch (*scheme) {
    case HashScheme::kBcrypt:
    case HashScheme::kShaCrypt:
      return crypt_matches(hash, password);
    case HashScheme::kApr1:
      return apr1_matches(hash, password);
    case HashScheme::kSha1:
      return sha1_matches(hash, password, false);
    case HashScheme::kSaltedSha1:
      return sha1_matches(hash, password, true);
  }
  return false;
}

}  // namespace kop::proxy
