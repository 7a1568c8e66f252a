"""GATEWAY-TLS profile tests (upstream conformance/tests/tlsroute-*.go, core set) and
HTTPRouteDisallowedKind (an HTTPRoute on a TLSRoute-only listener)."""
from harness import APP_NS, INFRA_NS, expect
from objects import backend, gateway, http_route, listener, parent, reference_grant, rule
from registry import SUPPORTED_FEATURES, conformance

TLSROUTE = [{"kind": "TLSRoute"}]


def passthrough(name, port=443, hostname=None, kinds=TLSROUTE):
    return listener(name, port, "TLS", hostname=hostname, from_ns="Same", kinds=kinds,
                    tls_mode="Passthrough")


def tls_route(name, parents, hostnames, backends, ns=INFRA_NS):
    return http_route(name, parents, [rule(backends)], ns=ns, hostnames=hostnames,
                      kind="TLSRoute")


def https_via(run, host, backend_name, ns=INFRA_NS):
    """An HTTPS request the TLS backend answers (SNI = host), trusting the conformance CA."""
    return expect("/", host=host, tls=run.ca_pem, sni=host, backend=backend_name, namespace=ns)


@conformance("TLSRouteSimpleSameNamespace", "Gateway", "TLSRoute")
def simple_same_namespace(run):
    run.apply("TLSRouteSimpleSameNamespace", [
        tls_route("gateway-conformance-infra-test", [parent("gateway-tlsroute")],
                  ["abc.example.com"], [backend("tcp-backend", 8443)]),
        gateway("gateway-tlsroute", [passthrough("https", hostname="*.example.com")])])
    gw = run.accepted(INFRA_NS, "gateway-tlsroute", [(INFRA_NS, "gateway-conformance-infra-test")],
                      kind="TLSRoute")
    run.tcp_expect(gw, "abc.example.com", "tcp-backend", INFRA_NS)


@conformance("TLSRouteHostnameIntersection", "Gateway", "TLSRoute")
def hostname_intersection(run):
    gws = [("gw-tlsroute-exact-hostname-x-1", "listener-exact-hostname", "abc.example.com"),
           ("gw-tlsroute-more-specific-wc-hostname-x-2", "listener-more-specific-wc-hostname",
            "*.example.com"),
           ("gw-tlsroute-less-specific-wc-hostname-x-3", "listener-less-specific-wc-hostname",
            "*.com"),
           ("gw-tlsroute-empty-hostname-x-4", "listener-empty-hostname", None)]
    routes = [("tlsroute-more-specific-wc-hostname-x-1", 0, "*.example.com", "tls-backend"),
              ("tlsroute-exact-hostname-x-2", 1, "abc.example.com", "tls-backend"),
              ("tlsroute-less-specific-wc-hostname-x-2", 1, "*.com", "tls-backend-2"),
              ("tlsroute-exact-hostname-x-3", 2, "abc.example.com", "tls-backend"),
              ("tlsroute-more-specific-wc-hostname-x-3", 2, "*.example.com", "tls-backend-2"),
              ("tlsroute-exact-hostname-x-4", 3, "abc.example.com", "tls-backend"),
              ("tlsroute-less-specific-wc-hostname-x-4", 3, "*.com", "tls-backend-2")]
    run.apply("TLSRouteHostnameIntersection", [
        gateway(name, [passthrough(lname, hostname=host)]) for name, lname, host in gws] + [
        tls_route(name, [parent(gws[g][0])], [host], [backend(svc, 443)])
        for name, g, host, svc in routes])
    for g, (gw_name, _, _) in enumerate(gws):
        mine = [(INFRA_NS, name) for name, i, _, _ in routes if i == g]
        gw = run.accepted(INFRA_NS, gw_name, mine, kind="TLSRoute")
        for ns, name in mine:
            run.resolved(ns, name, INFRA_NS, gw_name, kind="TLSRoute")
        run.expect(gw, https_via(run, "abc.example.com", "tls-backend"))
        if g > 0:
            run.expect(gw, https_via(run, "other.example.com", "tls-backend-2"))
        run.tls_rejected(gw, "non.matching.org" if g == 3 else "non.matching.com")


