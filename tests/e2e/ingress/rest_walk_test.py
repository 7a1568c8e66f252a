#!/usr/bin/env python3
"""The hello-pks walk over the REST transport: kop-ingress --kubeconfig pointing at kop-local's
HTTP front (not --manifests), the tutorial objects applied with kubectl, then the tutorial's curl
commands: 404 for an unknown host, 200 from both backends with Host hello-pks.example.com,
`curl -k --http2` over HTTPS answered with HTTP/2 200 (and `--http1.1` with HTTP/1.1 200),
and status.loadBalancer set from --publish-address. Finally the Ingress is deleted with kubectl
and the host answers 404.

  rest_walk_test.py BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys

import ie2e
from ie2e import HOST, check, say, wait_for


def kubectl(env, kubeconfig, *args, stdin=None):
    r = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "--request-timeout=10s", *args],
                       input=stdin, capture_output=True, text=True, timeout=30)
    say(f"kubectl {' '.join(args)} -> {r.returncode} "
        f"{r.stdout.strip()[:200]}{r.stderr.strip()[:300]}")
    check(r.returncode == 0, f"kubectl {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "5", *args], capture_output=True, text=True,
                       timeout=15)
    return r.returncode, r.stdout, r.stderr


def test(env):
    if shutil.which("kubectl") is None:
        raise ie2e.Failure("kubectl is not installed (scripts/install-deps installs it)")
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    api, kubeconfig = ie2e.start_kop_local(env)
    addrs = ["127.0.0.2", "127.0.0.3"]
    port = ie2e.port_free_on(addrs)
    for i, a in enumerate(addrs):
        ie2e.start_backend(env, app, a, port, f"hello-pks-{i + 1}")
    ing = ie2e.Ingress(env, kubeconfig, ["--publish-address", "127.0.0.1,lb.example.com"])
    say(f"kop-ingress on http :{ing.http} https :{ing.https}, API {api.url}")

    # The tutorial's objects (examples/hello-pks/local), applied the way a user would.
    local = os.path.join(ie2e.ROOT, "examples/hello-pks/local")
    for f in ("deployment.yaml", "service.yaml", "ingress.yaml"):
        kubectl(env, kubeconfig, "apply", "-f", os.path.join(local, f))
    slice_ = ie2e.endpoint_slice("hello-pks-local", "hello-pks", addrs, port)
    kubectl(env, kubeconfig, "apply", "-f", "-", stdin=json.dumps(slice_))
    cert_dir = os.path.join(env.tmp, "cert")
    subprocess.run([os.path.join(ie2e.ROOT, "examples/hello-pks/make-cert.sh"), cert_dir],
                   check=True, stdout=subprocess.DEVNULL)
    # kop::local takes JSON/YAML bodies only (docs/local.md): `kubectl create secret tls` sends
    # protobuf, so the manifest make-cert.sh wrote is applied instead.
    kubectl(env, kubeconfig, "apply", "-f", os.path.join(cert_dir, "hello-pks-tls.secret.yaml"))

    base = f"http://127.0.0.1:{ing.http}/"
    wait_for(f"Host: {HOST} to answer 200", lambda: ie2e.get(ing.http, HOST)[0] == 200, 20)

    rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: unknown.example.com",
                        base)
    check(out == "404", f"unknown host: want 404, got {out!r} {err}")
    say("unknown host -> 404")

    pods = {}
    for _ in range(20):
        rc, out, err = curl("-f", "-H", f"Host: {HOST}", base)
        check(rc == 0, f"curl -H 'Host: {HOST}' failed: {err}")
        body = json.loads(out)
        check(body.get("message") == "Hello from hello-pks", f"not the hello JSON: {out}")
        pods[body["pod"]] = pods.get(body["pod"], 0) + 1
    check(set(pods) == {"hello-pks-1", "hello-pks-2"}, f"want both backends, saw {pods}")
    say(f"Host: {HOST} -> 200 from {pods}")

    url = f"https://{HOST}:{ing.https}/"
    resolve = f"{HOST}:{ing.https}:127.0.0.1"
    # The Secret was applied last: wait until the HTTPS listener serves the host.
    wait_for("https to answer 200", lambda: curl("-k", "-o", "/dev/null", "-w", "%{http_code}",
                                                 "--resolve", resolve, url)[1] == "200", 15)
    rc, out, err = curl("-k", "--http2", "-I", "--resolve", resolve, url)
    status = out.splitlines()[0].strip() if out else ""
    check(status == "HTTP/2 200", f"https: want 'HTTP/2 200', got {status!r} {err}")
    rc, out, err = curl("-k", "--http2", "--resolve", resolve, "-w", "\n%{http_version}", url)
    body, version = out.rsplit("\n", 1)
    check(rc == 0 and version == "2" and '"pod":"hello-pks-' in body,
          f"https GET: rc={rc} version={version!r} body={body!r} {err}")
    say("curl -k --http2 https -> HTTP/2 200")
    rc, out, err = curl("-k", "--http1.1", "--resolve", resolve, "-w", "\n%{http_version}", url)
    body, version = out.rsplit("\n", 1) if "\n" in out else (out, "")
    check(rc == 0 and version == "1.1" and '"pod":"hello-pks-' in body,
          f"https HTTP/1.1: rc={rc} version={version!r} body={body!r} {err}")
    say("curl -k --http1.1 https -> 200 over HTTP/1.1")

    def lb():
        got = api.get("Ingress", "default", "hello-pks")
        return got.get("status", {}).get("loadBalancer", {}).get("ingress")

    want = [{"ip": "127.0.0.1"}, {"hostname": "lb.example.com"}]
    wait_for(f"status.loadBalancer.ingress == {want}", lambda: lb() == want, 15)
    out = kubectl(env, kubeconfig, "get", "ingress", "hello-pks", "-o",
                  "jsonpath={.status.loadBalancer.ingress[*].ip}")
    check(out.strip() == "127.0.0.1", f"kubectl sees status ip {out!r}")
    say(f"status.loadBalancer.ingress = {lb()}")

    kubectl(env, kubeconfig, "delete", "ingress", "hello-pks")
    wait_for("the deleted Ingress' host to answer 404",
             lambda: ie2e.get(ing.http, HOST)[0] == 404, 15)
    say("Ingress deleted -> 404")
    check(ing.proc.poll() is None, "kop-ingress exited")


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
