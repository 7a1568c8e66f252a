// TLS towards upstream endpoints: client contexts, session resumption, the per-connection
// engine (see up_tls.h).
#include "up_tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <functional>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include "kop/proxy/certificate.h"
#include "tls.h"

namespace kop::proxy::server {
namespace {

// ex_data index on upstream SSL objects pointing at their UpTlsSession.
int session_index() {
  static int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return idx;
}

bool is_ip(std::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

bool is_uri(std::string_view name) {
  return name.find("://") != std::string_view::npos;
}

int version_of(TlsVersion v) {
  return v == TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

absl::Status add_pem_chain(SSL_CTX* ctx, const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* leaf = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  int ok = leaf != nullptr ? SSL_CTX_use_certificate(ctx, leaf) : 0;
  X509_free(leaf);
  while (ok == 1) {
    X509* extra = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    if (extra == nullptr) break;
    ok = SSL_CTX_add0_chain_cert(ctx, extra);
    if (ok != 1) X509_free(extra);
  }
  BIO_free(b);
  ERR_clear_error();  // the chain loop ends on a "no start line" error
  if (ok != 1) return absl::InvalidArgumentError("client_certificate: cannot use certificate");
  return absl::OkStatus();
}

absl::Status setup(SSL_CTX* ctx, const UpstreamTlsConfig& c, const UpstreamTlsMaterial& m,
                   bool h2) {
  SSL_CTX_set_min_proto_version(ctx, version_of(c.min_version));
  SSL_CTX_set_max_proto_version(ctx, version_of(c.max_version));
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!c.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, c.ciphers.c_str()) != 1)
    return absl::InvalidArgumentError(absl::StrCat("ciphers: ", ssl_errors()));
  if (c.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (c.verify_depth) SSL_CTX_set_verify_depth(ctx, static_cast<int>(c.verify_depth));
    if (m.ca_pem.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx) != 1)
        return absl::InvalidArgumentError(
            absl::StrCat("ca_pem: the system trust store does not load: ", ssl_errors()));
    } else {
      X509_STORE* store = SSL_CTX_get_cert_store(ctx);
      BIO* b = BIO_new_mem_buf(m.ca_pem.data(), static_cast<int>(m.ca_pem.size()));
      while (X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr)) {
        X509_STORE_add_cert(store, x);  // a duplicate is not an error worth refusing
        X509_free(x);
      }
      BIO_free(b);
      ERR_clear_error();
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (m.client) {
    if (auto s = add_pem_chain(ctx, m.client->cert_pem); !s.ok()) return s;
    BIO* b = BIO_new_mem_buf(m.client->key_pem.data(), static_cast<int>(m.client->key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    int ok = key != nullptr ? SSL_CTX_use_PrivateKey(ctx, key) : 0;
    EVP_PKEY_free(key);
    if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError("client_certificate: private key does not match");
    }
  }
  // ALPN: the protocol this cluster speaks, nothing else (the connection type is chosen
  // before connecting).
  static const unsigned char kH2[] = {2, 'h', '2'};
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (h2)
    SSL_CTX_set_alpn_protos(ctx, kH2, sizeof kH2);
  else
    SSL_CTX_set_alpn_protos(ctx, kHttp11, sizeof kHttp11);
  // Client-side session cache: no internal store; each pool keeps its endpoint's last session.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, [](SSL* ssl, SSL_SESSION* s) -> int {
    auto* u = static_cast<TlsResumption*>(SSL_get_ex_data(ssl, session_index()));
    if (u == nullptr) return 0;
    u->keep(s);
    return 1;  // the reference is kept
  });
  return absl::OkStatus();
}

}  // namespace

UpstreamTls::~UpstreamTls() {
  SSL_CTX_free(ctx_);
}