def _invalid_backend(run, test, gw_name, route_name, ref, reason):
    run.apply(test, [
        gateway(gw_name, [passthrough("tls", kinds=None)]),
        tls_route(route_name, [parent(gw_name)], ["example.com"], [ref])])
    gw = run.accepted(INFRA_NS, gw_name, [(INFRA_NS, route_name)], kind="TLSRoute")
    run.route_condition("TLSRoute", INFRA_NS, route_name, INFRA_NS, gw_name, "ResolvedRefs",
                        "False", reason)
    run.tls_rejected(gw, "example.com")


@conformance("TLSRouteInvalidBackendRefNonexistent", "Gateway", "TLSRoute")
def invalid_backendref_nonexistent(run):
    _invalid_backend(run, "TLSRouteInvalidBackendRefNonexistent",
                     "gateway-tlsroute-invalid-backend-ref-nonexistent",
                     "invalid-backend-ref-nonexistent", backend("nonexistent", 443),
                     "BackendNotFound")


@conformance("TLSRouteInvalidBackendRefUnknownKind", "Gateway", "TLSRoute")
def invalid_backendref_unknown_kind(run):
    _invalid_backend(run, "TLSRouteInvalidBackendRefUnknownKind",
                     "gateway-tlsroute-invalid-backend-ref-unknown-kind",
                     "invalid-backend-ref-unknown-kind",
                     backend("tls-backend", 443, group="unknownkind.example.com",
                             kind="NonExistent"), "InvalidKind")


@conformance("TLSRouteInvalidNoMatchingListenerHostname", "Gateway", "TLSRoute")
def invalid_no_matching_listener_hostname(run):
    run.apply("TLSRouteInvalidNoMatchingListenerHostname", [
        gateway("gateway-tls-exact-hostname", [passthrough("tls", hostname="www.example.com")]),
        gateway("gateway-tls-wildcard-hostname", [passthrough("tls", hostname="*.example.com")]),
        tls_route("tlsroute-hostname-mismatch-1", [parent("gateway-tls-exact-hostname")],
                  ["www.nomatch.com", "*.nomatch.com"], [backend("tls-backend", 443)]),
        tls_route("tlsroute-hostname-mismatch-2", [parent("gateway-tls-wildcard-hostname")],
                  ["www.different.com", "*.different.com"], [backend("tls-backend", 443)])])
    for route, gw_name in (("tlsroute-hostname-mismatch-1", "gateway-tls-exact-hostname"),
                           ("tlsroute-hostname-mismatch-2", "gateway-tls-wildcard-hostname")):
        run.route_condition("TLSRoute", INFRA_NS, route, INFRA_NS, gw_name, "Accepted", "False",
                            "NoMatchingListenerHostname")
        run.route_no_parents("TLSRoute", INFRA_NS, route)
        run.gateway_zero_routes(INFRA_NS, gw_name)


@conformance("TLSRouteInvalidNoMatchingListener", "Gateway", "TLSRoute")
def invalid_no_matching_listener(run):
    to_tls = [backend("tls-backend", 443)]
    run.apply("TLSRouteInvalidNoMatchingListener", [
        gateway("gateway-tlsroute-tls-passthrough-only",
                [passthrough("tls-passthrough", kinds=None)]),
        gateway("gateway-tlsroute-http-only", [listener("http", 80, from_ns="Same")]),
        gateway("gateway-tlsroute-https-only",
                [listener("https", 443, "HTTPS", from_ns="Same", tls_mode="Terminate",
                          certs=[{"name": "tls-validity-checks-certificate"}])]),
        tls_route("tlsroute-not-allowed-protocol-http", [parent("gateway-tlsroute-http-only")],
                  ["tls.example.com"], to_tls),
        tls_route("tlsroute-not-allowed-protocol-https", [parent("gateway-tlsroute-https-only")],
                  ["tls.example.com"], to_tls),
        tls_route("tlsroute-no-matching-section-name",
                  [parent("gateway-tlsroute-tls-passthrough-only",
                          section="nonexistent-listener")], ["tls.example.com"], to_tls)])
    cases = [("tlsroute-not-allowed-protocol-http", "gateway-tlsroute-http-only",
              "NotAllowedByListeners"),
             ("tlsroute-not-allowed-protocol-https", "gateway-tlsroute-https-only",
              "NotAllowedByListeners"),
             ("tlsroute-no-matching-section-name", "gateway-tlsroute-tls-passthrough-only",
              "NoMatchingParent")]
    for route, gw_name, reason in cases:
        run.route_condition("TLSRoute", INFRA_NS, route, INFRA_NS, gw_name, "Accepted", "False",
                            reason)
    for route, _, _ in cases:
        run.route_no_parents("TLSRoute", INFRA_NS, route)
    run.gateway_zero_routes(INFRA_NS, "gateway-tlsroute-http-only")
    run.gateway_zero_routes(INFRA_NS, "gateway-tlsroute-https-only")


