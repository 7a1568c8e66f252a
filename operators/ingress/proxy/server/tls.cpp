// TLS: one SSL_CTX per certificate (SNI picks), ALPN on every context, and a BIO that reads
// ciphertext from the connection's buffer and appends output to its send buffer (no BIO pair
// copies, no extra syscalls).
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>

#include <absl/container/flat_hash_map.h>
#include <absl/strings/str_cat.h>
#include "client_conn.h"
#include "client_hello.h"
#include "snapshot.h"
#include "tls.h"

namespace kop::proxy::server {
namespace {

struct BioData {
  Buffer* raw;
  Buffer* out;
};

int bio_read(BIO* b, char* dst, int len) {
  auto* d = static_cast<BioData*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  size_t avail = d->raw->size();
  if (avail == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  size_t n = std::min(avail, static_cast<size_t>(len));
  std::memcpy(dst, d->raw->data(), n);
  d->raw->consume(n);
  return static_cast<int>(n);
}

int bio_write(BIO* b, const char* src, int len) {
  auto* d = static_cast<BioData*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  d->out->append(src, static_cast<size_t>(len));
  return len;
}

long bio_ctrl(BIO*, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_PUSH:
    case BIO_CTRL_POP:
      return 1;
    default:
      return 0;
  }
}

int bio_destroy(BIO* b) {
  delete static_cast<BioData*>(BIO_get_data(b));
  BIO_set_data(b, nullptr);
  return 1;
}

BIO_METHOD* conn_bio_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kop-conn");
    BIO_meth_set_read(bm, bio_read);
    BIO_meth_set_write(bm, bio_write);
    BIO_meth_set_ctrl(bm, bio_ctrl);
    BIO_meth_set_destroy(bm, bio_destroy);
    return bm;
  }();
  return m;
}

// The handshake completes whatever the client's chain: the verification result is kept and
// the HTTP layer answers per the policy (nginx's way, so a refused client gets a page, not a
// handshake alert).
int accept_any_chain(int, X509_STORE_CTX*) {
  return 1;
}

// The client certificate settings of `ctx` on a connection: OpenSSL's SSL_set_SSL_CTX() keeps
// the verify mode the SSL was created with (the default certificate's), so a context without
// client_auth must clear it (no CertificateRequest for its hosts) and one with it set it.
void use_verify_of(SSL* ssl, SSL_CTX* ctx) {
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
  SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
}

int sni_callback(SSL* ssl, int*, void*) {
  auto* c = static_cast<ClientConn*>(SSL_get_ex_data(ssl, ssl_conn_index()));
  if (!c) return SSL_TLSEXT_ERR_OK;
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  std::string sni(name);
  for (char& ch : sni)
    if (ch >= 'A' && ch <= 'Z') ch = char(ch + 32);
  const Listener* l = c->listener();
  WorkerSnapshot* ws = c->snapshot();
  if (!l || !ws || l->id >= ws->snap->tls.size() || !ws->snap->tls[l->id]) return SSL_TLSEXT_ERR_OK;
  uint32_t i = ws->snap->table->certificate_for_sni(*l, sni);
  const TlsContexts& t = *ws->snap->tls[l->id];
  if (i < t.ctxs_.size() && t.ctxs_[i] != SSL_get_SSL_CTX(ssl)) {
    SSL_set_SSL_CTX(ssl, t.ctxs_[i]);
    use_verify_of(ssl, t.ctxs_[i]);
  }
  return SSL_TLSEXT_ERR_OK;
}