absl::StatusOr<std::shared_ptr<const UpstreamTls>> UpstreamTls::build(
    const ClusterConfig& cluster,
    const ChunkedVector<std::shared_ptr<const UpstreamTls>>& previous) {
  const UpstreamTlsConfig& c = *cluster.tls;
  auto material = load_upstream_tls(c);
  if (!material.ok()) return material.status();
  const UpstreamTlsMaterial& m = *material;
  bool h2 = cluster.protocol == UpstreamProtocol::kH2;
  std::string key =
      absl::StrCat(h2 ? "h2" : "http1", "|", c.server_name, "|", c.verify, "|", m.ca_pem, "|",
                   absl::StrJoin(c.subject_alt_names, ","), "|", c.verify_depth, "|",
                   m.client ? m.client->cert_pem : "", "|", m.client ? m.client->key_pem : "", "|",
                   version_of(c.min_version), "|", version_of(c.max_version), "|", c.ciphers);
  uint64_t id = std::hash<std::string>()(key);
  for (const auto& p : previous)
    if (p && p->id_ == id && p->key_ == key) return p;
  std::shared_ptr<UpstreamTls> t(new UpstreamTls());
  t->config_ = c;
  t->h2_ = h2;
  for (const std::string& n : c.subject_alt_names) t->uri_names_ = t->uri_names_ || is_uri(n);
  t->ctx_ = SSL_CTX_new(TLS_client_method());
  if (t->ctx_ == nullptr) return absl::InternalError("SSL_CTX_new failed");
  if (auto s = setup(t->ctx_, c, m, h2); !s.ok()) return s;
  t->id_ = id;
  t->key_ = std::move(key);
  return std::shared_ptr<const UpstreamTls>(std::move(t));
}

TlsResumption::~TlsResumption() {
  forget();
}

void TlsResumption::keep(SSL_SESSION* s) {
  forget();
  session_ = s;
}

void TlsResumption::forget() {
  if (session_ != nullptr) SSL_SESSION_free(session_);
  session_ = nullptr;
}

UpTlsSession::UpTlsSession(std::shared_ptr<const UpstreamTls> tls,
                           std::shared_ptr<TlsResumption> resume, std::string_view host,
                           Buffer* out)
    : tls_(std::move(tls)), resume_(std::move(resume)) {
  ssl_ = SSL_new(tls_->ctx());
  if (ssl_ == nullptr) return;  // handshake() reports it
  raw_.reserve(16384);
  BIO* b = make_conn_bio(&raw_, out);
  SSL_set_bio(ssl_, b, b);
  SSL_set_connect_state(ssl_);
  SSL_set_ex_data(ssl_, session_index(), resume_.get());
  const UpstreamTlsConfig& c = tls_->config();
  std::string sni = c.server_name;
  if (!sni.empty() && !is_ip(sni)) SSL_set_tlsext_host_name(ssl_, sni.c_str());
  if (c.verify && !tls_->uri_names_) {
    // DNS names and IPs: OpenSSL checks them as part of verification.
    std::vector<std::string> names = c.subject_alt_names;
    if (names.empty()) names.push_back(sni.empty() ? std::string(host) : sni);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    bool first_dns = true;
    for (const std::string& n : names) {
      if (is_ip(n)) {
        X509_VERIFY_PARAM_set1_ip_asc(param, n.c_str());
      } else if (first_dns) {
        SSL_set1_host(ssl_, n.c_str());
        first_dns = false;
      } else {
        SSL_add1_host(ssl_, n.c_str());
      }
    }
  }
  if (resume_ && resume_->get()) SSL_set_session(ssl_, resume_->get());
}

UpTlsSession::~UpTlsSession() {
  if (ssl_ == nullptr) return;
  // Trap: SSL_free of a connection that did not send close_notify marks its session (the
  // pool's last ticket) not resumable. A connection that did not fail is a good session.
  if (error_.empty() && SSL_is_init_finished(ssl_) == 1)
    SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl_);
}

std::string UpTlsSession::failure(int ret, std::string_view what) {
  int err = SSL_get_error(ssl_, ret);
  long v = SSL_get_verify_result(ssl_);
  std::string s;
  if (v != X509_V_OK) {
    s = absl::StrCat("certificate verify failed: ", X509_verify_cert_error_string(v));
  } else if (err == SSL_ERROR_SSL) {
    s = ssl_errors();
  } else {
    s = absl::StrCat("SSL error ", err);
  }
  ERR_clear_error();
  return absl::StrCat(std::string(what), ": ", s);
}