@conformance("TLSRouteInvalidReferenceGrant", "Gateway", "TLSRoute", "ReferenceGrant")
def invalid_reference_grant(run):
    wrong = "not-the-group-youre-looking-for"

    def grant(name, ns=APP_NS, from_kind="TLSRoute", from_ns=INFRA_NS, to_kind="Service",
              to_name="tls-backend", **kw):
        return reference_grant(name, ns, from_kind, from_ns, to_kind, to_name, **kw)
    run.apply("TLSRouteInvalidReferenceGrant", [
        grant("reference-grant-wrong-namespace", ns=INFRA_NS),
        grant("reference-grant-wrong-from-group", from_group=wrong),
        grant("reference-grant-wrong-from-kind", from_kind="Gateway"),
        grant("reference-grant-wrong-from-namespace",
              from_ns="not-the-namespace-youre-looking-for"),
        grant("reference-grant-wrong-to-group", to_group=wrong),
        grant("reference-grant-wrong-to-kind", to_kind="Secret"),
        grant("reference-grant-wrong-to-name", to_name="not-the-service-youre-looking-for"),
        tls_route("gateway-conformance-infra-test", [parent("gateway-tlsroute-referencegrant")],
                  ["abc.example.com"], [backend("tls-backend", 443, ns=APP_NS)]),
        gateway("gateway-tlsroute-referencegrant",
                [passthrough("https", hostname="*.example.com")])])
    run.accepted(INFRA_NS, "gateway-tlsroute-referencegrant",
                 [(INFRA_NS, "gateway-conformance-infra-test")], kind="TLSRoute")
    run.route_condition("TLSRoute", INFRA_NS, "gateway-conformance-infra-test", INFRA_NS,
                        "gateway-tlsroute-referencegrant", "ResolvedRefs", "False",
                        "RefNotPermitted")


@conformance("TLSRouteListenerPassthroughSupportedKinds", "Gateway", "TLSRoute")
def listener_passthrough_supported_kinds(run):
    name = "gateway-tlsroute-passthrough-supported-kind"
    run.apply("TLSRouteListenerPassthroughSupportedKinds", [
        gateway(name, [passthrough("tls-passthrough",
                                   kinds=[{"kind": "TCPRoute"}, {"kind": "TLSRoute"}])])])
    run.listener_status(INFRA_NS, name, [
        {"name": "tls-passthrough", "kinds": ["TLSRoute"], "attached": 0,
         "conditions": [("ResolvedRefs", "False", "InvalidRouteKinds")]}])


@conformance("TLSRouteListenerTerminateNotSupported", "Gateway", "TLSRoute")
def listener_terminate_not_supported(run):
    # Upstream checks nothing when TLSRouteModeTerminate is supported, as it is by kop-ingress.
    if "TLSRouteModeTerminate" in SUPPORTED_FEATURES:
        return
    name = "gateway-tlsroute-terminate-unsupported"
    run.apply("TLSRouteListenerTerminateNotSupported", [
        gateway(name, [listener("tls-terminate", 8443, "TLS", hostname="terminate.example.com",
                                from_ns="Same", kinds=TLSROUTE, tls_mode="Terminate",
                                certs=[{"name": "tls-terminate-checks-certificate"}])])])
    run.listener_status(INFRA_NS, name, [
        {"name": "tls-terminate", "kinds": [], "attached": 0,
         "conditions": [("Accepted", "False", "UnsupportedValue")]}])


@conformance("HTTPRouteDisallowedKind", "Gateway", "HTTPRoute", "TLSRoute")
def httproute_disallowed_kind(run):
    run.apply("HTTPRouteDisallowedKind", [
        gateway("tlsroutes-only", [passthrough("tls")]),
        http_route("disallowed-kind", [parent("tlsroutes-only")],
                   [rule([backend("infra-backend-v1")])])])
    run.resolved(INFRA_NS, "disallowed-kind", INFRA_NS, "tlsroutes-only")
    run.route_condition("HTTPRoute", INFRA_NS, "disallowed-kind", INFRA_NS, "tlsroutes-only",
                        "Accepted", "False", "NotAllowedByListeners")
    run.route_no_parents("HTTPRoute", INFRA_NS, "disallowed-kind")
    run.gateway_zero_routes(INFRA_NS, "tlsroutes-only")


