"""BackendTLSPolicy tests (upstream conformance/tests/backendtlspolicy*.go, features
BackendTLSPolicy and BackendTLSPolicySANValidation): TLS from kop-ingress to the tls-backend
echo pod, checked by the SNI it reports, with the policies' status.ancestors."""
from harness import INFRA_NS, expect
from objects import V1, backend, http_route, match, meta, parent, rule, service
from registry import conformance

FEATURES = ("Gateway", "HTTPRoute", "BackendTLSPolicy")
ACCEPTED = ("Accepted", "True", "Accepted")
RESOLVED = ("ResolvedRefs", "True", "ResolvedRefs")


def tls_service(run, name, ports, app_protocol=None):
    """A Service selecting the tls-backend pod (as the upstream manifests do) with `ports`
    [(name, port)], and the EndpointSlice the EndpointSlice controller would make for it."""
    address = next(a for ns, n, a in run.pods if ns == INFRA_NS and n == "tls-backend")
    spec_ports = []
    for pname, port in ports:
        p = {"name": pname, "protocol": "TCP"}
        if app_protocol:
            p["appProtocol"] = app_protocol
        p.update({"port": port, "targetPort": 8443})
        spec_ports.append(p)
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": name + "-x", "namespace": INFRA_NS,
                           "labels": {"kubernetes.io/service-name": name}},
              "addressType": "IPv4",
              "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
              "ports": [{"name": pname, "port": run.pod_port, "protocol": "TCP"}
                        for pname, _ in ports]}
    return [service(name, INFRA_NS, spec_ports, selector={"app": "tls-backend"}), slice_]


def policy(name, service_name, hostname, section=None, ca="tls-checks-ca-certificate",
           ca_ref=None, sans=None):
    target = {"group": "", "kind": "Service", "name": service_name}
    if section:
        target["sectionName"] = section
    validation = {"caCertificateRefs": [ca_ref or {"group": "", "kind": "ConfigMap",
                                                   "name": ca}],
                  "hostname": hostname}
    if sans:
        validation["subjectAltNames"] = sans
    return {"apiVersion": V1, "kind": "BackendTLSPolicy", "metadata": meta(name, INFRA_NS),
            "spec": {"targetRefs": [target], "validation": validation}}


def exact(path_value, service_name, port=443):
    return rule([backend(service_name, port, group="", kind="Service")],
                [match(path_value, "Exact")])


def accepted(run, gw_name, route_name):
    gw = run.accepted(INFRA_NS, gw_name, [(INFRA_NS, route_name)])
    run.resolved(INFRA_NS, route_name, INFRA_NS, gw_name)
    return gw


