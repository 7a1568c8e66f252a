#!/usr/bin/env python3
"""Checks the project's manifests without a cluster:  check_manifests.py SOURCE_ROOT

1. Every YAML file under crds/ and examples/ parses, and every document in it is a Kubernetes
   object (apiVersion, kind, metadata.name).
2. Every CRD in crds/ is apiextensions.k8s.io/v1, named <plural>.<group>, has one storage version
   with the status subresource, and a *structural* schema: every node has a type (none inside
   anyOf/oneOf/allOf/not, which may only hold value validations on fields declared outside),
   objects declare properties, arrays declare items, required fields exist, list-map keys are
   required, every field has a description, defaults satisfy their own schema, and printer
   columns point at fields that exist.
3. Every IngressRoute / TLSCertificateDelegation in examples/ validates against its CRD, and a
   table of hand-written objects is accepted or rejected as the schema promises (a small
   OpenAPI validator below; unknown fields count as errors because the API server would prune
   them silently).
Exit 0 when all checks pass, 1 otherwise; each failure is printed.
"""
import copy
import pathlib
import re
import sys

try:
    import yaml
except ImportError:
    print("check_manifests: python3-yaml is missing (scripts/install-deps installs it)")
    sys.exit(1)

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


# ---------------------------------------------------------------- 1. parse everything
def load_all(root):
    docs = []  # (path, doc)
    files = sorted(
        p for d in ("crds", "examples") for p in (root / d).rglob("*")
        if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in files:
        try:
            parsed = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as e:
            fail(f"{path}: does not parse: {e}")
            continue
        if not parsed:
            fail(f"{path}: no document")
        for d in parsed:
            if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind") \
                    or not isinstance(d.get("metadata"), dict) or not d["metadata"].get("name"):
                fail(f"{path}: a document is not an object with apiVersion, kind, metadata.name")
                continue
            docs.append((path, d))
    return files, docs


# ---------------------------------------------------------------- 2. structural schemas
JUNCTORS = ("anyOf", "oneOf", "allOf", "not")
FORBIDDEN_IN_JUNCTOR = ("type", "description", "default", "additionalProperties", "nullable",
                        "properties", "items")


def check_junctor(node, where, declared):
    branches = node if isinstance(node, list) else [node]
    for i, b in enumerate(branches):
        for k in FORBIDDEN_IN_JUNCTOR:
            if k in b:
                fail(f"{where}[{i}]: '{k}' inside a junctor is not structural")
        for r in b.get("required", []):
            if r not in declared:
                fail(f"{where}[{i}]: requires '{r}' which is not declared outside the junctor")


def check_structural(node, where, is_root_metadata=False):
    if not isinstance(node, dict):
        fail(f"{where}: schema node is not a mapping")
        return
    t = node.get("type")
    if t is None and not node.get("x-kubernetes-int-or-string") \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        fail(f"{where}: no type")
    props = node.get("properties", {})
    for j in JUNCTORS:
        if j in node:
            check_junctor(node[j], f"{where}.{j}", props)
    if t == "object" and not is_root_metadata:
        if not props and "additionalProperties" not in node \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            fail(f"{where}: object without properties")
    if is_root_metadata and set(node) - {"type"}:
        fail(f"{where}: metadata may only be 'type: object' here")
    for r in node.get("required", []):
        if r not in props:
            fail(f"{where}: required '{r}' is not a property")
    if t == "array":
        if "items" not in node:
            fail(f"{where}: array without items")
        else:
            check_structural(node["items"], f"{where}[]")
            if node.get("x-kubernetes-list-type") == "map":
                keys = node.get("x-kubernetes-list-map-keys", [])
                if not keys:
                    fail(f"{where}: list-type map without list-map-keys")
                for k in keys:
                    if k not in node["items"].get("required", []):
                        fail(f"{where}: list-map key '{k}' must be required in items")
    for name, sub in props.items():
        path = f"{where}.{name}"
        if where.endswith("openAPIV3Schema") and name == "metadata":
            check_structural(sub, path, is_root_metadata=True)
            continue
        if not sub.get("description") and name not in ("metadata",):
            fail(f"{path}: no description")
        check_structural(sub, path)
    if "default" in node:
        errs = validate(node["default"], node, where + ".default")
        for e in errs:
            fail(f"default does not satisfy its schema: {e}")


def column_resolves(schema, json_path):
    # A filter such as [?(@.type=="Ready")] selects array items: walk it like an index.
    json_path = re.sub(r"\[\?\(.*?\)\]", "[0]", json_path)
    node = schema
    for part in re.findall(r"\.([A-Za-z0-9_]+)(\[\d+\])?", json_path):
        name, index = part
        if name == "metadata" and node is schema:
            return True
        node = node.get("properties", {}).get(name)
        if node is None:
            return False
        if index:
            node = node.get("items")
            if node is None:
                return False
    return True


def check_crd(path, crd):
    where = f"{path.name}"
    if crd.get("apiVersion") != "apiextensions.k8s.io/v1":
        fail(f"{where}: apiVersion is not apiextensions.k8s.io/v1")
    spec = crd["spec"]
    names = spec["names"]
    if crd["metadata"]["name"] != f"{names['plural']}.{spec['group']}":
        fail(f"{where}: metadata.name is not <plural>.<group>")
    if path.name != crd["metadata"]["name"] + ".yaml":
        fail(f"{where}: file name should be {crd['metadata']['name']}.yaml")
    storage = [v for v in spec["versions"] if v.get("storage")]
    if len(storage) != 1:
        fail(f"{where}: want exactly one storage version, have {len(storage)}")
    for v in spec["versions"]:
        vw = f"{where} {v['name']}"
        if not v.get("served"):
            fail(f"{vw}: not served")
        if "status" not in v.get("subresources", {}):
            fail(f"{vw}: no status subresource")
        schema = v["schema"]["openAPIV3Schema"]
        if schema.get("type") != "object":
            fail(f"{vw}: root schema must be type object")
        check_structural(schema, f"{vw} openAPIV3Schema")
        for col in v.get("additionalPrinterColumns", []):
            if not column_resolves(schema, col["jsonPath"]):
                fail(f"{vw}: printer column {col['name']} points at missing {col['jsonPath']}")


# ---------------------------------------------------------------- 3. a small validator
def type_ok(value, t):
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
    }.get(t, False)


