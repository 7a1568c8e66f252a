#!/usr/bin/env python3
"""Gateway API served in a cluster, end to end (issue 13, design.md "In a cluster").

kop-ingress runs with --kubeconfig against kop-local's REST front (as in a cluster), with
POD_NAMESPACE=kop-system and --gateway-port-range set to four free ports P..P+3.

1. A GatewayClass of ours, Gateway "one" (listener port 80) and an HTTPRoute to a real backend:
   the leader creates the Gateway's Service in kop-system (name gw-one-<hash>, our labels, type
   LoadBalancer, selector app.kubernetes.io/name=kop-ingress, port 80 -> targetPort P); the
   listener is bound on P and answers from the backend 3 times in a row; the Gateway is
   Programmed=False/AddressNotAssigned until the load balancer has an address.
2. The Service's status.loadBalancer patched as a cloud controller would: the Gateway's
   status.addresses holds that address and it is Programmed=True.
3. Gateway "two" (ports 80 and 8080): its own Service, targetPorts P+1 and P+2, both bound.
4. kop-ingress restarted: the mappings are kept (read back from the Services), nothing moves.
5. Gateway "one" deleted: its Service is deleted, P refuses connections, "two" keeps serving.
6. --gateway-service-type None (two deleted first: its ports 80 and 8080 are not ours to bind
   here): Gateway "three" on a free port Q binds Q itself and answers there; "four" on Q and on
   kop-ingress' own HTTP port gets PortUnavailable on both listeners and an Event; the
   addresses are --publish-address's.

  cluster_gateways_test.py BUILD_DIR
"""
import os
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ingress"))
import ie2e  # noqa: E402
from ie2e import check, say, wait_for  # noqa: E402

GROUP = "gateway.networking.k8s.io"
CONTROLLER = "kop.dev/gateway-controller"
NS = "kop-system"
HOST = "web.example.com"


def service_name(ns, name):
    """controllers/gateway_services.cpp's gateway_service_name (FNV-1a of ns/name)."""
    h = 2166136261
    for b in f"{ns}/{name}".encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return f"gw-{name[:51].replace('.', '-')}-{h:08x}"


def gw_path(plural, ns, name=None):
    p = f"/apis/{GROUP}/v1/namespaces/{ns}/{plural}" if ns else f"/apis/{GROUP}/v1/{plural}"
    return p + (f"/{name}" if name else "")


def svc_path(name=None):
    return f"/api/v1/namespaces/{NS}/services" + (f"/{name}" if name else "")


def gateway(name, ports):
    return {"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"gatewayClassName": "kop",
                     "listeners": [{"name": f"http-{p}", "port": p, "protocol": "HTTP"}
                                   for p in ports]}}


def http_route(name, parent, service):
    return {"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"parentRefs": [{"name": parent}], "hostnames": [HOST],
                     "rules": [{"backendRefs": [{"name": service, "port": 80}]}]}}


def condition(obj, type_):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == type_:
            return f"{c.get('status')} {c.get('reason')}"
    return None


def pod_at(port):
    code, body = ie2e.get(port, HOST)
    return code, ie2e.pod_of(body)


def three_in_a_row(what, fn, want, timeout=20):
    streak = [0]

    def ok():
        got = fn()
        streak[0] = streak[0] + 1 if got == want else 0
        if streak[0] < 3:
            time.sleep(0.05)
        return streak[0] >= 3 or None

    wait_for(f"{what} == {want!r} three times in a row", ok, timeout)


