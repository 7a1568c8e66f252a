#!/usr/bin/env python3
"""TLSRoute and TLS listeners served by kop-ingress --manifests, over real sockets (issue 13).

One Gateway (127.0.1.1, ports shifted by --gateway-local-port-offset) with
  - on port 443 a TLS Passthrough listener for *.example.com and an HTTPS listener for
    www.example.com (one socket: the SNI tells them apart);
  - on port 8443 a TLS Terminate listener with the Gateway's certificate.
1. Passthrough: curl with SNI db.example.com reaches a TLS backend the test starts
   (openssl s_server) and trusts only that backend's own self-signed certificate, so the
   handshake went through kop-ingress untouched; 3 times in a row.
2. HTTPS on the same port: www.example.com is answered by the HTTPRoute's backend with the
   Gateway's certificate.
3. Terminate: curl with SNI plain.example.com gets the Gateway's certificate and the plain
   HTTP backend behind the TLSRoute answers through the decrypted relay.
4. An SNI no route names is closed (no certificate, no relay).
5. Status: the TLSRoutes Accepted under our controllerName, the listeners' supportedKinds and
   attachedRoutes, an HTTPRoute naming the passthrough listener NotAllowedByListeners, a
   TLSRoute to a missing Service ResolvedRefs=False/BackendNotFound and its SNI closed.

  manifests_tlsroute_test.py BUILD_DIR
"""
import json
import os
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ingress"))
import ie2e  # noqa: E402
from ie2e import check, say, wait_for  # noqa: E402
from manifests_gateways_test import (GROUP, Run, condition, gateway_class,  # noqa: E402
                                     our_parent, three_in_a_row)

ADDRESS = "127.0.1.1"  # the first Gateway's address under --manifests


def tls_route(name, service, port, hostnames, section=None):
    ref = {"name": "edge"}
    if section:
        ref["sectionName"] = section
    return {"apiVersion": f"{GROUP}/v1", "kind": "TLSRoute",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"parentRefs": [ref], "hostnames": hostnames,
                     "rules": [{"backendRefs": [{"name": service, "port": port}]}]}}


def edge_gateway():
    cert = [{"name": "edge-cert"}]
    return {"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
            "metadata": {"name": "edge", "namespace": "default"},
            "spec": {"gatewayClassName": "kop", "listeners": [
                {"name": "passthrough", "port": 443, "protocol": "TLS",
                 "hostname": "*.example.com", "tls": {"mode": "Passthrough"}},
                {"name": "web", "port": 443, "protocol": "HTTPS", "hostname": "www.example.com",
                 "tls": {"mode": "Terminate", "certificateRefs": cert}},
                {"name": "terminate", "port": 8443, "protocol": "TLS",
                 "tls": {"mode": "Terminate", "certificateRefs": cert}}]}}


def curl(host, port, cacert):
    """HTTPS GET https://host:port/ sent to ADDRESS (SNI host), trusting only cacert:
    (exit code, body)."""
    r = subprocess.run(["curl", "-s", "--max-time", "5", "--cacert", cacert,
                        "--resolve", f"{host}:{port}:{ADDRESS}", f"https://{host}:{port}/"],
                       capture_output=True, text=True, timeout=15)
    return r.returncode, r.stdout


def free_offset():
    """A --gateway-local-port-offset under which ports 443 and 8443 are free on ADDRESS."""
    for _ in range(100):
        offset = ie2e.free_port(ADDRESS) - 443
        if offset <= 0 or offset + 8443 > 65535:
            continue
        try:
            for port in (offset + 443, offset + 8443):
                with socket.socket() as s:
                    s.bind((ADDRESS, port))
            return offset
        except OSError:
            continue
    raise ie2e.Failure(f"no offset with ports 443 and 8443 free on {ADDRESS}")


def write_pem(env, name, pem):
    path = os.path.join(env.tmp, name)
    with open(path, "wb") as f:
        f.write(pem)
    return path