UpTlsSession::Step UpTlsSession::handshake() {
  if (ssl_ == nullptr) {
    error_ = absl::StrCat("SSL_new failed: ", ssl_errors());
    return Step::kFailed;
  }
  int r = SSL_do_handshake(ssl_);
  if (r != 1) {
    int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ) return Step::kWantRead;
    error_ = failure(r, "handshake");
    if (resume_) resume_->forget();
    return Step::kFailed;
  }
  if (tls_->h2() && alpn() != "h2") {
    error_ = "handshake: the endpoint did not agree to HTTP/2 (ALPN h2)";
    return Step::kFailed;
  }
  if (tls_->config().verify && tls_->uri_names_ && !check_uri_names()) {
    error_ = absl::StrCat("certificate verify failed: no subjectAltName matches ",
                          absl::StrJoin(tls_->config().subject_alt_names, ", "));
    if (resume_) resume_->forget();
    return Step::kFailed;
  }
  return Step::kDone;
}

// Any of subject_alt_names against the leaf: URIs exactly, DNS names and IPs as OpenSSL does.
bool UpTlsSession::check_uri_names() {
  X509* leaf = SSL_get1_peer_certificate(ssl_);
  if (leaf == nullptr) return false;
  bool ok = false;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  for (const std::string& want : tls_->config().subject_alt_names) {
    if (ok) break;
    if (!is_uri(want)) {
      ok = is_ip(want) ? X509_check_ip_asc(leaf, want.c_str(), 0) == 1
                       : X509_check_host(leaf, want.data(), want.size(),
                                         X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
      continue;
    }
    for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans) && !ok; ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
      if (n->type != GEN_URI) continue;
      const unsigned char* d = ASN1_STRING_get0_data(n->d.uniformResourceIdentifier);
      int len = ASN1_STRING_length(n->d.uniformResourceIdentifier);
      ok = std::string_view(reinterpret_cast<const char*>(d), static_cast<size_t>(len)) == want;
    }
  }
  if (sans != nullptr) GENERAL_NAMES_free(sans);
  X509_free(leaf);
  return ok;
}

bool UpTlsSession::encrypt(const char* p, size_t n) {
  while (n > 0) {
    size_t done = 0;
    int r = SSL_write_ex(ssl_, p, n, &done);
    if (r != 1) {
      error_ = failure(r, "write");
      return false;
    }
    p += done;
    n -= done;
  }
  return true;
}

UpTlsSession::Read UpTlsSession::decrypt(Buffer& plain) {
  while (true) {
    if (plain.cap == 0) plain.reserve(16384);
    if (plain.free() < 4096) {
      if (plain.rpos > 0 && !plain.pinned) plain.compact();
      if (plain.free() < 4096) plain.reserve(plain.cap * 2);
    }
    size_t n = 0;
    int r = SSL_read_ex(ssl_, plain.end(), plain.free(), &n);
    if (r == 1) {
      plain.wpos += n;
      continue;
    }
    int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ) return Read::kOk;
    if (err == SSL_ERROR_ZERO_RETURN) return Read::kEof;
    error_ = failure(r, "read");
    return Read::kFailed;
  }
}

void UpTlsSession::close_notify() {
  if (ssl_ != nullptr && SSL_is_init_finished(ssl_) == 1) SSL_shutdown(ssl_);
  ERR_clear_error();
}

bool UpTlsSession::resumed() const {
  return ssl_ != nullptr && SSL_session_reused(ssl_) == 1;
}

std::string_view UpTlsSession::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int len = 0;
  if (ssl_ != nullptr) SSL_get0_alpn_selected(ssl_, &p, &len);
  return p == nullptr ? std::string_view()
                      : std::string_view(reinterpret_cast<const char*>(p), len);
}

}  // namespace kop::proxy::server
