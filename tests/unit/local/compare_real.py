#!/usr/bin/env python3
"""Runs the same API requests against kop-local and a real kube-apiserver and prints where the
answers differ (status code or body, after masking uids, timestamps, resourceVersions and
generated names). A development tool, not part of `meson test`:

  ../shared/tools/real-apiserver start            # prints export KUBECONFIG=...
  build/libkop/local/kop-local --listen 127.0.0.1:18443 --write-kubeconfig /tmp/kop.kc &
  tests/unit/local/compare_real.py /tmp/kop.kc /var/tmp/kop-real-apiserver/run/pki/kubeconfig real-token
"""
import base64, json, re, ssl, sys, tempfile, time, urllib.request, urllib.error

import yaml  # python3-yaml


def load(path, context=None):
    kc = yaml.safe_load(open(path))
    ctx_name = context or kc["current-context"]
    ctx = next(c["context"] for c in kc["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in kc["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in kc["users"] if u["name"] == ctx["user"]) or {}
    sslctx = ssl.create_default_context()
    ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
    sslctx.load_verify_locations(cadata=ca)
    return cluster["server"], user.get("token", ""), sslctx


class Api:
    def __init__(self, path, context=None):
        self.server, self.token, self.ssl = load(path, context)

    def call(self, method, path, body=None, ctype="application/json", accept="application/json"):
        data = body if isinstance(body, (bytes, type(None))) else (body if isinstance(body, str) else json.dumps(body)).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Accept", accept)
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def watch_first(self, path):
        req = urllib.request.Request(self.server + path)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        with urllib.request.urlopen(req, context=self.ssl, timeout=10) as r:
            return r.status, r.readline().decode()


MASKS = [
    (re.compile(r'"(uid|creationTimestamp|deletionTimestamp|time|lastTransitionTime)":"[^"]*"'), r'"\1":"*"'),
    (re.compile(r'"resourceVersion":"\d+"'), '"resourceVersion":"N"'),
    (re.compile(r'too old resource version: \d+ \(\d+\)'), 'too old resource version: N (M)'),
    (re.compile(r'"continue":"[^"]*"'), '"continue":"*"'),
    (re.compile(r'"clusterIP":"[^"]*"'), '"clusterIP":"*"'),
    (re.compile(r'"clusterIPs":\["[^"]*"\]'), '"clusterIPs":["*"]'),
    (re.compile(r'"\d+[smhdy](\d+[smh])?"'), '"AGE"'),
]


def norm(body):
    try:
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except Exception:
        pass
    for rx, rep in MASKS:
        body = rx.sub(rep, body)
    return body


ING_BAD = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "bad"},
           "spec": {"rules": [{"host": "a.example.com", "http": {"paths": [
               {"path": "/", "backend": {"service": {"name": "s", "port": {"number": 80}}}},
               {"path": "a//b", "pathType": "Prefix", "backend": {"service": {"name": "Bad_Name", "port": {"number": 0}}}}]}}]}}

