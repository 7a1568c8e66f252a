#!/usr/bin/env python3
"""GRPCRoute served by kop-ingress --manifests, with a real gRPC client and server (issue 13).

kop-ingress starts without the Gateway API CRDs (--install-crds=false); every standard CRD but
GRPCRoute's is applied, then GRPCRoute's while it runs. One Gateway (127.0.1.1, ports shifted by
--gateway-local-port-offset): listener "rpc" on port 80 and "web" on port 8080.
1. Without the GRPCRoute CRD: the line saying GRPCRoutes are not served, no error; the CRD
   applied: picked up without a restart.
2. A GRPCRoute on "rpc" in front of tests/e2e/proxy/grpc_echo.py (python3-grpcio, h2c; the
   Service port has no appProtocol: GRPCRoute backends are HTTP/2 regardless): its client runs
   through the front door: unary calls with trailing metadata, 4 MiB messages, a server stream
   of 200 messages, a status carried in the trailers (INVALID_ARGUMENT and its message), 200
   concurrent calls, and a gRPC call from an HTTP/1.1 client that gets the trailers in the last
   chunk. The rule's RequestMirror filter copies every call to a second gRPC server (h2c): 20
   calls with their metadata arrive there too.
3. Errors: a method no rule matches is UNIMPLEMENTED with the proxy's message (its own 404 as a
   gRPC status), a rule whose only backend does not exist is UNAVAILABLE (503).
4. An HTTPRoute on "web" answers on port 8080; a younger HTTPRoute on "rpc" (its hostnames meet
   the GRPCRoute's) is refused there (Accepted=False/HostnameConflict) and gRPC keeps working.
5. Status: the GRPCRoute Accepted under our controllerName, ResolvedRefs=False/BackendNotFound
   (the missing backend), "rpc" lists GRPCRoute in supportedKinds with 1 attached route.

  manifests_grpcroute_test.py BUILD_DIR
"""
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
from manifests_gateways_test import (GROUP, Run, condition, gateway_class,  # noqa: E402
                                     our_parent, pod_at, three_in_a_row)

ADDRESS = "127.0.1.1"  # the first Gateway's address under --manifests
GRPC_ECHO = os.path.join(ie2e.ROOT, "tests", "e2e", "proxy", "grpc_echo.py")


def edge_gateway():
    return {"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
            "metadata": {"name": "edge", "namespace": "default"},
            "spec": {"gatewayClassName": "kop", "listeners": [
                {"name": "rpc", "port": 80, "protocol": "HTTP"},
                {"name": "web", "port": 8080, "protocol": "HTTP"}]}}


def grpc_route():
    return {"apiVersion": f"{GROUP}/v1", "kind": "GRPCRoute",
            "metadata": {"name": "rpc", "namespace": "default"},
            "spec": {"parentRefs": [{"name": "edge", "sectionName": "rpc"}], "rules": [
                {"matches": [{"method": {"service": "kop.test.Echo"}}],
                 "filters": [{"type": "RequestMirror", "requestMirror": {
                     "backendRef": {"name": "echo-mirror", "port": 50051}}}],
                 "backendRefs": [{"name": "echo", "port": 50051}]},
                {"matches": [{"method": {"service": "kop.test.Gone"}}],
                 "backendRefs": [{"name": "no-such-service", "port": 50051}]}]}}


