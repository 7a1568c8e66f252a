#!/usr/bin/env python3
"""kop-ingress migrate --to-gateway, proven with traffic: the compat suite's Ingresses
(tests/testdata/ingress/gateway-migration/compat-ingresses.yaml) are served by one
kop-ingress --manifests (--ingress-class nginx), the Gateway and HTTPRoutes that
`migrate --to-gateway` prints for them by a second one, and real curl requests to both are
compared host by host: status, Location (ports aside: the two listen on different ones),
the backend reached, the path and headers it saw, the response headers the annotations set.
Where the printed comments say an annotation has no Gateway API equivalent, the difference
they announce is what the Gateway answers (e.g. 500 instead of serving without basic auth).

  to_gateway_test.py BUILD_DIR
"""
import base64
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "ingress"))
import compat_test  # noqa: E402  (its echo backends)
import ie2e  # noqa: E402
from ie2e import check, say, wait_for  # noqa: E402

ECHO, FLAKY, TLS_ECHO = compat_test.ECHO, compat_test.FLAKY, compat_test.TLS_ECHO
GATEWAY = "127.0.1.1"  # the first Gateway's address with --manifests
INPUT = os.path.join(ie2e.ROOT, "tests/testdata/ingress/gateway-migration/compat-ingresses.yaml")


def h(name):
    return name + ".compat.example.com"


def curl(address, port, host, path, headers=(), method="GET", tls=False):
    """One request with real curl: (status, lowercase response headers, echoed JSON or None)."""
    scheme = "https" if tls else "http"
    args = ["curl", "-s", "-D", "-", "--max-time", "10", "-X", method,
            "--resolve", f"{host}:{port}:{address}", f"{scheme}://{host}:{port}{path}"]
    if tls:
        args.insert(1, "-k")
    for k, v in headers:
        args[1:1] = ["-H", f"{k}: {v}"]
    out = subprocess.run(args, capture_output=True, timeout=15).stdout.decode(errors="replace")
    head, _, body = out.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1]) if len(lines[0].split()) > 1 else 0
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    echoed = None
    if hdrs.get("content-type") == "application/json":
        try:
            echoed = json.loads(body)
        except ValueError:
            pass
    return status, hdrs, echoed


def portless(location):
    return re.sub(r"^(https?://[^/:]+):\d+", r"\1", location or "")


PAIR = {ECHO, FLAKY}  # the Service "pair": either endpoint


def answer(resp, pair=False):
    """What a user sees of one response, comparable between the two servers."""
    status, hdrs, e = resp
    seen = None
    if e:
        backend = "pair" if pair and e.get("backend") in PAIR else e.get("backend")
        keep = ("host", "x-forwarded-prefix", "x-team", "authorization")
        sent = {k: e["headers"].get(k) for k in keep}
        if sent["host"]:  # curl names the port it connects to: the two servers' differ
            sent["host"] = re.sub(r":\d+$", "", sent["host"])
        seen = (backend, e.get("path"), sent)
    marks = {k: hdrs.get(k) for k in ("x-frame-options", "access-control-allow-origin",
                                      "access-control-allow-credentials")}
    return status, portless(hdrs.get("location")), seen, marks


# (host, path, request headers, method, backend is the Service "pair")
SAME = [
    (h("rewrite"), "/something", (), "GET", False),
    (h("rewrite"), "/something/new", (), "GET", False),
    (h("rewrite"), "/something/new?a=1", (), "GET", False),
    (h("rewrite"), "/keepsake", (), "GET", True),
    (h("vhost"), "/", (), "GET", False),
    (h("regex"), "/api/v1", (), "GET", False),
    (h("regex"), "/API/V2/users", (), "GET", False),
    (h("regex"), "/api/v3x", (), "GET", False),
    (h("regex"), "/api/vx", (), "GET", False),
    (h("approot"), "/", (), "GET", False),
    (h("approot"), "/app1", (), "GET", False),
    (h("permanent"), "/some/path", (), "GET", False),
    (h("permanent-code"), "/", (), "GET", False),
    (h("temporal"), "/some/path", (), "GET", False),
    (h("ssl"), "/x?y=1", (), "GET", False),
    (h("ssl-off"), "/x", (), "GET", False),
    ("www." + h("fromwww"), "/p?q=1", (), "GET", False),
    ("alias.compat.example.net", "/", (), "GET", False),
    (h("prefix"), "/", (), "GET", False),
    (h("snippet"), "/", (), "GET", False),
    (h("bad-snippet"), "/", (), "GET", False),
    (h("cors"), "/api", (("Origin", "https://app.example.com"),
                         ("Access-Control-Request-Method", "PUT")), "OPTIONS", False),
    (h("cors"), "/api", (("Origin", "https://app.example.com"),), "GET", False),
    (h("cors"), "/api", (("Origin", "https://evil.example.com"),), "GET", False),
    (h("body"), "/", (), "GET", False),
    (h("limited"), "/", (), "GET", False),
    (h("hash"), "/item/1", (), "GET", True),
    (h("affinity"), "/", (), "GET", True),
    (h("canary"), "/", (), "GET", False),
    (h("canary"), "/", (("X-Canary", "always"),), "GET", False),
    (h("canary"), "/", (("X-Canary", "never"), ("Cookie", "canary=always")), "GET", False),
    (h("canary"), "/", (("Cookie", "a=b; canary=always"),), "GET", False),
    (h("canary"), "/", (("Cookie", "canary=never"),), "GET", False),
    (h("weight"), "/", (), "GET", False),
]

