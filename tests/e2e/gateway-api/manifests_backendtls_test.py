#!/usr/bin/env python3
"""BackendTLSPolicy and appProtocol kubernetes.io/wss through kop-ingress --manifests, over real
sockets (issue 13).

A TLS echo backend (the conformance echo pod in TLS mode: it reports the SNI it was reached
with and echoes WebSockets on /ws) started by the test on a free loopback port, its certificate
(backend.test) signed by a CA of the test; one Gateway (127.0.1.1, ports shifted by
--gateway-local-port-offset) and an HTTPRoute to Services whose port says
appProtocol: kubernetes.io/wss.
1. With a BackendTLSPolicy (hostname backend.test, the CA in a ConfigMap): a request reaches
   the backend over TLS with SNI backend.test, 3 times in a row; the policy's status.ancestors
   names the Gateway with Accepted and ResolvedRefs True.
2. A real WebSocket upgrade (101, a text and a binary message echoed) through the TLS cluster.
3. A wss port without a policy: the route's ResolvedRefs=False/UnsupportedProtocol and 500,
   never plain text to a TLS port.
4. The CA ConfigMap replaced by another CA: 502 (the handshake fails; 503 once the endpoint is
   ejected), never a plaintext answer;
   the policy naming a ConfigMap that does not exist: Accepted=False/NoValidCACertificate,
   ResolvedRefs=False/InvalidCACertificateRef and 500; the right CA back: 200 again.

  manifests_backendtls_test.py BUILD_DIR
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ingress"))
sys.path.insert(0, os.path.join(HERE, "conformance"))
import ie2e  # noqa: E402
from ie2e import check, say, wait_for  # noqa: E402
from manifests_gateways_test import (GROUP, Run, condition, gateway_class,  # noqa: E402
                                     our_parent, three_in_a_row)
from harness import make_ca, make_signed  # noqa: E402

ADDRESS = "127.0.1.1"  # the first Gateway's address under --manifests
BACKEND = "127.0.0.4"
CONTROLLER = "kop.dev/gateway-controller"


def wss_service(name, port):
    return [{"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": name, "namespace": "default"},
             "spec": {"selector": {"app": "secure"},
                      "ports": [{"name": "https", "port": 443, "targetPort": 8443,
                                 "protocol": "TCP", "appProtocol": "kubernetes.io/wss"}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": name + "-1", "namespace": "default",
                          "labels": {"kubernetes.io/service-name": name}},
             "addressType": "IPv4",
             "endpoints": [{"addresses": [BACKEND], "conditions": {"ready": True}}],
             "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]


def ca_config_map(name, pem):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": {"ca.crt": pem}}


def policy(config_map):
    return {"apiVersion": f"{GROUP}/v1", "kind": "BackendTLSPolicy",
            "metadata": {"name": "secure-tls", "namespace": "default"},
            "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "secure",
                                     "sectionName": "https"}],
                     "validation": {"hostname": "backend.test", "caCertificateRefs": [
                         {"group": "", "kind": "ConfigMap", "name": config_map}]}}}


def objects():
    rule = [{"matches": [{"path": {"type": "PathPrefix", "value": "/nopolicy"}}],
             "backendRefs": [{"name": "nopolicy", "port": 443}]},
            {"backendRefs": [{"name": "secure", "port": 443}]}]
    return [gateway_class(),
            {"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
             "metadata": {"name": "edge", "namespace": "default"},
             "spec": {"gatewayClassName": "kop",
                      "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}},
            {"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute",
             "metadata": {"name": "web", "namespace": "default"},
             "spec": {"parentRefs": [{"name": "edge"}], "rules": rule}}]


def echo(port, path):
    """(status, SNI the backend reports or None) of a GET through the front door."""
    try:
        with socket.create_connection((ADDRESS, port), 5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: web.example.com\r\n"
                      "Connection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return repr(e), None
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else 0
    try:
        sni = json.loads(body).get("tls", {}).get("serverName")
    except ValueError:
        sni = None
    return status, sni


def websocket(port):
    """None when a WebSocket through the front door echoes a text and a binary message."""
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((ADDRESS, port), 5) as sock:
        sock.sendall((f"GET /ws HTTP/1.1\r\nHost: web.example.com\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        f = sock.makefile("rb")
        status = f.readline()
        if b" 101 " not in status:
            return f"handshake answered {status!r}"
        while f.readline() not in (b"\r\n", b""):
            pass
        for opcode, data in ((1, b"over TLS"), (2, bytes(range(40)))):
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


def test(env):
    if shutil.which("kubectl") is None:
        raise ie2e.Failure("kubectl is not installed (scripts/install-deps installs it)")
    certs = os.path.join(env.tmp, "certs")
    other = os.path.join(env.tmp, "other-ca")
    os.makedirs(certs)
    os.makedirs(other)
    ca = make_ca(certs)
    server = make_signed(certs, "backend", ["backend.test", "spiffe://kop.test/backend"], ca)
    wrong_ca = make_ca(other)
    backend_port = ie2e.port_free_on([BACKEND])
    pod = env.start("tls-echo", [sys.executable, os.path.join(HERE, "conformance",
                                                              "echo_backend.py"),
                                 f"default/secure-pod-0@{BACKEND}:{backend_port}"
                                 f"+tls={server[0]},{server[1]}"], stdout=subprocess.PIPE)
    check(pod.stdout.readline().decode().strip() == "ready", "the TLS echo did not start")
    offset = ie2e.free_port(ADDRESS) - 80
    while offset <= 0:
        offset = ie2e.free_port(ADDRESS) - 80
    port = offset + 80

    manifests = os.path.join(env.tmp, "manifests")
    os.makedirs(manifests)
    backends = wss_service("secure", backend_port) + wss_service("nopolicy", backend_port)
    for i, obj in enumerate(backends):
        with open(os.path.join(manifests, f"{i}.json"), "w") as f:
            json.dump(obj, f)
    k = Run(env, manifests, offset)
    wait_for("the kubeconfig on stdout", lambda: "current-context" in open(k.kubeconfig).read(), 30)
    k.apply(*objects(), ca_config_map("backend-ca", ca[2].decode()), policy("backend-ca"))

    # 1. TLS to the backend with the policy's name as SNI.
    three_in_a_row("GET through the TLS cluster", lambda: echo(port, "/hello"),
                   (200, "backend.test"))

    def policy_status(accepted, resolved):
        def ok():
            p = k.get("backendtlspolicy", "secure-tls")
            gen = p["metadata"].get("generation")
            for a in p.get("status", {}).get("ancestors", []):
                ref = a.get("ancestorRef", {})
                conds = a.get("conditions") or []
                if a.get("controllerName") == CONTROLLER and ref.get("name") == "edge" and \
                        ref.get("kind") == "Gateway" and \
                        all(c.get("observedGeneration") == gen for c in conds) and \
                        condition(conds, "Accepted") == accepted and \
                        condition(conds, "ResolvedRefs") == resolved:
                    return True
            return None
        wait_for(f"BackendTLSPolicy Accepted={accepted}, ResolvedRefs={resolved}", ok, 20)
    policy_status("True Accepted", "True ResolvedRefs")
    say("BackendTLSPolicy: the backend reached over TLS with SNI backend.test, status.ancestors "
        "names Gateway edge: Accepted, ResolvedRefs")

    # 2. A WebSocket through the TLS cluster (appProtocol kubernetes.io/wss).
    three_in_a_row("WebSocket echo through the TLS cluster", lambda: websocket(port), None)
    say("WebSocket upgrade through the wss port over TLS: 101, text and binary echoed")

    # 3. A wss port without a policy.
    def unsupported():
        p = our_parent(k.get("httproute", "web"))
        return p is not None and \
            condition(p.get("conditions"), "ResolvedRefs") == "False UnsupportedProtocol" or None
    wait_for("route ResolvedRefs=False/UnsupportedProtocol", unsupported, 20)
    three_in_a_row("GET to the wss port without a policy", lambda: echo(port, "/nopolicy")[0],
                   500)
    say("wss port without a BackendTLSPolicy: ResolvedRefs=False/UnsupportedProtocol, 500")

    # 4. Wrong CA, missing CA, the right CA again: never plain text.
    k.apply(ca_config_map("backend-ca", wrong_ca[2].decode()))
    # 502 for the failed handshakes, 503 once outlier detection has ejected the endpoint.
    three_in_a_row("GET with a CA that did not sign the backend",
                   lambda: (echo(port, "/hello")[0] in (502, 503)), True)
    k.apply(policy("no-such-config-map"))
    policy_status("False NoValidCACertificate", "False InvalidCACertificateRef")
    three_in_a_row("GET with the policy's CA missing", lambda: echo(port, "/hello"), (500, None))
    k.apply(ca_config_map("backend-ca", ca[2].decode()), policy("backend-ca"))
    policy_status("True Accepted", "True ResolvedRefs")
    # An endpoint ejected by outlier detection returns after its ejection time (30 s).
    three_in_a_row("GET with the right CA again", lambda: echo(port, "/hello"),
                   (200, "backend.test"), timeout=60)
    say("a CA that did not sign the backend: 502/503; no usable CA: status NoValidCACertificate and "
        "500; the CA back: 200")
    k.alive()
    check(not k.errors(), "errors in the log:\n" + "\n".join(k.errors()))


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
