#!/usr/bin/env python3
"""kop-ingress whatever CRDs are installed (issue 14, point 1).

1. --manifests DIR with only an Ingress, its Service and EndpointSlice, and --install-crds=false
   (as a cluster where kop's CRDs were never applied): the Ingress answers 200, readyz is 200,
   one info line per missing CRD, and no list/watch error at all.
2. The IngressRoute CRD applied later with kubectl (through --api-addr), then an IngressRoute:
   its host answers 200 without a restart.
3. The CRD deleted: the IngressRoute's host answers 404, the Ingress still 200, still no error.
4. A second kop-ingress with the default --install-crds and an IngressRoute in DIR (no CRD file
   there): both hosts answer 200 at once.

  optional_crds_test.py BUILD_DIR
"""
import json
import os
import re
import shutil
import time
import subprocess
import sys

import ie2e
from ie2e import HOST, check, say, wait_for

ROUTE_HOST = "route.example.com"


def ingress_route(name, fqdn, service):
    return {"apiVersion": "ingress.kop.dev/v1beta1", "kind": "IngressRoute",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"virtualhost": {"fqdn": fqdn},
                     "routes": [{"match": "/", "services": [{"name": service, "port": 80}]}]}}


class Run:
    """One kop-ingress --manifests DIR --api-addr process; its ports, log and kubeconfig."""

    def __init__(self, env, name, manifests, extra=()):
        self.env, self.name = env, name
        self.http, self.https, self.admin, self.metrics = (ie2e.free_port() for _ in range(4))
        self.kubeconfig = os.path.join(env.tmp, name + ".kubeconfig")
        out = open(self.kubeconfig, "wb")
        self.proc = subprocess.Popen(
            [env.binary("operators/ingress/cmd/kop-ingress"), "--manifests", manifests,
             "--api-addr", "127.0.0.1:0", "--http-addr", f"127.0.0.1:{self.http}",
             "--https-addr", f"127.0.0.1:{self.https}", "--admin-addr", f"127.0.0.1:{self.admin}",
             "--metrics-addr", f"127.0.0.1:{self.metrics}", "--ingress-class", "contour",
             "--workers", "2", *extra],
            stdout=out, stderr=open(os.path.join(env.tmp, name + ".log"), "wb"),
            stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        env.procs.append((name, self.proc))

    def log(self):
        return self.env.log(self.name)

    def answers(self, host, code):
        check(self.proc.poll() is None, f"{self.name} exited:\n" + self.log())
        return ie2e.get(self.http, host)[0] == code

    def kubectl(self, *args, stdin=None):
        r = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, "--request-timeout=10s",
                            *args], input=stdin,
                           stdin=None if stdin is not None else subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, f"kubectl {' '.join(args)} failed: {r.stderr}")
        say(f"kubectl {' '.join(args[:3])} -> {r.stdout.strip()[:120]}")
        return r.stdout

    def no_errors(self):
        log = self.log()
        check("list/watch failed" not in log, "list/watch errors in the log:\n" + log)
        errors = [line for line in log.splitlines() if "level=error" in line]
        check(not errors, "errors in the log:\n" + "\n".join(errors))


def test(env):
    if shutil.which("kubectl") is None:
        raise ie2e.Failure("kubectl is not installed (scripts/install-deps installs it)")
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    port = ie2e.port_free_on(["127.0.0.2"])
    ie2e.start_backend(env, app, "127.0.0.2", port, "hello-pks-1")

    manifests = os.path.join(env.tmp, "manifests")
    os.makedirs(manifests)
    for name, obj in (("service.json", ie2e.service("hello-pks")),
                      ("ingress.json", ie2e.ingress("hello-pks", HOST, "hello-pks")),
                      ("endpointslice.json",
                       ie2e.endpoint_slice("hello-pks-1", "hello-pks", ["127.0.0.2"], port))):
        with open(os.path.join(manifests, name), "w") as f:
            json.dump(obj, f)

    # 1. No kop CRD anywhere.
    a = Run(env, "kop-ingress-nocrds", manifests, ["--install-crds=false"])
    wait_for(f"Host: {HOST} to answer 200 without kop's CRDs", lambda: a.answers(HOST, 200), 30)
    wait_for("readyz 200", lambda: ie2e.get(a.metrics, "localhost", "/readyz")[0] == 200, 10)
    for kind in ("IngressRoute", "TLSCertificateDelegation"):
        line = f"{kind} CRD not installed: {kind}s are not served"
        wait_for(f"the line '{line}'", lambda: line in a.log(), 10)
        check(a.log().count(line) == 1, f"'{line}' logged more than once:\n" + a.log())
    wait_for("the kubeconfig on stdout", lambda: "current-context" in open(a.kubeconfig).read(), 10)
    time.sleep(2)  # a reflector retrying a missing kind would have logged by now
    a.no_errors()
    say("no CRD: the Ingress answers 200, readyz 200, one info line per CRD, no error")

    # 2. The IngressRoute CRD applied while running, then a route.
    a.kubectl("apply", "-f", os.path.join(ie2e.ROOT, "crds/ingressroutes.ingress.kop.dev.yaml"))
    wait_for("the IngressRoute CRD to be picked up",
             lambda: "IngressRoute CRD installed: IngressRoutes are served" in a.log(), 15)
    a.kubectl("apply", "-f", "-",
              stdin=json.dumps(ingress_route("route", ROUTE_HOST, "hello-pks")))
    wait_for(f"Host: {ROUTE_HOST} (IngressRoute) to answer 200",
             lambda: a.answers(ROUTE_HOST, 200), 15)
    say("CRD applied later: the IngressRoute answers 200 without a restart")

    # 3. The CRD deleted while running.
    a.kubectl("delete", "crd", "ingressroutes.ingress.kop.dev")
    wait_for(f"Host: {ROUTE_HOST} to answer 404 once the CRD is gone",
             lambda: a.answers(ROUTE_HOST, 404), 15)
    check(a.answers(HOST, 200), "the Ingress stopped answering when the CRD went")
    # The routes go with the IngressRoutes the API server deletes, which may be before the CRD's
    # own watch reports it gone (a sanitizer build logged the line 23 ms after the 404).
    removed = "IngressRoute CRD removed: IngressRoutes are no longer served"
    wait_for(f"the line '{removed}'", lambda: removed in a.log(), 10)
    time.sleep(2)
    a.no_errors()
    check(a.answers(HOST, 200), "the Ingress stopped answering")
    say("CRD deleted: its route is gone (404), the Ingress still 200, no error")
    env.stop(a.proc)

    # 4. Built-in CRDs (the default): an IngressRoute in DIR, no CRD file there.
    with open(os.path.join(manifests, "ingressroute.json"), "w") as f:
        json.dump(ingress_route("route", ROUTE_HOST, "hello-pks"), f)
    b = Run(env, "kop-ingress-builtin", manifests)
    wait_for(f"Host: {ROUTE_HOST} to answer 200 (built-in CRDs)",
             lambda: b.answers(ROUTE_HOST, 200), 30)
    check(b.answers(HOST, 200), "the Ingress does not answer")
    check(re.search(r'built-in CRDs installed.*crds=(\d+)', b.log()),
          "no 'built-in CRDs installed' line:\n" + b.log())
    check("CRD not installed" not in b.log(), "a CRD counted as missing:\n" + b.log())
    b.no_errors()
    say("--manifests installs its own CRDs: an IngressRoute in DIR answers 200 at once")


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