# What the comments announce: (host, path, Ingress status, Gateway status or a check).
DIFFERENT = [
    # rewrite-target "/$2" on "/something(/|$)(.*)" became PathPrefix + ReplacePrefixMatch:
    # case-sensitive.
    (h("rewrite"), "/SomeThing/x", 200, 404),
    # Access restrictions without a Gateway API form: no backendRefs, 500.
    (h("basic"), "/", 401, 500),
    (h("basic-map"), "/", 401, 500),
    (h("basic-missing"), "/", 403, 500),
    (h("ext-auth-echo"), "/", 200, 500),  # auth-url: the echo backend answers the auth request
    (h("locked"), "/", 403, 500),
    (h("allowed"), "/", 200, 500),
    (h("denied"), "/", 403, 500),
    (h("bad-range"), "/", 403, 500),
]


def test(env):
    port = ie2e.port_free_on([ECHO, FLAKY, TLS_ECHO])
    servers = [compat_test.EchoServer((a, port), compat_test.Echo)
               for a in (ECHO, FLAKY, TLS_ECHO)]
    certs = os.path.join(env.tmp, "backend")
    ie2e.make_cert(certs, "backend.compat.internal", ["backend.compat.internal"])
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.path.join(certs, "tls.crt"), os.path.join(certs, "tls.key"))
    servers[2].socket = tls.wrap_socket(servers[2].socket, server_side=True)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        run(env, port)
    finally:
        for s in servers:
            s.shutdown()


