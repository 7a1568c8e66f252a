#!/usr/bin/env python3
"""The hello-pks walk (examples/hello-pks) with the tutorial's TLS Ingress written the
ingress-nginx way: ingressClassName nginx, the app under /hello through use-regex and
rewrite-target /$2, ssl-redirect. kop-ingress --manifests --ingress-class nginx serves it
unchanged; the checks are the tutorial's curl commands, adapted: unknown host 404, plain HTTP
answers ingress-nginx's 308 to https, https (HTTP/2 by ALPN) reaches both app instances with
the path rewritten, and `kop-ingress migrate` reports every annotation supported.

  hello_pks_walk_test.py BUILD_DIR
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "ingress"))
import ie2e  # noqa: E402
from ie2e import HOST, check, say, wait_for  # noqa: E402

INGRESS = {
    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
    "metadata": {"name": "hello-pks", "namespace": "default", "annotations": {
        "nginx.ingress.kubernetes.io/use-regex": "true",
        "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
        "nginx.ingress.kubernetes.io/ssl-redirect": "true"}},
    "spec": {"ingressClassName": "nginx",
             "tls": [{"hosts": [HOST], "secretName": "hello-pks-tls"}],
             "rules": [{"host": HOST, "http": {"paths": [{
                 "path": "/hello(/|$)(.*)", "pathType": "ImplementationSpecific",
                 "backend": {"service": {"name": "hello-pks", "port": {"number": 80}}}}]}}]}}


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "5", *args], capture_output=True, text=True,
                       timeout=20)
    return r.returncode, r.stdout, r.stderr


def test(env):
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    addrs = ["127.0.0.2", "127.0.0.3"]
    port = ie2e.port_free_on(addrs)
    for i, a in enumerate(addrs):
        ie2e.start_backend(env, app, a, port, f"hello-pks-{i + 1}")

    manifests = os.path.join(env.tmp, "manifests")
    os.makedirs(manifests)
    crt, key, _ = ie2e.make_cert(os.path.join(env.tmp, "cert"), HOST, [HOST])
    objects = [
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
         "metadata": {"name": "nginx"}, "spec": {"controller": "kop.dev/ingress-controller"}},
        ie2e.service("hello-pks"), ie2e.endpoint_slice("hello-pks-1", "hello-pks", addrs, port),
        ie2e.tls_secret("hello-pks-tls", crt, key), INGRESS]
    for i, o in enumerate(objects):
        with open(os.path.join(manifests, f"{i:02d}.yaml"), "w") as f:
            json.dump(o, f)

    kop_ingress = env.binary("operators/ingress/cmd/kop-ingress")
    rc = subprocess.run([kop_ingress, "migrate", "-f", manifests], capture_output=True,
                        text=True, timeout=30)
    say("kop-ingress migrate -f manifests:\n" + rc.stdout.strip())
    check(rc.returncode == 0, f"migrate exited {rc.returncode}: {rc.stderr}")
    check("3 annotations: 3 supported, 0 supported with a difference, 0 not supported"
          in rc.stdout, "migrate does not report the three annotations supported")

    http, https, admin, metrics = (ie2e.free_port() for _ in range(4))
    proc = env.start("kop-ingress", [
        kop_ingress, "--manifests", manifests, "--http-addr", f"127.0.0.1:{http}",
        "--https-addr", f"127.0.0.1:{https}", "--admin-addr", f"127.0.0.1:{admin}",
        "--metrics-addr", f"127.0.0.1:{metrics}", "--ingress-class", "nginx", "--workers", "2"])

    def redirects():
        check(proc.poll() is None, "kop-ingress exited:\n" + env.log("kop-ingress"))
        return ie2e.get(http, HOST, "/hello/")[0] == 308

    wait_for("the Ingress to be served", redirects, 30)

    code = ie2e.get(http, "unknown.example.com")[0]
    check(code == 404, f"unknown host: {code}")
    say("curl -H 'Host: unknown.example.com' -> 404")

    rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                        "-H", f"Host: {HOST}", f"http://127.0.0.1:{http}/hello/x?a=1")
    check(out == f"308 https://{HOST}:{https}/hello/x?a=1", f"plain HTTP: {out!r} {err}")
    say(f"curl http://{HOST}/hello/x?a=1 -> {out}")

    pods = set()
    for path in ("/hello", "/hello/") * 5:
        rc, out, err = curl("-k", "--http2", "-w", "\n%{http_version}", "--resolve",
                            f"{HOST}:{https}:127.0.0.1", f"https://{HOST}:{https}{path}")
        check(rc == 0, f"https {path}: curl exited {rc}: {err}")
        body, version = out.rsplit("\n", 1)
        check(version == "2", f"https {path}: HTTP/{version}, want HTTP/2")
        pods.add(ie2e.pod_of(body))
    check(pods == {"hello-pks-1", "hello-pks-2"}, f"answers came from {pods}")
    say("curl -k --http2 https://hello-pks.example.com/hello -> HTTP/2 200 from both pods")
    rc, out, _ = curl("-k", "-o", "/dev/null", "-w", "%{http_code}", "--resolve",
                      f"{HOST}:{https}:127.0.0.1", f"https://{HOST}:{https}/other")
    check(out == "404", f"https /other (no path of the Ingress): {out}")
    say("https /other -> 404 (only /hello is routed)")


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
