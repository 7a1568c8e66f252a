"""The conformance harness: kop-ingress --manifests with --api-addr, echo pods on loopback, and
the upstream suite's checks (status conditions read back over the REST API, requests sent to
each Gateway's own front door with the three-in-a-row rule).

Against an API server (Run(kubeconfig=...), run.py --kubeconfig): the objects are applied with
kubectl (server-side apply) and deleted at each test's end; kop-ingress runs with --kubeconfig
and --gateway-service-type ClusterIP, so each Gateway's front doors are the internal ports its
Service maps (kop-ingress on loopback is the "pod" behind it): requests go to 127.0.0.1 and that
targetPort, with the Gateway's address as Host. KOP_CONFORMANCE_PREFIX=NAME gives the run names
of its own (namespaces NAME-conformance-infra..., GatewayClass NAME-conformance, controller
kop.dev/NAME-conformance), so a shared server's other objects are never touched.

Timing follows the upstream suite at v1.6.1: a request result counts after it is seen
REQUIRED_CONSECUTIVE times in a row within MAX_TIME_TO_CONSISTENCY; status waits use the
upstream timeouts (TIMEOUTS). A test that is not claimed runs with every wait capped at
UNCLAIMED_CAP seconds, so what is known not to work costs little CI time; its result is still
reported.
"""
import base64
import http.client
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.parse

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
# Free loopback ports, as every kop e2e test finds them (tests/e2e/ingress/ie2e.py).
sys.path.insert(0, os.path.join(HERE, "..", "..", "ingress"))
import ie2e  # noqa: E402
from ie2e import Failure, free_port, port_free_on, say  # noqa: E402
_PREFIX = os.environ.get("KOP_CONFORMANCE_PREFIX", "")
INFRA_NS = f"{_PREFIX}-conformance-infra" if _PREFIX else "gateway-conformance-infra"
APP_NS = f"{_PREFIX}-conformance-app-backend" if _PREFIX else "gateway-conformance-app-backend"
WEB_NS = f"{_PREFIX}-conformance-web-backend" if _PREFIX else "gateway-conformance-web-backend"
CONTROLLER = f"kop.dev/{_PREFIX}-conformance" if _PREFIX else "kop.dev/gateway-controller"
GATEWAY_CLASS = f"{_PREFIX}-conformance" if _PREFIX else "kop-conformance"
# kop-ingress' own namespace against an API server: its Lease and the Gateways' Services.
SYSTEM_NS = f"{_PREFIX}-conformance-system" if _PREFIX else "kop-conformance-system"
GROUP = "gateway.networking.k8s.io"


def base_yaml():
    """base.yaml with the run's names (KOP_CONFORMANCE_PREFIX)."""
    with open(os.path.join(HERE, "base.yaml")) as f:
        text = f.read()
    for old, new in (("gateway-conformance-infra", INFRA_NS),
                     ("gateway-conformance-app-backend", APP_NS),
                     ("gateway-conformance-web-backend", WEB_NS),
                     ("kop.dev/gateway-controller", CONTROLLER),
                     ("{name: kop-conformance}", "{name: " + GATEWAY_CLASS + "}"),
                     ("gatewayClassName: kop-conformance\n",
                      f"gatewayClassName: {GATEWAY_CLASS}\n")):
        text = text.replace(old, new)
    return text

# Upstream conformance/utils/config defaults, in seconds.
TIMEOUTS = {
    "create": 60, "delete": 10, "get": 10, "gateway_address": 180, "gateway_condition": 180,
    "gateway_listeners": 60, "gwc_accepted": 180, "route_no_parents": 60,
    "route_condition": 60, "route_parents": 60, "consistency": 30, "request": 10,
    "latest_generation": 60, "default": 60,
}
REQUIRED_CONSECUTIVE = 3
POLL = 0.1
UNCLAIMED_CAP = 8.0

# The echo pods standing in for the Deployments of the base manifests: (namespace, name, the
# Service's port names, mode). Mode "tls" serves HTTPS with tls-checks-certificate, "tcp-tls"
# the TCP test server over TLS with tls-passthrough-checks-certificate. A port name ending in
# "@h2c" is served by the pod's h2c echo on a port of its own (needs python3-h2; without it that
# port name points at the HTTP/1 echo, which answers HTTP/2 prior knowledge with an error); one
# ending in "@tcp" by the pod's TCP test server in plain text, on a port of its own; one ending
# in "@grpc" by the pod's gRPC echo (grpc_pods.py, needs python3-grpcio), on a port of its own.
PODS = [
    (INFRA_NS, "infra-backend-v1", ["first-port", "second-port@h2c", "third-port"], ""),
    (INFRA_NS, "infra-backend-v2", [""], ""),
    (INFRA_NS, "infra-backend-v3", [""], ""),
    (APP_NS, "app-backend-v1", [""], ""),
    (APP_NS, "app-backend-v2", [""], ""),
    (WEB_NS, "web-backend", [""], ""),
    (INFRA_NS, "tls-backend", [""], "tls"),
    (INFRA_NS, "tls-backend-2", [""], "tls"),
    (APP_NS, "tls-backend", [""], "tls"),
    (INFRA_NS, "tcp-backend", ["echo-tcp-plain@tcp", "echo-tcp-tls"], "tcp-tls"),
    (INFRA_NS, "grpc-infra-backend-v1", ["@grpc"], ""),
    (INFRA_NS, "grpc-infra-backend-v2", ["@grpc"], ""),
    (INFRA_NS, "grpc-infra-backend-v3", ["@grpc"], ""),
]


class Skip(Exception):
    pass


def make_cert(out_dir, name, sans):
    """A self-signed certificate for the DNS names sans; returns (crt_pem, key_pem)."""
    crt, key = os.path.join(out_dir, name + ".crt"), os.path.join(out_dir, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-sha256", "-subj", f"/CN={sans[0]}",
                    "-addext", "subjectAltName=" + ",".join("DNS:" + s for s in sans),
                    "-keyout", key, "-out", crt],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(crt, "rb") as f, open(key, "rb") as g:
        return f.read(), g.read()


# The listener ports the tests use, and how many Gateways one run has at once (each gets the
# next 127.0.1.x address): a run picks a port offset under which all of them are free, so two
# runs on one machine (two developers, or CI beside a developer) do not collide.
LISTENER_PORTS = (80, 81, 443, 1111, 8080, 8090, 8443)
GATEWAY_ADDRESSES = 24


def pick_offset():
    for _ in range(40):
        offset = random.randrange(10000, 50000, 100)
        hosts = [f"127.0.1.{i}" for i in range(1, GATEWAY_ADDRESSES + 1)]
        try:
            for port in LISTENER_PORTS:
                for h in hosts:
                    with socket.socket() as s:
                        s.bind((h, port + offset))
            return offset
        except OSError:
            continue
    raise Failure("no gateway port offset with every listener port free")


def make_ca(out_dir):
    """A CA certificate and key (files); returns (crt_path, key_path, crt_pem)."""
    crt, key = os.path.join(out_dir, "ca.crt"), os.path.join(out_dir, "ca.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-sha256", "-subj", "/CN=kop conformance CA",
                    "-addext", "basicConstraints=critical,CA:true",
                    "-keyout", key, "-out", crt],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(crt, "rb") as f:
        return crt, key, f.read()


