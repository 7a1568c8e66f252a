// Password hashes of htpasswd lines, as nginx's auth_basic reads them for ingress-nginx's
// auth-type basic: bcrypt ($2y$, $2a$, $2b$) and SHA-crypt ($5$, $6$) through libcrypt's crypt_rn,
// Apache's MD5 ($apr1$), {SHA} (base64 SHA-1) and {SSHA} (salted). Plain text ({PLAIN} or no
// prefix) and traditional DES crypt are refused: they are not hashes worth the name, and a
// password file holding them is reported instead of honoured.
// Threading: pure functions; any thread. bcrypt costs tens to hundreds of milliseconds and
// SHA-crypt grows with its rounds: password_matches() on those belongs off the event loop.
#pragma once

#include <string_view>

#include <absl/status/statusor.h>

namespace kop::proxy {

enum class HashScheme { kBcrypt, kShaCrypt, kApr1, kSha1, kSaltedSha1 };

// The scheme of `hash`, or an InvalidArgument error saying why it is refused (never quoting
// the hash itself).
absl::StatusOr<HashScheme> hash_scheme(std::string_view hash);

// Whether checking a hash of `scheme` is expensive enough (libcrypt's schemes) to run off the
// event loop.
bool slow_hash_scheme(HashScheme scheme);

// Whether `password` hashes to `hash` (a hash hash_scheme() accepts; false otherwise). The
// computed and stored hashes are compared in constant time.
bool password_matches(std::string_view hash, std::string_view password);

}  // namespace kop::proxy
