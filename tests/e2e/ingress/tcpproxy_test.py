#!/usr/bin/env python3
"""IngressRoute tcpproxy with TLS terminated by kop-ingress, from --manifests files: the root
(virtualhost.tls.secretName + tcpproxy) relays the decrypted bytes of tcp.example.com to a TCP
echo Service (a thread of this test on 127.0.0.2). A real TLS client (Python's ssl, offering
h2 and http/1.1) sees the Secret's certificate, no ALPN protocol agreed, and its bytes echoed
back over several exchanges; its close_notify reaches the echo as EOF and the echo's close
comes back as close_notify. The root's route is served on plain HTTP (no redirect to https: the
TLS side of the host belongs to the tcpproxy, as in Contour).

  tcpproxy_test.py BUILD_DIR
"""
import json
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import threading

import ie2e
from ie2e import check, say, wait_for

FQDN = "tcp.example.com"


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        while True:
            data = self.request.recv(65536)
            if not data:
                return  # EOF from the proxy (the client's close_notify): close our side
            self.request.sendall(data)


def tls_client(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=FQDN)


def recv_exactly(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def test(env):
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    web_port = ie2e.port_free_on(["127.0.0.3"])
    ie2e.start_backend(env, app, "127.0.0.3", web_port, "web-1")
    echo = socketserver.ThreadingTCPServer(("127.0.0.2", 0), Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    echo_port = echo.server_address[1]

    manifests = os.path.join(env.tmp, "manifests")
    os.makedirs(manifests)
    # No CRD files: kop-ingress installs its own (--install-crds, the default).
    crt, key, serial = ie2e.make_cert(os.path.join(env.tmp, "cert"), FQDN, [FQDN])
    echo_svc = ie2e.service("echo")
    echo_svc["spec"]["ports"] = [{"name": "tcp", "port": 7000, "protocol": "TCP"}]
    echo_slice = ie2e.endpoint_slice("echo-1", "echo", ["127.0.0.2"], echo_port)
    echo_slice["ports"][0]["name"] = "tcp"
    route = {"apiVersion": "ingress.kop.dev/v1beta1", "kind": "IngressRoute",
             "metadata": {"name": "tcp", "namespace": "default"},
             "spec": {"virtualhost": {"fqdn": FQDN, "tls": {"secretName": "tcp-tls"}},
                      "tcpproxy": {"services": [{"name": "echo", "port": 7000}]},
                      "routes": [{"match": "/", "services": [{"name": "web", "port": 80}]}]}}
    objects = [echo_svc, echo_slice, ie2e.service("web"),
               ie2e.endpoint_slice("web-1", "web", ["127.0.0.3"], web_port),
               ie2e.tls_secret("tcp-tls", crt, key), route]
    for i, obj in enumerate(objects):
        with open(os.path.join(manifests, f"{i}.yaml"), "w") as f:
            json.dump(obj, f)  # JSON is YAML

    http, https, admin, metrics = (ie2e.free_port() for _ in range(4))
    proc = env.start("kop-ingress", [
        env.binary("operators/ingress/cmd/kop-ingress"), "--manifests", manifests,
        "--http-addr", f"127.0.0.1:{http}", "--https-addr", f"127.0.0.1:{https}",
        "--admin-addr", f"127.0.0.1:{admin}", "--metrics-addr", f"127.0.0.1:{metrics}",
        "--ingress-class", "contour", "--workers", "2"])

    def handshake():
        check(proc.poll() is None, "kop-ingress exited:\n" + env.log("kop-ingress"))
        try:
            with tls_client(https) as s:
                cert = s.getpeercert(binary_form=True)
                return cert is not None and s.selected_alpn_protocol() is None and s
        except (OSError, ssl.SSLError):
            return False

    wait_for(f"a TLS handshake for {FQDN}", handshake, 30)

    with tls_client(https) as s:
        check(s.selected_alpn_protocol() is None,
              f"ALPN agreed {s.selected_alpn_protocol()!r} for a tcpproxy host")
        der = s.getpeercert(binary_form=True)
        pem = ssl.DER_cert_to_PEM_cert(der).encode()
        check(pem.split() == crt.split(), "the served certificate is not the Secret's")
        for msg in (b"ping\n", b"GET / HTTP/1.1\r\nHost: tcp.example.com\r\n\r\n", b"x" * 100000):
            s.sendall(msg)
            got = recv_exactly(s, len(msg))
            check(got == msg, f"echo returned {len(got)} bytes, want {len(msg)}")
        say("TLS client: the Secret's certificate, no ALPN, 3 exchanges echoed")
        # Half-close: our close_notify reaches the echo as EOF; it closes, which comes back as
        # the proxy's close_notify (unwrap() returns once it has arrived).
        s.settimeout(10)
        s.unwrap().close()
        say("close_notify both ways")

    s_client = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{https}", "-servername", FQDN,
         "-alpn", "h2,http/1.1"], input="", capture_output=True, text=True, timeout=10)
    check("No ALPN negotiated" in s_client.stdout, "openssl s_client: " + s_client.stdout[-400:])
    check(f"CN = {FQDN}" in s_client.stdout, "openssl s_client did not see the certificate")
    say("openssl s_client: No ALPN negotiated")

    code, body = ie2e.get(http, FQDN)
    check(code == 200 and ie2e.pod_of(body) == "web-1",
          f"plain HTTP for {FQDN}: {code} {body[:200]}")
    say("plain HTTP: the route answers 200 (no redirect: TLS belongs to the tcpproxy)")
    echo.shutdown()


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