def run(env, port):
    kop = env.binary("operators/ingress/cmd/kop-ingress")
    # The migration, as a user runs it.
    out = subprocess.run([kop, "migrate", "--to-gateway", "-f", INPUT], capture_output=True,
                         text=True, timeout=60)
    check(out.returncode == 0, f"migrate --to-gateway: exit {out.returncode}: {out.stderr}")
    printed = out.stdout
    totals = [line for line in printed.splitlines() if line.startswith("# Total: ")]
    check(len(totals) == 1 and "without a Gateway API equivalent" in totals[0],
          f"no totals line in the output:\n{printed[-2000:]}")
    check("nginx.ingress.kubernetes.io/limit-rps: NOT CONVERTED" in printed,
          "limit-rps is not named as not converted")
    say("migrate --to-gateway: " + totals[0][2:])

    crt, key, _ = ie2e.make_cert(os.path.join(env.tmp, "cert"), h("ssl"),
                                 [h("ssl"), h("ssl-off"), h("basic-h2")])
    common = [ie2e.endpoint_slice("echo-1", "echo", [ECHO], port),
              ie2e.endpoint_slice("pair-1", "pair", [ECHO, FLAKY], port),
              ie2e.endpoint_slice("canary-1", "canary", [FLAKY], port),
              ie2e.endpoint_slice("tls-echo-1", "tls-echo", [TLS_ECHO], port),
              ie2e.tls_secret("compat-tls", crt, key)]
    ingress_dir = os.path.join(env.tmp, "ingresses")
    gateway_dir = os.path.join(env.tmp, "gateway")
    services = [ie2e.service(n) for n in ("canary", "echo", "pair", "tls-echo")]
    # The input file holds the Services too: the Ingress side takes them from there.
    for d, objects in ((ingress_dir, common), (gateway_dir, common + services)):
        os.makedirs(d)
        for i, o in enumerate(objects):
            with open(os.path.join(d, f"common-{i}.json"), "w") as f:
                json.dump(o, f)
    with open(os.path.join(ingress_dir, "ingress-class.json"), "w") as f:
        json.dump({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                   "metadata": {"name": "nginx"},
                   "spec": {"controller": "kop.dev/ingress-controller"}}, f)
    backend_crt = open(os.path.join(env.tmp, "backend", "tls.crt"), "rb").read()
    for name, data in (("basic-auth", {"auth": compat_test.HTPASSWD}),
                       ("users", {"ann": compat_test.BCRYPT_S3CRET})):
        with open(os.path.join(ingress_dir, f"secret-{name}.json"), "w") as f:
            json.dump(compat_test.opaque_secret(name, data), f)
    with open(os.path.join(ingress_dir, "secret-backend-ca.json"), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                   "metadata": {"name": "backend-ca", "namespace": "default"},
                   "data": {k: base64.b64encode(backend_crt).decode()
                            for k in ("ca.crt", "tls.crt")} |
                   {"tls.key": base64.b64encode(
                       open(os.path.join(env.tmp, "backend", "tls.key"), "rb").read()).decode()}},
                  f)
    shutil.copy(INPUT, os.path.join(ingress_dir, "ingresses.yaml"))
    # The Gateway side: the printed objects and a class of ours.
    with open(os.path.join(gateway_dir, "gateway.yaml"), "w") as f:
        f.write(printed)
    with open(os.path.join(gateway_dir, "class.json"), "w") as f:
        json.dump({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                   "metadata": {"name": "kop"},
                   "spec": {"controllerName": "kop.dev/gateway-controller"}}, f)

    front = ie2e.port_free_on([GATEWAY])
    while front <= 443 or not free_on(GATEWAY, front + 443 - 80):
        front = ie2e.port_free_on([GATEWAY])
    offset = front - 80

    def start(name, manifests, extra):
        ports = [ie2e.free_port() for _ in range(4)]
        env.start(name, [kop, "--manifests", manifests, "--http-addr", f"127.0.0.1:{ports[0]}",
                         "--https-addr", f"127.0.0.1:{ports[1]}",
                         "--admin-addr", f"127.0.0.1:{ports[2]}",
                         "--metrics-addr", f"127.0.0.1:{ports[3]}", "--ingress-class", "nginx",
                         "--workers", "2", *extra])
        return ports

    a = start("kop-ingress-ingresses", ingress_dir, [])
    start("kop-ingress-gateway", gateway_dir, ["--gateway-local-port-offset", str(offset)])
    ingress_at = ("127.0.0.1", a[0], a[1])
    gateway_at = (GATEWAY, front, front + 443 - 80)

    def served(where):
        return lambda: curl(where[0], where[1], h("canary"), "/")[0] == 200

    wait_for("the Ingresses to be served", served(ingress_at), 30)
    wait_for("the Gateway to be served", served(gateway_at), 30)

    for host, path, headers, method, pair in SAME:
        want = answer(curl(*ingress_at[:2], host, path, headers, method), pair)
        got = answer(curl(*gateway_at[:2], host, path, headers, method), pair)
        check(got == want, f"{method} {host}{path} {headers}:\n  Ingress {want}\n  Gateway {got}")
    say(f"{len(SAME)} requests answered alike: rewrites, regex paths, redirects (app-root, "
        f"permanent, temporal, ssl-redirect, from-to-www), aliases, header filters, CORS, canary "
        f"by header, cookie and weight")

    # HTTPS: the host's own listener with the Secret of its Ingress.
    want = answer(curl(ingress_at[0], ingress_at[2], h("ssl"), "/x", tls=True))
    got = answer(curl(gateway_at[0], gateway_at[2], h("ssl"), "/x", tls=True))
    check(want[0] == 200 and got == want, f"HTTPS {h('ssl')}: Ingress {want}, Gateway {got}")
    say("HTTPS: the TLS host's listener serves it with the Ingress' Secret")

    for host, path, ingress_status, gateway_status in DIFFERENT:
        i = curl(*ingress_at[:2], host, path)[0]
        g = curl(*gateway_at[:2], host, path)[0]
        check((i, g) == (ingress_status, gateway_status),
              f"{host}{path}: Ingress {i}, Gateway {g}; the comments announce "
              f"{ingress_status} and {gateway_status}")
    # A redirect keeps the query string (nginx's `return` drops it).
    i = curl(*ingress_at[:2], h("permanent"), "/p?q=1")[1].get("location")
    g = curl(*gateway_at[:2], h("permanent"), "/p?q=1")[1].get("location")
    check((i, g) == ("https://www.google.com/", "https://www.google.com/?q=1"),
          f"permanent-redirect with a query: Ingress {i}, Gateway {g}")
    # backend-protocol HTTPS has no HTTPRoute form: the Gateway speaks plain HTTP to TLS.
    i = curl(*ingress_at[:2], h("https-off"), "/")[0]
    g = curl(*gateway_at[:2], h("https-off"), "/")[0]
    check(i == 200 and g >= 500, f"backend-protocol HTTPS: Ingress {i}, Gateway {g}")
    say("the announced differences: case-sensitive prefix rewrite, access restrictions fail "
        "closed (500), redirects keep the query, backend TLS left to a BackendTLSPolicy")


def free_on(address, port):
    s = socket.socket()
    try:
        s.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
