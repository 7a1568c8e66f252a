#!/usr/bin/env python3
"""kop-ingress's way out, as an operator sees it at a pod's termination: with 1,000 Ingresses
loaded (--manifests) and a request in flight to a slow backend, SIGTERM
- stops new connections (the listeners close) while the request in flight is still answered
  (200, its whole body: drained, not cut);
- ends the process with status 0 soon after the last response (bounded by a deadline; the
  drain timeout, 10 s, is not waited out);
- leaves its log whole: the last line is the proxy's "shut down".
kop-ingress leaves with std::_Exit once everything has stopped (freeing 100k objects took
seconds): no destructor or stdio flush runs after that point, so what it wrote must already
be out.

  exit_test.py BUILD_DIR
"""
import http.server
import json
import os
import signal
import subprocess
import threading
import time

import ie2e
from ie2e import check, say, wait_for

INGRESSES = 1000
SLOW_BODY = "slow answer, after the SIGTERM\n" * 100


class Backend(http.server.ThreadingHTTPServer):
    """Answers /slow only once `release` is set (so a request is in flight at SIGTERM)."""
    daemon_threads = True

    def __init__(self):
        self.arrived = threading.Event()
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/slow":
            self.server.arrived.set()
            self.server.release.wait(60)
        body = (SLOW_BODY if self.path == "/slow" else "fast\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test(env):
    backend = Backend()
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port = backend.server_address[1]

    manifests = os.path.join(env.tmp, "manifests")
    os.makedirs(manifests)
    docs = [ie2e.service("slow"), ie2e.endpoint_slice("slow-1", "slow", ["127.0.0.1"], port),
            ie2e.ingress("slow", "slow.example", "slow")]
    docs += [ie2e.ingress(f"app-{i}", f"app-{i}.example", "slow") for i in range(INGRESSES)]
    with open(os.path.join(manifests, "objects.yaml"), "w") as f:  # JSON documents are YAML
        f.write("---\n".join(json.dumps(d) + "\n" for d in docs))

    ingress = ie2e.Ingress(env, None, manifests=manifests)
    proc, http_port = ingress.proc, ingress.http

    def answers(host):
        check(proc.poll() is None, "kop-ingress exited:\n" + env.log("kop-ingress"))
        return ie2e.get(http_port, host, "/fast")[0] == 200

    wait_for("the first Ingress to answer", lambda: answers("slow.example"), 30)
    wait_for("the last Ingress to answer", lambda: answers(f"app-{INGRESSES - 1}.example"), 30)

    result = {}

    def slow_request():
        try:
            result["answer"] = ie2e.get(http_port, "slow.example", "/slow", timeout=60)
        except Exception as e:  # reported by the check below
            result["error"] = repr(e)

    client = threading.Thread(target=slow_request)
    client.start()
    wait_for("the slow request to reach the backend", backend.arrived.is_set, 10)

    proc.send_signal(signal.SIGTERM)
    wait_for("kop-ingress to stop listening", lambda: ie2e.refused(http_port), 20)
    check(proc.poll() is None, "kop-ingress exited with a request in flight:\n" +
          env.log("kop-ingress"))
    released = time.monotonic()
    backend.release.set()
    client.join(30)
    check(result.get("answer") == (200, SLOW_BODY),
          f"the request in flight at SIGTERM was not answered whole: "
          f"{result.get('error') or (result.get('answer') or (None, ''))[0]}")
    try:
        code = proc.wait(20)
    except subprocess.TimeoutExpired:
        raise ie2e.Failure("kop-ingress still running 20 s after its last request") from None
    say(f"kop-ingress exited {code}, {time.monotonic() - released:.2f} s after the backend "
        f"answered")
    check(code == 0, f"kop-ingress exited with {code}:\n" + env.log("kop-ingress"))
    lines = [line for line in env.log("kop-ingress").splitlines() if line.strip()]
    check(lines and "shut down" in lines[-1],
          "the log does not end with the proxy's \"shut down\": " + (lines[-1] if lines else ""))
    backend.shutdown()


if __name__ == "__main__":
    raise SystemExit(ie2e.main(test))
