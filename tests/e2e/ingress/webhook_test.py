#!/usr/bin/env python3
"""kop-ingress --webhook-addr against kop-local, which calls admission webhooks as the API
server does: kop-ingress makes its own CA and serving certificate (a Secret), writes the CA into
the caBundle of the ValidatingWebhookConfiguration it is told about (--webhook-configuration),
and answers reviews with its translation's verdict; the configuration is created after
kop-ingress started (it watches it by name). With kubectl:
- an IngressRoute with a tcpproxy but no TLS, and one claiming the fqdn of another, are refused
  with the reason; a valid one is accepted (its Service not existing yet is not its problem);
- an HTTPRoute on a Gateway of ours with a filter kop-ingress cannot serve (ExtensionRef) is
  refused; a valid one is accepted; a Gateway with a UDP listener is refused.

  webhook_test.py BUILD_DIR
"""
import base64
import json
import os
import shutil
import subprocess
import sys

import ie2e
from ie2e import check, say, wait_for

CONFIG = "kop-ingress-validation"
GROUP = "gateway.networking.k8s.io"


def kubectl(kubeconfig, *args, stdin=None):
    r = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "--request-timeout=10s", *args],
                       input=stdin, capture_output=True, text=True, timeout=30)
    say(f"kubectl {' '.join(args)} -> {r.returncode} "
        f"{r.stdout.strip()[:200]}{r.stderr.strip()[:400]}")
    return r


def apply(kubeconfig, obj):
    return kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(obj))


def refused(kubeconfig, obj, want):
    r = apply(kubeconfig, obj)
    check(r.returncode != 0, f"{obj['kind']} {obj['metadata']['name']} was accepted")
    check(want in r.stderr, f"want {want!r} in kubectl's error, got: {r.stderr}")


def accepted(kubeconfig, obj):
    r = apply(kubeconfig, obj)
    check(r.returncode == 0, f"{obj['kind']} {obj['metadata']['name']} refused: {r.stderr}")


def webhook_configuration(port):
    return {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": CONFIG},
        "webhooks": [{
            "name": "validate.ingress.kop.dev", "admissionReviewVersions": ["v1"],
            "sideEffects": "None", "failurePolicy": "Fail", "timeoutSeconds": 5,
            # No caBundle: kop-ingress writes it.
            "clientConfig": {"url": f"https://127.0.0.1:{port}/validate-kop-ingress"},
            "rules": [
                {"operations": ["CREATE", "UPDATE"], "apiGroups": ["ingress.kop.dev"],
                 "apiVersions": ["*"], "resources": ["ingressroutes"]},
                {"operations": ["CREATE", "UPDATE"], "apiGroups": ["networking.k8s.io"],
                 "apiVersions": ["v1"], "resources": ["ingresses"]},
                {"operations": ["CREATE", "UPDATE"], "apiGroups": [GROUP], "apiVersions": ["*"],
                 "resources": ["gateways", "httproutes", "grpcroutes", "tlsroutes",
                                "referencegrants"]}]}]}


def ingress_route(name, fqdn, tcpproxy=False):
    spec = {"virtualhost": {"fqdn": fqdn}}
    if tcpproxy:
        spec["tcpproxy"] = {"services": [{"name": "db", "port": 5432}]}
    else:
        spec["routes"] = [{"match": "/", "services": [{"name": "web", "port": 80}]}]
    return {"apiVersion": "ingress.kop.dev/v1beta1", "kind": "IngressRoute",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def http_route(name, filters):
    rule = {"backendRefs": [{"name": "web", "port": 80}]}
    if filters:
        rule["filters"] = filters
    return {"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": [rule]}}