SCENARIOS = [
    ("create configmap", "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "cmp-a"}, "data": {"k": "v"}}),
    ("create again: AlreadyExists", "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "cmp-a"}}),
    ("get missing: NotFound", "GET", "/api/v1/namespaces/default/configmaps/cmp-none", None),
    ("stale update: Conflict", "PUT", "/api/v1/namespaces/default/configmaps/cmp-a",
     {"metadata": {"name": "cmp-a", "resourceVersion": "1"}, "data": {"k": "x"}}),
    ("invalid ingress: Invalid", "POST", "/apis/networking.k8s.io/v1/namespaces/default/ingresses", ING_BAD),
    ("missing namespace", "POST", "/api/v1/namespaces/nope/configmaps", {"metadata": {"name": "x"}}),
    ("delete default namespace", "DELETE", "/api/v1/namespaces/default", None),
    ("rvMatch without rv", "GET", "/api/v1/configmaps?resourceVersionMatch=Exact", None),
    ("tls secret without key", "POST", "/api/v1/namespaces/default/secrets",
     {"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}),
    ("service defaults", "POST", "/api/v1/namespaces/default/services", {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}),
    ("bad service", "POST", "/api/v1/namespaces/default/services",
     {"metadata": {"name": "1svc"}, "spec": {"type": "Weird", "ports": [{"port": 70000}, {"port": 80, "name": "a"}]}}),
    ("json patch test fails", "PATCH:application/json-patch+json", "/api/v1/namespaces/default/configmaps/cmp-a",
     '[{"op":"test","path":"/data/k","value":"zz"}]'),
    ("apply by alice", "PATCH:application/apply-patch+yaml", "/api/v1/namespaces/default/configmaps/cmp-b?fieldManager=alice",
     '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cmp-b"},"data":{"k":"a"}}'),
    ("apply conflict by bob", "PATCH:application/apply-patch+yaml", "/api/v1/namespaces/default/configmaps/cmp-b?fieldManager=bob",
     '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cmp-b"},"data":{"k":"b"}}'),
    ("list with limit", "GET", "/api/v1/namespaces/default/configmaps?limit=1", None),
    ("table", "GET:table", "/api/v1/namespaces/default/configmaps", None),
    ("namespace", "POST", "/api/v1/namespaces", {"metadata": {"name": "cmp-ns"}}),
    ("held configmap", "POST", "/api/v1/namespaces/cmp-ns/configmaps", {"metadata": {"name": "held", "finalizers": ["example.com/x"]}}),
    ("delete with finalizer", "DELETE", "/api/v1/namespaces/cmp-ns/configmaps/held", None),
    ("add finalizer while deleting", "PATCH:application/merge-patch+json", "/api/v1/namespaces/cmp-ns/configmaps/held",
     '{"metadata":{"finalizers":["example.com/x","example.com/y"]}}'),
    ("delete namespace", "DELETE", "/api/v1/namespaces/cmp-ns", None),
    ("create in terminating namespace", "POST", "/api/v1/namespaces/cmp-ns/configmaps", {"metadata": {"name": "late"}}),
    ("remove last finalizer", "PATCH:application/merge-patch+json", "/api/v1/namespaces/cmp-ns/configmaps/held",
     '{"metadata":{"finalizers":null}}'),
    ("deployment", "POST", "/apis/apps/v1/namespaces/default/deployments",
     {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
      "spec": {"containers": [{"name": "c", "image": "i:1", "env": [{"name": "A", "value": "1"}]}, {"name": "s", "image": "s:1"}]}}}}),
    ("deployment smp", "PATCH:application/strategic-merge-patch+json", "/apis/apps/v1/namespaces/default/deployments/d",
     '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"i:2","env":[{"name":"B","value":"2"}]}]}}}}'),
    ("delete deployment", "DELETE", "/apis/apps/v1/namespaces/default/deployments/d", None),
    ("exact list at 1", "GET", "/api/v1/configmaps?resourceVersion=1&resourceVersionMatch=Exact", None),
    ("bad label selector", "GET", "/api/v1/configmaps?labelSelector=a%20b", None),
    ("bad field selector", "GET", "/api/v1/configmaps?fieldSelector=spec.x%3D1", None),
    ("crd", "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "CRD"),
    ("delete configmap", "DELETE", "/api/v1/namespaces/default/configmaps/cmp-a", None),
    ("delete service", "DELETE", "/api/v1/namespaces/default/services/svc", None),
    ("delete configmap b", "DELETE", "/api/v1/namespaces/default/configmaps/cmp-b", None),
]


def run(api):
    out = []
    crd = yaml.safe_load(open(__file__.rsplit("/unit/", 1)[0] + "/testdata/local/widgets-crd.yaml"))
    for name, method, path, body in SCENARIOS:
        if body == "CRD":
            body = crd
        ctype, accept = "application/json", "application/json"
        if ":" in method:
            method, kind = method.split(":", 1)
            if kind == "table":
                accept = "application/json;as=Table;v=v1;g=meta.k8s.io"
            else:
                ctype = kind
        code, text = api.call(method, path, body, ctype, accept)
        out.append((name, code, norm(text)))
    code, line = api.watch_first("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1")
    out.append(("watch from rv 1", code, norm(line)))
    for _ in range(50):  # the CRD becomes Established
        c, t = api.call("GET", "/apis/example.com/v1")
        if c == 200:
            break
        time.sleep(0.2)
    widgets = "/apis/example.com/v1/namespaces/default/widgets"
    for name, body in [("widget invalid", {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                                           "spec": {"size": "big", "color": "pink", "host": "UPPER", "tags": ["a", "b", "c"], "port": True}}),
                       ("widget too big", {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 11}}),
                       ("widget missing size", {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}),
                       ("widget defaults and pruning", {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                                                        "spec": {"size": 2, "unknown": 1, "routes": [{"name": "a"}]}, "status": {"ready": True}})]:
        c, t = api.call("POST", widgets, body)
        out.append((name, c, norm(t)))
    c, t = api.call("GET", widgets, accept="application/json;as=Table;v=v1;g=meta.k8s.io")
    out.append(("widget table", c, norm(t)))
    api.call("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    return out


def main():
    a = Api(sys.argv[1])
    b = Api(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    ra, rb = run(a), run(b)
    diffs = 0
    for (name, ca, ta), (_, cb, tb) in zip(ra, rb):
        if ca == cb and ta == tb:
            print(f"same  {name}")
            continue
        diffs += 1
        print(f"DIFF  {name}\n  kop-local {ca}: {ta}\n  real      {cb}: {tb}")
    print(f"{diffs} differences")


if __name__ == "__main__":
    main()