def make_signed(out_dir, name, sans, ca):
    """A certificate for sans (DNS names, or URIs with a scheme) signed by ca; returns
    (crt_path, key_path, crt_pem, key_pem)."""
    crt, key, csr = (os.path.join(out_dir, name + ext) for ext in (".crt", ".key", ".csr"))
    ext = os.path.join(out_dir, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join(("URI:" if "://" in s else "DNS:") + s
                                             for s in sans) + "\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={sans[0]}",
                    "-keyout", key, "-out", csr],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
                    "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", crt],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(crt, "rb") as f, open(key, "rb") as g:
        return crt, key, f.read(), g.read()


def tls_secret(ns, name, crt, key):
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": ns},
            "data": {"tls.crt": base64.b64encode(crt).decode(),
                     "tls.key": base64.b64encode(key).decode()}}


# ---- the REST API of kop-ingress (--api-addr) ------------------------------------------------

PLURALS = {"Gateway": "gateways", "GatewayClass": "gatewayclasses", "HTTPRoute": "httproutes",
           "GRPCRoute": "grpcroutes", "TLSRoute": "tlsroutes",
           "BackendTLSPolicy": "backendtlspolicies",
           "ReferenceGrant": "referencegrants", "Service": "services", "Secret": "secrets",
           "ConfigMap": "configmaps",
           "Namespace": "namespaces", "EndpointSlice": "endpointslices"}


def api_path(kind, ns, name, api_version=None):
    plural = PLURALS[kind]
    if kind in ("Service", "Secret", "Namespace", "ConfigMap"):
        base = "/api/v1"
    elif kind == "EndpointSlice":
        base = "/apis/discovery.k8s.io/v1"
    elif kind == "ReferenceGrant":
        base = f"/apis/{GROUP}/v1beta1"
    else:
        base = f"/apis/{api_version or GROUP + '/v1'}"
    if kind in ("GatewayClass", "Namespace"):
        return f"{base}/{plural}/{name}"
    return f"{base}/namespaces/{ns}/{plural}/{name}"


class Api:
    """GETs against a Kubernetes API (kop-ingress' kubectl-compatible one, or an API server),
    with the current context of a kubeconfig: a bearer token or a client certificate."""

    def __init__(self, kubeconfig_text, tmp):
        cfg = yaml.safe_load(kubeconfig_text)
        context = next((c["context"] for c in cfg.get("contexts") or []
                        if c["name"] == cfg.get("current-context")), None)
        cluster = next((c["cluster"] for c in cfg["clusters"]
                        if not context or c["name"] == context["cluster"]))
        user = next((u["user"] for u in cfg["users"]
                     if not context or u["name"] == context["user"]))
        url = urllib.parse.urlsplit(cluster["server"])
        self.host, self.port = url.hostname, url.port
        self.token = user.get("token")
        self.ctx = None
        if url.scheme == "https":
            self.ctx = ssl.create_default_context()
            if "certificate-authority-data" in cluster:
                ca = os.path.join(tmp, "api-ca.crt")
                with open(ca, "wb") as f:
                    f.write(base64.b64decode(cluster["certificate-authority-data"]))
                self.ctx.load_verify_locations(ca)
            if cluster.get("insecure-skip-tls-verify"):
                self.ctx.check_hostname = False
                self.ctx.verify_mode = ssl.CERT_NONE
            if "client-certificate-data" in user:
                pem = os.path.join(tmp, "api-client.pem")
                fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(base64.b64decode(user["client-certificate-data"]))
                    f.write(base64.b64decode(user["client-key-data"]))
                self.ctx.load_cert_chain(pem)

    def get_path(self, path, what):
        """The JSON at path, or None when it does not exist."""
        if self.ctx:
            c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=10)
        else:
            c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            headers = {"Authorization": "Bearer " + self.token} if self.token else {}
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            body = r.read()
            if r.status == 404:
                return None
            if r.status != 200:
                raise Failure(f"GET {what}: {r.status} {body[:200]!r}")
            return json.loads(body)
        finally:
            c.close()

    def get(self, kind, ns, name):
        """The object, or None when it does not exist."""
        obj = self.get_path(api_path(kind, ns, name), f"{kind} {ns}/{name}")
        if obj is None and kind == "EndpointSlice":  # a server before 1.21: v1beta1 only
            obj = self.get_path(api_path(kind, ns, name).replace("/v1/", "/v1beta1/"),
                                f"{kind} {ns}/{name}")
        return obj


# ---- conditions ---------------------------------------------------------------------------------

def find_condition(conditions, ctype, status=None, reason=None):
    for c in conditions or []:
        if c.get("type") == ctype and (status is None or c.get("status") == status) and \
                (reason is None or c.get("reason") == reason):
            return True
    return False


def stale(obj, conditions):
    gen = obj.get("metadata", {}).get("generation")
    return [c["type"] for c in conditions or [] if c.get("observedGeneration") != gen]


def describe(conditions):
    return ", ".join(f"{c.get('type')}={c.get('status')}/{c.get('reason')}"
                     for c in conditions or []) or "none"


# ---- requests -------------------------------------------------------------------------------------

def expect(path="/", **kw):
    """One expected exchange, in the upstream ExpectedResponse's terms:
    host, method, headers (request); status (int or list); backend (pod name prefix), namespace;
    req_path, req_host, req_method, req_headers, req_absent (what reaches the backend);
    resp_headers, resp_absent (what comes back); redirect=dict(scheme, host, port, path);
    req_sni (the SNI the backend was reached with: a TLS backend's echo reports it);
    backend_set_headers (asks the echo backend to set response headers)."""
    kw["path"] = path
    return kw


class _SniConnection(http.client.HTTPSConnection):
    """http.client names the connect address in SNI; this names the request's host."""

    def __init__(self, address, port, sni, context, timeout):
        super().__init__(address, port, timeout=timeout, context=context)
        self.sni = sni

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.sni)


class Gateway:
    """A Gateway's front door: its address from status, its listener port as written, and where
    a client connects for it: address and port + offset under --manifests, else what `resolve`
    (a listener port -> (host, port)) says."""

    def __init__(self, ns, name, address, port, offset, resolve=None):
        self.ns, self.name, self.address, self.port, self.offset = ns, name, address, port, offset
        self.resolve = resolve

    def logical(self):
        return self.address if self.port == 80 else f"{self.address}:{self.port}"

    def dial(self):
        """(host, port) to connect to; OSError when the listener port is not served."""
        if self.resolve:
            return self.resolve(self.port)
        return self.address, self.port + self.offset

    def target(self):
        host, port = self.dial()
        return f"{host}:{port}"


