#!/bin/sh
# Regenerates the test PKI used by tests/unit/client (valid for 100 years; keys are test-only).
#   ca.pem/ca-key.pem         the test CA
#   server.pem/server-key.pem 127.0.0.1, ::1, localhost and kop.test, signed by the CA
#   client.pem/client-key.pem CN=kop-test-client, O=system:masters, signed by the CA
#   other-ca.pem              an unrelated CA (for "wrong CA" tests)
set -eu
cd "$(dirname "$0")"
days=36500
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days $days \
  -subj "/CN=kop-test-ca" -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days $days \
  -subj "/CN=other-ca" -keyout /tmp/other-ca-key.pem -out other-ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=kop-test-server" \
  -keyout server-key.pem -out /tmp/server.csr 2>/dev/null
printf "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kop.test\nextendedKeyUsage=serverAuth\n" > /tmp/server.ext
openssl x509 -req -in /tmp/server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days $days \
  -extfile /tmp/server.ext -out server.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/O=system:masters/CN=kop-test-client" -keyout client-key.pem -out /tmp/client.csr 2>/dev/null
printf "extendedKeyUsage=clientAuth\n" > /tmp/client.ext
openssl x509 -req -in /tmp/client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days $days \
  -extfile /tmp/client.ext -out client.pem 2>/dev/null
rm -f ca.srl /tmp/server.csr /tmp/client.csr /tmp/server.ext /tmp/client.ext /tmp/other-ca-key.pem
