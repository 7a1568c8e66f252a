// TLS contexts of one listener: one SSL_CTX per certificate; the SNI callback picks one and the
// ALPN callback is registered on every one (after an SNI switch OpenSSL asks the new context).
// Built on the control thread when a config is applied; reused across reloads when the
// certificate and settings did not change, which keeps session tickets valid. Also the custom
// BIO through which a connection's TLS engine reads its received ciphertext and appends to its
// send buffer (no BIO pairs, no copies through OpenSSL's own buffers).
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/statusor.h>
#include "buffer.h"
#include "kop/proxy/config.h"
#include "kop/proxy/route_table.h"

namespace kop::proxy::server {

class TlsContexts {
 public:
  ~TlsContexts();
  static absl::StatusOr<std::shared_ptr<TlsContexts>> build(const Listener& listener,
                                                            const TlsContexts* previous);
  SSL_CTX* default_ctx() const { return ctxs_[default_index_]; }
  SSL_CTX* ctx(uint32_t i) const { return ctxs_[i]; }
  // The PEM + settings identity of each context (to reuse contexts across reloads, which
  // keeps session tickets valid), shared with the next contexts that keep it.
  std::vector<std::shared_ptr<const std::string>> keys_;
  std::vector<SSL_CTX*> ctxs_;
  // The compiled certificate of each context: an apply whose table kept the certificate object
  // reuses its context without building the key (compared by address while the previous
  // table, which holds them, is alive).
  std::vector<const ListenerCertificate*> certs_;
  // Each context's session id context: "kop-proxy", or with client_auth the digest of its key.
  std::vector<std::string> sid_ctxs_;
  uint32_t default_index_ = 0;
};

// The thread's queued OpenSSL errors as one line ("; "-separated); the queue is emptied.
std::string ssl_errors();

// ex_data index on SSL objects pointing at the owning ClientConn.
int ssl_conn_index();

// A BIO reading ciphertext from `raw` and appending what the engine writes to `out`.
BIO* make_conn_bio(Buffer* raw, Buffer* out);

}  // namespace kop::proxy::server