def validate(value, schema, where):
    """Returns a list of errors for value against an OpenAPI v3 (structural) schema."""
    errs = []
    t = schema.get("type")
    if t and not type_ok(value, t):
        return [f"{where}: want {t}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1e18):
            errs.append(f"{where}: length {len(value)} out of bounds")
    if type_ok(value, "number"):
        if value < schema.get("minimum", -1e18) or value > schema.get("maximum", 1e18):
            errs.append(f"{where}: {value} out of [{schema.get('minimum')}, {schema.get('maximum')}]")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errs.append(f"{where}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            errs += validate(item, schema.get("items", {}), f"{where}[{i}]")
        if schema.get("x-kubernetes-list-type") == "set" and len(set(map(repr, value))) != len(value):
            errs.append(f"{where}: duplicate items in a set")
        keys = schema.get("x-kubernetes-list-map-keys")
        if keys and len({tuple(i.get(k) for k in keys) for i in value}) != len(value):
            errs.append(f"{where}: duplicate map keys {keys}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for r in schema.get("required", []):
            if r not in value:
                errs.append(f"{where}: missing required '{r}'")
        for k, v in value.items():
            if k in props:
                if not (where == "" and k == "metadata"):
                    errs += validate(v, props[k], f"{where}.{k}")
            elif not schema.get("x-kubernetes-preserve-unknown-fields") \
                    and "additionalProperties" not in schema and props:
                errs.append(f"{where}: unknown field '{k}' (the API server would prune it)")

    def holds(branch):
        return not validate(value, {**branch, "type": None}, where) if branch else True

    if "oneOf" in schema and sum(holds(b) for b in schema["oneOf"]) != 1:
        errs.append(f"{where}: must satisfy exactly one of {schema['oneOf']}")
    if "anyOf" in schema and not any(holds(b) for b in schema["anyOf"]):
        errs.append(f"{where}: must satisfy one of {schema['anyOf']}")
    return errs


def ir(spec):
    return {"apiVersion": "ingress.kop.dev/v1beta1", "kind": "IngressRoute",
            "metadata": {"name": "t", "namespace": "default"}, "spec": spec}


def route(**kw):
    r = {"match": "/", "services": [{"name": "s1", "port": 80}]}
    r.update(kw)
    return r


BASE = {"virtualhost": {"fqdn": "foo.example.com"}, "routes": [route()]}


def with_(path, value, base=BASE):
    """Returns a copy of BASE with the dotted path (list indexes as numbers) set to value."""
    spec = copy.deepcopy(base)
    node = spec
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node.setdefault(p, {})
    last = parts[-1]
    if value is DELETE:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return ir(spec)


DELETE = object()

# (name, object, want_valid)
IR_CASES = [
    ("minimal root", ir(BASE), True),
    ("tls same namespace", with_("virtualhost.tls", {"secretName": "foo-tls"}), True),
    ("tls delegated ns/name", with_("virtualhost.tls", {"secretName": "certs/wildcard"}), True),
    ("tls 1.3", with_("virtualhost.tls", {"secretName": "s", "minimumProtocolVersion": "1.3"}), True),
    ("tls 1.1 refused", with_("virtualhost.tls", {"secretName": "s", "minimumProtocolVersion": "1.1"}), False),
    ("tls without secret or passthrough", with_("virtualhost.tls", {"minimumProtocolVersion": "1.2"}), False),
    ("passthrough with tcpproxy", ir({"virtualhost": {"fqdn": "tcp.example.com", "tls": {"passthrough": True}},
                                      "tcpproxy": {"services": [{"name": "tcp", "port": 8443}]}}), True),
    ("tcpproxy delegate", ir({"virtualhost": {"fqdn": "t.example.com", "tls": {"secretName": "s"}},
                              "tcpproxy": {"delegate": {"name": "tcp", "namespace": "other"}}}), True),
    ("tcpproxy services and delegate", ir({"virtualhost": {"fqdn": "t.example.com"},
                                           "tcpproxy": {"services": [{"name": "a", "port": 1}],
                                                        "delegate": {"name": "x"}}}), False),
    ("neither routes nor tcpproxy", ir({"virtualhost": {"fqdn": "x.example.com"}}), False),
    ("fqdn with wildcard refused", with_("virtualhost.fqdn", "*.example.com"), False),
    ("fqdn missing", with_("virtualhost", {}), False),
    ("delegated child without virtualhost", ir({"routes": [route(match="/blog")]}), True),
    ("route delegate", with_("routes.0", {"match": "/blog", "delegate": {"name": "blog", "namespace": "marketing"}}), True),
    ("route both services and delegate", with_("routes.0.delegate", {"name": "x"}), False),
    ("route neither services nor delegate", with_("routes.0", {"match": "/"}), False),
    ("match must start with /", with_("routes.0.match", "blog"), False),
    ("weights", with_("routes.0.services", [{"name": "a", "port": 80, "weight": 10},
                                            {"name": "b", "port": 80, "weight": 90}]), True),
    ("negative weight", with_("routes.0.services.0", {"name": "a", "port": 80, "weight": -1}), False),
    ("port 0", with_("routes.0.services.0", {"name": "a", "port": 0}), False),
    ("port 65536", with_("routes.0.services.0", {"name": "a", "port": 65536}), False),
    ("all strategies", with_("routes.0.services", [
        {"name": f"s{i}", "port": 80, "strategy": s}
        for i, s in enumerate(["RoundRobin", "WeightedLeastRequest", "Random", "Cookie"])]), True),
    ("unknown strategy", with_("routes.0.services.0", {"name": "a", "port": 80, "strategy": "Maglev"}), False),
    ("health check", with_("routes.0.services.0", {"name": "a", "port": 80, "healthCheck": {
        "path": "/healthy", "host": "hc", "intervalSeconds": 5, "timeoutSeconds": 2,
        "unhealthyThresholdCount": 3, "healthyThresholdCount": 5}}), True),
    ("health check without path", with_("routes.0.services.0", {"name": "a", "port": 80,
                                                                "healthCheck": {"intervalSeconds": 5}}), False),
    ("health check interval 0", with_("routes.0.services.0", {"name": "a", "port": 80, "healthCheck": {
        "path": "/h", "intervalSeconds": 0}}), False),
    ("websockets, insecure, rewrite, timeouts, retries", with_("routes.0", route(
        enableWebsockets=True, permitInsecure=True, prefixRewrite="/",
        timeoutPolicy={"request": "1m30s"}, retryPolicy={"count": 3, "perTryTimeout": "150ms"})), True),
    ("timeout infinity", with_("routes.0", route(timeoutPolicy={"request": "infinity"})), True),
    ("timeout not a duration", with_("routes.0", route(timeoutPolicy={"request": "soon"})), False),
    ("retry count negative", with_("routes.0", route(retryPolicy={"count": -1})), False),
    ("header conditions", with_("routes.0", route(headersMatch=[
        {"name": "x-canary", "exact": "1"}, {"name": "Authorization", "present": True},
        {"name": "user-agent", "contains": "curl"}, {"name": "x-env", "notexact": "prod"},
        {"name": "x-debug", "notpresent": True}])), True),
    ("header condition with two operators", with_("routes.0", route(headersMatch=[
        {"name": "x", "exact": "1", "contains": "1"}])), False),
    ("header condition without operator", with_("routes.0", route(headersMatch=[{"name": "x"}])), False),
    ("header name with a space", with_("routes.0", route(headersMatch=[{"name": "x y", "present": True}])), False),
    ("header policies", with_("routes.0", route(
        requestHeadersPolicy={"set": [{"name": "X-Forwarded-Team", "value": "blue"}], "remove": ["Cookie"]},
        responseHeadersPolicy={"set": [{"name": "Cache-Control", "value": "no-store"}], "remove": ["Server"]})), True),
    ("header policy duplicate set name", with_("routes.0", route(
        requestHeadersPolicy={"set": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]})), False),
    ("unknown field", with_("routes.0.retries", 3), False),
]
IR_STATUS_CASES = [
    ("status valid", {"currentStatus": "valid", "description": "valid IngressRoute", "observedGeneration": 3,
                      "conditions": [{"type": "Valid", "status": "True", "observedGeneration": 3,
                                      "lastTransitionTime": "2026-11-26T19:00:00Z", "reason": "Valid",
                                      "message": "ok"}]}, True),
    ("status orphaned", {"currentStatus": "orphaned", "description": "not delegated to"}, True),
    ("status unknown state", {"currentStatus": "fine"}, False),
    ("condition without reason", {"conditions": [{"type": "Valid", "status": "True",
                                                  "lastTransitionTime": "2026-11-26T19:00:00Z",
                                                  "message": ""}]}, False),
]


def tcd(delegations):
    return {"apiVersion": "ingress.kop.dev/v1beta1", "kind": "TLSCertificateDelegation",
            "metadata": {"name": "d", "namespace": "certs"}, "spec": {"delegations": delegations}}


TCD_CASES = [
    ("to namespaces", tcd([{"secretName": "wildcard", "targetNamespaces": ["a", "b"]}]), True),
    ("to every namespace", tcd([{"secretName": "wildcard", "targetNamespaces": ["*"]}]), True),
    ("no delegations", tcd([]), False),
    ("missing targetNamespaces", tcd([{"secretName": "wildcard"}]), False),
    ("bad namespace", tcd([{"secretName": "w", "targetNamespaces": ["Not_A_Namespace"]}]), False),
    ("secretName with a slash", tcd([{"secretName": "a/b", "targetNamespaces": ["x"]}]), False),
]


def run_cases(kind, schema, cases, status=False):
    for name, obj, want in cases:
        if status:
            obj = {**ir(BASE), "status": obj}
        errs = validate(obj, schema, "")
        got = not errs
        if got != want:
            fail(f"{kind} case '{name}': want {'valid' if want else 'invalid'}, got "
                 f"{'valid' if got else 'invalid: ' + '; '.join(errs)}")
        else:
            print(f"ok   {kind} case '{name}' is {'valid' if want else 'invalid'}")


# ---------------------------------------------------------------- 4. docs and wiring
def check_doc_examples(root, schema):
    """Every whole ingress.kop.dev object in a yaml block of the docs validates."""
    count = 0
    for rel in ("docs/migrating-from-contour.md", "docs/install.md", "examples/hello-pks/README.md"):
        path = root / rel
        if not path.exists():
            fail(f"{rel}: missing")
            continue
        for block in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S):
            try:
                objs = [d for d in yaml.safe_load_all(block) if d is not None]
            except yaml.YAMLError as e:
                fail(f"{rel}: a yaml block does not parse: {e}")
                continue
            for d in objs:
                if isinstance(d, dict) and d.get("apiVersion") == "ingress.kop.dev/v1beta1" and "kind" in d:
                    count += 1
                    errs = validate(d, schema[d["kind"]], "")
                    if errs:
                        fail(f"{rel}: {d['kind']} {d['metadata']['name']}: {'; '.join(errs)}")
    print(f"ok   {count} ingress.kop.dev objects in the docs validate")


def find(docs, kind, name=None, folder=None):
    return [d for p, d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
            and (folder is None or folder in p.parts)]


def expect(cond, msg):
    if cond:
        print("ok   " + msg)
    else:
        fail(msg)


def check_hello_pks(root, docs):
    """The tutorial's objects point at each other: selector, ports, backends, slices, Secret."""
    for folder in ("cluster", "local"):
        sub = [(p, d) for p, d in docs if "hello-pks" in p.parts and folder in p.parts]
        dep = find(sub, "Deployment", "hello-pks")
        svc = find(sub, "Service", "hello-pks")
        if len(dep) != 1 or len(svc) != 1:
            fail(f"hello-pks/{folder}: want one Deployment and one Service hello-pks")
            continue
        dep, svc = dep[0], svc[0]
        pod = dep["spec"]["template"]
        expect(dep["spec"]["replicas"] == 2, f"hello-pks/{folder}: 2 replicas")
        expect(svc["spec"]["selector"] == {"app": "hello-pks"} and
               pod["metadata"]["labels"].get("app") == "hello-pks",
               f"hello-pks/{folder}: Service selects the Deployment's pods (app: hello-pks)")
        port = svc["spec"]["ports"][0]
        container_ports = [cp["containerPort"] for c in pod["spec"]["containers"] for cp in c["ports"]]
        expect(port["port"] == 80 and port["targetPort"] == 8080 and 8080 in container_ports,
               f"hello-pks/{folder}: Service 80 -> targetPort 8080 = containerPort")
        for ing in find(sub, "Ingress"):
            where = f"hello-pks/{folder}: Ingress {ing['metadata']['name']}"
            rule = ing["spec"]["rules"][0]
            path = rule["http"]["paths"][0]
            expect(ing["apiVersion"] == "networking.k8s.io/v1" and rule["host"] == "hello-pks.example.com"
                   and path["path"] == "/" and path["pathType"] == "Prefix"
                   and path["backend"]["service"] == {"name": "hello-pks", "port": {"number": 80}},
                   f"{where}: v1, host hello-pks.example.com, / Prefix -> hello-pks:80")
            for tls in ing["spec"].get("tls", []):
                expect(tls["secretName"] == "hello-pks-tls" and "hello-pks.example.com" in tls["hosts"],
                       f"{where}: TLS from hello-pks-tls for the host")
    local = [(p, d) for p, d in docs if "hello-pks" in p.parts and p.parent.name == "local"]
    slices = find(local, "EndpointSlice")
    old_api = [d for p, d in docs if "hello-pks" in p.parts and p.parent.name == "v1beta1"
               and d["kind"] == "EndpointSlice"]
    expect([d["apiVersion"] for d in old_api] == ["discovery.k8s.io/v1beta1"] * 2 and
           [{**d, "apiVersion": "discovery.k8s.io/v1"} for d in old_api] == slices,
           "hello-pks/local/v1beta1: the same two slices in discovery.k8s.io/v1beta1")
    ports = sorted(sl["ports"][0]["port"] for sl in slices)
    expect(len(slices) == 2 and ports == [18081, 18082] and all(
        sl["apiVersion"] == "discovery.k8s.io/v1" and sl["addressType"] == "IPv4"
        and sl["metadata"]["labels"]["kubernetes.io/service-name"] == "hello-pks"
        and sl["ports"][0]["name"] == "http" and len(sl["ports"]) == 1
        and all(e["conditions"]["ready"] is True and e["addresses"] == ["127.0.0.1"] for e in sl["endpoints"])
        for sl in slices), "hello-pks/local: two ready IPv4 slices of hello-pks on 18081 and 18082, port name http")
    classes = {("annotation", i["metadata"].get("annotations", {}).get("kubernetes.io/ingress.class")) for i in
               find(docs, "Ingress", folder="cluster")} | {("name", i["spec"].get("ingressClassName")) for i in
                                                           find(docs, "Ingress", folder="cluster")}
    expect(("annotation", "contour") in classes and ("name", "kop") in classes,
           "hello-pks/cluster: one variant by annotation contour, one by ingressClassName kop")


WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}