@conformance("BackendTLSPolicy", *FEATURES)
def backend_tls_policy(run):
    names = ["backendtlspolicy-test", "backendtlspolicy-host-mismatch-test",
             "backendtlspolicy-cert-mismatch-test", "backendtlspolicy-reconcile-test"]
    objs = [
        http_route("backendtlspolicy", [parent("same-namespace", INFRA_NS)],
                   [exact("/backendtlspolicy", names[0]),
                    exact("/backendtlspolicy-host-mismatch", names[1]),
                    exact("/backendtlspolicy-cert-mismatch", names[2]),
                    exact("/backendtlspolicy-reconcile-test", names[3])],
                   hostnames=["abc.example.com"]),
        http_route("backendtlspolicy-reencrypt",
                   [parent("same-namespace-with-https-listener", INFRA_NS)],
                   [exact("/backendtlspolicy", names[0])], hostnames=["https-listener.org"])]
    for n in names:
        objs += tls_service(run, n, [("btls", 443)],
                            None if n in (names[0], names[3]) else "HTTPS")
    objs += [policy("normative-test", names[0], "abc.example.com", "btls"),
             policy("host-mismatch", names[1], "mismatch.example.com", "btls"),
             policy("cert-mismatch", names[2], "abc.example.com", "btls",
                    ca="mismatch-ca-certificate"),
             policy("reconcile-test", names[3], "abc.example.com", "btls")]
    run.apply("BackendTLSPolicy", objs)

    # Re-encrypt: HTTPS to the Gateway, TLS again to the backend.
    https = accepted(run, "same-namespace-with-https-listener", "backendtlspolicy-reencrypt")
    for c in (ACCEPTED, RESOLVED):
        run.policy_condition(INFRA_NS, "normative-test", INFRA_NS,
                             "same-namespace-with-https-listener", *c)
    run.expect(https, expect("/backendtlspolicy", host="https-listener.org",
                             tls=run.validity_cert, sni="https-listener.org",
                             namespace=INFRA_NS, req_sni="abc.example.com"))

    gw = accepted(run, "same-namespace", "backendtlspolicy")
    for name in ("normative-test", "host-mismatch", "cert-mismatch", "reconcile-test"):
        for c in (ACCEPTED, RESOLVED):
            run.policy_condition(INFRA_NS, name, INFRA_NS, "same-namespace", *c)
    run.expect(gw, expect("/backendtlspolicy", host="abc.example.com", namespace=INFRA_NS,
                          req_sni="abc.example.com"))
    run.expect_failure(gw, expect("/backendtlspolicy-host-mismatch", host="abc.example.org"))
    run.expect_failure(gw, expect("/backendtlspolicy-cert-mismatch", host="abc.example.com"))

    # A ConfigMap used as CA is followed: missing, present, emptied, restored.
    test_cm = "tls-checks-ca-certificate-reconcile-test"
    no_ca = ("Accepted", "False", "NoValidCACertificate")
    bad_ref = ("ResolvedRefs", "False", "InvalidCACertificateRef")
    objs[-1] = policy("reconcile-test", names[3], "abc.example.com", "btls", ca=test_cm)
    run.apply("BackendTLSPolicy", objs)
    for c in (no_ca, bad_ref):
        run.policy_condition(INFRA_NS, "reconcile-test", INFRA_NS, "same-namespace", *c)

    def with_cm(data):
        return objs + [{"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": meta(test_cm, INFRA_NS), "data": data}]
    run.apply("BackendTLSPolicy", with_cm({"ca.crt": run.ca_pem.decode()}))
    for c in (ACCEPTED, RESOLVED):
        run.policy_condition(INFRA_NS, "reconcile-test", INFRA_NS, "same-namespace", *c)
    run.apply("BackendTLSPolicy", with_cm({"ca.crt": ""}))
    for c in (no_ca, bad_ref):
        run.policy_condition(INFRA_NS, "reconcile-test", INFRA_NS, "same-namespace", *c)
    run.apply("BackendTLSPolicy", with_cm({"ca.crt": run.ca_pem.decode()}))
    for c in (ACCEPTED, RESOLVED):
        run.policy_condition(INFRA_NS, "reconcile-test", INFRA_NS, "same-namespace", *c)