// Per virtual host minimum version: before version negotiation, the SNI of the hello picks the
// certificate and with it the floor (SSL_new copied the default certificate's). Runs on the
// context the SSL was created with, so every context registers it.
int client_hello_callback(SSL* ssl, int* alert, void*) {
  auto* c = static_cast<ClientConn*>(SSL_get_ex_data(ssl, ssl_conn_index()));
  if (!c) return SSL_CLIENT_HELLO_SUCCESS;
  const Listener* l = c->listener();
  WorkerSnapshot* ws = c->snapshot();
  if (!l || !ws || l->certificates.empty()) return SSL_CLIENT_HELLO_SUCCESS;
  std::string sni;
  const unsigned char* ext = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) == 1 &&
      !hello::parse_server_name(std::string_view(reinterpret_cast<const char*>(ext), len), &sni)) {
    *alert = SSL_AD_DECODE_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  uint32_t i = ws->snap->table->certificate_for_sni(*l, sni);
  TlsVersion v = i < l->certificates.size() ? l->certificates[i]->min_version : TlsVersion::kTls12;
  SSL_set_min_proto_version(ssl, v == TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Session resumption is decided before the SNI callback switches the context: the session
  // id context of the certificate the SNI selects is set now, so a session is resumed only
  // under the client certificate policy that made it (a certificate verified by another
  // context's CAs is never carried over).
  if (l->client_auth && l->id < ws->snap->tls.size() && ws->snap->tls[l->id]) {
    const TlsContexts& t = *ws->snap->tls[l->id];
    if (i < t.ctxs_.size()) {
      const std::string& sid = t.sid_ctxs_[i];
      SSL_set_session_id_context(ssl, reinterpret_cast<const unsigned char*>(sid.data()),
                                 static_cast<unsigned>(sid.size()));
      use_verify_of(ssl, t.ctxs_[i]);
    }
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

// Server preference: the listener's `alpn` list in order (default h2, http/1.1).
int alpn_callback(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                  const unsigned char* in, unsigned int inlen, void*) {
  auto* c = static_cast<ClientConn*>(SSL_get_ex_data(ssl, ssl_conn_index()));
  static const std::vector<std::string> kDefault = {"h2", "http/1.1"};
  // A TLS-terminated tcp_proxy name carries opaque bytes: no application protocol is agreed.
  if (c && c->listener() && c->snapshot() && !c->listener()->tcp_proxy.empty()) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name && c->snapshot()->snap->table->tcp_proxy_for_sni(*c->listener(), name))
      return SSL_TLSEXT_ERR_NOACK;
  }
  const std::vector<std::string>* prefs = &kDefault;
  if (c && c->listener() && c->listener()->config && c->listener()->config->tls)
    prefs = &c->listener()->config->tls->alpn;
  for (const std::string& want : *prefs) {
    if (want != "h2" && want != "http/1.1") continue;  // what this server speaks
    for (unsigned i = 0; i < inlen;) {
      unsigned len = in[i];
      if (i + 1 + len > inlen) break;
      if (len == want.size() && std::memcmp(in + i + 1, want.data(), len) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// The client certificate policy's part of a context: the trusted CAs (also named in the
// CertificateRequest), revocation lists, the verify mode and depth.
bool use_client_auth(SSL_CTX* ctx, const ClientAuthConfig& a) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  BIO* b = BIO_new_mem_buf(a.ca_pem.data(), static_cast<int>(a.ca_pem.size()));
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  int cas = 0;
  while (X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr)) {
    bool ok = X509_STORE_add_cert(store, x) == 1;
    X509_NAME* name = ok ? X509_NAME_dup(X509_get_subject_name(x)) : nullptr;
    X509_free(x);
    if (name == nullptr || sk_X509_NAME_push(names, name) == 0) {
      X509_NAME_free(name);
      sk_X509_NAME_pop_free(names, X509_NAME_free);
      BIO_free(b);
      return false;
    }
    ++cas;
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  BIO_free(b);
  SSL_CTX_set_client_CA_list(ctx, names);
  if (cas == 0) return false;
  if (!a.crl_pem.empty()) {
    b = BIO_new_mem_buf(a.crl_pem.data(), static_cast<int>(a.crl_pem.size()));
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(b, nullptr, nullptr, nullptr)) {
      int ok = X509_STORE_add_crl(store, crl);
      X509_CRL_free(crl);
      if (ok != 1) {
        BIO_free(b);
        return false;
      }
    }
    ERR_clear_error();
    BIO_free(b);
    // The client's own certificate is checked (its issuer must have a list).
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  }
  SSL_CTX_set_verify(ctx, a.verify == ClientVerify::kOff ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                     accept_any_chain);
  SSL_CTX_set_verify_depth(ctx, static_cast<int>(a.depth));
  return true;
}

absl::StatusOr<SSL_CTX*> make_ctx(const ListenerCertificate& cert, TlsVersion min_version,
                                  const std::string& sid_ctx) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return absl::InternalError("SSL_CTX_new failed");
  auto fail = [&](std::string_view what) -> absl::StatusOr<SSL_CTX*> {
    std::string e = ssl_errors();
    SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(
        absl::StrCat("certificate ", cert.name, ": ", std::string(what), ": ", e));
  };
  SSL_CTX_set_min_proto_version(
      ctx, min_version == TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read-ahead: a record is pulled from the connection's buffer in one BIO read instead of
  // two (header, then body). tls_decrypt() checks SSL_has_pending() for what is buffered.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(sid_ctx.data()),
                                 static_cast<unsigned>(sid_ctx.size()));
  // Certificate chain (leaf first) and key, from memory.
  BIO* b = BIO_new_mem_buf(cert.material.cert_pem.data(),
                           static_cast<int>(cert.material.cert_pem.size()));
  X509* leaf = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  if (!leaf) {
    BIO_free(b);
    return fail("cannot parse certificate");
  }
  int ok = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (ok != 1) {
    BIO_free(b);
    return fail("cannot use certificate");
  }
  while (X509* extra = PEM_read_bio_X509(b, nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      BIO_free(b);
      return fail("cannot add chain certificate");
    }
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  BIO_free(b);
  b = BIO_new_mem_buf(cert.material.key_pem.data(), static_cast<int>(cert.material.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  if (!key) return fail("cannot parse private key");
  ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1) return fail("private key does not match");
  if (cert.client_auth && !use_client_auth(ctx, cert.client_auth->config()))
    return fail("cannot load the client certificate CAs");
  SSL_CTX_set_client_hello_cb(ctx, client_hello_callback, nullptr);
  SSL_CTX_set_tlsext_servername_callback(ctx, sni_callback);
  // Trap: after SNI switches the context, OpenSSL uses the new context's ALPN callback, so
  // every context registers it.
  SSL_CTX_set_alpn_select_cb(ctx, alpn_callback, nullptr);
  return ctx;
}

}  // namespace

std::string ssl_errors() {
  std::string s;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!s.empty()) s += "; ";
    s += buf;
  }
  return s;
}

int ssl_conn_index() {
  static int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return idx;
}

BIO* make_conn_bio(Buffer* raw, Buffer* out) {
  BIO* b = BIO_new(conn_bio_method());
  BIO_set_data(b, new BioData{raw, out});
  BIO_set_init(b, 1);
  return b;
}

TlsContexts::~TlsContexts() {
  for (SSL_CTX* c : ctxs_) SSL_CTX_free(c);
}

absl::StatusOr<std::shared_ptr<TlsContexts>> TlsContexts::build(const Listener& listener,
                                                                const TlsContexts* previous) {
  auto t = std::make_shared<TlsContexts>();
  // The previous contexts by compiled certificate (a table keeps the object of an unchanged
  // one), and by key for a certificate loaded again (files are read at every compile).
  absl::flat_hash_map<const ListenerCertificate*, std::size_t> by_cert;
  absl::flat_hash_map<std::string_view, std::size_t> by_key;
  if (previous != nullptr) {
    by_cert.reserve(previous->certs_.size());
    for (std::size_t i = 0; i < previous->certs_.size(); ++i)
      by_cert.emplace(previous->certs_[i], i);
  }
  for (const Shared<ListenerCertificate>& shared : listener.certificates) {
    const ListenerCertificate& c = *shared;
    if (previous != nullptr) {
      if (auto it = by_cert.find(&c); it != by_cert.end()) {
        SSL_CTX* ctx = previous->ctxs_[it->second];
        SSL_CTX_up_ref(ctx);
        t->keys_.push_back(previous->keys_[it->second]);
        t->ctxs_.push_back(ctx);
        t->sid_ctxs_.push_back(previous->sid_ctxs_[it->second]);
        t->certs_.push_back(&c);
        continue;
      }
    }
    // The context's own floor is the certificate's (clients without SNI get the default one).
    TlsVersion minv = c.min_version;
    std::string key = absl::StrCat(minv == TlsVersion::kTls13 ? "13|" : "12|", c.material.cert_pem,
                                   "|", c.material.key_pem);
    // Sessions are resumed only under the policy that made them: a context with client_auth
    // has a session id context of its own, the digest of everything the handshake verifies by.
    std::string sid = "kop-proxy";
    if (c.client_auth) {
      const ClientAuthConfig& a = c.client_auth->config();
      absl::StrAppend(&key, "|client_auth|", std::string(to_string(a.verify)), "|", a.depth, "|",
                      a.ca_pem, "|", a.crl_pem);
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned int n = 0;
      EVP_Digest(key.data(), key.size(), digest, &n, EVP_sha256(), nullptr);
      sid.assign(reinterpret_cast<const char*>(digest),
                 std::min<unsigned>(n, SSL_MAX_SID_CTX_LENGTH));
    }
    SSL_CTX* ctx = nullptr;
    if (previous != nullptr) {
      if (by_key.empty())
        for (std::size_t i = 0; i < previous->keys_.size(); ++i)
          by_key.emplace(*previous->keys_[i], i);
      if (auto it = by_key.find(key); it != by_key.end()) {
        ctx = previous->ctxs_[it->second];
        SSL_CTX_up_ref(ctx);
      }
    }
    if (!ctx) {
      auto made = make_ctx(c, minv, sid);
      if (!made.ok()) return made.status();
      ctx = *made;
    }
    t->keys_.push_back(std::make_shared<const std::string>(std::move(key)));
    t->ctxs_.push_back(ctx);
    t->sid_ctxs_.push_back(std::move(sid));
    t->certs_.push_back(&c);
  }
  // A passthrough-only listener has no certificate: hellos its entries do not match are refused.
  if (t->ctxs_.empty() && listener.passthrough.empty())
    return absl::InvalidArgumentError("TLS listener without certificates");
  t->default_index_ =
      listener.default_certificate < t->ctxs_.size() ? listener.default_certificate : 0;
  return t;
}

}  // namespace kop::proxy::server