def gateway(name, listeners):
    return {"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"gatewayClassName": "kop", "listeners": listeners}}


def test(env):
    if shutil.which("kubectl") is None:
        raise ie2e.Failure("kubectl is not installed (scripts/install-deps installs it)")
    api, kubeconfig = ie2e.start_kop_local(env)
    port = ie2e.free_port()
    # Files named by --webhook-cert-dir that are not there: kop-ingress stops at once, saying
    # which flag and what to do.
    missing = os.path.join(env.tmp, "no-such-cert-dir")
    r = subprocess.run([env.binary("operators/ingress/cmd/kop-ingress"), "--kubeconfig",
                        kubeconfig, "--webhook-addr", f"127.0.0.1:{port}",
                        "--webhook-cert-dir", missing,
                        "--http-addr", f"127.0.0.1:{ie2e.free_port()}", "--https-addr", "",
                        "--admin-addr", "", "--metrics-addr", f"127.0.0.1:{ie2e.free_port()}"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 2, f"kop-ingress exited {r.returncode}: {r.stderr[-2000:]}")
    check(f"--webhook-cert-dir {missing}: " in r.stderr and "leave --webhook-cert-dir unset"
          in r.stderr, f"no clear error for the missing certificate: {r.stderr[-2000:]}")
    say("--webhook-cert-dir without its files: refused, naming the flag")

    ing = ie2e.Ingress(env, kubeconfig, [
        "--webhook-addr", f"127.0.0.1:{port}", "--webhook-hosts", "127.0.0.1",
        "--webhook-configuration", CONFIG])
    say(f"kop-ingress webhook on :{port}")
    # The configuration created after kop-ingress is up: its watch on the name writes the
    # caBundle at once, not at the certificate loop's next pass (10 minutes on).
    accepted(kubeconfig, webhook_configuration(port))
    path = f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{CONFIG}"

    def bundle():
        hooks = api.call("GET", path).get("webhooks", [])
        return hooks[0].get("clientConfig", {}).get("caBundle") if hooks else None

    ca = base64.b64decode(wait_for("kop-ingress to write the caBundle", bundle, 20)).decode()
    secret = api.call("GET", "/api/v1/namespaces/default/secrets/kop-ingress-webhook-certs")
    check(base64.b64decode(secret["data"]["ca.crt"]).decode() == ca,
          "the caBundle is not the Secret's CA")
    say("caBundle = the CA of Secret default/kop-ingress-webhook-certs")

    denied = 'admission webhook "validate.ingress.kop.dev" denied the request: '
    # What the CRD's schema cannot say: a tcpproxy needs TLS; one fqdn, one root.
    refused(kubeconfig, ingress_route("bad", "db.example.com", tcpproxy=True),
            denied + 'IngressRoute "default/bad": spec.tcpproxy requires spec.virtualhost.tls')
    r = kubectl(kubeconfig, "get", "ingressroute", "bad")
    check(r.returncode != 0 and "NotFound" in r.stderr, "the refused IngressRoute was stored")
    accepted(kubeconfig, ingress_route("good", "www.example.com"))
    # Its Service "web" does not exist: another object's problem, accepted all the same.
    wait_for("kop-ingress to see IngressRoute good (its status)", lambda: api.call(
        "GET", "/apis/ingress.kop.dev/v1beta1/namespaces/default/ingressroutes/good")
        .get("status", {}).get("currentStatus"), 30)
    refused(kubeconfig, ingress_route("second", "www.example.com"),
            denied + 'IngressRoute "default/second": fqdn "www.example.com" is used in '
            'multiple IngressRoutes: default/good, default/second')
    say("IngressRoute: invalid refused with the reason, valid accepted")

    accepted(kubeconfig, {"apiVersion": f"{GROUP}/v1", "kind": "GatewayClass",
                          "metadata": {"name": "kop"},
                          "spec": {"controllerName": "kop.dev/gateway-controller"}})
    # The webhook judges by what its caches hold: wait until kop-ingress has seen the class.
    wait_for("GatewayClass kop accepted by kop-ingress", lambda: any(
        c.get("type") == "Accepted" and c.get("status") == "True"
        for c in api.call("GET", f"/apis/{GROUP}/v1/gatewayclasses/kop")
        .get("status", {}).get("conditions", [])), 30)
    refused(kubeconfig, gateway("udp", [{"name": "dns", "port": 53, "protocol": "UDP"}]),
            denied + 'Gateway "default/udp": spec.listeners[0].protocol: "UDP" is not supported')
    accepted(kubeconfig, gateway("gw", [{"name": "web", "port": 80, "protocol": "HTTP"}]))

    # Likewise for the Gateway the route attaches to (kop-ingress writes its status).
    def gateway_seen():
        st = api.call("GET", f"/apis/{GROUP}/v1/namespaces/default/gateways/gw").get("status", {})
        return any(c.get("type") == "Accepted" and c.get("observedGeneration") is not None
                   for c in st.get("conditions", []))

    wait_for("Gateway gw status from kop-ingress", gateway_seen, 30)
    refused(kubeconfig, http_route("bad", [{"type": "ExtensionRef", "extensionRef": {
        "group": "example.com", "kind": "Filter", "name": "x"}}]),
        denied + 'HTTPRoute "default/bad": spec.rules[0].filters[0]')
    accepted(kubeconfig, http_route("good", []))
    say("Gateway API: an unservable HTTPRoute filter and a UDP listener refused, valid accepted")
    check(ing.proc.poll() is None, "kop-ingress exited:\n" + env.log("kop-ingress"))


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
