"""Gateway and GatewayClass tests (upstream conformance/tests/gateway-*.go, gatewayclass-*.go)."""
import base64

from harness import APP_NS, CONTROLLER, INFRA_NS, WEB_NS
from objects import backend, cert_ref, gateway, http_route, listener, parent, reference_grant, rule
from registry import conformance

SKIP = {"gateway-api/skip-this-for-readiness": "true"}
HTTPROUTE = ["HTTPRoute"]
VALIDITY = "tls-validity-checks-certificate"


@conformance("GatewayListenerUnsupportedProtocol", "Gateway")
def gateway_listener_unsupported_protocol(run):
    run.apply("GatewayListenerUnsupportedProtocol", [
        gateway("gateway-only-unsupported-protocols",
                [listener("invalid", 1111, "INVALID")], annotations=SKIP),
        gateway("gateway-supported-and-unsupported-protocols",
                [listener("http", 80), listener("invalid", 1111, "INVALID")])])
    unsupported = {"name": "invalid", "kinds": [], "attached": 0,
                   "conditions": [("Accepted", "False", "UnsupportedProtocol")]}
    run.gateway_condition(INFRA_NS, "gateway-only-unsupported-protocols", "Accepted", "False",
                          "ListenersNotValid")
    run.listener_status(INFRA_NS, "gateway-only-unsupported-protocols", [unsupported])
    run.gateway_condition(INFRA_NS, "gateway-supported-and-unsupported-protocols", "Accepted",
                          "True", "ListenersNotValid")
    run.listener_status(INFRA_NS, "gateway-supported-and-unsupported-protocols", [
        {"name": "http", "kinds": HTTPROUTE, "attached": 0,
         "conditions": [("Accepted", "True", "Accepted")]}, unsupported])


@conformance("GatewayInvalidParametersRef", "Gateway")
def gateway_invalid_parameters_ref(run):
    run.apply("GatewayInvalidParametersRef", [
        gateway("gateway-invalid-parameters-ref", [listener("http", 80)], annotations=SKIP,
                infrastructure={"parametersRef": {"group": "invalid.io",
                                                  "kind": "InvalidParameters",
                                                  "name": "invalid"}})])
    run.gateway_condition(INFRA_NS, "gateway-invalid-parameters-ref", "Accepted", "False",
                          "InvalidParameters")


@conformance("GatewayInvalidRouteKind", "Gateway")
def gateway_invalid_route_kind(run):
    run.apply("GatewayInvalidRouteKind", [
        gateway("gateway-only-invalid-route-kind",
                [listener("http", 80, from_ns="All", kinds=[{"kind": "InvalidRoute"}])],
                annotations=SKIP),
        gateway("gateway-supported-and-invalid-route-kind",
                [listener("http", 80, from_ns="All",
                          kinds=[{"kind": "InvalidRoute"}, {"kind": "HTTPRoute"}])],
                annotations=SKIP)])
    invalid = [("ResolvedRefs", "False", "InvalidRouteKinds")]
    run.listener_status(INFRA_NS, "gateway-only-invalid-route-kind",
                        [{"name": "http", "kinds": [], "attached": 0, "conditions": invalid}])
    run.listener_status(INFRA_NS, "gateway-supported-and-invalid-route-kind",
                        [{"name": "http", "kinds": HTTPROUTE, "attached": 0,
                          "conditions": invalid}])


@conformance("GatewayInvalidTLSConfiguration", "Gateway")
def gateway_invalid_tls_configuration(run):
    def https_gw(name, ref):
        return gateway(name, [listener("https", 443, "HTTPS", from_ns="All", certs=[ref])],
                       annotations=SKIP)
    junk = base64.b64encode(b"Hello world\n").decode()
    run.apply("GatewayInvalidTLSConfiguration", [
        https_gw("gateway-certificate-nonexistent-secret", cert_ref("nonexistent-certificate")),
        https_gw("gateway-certificate-unsupported-group",
                 cert_ref(VALIDITY, group="wrong.group.company.io")),
        https_gw("gateway-certificate-unsupported-kind", cert_ref(VALIDITY, kind="WrongKind")),
        https_gw("gateway-certificate-malformed-secret", cert_ref("malformed-certificate")),
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
         "metadata": {"name": "malformed-certificate", "namespace": INFRA_NS},
         "data": {"tls.crt": junk, "tls.key": junk}}])
    for name in ("gateway-certificate-nonexistent-secret", "gateway-certificate-unsupported-group",
                 "gateway-certificate-unsupported-kind", "gateway-certificate-malformed-secret"):
        run.listener_status(INFRA_NS, name, [
            {"name": "https", "kinds": HTTPROUTE, "attached": 0,
             "conditions": [("ResolvedRefs", "False", "InvalidCertificateRef")]}])