def ports_of(svc):
    return sorted((p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"])


def free_range(n):
    """The first port P of n consecutive ports free on 127.0.0.1."""
    for _ in range(100):
        first = ie2e.free_port()
        if first + n > 65535:
            continue
        socks = []
        try:
            for p in range(first, first + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise ie2e.Failure(f"no {n} consecutive free ports")


def test(env):
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    api, kubeconfig = ie2e.start_kop_local(env)
    api.call("POST", "/api/v1/namespaces",
             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    ie2e.backend_service(env, api, app, "svc-one", "pod-one", "127.0.0.2")
    ie2e.backend_service(env, api, app, "svc-two", "pod-two", "127.0.0.3")
    first = free_range(4)
    os.environ["POD_NAMESPACE"] = NS
    flags = ["--gateway-port-range", f"{first}-{first + 3}", "--leader-election-retry-period",
             "200ms"]
    k = ie2e.Ingress(env, kubeconfig, flags)

    # 1. Gateway one: its Service, bound on P, served.
    api.call("POST", f"/apis/{GROUP}/v1/gatewayclasses",
             {"apiVersion": f"{GROUP}/v1", "kind": "GatewayClass", "metadata": {"name": "kop"},
              "spec": {"controllerName": CONTROLLER}})
    api.call("POST", gw_path("gateways", "default"), gateway("one", [80]))
    api.call("POST", gw_path("httproutes", "default"), http_route("route-one", "one", "svc-one"))
    one = service_name("default", "one")
    wait_for(f"Service {NS}/{one}",
             lambda: api.call("GET", svc_path(one), ok=(200, 404)).get("spec"), 30)
    svc = api.call("GET", svc_path(one))
    labels = svc["metadata"].get("labels", {})
    check(labels.get("gateway.kop.dev/namespace") == "default" and
          labels.get("gateway.kop.dev/name") == "one" and
          labels.get("app.kubernetes.io/managed-by") == "kop-ingress", f"labels: {labels}")
    check(svc["spec"].get("type") == "LoadBalancer", f"type: {svc['spec'].get('type')}")
    check(svc["spec"].get("selector") == {"app.kubernetes.io/name": "kop-ingress"},
          f"selector: {svc['spec'].get('selector')}")
    check(ports_of(svc) == [("p80", 80, first)], f"ports: {ports_of(svc)}")
    say(f"Service {NS}/{one}: port 80 -> targetPort {first}, type LoadBalancer")
    three_in_a_row(f"Gateway one on its targetPort {first}", lambda: pod_at(first),
                   (200, "pod-one"))

    def gw(name):
        return api.call("GET", gw_path("gateways", "default", name))

    wait_for("Gateway one Programmed=False/AddressNotAssigned",
             lambda: condition(gw("one"), "Programmed") == "False AddressNotAssigned", 15)
    listener = wait_for("listener status", lambda: (gw("one").get("status", {})
                                                    .get("listeners") or [None])[0], 15)
    check(any(c["type"] == "Programmed" and c["status"] == "True"
              for c in listener.get("conditions", [])), f"listener: {listener}")
    say("served; Programmed=False/AddressNotAssigned until the load balancer has an address")

    # 2. A cloud controller gives the load balancer an address.
    svc = api.call("GET", svc_path(one))
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}
    api.call("PUT", svc_path(one) + "/status", svc)
    wait_for("Gateway one Programmed=True with the load balancer's address",
             lambda: condition(gw("one"), "Programmed") == "True Programmed" and
             gw("one")["status"].get("addresses") == [{"type": "IPAddress",
                                                       "value": "203.0.113.10"}], 15)
    say("status.loadBalancer set: Gateway addresses [203.0.113.10], Programmed=True")

    # 3. Gateway two, two listeners: the next free ports of the range.
    api.call("POST", gw_path("gateways", "default"), gateway("two", [80, 8080]))
    api.call("POST", gw_path("httproutes", "default"), http_route("route-two", "two", "svc-two"))
    two = service_name("default", "two")
    wait_for(f"Service {NS}/{two} with two ports",
             lambda: len(api.call("GET", svc_path(two), ok=(200, 404))
                         .get("spec", {}).get("ports", [])) == 2, 30)
    got = ports_of(api.call("GET", svc_path(two)))
    check(got == [("p80", 80, first + 1), ("p8080", 8080, first + 2)], f"ports: {got}")
    for p in (first + 1, first + 2):
        three_in_a_row(f"Gateway two on {p}", lambda p=p: pod_at(p), (200, "pod-two"))
    three_in_a_row("Gateway one still", lambda: pod_at(first), (200, "pod-one"))
    say(f"Service {NS}/{two}: 80 -> {first + 1}, 8080 -> {first + 2}; each Gateway its routes")

    # 4. A restart keeps every mapping.
    env.stop(k.proc)
    k = ie2e.Ingress(env, kubeconfig, flags, name="kop-ingress-2")
    three_in_a_row("Gateway one after a restart", lambda: pod_at(first), (200, "pod-one"))
    three_in_a_row("Gateway two after a restart", lambda: pod_at(first + 1), (200, "pod-two"))
    check(ports_of(api.call("GET", svc_path(one))) == [("p80", 80, first)], "one's mapping moved")
    check(ports_of(api.call("GET", svc_path(two))) == [("p80", 80, first + 1),
                                                        ("p8080", 8080, first + 2)],
          "two's mapping moved")
    say("restarted: mappings kept")

    # 5. Gateway one deleted: its Service goes, its port closes, two keeps serving.
    api.call("DELETE", gw_path("gateways", "default", "one"), ok=(200, 202))
    wait_for(f"Service {NS}/{one} deleted",
             lambda: api.call("GET", svc_path(one), ok=(200, 404)).get("kind") == "Status", 15)
    wait_for(f"port {first} to refuse connections", lambda: ie2e.refused(first), 15)
    three_in_a_row("Gateway two after one's deletion", lambda: pod_at(first + 1),
                   (200, "pod-two"))
    say("Gateway one deleted: Service deleted, its port closed, two still served")

    # 6. No Service: listener ports bound directly.
    api.call("DELETE", gw_path("gateways", "default", "two"), ok=(200, 202))
    wait_for(f"Service {NS}/{two} deleted",
             lambda: api.call("GET", svc_path(two), ok=(200, 404)).get("kind") == "Status", 15)
    env.stop(k.proc)
    q = ie2e.free_port()
    k = ie2e.Ingress(env, kubeconfig, ["--gateway-service-type", "None", "--publish-address",
                                       "192.0.2.7", "--leader-election-retry-period", "200ms"],
                     name="kop-ingress-3")
    api.call("POST", gw_path("gateways", "default"), gateway("three", [q]))
    api.call("POST", gw_path("httproutes", "default"),
             http_route("route-three", "three", "svc-one"))
    three_in_a_row(f"Gateway three on its own port {q}", lambda: pod_at(q), (200, "pod-one"))
    wait_for("Gateway three Programmed=True with the published address",
             lambda: condition(gw("three"), "Programmed") == "True Programmed" and
             gw("three")["status"].get("addresses") == [{"type": "IPAddress",
                                                         "value": "192.0.2.7"}], 15)
    four = gateway("four", [q, k.http])
    time.sleep(1.1)  # creation times have whole seconds: four is the younger
    api.call("POST", gw_path("gateways", "default"), four)

    def reasons():
        return sorted(f"{ls['name']} " + " ".join(
            f"{c['type']}={c['status']}/{c['reason']}" for c in ls.get("conditions", [])
            if c["type"] in ("Accepted", "Programmed"))
            for ls in gw("four").get("status", {}).get("listeners", []))

    want = [f"http-{p} Accepted=False/PortUnavailable Programmed=False/Invalid"
            for p in sorted((q, k.http), key=lambda p: f"http-{p}")]
    wait_for(f"Gateway four's listeners {want}", lambda: reasons() == want, 15)
    three_in_a_row(f"Gateway three still on {q}", lambda: pod_at(q), (200, "pod-one"))
    check("reason=PortUnavailable" in env.log("kop-ingress-3"), "no PortUnavailable Event logged")
    say(f"type None: three bound {q} itself; four's listeners PortUnavailable")
    check(k.proc.poll() is None, "kop-ingress exited")


if __name__ == "__main__":
    if shutil.which("curl") is None:
        print("SKIP: curl not installed")
        sys.exit(77)
    sys.exit(ie2e.main(test))
