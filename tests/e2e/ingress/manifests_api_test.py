#!/usr/bin/env python3
"""kop-ingress without a cluster: --manifests DIR with --api-addr, so kubectl works against the
running instance. The hello-pks objects come from files; then
- kubectl, with the kubeconfig kop-ingress prints used as is (an https server with its CA and a
  bearer token made at start; the API refuses requests without it), lists them, applies a second Ingress whose
  host then answers 200 through the proxy, and deletes it (404 again);
- editing ingress.yaml in DIR (a new host) is followed: the new host answers, the old one 404;
- removing the EndpointSlice file leaves the Service without endpoints: 503.

  manifests_api_test.py BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys

import ie2e
from ie2e import HOST, check, say, wait_for


def kubectl(kubeconfig, *args, stdin=None):
    # stdin is closed unless given: a kubeconfig without credentials would make kubectl prompt
    # ("Please enter Username") and fail here instead of hanging.
    r = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "--request-timeout=10s", *args],
                       input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, f"kubectl {' '.join(args)} failed: {r.stderr}")
    say(f"kubectl {' '.join(args)} -> {r.stdout.strip()[:160]}")
    return r.stdout


def yaml_token(text):
    for line in text.splitlines():
        if line.strip().startswith("token:"):
            return line.split(":", 1)[1].strip()
    return None


def test(env):
    if shutil.which("kubectl") is None:
        raise ie2e.Failure("kubectl is not installed (scripts/install-deps installs it)")
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    addrs = ["127.0.0.2", "127.0.0.3"]
    port = ie2e.port_free_on(addrs)
    for i, a in enumerate(addrs):
        ie2e.start_backend(env, app, a, port, f"hello-pks-{i + 1}")

    manifests = os.path.join(env.tmp, "manifests")
    os.makedirs(manifests)
    # No CRD files: kop-ingress installs its own (--install-crds, the default).
    local = os.path.join(ie2e.ROOT, "examples/hello-pks/local")
    for f in ("deployment.yaml", "service.yaml", "ingress.yaml"):
        shutil.copy(os.path.join(local, f), manifests)
    slice_file = os.path.join(manifests, "endpointslice.yaml")
    with open(slice_file, "w") as f:  # JSON is YAML
        json.dump(ie2e.endpoint_slice("hello-pks-local", "hello-pks", addrs, port), f)
    subprocess.run([os.path.join(ie2e.ROOT, "examples/hello-pks/make-cert.sh"),
                    os.path.join(env.tmp, "cert")], check=True, stdout=subprocess.DEVNULL)
    shutil.copy(os.path.join(env.tmp, "cert", "hello-pks-tls.secret.yaml"), manifests)

    http, https, admin, metrics = (ie2e.free_port() for _ in range(4))
    kubeconfig = os.path.join(env.tmp, "kubeconfig")
    out = open(kubeconfig, "wb")
    proc = subprocess.Popen(
        [env.binary("operators/ingress/cmd/kop-ingress"), "--manifests", manifests,
         "--api-addr", "127.0.0.1:0", "--http-addr", f"127.0.0.1:{http}",
         "--https-addr", f"127.0.0.1:{https}", "--admin-addr", f"127.0.0.1:{admin}",
         "--metrics-addr", f"127.0.0.1:{metrics}", "--ingress-class", "contour"],
        stdout=out, stderr=open(os.path.join(env.tmp, "kop-ingress.log"), "wb"),
        stdin=subprocess.DEVNULL, start_new_session=True)
    out.close()
    env.procs.append(("kop-ingress", proc))

    def routed(host, code):
        check(proc.poll() is None, "kop-ingress exited:\n" + env.log("kop-ingress"))
        return ie2e.get(http, host)[0] == code

    wait_for(f"Host: {HOST} to answer 200 (from the files)", lambda: routed(HOST, 200), 30)
    wait_for("the kubeconfig on stdout",
             lambda: "current-context" in open(kubeconfig).read(), 10)
    with open(kubeconfig) as f:
        config = yaml_token(f.read())
    check(config and len(config) >= 32, "the printed kubeconfig has no bearer token")
    check(config not in env.log("kop-ingress"), "the token is in kop-ingress' log")
    r = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "--token=wrong",
                        "--request-timeout=10s", "get", "ingress"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and ("nauthorized" in r.stderr or "provide credentials" in r.stderr),
          f"a wrong token was accepted: rc={r.returncode} {r.stderr}")
    say("a wrong token is refused (401)")
    names = kubectl(kubeconfig, "get", "ingress,service,endpointslice", "-o", "name")
    for want in ("ingress.networking.k8s.io/hello-pks", "service/hello-pks",
                 "endpointslice.discovery.k8s.io/hello-pks-local"):
        check(want in names.split(), f"kubectl get does not list {want}: {names}")

    second = ie2e.ingress("second", "second.example.com", "hello-pks")
    kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(second))
    wait_for("second.example.com to answer 200", lambda: routed("second.example.com", 200), 15)
    kubectl(kubeconfig, "delete", "ingress", "second")
    wait_for("second.example.com to answer 404", lambda: routed("second.example.com", 404), 15)
    say("kubectl apply/delete of an Ingress is routed and unrouted")

    path = os.path.join(manifests, "ingress.yaml")
    with open(path) as f:
        text = f.read()
    check(text.count(HOST) == 2, "ingress.yaml changed shape")
    with open(path + ".tmp", "w") as f:
        f.write(text.replace(HOST, "edited.example.com"))
    os.replace(path + ".tmp", path)
    wait_for("the edited host to answer 200", lambda: routed("edited.example.com", 200), 20)
    wait_for(f"{HOST} to answer 404 after the edit", lambda: routed(HOST, 404), 20)
    say("ingress.yaml edited: edited.example.com 200, the old host 404")

    os.remove(slice_file)
    wait_for("503 once the EndpointSlice file is gone",
             lambda: routed("edited.example.com", 503), 20)
    say("EndpointSlice file removed -> 503")


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