def h2c_round_trip(gw, e, timeout):
    """e's request as HTTP/2 with prior knowledge (curl), the upstream H2C_PRIOR_KNOWLEDGE
    protocol; same result shape as round_trip."""
    host = e.get("host") or gw.logical()
    argv = ["curl", "-sS", "--http2-prior-knowledge", "-D", "-", "-o", "-", "--max-time",
            str(timeout), "-X", e.get("method", "GET"), "-H", f"Host: {host}"]
    for name, value in (e.get("headers") or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(f"http://{gw.target()}{e['path']}")
    r = subprocess.run(argv, capture_output=True, timeout=timeout + 5)
    if r.returncode != 0:
        raise OSError(f"curl: {r.stderr.decode(errors='replace').strip()}")
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k, v = k.strip().lower(), v.strip()
        headers[k] = headers[k] + "," + v if k in headers else v
    echo = None
    if status in (200, 204) and body.startswith(b"{"):
        try:
            echo = json.loads(body)
        except ValueError:
            echo = None
    return status, headers, echo, body


def round_trip(gw, e, timeout):
    """Sends e's request to gw; returns (status, response headers {lower: joined}, echo dict
    or None, body). With e["tls"] = PEM of the expected server certificate, the request goes
    over TLS with SNI e["sni"] (default: the host) and that certificate as the only trust;
    with e["protocol"] = "h2c" as HTTP/2 with prior knowledge."""
    if e.get("protocol") == "h2c":
        return h2c_round_trip(gw, e, timeout)
    host = e.get("host") or gw.logical()
    if e.get("tls"):
        ctx = ssl.create_default_context(cadata=e["tls"].decode())
        # The conformance certificates carry names like "*.org", which OpenSSL's host check
        # refuses; the chain is still checked against the one certificate we trust.
        ctx.check_hostname = False
        c = _SniConnection(*gw.dial(), e.get("sni", host.split(":")[0]), ctx, timeout)
    else:
        c = http.client.HTTPConnection(*gw.dial(), timeout=timeout)
    try:
        c.putrequest(e.get("method", "GET"), e["path"], skip_host=True,
                     skip_accept_encoding=True)
        c.putheader("Host", host)
        c.putheader("User-Agent", "kop-conformance")
        for name, value in (e.get("headers") or {}).items():
            c.putheader(name, value)
        sets = e.get("backend_set_headers") or {}
        c.putheader("X-Echo-Set-Header", ",".join(f"{k}:{v}" for k, v in sets.items()))
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        headers = {}
        for k, v in r.getheaders():
            headers[k.lower()] = headers[k.lower()] + "," + v if k.lower() in headers else v
        echo = None
        if r.status in (200, 204) and body.startswith(b"{"):
            try:
                echo = json.loads(body)
            except ValueError:
                echo = None
        return r.status, headers, echo, body
    finally:
        c.close()


def _response_headers(e, headers):
    """Upstream's response header checks: valid_resp_headers (one of several values),
    resp_headers (exact), resp_absent; ignore_ws drops spaces before comparing."""
    def norm(v):
        return v.replace(" ", "") if e.get("ignore_ws") else v
    for name, values in (e.get("valid_resp_headers") or {}).items():
        got = headers.get(name.lower())
        if got is None or norm(got) not in [norm(v) for v in values]:
            return f"response {name}: {got!r}, want one of {values}"
    for name, value in (e.get("resp_headers") or {}).items():
        got = headers.get(name.lower())
        if got is None or norm(got) != norm(value):
            return f"response {name}: {got!r}, want {value!r}"
    for name in e.get("resp_absent", []):
        if name.lower() in headers:
            return f"response has {name}: {headers[name.lower()]!r}, want it absent"
    return None


def compare(gw, e, status, headers, echo):
    """None when the exchange meets e, else why not (the upstream CompareRoundTrip rules)."""
    want = e.get("status", 200)
    want = want if isinstance(want, list) else [want]
    if status not in want:
        return f"status {status}, want one of {want}"
    if status in (200, 204) and e.get("gateway_answer"):
        # Answered by the gateway itself (a CORS preflight): nothing may reach a backend.
        if echo is not None:
            return f"answered by backend pod {echo.get('pod')!r}, want the gateway's own answer"
        return _response_headers(e, headers)
    if status in (200, 204):
        if echo is None:
            return "no echo body from a backend"
        req_path = e.get("req_path", e["path"])
        if echo.get("path") != req_path:
            return f"backend saw path {echo.get('path')!r}, want {req_path!r}"
        req_method = e.get("req_method", e.get("method", "GET"))
        if echo.get("method") != req_method:
            return f"backend saw method {echo.get('method')}, want {req_method}"
        if "req_host" in e and echo.get("host") != e["req_host"]:
            return f"backend saw host {echo.get('host')!r}, want {e['req_host']!r}"
        if "req_sni" in e and (echo.get("tls") or {}).get("serverName") != e["req_sni"]:
            return (f"backend reached with SNI {(echo.get('tls') or {}).get('serverName')!r}, "
                    f"want {e['req_sni']!r}")
        if echo.get("namespace") != e.get("namespace", ""):
            return f"backend namespace {echo.get('namespace')!r}, want {e.get('namespace')!r}"
        if not echo.get("pod", "").startswith(e.get("backend", "")):
            return f"answered by pod {echo.get('pod')!r}, want {e.get('backend')!r}"
        # Header names are case-insensitive: lines named X-A and x-a are one header whose
        # values join in order (Go's canonical names do this for the upstream suite).
        merged = {}
        for k, v in (echo.get("headers") or {}).items():
            merged.setdefault(k.lower(), []).extend(v)
        got = {k: ",".join(v) for k, v in merged.items()}
        want_req = e.get("req_headers")
        if want_req is None and "req_path" not in e:
            want_req = e.get("headers")
        for name, value in (want_req or {}).items():
            if got.get(name.lower()) != value:
                return f"backend saw {name}: {got.get(name.lower())!r}, want {value!r}"
        for name in e.get("req_absent", []):
            if name.lower() in got:
                return f"backend saw {name}: {got[name.lower()]!r}, want it absent"
        why = _response_headers(e, headers)
        if why:
            return why
    elif status in (301, 302, 303, 307, 308) and "redirect" in e:
        loc = urllib.parse.urlsplit(headers.get("location", ""))
        r = e["redirect"]
        got_host = loc.hostname or ""
        want_host = r.get("host", got_host)
        if got_host != want_host:
            return f"redirect host {got_host!r}, want {want_host!r}"
        got_port = str(loc.port) if loc.port else ""
        scheme = r.get("scheme", "http")
        if "port" in r:
            if got_port != r["port"]:
                return f"redirect port {got_port!r}, want {r['port']!r}"
        elif scheme == "http" and got_port not in ("", "80"):
            return f"redirect port {got_port!r}, want 80 or none"
        elif scheme == "https" and got_port not in ("", "443"):
            return f"redirect port {got_port!r}, want 443 or none"
        if loc.scheme != scheme:
            return f"redirect scheme {loc.scheme!r}, want {scheme!r}"
        want_path = r.get("path", urllib.parse.urlsplit(e["path"]).path)
        if loc.path != want_path:
            return f"redirect path {loc.path!r}, want {want_path!r}"
    return None


# ---- a run ----------------------------------------------------------------------------------------

def _free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _drop_empty_groups(v):
    """`group: ""` left out (unset means the core group too): the real API server tool's
    kube-apiserver reads "" in a custom resource as null and refuses it (docs/real-apiserver.md).
    ReferenceGrants and BackendTLSPolicies, where the field is required, are sent as written
    (and refused there)."""
    if isinstance(v, dict) and v.get("kind") in ("ReferenceGrant", "BackendTLSPolicy"):
        return v
    if isinstance(v, dict):
        return {k: _drop_empty_groups(x) for k, x in v.items()
                if not (k == "group" and x == "" and "kind" in v and "name" in v)}
    if isinstance(v, list):
        return [_drop_empty_groups(x) for x in v]
    return v


def _server_form(obj, v1_slices):
    """An object as the API server takes it: EndpointSlices as v1beta1 where v1 is not served
    (Kubernetes before 1.21), references without an empty group."""
    obj = _drop_empty_groups(obj)
    if obj["kind"] == "EndpointSlice" and not v1_slices:
        obj = dict(obj, apiVersion="discovery.k8s.io/v1beta1")
    return obj


def experimental_crds():
    """The Gateway API experimental channel's CRDs the project ships (scripts/gen-gateway-crds)."""
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE)))),
                          "crds", "gateway-api", "experimental")
    crds = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".yaml"):
            with open(os.path.join(folder, name)) as f:
                crds.extend(d for d in yaml.safe_load_all(f) if d)
    return crds


