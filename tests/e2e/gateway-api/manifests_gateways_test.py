#!/usr/bin/env python3
"""Gateway API served by kop-ingress --manifests, end to end (issue 13).

1. kop-ingress starts without any Gateway API CRD (--install-crds=false): an Ingress answers,
   one info line per missing Gateway API kind, no error.
2. The CRDs of crds/gateway-api/standard applied with kubectl (through --api-addr): picked up
   without a restart.
3. A GatewayClass of ours and two Gateways, both with a listener on port 80, each with an
   HTTPRoute for "/" to its own backend: each Gateway answers on its own loopback address
   (127.0.1.1, 127.0.1.2, port 80 + --gateway-local-port-offset) from its own backend only,
   3 times in a row; one log line per front door; the Ingress listener serves none of their
   routes and the Gateways none of the Ingress'.
4. Status: GatewayClass Accepted, Gateways Accepted/Programmed with their address, listeners with
   attachedRoutes, HTTPRoute status.parents Accepted/ResolvedRefs under our controllerName.
5. Bad routes: one naming a listener that does not exist (Accepted=False/NoMatchingParent), one
   whose backend Service does not exist (ResolvedRefs=False/BackendNotFound, its host answers 500,
   an Event): the rest keeps serving.
6. Hot swap: a third Gateway added and the second deleted while keep-alive connections to the
   first Gateway and to the Ingress listener stay open: both keep answering on the same
   connection; the new Gateway answers on 127.0.1.3, the deleted one's address refuses.
7. --gateway-api=false with a Gateway in DIR: no Gateway API kind watched, no front door.

  manifests_gateways_test.py BUILD_DIR
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ingress"))
import ie2e  # noqa: E402
from ie2e import check, say, wait_for  # noqa: E402

GROUP = "gateway.networking.k8s.io"
CONTROLLER = "kop.dev/gateway-controller"
WEB = "web.example.com"


def gateway_class():
    return {"apiVersion": f"{GROUP}/v1", "kind": "GatewayClass", "metadata": {"name": "kop"},
            "spec": {"controllerName": CONTROLLER}}


def gateway(name):
    return {"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"gatewayClassName": "kop",
                     "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}


def http_route(name, parent, service, hostnames=None, section=None):
    ref = {"name": parent}
    if section:
        ref["sectionName"] = section
    spec = {"parentRefs": [ref],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                       "backendRefs": [{"name": service, "port": 80}]}]}
    if hostnames:
        spec["hostnames"] = hostnames
    return {"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


class Run:
    """kop-ingress --manifests DIR --api-addr; its ports, log, kubeconfig and kubectl."""

    def __init__(self, env, manifests, offset, extra=()):
        self.env, self.name = env, "kop-ingress"
        self.http, self.https, self.admin, self.metrics = (ie2e.free_port() for _ in range(4))
        self.kubeconfig = os.path.join(env.tmp, "kubeconfig")
        out = open(self.kubeconfig, "wb")
        self.proc = subprocess.Popen(
            [env.binary("operators/ingress/cmd/kop-ingress"), "--manifests", manifests,
             "--api-addr", "127.0.0.1:0", "--http-addr", f"127.0.0.1:{self.http}",
             "--https-addr", f"127.0.0.1:{self.https}", "--admin-addr", f"127.0.0.1:{self.admin}",
             "--metrics-addr", f"127.0.0.1:{self.metrics}", "--ingress-class", "contour",
             "--gateway-local-port-offset", str(offset), "--workers", "2", *extra],
            stdout=out, stderr=open(os.path.join(env.tmp, self.name + ".log"), "wb"),
            stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        env.procs.append((self.name, self.proc))

    def log(self):
        return self.env.log(self.name)

    def alive(self):
        check(self.proc.poll() is None, "kop-ingress exited:\n" + self.log())

    def kubectl(self, *args, stdin=None):
        r = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, "--request-timeout=10s",
                            *args], input=stdin,
                           stdin=None if stdin is not None else subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"kubectl {' '.join(args)} failed: {r.stderr}")
        return r.stdout

    def apply(self, *objects):
        # Server-side validation: kubectl's own needs the OpenAPI document of kinds whose CRDs
        # were applied a moment ago.
        self.kubectl("apply", "--validate=false", "-f", "-",
                     stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))

    def get(self, kind, name, ns="default"):
        args = ["get", kind, name, "-o", "json"] + (["-n", ns] if ns else [])
        return json.loads(self.kubectl(*args))

    def errors(self):
        return [line for line in self.log().splitlines()
                if "level=error" in line or "list/watch failed" in line]


def pod_at(address, port, host="any.example.com"):
    code, body = ie2e.get(port, host, "/", address=address)
    return code, ie2e.pod_of(body)


def three_in_a_row(what, fn, want, timeout=20):
    """fn() == want three times in a row (the conformance suite's rule), within timeout."""
    streak = [0]

    def ok():
        got = fn()
        streak[0] = streak[0] + 1 if got == want else 0
        if streak[0] < 3:
            time.sleep(0.05)
        return streak[0] >= 3 or None

    wait_for(f"{what} == {want!r} three times in a row", ok, timeout)


def condition(conditions, type_):
    for c in conditions or []:
        if c.get("type") == type_:
            return f"{c.get('status')} {c.get('reason')}"
    return None


def our_parent(route):
    parents = [p for p in route.get("status", {}).get("parents", [])
               if p.get("controllerName") == CONTROLLER]
    return parents[0] if len(parents) == 1 else None


def test(env):
    if shutil.which("kubectl") is None:
        raise ie2e.Failure("kubectl is not installed (scripts/install-deps installs it)")
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    port = ie2e.port_free_on(["127.0.0.2", "127.0.0.3"])
    ie2e.start_backend(env, app, "127.0.0.2", port, "pod-one")
    ie2e.start_backend(env, app, "127.0.0.3", port, "pod-two")
    # One port free on every Gateway address: the listener port 80 lands there.
    front = ie2e.port_free_on(["127.0.1.1", "127.0.1.2", "127.0.1.3"])
    while front <= 80:
        front = ie2e.port_free_on(["127.0.1.1", "127.0.1.2", "127.0.1.3"])
    offset = front - 80

    manifests = os.path.join(env.tmp, "manifests")
    os.makedirs(manifests)
    objects = [ie2e.service("svc-one"), ie2e.service("svc-two"),
               ie2e.endpoint_slice("svc-one-1", "svc-one", ["127.0.0.2"], port),
               ie2e.endpoint_slice("svc-two-1", "svc-two", ["127.0.0.3"], port),
               ie2e.ingress("web", WEB, "svc-one")]
    for i, obj in enumerate(objects):
        with open(os.path.join(manifests, f"{i}.json"), "w") as f:
            json.dump(obj, f)

    # 1. No Gateway API CRD.
    k = Run(env, manifests, offset, ["--install-crds=false"])
    wait_for(f"Host: {WEB} (Ingress) to answer 200",
             lambda: k.alive() or ie2e.get(k.http, WEB)[0] == 200, 30)
    for kind, kinds in (("GatewayClass", "GatewayClasses"), ("Gateway", "Gateways"),
                        ("HTTPRoute", "HTTPRoutes"), ("ReferenceGrant", "ReferenceGrants")):
        line = f"{kind} CRD not installed: {kinds} are not served"
        wait_for(f"the line '{line}'", lambda: line in k.log(), 10)
    wait_for("the kubeconfig on stdout", lambda: "current-context" in open(k.kubeconfig).read(), 10)
    check(not k.errors(), "errors in the log:\n" + "\n".join(k.errors()))
    say("no Gateway API CRD: the Ingress answers, one line per kind, no error")

    # 2. The CRDs applied while running.
    k.kubectl("apply", "-f", os.path.join(ie2e.ROOT, "crds/gateway-api/standard"))
    for kind in ("GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"):
        line = f"{kind} CRD installed"
        wait_for(f"the line '{line}'", lambda: line in k.log(), 15)
    say("CRDs applied: picked up without a restart")

    # 3. Two Gateways on port 80, each its own route for "/".
    k.apply(gateway_class(), gateway("one"), gateway("two"),
            http_route("route-one", "one", "svc-one"), http_route("route-two", "two", "svc-two"))
    three_in_a_row("Gateway one (127.0.1.1)", lambda: pod_at("127.0.1.1", front), (200, "pod-one"))
    three_in_a_row("Gateway two (127.0.1.2)", lambda: pod_at("127.0.1.2", front), (200, "pod-two"))
    for name, addr in (("one", "127.0.1.1"), ("two", "127.0.1.2")):
        line = (f"msg=\"gateway front door\" gateway=default/{name} address={addr} port=80 "
                f"protocol=HTTP bound={addr}:{front}")
        check(k.log().count(line) == 1, f"expected the line once: {line}\n" + k.log())
    check(ie2e.get(k.http, "any.example.com")[0] == 404,
          "a Gateway route answers on the Ingress listener")
    check(pod_at("127.0.1.2", front, WEB) == (200, "pod-two"),
          "the Ingress host reached something else than Gateway two's own route")
    check(ie2e.get(k.http, WEB)[0] == 200, "the Ingress stopped answering")
    say(f"two Gateways on port 80: 127.0.1.1:{front} -> pod-one, 127.0.1.2:{front} -> pod-two")

    # 4. Status.
    def statuses_written():
        gc = k.get("gatewayclass", "kop", ns=None)
        if condition(gc.get("status", {}).get("conditions"), "Accepted") != "True Accepted":
            return None
        for name, addr in (("one", "127.0.1.1"), ("two", "127.0.1.2")):
            g = k.get("gateway", name).get("status", {})
            if g.get("addresses") != [{"type": "IPAddress", "value": addr}]:
                return None
            if condition(g.get("conditions"), "Programmed") != "True Programmed":
                return None
            ls = g.get("listeners", [])
            if len(ls) != 1 or ls[0].get("attachedRoutes") != 1:
                return None
            p = our_parent(k.get("httproute", "route-" + name))
            if not p or condition(p.get("conditions"), "Accepted") != "True Accepted" or \
                    condition(p.get("conditions"), "ResolvedRefs") != "True ResolvedRefs":
                return None
        return True

    wait_for("GatewayClass, Gateway and HTTPRoute statuses", statuses_written, 15)
    say("statuses: class Accepted, Gateways Programmed with 127.0.1.1/127.0.1.2, routes Accepted")

    # 5. Bad routes: refused with a condition, the rest serves.
    k.apply(http_route("no-such-listener", "one", "svc-one", ["nope.example.com"], "nope"),
            http_route("no-such-service", "one", "ghost", ["ghost.example.com"]))

    def refused():
        p = our_parent(k.get("httproute", "no-such-listener"))
        q = our_parent(k.get("httproute", "no-such-service"))
        return (p and condition(p["conditions"], "Accepted") == "False NoMatchingParent" and
                q and condition(q["conditions"], "ResolvedRefs") == "False BackendNotFound")

    wait_for("the bad routes' conditions", refused, 15)
    three_in_a_row("ghost.example.com on Gateway one",
                   lambda: ie2e.get(front, "ghost.example.com", address="127.0.1.1")[0], 500)
    check(pod_at("127.0.1.1", front, "nope.example.com") == (200, "pod-one"),
          "Gateway one's own route stopped serving")
    check(pod_at("127.0.1.2", front) == (200, "pod-two"), "Gateway two stopped serving")
    wait_for("an Event naming the missing Service",
             lambda: "ghost" in k.kubectl("get", "events", "-n", "default", "-o", "json"), 15)
    say("bad routes: NoMatchingParent / BackendNotFound (500, Event); the rest still serves")

    # 6. Front doors added and removed under open keep-alive connections.
    to_one = http.client.HTTPConnection("127.0.1.1", front, timeout=5)
    to_web = http.client.HTTPConnection("127.0.0.1", k.http, timeout=5)

    def again(conn, host):
        conn.request("GET", "/", headers={"Host": host})
        r = conn.getresponse()
        return r.status, ie2e.pod_of(r.read().decode(errors="replace"))

    check(again(to_one, "any.example.com") == (200, "pod-one"), "keep-alive to Gateway one")
    check(again(to_web, WEB) == (200, "pod-one"), "keep-alive to the Ingress listener")
    socks = (to_one.sock, to_web.sock)
    k.apply(gateway("three"), http_route("route-three", "three", "svc-two"))
    three_in_a_row("Gateway three (127.0.1.3)", lambda: pod_at("127.0.1.3", front),
                   (200, "pod-two"))
    k.kubectl("delete", "gateway", "two", "-n", "default")

    def refused_connection():
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.1.2", front))
            return False
        except ConnectionRefusedError:
            return True
        finally:
            s.close()

    wait_for("Gateway two's address to refuse connections", refused_connection, 15)
    check(again(to_one, "any.example.com") == (200, "pod-one"),
          "Gateway one's keep-alive connection failed after the swap")
    check(again(to_web, WEB) == (200, "pod-one"),
          "the Ingress listener's keep-alive connection failed after the swap")
    check((to_one.sock, to_web.sock) == socks, "a keep-alive connection was reopened")
    to_one.close()
    to_web.close()
    check(not k.errors(), "errors in the log:\n" + "\n".join(k.errors()))
    say("hot swap: Gateway three added, two removed; open connections kept answering")
    env.stop(k.proc)

    # 7. --gateway-api=false: the same Gateway in DIR (built-in CRDs) is neither watched nor
    # served; the Ingress still is.
    for i, obj in enumerate([gateway_class(), gateway("one"),
                             http_route("route-one", "one", "svc-one")]):
        with open(os.path.join(manifests, f"gw-{i}.json"), "w") as f:
            json.dump(obj, f)
    off = Run(env, manifests, offset, ["--gateway-api=false"])
    wait_for(f"Host: {WEB} (Ingress) to answer 200 with --gateway-api=false",
             lambda: off.alive() or ie2e.get(off.http, WEB)[0] == 200, 30)
    time.sleep(1)
    check(all(kind not in off.log() for kind in ("GatewayClass", "HTTPRoute", "front door")),
          "Gateway API watched or served with --gateway-api=false:\n" + off.log())
    s = socket.socket()
    s.settimeout(2)
    check(s.connect_ex(("127.0.1.1", front)) != 0, "a Gateway is served with --gateway-api=false")
    s.close()
    say("--gateway-api=false: no Gateway API watch, no front door; the Ingress answers")


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
