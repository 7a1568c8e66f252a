// TLS ClientHello bytes for tests of the proxy's ClientHello reader (unit) and of TLS
// passthrough (end to end): real hellos made by OpenSSL, and the same hello cut into several
// TLS records, as a client or middlebox may legally send it.
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <string>

namespace kop::testing {

// The first record OpenSSL's client sends for `sni` ("" = no SNI), optionally capped at
// `max_version` (e.g. TLS1_2_VERSION; 0 = the library's default).
inline std::string openssl_client_hello(const std::string& sni, int max_version = 0) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (max_version) SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL* ssl = SSL_new(ctx);
  BIO* rb = BIO_new(BIO_s_mem());
  BIO* wb = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rb, wb);
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);
  std::string out;
  char buf[4096];
  int n;
  while ((n = BIO_read(wb, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

// Re-frames a single-record handshake message into records of `size` payload bytes
// (0 or a short input: unchanged).
inline std::string reframe_records(const std::string& record, size_t size) {
  if (size == 0 || record.size() < 5) return record;
  std::string out;
  const std::string payload = record.substr(5);
  for (size_t i = 0; i < payload.size(); i += size) {
    std::string part = payload.substr(i, size);
    out += record.substr(0, 3);
    out.push_back(static_cast<char>(part.size() >> 8));
    out.push_back(static_cast<char>(part.size() & 0xff));
    out += part;
  }
  return out;
}

}  // namespace kop::testing