class Run(ie2e.Env):
    """The processes of one conformance run (started, logged and found as every kop e2e test
    does: ie2e.Env) and the checks the tests call."""

    def __init__(self, build_dir, keep=False, kubeconfig=None):
        super().__init__(build_dir, "conformance")
        self.manifests = os.path.join(self.tmp, "manifests")
        os.makedirs(self.manifests)
        self.keep = keep
        self.kubeconfig = kubeconfig  # an API server's; None: --manifests
        self.in_server = {}  # kubectl mode: file name -> [(apiVersion, kind, ns, name)] applied
        self.front_doors = {}  # kubectl mode: (ns, gateway) -> {listener port: internal port}
        self.cap = None  # seconds; every wait is capped at this when set (unclaimed tests)
        self.offset = 10000
        self.applied = []  # (kind, ns, name) of the current test's objects
        self.log_lines = []

    def close(self):
        if self.kubeconfig and getattr(self, "_v1_slices", None) is not None:
            # What the run made on the server goes (its namespaces stay: without a
            # controller-manager they would never finish terminating).
            for name in list(self.in_server):
                self.server_delete(self.in_server.pop(name))
            self.kubectl("delete", "services", "-n", SYSTEM_NS, "--ignore-not-found",
                         "--wait=false", "-l", "app.kubernetes.io/managed-by=kop-ingress")
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        rc_ok = True
        for name, p in reversed(self.procs):
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if name == "kop-ingress" and p.returncode not in (0, -signal.SIGTERM):
                say(f"kop-ingress exited with {p.returncode}")
                rc_ok = False
        if not rc_ok or self.keep:
            say("---- kop-ingress log (last 30 lines)")
            print("\n".join(self.log("kop-ingress").splitlines()[-30:]), flush=True)
        if self.keep:
            say(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return rc_ok

    def timeout(self, key):
        t = TIMEOUTS[key]
        return min(t, self.cap) if self.cap else t

    def wait(self, what, fn, key):
        """Polls fn (returns (done, detail)) until done, or fails after TIMEOUTS[key]."""
        limit = self.timeout(key)
        end = time.monotonic() + limit
        detail = None
        while True:
            self.check_alive()
            try:
                done, detail = fn()
            except (OSError, http.client.HTTPException) as e:
                done, detail = False, repr(e)
            if done:
                return detail
            if time.monotonic() >= end:
                raise Failure(f"{what}: not after {limit:.0f} s ({detail})")
            time.sleep(POLL)

    def check_alive(self):
        for name, p in self.procs:
            if p.poll() is not None:
                raise Failure(f"{name} exited ({p.returncode}):\n" + self.log(name)[-2000:])

    # -- set-up
    def port_of(self, port_name):
        """The pod port serving a Service port name of PODS."""
        if port_name.endswith("@h2c"):
            return self.h2c_port or self.pod_port
        if port_name.endswith("@grpc"):
            return self.grpc_port
        return self.tcp_port if port_name.endswith("@tcp") else self.pod_port

    def start_all(self, extra_args=()):
        # Certificates first: the TLS pods serve them.
        self.ca = make_ca(self.tmp)
        checks = make_signed(self.tmp, "tls-checks", ["abc.example.com",
                                                      "spiffe://abc.example.com/test-identity",
                                                      "other.example.com"], self.ca)
        passthrough = make_signed(self.tmp, "passthrough", ["abc.example.com"], self.ca)
        self.ca_pem = self.ca[2]
        pods, specs, addresses = [], [], []
        for i, _ in enumerate(PODS):
            addresses.append(f"127.0.2.{i + 1}")
        self.pod_port = port_free_on(addresses)
        for (ns, name, _, mode), address in zip(PODS, addresses):
            # Named as a Deployment's pods are (name-<hash>-<hash>): the weight checks take
            # the backend name as the pod name without its last two parts, as upstream does.
            spec = f"{ns}/{name}-pod-0@{address}:{self.pod_port}"
            if mode == "tls":
                spec += f"+tls={checks[0]},{checks[1]}"
            elif mode == "tcp-tls":
                spec += f"+tcp-tls={passthrough[0]},{passthrough[1]}"
            specs.append(spec)
            pods.append((ns, name, address))
        self.tcp_port = port_free_on(addresses)
        while self.tcp_port == self.pod_port:
            self.tcp_port = port_free_on(addresses)
        for (ns, name, port_names, _), address in zip(PODS, addresses):
            if any(n.endswith("@tcp") for n in port_names):
                specs.append(f"{ns}/{name}-pod-0@{address}:{self.tcp_port}+tcp")
        self.h2c_port = None
        if importlib.util.find_spec("h2") is not None:
            self.h2c_port = port_free_on(addresses)
            while self.h2c_port in (self.pod_port, self.tcp_port):
                self.h2c_port = port_free_on(addresses)
            for (ns, name, port_names, _), address in zip(PODS, addresses):
                if any(n.endswith("@h2c") for n in port_names):
                    specs.append(f"{ns}/{name}-pod-0@{address}:{self.h2c_port}+h2c")
        echo = self.start("echo", [sys.executable, os.path.join(HERE, "echo_backend.py"),
                                   *specs], stdout=subprocess.PIPE)
        line = echo.stdout.readline().decode().strip()
        if line != "ready":
            raise Failure("echo backends did not start: " + self.log("echo"))
        # The gRPC echo pods (GATEWAY-GRPC), in a process of their own.
        self.grpc_port = port_free_on(addresses)
        while self.grpc_port in (self.pod_port, self.tcp_port, self.h2c_port):
            self.grpc_port = port_free_on(addresses)
        grpc_specs = [f"{ns}/{name}-pod-0@{address}:{self.grpc_port}"
                      for (ns, name, port_names, _), address in zip(PODS, addresses)
                      if any(n.endswith("@grpc") for n in port_names)]
        if importlib.util.find_spec("grpc") is not None:
            pods_grpc = self.start("grpc-echo", [sys.executable,
                                                 os.path.join(HERE, "grpc_pods.py"), *grpc_specs],
                                   stdout=subprocess.PIPE)
            if pods_grpc.stdout.readline().decode().strip() != "ready":
                raise Failure("gRPC echo pods did not start: " + self.log("grpc-echo"))
        self.pods = pods

        objs = list(yaml.safe_load_all(base_yaml()))
        if self.kubeconfig:
            objs.insert(0, {"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": SYSTEM_NS}})
        for (ns, name, port_names, _), (_, _, address) in zip(PODS, pods):
            objs.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                         "metadata": {"name": name + "-x", "namespace": ns,
                                      "labels": {"kubernetes.io/service-name": name}},
                         "addressType": "IPv4",
                         "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
                         "ports": [{"name": n.split("@")[0], "port": self.port_of(n),
                                    "protocol": "TCP"} for n in port_names]})
        crt, key = make_cert(self.tmp, "validity", ["*", "*.org", "*.wildcard.org"])
        self.validity_cert = crt
        objs.append(tls_secret(INFRA_NS, "tls-validity-checks-certificate", crt, key))
        crt, key = make_cert(self.tmp, "web", ["*"])
        objs.append(tls_secret(WEB_NS, "certificate", crt, key))
        objs.append(tls_secret(INFRA_NS, "tls-checks-certificate", checks[2], checks[3]))
        for ns in (INFRA_NS, APP_NS):
            objs.append(tls_secret(ns, "tls-passthrough-checks-certificate", passthrough[2],
                                   passthrough[3]))
        terminate = make_signed(self.tmp, "terminate", ["tls.example.com"], self.ca)
        objs.append(tls_secret(INFRA_NS, "tls-terminate-checks-certificate", terminate[2],
                               terminate[3]))
        objs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "tls-checks-ca-certificate", "namespace": INFRA_NS},
                     "data": {"ca.crt": self.ca_pem.decode()}})
        # A CA that signed nothing the backends serve (BackendTLSPolicy's cert-mismatch).
        other = os.path.join(self.tmp, "mismatch-ca")
        os.makedirs(other, exist_ok=True)
        objs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "mismatch-ca-certificate", "namespace": INFRA_NS},
                     "data": {"ca.crt": make_ca(other)[2].decode()}})
        self.write("base", objs)
        if self.kubeconfig:
            return self.start_kop_ingress_on_server()
        # The experimental channel's CRDs over the built-in standard ones: the ported tests of
        # experimental features (HTTPRouteRetry's `retry`) need their fields kept, not pruned.
        self.write("crds-experimental", experimental_crds())

        self.offset = pick_offset()
        self.http_port = free_port()
        argv = [self.binary("operators/ingress/cmd/kop-ingress"), "--manifests", self.manifests,
                "--api-addr", "127.0.0.1:0", "--http-addr", f"127.0.0.1:{self.http_port}",
                "--https-addr", f"127.0.0.1:{free_port()}",
                "--admin-addr", f"127.0.0.1:{free_port()}",
                "--metrics-addr", f"127.0.0.1:{free_port()}",
                "--gateway-local-port-offset", str(self.offset), *extra_args]
        kubeconfig = os.path.join(self.tmp, "kubeconfig")
        out = open(kubeconfig, "wb")
        self.start("kop-ingress", argv, stdout=out)
        out.close()

        def printed():
            with open(kubeconfig) as f:
                text = f.read()
            return "current-context" in text and "token" in text, text
        text = self.wait("kop-ingress to print its kubeconfig", printed, "create")
        time.sleep(0.2)  # the rest of the document follows the line we saw
        with open(kubeconfig) as f:
            self.api = Api(f.read(), self.tmp)
        self.gatewayclass_accepted(GATEWAY_CLASS)

    def start_kop_ingress_on_server(self):
        """kop-ingress --kubeconfig: ClusterIP Services for the Gateways, front doors on
        127.0.0.1 ports of a free range, the run's own controller name, class and Lease."""
        base = None
        for _ in range(50):
            first = random.randrange(30000, 39000, 100)
            if all(_free(first + i) for i in range(100)):
                base = first
                break
        if base is None:
            raise Failure("no 100 free loopback ports for the front doors")
        self.offset = 0
        argv = [self.binary("operators/ingress/cmd/kop-ingress"), "--kubeconfig", self.kubeconfig,
                "--http-addr", f"127.0.0.1:{free_port()}", "--https-addr", f"127.0.0.1:{free_port()}",
                "--admin-addr", f"127.0.0.1:{free_port()}",
                "--metrics-addr", f"127.0.0.1:{free_port()}",
                "--ingress-class", GATEWAY_CLASS, "--watch-ingress-without-class=false",
                "--gateway-controller-name", CONTROLLER, "--gateway-service-type", "ClusterIP",
                "--gateway-port-range", f"{base}-{base + 99}",
                "--leader-election-namespace", SYSTEM_NS, "--workers", "1"]
        os.environ["POD_NAMESPACE"] = SYSTEM_NS  # where the Gateways' Services go
        self.start("kop-ingress", argv)
        with open(self.kubeconfig) as f:
            self.api = Api(f.read(), self.tmp)
        self.gatewayclass_accepted(GATEWAY_CLASS)

    def front_door(self, ns, name, port):
        """Against an API server: (127.0.0.1, the internal port) the Gateway's Service maps
        listener port `port` to; OSError while it maps none."""
        doors = self.front_doors.get((ns, name), {})
        if port not in doors:
            sel = urllib.parse.quote(f"gateway.kop.dev/namespace={ns},gateway.kop.dev/name={name}")
            svcs = self.api.get_path(f"/api/v1/namespaces/{SYSTEM_NS}/services?labelSelector={sel}",
                                     f"the Services of Gateway {ns}/{name}") or {}
            doors = {}
            for svc in svcs.get("items") or []:
                for p in svc["spec"].get("ports") or []:
                    doors[p["port"]] = p["targetPort"]
            self.front_doors[(ns, name)] = doors
        if port not in doors:
            raise OSError(f"the Service of Gateway {ns}/{name} maps no port {port}")
        return "127.0.0.1", doors[port]

    # -- objects
    def kubectl(self, *args, input_text=None):
        r = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args], input=input_text,
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def write(self, name, objs):
        if self.kubeconfig:
            return self.server_apply(name, objs)
        path = os.path.join(self.manifests, name + ".yaml")
        with open(path + ".tmp", "w") as f:
            yaml.safe_dump_all(objs, f, sort_keys=False)
        os.replace(path + ".tmp", path)

    def server_apply(self, name, objs):
        """The file's objects onto the API server as --manifests would have them: server-side
        apply of each, and deletion of those the file held before and holds no longer."""
        if not hasattr(self, "_v1_slices"):
            _, versions = self.kubectl("api-versions")
            self._v1_slices = "discovery.k8s.io/v1\n" in versions + "\n"
        docs = []
        for o in objs:
            o = _server_form(o, self._v1_slices)
            docs.append(o)
        keys = [(o["apiVersion"], o["kind"], o["metadata"].get("namespace", ""),
                 o["metadata"]["name"]) for o in docs]
        for key in self.in_server.get(name, []):
            if key not in keys:
                self.server_delete([key])
        self.in_server[name] = keys
        if not docs:
            return
        # Namespaces first, then the rest (kubectl sorts nothing).
        docs.sort(key=lambda o: o["kind"] != "Namespace")
        rc, out = self.kubectl("apply", "--server-side", "--force-conflicts",
                               "--field-manager=kop-conformance", "-f", "-",
                               input_text=yaml.safe_dump_all(docs, sort_keys=False))
        if rc != 0:
            refused = [line for line in out.splitlines()
                       if line.startswith(("Error", "error")) or " is invalid: " in line]
            raise Failure("kubectl apply: " + (refused[0] if refused else out.strip())[:400])

    def server_delete(self, keys):
        for api_version, kind, ns, name in keys:
            if kind == "Namespace":
                continue  # left: without a controller-manager it would never finish
            plural = PLURALS.get(kind, kind.lower() + "s")
            args = ["delete", "--ignore-not-found", "--wait=false",
                    f"{plural}.{api_version.split('/')[0]}" if "/" in api_version else plural,
                    name]
            if ns:
                args += ["-n", ns]
            self.kubectl(*args)

    def apply(self, test_name, objs):
        """The test's objects as one file in the manifests folder (replacing what was there)."""
        self.write("test-" + test_name, objs)
        keys = [(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
                for o in objs]
        for key in keys:
            if key not in self.applied:
                self.applied.append(key)
        # The objects of this file; one an earlier apply had and this one left out may
        # already be gone (waiting for it raced with kop-ingress reading the file).
        for kind, ns, name in keys:
            self.wait(f"{kind} {ns}/{name} to exist",
                      lambda: (self.api.get(kind, ns, name) is not None, None), "create")

    def cleanup(self, test_name):
        path = os.path.join(self.manifests, "test-" + test_name + ".yaml")
        if os.path.exists(path):
            os.remove(path)
        if self.kubeconfig:
            self.server_delete(self.in_server.pop("test-" + test_name, []))
        saved, self.cap = self.cap, None
        try:
            for kind, ns, name in self.applied:
                self.wait(f"{kind} {ns}/{name} to be deleted",
                          lambda: (self.api.get(kind, ns, name) is None, None), "delete")
        finally:
            self.cap = saved
            self.applied = []

    def get(self, kind, ns, name):
        obj = self.api.get(kind, ns, name)
        if obj is None:
            raise Failure(f"{kind} {ns}/{name} does not exist")
        return obj

    # -- status checks (upstream conformance/utils/kubernetes)
    def gatewayclass_accepted(self, name):
        def check():
            gwc = self.get("GatewayClass", "", name)
            conds = gwc.get("status", {}).get("conditions")
            return find_condition(conds, "Accepted", "True"), describe(conds)
        self.wait(f"GatewayClass {name} Accepted", check, "gwc_accepted")

    def gateway(self, ns, name, listener=None):
        """Waits for the Gateway's latest conditions and an address; its front door."""
        def check():
            gw = self.get("Gateway", ns, name)
            conds = gw.get("status", {}).get("conditions")
            if not conds or stale(gw, conds):
                return False, "conditions not at the latest generation: " + describe(conds)
            addrs = [a for a in gw["status"].get("addresses") or [] if a.get("type")]
            if not addrs:
                return False, "no status.addresses"
            ls = gw["spec"]["listeners"]
            lis = next((x for x in ls if x["name"] == listener), ls[0]) if listener else ls[0]
            if not self.kubeconfig:
                return True, Gateway(ns, name, addrs[0]["value"], lis["port"], self.offset)
            self.front_doors.pop((ns, name), None)  # the Service may have changed
            return True, Gateway(ns, name, addrs[0]["value"], lis["port"], 0,
                                 lambda port: self.front_door(ns, name, port))
        return self.wait(f"Gateway {ns}/{name} to have an address", check, "gateway_address")

    def gateway_condition(self, ns, name, ctype, status, reason=None):
        def check():
            gw = self.get("Gateway", ns, name)
            conds = gw.get("status", {}).get("conditions")
            ok = not stale(gw, conds) and find_condition(conds, ctype, status, reason)
            return ok, describe(conds)
        self.wait(f"Gateway {ns}/{name} {ctype}={status}/{reason}", check, "gateway_condition")

    def listeners_have(self, ns, name, conds, listeners=None):
        """Every listener (or those named) has each (type, status, reason) of conds."""
        def check():
            gw = self.get("Gateway", ns, name)
            st = {x["name"]: x for x in gw.get("status", {}).get("listeners") or []}
            for lname in listeners or [x["name"] for x in gw["spec"]["listeners"]]:
                got = st.get(lname, {}).get("conditions")
                for ctype, status, reason in conds:
                    if not find_condition(got, ctype, status, reason):
                        return False, f"listener {lname}: {describe(got)}"
            return True, None
        self.wait(f"Gateway {ns}/{name} listener conditions {conds}", check, "gateway_listeners")

    def listener_status(self, ns, name, expected):
        """status.listeners matches expected: [{name, kinds, attached, conditions}] with
        upstream's rules (same count; expected kinds present, none when none expected; kinds
        left out: not checked)."""
        def check():
            gw = self.get("Gateway", ns, name)
            actual = gw.get("status", {}).get("listeners") or []
            if len(actual) != len(expected):
                return False, f"{len(actual)} listener statuses, want {len(expected)}"
            for e in expected:
                a = next((x for x in actual if x.get("name") == e["name"]), None)
                if a is None:
                    return False, f"no status for listener {e['name']}"
                kinds = [(k.get("group", GROUP) or GROUP, k["kind"])
                         for k in a.get("supportedKinds") or []]
                if "kinds" in e and not e["kinds"] and kinds:
                    return False, f"listener {e['name']} supportedKinds {kinds}, want none"
                for k in e.get("kinds", []):
                    if (GROUP, k) not in kinds:
                        return False, f"listener {e['name']} supportedKinds {kinds} lacks {k}"
                if a.get("attachedRoutes") != e["attached"]:
                    return False, (f"listener {e['name']} attachedRoutes "
                                   f"{a.get('attachedRoutes')}, want {e['attached']}")
                for ctype, status, reason in e["conditions"]:
                    if not find_condition(a.get("conditions"), ctype, status, reason):
                        return False, f"listener {e['name']}: {describe(a.get('conditions'))}"
            return True, None
        self.wait(f"Gateway {ns}/{name} listener statuses", check, "gateway_listeners")

    def route_parents(self, kind, ns, name, gw_ns, gw_name, conds, section=None):
        """The route has a parent for the Gateway, set by us, with each of conds."""
        def check():
            r = self.get(kind, ns, name)
            parents = r.get("status", {}).get("parents") or []
            for p in parents:
                if stale(r, p.get("conditions")):
                    return False, "parent conditions not at the latest generation"
            seen = []
            for p in parents:
                ref = p.get("parentRef", {})
                if p.get("controllerName") != CONTROLLER:
                    continue
                if ref.get("group") != GROUP or ref.get("kind") != "Gateway":
                    seen.append(f"parentRef group/kind {ref.get('group')}/{ref.get('kind')}")
                    continue
                if ref.get("name") != gw_name:
                    continue
                if ref.get("namespace", ns if ns == gw_ns else None) != gw_ns:
                    seen.append(f"parentRef namespace {ref.get('namespace')}")
                    continue
                if section is not None and ref.get("sectionName") != section:
                    continue
                if all(find_condition(p.get("conditions"), *c) for c in conds):
                    return True, None
                seen.append(describe(p.get("conditions")))
            return False, "; ".join(seen) or "no parent status of ours"
        self.wait(f"{kind} {ns}/{name} parent {gw_ns}/{gw_name} {conds}", check,
                  "route_parents")

    def policy_condition(self, ns, name, gw_ns, gw_name, ctype, status, reason=None):
        """Upstream BackendTLSPolicyMustHaveCondition: every ancestor's conditions at the
        latest generation, and the one naming the Gateway has the condition (reason None:
        any)."""
        def check():
            p = self.get("BackendTLSPolicy", ns, name)
            ancestors = p.get("status", {}).get("ancestors") or []
            for a in ancestors:
                if stale(p, a.get("conditions")):
                    return False, "ancestor conditions not at the latest generation"
            seen = []
            for a in ancestors:
                ref = a.get("ancestorRef", {})
                if ref.get("name") == gw_name and ref.get("namespace", gw_ns) == gw_ns:
                    if find_condition(a.get("conditions"), ctype, status, reason):
                        return True, None
                    seen.append(describe(a.get("conditions")))
            return False, "; ".join(seen) or "no ancestor status for the Gateway"
        self.wait(f"BackendTLSPolicy {ns}/{name} ancestor {gw_ns}/{gw_name} "
                  f"{ctype}={status}/{reason}", check, "route_condition")

    def route_condition(self, kind, ns, name, gw_ns, gw_name, ctype, status, reason=None):
        self.route_parents(kind, ns, name, gw_ns, gw_name, [(ctype, status, reason)])

    def route_no_parents(self, kind, ns, name):
        """Upstream HTTPRouteMustHaveNoAcceptedParents: no parent, or none accepted."""
        def check():
            r = self.get(kind, ns, name)
            parents = r.get("status", {}).get("parents") or []
            if not parents:
                return True, None
            for p in parents:
                if find_condition(p.get("conditions"), "Accepted", "True"):
                    return False, "a parent is Accepted"
            return len(parents) == 1 and not stale(r, parents[0].get("conditions")), \
                describe(parents[0].get("conditions"))
        self.wait(f"{kind} {ns}/{name} to have no accepted parents", check, "route_no_parents")

    def gateway_zero_routes(self, ns, name):
        """Upstream GatewayMustHaveZeroRoutes: no listener status, or one with no routes."""
        def check():
            gw = self.get("Gateway", ns, name)
            st = gw.get("status", {})
            if stale(gw, st.get("conditions")):
                return False, "conditions not at the latest generation"
            ls = st.get("listeners") or []
            return not ls or (len(ls) == 1 and ls[0].get("attachedRoutes") == 0), \
                [x.get("attachedRoutes") for x in ls]
        self.wait(f"Gateway {ns}/{name} to have no attached routes", check, "gateway_listeners")

    def accepted(self, gw_ns, gw_name, routes, kind="HTTPRoute", listener=None):
        """Upstream GatewayAndRoutesMustBeAccepted: address, routes Accepted by the Gateway,
        every listener Accepted, Programmed, ResolvedRefs. Returns the Gateway's front door."""
        gw = self.gateway(gw_ns, gw_name, listener)
        for ns, name in routes:
            self.route_parents(kind, ns, name, gw_ns, gw_name, [("Accepted", "True", "Accepted")])
        self.listeners_have(gw_ns, gw_name, [("ResolvedRefs", "True", None),
                                             ("Accepted", "True", None),
                                             ("Programmed", "True", None)])
        return gw

    def resolved(self, ns, name, gw_ns, gw_name, kind="HTTPRoute"):
        self.route_condition(kind, ns, name, gw_ns, gw_name, "ResolvedRefs", "True",
                             "ResolvedRefs")

    # -- traffic
    def expect(self, gw, e, threshold=REQUIRED_CONSECUTIVE):
        """e is seen threshold times in a row within the consistency time. e may be a
        function making the expectation, for requests that must differ each time."""
        make = e if callable(e) else (lambda: e)
        limit = self.timeout("consistency")
        end = time.monotonic() + limit
        streak, why, attempts = 0, None, 0
        while True:
            attempts += 1
            cur = make()
            try:
                status, headers, echo, _ = round_trip(gw, cur, self.timeout("request"))
                why = compare(gw, cur, status, headers, echo)
            except (OSError, http.client.HTTPException) as ex:
                why = repr(ex)
            if why is None:
                streak += 1
                if streak >= threshold:
                    return
                continue
            streak = 0
            if time.monotonic() >= end:
                self.check_alive()
                raise Failure(f"{cur.get('method', 'GET')} {cur.get('host', '')}{cur['path']}: "
                              f"{why} (after {attempts} attempts in {limit:.0f} s)")
            time.sleep(POLL * 2)

    def expect_failure(self, gw, e, threshold=5):
        """Upstream MakeRequestAndExpectFailure: threshold answers in a row that are not 200
        (a 504 or a request that fails does not count); a 200 fails at once."""
        limit = self.timeout("consistency")
        end = time.monotonic() + limit
        streak, why = 0, None
        while True:
            try:
                status, _, _, _ = round_trip(gw, e, self.timeout("request"))
                if status == 200:
                    raise Failure(f"GET {e.get('host', '')}{e['path']}: 200, want a failure")
                why = f"status {status}"
                counted = status != 504
            except (OSError, http.client.HTTPException) as ex:
                why, counted = repr(ex), False
            streak = streak + 1 if counted else 0
            if streak >= threshold:
                return
            if time.monotonic() >= end:
                self.check_alive()
                raise Failure(f"GET {e.get('host', '')}{e['path']}: no consistent failure "
                              f"({why}) in {limit:.0f} s")
            time.sleep(POLL * 2)

    def expect_fresh(self, gw, make):
        self.expect(gw, make)

    def expect_once(self, gw, e):
        self.expect(gw, e, threshold=1)

    def expect_all(self, gw, cases):
        for e in cases:
            self.expect(gw, e)

    def weighted(self, gw, e, weights):
        """Upstream TestWeightedDistribution: 500 requests, 10 at a time, each backend's share
        within 5 points of its weight; up to 10 tries."""
        from concurrent.futures import ThreadPoolExecutor
        total, tolerance = 500, 0.05

        def one(_):
            status, headers, echo, _ = round_trip(gw, e, self.timeout("request"))
            why = compare(gw, e, status, headers, echo)
            if why:
                raise Failure(why)
            return "-".join(echo["pod"].split("-")[:-2])
        why = None
        for _ in range(10):
            self.check_alive()
            try:
                with ThreadPoolExecutor(10) as pool:
                    seen = list(pool.map(one, range(total)))
            except (Failure, OSError, http.client.HTTPException) as ex:
                why = str(ex)
                continue
            shares = {b: seen.count(b) / total for b in set(seen)}
            errs = [f"{b} got {shares.get(b, 0):.2f}, want {w:.2f}" for b, w in weights.items()
                    if abs(shares.get(b, 0) - w) > tolerance]
            errs += [f"unexpected backend {b}" for b in shares if b not in weights]
            if not errs:
                return
            why = "; ".join(errs)
        raise Failure(f"weighted distribution: {why}")

    # -- gRPC (upstream conformance/utils/grpc)
    def grpc_call(self, gw, c):
        """c's call (method, authority, metadata) to gw's front door: (code name, echo or None)."""
        import grpc_pods
        code, echo = grpc_pods.call(gw.target(), c.get("method", "Echo"),
                                    c.get("authority"), c.get("metadata"), self.timeout("request"))
        return code.name, echo

    @staticmethod
    def grpc_compare(c, code, echo):
        """Upstream compareResponse: the status code; for OK the fully qualified method, the
        namespace and the pod name's prefix (the backend)."""
        want = c.get("code", "OK")
        if code != want:
            return f"status {code}, want {want}"
        if code != "OK":
            return None
        method = f"/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/{c.get('method', 'Echo')}"
        if echo["method"] != method:
            return f"method {echo['method']}, want {method}"
        if c.get("namespace") and echo["namespace"] != c["namespace"]:
            return f"namespace {echo['namespace']}, want {c['namespace']}"
        if not echo["pod"].startswith(c.get("backend", "")):
            return f"pod {echo['pod']}, want {c.get('backend')}..."
        return None

    def grpc_expect(self, gw, c, threshold=REQUIRED_CONSECUTIVE):
        """Upstream MakeRequestAndExpectEventuallyConsistentResponse: c's result seen threshold
        times in a row within the consistency time."""
        limit = self.timeout("consistency")
        end = time.monotonic() + limit
        streak, why, attempts = 0, None, 0
        while True:
            attempts += 1
            code, echo = self.grpc_call(gw, c)
            why = self.grpc_compare(c, code, echo)
            if why is None:
                streak += 1
                if streak >= threshold:
                    return
                continue
            streak = 0
            if time.monotonic() >= end:
                self.check_alive()
                raise Failure(f"gRPC {c.get('authority', '')}/{c.get('method', 'Echo')} "
                              f"{c.get('metadata') or ''}: {why} (after {attempts} attempts in "
                              f"{limit:.0f} s)")
            time.sleep(POLL * 2)

    def grpc_weighted(self, gw, c, weights):
        """Upstream TestWeightedDistribution through gRPC calls: 500 calls, 10 at a time, each
        backend's share within 5 points of its weight; up to 10 tries."""
        from concurrent.futures import ThreadPoolExecutor
        total, tolerance = 500, 0.05

        def one(_):
            code, echo = self.grpc_call(gw, c)
            why = self.grpc_compare(c, code, echo)
            if why:
                raise Failure(why)
            return "-".join(echo["pod"].split("-")[:-2])
        why = None
        for _ in range(10):
            self.check_alive()
            try:
                with ThreadPoolExecutor(10) as pool:
                    seen = list(pool.map(one, range(total)))
            except Failure as ex:
                why = str(ex)
                continue
            shares = {b: seen.count(b) / total for b in set(seen)}
            errs = [f"{b} got {shares.get(b, 0):.2f}, want {w:.2f}" for b, w in weights.items()
                    if abs(shares.get(b, 0) - w) > tolerance]
            errs += [f"unexpected backend {b}" for b in shares if b not in weights]
            if not errs:
                return
            why = "; ".join(errs)
        raise Failure(f"weighted distribution: {why}")

    def mirrored(self, pod_prefix, uri):
        """How many requests for uri the echo pods named pod_prefix... have logged."""
        n = 0
        for line in self.log("echo").splitlines():
            parts = dict(p.split("=", 1) for p in line.split(" ")[1:] if "=" in p)
            if line.startswith("request ") and parts.get("uri") == uri and \
                    parts.get("pod", "").startswith(pod_prefix):
                n += 1
        return n

    def tls_rejected(self, gw, sni):
        """Upstream MakeTLSConnectionAndExpectEventuallyConnectionRejection: a TLS handshake
        with SNI sni ends in EOF or a reset (not a certificate error), within the consistency
        time; tried once a second."""
        limit = self.timeout("consistency")
        end = time.monotonic() + limit
        why = None
        while True:
            ctx = ssl.create_default_context()
            try:
                with socket.create_connection(gw.dial(), 5) as sock:
                    with ctx.wrap_socket(sock, server_hostname=sni):
                        why = "the handshake completed"
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError,
                    ConnectionAbortedError):
                return
            except (OSError, ssl.SSLError) as ex:
                why = repr(ex)
            if time.monotonic() >= end:
                raise Failure(f"TLS to {gw.address}:{gw.port} with SNI {sni}: {why}, want the "
                              f"connection rejected (after {limit:.0f} s)")
            time.sleep(1.0)

    def tcp_expect(self, gw, sni, backend, namespace, backend_tls=True):
        """Upstream MakeTCPRequestAndExpectEventuallyValidResponse over TLS (trusting the
        conformance CA): the TCP test server greets, answers PING, IS_TLS (backend_tls: the
        backend saw TLS, i.e. the gateway passed it through) and TEST, and TEST names the
        expected pod, namespace and, over TLS to the backend, the SNI."""
        limit = self.timeout("consistency")
        end = time.monotonic() + limit
        while True:
            why = None
            ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
            try:
                with socket.create_connection(gw.dial(), 5) as sock:
                    with ctx.wrap_socket(sock, server_hostname=sni) as conn:
                        f = conn.makefile("rwb")
                        lines = [f.readline()]
                        for word in (b"PING", b"IS_TLS", b"TEST"):
                            f.write(word + b"\n")
                            f.flush()
                            lines.append(f.readline())
                is_tls = b"true\n" if backend_tls else b"false\n"
                if lines[:3] != [b"Gateway API Test TCP Server\n", b"PONG\n", is_tls]:
                    why = f"answers {lines[:3]}"
                else:
                    got = json.loads(lines[3])
                    if not got.get("pod", "").startswith(backend) or \
                            got.get("namespace") != namespace or \
                            (backend_tls and got.get("tls", {}).get("serverName") != sni):
                        why = f"TEST answered {got}"
            except (OSError, ssl.SSLError, ValueError) as ex:
                why = repr(ex)
            if why is None:
                return
            if time.monotonic() >= end:
                raise Failure(f"TCP over TLS to {gw.address}:{gw.port} with SNI {sni}: {why}")
            time.sleep(1.0)

    def websocket_echo(self, gw, path="/ws"):
        """Upstream HTTPRouteBackendProtocolWebSocket's exchange, three times in a row: a
        WebSocket through the gateway echoes a text and a binary message."""
        def once():
            key = base64.b64encode(os.urandom(16)).decode()
            with socket.create_connection(gw.dial(), 5) as sock:
                sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {gw.logical()}\r\n"
                              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                              "Origin: ws://gateway/conformance\r\n\r\n").encode())
                f = sock.makefile("rb")
                status = f.readline()
                if b" 101 " not in status:
                    return f"handshake answered {status!r}"
                while f.readline() not in (b"\r\n", b""):
                    pass
                for opcode, data in ((1, b"Websocket Support!"), (2, bytes([1, 2, 3, 4, 5, 6, 7]))):
                    mask = os.urandom(4)
                    sock.sendall(struct.pack("!BB", 0x80 | opcode, 0x80 | len(data)) + mask +
                                 bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
                    head = f.read(2)
                    if len(head) < 2 or head[0] & 0x0F != opcode:
                        return f"reply frame {head!r}"
                    reply = f.read(head[1] & 0x7F)
                    if reply != data:
                        return f"echoed {reply!r}, want {data!r}"
            return None
        limit = self.timeout("consistency")
        end = time.monotonic() + limit
        streak = 0
        while True:
            try:
                why = once()
            except OSError as ex:
                why = repr(ex)
            if why is None:
                streak += 1
                if streak >= REQUIRED_CONSECUTIVE:
                    return
                continue
            streak = 0
            if time.monotonic() >= end:
                raise Failure(f"WebSocket {path}: {why} (after {limit:.0f} s)")
            time.sleep(POLL * 2)

    def send(self, gw, e):
        """One exchange: (status, headers, echo)."""
        status, headers, echo, _ = round_trip(gw, e, self.timeout("request"))
        return status, headers, echo