def http_route(name, section, hostnames=None):
    spec = {"parentRefs": [{"name": "edge", "sectionName": section}],
            "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}
    if hostnames:
        spec["hostnames"] = hostnames
    return {"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def grpc_code(target, method, details=False):
    """The status code name of one unary call of `method` ("/svc/Method") to target (and its
    message, with `details`)."""
    import grpc
    with grpc.insecure_channel(target) as ch:
        try:
            ch.unary_unary(method)(b"x", timeout=5)
            return "OK"
        except grpc.RpcError as e:
            return f"{e.code().name} {e.details()}" if details else e.code().name


def free_offset():
    """A --gateway-local-port-offset under which ports 80 and 8080 are free on ADDRESS."""
    for _ in range(100):
        offset = ie2e.free_port(ADDRESS) - 80
        if offset <= 0 or offset + 8080 > 65535:
            continue
        try:
            for port in (offset + 80, offset + 8080):
                with socket.socket() as s:
                    s.bind((ADDRESS, port))
            return offset
        except OSError:
            continue
    raise ie2e.Failure(f"no offset with ports 80 and 8080 free on {ADDRESS}")


def test(env):
    if shutil.which("kubectl") is None:
        raise ie2e.Failure("kubectl is not installed (scripts/install-deps installs it)")
    try:
        import grpc  # noqa: F401
    except ImportError:
        raise ie2e.Failure("python3-grpcio is not installed (scripts/install-deps installs it)")
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    grpc_port, mirror_port = ie2e.free_port(), ie2e.free_port()
    env.start("grpc-echo", [sys.executable, GRPC_ECHO, "server", str(grpc_port)])
    env.start("grpc-echo-mirror", [sys.executable, GRPC_ECHO, "server", str(mirror_port)])
    app_port = ie2e.port_free_on(["127.0.0.3"])
    ie2e.start_backend(env, app, "127.0.0.3", app_port, "pod-web")
    offset = free_offset()
    rpc_port, web_port = offset + 80, offset + 8080
    target = f"{ADDRESS}:{rpc_port}"

    manifests = os.path.join(env.tmp, "manifests")
    os.makedirs(manifests)
    echo = ie2e.service("echo", port=50051)
    echo_slice = ie2e.endpoint_slice("echo-1", "echo", ["127.0.0.1"], grpc_port)
    objects = [echo, echo_slice, ie2e.service("echo-mirror", port=50051),
               ie2e.endpoint_slice("echo-mirror-1", "echo-mirror", ["127.0.0.1"], mirror_port),
               ie2e.service("web"),
               ie2e.endpoint_slice("web-1", "web", ["127.0.0.3"], app_port)]
    for i, obj in enumerate(objects):
        with open(os.path.join(manifests, f"{i}.json"), "w") as f:
            json.dump(obj, f)

    # 1. No GRPCRoute CRD, then the CRD applied while running.
    k = Run(env, manifests, offset, ["--install-crds=false"])
    wait_for("the kubeconfig on stdout", lambda: "current-context" in open(k.kubeconfig).read(), 30)
    crds = os.path.join(ie2e.ROOT, "crds/gateway-api/standard")
    grpc_crd = os.path.join(crds, "grpcroutes.gateway.networking.k8s.io.yaml")
    for name in sorted(os.listdir(crds)):
        if os.path.join(crds, name) != grpc_crd:
            k.kubectl("apply", "-f", os.path.join(crds, name))
    wait_for("the line 'HTTPRoute CRD installed'", lambda: "HTTPRoute CRD installed" in k.log(), 15)
    line = "GRPCRoute CRD not installed: GRPCRoutes are not served"
    wait_for(f"the line '{line}'", lambda: line in k.log(), 10)
    check("GRPCRoute CRD installed" not in k.log(), "GRPCRoute CRD reported installed")
    k.apply(gateway_class(), edge_gateway(), http_route("web", "web"))
    three_in_a_row("HTTPRoute on port 8080", lambda: pod_at(ADDRESS, web_port), (200, "pod-web"))
    check(not k.errors(), "errors in the log:\n" + "\n".join(k.errors()))
    k.kubectl("apply", "-f", grpc_crd)
    wait_for("the line 'GRPCRoute CRD installed'", lambda: "GRPCRoute CRD installed" in k.log(), 15)
    say("GRPCRoute CRD absent: not served, no error; applied: picked up without a restart")

    # 2. The gRPC client's checks through the front door.
    k.apply(grpc_route())
    three_in_a_row("unary call through the GRPCRoute",
                   lambda: grpc_code(target, "/kop.test.Echo/Unary"), "OK")
    r = subprocess.run([sys.executable, GRPC_ECHO, "client", target], capture_output=True,
                       text=True, timeout=120)
    print(r.stdout, end="", flush=True)
    check(r.returncode == 0, f"grpc_echo.py client failed:\n{r.stdout}{r.stderr}")
    say(f"grpc_echo.py client through {target}: unary, trailers, 4 MiB, server stream, status "
        "in trailers, 200 concurrent, HTTP/1.1 caller")
    r = subprocess.run([sys.executable, GRPC_ECHO, "mirror", target, "20"], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0, f"grpc_echo.py mirror failed:\n{r.stdout}{r.stderr}")

    def mirrored():
        out = subprocess.run([sys.executable, GRPC_ECHO, "seen", f"127.0.0.1:{mirror_port}"],
                             capture_output=True, text=True, timeout=30).stdout
        seen = json.loads(out) if out.strip() else {}
        return all(f"m{i}" in seen.get("tags", []) for i in range(20)) or None
    wait_for("the 20 tagged calls at the mirror (RequestMirror)", mirrored, 20)
    say("RequestMirror: the 20 calls with their metadata reached the second gRPC server too")

    # 3. Errors a gRPC client sees.
    three_in_a_row("a method no rule matches",
                   lambda: grpc_code(target, "/kop.test.Other/Unary", True),
                   "UNIMPLEMENTED no route")
    three_in_a_row("a rule whose backend does not exist",
                   lambda: grpc_code(target, "/kop.test.Gone/Unary"), "UNAVAILABLE")
    say("no matching rule: UNIMPLEMENTED; no backend: UNAVAILABLE")

    # 4. An HTTPRoute younger than the GRPCRoute on the same listener and hostnames.
    time.sleep(1.1)  # creationTimestamp has a resolution of one second
    k.apply(http_route("late-web", "rpc", ["web.example.com"]))

    def refused():
        p = our_parent(k.get("httproute", "late-web"))
        return p is not None and condition(p.get("conditions"), "Accepted") == \
            "False HostnameConflict" or None
    wait_for("late-web Accepted=False/HostnameConflict", refused, 20)
    three_in_a_row("gRPC after the refused HTTPRoute",
                   lambda: grpc_code(target, "/kop.test.Echo/Unary"), "OK")
    say("HTTPRoute late-web on the GRPCRoute's listener and hostnames: HostnameConflict, gRPC "
        "still served")

    # 5. Status.
    def statuses():
        p = our_parent(k.get("grpcroute", "rpc"))
        if not p or condition(p.get("conditions"), "Accepted") != "True Accepted" or \
                condition(p.get("conditions"), "ResolvedRefs") != "False BackendNotFound":
            return None
        ls = {x["name"]: x for x in k.get("gateway", "edge").get("status", {}).get("listeners", [])}
        rpc = ls.get("rpc", {})
        kinds = [x.get("kind") for x in rpc.get("supportedKinds", [])]
        return (rpc.get("attachedRoutes") == 1 and "GRPCRoute" in kinds) or None
    wait_for("GRPCRoute and listener statuses", statuses, 20)
    say("statuses: GRPCRoute Accepted, ResolvedRefs=False/BackendNotFound, listener rpc lists "
        "GRPCRoute with 1 attached route")
    check(not k.errors(), "errors in the log:\n" + "\n".join(k.errors()))


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
