// TLS towards upstream endpoints: a cluster's client context (UpstreamTls), the session an
// endpoint last gave a pool (TlsResumption) and one connection's TLS engine (UpTlsSession).
//
// UpstreamTls is built on the control thread when a config is applied (trust store, client
// certificate, versions, ciphers, ALPN: "h2" for HTTP/2 clusters, "http/1.1" otherwise) and
// reused across reloads while the cluster's TLS settings and material are the same, so pools
// keep their warm connections and sessions. The engine reads ciphertext from its raw() buffer
// and appends what it writes to the buffer it was given (the BIO of tls.h: no BIO pairs).
//
// The name check: the certificate must carry one of subject_alt_names, or else server_name, or
// else the endpoint's host (a DNS name or an IP address); DNS names and IPs are checked by
// OpenSSL during the handshake, URIs ("spiffe://...") right after it against the leaf's
// subjectAltName URIs.
//
// Threading: UpstreamTls is immutable once built and shared by every worker (SSL_CTX is
// thread-safe for this use); TlsResumption and UpTlsSession belong to one worker thread.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include "buffer.h"
#include "kop/proxy/chunked_vector.h"
#include "kop/proxy/config.h"

namespace kop::proxy::server {

class UpstreamTls {
 public:
  ~UpstreamTls();
  UpstreamTls(const UpstreamTls&) = delete;
  UpstreamTls& operator=(const UpstreamTls&) = delete;
  // The context of a cluster with `tls`: one of `previous` (the last snapshot's) when its
  // key is the same, else a new one. Errors name the field ("ca_pem: ...").
  static absl::StatusOr<std::shared_ptr<const UpstreamTls>> build(
      const ClusterConfig& cluster,
      const ChunkedVector<std::shared_ptr<const UpstreamTls>>& previous);
  SSL_CTX* ctx() const { return ctx_; }
  const UpstreamTlsConfig& config() const { return config_; }
  // HTTP/2 cluster: the endpoint must select ALPN "h2".
  bool h2() const { return h2_; }
  // Settings and material: two contexts with the same key are interchangeable.
  const std::string& key() const { return key_; }
  // A short stable digest of key(), for pool keys and logs.
  uint64_t id() const { return id_; }

 private:
  UpstreamTls() = default;
  UpstreamTlsConfig config_;
  std::string key_;
  uint64_t id_ = 0;
  SSL_CTX* ctx_ = nullptr;
  bool h2_ = false;
  bool uri_names_ = false;  // subject_alt_names holds a URI: checked after the handshake
  friend class UpTlsSession;
};

// The session an endpoint gave last (TLS 1.3 tickets arrive after the handshake), offered by
// the next connection of the pool. One per pool: per worker, endpoint and TLS settings.
class TlsResumption {
 public:
  TlsResumption() = default;
  ~TlsResumption();
  TlsResumption(const TlsResumption&) = delete;
  TlsResumption& operator=(const TlsResumption&) = delete;
  SSL_SESSION* get() const { return session_; }
  void keep(SSL_SESSION* s);  // takes the reference
  void forget();

 private:
  SSL_SESSION* session_ = nullptr;
};

class UpTlsSession {
 public:
  // `host`: the endpoint's host, the name checked when the config names none. `out`: where
  // ciphertext goes (the connection's send buffer).
  UpTlsSession(std::shared_ptr<const UpstreamTls> tls, std::shared_ptr<TlsResumption> resume,
               std::string_view host, Buffer* out);
  ~UpTlsSession();
  UpTlsSession(const UpTlsSession&) = delete;
  UpTlsSession& operator=(const UpTlsSession&) = delete;

  enum class Step { kDone, kWantRead, kFailed };
  // Advances the handshake with what raw() holds; output is in *out. kDone once connected,
  // the certificate checked and (h2) ALPN h2 agreed; kFailed: error() says why.
  Step handshake();
  // Encrypts plaintext into *out. False: the engine failed (error()).
  bool encrypt(const char* p, size_t n);
  enum class Read { kOk, kEof, kFailed };
  // Decrypts what raw() holds, appending plaintext to `plain` (grown as needed). kEof: the
  // endpoint sent close_notify. Post-handshake messages (session tickets) are consumed here.
  Read decrypt(Buffer& plain);
  // Queues close_notify (our side is done sending).
  void close_notify();
  // Ciphertext received and not yet decrypted.
  Buffer& raw() { return raw_; }
  const std::string& error() const { return error_; }
  // The handshake resumed the pool's last session.
  bool resumed() const;
  // "h2", "http/1.1" or "" (none agreed).
  std::string_view alpn() const;

 private:
  std::string failure(int ret, std::string_view what);
  bool check_uri_names();

  std::shared_ptr<const UpstreamTls> tls_;
  std::shared_ptr<TlsResumption> resume_;
  SSL* ssl_ = nullptr;
  Buffer raw_;
  std::string error_;
};

}  // namespace kop::proxy::server
