// ClientCertificate: what a TLS connection's handshake learned of the client's certificate,
// made once per connection (Transport::client_certificate) when the certificate the SNI
// selected asks for one, and pointed at from each request of the connection (DownRequest).
// The context that verified it travels with it: a request trusts it only under that same
// context's policy (Exchange; kop/proxy/client_auth.h has the rules).
// Threading: the worker's thread only.
#pragma once

#include <openssl/types.h>

#include "kop/proxy/client_auth.h"

namespace kop::proxy::server {

struct ClientCertificate {
  const SSL_CTX* ctx = nullptr;  // the context whose CA store verified it
  PeerCertificate peer;
};

}  // namespace kop::proxy::server