@conformance("BackendTLSPolicyConflictResolution", *FEATURES)
def conflict_resolution(run):
    without = "backendtlspolicy-conflicted-without-section-name-test"
    with_ = "backendtlspolicy-conflicted-with-section-name-test"
    free = "backendtlspolicy-not-conflicted-test"
    objs = [http_route("backendtlspolicy-conflict-resolution", [parent("same-namespace")],
                       [exact("/backendtlspolicy-conflicted-without-section-name", without),
                        exact("/backendtlspolicy-conflicted-with-section-name", with_),
                        exact("/backendtlspolicy-not-conflicted-with-section-name", free),
                        exact("/backendtlspolicy-not-conflicted-without-section-name", free,
                              8443)],
                       hostnames=["abc.example.com"])]
    objs += tls_service(run, without, [("https", 443)])
    objs += tls_service(run, with_, [("https-1", 443), ("https-2", 8443)])
    objs += tls_service(run, free, [("https-1", 443), ("https-2", 8443)])
    objs += [policy("conflicted-without-section-name-1", without, "other.example.com"),
             policy("conflicted-without-section-name-2", without, "abc.example.com"),
             policy("conflicted-with-section-name-1", with_, "other.example.com", "https-1"),
             policy("conflicted-with-section-name-2", with_, "abc.example.com", "https-1"),
             policy("not-conflicted-with-section-name", free, "other.example.com", "https-1"),
             policy("not-conflicted-without-section-name", free, "abc.example.com")]
    run.apply("BackendTLSPolicyConflictResolution", objs)
    gw = accepted(run, "same-namespace", "backendtlspolicy-conflict-resolution")
    conflicted = ("Accepted", "False", "Conflicted")
    for kind in ("without", "with"):
        run.policy_condition(INFRA_NS, f"conflicted-{kind}-section-name-1", INFRA_NS,
                             "same-namespace", *ACCEPTED)
        run.policy_condition(INFRA_NS, f"conflicted-{kind}-section-name-2", INFRA_NS,
                             "same-namespace", *conflicted)
        run.expect(gw, expect(f"/backendtlspolicy-conflicted-{kind}-section-name",
                              host="abc.example.com", namespace=INFRA_NS,
                              req_sni="other.example.com"))
    for kind, sni in (("with", "other.example.com"), ("without", "abc.example.com")):
        run.policy_condition(INFRA_NS, f"not-conflicted-{kind}-section-name", INFRA_NS,
                             "same-namespace", *ACCEPTED)
        run.expect(gw, expect(f"/backendtlspolicy-not-conflicted-{kind}-section-name",
                              host="abc.example.com", namespace=INFRA_NS, req_sni=sni))


@conformance("BackendTLSPolicyInvalidCACertificateRef", *FEATURES)
def invalid_ca_certificate_ref(run):
    objs = [http_route("backendtlspolicy-invalid-ca-certificate-ref",
                       [parent("same-namespace", INFRA_NS)],
                       [rule([backend(f"backendtlspolicy-{n}-ca-certificate-ref-test", 443)],
                             [match(f"/backendtlspolicy-{n}-ca-certificate-ref", "Exact")])
                        for n in ("nonexistent", "malformed")],
                       hostnames=["abc.example.com"])]
    for n in ("nonexistent", "malformed"):
        objs += tls_service(run, f"backendtlspolicy-{n}-ca-certificate-ref-test",
                            [("https", 443)], "HTTPS")
        objs.append(policy(f"{n}-ca-certificate-ref",
                           f"backendtlspolicy-{n}-ca-certificate-ref-test", "abc.example.com",
                           ca=f"{n}-ca-certificate"))
    objs.append({"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": meta("malformed-ca-certificate", INFRA_NS), "data": {}})
    run.apply("BackendTLSPolicyInvalidCACertificateRef", objs)
    gw = run.accepted(INFRA_NS, "same-namespace",
                      [(INFRA_NS, "backendtlspolicy-invalid-ca-certificate-ref")])
    for name in ("nonexistent-ca-certificate-ref", "malformed-ca-certificate-ref"):
        run.policy_condition(INFRA_NS, name, INFRA_NS, "same-namespace", "Accepted", "False",
                             "NoValidCACertificate")
        run.policy_condition(INFRA_NS, name, INFRA_NS, "same-namespace", "ResolvedRefs",
                             "False", "InvalidCACertificateRef")
        run.expect(gw, expect("/backendtlspolicy-" + name, host="abc.example.com",
                              status=[500, 502, 503]))


@conformance("BackendTLSPolicyInvalidKind", *FEATURES)
def invalid_kind(run):
    svc = "backendtlspolicy-invalid-kind-test"
    objs = [http_route("backendtlspolicy-invalid-kind-test",
                       [parent("same-namespace", INFRA_NS)],
                       [rule([backend(svc, 443)],
                             [match("/backendtlspolicy-invalid-kind", "Exact")])],
                       hostnames=["abc.example.com"])]
    objs += tls_service(run, svc, [("https", 443)], "HTTPS")
    objs.append(policy("invalid-kind", svc, "abc.example.com",
                       ca_ref={"group": "invalid.io", "kind": "InvalidKind",
                               "name": "invalid-kind"}))
    run.apply("BackendTLSPolicyInvalidKind", objs)
    gw = run.accepted(INFRA_NS, "same-namespace",
                      [(INFRA_NS, "backendtlspolicy-invalid-kind-test")])
    run.policy_condition(INFRA_NS, "invalid-kind", INFRA_NS, "same-namespace", "Accepted",
                         "False", "NoValidCACertificate")
    run.policy_condition(INFRA_NS, "invalid-kind", INFRA_NS, "same-namespace", "ResolvedRefs",
                         "False", "InvalidKind")
    run.expect(gw, expect("/backendtlspolicy-invalid-kind", host="abc.example.com",
                          status=[500, 502, 503]))