def terminate(name, port, hostname):
    return listener(name, port, "TLS", hostname=hostname, from_ns="Same", kinds=TLSROUTE,
                    tls_mode="Terminate", certs=[{"name": "tls-terminate-checks-certificate"}])


@conformance("TLSRouteListenerTerminateSupportedKinds", "Gateway", "TLSRoute",
             "TLSRouteModeTerminate")
def listener_terminate_supported_kinds(run):
    name = "gateway-tlsroute-terminate-supported"
    run.apply("TLSRouteListenerTerminateSupportedKinds", [
        gateway(name, [terminate("tls-terminate", 8443, "terminate.example.com")])])
    run.listener_status(INFRA_NS, name, [
        {"name": "tls-terminate", "kinds": ["TLSRoute"], "attached": 0,
         "conditions": [("Accepted", "True", "Accepted")]}])


@conformance("TLSRouteTerminateSimpleSameNamespace", "Gateway", "TLSRoute",
             "TLSRouteModeTerminate")
def terminate_simple_same_namespace(run):
    run.apply("TLSRouteTerminateSimpleSameNamespace", [
        tls_route("tlsroute-terminated-test", [parent("gateway-tlsroute-terminate")],
                  ["tls.example.com"], [backend("tcp-backend", 3000)]),
        gateway("gateway-tlsroute-terminate", [terminate("tlsterminate", 8443,
                                                         "tls.example.com")])])
    gw = run.accepted(INFRA_NS, "gateway-tlsroute-terminate",
                      [(INFRA_NS, "tlsroute-terminated-test")], kind="TLSRoute")
    run.tcp_expect(gw, "tls.example.com", "tcp-backend", INFRA_NS, backend_tls=False)


@conformance("TLSRouteListenerMixedTerminationNotSupported", "Gateway", "TLSRoute",
             "TLSRouteModeTerminate")
def listener_mixed_termination_not_supported(run):
    # Upstream checks nothing when TLSRouteModeMixed is supported, as it is by kop-ingress.
    if "TLSRouteModeMixed" in SUPPORTED_FEATURES:
        return
    name = "gateway-tlsroute-mixed-termination-not-supported"
    run.apply("TLSRouteListenerMixedTerminationNotSupported", [
        gateway(name, [terminate("tls-terminate", 8443, "terminate.example.com"),
                       passthrough("tls-passthrough", 8443, "passthrough.example.com")])])
    conflict = [("Accepted", "False", "ProtocolConflict")]
    run.listener_status(INFRA_NS, name, [
        {"name": "tls-terminate", "attached": 0, "conditions": conflict},
        {"name": "tls-passthrough", "attached": 0, "conditions": conflict}])


@conformance("TLSRouteMixedTerminationSameNamespace", "Gateway", "TLSRoute",
             "TLSRouteModeTerminate", "TLSRouteModeMixed")
def mixed_termination_same_namespace(run):
    name = "gateway-tlsroute-mixed-termination"
    run.apply("TLSRouteMixedTerminationSameNamespace", [
        gateway(name, [terminate("tls-terminate", 8883, "tls.example.com"),
                       passthrough("tls-passthrough", 8883, "abc.example.com")]),
        tls_route("gateway-conformance-mixed-passthroughroute", [parent(name)],
                  ["abc.example.com"], [backend("tcp-backend", 8443)]),
        tls_route("gateway-conformance-mixed-terminateroute", [parent(name)],
                  ["tls.example.com"], [backend("tcp-backend", 3000)])])
    gw = run.accepted(INFRA_NS, name, [(INFRA_NS, "gateway-conformance-mixed-passthroughroute"),
                                       (INFRA_NS, "gateway-conformance-mixed-terminateroute")],
                      kind="TLSRoute")
    accepted = [("Accepted", "True", "Accepted")]
    run.listener_status(INFRA_NS, name, [
        {"name": "tls-terminate", "kinds": ["TLSRoute"], "attached": 1, "conditions": accepted},
        {"name": "tls-passthrough", "kinds": ["TLSRoute"], "attached": 1,
         "conditions": accepted}])
    run.tcp_expect(gw, "tls.example.com", "tcp-backend", INFRA_NS, backend_tls=False)
    run.tcp_expect(gw, "abc.example.com", "tcp-backend", INFRA_NS)
