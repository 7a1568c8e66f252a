#!/usr/bin/env python3
"""kop-ingress --server-header: the proxy's three policies for the `server` response header,
against a real backend (a small HTTP server in this process on 127.0.0.2) that answers /with
carrying `Server: tiny-backend/1.0` and /without carrying no Server header at all.

  overwrite         every response says `server: kop`, whatever the backend sent
  append_if_absent  the backend's own value is kept; `server: kop` only where it sent none
  pass_through      the backend's value is kept; no server header where it sent none

One kop-ingress per policy, all against one kop-local and one backend.

  server_header_test.py BUILD_DIR
"""
import http.client
import http.server
import sys
import threading

import ie2e
from ie2e import HOST, check, say, wait_for

BACKEND_SERVER = "tiny-backend/1.0"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"ok\n"
        # send_response_only: BaseHTTPRequestHandler.send_response would add its own Server.
        self.send_response_only(200)
        if self.path == "/with":
            self.send_header("Server", BACKEND_SERVER)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def server_headers(port, path, address="127.0.0.1"):
    """One GET with Host HOST: (status, list of every `server` header value)."""
    c = http.client.HTTPConnection(address, port, timeout=5)
    try:
        c.request("GET", path, headers={"Host": HOST})
        r = c.getresponse()
        r.read()
        return r.status, [v for k, v in r.getheaders() if k.lower() == "server"]
    finally:
        c.close()


def test(env):
    api, kubeconfig = ie2e.start_kop_local(env)
    address = "127.0.0.2"
    backend = http.server.ThreadingHTTPServer((address, 0), Handler)
    backend.daemon_threads = True
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    try:
        port = backend.server_address[1]
        check(server_headers(port, "/with", address) == (200, [BACKEND_SERVER]),
              "the backend itself does not send its Server header")
        api.create(ie2e.service("tiny"))
        api.create(ie2e.endpoint_slice("tiny-abc", "tiny", [address], port))
        api.create(ie2e.ingress("tiny", HOST, "tiny"))

        want = {"overwrite": (["kop"], ["kop"]),
                "append_if_absent": ([BACKEND_SERVER], ["kop"]),
                "pass_through": ([BACKEND_SERVER], [])}
        for policy, (with_backend, without_backend) in want.items():
            ing = ie2e.Ingress(env, kubeconfig, extra=["--server-header", policy],
                               name="kop-ingress-" + policy)
            wait_for(f"{policy}: Host {HOST} to answer 200",
                     lambda: server_headers(ing.http, "/with")[0] == 200, 20)
            for path, expected in (("/with", with_backend), ("/without", without_backend)):
                code, got = server_headers(ing.http, path)
                check(code == 200, f"{policy} {path}: status {code}")
                check(got == expected, f"{policy} {path}: server headers {got}, want {expected}")
                say(f"{policy} {path}: server {got}")
            env.stop(ing.proc)
    finally:
        backend.shutdown()
        backend.server_close()


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