def test(env):
    if shutil.which("kubectl") is None:
        raise ie2e.Failure("kubectl is not installed (scripts/install-deps installs it)")
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    # Backends: a TLS server with its own certificate (passthrough), two plain HTTP apps.
    db_crt, db_key, _ = ie2e.make_cert(os.path.join(env.tmp, "db"), "db.example.com",
                                       ["db.example.com"])
    edge_crt, edge_key, _ = ie2e.make_cert(os.path.join(env.tmp, "edge"), "example.com",
                                           ["www.example.com", "plain.example.com"])
    db_port = ie2e.port_free_on(["127.0.0.2"])
    env.start("tls-backend", ["openssl", "s_server", "-accept", f"127.0.0.2:{db_port}",
                              "-cert", write_pem(env, "db.crt", db_crt),
                              "-key", write_pem(env, "db.key", db_key), "-www", "-quiet"])
    app_port = ie2e.port_free_on(["127.0.0.3", "127.0.0.4"])
    ie2e.start_backend(env, app, "127.0.0.3", app_port, "pod-web")
    ie2e.start_backend(env, app, "127.0.0.4", app_port, "pod-plain")
    offset = free_offset()
    https_port, terminate_port = offset + 443, offset + 8443
    cacert_db, cacert_edge = os.path.join(env.tmp, "db.crt"), write_pem(env, "edge.crt", edge_crt)

    manifests = os.path.join(env.tmp, "manifests")
    os.makedirs(manifests)
    db_svc = ie2e.service("db")
    db_svc["spec"]["ports"][0]["port"] = 5432
    objects = [db_svc, ie2e.endpoint_slice("db-1", "db", ["127.0.0.2"], db_port),
               ie2e.service("web"), ie2e.endpoint_slice("web-1", "web", ["127.0.0.3"], app_port),
               ie2e.service("plain"),
               ie2e.endpoint_slice("plain-1", "plain", ["127.0.0.4"], app_port),
               ie2e.tls_secret("edge-cert", edge_crt, edge_key)]
    for i, obj in enumerate(objects):
        with open(os.path.join(manifests, f"{i}.json"), "w") as f:
            json.dump(obj, f)
    k = Run(env, manifests, offset)
    wait_for("the kubeconfig on stdout", lambda: "current-context" in open(k.kubeconfig).read(), 30)
    http_on_tls = {"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute",
                   "metadata": {"name": "http-on-tls", "namespace": "default"},
                   "spec": {"parentRefs": [{"name": "edge", "sectionName": "passthrough"}],
                            "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}
    web_route = {"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute",
                 "metadata": {"name": "web", "namespace": "default"},
                 "spec": {"parentRefs": [{"name": "edge", "sectionName": "web"}],
                          "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}
    k.apply(gateway_class(), edge_gateway(), web_route, http_on_tls,
            tls_route("db", "db", 5432, ["db.example.com"], "passthrough"),
            tls_route("plain", "plain", 80, ["plain.example.com"], "terminate"),
            tls_route("gone", "no-such-service", 80, ["gone.example.com"], "passthrough"))

    # 1. Passthrough to the backend's own certificate.
    def passthrough():
        code, body = curl("db.example.com", https_port, cacert_db)
        return code == 0 and "s_server" in body
    three_in_a_row("passthrough db.example.com -> openssl s_server", passthrough, True)
    say(f"passthrough: {ADDRESS}:{https_port} SNI db.example.com reached the TLS backend "
        "with its own certificate")

    # 2. HTTPS on the same socket.
    three_in_a_row("HTTPS www.example.com",
                   lambda: (lambda r: (r[0], ie2e.pod_of(r[1])))(
                       curl("www.example.com", https_port, cacert_edge)), (0, "pod-web"))
    say("HTTPS www.example.com on the same port: the Gateway's certificate, pod-web")

    # 3. Terminate: the Gateway's certificate, plaintext to the backend.
    three_in_a_row("terminate plain.example.com",
                   lambda: (lambda r: (r[0], ie2e.pod_of(r[1])))(
                       curl("plain.example.com", terminate_port, cacert_edge)), (0, "pod-plain"))
    say(f"terminate: {ADDRESS}:{terminate_port} SNI plain.example.com decrypted and relayed to "
        "pod-plain")

    # 4. Names no route relays are closed.
    for host, port in (("other.example.org", https_port), ("gone.example.com", https_port)):
        code, _ = curl(host, port, cacert_db)
        check(code != 0, f"SNI {host} on port {port} was answered")
    say("SNI other.example.org and gone.example.com (no backend): closed")

    # 5. Status.
    def statuses():
        want = {"db": ("True Accepted", "True ResolvedRefs"),
                "plain": ("True Accepted", "True ResolvedRefs"),
                "gone": ("True Accepted", "False BackendNotFound")}
        for name, (accepted, resolved) in want.items():
            p = our_parent(k.get("tlsroute", name))
            if not p or condition(p.get("conditions"), "Accepted") != accepted or \
                    condition(p.get("conditions"), "ResolvedRefs") != resolved:
                return None
        p = our_parent(k.get("httproute", "http-on-tls"))
        if not p or condition(p.get("conditions"), "Accepted") != "False NotAllowedByListeners":
            return None
        ls = {x["name"]: x for x in k.get("gateway", "edge").get("status", {}).get("listeners", [])}
        for name, kinds, attached in (("passthrough", ["TLSRoute"], 2),
                                      ("web", ["HTTPRoute", "GRPCRoute"], 1),
                                      ("terminate", ["TLSRoute"], 1)):
            x = ls.get(name, {})
            if x.get("attachedRoutes") != attached or \
                    [k_.get("kind") for k_ in x.get("supportedKinds", [])] != kinds:
                return None
        return True
    wait_for("TLSRoute, HTTPRoute and listener statuses", statuses, 20)
    say("statuses: TLSRoutes Accepted (gone: BackendNotFound), HTTPRoute on the TLS listener "
        "NotAllowedByListeners, listeners' kinds and attachedRoutes")
    check(not k.errors(), "errors in the log:\n" + "\n".join(k.errors()))


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