@conformance("BackendTLSPolicyObservedGenerationBump", *FEATURES)
def observed_generation_bump(run):
    svc = "observed-generation-bump-test"
    objs = [http_route("backendtlspolicy-observed-generation-bump", [parent("same-namespace")],
                       [rule([backend(svc, 443)])]),
            service(svc, INFRA_NS, [{"name": "https", "protocol": "TCP", "port": 443,
                                     "targetPort": 8443}])]
    objs.append(policy("observed-generation-bump", svc, "abc.example.com", "https"))
    run.apply("BackendTLSPolicyObservedGenerationBump", objs)
    run.policy_condition(INFRA_NS, "observed-generation-bump", INFRA_NS, "same-namespace",
                         "Accepted", "True")
    before = run.get("BackendTLSPolicy", INFRA_NS, "observed-generation-bump")
    objs[-1] = policy("observed-generation-bump", svc, "foo.example.com", "https")
    run.apply("BackendTLSPolicyObservedGenerationBump", objs)
    run.wait("BackendTLSPolicy generation to change",
             lambda: (run.get("BackendTLSPolicy", INFRA_NS, "observed-generation-bump")
                      ["metadata"].get("generation") != before["metadata"].get("generation"),
                      None), "latest_generation")
    # policy_condition requires every ancestor's conditions at the latest generation.
    run.policy_condition(INFRA_NS, "observed-generation-bump", INFRA_NS, "same-namespace",
                         "Accepted", "True")


@conformance("BackendTLSPolicySANValidation", *FEATURES, "BackendTLSPolicySANValidation")
def san_validation(run):
    def dns(h):
        return {"type": "Hostname", "hostname": h}

    def uri(u):
        return {"type": "URI", "uri": u}
    cases = [("san-dns", [dns("abc.example.com")], True),
             ("san-dns-mismatch", [dns("dce.example.com")], False),
             ("san-uri", [uri("spiffe://abc.example.com/test-identity")], True),
             ("san-uri-mismatch", [uri("spiffe://def.example.com/test-identity")], False),
             ("multiple-sans", [uri("spiffe://abc.example.com/test-identity"),
                                dns("abc.example.com")], True),
             ("multiple-mismatch-sans", [uri("spiffe://def.example.com/test-identity"),
                                         dns("def.example.com")], False)]
    objs = [http_route("backendtlspolicy-san-test", [parent("same-namespace", INFRA_NS)],
                       [exact(f"/backendtlspolicy-{n}", f"backendtlspolicy-{n}-test")
                        for n, _, _ in cases], hostnames=["abc.example.com"])]
    for n, sans, _ in cases:
        objs += tls_service(run, f"backendtlspolicy-{n}-test", [("btls", 443)])
        objs.append(policy(n, f"backendtlspolicy-{n}-test", "abc.example.com", "btls",
                           sans=sans))
    run.apply("BackendTLSPolicySANValidation", objs)
    gw = accepted(run, "same-namespace", "backendtlspolicy-san-test")
    for n, _, ok in cases:
        run.policy_condition(INFRA_NS, n, INFRA_NS, "same-namespace", *ACCEPTED)
        e = expect(f"/backendtlspolicy-{n}", host="abc.example.com", namespace=INFRA_NS,
                   req_sni="abc.example.com")
        if ok:
            run.expect(gw, e)
        else:
            run.expect_failure(gw, e)
