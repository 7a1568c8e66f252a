"""Builders for the Gateway API objects of the conformance tests (plain dicts, written into the
manifests folder as YAML). Each builder writes only the fields it is given, so a test's object
carries exactly the fields of the upstream test's manifest."""
from harness import GATEWAY_CLASS, INFRA_NS

V1 = "gateway.networking.k8s.io/v1"


def meta(name, ns, annotations=None, labels=None):
    m = {"name": name}
    if ns:
        m["namespace"] = ns
    if annotations:
        m["annotations"] = annotations
    if labels:
        m["labels"] = labels
    return m


def listener(name, port, protocol="HTTP", hostname=None, from_ns=None, selector=None,
             kinds=None, certs=None, tls_mode=None):
    li = {"name": name, "port": port, "protocol": protocol}
    if hostname:
        li["hostname"] = hostname
    allowed = {}
    if from_ns:
        allowed["namespaces"] = {"from": from_ns}
        if selector:
            allowed["namespaces"]["selector"] = selector
    if kinds is not None:
        allowed["kinds"] = kinds
    if allowed:
        li["allowedRoutes"] = allowed
    if certs is not None or tls_mode:
        li["tls"] = {}
        if tls_mode:
            li["tls"]["mode"] = tls_mode
        if certs is not None:
            li["tls"]["certificateRefs"] = certs
    return li


def cert_ref(name, ns=None, kind="Secret", group=""):
    ref = {"group": group, "kind": kind, "name": name}
    if ns:
        ref["namespace"] = ns
    return ref


def gateway(name, listeners, ns=INFRA_NS, gwclass=GATEWAY_CLASS, addresses=None,
            infrastructure=None, annotations=None):
    spec = {"gatewayClassName": gwclass, "listeners": listeners}
    if addresses is not None:
        spec["addresses"] = addresses
    if infrastructure is not None:
        spec["infrastructure"] = infrastructure
    return {"apiVersion": V1, "kind": "Gateway", "metadata": meta(name, ns, annotations),
            "spec": spec}


def parent(name, ns=None, section=None, port=None, kind=None, group=None):
    p = {"name": name}
    if group is not None:
        p["group"] = group
    if kind is not None:
        p["kind"] = kind
    if ns:
        p["namespace"] = ns
    if section:
        p["sectionName"] = section
    if port:
        p["port"] = port
    return p


def backend(name, port=8080, ns=None, weight=None, kind=None, group=None, filters=None):
    b = {"name": name}
    if group is not None:
        b["group"] = group
    if kind is not None:
        b["kind"] = kind
    if ns:
        b["namespace"] = ns
    if port is not None:
        b["port"] = port
    if weight is not None:
        b["weight"] = weight
    if filters:
        b["filters"] = filters
    return b


def path(value, type_="PathPrefix"):
    return {"path": {"type": type_, "value": value}}


def match(path_value=None, path_type="PathPrefix", headers=None, method=None, query=None):
    m = {}
    if path_value is not None:
        m["path"] = {"type": path_type, "value": path_value}
    if headers:
        m["headers"] = [dict(name=n, value=v) for n, v in headers]
    if method:
        m["method"] = method
    if query:
        m["queryParams"] = [dict(name=n, value=v) for n, v in query]
    return m


def rule(backends=None, matches=None, filters=None, name=None, timeouts=None, retry=None):
    r = {}
    if name:
        r["name"] = name
    if matches is not None:
        r["matches"] = matches
    if filters:
        r["filters"] = filters
    if backends is not None:
        r["backendRefs"] = backends
    if timeouts:
        r["timeouts"] = timeouts
    if retry:
        r["retry"] = retry
    return r


def http_route(name, parents, rules, ns=INFRA_NS, hostnames=None, kind="HTTPRoute",
               api_version=V1):
    spec = {"parentRefs": parents}
    if hostnames is not None:
        spec["hostnames"] = hostnames
    spec["rules"] = rules
    return {"apiVersion": api_version, "kind": kind, "metadata": meta(name, ns), "spec": spec}


def header_modifier(set_=None, add=None, remove=None, kind="RequestHeaderModifier"):
    body = {}
    if set_:
        body["set"] = [dict(name=n, value=v) for n, v in set_]
    if add:
        body["add"] = [dict(name=n, value=v) for n, v in add]
    if remove:
        body["remove"] = remove
    key = kind[0].lower() + kind[1:]
    return {"type": kind, key: body}


def redirect(**fields):
    return {"type": "RequestRedirect", "requestRedirect": fields}


def reference_grant(name, ns, from_kind, from_ns, to_kind, to_name=None, from_group=None,
                    to_group=""):
    to = {"group": to_group, "kind": to_kind}
    if to_name:
        to["name"] = to_name
    return {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
            "metadata": meta(name, ns),
            "spec": {"from": [{"group": "gateway.networking.k8s.io" if from_group is None
                               else from_group, "kind": from_kind, "namespace": from_ns}],
                     "to": [to]}}


def service(name, ns, ports, selector=None, type_=None, extra=None):
    spec = {}
    if type_:
        spec["type"] = type_
    spec["selector"] = selector or {"app": name}
    spec["ports"] = ports
    if extra:
        spec.update(extra)
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, ns), "spec": spec}