def check_deploy(root, docs):
    dep = [(p, d) for p, d in docs if "deploy" in p.parts]
    for role in find(dep, "ClusterRole") + find(dep, "Role"):
        # Gateway Services: the only objects kop-ingress writes whole, only in its own namespace.
        own_services = role["kind"] == "Role" and role["metadata"].get("namespace") == "kop-system"
        for rule in role["rules"]:
            where = f"deploy: {role['kind']} {role['metadata']['name']} {rule['resources']}"
            if "*" in rule["resources"] or "*" in rule["apiGroups"] or "*" in rule["verbs"]:
                fail(f"{where}: wildcard")
            services = own_services and rule["apiGroups"] == [""] and rule["resources"] == ["services"]
            writes = set(rule["verbs"]) & WRITE_VERBS
            # The validating webhook's own objects: its configuration's caBundle and its
            # certificate Secret, each by name (create cannot be limited to a name, so the
            # Secret's create is allowed only in kop-system's kop-ingress-webhook-certs Role).
            webhook_owned = rule.get("resourceNames") in (["kop-ingress"], ["kop-ingress-webhook-certs"]) \
                and rule["resources"] in (["validatingwebhookconfigurations"], ["secrets"]) \
                and writes <= {"update"}
            webhook_secret_create = (own_services and role["metadata"]["name"] == "kop-ingress-webhook-certs"
                                     and rule["resources"] == ["secrets"] and writes == {"create"}
                                     and "resourceNames" not in rule)
            allowed = services or webhook_owned or webhook_secret_create or all(
                r.endswith("/status") or r in ("events", "leases") for r in rule["resources"])
            if writes and not allowed:
                fail(f"{where}: write verbs {sorted(writes)} on non-status resources")
            if "delete" in rule["verbs"] and not services:
                fail(f"{where}: delete is needed only for the Gateway Services in kop-system")
    roles = {tuple(r for rule in role["rules"] for r in rule["resources"])
             for role in find(dep, "Role") if role["metadata"]["namespace"] == "kop-system"}
    expect(len(find(dep, "Role")) == 3 and roles == {("leases",), ("services",), ("secrets", "secrets")},
           "deploy: leases, (Gateway) Services and the webhook's certificate Secret only through "
           "Roles in kop-system")
    ic = find(dep, "IngressClass", "kop")
    expect(len(ic) == 1 and ic[0]["spec"]["controller"] == "kop.dev/ingress-controller" and
           ic[0]["metadata"]["annotations"].get("ingressclass.kubernetes.io/is-default-class") == "true",
           "deploy: IngressClass kop, controller kop.dev/ingress-controller, default class")
    d = find(dep, "Deployment", "kop-ingress")[0]
    c = d["spec"]["template"]["spec"]["containers"][0]
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    sc, psc = c["securityContext"], d["spec"]["template"]["spec"]["securityContext"]
    expect(d["spec"]["replicas"] == 2 and "--ingress-class=kop" in c["args"]
           and "--publish-service=kop-system/kop-ingress" in c["args"]
           and sorted(named.values()) == [8000, 8080, 8443, 9443]
           and "--webhook-addr=:9443" in c["args"]
           and c["readinessProbe"]["httpGet"]["path"] == "/readyz"
           and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
           and named[c["readinessProbe"]["httpGet"]["port"]] == 8000
           and named[c["livenessProbe"]["httpGet"]["port"]] == 8000,
           "deploy: 2 replicas, class, publish-service and webhook args, ports, probes on 8000")
    expect(psc.get("runAsNonRoot") is True and sc.get("readOnlyRootFilesystem") is True
           and sc.get("allowPrivilegeEscalation") is False and sc["capabilities"]["drop"] == ["ALL"]
           and "requests" in c["resources"] and "limits" in c["resources"],
           "deploy: non-root, read-only root, no privilege escalation, no capabilities, resources")
    sa = d["spec"]["template"]["spec"]["serviceAccountName"]
    bound = {s["name"] for b in find(dep, "ClusterRoleBinding") + find(dep, "RoleBinding") for s in b["subjects"]}
    expect(sa == "kop-ingress" and bound == {sa}, "deploy: bindings name the Deployment's ServiceAccount")
    for svc in find(dep, "Service", "kop-ingress"):
        m = {p["port"]: named.get(p["targetPort"], p["targetPort"]) for p in svc["spec"]["ports"]}
        expect(m == {80: 8080, 443: 8443} and svc["spec"]["type"] in ("LoadBalancer", "NodePort"),
               f"deploy: {svc['spec']['type']} Service 80->8080, 443->8443")


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    files, docs = load_all(root)
    print(f"ok   {len(files)} YAML files, {len(docs)} objects parsed")
    crds = {}
    for path, d in docs:
        if d["kind"] == "CustomResourceDefinition" and path.parent.name == "crds":
            check_crd(path, d)
            crds[d["spec"]["names"]["kind"]] = d
    for kind in ("IngressRoute", "TLSCertificateDelegation"):
        if kind not in crds:
            fail(f"no CRD for {kind} in crds/")
    if failures:
        return 1
    print(f"ok   {len(crds)} CRDs are structural")
    schema = {k: v["spec"]["versions"][0]["schema"]["openAPIV3Schema"] for k, v in crds.items()}
    for path, d in docs:
        if d["kind"] in schema and d["apiVersion"] == "ingress.kop.dev/v1beta1":
            errs = validate(d, schema[d["kind"]], "")
            if errs:
                fail(f"{path.relative_to(root)}: {d['kind']} {d['metadata']['name']}: {'; '.join(errs)}")
            else:
                print(f"ok   {path.relative_to(root)}: {d['kind']} {d['metadata']['name']} validates")
    check_doc_examples(root, schema)
    check_hello_pks(root, docs)
    check_deploy(root, docs)
    run_cases("IngressRoute", schema["IngressRoute"], IR_CASES)
    run_cases("IngressRoute status", schema["IngressRoute"], IR_STATUS_CASES, status=True)
    run_cases("TLSCertificateDelegation", schema["TLSCertificateDelegation"], TCD_CASES)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
