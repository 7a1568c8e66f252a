#!/usr/bin/env python3
"""Round-trips every built-in kind kop-local serves through kop-local's protobuf encoder and a
real kube-apiserver's decoder: kop-local creates the object (dry run) and answers in protobuf
only; those bytes are POSTed to the real server as a protobuf body (dry run); the real server's
JSON answer must equal kop-local's JSON answer for the same object, after masking what differs
by nature. The other direction (the real encoder, kop-local's decoder) is what every kubectl
create does. A development tool, not part of `meson test` (docs/real-apiserver.md has the runs):

  build/libkop/local/kop-local --listen 127.0.0.1:18443 --write-kubeconfig /tmp/kop.kc &
  tests/unit/local/proto_compare_real.py /tmp/kop.kc REAL-KUBECONFIG [CONTEXT]
"""
import base64, json, os, ssl, sys, tempfile, urllib.error, urllib.request

import yaml  # python3-yaml

PB = "application/vnd.kubernetes.protobuf"


class Api:
    def __init__(self, path, context=None):
        kc = yaml.safe_load(open(path))
        name = context or kc["current-context"]
        ctx = next(c["context"] for c in kc["contexts"] if c["name"] == name)
        cluster = next(c["cluster"] for c in kc["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in kc["users"] if u["name"] == ctx["user"]) or {}
        self.server = cluster["server"]
        self.token = user.get("token", "")
        self.ssl = ssl.create_default_context()
        self.ssl.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        if "client-certificate-data" in user:
            d = tempfile.mkdtemp()
            for k, f in (("client-certificate-data", "c.pem"), ("client-key-data", "k.pem")):
                with open(os.path.join(d, f), "wb") as out:
                    out.write(base64.b64decode(user[k]))
            self.ssl.load_cert_chain(os.path.join(d, "c.pem"), os.path.join(d, "k.pem"))

    def call(self, method, path, body, ctype, accept):
        req = urllib.request.Request(self.server + path, data=body, method=method)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Accept", accept)
        req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=10) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read()


# A new namespace per run, left behind: without the controller-manager a deleted namespace
# stays Terminating for ever.
NS = "kop-proto-compare-" + os.urandom(3).hex()
OBJECTS = [
    ("/api/v1/namespaces", {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "kop-proto-demo"}}),
    ("/api/v1/namespaces/NS/configmaps", {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c", "labels": {"a": "b"}},
                                          "data": {"k": "v"}, "binaryData": {"b": "AAEC/w=="}}),
    ("/api/v1/namespaces/NS/secrets", {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"},
                                       "type": "Opaque", "data": {"password": "czNjcmV0"}}),
    ("/api/v1/namespaces/NS/services", {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "svc"},
                                        "spec": {"selector": {"app": "web"}, "ports": [
                                            {"name": "http", "port": 80, "targetPort": "http"},
                                            {"name": "b", "port": 81, "targetPort": 8081, "protocol": "UDP"}]}}),
    ("/api/v1/namespaces/NS/endpoints", {"kind": "Endpoints", "apiVersion": "v1", "metadata": {"name": "svc"},
                                         "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
    ("/api/v1/namespaces/NS/events", {"kind": "Event", "apiVersion": "v1", "metadata": {"name": "e"},
                                      "involvedObject": {"kind": "Pod", "name": "p", "namespace": "NS"}, "reason": "Started",
                                      "count": 3, "firstTimestamp": "2026-01-02T03:04:05Z", "type": "Normal"}),
    ("/api/v1/namespaces/NS/serviceaccounts", {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "robot"},
                                               "automountServiceAccountToken": False}),
    ("/api/v1/namespaces/NS/pods", {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"},
                                    "spec": {"automountServiceAccountToken": False, "containers": [
                                        {"name": "c", "image": "busybox", "args": ["sleep", "1"],
                                         "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
                                         "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                                        "volumes": [{"name": "v", "configMap": {"name": "c", "defaultMode": 420}}]}}),
    ("/apis/apps/v1/namespaces/NS/deployments", {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "web"},
                                                 "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                                                          "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "10%"}},
                                                          "template": {"metadata": {"labels": {"app": "web"}},
                                                                       "spec": {"containers": [{"name": "nginx", "image": "nginx:1", "ports": [{"containerPort": 80}]}]}}}}),
    ("/apis/networking.k8s.io/v1/namespaces/NS/ingresses", {"kind": "Ingress", "apiVersion": "networking.k8s.io/v1", "metadata": {"name": "i"},
                                                            "spec": {"ingressClassName": "kop", "rules": [{"host": "a.example.com", "http": {"paths": [
                                                                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
    ("/apis/networking.k8s.io/v1/ingressclasses", {"kind": "IngressClass", "apiVersion": "networking.k8s.io/v1", "metadata": {"name": "kop-proto-compare"},
                                                   "spec": {"controller": "kop.dev/ingress"}}),
    ("/apis/discovery.k8s.io/v1/namespaces/NS/endpointslices", {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1", "metadata": {"name": "es"},
                                                                "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": False}}],
                                                                "ports": [{"name": "", "port": 80, "protocol": "TCP"}]}),
    ("/apis/coordination.k8s.io/v1/namespaces/NS/leases", {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1", "metadata": {"name": "l"},
                                                           "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15, "renewTime": "2026-01-02T03:04:05.000001Z"}}),
]
MASK = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "clusterIP", "clusterIPs", "selfLink")


def masked(v):
    if isinstance(v, dict):
        return {k: ("*" if k in MASK else masked(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [masked(x) for x in v]
    return v


def main():
    kop, real = Api(sys.argv[1]), Api(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    ns = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": NS}}
    # Without the controller-manager nothing makes the default ServiceAccount that pods need.
    sa = {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "default"}}
    for api in (kop, real):
        api.call("POST", "/api/v1/namespaces", json.dumps(ns).encode(), "application/json", "application/json")
        api.call("POST", f"/api/v1/namespaces/{NS}/serviceaccounts", json.dumps(sa).encode(),
                 "application/json", "application/json")
    same = differ = 0
    for path, obj in OBJECTS:
        path = path.replace("NS", NS)
        text = json.dumps(obj).replace('"NS"', json.dumps(NS)).encode()
        code, ctype, pb = kop.call("POST", path + "?dryRun=All", text, "application/json", PB)
        if code != 201 or not ctype.startswith(PB):
            print(f"DIFFER  {obj['kind']}: kop-local answered {code} {ctype}: {pb[:200]!r}")
            differ += 1
            continue
        code_k, _, kop_json = kop.call("POST", path + "?dryRun=All", text, "application/json", "application/json")
        code_r, _, real_json = real.call("POST", path + "?dryRun=All", pb, PB, "application/json")
        a = masked(json.loads(real_json))
        b = masked(json.loads(kop_json))
        if code_r == code_k and a == b:
            print(f"same    {obj['kind']} ({len(pb)} protobuf bytes accepted by the real server)")
            same += 1
        else:
            differ += 1
            print(f"DIFFER  {obj['kind']}: real {code_r}, kop-local {code_k}")
            print("  real:     ", json.dumps(a, sort_keys=True)[:1500])
            print("  kop-local:", json.dumps(b, sort_keys=True)[:1500])
    print(f"protobuf compare: {same} same, {differ} differ")


if __name__ == "__main__":
    main()