def _patch_file_and_wait(run, test, objs, kind, ns, name, old_generation):
    run.apply(test, objs)

    def bumped():
        obj = run.get(kind, ns, name)
        return obj["metadata"].get("generation") != old_generation, obj["metadata"].get(
            "generation")
    run.wait(f"{kind} {ns}/{name} generation to change", bumped, "get")


@conformance("GatewayModifyListeners", "Gateway")
def gateway_modify_listeners(run):
    https = listener("https", 443, "HTTPS", hostname="secure.test.com", from_ns="All",
                     certs=[cert_ref(VALIDITY, INFRA_NS)])
    http = listener("http", 80, from_ns="All")
    route1 = http_route("http-route-1", [parent("gateway-add-listener", INFRA_NS, kind="Gateway")],
                        [rule([backend("infra-backend-v1")])])
    route2 = http_route("http-route-2",
                        [parent("gateway-remove-listener", INFRA_NS, kind="Gateway")],
                        [rule([backend("infra-backend-v1")])])
    objs = [gateway("gateway-add-listener", [https]), route1,
            gateway("gateway-remove-listener", [https, http]), route2]
    run.apply("GatewayModifyListeners", objs)
    ok = [("Accepted", "True", None), ("ResolvedRefs", "True", None)]

    # Add a listener.
    run.gateway(INFRA_NS, "gateway-add-listener")
    gen = run.get("Gateway", INFRA_NS, "gateway-add-listener")["metadata"]["generation"]
    http_with_host = listener("http", 80, hostname="data.test.com", from_ns="All")
    objs[0] = gateway("gateway-add-listener", [https, http_with_host])
    _patch_file_and_wait(run, "GatewayModifyListeners", objs, "Gateway", INFRA_NS,
                         "gateway-add-listener", gen)
    run.listener_status(INFRA_NS, "gateway-add-listener", [
        {"name": "https", "kinds": HTTPROUTE, "attached": 1, "conditions": ok},
        {"name": "http", "kinds": HTTPROUTE, "attached": 1, "conditions": ok}])
    run.gateway(INFRA_NS, "gateway-add-listener")

    # Remove a listener.
    run.gateway(INFRA_NS, "gateway-remove-listener")
    gen = run.get("Gateway", INFRA_NS, "gateway-remove-listener")["metadata"]["generation"]
    objs[2] = gateway("gateway-remove-listener", [http])
    _patch_file_and_wait(run, "GatewayModifyListeners", objs, "Gateway", INFRA_NS,
                         "gateway-remove-listener", gen)
    run.listener_status(INFRA_NS, "gateway-remove-listener", [
        {"name": "http", "kinds": HTTPROUTE, "attached": 1, "conditions": ok}])
    run.gateway(INFRA_NS, "gateway-remove-listener")


@conformance("GatewayObservedGenerationBump", "Gateway")
def gateway_observed_generation_bump(run):
    name = "gateway-observed-generation-bump"
    first = listener("http", 80, hostname="bar.com", from_ns="All")
    run.apply("GatewayObservedGenerationBump", [gateway(name, [first])])
    run.gateway(INFRA_NS, name)
    gen = run.get("Gateway", INFRA_NS, name)["metadata"]["generation"]
    second = listener("alternate", 80, hostname="foo.com", from_ns="All")
    _patch_file_and_wait(run, "GatewayObservedGenerationBump", [gateway(name, [first, second])],
                         "Gateway", INFRA_NS, name, gen)
    run.gateway(INFRA_NS, name)


