#!/usr/bin/env python3
"""ingress-nginx compatibility: Ingresses written for ingress-nginx, applied unchanged to
kop-ingress --manifests --ingress-class nginx, behave as ingress-nginx documents (its
annotations guide and its rewrite / redirect examples). Each case is one Ingress on its own
host; the backends are echo servers in this process that answer with what they received
(path, Host, headers) as JSON, so a case checks what the application would see.

  compat_test.py BUILD_DIR
"""
import base64
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "ingress"))
import ie2e  # noqa: E402
from ie2e import check, say, wait_for  # noqa: E402

ECHO = "127.0.0.2"
FLAKY = "127.0.0.3"  # answers 503 under /flaky, so retries are seen
TLS_ECHO = "127.0.0.4"  # the echo over TLS (backend-protocol HTTPS, proxy-ssl-*)
ERRORS = "127.0.0.5"  # an error backend: answers X-Code (else 404) with what it received
BLACKHOLE = "127.0.0.6"  # a listener whose accept queue is full: connections never complete
MORE_ECHOES = ["127.0.0.7", "127.0.0.8", "127.0.0.9", "127.0.0.10"]  # six backends with ECHO, FLAKY
AUTH = "127.0.0.11"  # the external authentication service (auth-url)


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        me = self.server.server_address[0]
        if self.path.startswith("/big/"):  # /big/N: N bytes of body (limit-rate)
            body = b"b" * int(self.path.split("/")[2].split("?")[0])
            self.send_response_only(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        status = 503 if me == FLAKY and self.path.startswith("/flaky") else 200
        if self.path.startswith("/slow"):  # a request kept in progress (limit-connections)
            time.sleep(1.5)
        if self.path.startswith("/status/"):  # /status/404: that status
            status = int(self.path.split("/")[2].split("?")[0])
        if self.path.startswith("/sleep/"):  # /sleep/3: the head comes after 3 s
            time.sleep(float(self.path.split("/")[2]))
        if self.path.startswith("/late-flaky") and me == FLAKY:  # a 503 after 1.2 s
            time.sleep(1.2)
            status = 503
        if me == ERRORS:  # ingress-nginx's custom-error-pages answers the code it is given
            status = int(self.headers.get("X-Code", "404"))
        body = json.dumps({"backend": me, "path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        # The body as received (Content-Length or chunked), so a case sees what got through.
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            size = 0
            while True:
                line = self.rfile.readline()
                if not line:  # the proxy abandoned the request (a body past its limit)
                    self.close_connection = True
                    return
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                size += len(self.rfile.read(n))
                self.rfile.readline()
        else:
            size = len(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        body = json.dumps({"backend": self.server.server_address[0], "body": size}).encode()
        self.send_response_only(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Auth(http.server.BaseHTTPRequestHandler):
    """An auth service in the manner of the httpbun ingress-nginx's e2e uses: /basic-auth/U/P
    answers 200 (with X-User) for those credentials and 401 with a challenge otherwise,
    /cookies/set/K/V sets a cookie, /status/N answers N, /slow never answers in time. It
    records each auth request it gets (method, path, fields, body bytes) per path."""
    protocol_version = "HTTP/1.1"
    seen = {}  # path without query -> list of (method, path, lowercase fields, body bytes)
    lock = threading.Lock()

    def handle_one(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?")[0]
        with Auth.lock:
            Auth.seen.setdefault(path, []).append(
                (self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                 len(body)))
        parts = path.strip("/").split("/")
        status, fields = 200, []
        if parts[0] == "basic-auth" and len(parts) == 3:
            want = "Basic " + base64.b64encode(f"{parts[1]}:{parts[2]}".encode()).decode()
            if self.headers.get("Authorization") == want:
                fields = [("X-User", parts[1])]
            else:
                status, fields = 401, [("WWW-Authenticate", 'Basic realm="Fake Realm"')]
        elif parts[0] == "cookies" and len(parts) == 4:
            fields = [("Set-Cookie", f"{parts[2]}={parts[3]}")]
        elif parts[0] == "status":
            status = int(parts[1])
        elif parts[0] == "slow":
            time.sleep(3)
        out = b"auth\n"
        self.send_response_only(status)
        for k, v in fields:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_HEAD = handle_one

    def log_message(self, *args):
        pass


def auth_seen(path):
    with Auth.lock:
        return list(Auth.seen.get(path, []))


class EchoServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The proxy closing an idle pooled connection is not an error of the test.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def request(port, host, path, headers=None, method="GET"):
    """One request: (status, response headers as a lowercase dict, echoed request or None)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request(method, path, headers={"Host": host, **(headers or {})})
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        echoed = json.loads(body) if hdrs.get("content-type") == "application/json" else None
        return r.status, hdrs, echoed
    finally:
        c.close()


def curl_post(port, host, size, chunked=False):
    """POSTs `size` bytes with real curl (Content-Length, or chunked): the status code."""
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
            "-H", f"Host: {host}", "--data-binary", "@-", f"http://127.0.0.1:{port}/"]
    if chunked:
        args[1:1] = ["-H", "Transfer-Encoding: chunked"]
    out = subprocess.run(args, input=b"x" * size, capture_output=True, timeout=15)
    return int(out.stdout or b"0")


def ingress(name, host, annotations, path="/", path_type="Prefix", service="echo", tls=False):
    spec = {"ingressClassName": "nginx",
            "rules": [{"host": host, "http": {"paths": [{
                "path": path, "pathType": path_type,
                "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}
    if tls:
        spec["tls"] = [{"hosts": [host], "secretName": "compat-tls"}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "default",
                         "annotations": {"nginx.ingress.kubernetes.io/" + k: v
                                         for k, v in annotations.items()}},
            "spec": spec}


def h(name):
    return name + ".compat.example.com"


# ingress-nginx's basic auth example (foo:bar, htpasswd's apr1), a bcrypt user (cost 10:
# verified off the event loop, then cached) and a DES user, which kop-ingress refuses.
BCRYPT_S3CRET = "$2b$10$CzBZABRNNTOcCqucKePMlOEWSoHnF9pvZ3m0kPkA6e8MfyK997j.S"
HTPASSWD = ("foo:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\n"
            f"ann:{BCRYPT_S3CRET}\n"
            "jane:E5BrlrQ5IXYK2\n")


def opaque_secret(name, data):
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": "default"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def curl_auth(port, host, user_password):
    """GET / with real curl and -u: (status, WWW-Authenticate value or "")."""
    args = ["curl", "-s", "-D", "-", "-o", "/dev/null", "--max-time", "10", "-H", f"Host: {host}",
            f"http://127.0.0.1:{port}/"]
    if user_password:
        args[1:1] = ["-u", user_password]
    out = subprocess.run(args, capture_output=True, timeout=15).stdout.decode(errors="replace")
    lines = out.split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    challenge = ""
    for line in lines[1:]:
        if line.lower().startswith("www-authenticate:"):
            challenge = line.split(":", 1)[1].strip()
    return status, challenge


INGRESSES = [
    ingress("rewrite", h("rewrite"), {"use-regex": "true", "rewrite-target": "/$2"},
            path="/something(/|$)(.*)", path_type="ImplementationSpecific"),
    ingress("rewrite-plain", h("rewrite"), {}, path="/keep", service="pair"),
    ingress("vhost", h("vhost"), {"upstream-vhost": "internal.example.svc"}),
    ingress("use-regex", h("regex"), {"use-regex": "true"}, path="/api/v[0-9]+",
            path_type="ImplementationSpecific"),
    ingress("app-root", h("approot"), {"app-root": "/app1"}),
    ingress("permanent", h("permanent"), {"permanent-redirect": "https://www.google.com"}),
    ingress("permanent-code", h("permanent-code"),
            {"permanent-redirect": "https://www.google.com", "permanent-redirect-code": "308"}),
    ingress("temporal", h("temporal"), {"temporal-redirect": "https://www.google.com/x"}),
    ingress("ssl", h("ssl"), {}, tls=True),
    ingress("ssl-off", h("ssl-off"), {"ssl-redirect": "false"}, tls=True),
    ingress("www", h("fromwww"), {"from-to-www-redirect": "true"}),
    ingress("alias", h("alias"), {"server-alias": "alias.compat.example.net"}),
    ingress("prefix", h("prefix"), {"x-forwarded-prefix": "/shop"}),
    ingress("snippet", h("snippet"), {"configuration-snippet":
                                      'more_set_headers "X-Frame-Options: DENY";\n'
                                      'proxy_set_header X-Team blue;\n'}),
    ingress("bad-snippet", h("bad-snippet"), {"configuration-snippet":
                                              "access_by_lua_block { ngx.exit(403) }\n",
                                              "enable-opentelemetry": "true"}),
    ingress("affinity", h("affinity"), {"affinity": "cookie", "session-cookie-max-age": "3600",
                                        "session-cookie-samesite": "Strict",
                                        "session-cookie-secure": "true"}, service="pair"),
    ingress("retry", h("retry"), {"proxy-next-upstream": "error timeout http_503"},
            service="pair"),
    ingress("cors", h("cors"), {"enable-cors": "true",
                                "cors-allow-origin": "https://app.example.com",
                                "cors-allow-methods": "GET, PUT"}),
    ingress("locked", h("locked"), {"whitelist-source-range": "10.0.0.0/8"}),
    ingress("allowed", h("allowed"), {"whitelist-source-range": "10.0.0.0/8, 127.0.0.0/8"}),
    ingress("denied", h("denied"), {"allowlist-source-range": "127.0.0.0/8",
                                    "denylist-source-range": "192.0.2.1,127.0.0.1/32"}),
    ingress("bad-range", h("bad-range"), {"whitelist-source-range": "127.0.0.0/33"}),
    ingress("body", h("body"), {"proxy-body-size": "1k", "client-body-buffer-size": "16k"}),
    ingress("body-unlimited", h("body-unlimited"), {"proxy-body-size": "0"}),
    ingress("limited", h("limited"), {"limit-rps": "2"}),
    ingress("limited-burst", h("limited-burst"), {"limit-rpm": "60",
                                                  "limit-burst-multiplier": "1"}),
    ingress("limited-exempt", h("limited-exempt"), {"limit-rps": "1",
                                                    "limit-whitelist": "10.0.0.0/8, 127.0.0.0/8"}),
    ingress("limited-conn", h("limited-conn"), {"limit-connections": "1"}),
    ingress("basic", h("basic"), {"auth-type": "basic", "auth-secret": "basic-auth",
                                  "auth-realm": "Authentication Required - foo"}),
    ingress("basic-map", h("basic-map"), {"auth-type": "basic", "auth-secret": "default/users",
                                          "auth-secret-type": "auth-map"}),
    ingress("basic-h2", h("basic-h2"), {"auth-type": "basic", "auth-secret": "basic-auth"},
            tls=True),
    ingress("basic-missing", h("basic-missing"), {"auth-type": "basic",
                                                  "auth-secret": "no-such-secret"}),
    ingress("hash", h("hash"), {"upstream-hash-by": "$request_uri"}, service="pair"),
    ingress("hash-header", h("hash-header"), {"upstream-hash-by": "$http_x_user"},
            service="pair"),
    ingress("errors", h("errors"), {"default-backend": "errors",
                                    "custom-http-errors": "404,503", "ssl-redirect": "false"},
            tls=True),
    ingress("no-endpoints", h("no-endpoints"), {"default-backend": "errors"}, service="idle"),
    ingress("read-timeout", h("read-timeout"), {"proxy-read-timeout": "1",
                                                "proxy-send-timeout": "1"}),
    ingress("connect-timeout", h("connect-timeout"), {"proxy-connect-timeout": "1",
                                                      "proxy-read-timeout": "10",
                                                      "proxy-next-upstream-tries": "1"},
            service="blackhole"),
    ingress("retry-window", h("retry-window"), {"proxy-next-upstream": "error timeout http_503",
                                                "proxy-next-upstream-timeout": "1"},
            service="pair2"),
    ingress("persistent", h("persistent"), {"affinity": "cookie", "affinity-mode": "persistent"},
            service="pair"),
    ingress("samesite-none", h("samesite-none"),
            {"affinity": "cookie", "session-cookie-samesite": "None",
             "session-cookie-conditional-samesite-none": "true"}, service="pair"),
    ingress("keep-session", h("keep-session"),
            {"affinity": "cookie", "proxy-next-upstream": "error timeout http_503"},
            service="pair"),
    ingress("change-session", h("change-session"),
            {"affinity": "cookie", "session-cookie-change-on-failure": "true",
             "proxy-next-upstream": "error timeout http_503"}, service="pair"),
    ingress("custom-headers", h("custom-headers"), {"custom-headers": "default/custom-headers"}),
    ingress("custom-headers-missing", h("custom-headers-missing"),
            {"custom-headers": "default/no-such-map"}),
    ingress("paced", h("paced"), {"limit-rate": "50"}),
    ingress("paced-after", h("paced-after"), {"limit-rate": "50", "limit-rate-after": "150"}),
    ingress("subset", h("subset"), {"upstream-hash-by": "$request_uri",
                                    "upstream-hash-by-subset": "true",
                                    "upstream-hash-by-subset-size": "3"}, service="six"),
    ingress("main", h("canary"), {}),
    ingress("canary", h("canary"), {"canary": "true", "canary-by-header": "X-Canary",
                                    "canary-by-cookie": "canary"}, service="canary"),
    ingress("main-weight", h("weight"), {}),
    ingress("canary-weight", h("weight"), {"canary": "true", "canary-weight": "100"},
            service="canary"),
]


# ingress-nginx's external authentication e2e (test/e2e/annotations/auth.go), with the auth
# service named by its Service DNS name or by address.
AUTH_SVC = "http://auth.default.svc.cluster.local"
BASIC_URL = AUTH_SVC + "/basic-auth/user/password"
EXT_AUTH_INGRESSES = [
    ingress("ext-auth", h("ext-auth"), {"auth-url": BASIC_URL,
                                        "auth-response-headers": "X-User, Foo"}),
    ingress("ext-auth-h2", h("ext-auth-h2"), {"auth-url": BASIC_URL}, tls=True),
    # The auth Service's port says h2c: nginx still calls it over HTTP/1.1, so does kop-ingress.
    ingress("ext-auth-h2c", h("ext-auth-h2c"),
            {"auth-url": "http://auth-h2c.default.svc/basic-auth/user/password"}),
    ingress("ext-signin", h("ext-signin"), {"auth-url": BASIC_URL,
                                            "auth-signin": "http://$host/auth/start"}),
    ingress("ext-signin-param", h("ext-signin-param"),
            {"auth-url": BASIC_URL, "auth-signin": "http://$host/auth/start",
             "auth-signin-redirect-param": "orig"}),
    ingress("ext-method", h("ext-method"), {"auth-url": AUTH_SVC + "/method-check?x=1",
                                            "auth-method": "GET"}),
    ingress("ext-cache", h("ext-cache"), {"auth-url": AUTH_SVC + "/basic-auth/ann/cached",
                                          "auth-cache-key": "$http_authorization",
                                          "auth-cache-duration": "200 401 30m"}),
    ingress("ext-fail", h("ext-fail"), {"auth-url": AUTH_SVC + "/status/503"}),
    ingress("ext-slow", h("ext-slow"), {"auth-url": AUTH_SVC + "/slow",
                                        "proxy-read-timeout": "1"}),
    ingress("ext-missing", h("ext-missing"), {"auth-url": "http://nope.default.svc/x"}),
]


def h2c_service(name):
    svc = ie2e.service(name)
    svc["spec"]["ports"][0]["appProtocol"] = "kubernetes.io/h2c"
    return svc


def ext_auth_ingresses(port):
    """The Ingresses naming the auth service by address (its port is known only now)."""
    by_ip = f"http://{AUTH}:{port}/cookies/set/alma/armud"
    down = f"http://{AUTH}:{ie2e.free_port(AUTH)}/nobody-listens"
    return [ingress("ext-cookie", h("ext-cookie"), {"auth-url": by_ip}),
            ingress("ext-cookie-error", h("ext-cookie"), {"auth-url": by_ip}, path="/flaky",
                    service="canary"),
            ingress("ext-cookie-always", h("ext-cookie-always"),
                    {"auth-url": by_ip, "auth-always-set-cookie": "true"}, path="/flaky",
                    service="canary"),
            ingress("ext-down", h("ext-down"), {"auth-url": down})]


def ext_auth_cases(port, tls_port):
    # Real curl, with and without the credentials the auth service wants.
    check(curl_auth(port, h("ext-auth"), None) == (401, 'Basic realm="Fake Realm"'),
          "auth-url without credentials: not the auth service's 401 and challenge")
    check(curl_auth(port, h("ext-auth"), "user:wrong")[0] == 401, "auth-url wrong password")
    check(curl_auth(port, h("ext-auth"), "user:password")[0] == 200, "auth-url user:password")
    auth = "Basic " + base64.b64encode(b"user:password").decode()
    # auth-response-headers: X-User from the auth answer; the client's Foo never arrives.
    code, _, e = request(port, h("ext-auth"), "/app/x?q=1",
                         {"Authorization": auth, "X-User": "evil", "Foo": "bar",
                          "Cookie": "session=s1"})
    check(code == 200 and e and e["headers"].get("x-user") == "user" and
          "foo" not in e["headers"] and e["headers"].get("authorization") == auth,
          f"auth-response-headers: {code} {e}")
    method, path, fields, body = auth_seen("/basic-auth/user/password")[-1]
    check(method == "GET" and path == "/basic-auth/user/password" and body == 0 and
          fields.get("host") == "auth.default.svc.cluster.local" and
          fields.get("x-original-url") == f"http://{h('ext-auth')}/app/x?q=1" and
          fields.get("x-original-method") == "GET" and
          fields.get("x-sent-from") == "nginx-ingress-controller" and
          fields.get("x-auth-request-redirect") == "/app/x?q=1" and
          fields.get("x-forwarded-for") == "127.0.0.1" and
          fields.get("x-real-ip") == "127.0.0.1" and fields.get("authorization") == auth and
          fields.get("cookie") == "session=s1" and "content-length" not in fields,
          f"the auth request: {method} {path} {fields} body {body}")
    check(e["headers"].get("x-request-id") == fields.get("x-request-id"),
          "the auth and upstream requests carry different request ids")
    # A POST's body goes upstream only: the auth request has none.
    got = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                          "10", "-u", "user:password", "-H", f"Host: {h('ext-auth')}",
                          "--data-binary", "hello", f"http://127.0.0.1:{port}/form"],
                         capture_output=True, timeout=15).stdout.decode()
    method, _, fields, body = auth_seen("/basic-auth/user/password")[-1]
    check(got == "200" and method == "POST" and body == 0 and
          "content-length" not in fields and "transfer-encoding" not in fields,
          f"auth request of a POST: {got} {method} {fields} body {body}")
    # HTTP/2 over TLS.
    for user, want in ((None, "401 2"), ("user:password", "200 2")):
        args = ["curl", "-s", "-k", "--http2", "-o", "/dev/null", "-w",
                "%{http_code} %{http_version}", "--max-time", "10", "--resolve",
                f"{h('ext-auth-h2')}:{tls_port}:127.0.0.1",
                f"https://{h('ext-auth-h2')}:{tls_port}/"]
        if user:
            args[1:1] = ["-u", user]
        got = subprocess.run(args, capture_output=True, timeout=15).stdout.decode()
        check(got == want, f"auth-url over HTTP/2 as {user}: {got!r}, want {want!r}")
    check(curl_auth(port, h("ext-auth-h2c"), None)[0] == 401 and
          curl_auth(port, h("ext-auth-h2c"), "user:password")[0] == 200,
          "auth-url to a port with appProtocol kubernetes.io/h2c is not asked over HTTP/1.1")
    say("auth-url: the auth service's 2xx lets through (auth-response-headers replace the "
        "client's), its 401 and challenge reach the client; the auth request carries the "
        "client's fields and X-Original-*, no body; HTTP/1.1 and HTTP/2; an h2c Service port "
        "is asked over HTTP/1.1 as nginx asks it")

    # auth-signin: 302 to the sign-in URL with rd= the original URL (ingress-nginx's e2e).
    for host, param in ((h("ext-signin"), "rd"), (h("ext-signin-param"), "orig")):
        code, hdrs, _ = request(port, host, "/?a=b&c=d")
        want = f"http://{host}/auth/start?{param}=http://{host}%2F%3Fa%3Db%26c%3Dd"
        check(code == 302 and hdrs.get("location") == want,
              f"auth-signin {param}: {code} {hdrs.get('location')}, want {want}")
        check(request(port, host, "/?a=b&c=d", {"Authorization": auth})[0] == 200,
              f"auth-signin {param}: signed in is not 200")
    say("auth-signin (+ auth-signin-redirect-param): 302 to the sign-in URL, the original URL "
        "escaped in rd")

    code, _, e = request(port, h("ext-method"), "/m?y=2", method="POST")
    method, path, fields, _ = auth_seen("/method-check")[-1]
    check(code == 200 and method == "GET" and path == "/method-check?x=1" and
          fields.get("x-original-method") == "POST" and fields.get("x-original-uri") == "/m?y=2"
          and fields.get("x-scheme") == "http", f"auth-method GET: {code} {method} {path} {fields}")
    say("auth-method: the auth request's method, X-Original-URI and X-Scheme with it")

    # auth-cache-key: one auth request per key for the cached statuses.
    good = "Basic " + base64.b64encode(b"ann:cached").decode()
    bad = "Basic " + base64.b64encode(b"ann:nope").decode()
    before = len(auth_seen("/basic-auth/ann/cached"))
    codes = [request(port, h("ext-cache"), f"/{i}", {"Authorization": a})[0]
             for i in range(4) for a in (good, bad)]
    asked = len(auth_seen("/basic-auth/ann/cached")) - before
    check(codes == [200, 401] * 4 and asked == 2,
          f"auth-cache-key: {codes}, the auth service asked {asked} times, want 2")
    say("auth-cache-key / auth-cache-duration: answers cached per key (200 and 401 here)")

    # The auth answer's Set-Cookie: on a 2xx response, not on the backend's 503 unless
    # auth-always-set-cookie.
    code, hdrs, _ = request(port, h("ext-cookie"), "/?a=b")
    check(code == 200 and "alma=armud" in hdrs.get("set-cookie", ""),
          f"auth cookie on 200: {code} {hdrs}")
    code, hdrs, _ = request(port, h("ext-cookie"), "/flaky")
    check(code == 503 and "set-cookie" not in hdrs, f"auth cookie on the 503: {code} {hdrs}")
    code, hdrs, _ = request(port, h("ext-cookie-always"), "/flaky")
    check(code == 503 and "alma=armud" in hdrs.get("set-cookie", ""),
          f"auth-always-set-cookie on the 503: {code} {hdrs}")
    say("the auth service's Set-Cookie: on 2xx/3xx responses, on every one with "
        "auth-always-set-cookie (auth-url by address)")

    t0 = time.monotonic()
    slow = request(port, h("ext-slow"), "/")[0]
    took = time.monotonic() - t0
    for host, want in ((h("ext-fail"), 500), (h("ext-down"), 500), (h("ext-missing"), 403)):
        code = request(port, host, "/")[0]
        check(code == want, f"{host}: {code}, want {want}")
    check(slow == 500 and took < 2.5, f"auth service too slow: {slow} after {took:.1f} s")
    say("auth-url failing: another status, a closed port or a timeout (proxy-read-timeout) "
        "answer 500; a missing Service fails closed (403)")


# ingress-nginx's client certificate authentication (its docs/examples/auth/client-certs and
# e2e annotations/authtls.go): a CA Secret with ca.crt, the certificates made by the test.
CLIENT_CA = "default/client-ca"
CLIENT_CERT_INGRESSES = [
    ingress("client-cert", h("client-cert"), {"auth-tls-secret": CLIENT_CA}, tls=True),
    ingress("client-cert-pass", h("client-cert-pass"),
            {"auth-tls-secret": CLIENT_CA, "auth-tls-verify-client": "on",
             "auth-tls-verify-depth": "1", "auth-tls-pass-certificate-to-upstream": "true"},
            tls=True),
    ingress("client-cert-optional", h("client-cert-optional"),
            {"auth-tls-secret": CLIENT_CA, "auth-tls-verify-client": "optional"}, tls=True),
    ingress("client-cert-error-page", h("client-cert-error-page"),
            {"auth-tls-secret": CLIENT_CA,
             "auth-tls-error-page": "https://errors.example.com/cert.html"}, tls=True),
    ingress("client-cert-cn", h("client-cert-cn"),
            {"auth-tls-secret": CLIENT_CA, "auth-tls-match-cn": "CN=(alice|bob)"}, tls=True),
    ingress("client-cert-missing", h("client-cert-missing"),
            {"auth-tls-secret": "default/no-such-ca"}, tls=True),
    ingress("client-cert-plain", h("client-cert-plain"),
            {"auth-tls-secret": CLIENT_CA, "ssl-redirect": "false"}, tls=True),
]
CLIENT_CERT_HOSTS = [i["spec"]["rules"][0]["host"] for i in CLIENT_CERT_INGRESSES]


def make_client_certs(out):
    """A CA with a client certificate it signed (CN=client.compat, O=Kop) and a foreign CA with
    one of its own: {name: (crt path, key path)} for ca, client, foreign."""
    os.makedirs(out, exist_ok=True)

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    paths = {n: (os.path.join(out, n + ".crt"), os.path.join(out, n + ".key"))
             for n in ("ca", "foreign-ca", "client", "foreign")}
    for ca in ("ca", "foreign-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-sha256",
                "-subj", f"/CN=Compat {ca}", "-keyout", paths[ca][1], "-out", paths[ca][0])
    for leaf, ca in (("client", "ca"), ("foreign", "foreign-ca")):
        csr = os.path.join(out, leaf + ".csr")
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/O=Kop/CN=client.compat",
                "-keyout", paths[leaf][1], "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", paths[ca][0], "-CAkey", paths[ca][1],
                "-set_serial", "2", "-days", "2", "-sha256", "-out", paths[leaf][0])
    return paths


def curl_tls(tls_port, host, path="/", cert=None, http2=False, headers=()):
    """GET over TLS with real curl (the proxy's certificate not verified), optionally presenting
    a client certificate (crt, key): (status, HTTP version, Location, body)."""
    args = ["curl", "-s", "-k", "--http2" if http2 else "--http1.1", "-D", "-",
            "--max-time", "10", "--resolve", f"{host}:{tls_port}:127.0.0.1",
            f"https://{host}:{tls_port}{path}"]
    if cert:
        args[1:1] = ["--cert", cert[0], "--key", cert[1]]
    for name, value in headers:
        args[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(args, capture_output=True, timeout=15).stdout.decode(errors="replace")
    head, _, body = out.partition("\r\n\r\n")
    lines = head.split("\r\n")
    first = lines[0].split()
    status = int(first[1]) if len(first) > 1 else 0
    version = first[0].split("/")[1] if first else ""
    location = ""
    for line in lines[1:]:
        if line.lower().startswith("location:"):
            location = line.split(":", 1)[1].strip()
    return status, version, location, body


def client_cert_cases(port, tls_port, certs):
    ca, client, foreign = certs["ca"], certs["client"], certs["foreign"]
    want_subject, want_issuer = "CN=client.compat,O=Kop", "CN=Compat ca"
    for http2, version in ((False, "1.1"), (True, "2")):
        got = curl_tls(tls_port, h("client-cert"), http2=http2)
        check(got[0] == 400 and got[1] == version and
              "No required SSL certificate was sent" in got[3],
              f"no client certificate over HTTP/{version}: {got}")
        got = curl_tls(tls_port, h("client-cert"), cert=foreign, http2=http2)
        check(got[0] == 400 and "The SSL certificate error" in got[3],
              f"a foreign CA's certificate over HTTP/{version}: {got}")
        got = curl_tls(tls_port, h("client-cert"), "/who", cert=client, http2=http2,
                       headers=(("ssl-client-subject-dn", "CN=admin"),
                                ("SSL-Client-Cert", "forged")))
        e = json.loads(got[3]) if got[0] == 200 else {"headers": {}}
        fields = e["headers"]
        check(got[0] == 200 and got[1] == version and
              fields.get("ssl-client-verify") == "SUCCESS" and
              fields.get("ssl-client-subject-dn") == want_subject and
              fields.get("ssl-client-issuer-dn") == want_issuer and
              "ssl-client-cert" not in fields,
              f"the CA's certificate over HTTP/{version}: {got[:3]} {fields}")
        got = curl_tls(tls_port, h("client-cert-pass"), cert=client, http2=http2)
        fields = json.loads(got[3])["headers"] if got[0] == 200 else {}
        with open(client[0]) as f:
            pem = f.read()
        check(got[0] == 200 and
              urllib.parse.unquote(fields.get("ssl-client-cert", "")).strip() == pem.strip(),
              f"pass-certificate-to-upstream over HTTP/{version}: {got[0]} "
              f"{fields.get('ssl-client-cert', '')[:60]}")
    say("auth-tls-secret (verify on): no certificate and a foreign CA's answer 400 as nginx; the "
        "CA's certificate is served with ssl-client-verify/-subject-dn/-issuer-dn (and "
        "ssl-client-cert with pass-certificate-to-upstream), over HTTP/1.1 and HTTP/2; the "
        "client's own ssl-client-* never reach the backend")

    got = curl_tls(tls_port, h("client-cert-optional"), headers=(("SSL-Client-Verify", "SUCCESS"),))
    fields = json.loads(got[3])["headers"] if got[0] == 200 else {}
    check(got[0] == 200 and fields.get("ssl-client-verify") == "NONE" and
          "ssl-client-subject-dn" not in fields,
          f"verify-client optional without a certificate: {got[0]} {fields}")
    got = curl_tls(tls_port, h("client-cert-optional"), cert=client)
    check(got[0] == 200 and json.loads(got[3])["headers"].get("ssl-client-verify") == "SUCCESS",
          f"verify-client optional with the CA's certificate: {got[:3]}")
    say("auth-tls-verify-client optional: served without a certificate (ssl-client-verify NONE, "
        "the client's own value dropped)")

    for cert in (None, foreign):
        got = curl_tls(tls_port, h("client-cert-error-page"), cert=cert)
        check(got[0] == 302 and got[2] == "https://errors.example.com/cert.html",
              f"auth-tls-error-page ({'foreign' if cert else 'none'}): {got[:3]}")
    check(curl_tls(tls_port, h("client-cert-error-page"), cert=client)[0] == 200,
          "auth-tls-error-page: the CA's certificate is not served")
    got = curl_tls(tls_port, h("client-cert-cn"), cert=client)
    check(got[0] == 403 and "client certificate unauthorized" in got[3],
          f"auth-tls-match-cn that does not match: {got}")
    got = curl_tls(tls_port, h("client-cert-missing"), cert=client)
    check(got[0] == 403, f"auth-tls-secret naming a missing Secret: {got[:3]}, want 403")
    code, hdrs, _ = request(port, h("client-cert"), "/x")
    check(code == 308 and hdrs.get("location", "").startswith(f"https://{h('client-cert')}"),
          f"plain HTTP of a client-certificate host: {code} {hdrs.get('location')}")
    code = request(port, h("client-cert-plain"), "/x")[0]
    check(code == 400, f"plain HTTP with ssl-redirect false and verify on: {code}, want 400")
    say("auth-tls-error-page: 302 instead of 400; auth-tls-match-cn mismatch: 403; a missing CA "
        "Secret fails closed (403); plain HTTP redirects (ssl-redirect) or answers 400")


def cases(port, tls_port):
    # The rewrite example of ingress-nginx's docs.
    for path, want in (("/something", "/"), ("/something/", "/"), ("/something/new", "/new"),
                       ("/something/new?a=1", "/new?a=1"), ("/SomeThing/x", "/x")):
        code, _, e = request(port, h("rewrite"), path)
        check(code == 200 and e["path"] == want, f"rewrite-target {path}: {code} {e}, want {want}")
    # use-regex reaches the other Ingress of the host: its Prefix /keep is a regex prefix now.
    code, _, e = request(port, h("rewrite"), "/keepsake")
    check(code == 200 and e["path"] == "/keepsake", f"host-wide regex: /keepsake {code} {e}")
    say("rewrite-target /$2: the documented rewrites; the host's other paths are regexes")

    code, _, e = request(port, h("vhost"), "/")
    check(code == 200 and e["headers"].get("host") == "internal.example.svc",
          f"upstream-vhost: {code} {e}")
    say("upstream-vhost: the Host the backend sees")

    # use-regex: a case-insensitive regular expression, matched as a prefix.
    for path in ("/api/v1", "/API/V2/users", "/api/v3x"):
        code, _, e = request(port, h("regex"), path)
        check(code == 200 and e["path"] == path, f"use-regex {path}: {code} {e}")
    check(request(port, h("regex"), "/api/vx")[0] == 404, "use-regex /api/vx is not 404")
    say("use-regex: case-insensitive prefix regex")

    code, hdrs, _ = request(port, h("approot"), "/")
    check(code == 302 and hdrs.get("location") == f"http://{h('approot')}/app1",
          f"app-root: {code} {hdrs.get('location')}")
    check(request(port, h("approot"), "/app1")[0] == 200, "app-root: /app1 is not served")
    say("app-root: / -> 302 /app1")

    for host, want_code, want_loc in ((h("permanent"), 301, "https://www.google.com/"),
                                      (h("permanent-code"), 308, "https://www.google.com/"),
                                      (h("temporal"), 302, "https://www.google.com/x")):
        code, hdrs, _ = request(port, host, "/some/path?q=1")
        check(code == want_code and hdrs.get("location") == want_loc,
              f"{host}: {code} {hdrs.get('location')}, want {want_code} {want_loc}")
    say("permanent-redirect (+code), temporal-redirect: the URL, query dropped")

    code, hdrs, _ = request(port, h("ssl"), "/x?y=1")
    check(code == 308 and hdrs.get("location") == f"https://{h('ssl')}:{tls_port}/x?y=1",
          f"ssl-redirect: {code} {hdrs.get('location')}")
    check(request(port, h("ssl-off"), "/x")[0] == 200, "ssl-redirect false still redirects")
    say("ssl-redirect: on by default for TLS hosts (308), off with \"false\"")

    code, hdrs, _ = request(port, "www." + h("fromwww"), "/p?q=1")
    check(code == 308 and hdrs.get("location") == f"http://{h('fromwww')}/p?q=1",
          f"from-to-www-redirect: {code} {hdrs.get('location')}")
    say("from-to-www-redirect: www. -> the Ingress' host, 308")

    code, _, e = request(port, "alias.compat.example.net", "/")
    check(code == 200 and e, f"server-alias: {code}")
    say("server-alias: the alias is served")

    code, _, e = request(port, h("prefix"), "/")
    check(code == 200 and e["headers"].get("x-forwarded-prefix") == "/shop",
          f"x-forwarded-prefix: {code} {e}")
    say("x-forwarded-prefix reaches the backend")

    code, hdrs, e = request(port, h("snippet"), "/")
    check(code == 200 and hdrs.get("x-frame-options") == "DENY" and
          e["headers"].get("x-team") == "blue", f"configuration-snippet: {code} {hdrs} {e}")
    # Source ranges judge the TCP peer (127.0.0.1 here); X-Forwarded-For changes nothing.
    for host, want in ((h("locked"), 403), (h("allowed"), 200), (h("denied"), 403),
                       (h("bad-range"), 403)):
        for xff in ({}, {"X-Forwarded-For": "10.1.2.3"}):
            code, _, e = request(port, host, "/", xff)
            check(code == want and (e is not None) == (want == 200),
                  f"source range {host} {xff}: {code} {e}, want {want}")
    say("whitelist/allowlist/denylist-source-range: the client address decides (403), deny "
        "first; an invalid CIDR fails closed")

    # proxy-body-size: 1k allows exactly 1024 bytes; more is 413, declared or chunked.
    for size, chunked, want in ((1024, False, 200), (1025, False, 413), (1024, True, 200),
                                (3000, True, 413), (200000, True, 413)):
        code = curl_post(port, h("body"), size, chunked)
        check(code == want, f"proxy-body-size 1k: {size} bytes chunked={chunked}: {code}, "
              f"want {want}")
    check(curl_post(port, h("body-unlimited"), 3 << 20) == 200, "proxy-body-size 0 limits")
    # ingress-nginx's default is 1m.
    check(curl_post(port, h("vhost"), 1 << 20) == 200, "the default 1m refuses 1m")
    check(curl_post(port, h("vhost"), (1 << 20) + 1) == 413, "the default 1m is not applied")
    say("proxy-body-size: 413 past the limit (Content-Length or chunked), \"0\" unlimited, "
        "1m by default")
    # limit-rps 2: burst 2 x 5 = 10 over the rate, so 11 pass at once (12 if a request drained
    # meanwhile), then 503; per Ingress: other hosts are untouched.
    codes = [request(port, h("limited"), f"/{i}")[0] for i in range(20)]
    passed = codes.count(200)
    check(11 <= passed <= 12 and codes[:11] == [200] * 11 and codes.count(503) == 20 - passed,
          f"limit-rps 2: {codes}")
    check(request(port, h("vhost"), "/")[0] == 200, "limit-rps spilled over to another Ingress")
    # limit-rpm 60 with multiplier 1: burst 60 x 1, so 61 pass, then one a second (a loaded
    # machine's slow requests see a few of those: the count allows one per second taken).
    t0 = time.monotonic()
    codes = []
    while len(codes) < 200 and 503 not in codes:
        codes.append(request(port, h("limited-burst"), "/")[0])
    took = time.monotonic() - t0
    check(codes[:61] == [200] * 61 and codes[-1] == 503 and
          codes.count(200) <= 61 + int(took) + 1, f"limit-rpm 60 x 1 in {took:.1f} s: {codes}")
    codes = [request(port, h("limited-exempt"), "/")[0] for i in range(15)]
    check(codes == [200] * 15, f"limit-whitelist 127.0.0.0/8 is limited: {codes}")
    say("limit-rps, limit-rpm, limit-burst-multiplier: nginx's burst (rate x multiplier), then "
        "503; limit-whitelist exempts")

    # limit-connections 1: a second request while the first is in progress gets 503.
    slow = {}
    t = threading.Thread(target=lambda: slow.update(r=request(port, h("limited-conn"), "/slow")))
    t.start()
    time.sleep(0.5)
    busy = request(port, h("limited-conn"), "/")[0]
    t.join()
    after = request(port, h("limited-conn"), "/")[0]
    check(slow["r"][0] == 200 and busy == 503 and after == 200,
          f"limit-connections 1: slow {slow['r'][0]}, during {busy}, after {after}")
    say("limit-connections: requests in progress per client address, 503 past the limit")

    # auth-type basic, ingress-nginx's example: 401 with the realm, 200 with foo:bar.
    realm = 'Basic realm="Authentication Required - foo"'
    check(curl_auth(port, h("basic"), None) == (401, realm), "basic auth without credentials")
    check(curl_auth(port, h("basic"), "foo:bar")[0] == 200, "basic auth foo:bar (apr1)")
    check(curl_auth(port, h("basic"), "foo:baz") == (401, realm), "basic auth wrong password")
    check(curl_auth(port, h("basic"), "jane:anything")[0] == 401, "a DES user logs in")
    auth = "Basic " + base64.b64encode(b"ann:s3cret").decode()
    t0 = time.monotonic()
    code, _, e = request(port, h("basic"), "/", {"Authorization": auth})
    first = time.monotonic() - t0
    check(code == 200 and e and e["headers"].get("authorization") == auth,
          f"basic auth ann (bcrypt): {code} {e}")
    t0 = time.monotonic()
    codes = [request(port, h("basic"), "/", {"Authorization": auth})[0] for _ in range(10)]
    again = (time.monotonic() - t0) / 10
    check(codes == [200] * 10, f"basic auth ann (bcrypt, cached): {codes}")
    wrong = "Basic " + base64.b64encode(b"ann:guess").decode()
    check(request(port, h("basic"), "/", {"Authorization": wrong})[0] == 401, "bcrypt wrong")
    check(curl_auth(port, h("basic-map"), "ann:s3cret")[0] == 200, "auth-map ann")
    check(curl_auth(port, h("basic-map"), "foo:bar")[0] == 401, "auth-map: foo is not a user")
    check(curl_auth(port, h("basic-missing"), "foo:bar")[0] == 403, "a missing Secret serves")
    # HTTP/2 over TLS: the bcrypt verification of this route runs off the loop for an h2 stream.
    for user, want in ((None, "401 2"), ("ann:s3cret", "200 2"), ("ann:s3cret", "200 2"),
                       ("ann:guess", "401 2")):
        args = ["curl", "-s", "-k", "--http2", "-o", "/dev/null", "-w",
                "%{http_code} %{http_version}", "--max-time", "10", "--resolve",
                f"{h('basic-h2')}:{tls_port}:127.0.0.1", f"https://{h('basic-h2')}:{tls_port}/"]
        if user:
            args[1:1] = ["-u", user]
        got = subprocess.run(args, capture_output=True, timeout=15).stdout.decode()
        check(got == want, f"basic auth over HTTP/2 as {user}: {got!r}, want {want!r}")
    say(f"auth-type basic: 401 with the realm, apr1/bcrypt users (bcrypt cost 10: first "
        f"{first * 1000:.0f} ms off the event loop, then {again * 1000:.1f} ms cached), auth-map, "
        f"DES refused, a missing Secret fails closed (403)")

    code, _, e = request(port, h("bad-snippet"), "/")
    check(code == 200 and e, f"an Ingress with a refused snippet is not served: {code}")
    say("configuration-snippet: header forms applied; anything else not executed, route served")

    code, hdrs, e = request(port, h("affinity"), "/")
    cookie = hdrs.get("set-cookie", "")
    check(code == 200 and cookie.startswith("INGRESSCOOKIE=") and "Max-Age=3600" in cookie and
          "; Secure" in cookie and "SameSite=Strict" in cookie, f"affinity: {code} {cookie!r}")
    first = e["backend"]
    for _ in range(6):
        code, _, e = request(port, h("affinity"), "/", {"Cookie": cookie.split(";")[0]})
        check(code == 200 and e["backend"] == first, f"affinity: moved to {e and e['backend']}")
    say("affinity cookie: the session stays on one backend")

    # upstream-hash-by: one key, one endpoint; many keys spread over both.
    seen = set()
    for i in range(24):
        first = request(port, h("hash"), f"/item/{i}?v=1")[2]["backend"]
        seen.add(first)
        for _ in range(3):
            code, _, e = request(port, h("hash"), f"/item/{i}?v=1")
            check(code == 200 and e["backend"] == first, f"upstream-hash-by /item/{i}: moved")
    check(seen == {ECHO, FLAKY}, f"upstream-hash-by $request_uri: keys all on {seen}")
    for user in ("ann", "bob", "cy"):
        backends = {request(port, h("hash-header"), f"/{i}", {"X-User": user})[2]["backend"]
                    for i in range(5)}
        check(len(backends) == 1, f"upstream-hash-by $http_x_user {user}: {backends}")
    say("upstream-hash-by: consistent hashing on nginx variables ($request_uri, $http_x_user)")

    for i in range(8):
        code, _, e = request(port, h("retry"), f"/flaky/{i}")
        check(code == 200 and e["backend"] == ECHO, f"proxy-next-upstream http_503: {code} {e}")
    say("proxy-next-upstream http_503: 503s are retried on the other endpoint")

    origin = {"Origin": "https://app.example.com"}
    code, hdrs, _ = request(port, h("cors"), "/api", {**origin, "Access-Control-Request-Method":
                                                      "PUT"}, method="OPTIONS")
    check(code == 200 and hdrs.get("access-control-allow-origin") == origin["Origin"] and
          hdrs.get("access-control-allow-credentials") == "true" and
          hdrs.get("access-control-max-age") == "1728000" and
          "PUT" in hdrs.get("access-control-allow-methods", ""), f"CORS preflight: {code} {hdrs}")
    code, hdrs, e = request(port, h("cors"), "/api", origin)
    check(code == 200 and e and hdrs.get("access-control-allow-origin") == origin["Origin"],
          f"CORS request: {code} {hdrs}")
    code, hdrs, _ = request(port, h("cors"), "/api", {"Origin": "https://evil.example.com"})
    check(code == 200 and "access-control-allow-origin" not in hdrs,
          f"CORS other origin: {code} {hdrs}")
    say("enable-cors: the preflight answered by the proxy, responses marked for the allowed origin")

    for headers, want in (({}, ECHO), ({"X-Canary": "always"}, FLAKY),
                          ({"X-Canary": "never", "Cookie": "canary=always"}, ECHO),
                          ({"Cookie": "a=b; canary=always"}, FLAKY),
                          ({"Cookie": "canary=never"}, ECHO)):
        code, _, e = request(port, h("canary"), "/", headers)
        check(code == 200 and e["backend"] == want, f"canary {headers}: {code} {e}, want {want}")
    for _ in range(4):
        code, _, e = request(port, h("weight"), "/")
        check(code == 200 and e["backend"] == FLAKY, f"canary-weight 100: {code} {e}")
    say("canary: by-header always/never, then by-cookie, then weight (100: all to the canary)")


def error_cases(port, tls_port):
    """default-backend, custom-http-errors (ingress-nginx's custom errors guide)."""
    code, _, e = request(port, h("errors"), "/status/404?q=1",
                         {"Accept": "application/json", "X-Request-ID": "req-42"})
    want = {"x-code": "404", "x-format": "application/json", "x-original-uri": "/status/404?q=1",
            "x-namespace": "default", "x-ingress-name": "errors", "x-service-name": "echo",
            "x-service-port": "80", "x-request-id": "req-42"}
    got = {k: (e or {}).get("headers", {}).get(k) for k in want}
    check(code == 404 and e and e["backend"] == ERRORS and e["path"] == "/" and got == want,
          f"custom-http-errors 404: {code} {e}")
    # Without a client id the error request carries the id the backend got.
    code, _, e = request(port, h("errors"), "/status/503")
    check(code == 503 and e and e["backend"] == ERRORS and
          len(e["headers"].get("x-request-id", "")) == 36, f"custom-http-errors 503: {code} {e}")
    code, _, e = request(port, h("errors"), "/status/500")
    check(code == 500 and e and e["backend"] == ECHO, f"a status not listed: {code} {e}")
    code, _, e = request(port, h("errors"), "/fine")
    check(code == 200 and e and e["backend"] == ECHO, f"custom-http-errors on 200: {code} {e}")
    # An HTTP/2 client gets the error page the same way.
    args = ["curl", "-s", "-k", "--http2", "-w", "\n%{http_code} %{http_version}", "--max-time",
            "10", "--resolve", f"{h('errors')}:{tls_port}:127.0.0.1",
            f"https://{h('errors')}:{tls_port}/status/404"]
    out = subprocess.run(args, capture_output=True, timeout=15).stdout.decode()
    body, _, tail = out.rpartition("\n")
    check(tail == "404 2" and json.loads(body or "{}").get("backend") == ERRORS,
          f"custom-http-errors over HTTP/2: {out!r}")
    # A Service without a ready endpoint: the default backend serves the request itself.
    code, _, e = request(port, h("no-endpoints"), "/some/page")
    check(code == 404 and e and e["backend"] == ERRORS and e["path"] == "/some/page" and
          "x-code" not in e["headers"], f"default-backend without endpoints: {code} {e}")
    say("default-backend, custom-http-errors: the error page from the default backend with "
        "X-Code, X-Format, X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, "
        "X-Service-Port, X-Request-ID (HTTP/1.1 and HTTP/2); it serves a Service without "
        "endpoints")


def session(port, host, backend=None, agent=None):
    """A new session's (cookie pair "name=value", backend); with `backend`, the first session
    that lands there."""
    for _ in range(40):
        headers = {"User-Agent": agent} if agent else {}
        code, hdrs, e = request(port, host, "/", headers)
        check(code == 200 and e, f"{host}: {code}")
        if backend is None or e["backend"] == backend:
            return hdrs.get("set-cookie", ""), e["backend"]
    check(False, f"{host}: no session landed on {backend}")


def affinity_cases(port):
    """affinity-mode, session-cookie-change-on-failure, -conditional-samesite-none."""
    # balanced (the default): each session its own random key; persistent: the key names the
    # endpoint, so two sessions on one endpoint carry the same value.
    for host, same in ((h("affinity"), False), (h("persistent"), True)):
        a, first = session(port, host)
        b, _ = session(port, host, first)
        va, vb = a.split(";")[0], b.split(";")[0]
        check(va.startswith("INGRESSCOOKIE=") and (va == vb) == same,
              f"{host}: two sessions on {first}: {va} {vb}")
        for _ in range(4):
            code, _, e = request(port, host, "/", {"Cookie": vb})
            check(code == 200 and e["backend"] == first, f"{host}: moved to {e and e['backend']}")
    say("affinity-mode: balanced (default) keys are per session, persistent ones name the "
        "endpoint; both stick")
    old_chrome = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Chrome/60.0.3112.113 Safari/537.36")
    new_chrome = old_chrome.replace("Chrome/60.0.3112.113", "Chrome/120.0.6099.109")
    ios12 = ("Mozilla/5.0 (iPhone; CPU iPhone OS 12_4 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1")
    for agent, want in ((new_chrome, True), (old_chrome, False), (ios12, False)):
        cookie, _ = session(port, h("samesite-none"), agent=agent)
        check(("SameSite=None" in cookie) == want, f"conditional SameSite=None for {agent}: "
              f"{cookie!r}")
    say("session-cookie-conditional-samesite-none: no SameSite=None for Chrome 60 and iOS 12")
    # A session on the endpoint that answers 503 under /flaky: without change-on-failure the
    # retries go back to it (503); with it the retry moves the session (200, a new cookie).
    cookie, _ = session(port, h("keep-session"), FLAKY)
    code, hdrs, _ = request(port, h("keep-session"), "/flaky/1", {"Cookie": cookie.split(";")[0]})
    check(code == 503 and "set-cookie" not in hdrs,
          f"change-on-failure false: {code} {hdrs.get('set-cookie')}")
    cookie, _ = session(port, h("change-session"), FLAKY)
    code, hdrs, e = request(port, h("change-session"), "/flaky/1",
                            {"Cookie": cookie.split(";")[0]})
    moved = hdrs.get("set-cookie", "").split(";")[0]
    check(code == 200 and e["backend"] == ECHO and moved and moved != cookie.split(";")[0],
          f"change-on-failure true: {code} {e} {moved!r}")
    code, _, e = request(port, h("change-session"), "/", {"Cookie": moved})
    check(code == 200 and e["backend"] == ECHO, f"change-on-failure: the new cookie {e}")
    say("session-cookie-change-on-failure: false retries the session's endpoint, true moves "
        "the session to the endpoint that answered")


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def stalled_post(port, host, send, pause, total=100):
    """POSTs `total` declared bytes, `send` of them in one-byte writes `pause` s apart, then
    stops writing: the status the proxy answers (0 if none within 10 s)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {total}\r\n\r\n"
                  .encode())
        for _ in range(send):
            time.sleep(pause)
            s.sendall(b"x")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else 0
    except socket.timeout:
        return 0
    finally:
        s.close()


def timeout_cases(port):
    """proxy-read/send/connect-timeout and proxy-next-upstream-timeout with slow backends."""
    (code, _, _), took = timed(lambda: request(port, h("read-timeout"), "/sleep/3"))
    check(code == 504 and 0.9 <= took < 2.9, f"proxy-read-timeout 1, head after 3 s: {code} "
          f"after {took:.2f} s")
    (code, _, e), took = timed(lambda: request(port, h("read-timeout"), "/sleep/0.3"))
    check(code == 200 and e, f"proxy-read-timeout 1, head after 0.3 s: {code}")
    code, took = timed(lambda: stalled_post(port, h("read-timeout"), 0, 0))
    check(code == 504 and 0.9 <= took < 4, f"proxy-send-timeout 1, body stalled: {code} after "
          f"{took:.2f} s")
    # A body that keeps flowing (a byte every 0.4 s for 2 s) renews the timeout.
    code = stalled_post(port, h("read-timeout"), 5, 0.4, total=5)
    check(code == 200, f"proxy-send-timeout 1, a slow but steady body: {code}")
    say(f"proxy-read-timeout / -send-timeout 1: a head 3 s late and a stalled body get 504, a "
        f"steady slow body passes")
    (code, _, _), took = timed(lambda: request(port, h("connect-timeout"), "/"))
    check(code == 504 and 0.9 <= took < 5, f"proxy-connect-timeout 1: {code} after {took:.2f} s")
    say(f"proxy-connect-timeout 1: 504 after {took:.2f} s (an endpoint that never accepts)")
    # A first try on the late 503 takes 1.2 s, past proxy-next-upstream-timeout 1: that 503 is
    # not retried on the other endpoint (proxy-next-upstream http_503 retries it otherwise; the
    # Service pair2 is the test's own, so no earlier case had its 503 endpoint ejected).
    codes = [request(port, h("retry-window"), f"/late-flaky/{i}")[0] for i in range(6)]
    check(503 in codes and set(codes) <= {200, 503}, f"proxy-next-upstream-timeout 1: {codes}")
    say("proxy-next-upstream-timeout 1: a 503 that came after 1.2 s is not retried")


# backend-protocol HTTPS to the TLS echo, whose certificate names backend.compat.internal:
# verified against proxy-ssl-secret's ca.crt with proxy-ssl-name (and SNI), a name the
# certificate does not carry (502), and ingress-nginx's default (no verification).
BACKEND_TLS_INGRESSES = [
    ingress("https-verified", h("https"),
            {"backend-protocol": "HTTPS", "proxy-ssl-verify": "on",
             "proxy-ssl-name": "backend.compat.internal", "proxy-ssl-server-name": "on",
             "proxy-ssl-secret": "default/backend-ca"}, service="tls-echo"),
    ingress("https-wrong-name", h("https-wrong"),
            {"backend-protocol": "HTTPS", "proxy-ssl-verify": "on",
             "proxy-ssl-name": "other.compat.internal", "proxy-ssl-secret": "default/backend-ca"},
            service="tls-echo"),
    ingress("https-unverified", h("https-off"), {"backend-protocol": "HTTPS"},
            service="tls-echo"),
]


def backend_tls_cases(port):
    code, _, e = request(port, h("https"), "/over-tls")
    check(code == 200 and e and e["backend"] == TLS_ECHO and e["path"] == "/over-tls",
          f"backend-protocol HTTPS verified: {code} {e}")
    code, _, _ = request(port, h("https-wrong"), "/")
    check(code == 502, f"proxy-ssl-name the certificate does not carry: {code}, want 502")
    code, _, e = request(port, h("https-off"), "/")
    check(code == 200 and e and e["backend"] == TLS_ECHO, f"proxy-ssl-verify off: {code} {e}")
    say("backend-protocol HTTPS: verified with proxy-ssl-secret and -name, 502 on a wrong name, "
        "unverified by default")


def curl_timed(urls, opts, resolve):
    """curl GETs of `urls` (streams of one connection with --parallel over HTTP/2), bodies
    dropped: ([(status, bytes)...], seconds the command took)."""
    args = ["curl", "-s", "-k", "--max-time", "30", "-w", "%{http_code} %{size_download}\n",
            "--resolve", resolve, *opts]
    for u in urls:
        args += ["-o", "/dev/null", u]
    start = time.monotonic()
    out = subprocess.run(args, capture_output=True, timeout=40).stdout.decode()
    took = time.monotonic() - start
    return [tuple(int(x) for x in line.split()) for line in out.splitlines() if line], took


def misc_cases(port, tls_port, header_map, header_file):
    # custom-headers (ingress-nginx's e2e): the ConfigMap's headers, "$" literal; a missing
    # ConfigMap denies the location (503).
    code, hdrs, e = request(port, h("custom-headers"), "/")
    check(code == 200 and e and hdrs.get("my-custom-header") == "42" and
          hdrs.get("my-custom-header-dollar") == "$remote_addr", f"custom-headers: {code} {hdrs}")
    code, _, _ = request(port, h("custom-headers-missing"), "/")
    check(code == 503, f"custom-headers with a missing ConfigMap: {code}, want 503")
    # A change of the ConfigMap applies at once (ingress-nginx waits for a restart).
    header_map["data"]["My-Custom-Header"] = "43"
    with open(header_file + ".tmp", "w") as f:
        json.dump(header_map, f)
    os.replace(header_file + ".tmp", header_file)
    wait_for("the changed custom header",
             lambda: request(port, h("custom-headers"), "/")[1].get("my-custom-header") == "43", 10)
    say("custom-headers: the ConfigMap's data are response headers, a change applies at once; a "
        "missing ConfigMap is 503")

    # limit-rate 50 (KB/s): 200 KB take about 3 s (nginx sends the first second's 50 KB at once),
    # over HTTP/1.1 and per HTTP/2 stream; limit-rate-after 150 lets them all go at once.
    size = 200 * 1024
    url = f"http://{h('paced')}:{port}/big/{size}"
    got, took = curl_timed([url], ["--http1.1"], f"{h('paced')}:{port}:127.0.0.1")
    check(got == [(200, size)] and 2.9 <= took < 15, f"limit-rate over HTTP/1.1: {got} {took:.2f} s")
    # Two streams of one h2c connection at once (nghttp; curl 7.88's --parallel over h2c fails
    # its first stream): each at the rate, both done after about 3 s (one rate for the
    # connection: 7 s). nghttp -s prints "id responseEnd requestStart process code size path".
    start = time.monotonic()
    out = subprocess.run(["nghttp", "-n", "-s", "-t", "30", "-H", f":authority: {h('paced')}",
                          f"http://127.0.0.1:{port}/big/{size}?1",
                          f"http://127.0.0.1:{port}/big/{size}?2"],
                         capture_output=True, timeout=40).stdout.decode()
    took2 = time.monotonic() - start
    got2 = [int(w[4]) for w in (line.split() for line in out.splitlines())
            if len(w) == 7 and w[6].startswith("/big/")]
    check(got2 == [200, 200] and 2.9 <= took2 < 6.5,
          f"limit-rate per HTTP/2 stream: {got2} {took2:.2f} s\n{out}")
    got3, took3 = curl_timed([f"http://{h('paced-after')}:{port}/big/{size}"], [],
                             f"{h('paced-after')}:{port}:127.0.0.1")
    check(got3 == [(200, size)] and took3 < 2.5, f"limit-rate-after: {got3} {took3:.2f} s")
    say(f"limit-rate 50: 200 KB in {took:.2f} s (HTTP/1.1), two HTTP/2 streams in {took2:.2f} s; "
        f"limit-rate-after 150: {took3:.2f} s")

    # upstream-hash-by-subset (ingress-nginx's e2e: six pods, subsets of 3): one URI reaches
    # exactly the three backends of its subset; other URIs reach others.
    same = {request(port, h("subset"), "/same")[2]["backend"] for _ in range(60)}
    check(len(same) == 3, f"upstream-hash-by-subset: /same reached {sorted(same)}, want 3")
    seen = set()
    for i in range(16):
        seen |= {request(port, h("subset"), f"/k/{i}")[2]["backend"] for _ in range(6)}
    check(len(seen) > 3, f"upstream-hash-by-subset: every URI on one subset {sorted(seen)}")
    say("upstream-hash-by-subset: a URI spreads over its subset of 3 of 6 backends")


def test(env):
    port = ie2e.port_free_on([ECHO, FLAKY, TLS_ECHO, ERRORS, BLACKHOLE, *MORE_ECHOES, AUTH])
    servers = []
    for address in (ECHO, FLAKY, TLS_ECHO, ERRORS, *MORE_ECHOES):
        servers.append(EchoServer((address, port), Echo))
    # A listener that never accepts, its accept queue filled: further connections hang in
    # SYN-SENT (the kernel drops their SYNs), as to a backend that does not answer.
    blackhole = socket.socket()
    blackhole.bind((BLACKHOLE, port))
    blackhole.listen(0)
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex((BLACKHOLE, port))
        fillers.append(f)
    servers.append(EchoServer((AUTH, port), Auth))
    backend = os.path.join(env.tmp, "backend")
    backend_crt, backend_key, _ = ie2e.make_cert(backend, "backend.compat.internal",
                                                 ["backend.compat.internal"])
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.path.join(backend, "tls.crt"), os.path.join(backend, "tls.key"))
    servers[2].socket = tls.wrap_socket(servers[2].socket, server_side=True)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        manifests = os.path.join(env.tmp, "manifests")
        os.makedirs(manifests)
        crt, key, _ = ie2e.make_cert(os.path.join(env.tmp, "cert"), h("ssl"),
                                     [h("ssl"), h("ssl-off"), h("basic-h2"), h("errors"),
                                      h("ext-auth-h2"), *CLIENT_CERT_HOSTS])
        client_certs = make_client_certs(os.path.join(env.tmp, "client-certs"))
        with open(client_certs["ca"][0]) as f:
            client_ca = opaque_secret("client-ca", {"ca.crt": f.read()})
        header_map = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "custom-headers", "namespace": "default"},
                      "data": {"My-Custom-Header": "42", "My-Custom-Header-Dollar": "$remote_addr"}}
        objects = [
            {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
             "metadata": {"name": "nginx"}, "spec": {"controller": "kop.dev/ingress-controller"}},
            ie2e.service("echo"), ie2e.endpoint_slice("echo-1", "echo", [ECHO], port),
            ie2e.service("pair"), ie2e.endpoint_slice("pair-1", "pair", [ECHO, FLAKY], port),
            ie2e.service("canary"), ie2e.endpoint_slice("canary-1", "canary", [FLAKY], port),
            ie2e.service("errors"), ie2e.endpoint_slice("errors-1", "errors", [ERRORS], port),
            ie2e.service("idle"),
            ie2e.service("pair2"), ie2e.endpoint_slice("pair2-1", "pair2", [ECHO, FLAKY], port),
            ie2e.service("blackhole"),
            ie2e.endpoint_slice("blackhole-1", "blackhole", [BLACKHOLE], port),
            ie2e.service("auth"), ie2e.endpoint_slice("auth-1", "auth", [AUTH], port),
            h2c_service("auth-h2c"), ie2e.endpoint_slice("auth-h2c-1", "auth-h2c", [AUTH], port),
            *EXT_AUTH_INGRESSES, *ext_auth_ingresses(port),
            ie2e.service("tls-echo"),
            ie2e.endpoint_slice("tls-echo-1", "tls-echo", [TLS_ECHO], port),
            ie2e.service("six"),
            ie2e.endpoint_slice("six-1", "six", [ECHO, FLAKY, *MORE_ECHOES], port),
            header_map,
            # ingress-nginx's proxy-ssl-secret: a TLS Secret with ca.crt (tls.crt + tls.key,
            # here the backend's own pair, are the client certificate the proxy may present).
            {**ie2e.tls_secret("backend-ca", backend_crt, backend_key),
             "data": {"tls.crt": base64.b64encode(backend_crt).decode(),
                      "tls.key": base64.b64encode(backend_key).decode(),
                      "ca.crt": base64.b64encode(backend_crt).decode()}},
            *BACKEND_TLS_INGRESSES,
            ie2e.tls_secret("compat-tls", crt, key),
            opaque_secret("basic-auth", {"auth": HTPASSWD}),
            opaque_secret("users", {"ann": BCRYPT_S3CRET}), *INGRESSES,
            client_ca, *CLIENT_CERT_INGRESSES]
        for i, o in enumerate(objects):
            with open(os.path.join(manifests, f"{i:02d}.yaml"), "w") as f:
                json.dump(o, f)  # JSON is YAML

        http_port, https_port, admin, metrics = (ie2e.free_port() for _ in range(4))
        proc = env.start("kop-ingress", [
            env.binary("operators/ingress/cmd/kop-ingress"), "--manifests", manifests,
            "--http-addr", f"127.0.0.1:{http_port}", "--https-addr", f"127.0.0.1:{https_port}",
            "--admin-addr", f"127.0.0.1:{admin}", "--metrics-addr", f"127.0.0.1:{metrics}",
            "--ingress-class", "nginx", "--workers", "2"])

        def served():
            check(proc.poll() is None, "kop-ingress exited:\n" + env.log("kop-ingress"))
            return request(http_port, h("canary"), "/")[0] == 200

        wait_for("the Ingresses to be served", served, 30)
        cases(http_port, https_port)
        ext_auth_cases(http_port, https_port)
        client_cert_cases(http_port, https_port, client_certs)
        backend_tls_cases(http_port)
        error_cases(http_port, https_port)
        timeout_cases(http_port)
        affinity_cases(http_port)
        misc_cases(http_port, https_port,
                   header_map, os.path.join(manifests, f"{objects.index(header_map):02d}.yaml"))
        # bad-snippet: configuration-snippet + enable-opentelemetry; bad-range:
        # whitelist-source-range.
        _, _, _ = request(http_port, h("canary"), "/")
        c = http.client.HTTPConnection("127.0.0.1", metrics, timeout=5)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        check("\nkop_ingress_nginx_annotations_ignored 3\n" in text,
              "kop_ingress_nginx_annotations_ignored is not 3")
        say("the ignored annotations are counted in kop_ingress_nginx_annotations_ignored")
        counts = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                  if line.startswith("kop_proxy_ext_auth_")}
        check(counts.get("kop_proxy_ext_auth_cached_total", 0) >= 6 and
              counts.get("kop_proxy_ext_auth_failed_total", 0) >= 3 and
              counts.get("kop_proxy_ext_auth_denied_total", 0) >= 4 and
              counts.get("kop_proxy_ext_auth_allowed_total", 0) >= 8,
              f"external authentication metrics: {counts}")
        say("external authentication is counted in kop_proxy_ext_auth_*_total")
    finally:
        for s in servers:
            s.shutdown()
        for f in fillers:
            f.close()
        blackhole.close()


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
