"""Shared pieces of the kop-ingress end-to-end tests (tests/e2e/ingress/*_test.py).

Everything is real: kop-local serves a kop::local store over plain HTTP on a free loopback
port, kop-ingress runs against it with --kubeconfig (the REST transport, as in a cluster), the
backends are hello-pks-app processes, and requests go through real sockets. Every wait is
bounded; every process is stopped (SIGTERM, then SIGKILL) when the test ends, pass or fail.

Backends listen on distinct loopback addresses (127.0.0.2, 127.0.0.3, ...) with one shared port,
because an EndpointSlice's ports apply to all of its endpoints: one slice can then list them all.
"""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HOST = "hello-pks.example.com"


class Failure(Exception):
    pass


def say(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def wait_for(what, fn, timeout=20.0, interval=0.05):
    """Calls fn until it returns a true value (returned), or fails after timeout seconds."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
            if last:
                return last
        except (OSError, http.client.HTTPException, urllib.error.URLError) as e:
            last = e
        time.sleep(interval)
    raise Failure(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def free_port(host="127.0.0.1"):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def refused(port):
    """Whether a connection to 127.0.0.1:port is refused (nothing listens there)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def port_free_on(hosts):
    """A port that is free on every address in hosts (bind-tested, then released)."""
    for _ in range(50):
        port = free_port()
        socks = []
        try:
            for h in hosts:
                s = socket.socket()
                socks.append(s)
                s.bind((h, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise Failure("no port free on all of " + ",".join(hosts))


class Env:
    """Processes and a temporary folder, all cleaned up by close()."""

    def __init__(self, build_dir, name):
        self.build = os.path.abspath(build_dir)
        self.tmp = tempfile.mkdtemp(prefix=f"kop-ie2e-{name}.")
        self.procs = []  # (name, Popen)
        self.failed = False

    def binary(self, rel):
        path = os.path.join(self.build, rel)
        if not os.access(path, os.X_OK):
            raise Failure(f"{path} is not built")
        return path

    def start(self, name, argv, stdout=None):
        """Starts argv; its stderr (and its stdout unless given) goes to the log `name`."""
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdout=stdout or log, stderr=log, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        log.close()
        self.procs.append((name, p))
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.tmp, name + ".log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, p, grace=5.0):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def alive(self, name):
        for n, p in self.procs:
            if n == name and p.poll() is None:
                return True
        return False

    def close(self):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in reversed(self.procs):
            try:
                p.wait(15)  # a sanitizer build's leak check at exit takes a while
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if name.startswith("kop-") and p.returncode not in (0, -signal.SIGTERM):
                say(f"{name} exited with {p.returncode}")
                self.failed = True
        if self.failed:
            for name, _ in self.procs:
                if name.startswith("kop-"):
                    text = self.log(name)
                    say(f"---- {name} log (last 40 lines)")
                    print("\n".join(text.splitlines()[-40:]), flush=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


class Api:
    """The Kubernetes REST API of kop-local over plain HTTP (no token)."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    @staticmethod
    def path(obj_or_kind, ns, name=None):
        kinds = {
            "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
            "Service": "/api/v1/namespaces/{ns}/services",
            "Secret": "/api/v1/namespaces/{ns}/secrets",
            "EndpointSlice": "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
            "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
            "Namespace": "/api/v1/namespaces",
        }
        kind = obj_or_kind if isinstance(obj_or_kind, str) else obj_or_kind["kind"]
        p = kinds[kind].format(ns=ns)
        return p + ("/" + name if name else "")

    def call(self, method, path, body=None, ok=(200, 201)):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                code, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            code, text = e.code, e.read()
        if code not in ok:
            raise Failure(f"{method} {path}: {code} {text[:300]!r}")
        return json.loads(text) if text else None

    def get(self, kind, ns, name, ok=(200,)):
        return self.call("GET", self.path(kind, ns, name), ok=ok)

    def create(self, obj):
        ns = obj["metadata"].get("namespace", "default")
        return self.call("POST", self.path(obj, ns), obj)

    def replace(self, obj):
        """PUT without a resourceVersion: an unconditional update."""
        ns = obj["metadata"].get("namespace", "default")
        obj = json.loads(json.dumps(obj))
        obj["metadata"].pop("resourceVersion", None)
        return self.call("PUT", self.path(obj, ns, obj["metadata"]["name"]), obj)

    def apply(self, obj):
        """create, or replace when it exists."""
        ns = obj["metadata"].get("namespace", "default")
        got = self.call("GET", self.path(obj, ns, obj["metadata"]["name"]), ok=(200, 404))
        if got is not None and got.get("kind") != "Status":
            return self.replace(obj)
        return self.create(obj)

    def delete(self, kind, ns, name):
        return self.call("DELETE", self.path(kind, ns, name), ok=(200, 202, 404))


# ---- objects ------------------------------------------------------------------------------

def ingress(name, host, service, ns="default", port=80, tls_secret=None, path="/"):
    spec = {"rules": [{"host": host, "http": {"paths": [{
        "path": path, "pathType": "Prefix",
        "backend": {"service": {"name": service, "port": {"number": port}}}}]}}]}
    if tls_secret:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns,
                         "annotations": {"kubernetes.io/ingress.class": "contour"}},
            "spec": spec}


def service(name, ns="default", port=80):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name},
                     "ports": [{"name": "http", "port": port, "targetPort": 8080,
                                "protocol": "TCP"}]}}


def endpoint_slice(name, service_name, addresses, port, ns="default"):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}


def tls_secret(name, crt_pem, key_pem, ns="default"):
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": ns},
            "data": {"tls.crt": base64.b64encode(crt_pem).decode(),
                     "tls.key": base64.b64encode(key_pem).decode()}}


def make_cert(out_dir, cn, sans):
    """A fresh self-signed certificate; returns (crt_pem, key_pem, serial_hex)."""
    os.makedirs(out_dir, exist_ok=True)
    crt, key = os.path.join(out_dir, "tls.crt"), os.path.join(out_dir, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-sha256", "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=" + ",".join("DNS:" + s for s in sans),
                    "-keyout", key, "-out", crt],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    serial = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", crt], check=True,
                            capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    with open(crt, "rb") as f:
        crt_pem = f.read()
    with open(key, "rb") as f:
        key_pem = f.read()
    return crt_pem, key_pem, serial.upper()


# ---- processes ------------------------------------------------------------------------------

def start_kop_local(env):
    """kop-local on a free port, plain HTTP, no token; returns (Api, kubeconfig path)."""
    kubeconfig = os.path.join(env.tmp, "kubeconfig")
    env.start("kop-local", [env.binary("libkop/local/kop-local"), "--listen", "127.0.0.1:0",
                            "--insecure-http", "--token=", "--crds", os.path.join(ROOT, "crds"),
                            "--write-kubeconfig", kubeconfig])

    def url():
        m = re.search(r"kop-local: serving (http://127\.0\.0\.1:\d+)", env.log("kop-local"))
        return m.group(1) if m else None

    check(env.alive("kop-local") or url(), "kop-local exited: " + env.log("kop-local"))
    api = Api(wait_for("kop-local to serve", url, 20))
    wait_for("kop-local to answer", lambda: api.call("GET", "/api/v1/namespaces/default"), 10)
    return api, kubeconfig


class Ingress:
    """A running kop-ingress, on `kubeconfig`'s API server or (kubeconfig None) on the
    --manifests directory `manifests`; its ports."""

    def __init__(self, env, kubeconfig, extra=(), name="kop-ingress", wait_ready=True,
                 manifests=None):
        self.env = env
        self.name = name
        self.http, self.https, self.admin, self.metrics = (free_port() for _ in range(4))
        source = ["--kubeconfig", kubeconfig] if kubeconfig else ["--manifests", manifests]
        argv = [env.binary("operators/ingress/cmd/kop-ingress"), *source,
                "--http-addr", f"127.0.0.1:{self.http}", "--https-addr", f"127.0.0.1:{self.https}",
                "--admin-addr", f"127.0.0.1:{self.admin}",
                "--metrics-addr", f"127.0.0.1:{self.metrics}", "--ingress-class", "contour",
                "--workers", "2", *extra]
        self.proc = env.start(name, argv)
        if wait_ready:
            wait_for(f"{name} /readyz", self.ready, 30)

    def ready(self):
        check(self.proc.poll() is None, f"{self.name} exited:\n" + self.env.log(self.name))
        return get(self.metrics, "localhost", "/readyz")[0] == 200

    def metric(self, name):
        _, body = get(self.metrics, "localhost", "/metrics")
        m = re.search(r"^" + re.escape(name) + r"(?:\{[^}]*\})? ([0-9.e+]+)$", body, re.M)
        return float(m.group(1)) if m else None

    def metric_sum(self, name, **labels):
        """The sum of every series of `name` whose labels include `labels` (0 when none)."""
        _, body = get(self.metrics, "localhost", "/metrics")
        total = 0.0
        for m in re.finditer(r"^" + re.escape(name) + r"(\{[^}]*\})? ([0-9.e+]+)$", body, re.M):
            got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
            if all(got.get(k) == v for k, v in labels.items()):
                total += float(m.group(2))
        return total


def start_backend(env, app, address, port, pod):
    """hello-pks-app on address:port answering with pod=POD; waits until it answers."""
    p = env.start("app-" + pod, [app, "--listen", f"{address}:{port}", "--pod", pod,
                                 "--node", "local"])

    def answers():
        check(p.poll() is None, f"backend {pod} exited: " + env.log("app-" + pod))
        code, body = get(port, address, "/", address=address)
        return code == 200 and f'"pod":"{pod}"' in body

    wait_for(f"backend {pod} on {address}:{port}", answers, 10)
    return p


def backend_service(env, api, app, service_name, pod, address="127.0.0.2"):
    """One hello-pks-app (pod POD) on ADDRESS behind a Service and its EndpointSlice."""
    port = port_free_on([address])
    start_backend(env, app, address, port, pod)
    api.create(service(service_name))
    api.create(endpoint_slice(pod, service_name, [address], port))
    return port


def get(port, host, path="/", address="127.0.0.1", timeout=5.0):
    """One HTTP/1.1 GET on a new connection: (status, body text)."""
    c = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def pod_of(body):
    m = re.search(r'"pod":"([^"]*)"', body)
    return m.group(1) if m else None


def main(test):
    """Runs test(env, build_dir) and maps the outcome to an exit code (0 pass, 1 fail)."""
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} BUILD_DIR", file=sys.stderr)
        return 2
    for tool in ("curl", "openssl"):
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} not installed")
            return 77
    env = Env(sys.argv[1], os.path.basename(sys.argv[0]).split(".")[0])
    rc = 1
    try:
        test(env)
        rc = 0
    except Failure as e:
        env.failed = True
        say(f"FAIL: {e}")
    except Exception:
        env.failed = True
        import traceback
        traceback.print_exc()
    finally:
        env.close()
    # A kop process that crashed or exited non-zero at the end (sanitizer reports included)
    # fails the test even when every check passed.
    if rc == 0 and env.failed:
        say("FAIL: a kop process did not exit cleanly")
        rc = 1
    if rc == 0:
        say("PASS")
    return rc