@conformance("GatewayClassObservedGenerationBump", "Gateway")
def gatewayclass_observed_generation_bump(run):
    name = "gatewayclass-observed-generation-bump"

    def gwc(description):
        return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                "metadata": {"name": name},
                "spec": {"controllerName": CONTROLLER, "description": description}}

    def latest():
        obj = run.get("GatewayClass", "", name)
        conds = obj.get("status", {}).get("conditions") or []
        gen = obj["metadata"].get("generation")
        has_accepted = any(c.get("type") == "Accepted" for c in conds)
        return has_accepted and all(c.get("observedGeneration") == gen for c in conds), conds
    run.apply("GatewayClassObservedGenerationBump", [gwc("old")])
    run.wait("GatewayClass conditions at the latest generation", latest, "latest_generation")
    gen = run.get("GatewayClass", "", name)["metadata"]["generation"]
    _patch_file_and_wait(run, "GatewayClassObservedGenerationBump", [gwc("new")],
                         "GatewayClass", "", name, gen)
    run.wait("GatewayClass conditions at the new generation", latest, "latest_generation")


def _secret_gateway(name, secret_ns=WEB_NS, secret="certificate"):
    return gateway(name, [listener("https", 443, "HTTPS", from_ns="All",
                                   certs=[cert_ref(secret, secret_ns)])])


@conformance("GatewaySecretInvalidReferenceGrant", "Gateway", "ReferenceGrant")
def gateway_secret_invalid_reference_grant(run):
    name = "gateway-secret-invalid-reference-grant"
    web, app = WEB_NS, APP_NS
    wrong = "not-the-group-youre-looking-for"
    # Seven grants, each wrong in one field: none lets the Gateway read the Secret.
    run.apply("GatewaySecretInvalidReferenceGrant", [
        _secret_gateway(name),
        reference_grant("reference-grant-wrong-namespace", app, "Gateway", INFRA_NS, "Secret",
                        "certificate"),
        reference_grant("reference-grant-wrong-from-group", web, "Gateway", INFRA_NS, "Secret",
                        "certificate", from_group=wrong),
        reference_grant("reference-grant-wrong-from-kind", web, "HTTPRoute", INFRA_NS, "Secret",
                        "certificate"),
        reference_grant("reference-grant-wrong-from-namespace", web, "Gateway",
                        "not-the-namespace-youre-looking-for", "Secret", "certificate"),
        reference_grant("reference-grant-wrong-to-group", web, "Gateway", INFRA_NS, "Secret",
                        "not-the-certificate-youre-looking-for", to_group=wrong),
        reference_grant("reference-grant-wrong-to-kind", web, "Gateway", INFRA_NS, "Service",
                        "certificate"),
        reference_grant("reference-grant-wrong-to-name", web, "Gateway", INFRA_NS, "Secret",
                        "not-the-certificate-youre-looking-for")])
    run.listener_status(INFRA_NS, name, [
        {"name": "https", "kinds": HTTPROUTE, "attached": 0,
         "conditions": [("ResolvedRefs", "False", "RefNotPermitted")]}])


@conformance("GatewaySecretMissingReferenceGrant", "Gateway", "ReferenceGrant")
def gateway_secret_missing_reference_grant(run):
    name = "gateway-secret-missing-reference-grant"
    run.apply("GatewaySecretMissingReferenceGrant", [_secret_gateway(name)])
    run.listener_status(INFRA_NS, name, [
        {"name": "https", "kinds": HTTPROUTE, "attached": 0,
         "conditions": [("ResolvedRefs", "False", "RefNotPermitted")]}])


def _secret_granted(run, test, name, grant):
    run.apply(test, [_secret_gateway(name), grant])
    run.listener_status(INFRA_NS, name, [
        {"name": "https", "kinds": HTTPROUTE, "attached": 0,
         "conditions": [("Programmed", "True", "Programmed"), ("ResolvedRefs", "True", None)]}])


@conformance("GatewaySecretReferenceGrantAllInNamespace", "Gateway", "ReferenceGrant")
def gateway_secret_reference_grant_all_in_namespace(run):
    _secret_granted(run, "GatewaySecretReferenceGrantAllInNamespace",
                    "gateway-secret-reference-grant-all-in-namespace",
                    reference_grant("reference-grant-all-in-namespace",
                                    WEB_NS, "Gateway", INFRA_NS,
                                    "Secret"))


@conformance("GatewaySecretReferenceGrantSpecific", "Gateway", "ReferenceGrant")
def gateway_secret_reference_grant_specific(run):
    _secret_granted(run, "GatewaySecretReferenceGrantSpecific",
                    "gateway-secret-reference-grant-specific",
                    reference_grant("reference-grant-specific", WEB_NS,
                                    "Gateway", INFRA_NS, "Secret", "certificate"))
