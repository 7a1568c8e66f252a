"""HTTPRoute tests of the GATEWAY-HTTP profile's core set (upstream conformance/tests/httproute-*.go
whose features are only Gateway, HTTPRoute and ReferenceGrant), plus GatewayWithAttachedRoutes."""
from harness import APP_NS, INFRA_NS, WEB_NS, expect
from objects import (backend, cert_ref, gateway, header_modifier, http_route, listener, match,
                     parent, redirect, reference_grant, rule)
from registry import conformance

V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"
HTTPROUTE = ["HTTPRoute"]
OK = [("Accepted", "True", None), ("ResolvedRefs", "True", None)]


def ok(path="/", backend_name=V1, ns=INFRA_NS, **kw):
    return expect(path, backend=backend_name, namespace=ns, **kw)


def missing(path="/", status=404, **kw):
    return expect(path, status=status, **kw)


def simple(name, parents, ns=INFRA_NS, **kw):
    return http_route(name, parents, [rule([backend(V1)])], ns=ns, **kw)


def accepted_and_resolved(run, gw_name, routes, gw_ns=INFRA_NS, listener_name=None):
    gw = run.accepted(gw_ns, gw_name, routes, listener=listener_name)
    for ns, name in routes:
        run.resolved(ns, name, gw_ns, gw_name)
    return gw


@conformance("HTTPRouteSimpleSameNamespace", "Gateway", "HTTPRoute")
def simple_same_namespace(run):
    run.apply("HTTPRouteSimpleSameNamespace", [
        simple("gateway-conformance-infra-test", [parent("same-namespace")])])
    gw = accepted_and_resolved(run, "same-namespace",
                               [(INFRA_NS, "gateway-conformance-infra-test")])
    run.expect(gw, ok("/"))


@conformance("HTTPRouteCrossNamespace", "Gateway", "HTTPRoute")
def cross_namespace(run):
    run.apply("HTTPRouteCrossNamespace", [
        http_route("cross-namespace", [parent("backend-namespaces", INFRA_NS)],
                   [rule([backend("web-backend")])], ns=WEB_NS)])
    gw = accepted_and_resolved(run, "backend-namespaces", [(WEB_NS, "cross-namespace")])
    run.expect(gw, ok("/", "web-backend", WEB_NS))


@conformance("HTTPRouteMatching", "Gateway", "HTTPRoute")
def matching(run):
    run.apply("HTTPRouteMatching", [http_route("matching", [parent("same-namespace")], [
        rule([backend(V1)], [match("/"), match(headers=[("version", "one")])]),
        rule([backend(V2)], [match("/v2"), match(headers=[("version", "two")])])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "matching")])
    run.expect_all(gw, [
        ok("/"), ok("/example"), ok("/", headers={"Version": "one"}),
        ok("/v2", V2), ok("/v2/example", V2), ok("/", V2, headers={"Version": "two"}),
        ok("/v2/", V2), ok("/v2example"), ok("/foo/v2/example")])


@conformance("HTTPRouteExactPathMatching", "Gateway", "HTTPRoute")
def exact_path_matching(run):
    run.apply("HTTPRouteExactPathMatching", [
        http_route("exact-matching", [parent("same-namespace")], [
            rule([backend(V1)], [match("/one", "Exact")]),
            rule([backend(V2)], [match("/two", "Exact")])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "exact-matching")])
    run.expect_all(gw, [ok("/one"), ok("/two", V2), missing("/"), missing("/one/example"),
                        missing("/two/"), missing("/Two")])


@conformance("HTTPRouteHeaderMatching", "Gateway", "HTTPRoute")
def header_matching(run):
    run.apply("HTTPRouteHeaderMatching", [
        http_route("header-matching", [parent("same-namespace")], [
            rule([backend(V1)], [match(headers=[("version", "one")])]),
            rule([backend(V2)], [match(headers=[("version", "two")])]),
            rule([backend(V1)], [match(headers=[("version", "two"), ("color", "orange")])]),
            rule([backend(V1)], [match(headers=[("color", "blue")]),
                                 match(headers=[("color", "green")])]),
            rule([backend(V2)], [match(headers=[("color", "red")]),
                                 match(headers=[("color", "yellow")])])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "header-matching")])
    run.expect_all(gw, [
        ok(headers={"Version": "one"}), ok(backend_name=V2, headers={"Version": "two"}),
        ok(headers={"Version": "two", "Color": "orange"}),
        ok(backend_name=V2, headers={"Version": "two", "Color": "blue"}),
        missing(headers={"Color": "orange"}), missing(headers={"Some-Other-Header": "one"}),
        ok(headers={"Color": "blue"}), ok(headers={"Color": "green"}),
        ok(backend_name=V2, headers={"Color": "red"}),
        ok(backend_name=V2, headers={"Color": "yellow"}), missing(headers={"Color": "purple"})])


@conformance("HTTPRouteHostnameIntersection", "Gateway", "HTTPRoute")
def hostname_intersection(run):
    gw_name, all_name = "httproute-hostname-intersection", "httproute-hostname-intersection-all"
    p = [parent(gw_name, INFRA_NS)]

    def prefixed(name, hostnames, prefix, svc):
        return http_route(name, p, [rule([backend(svc)], [match(prefix)])], hostnames=hostnames)
    run.apply("HTTPRouteHostnameIntersection", [
        gateway(gw_name, [
            listener("listener-1", 80, from_ns="Same", hostname="very.specific.com"),
            listener("listener-2", 80, from_ns="Same", hostname="*.wildcard.io"),
            listener("listener-3", 80, from_ns="Same", hostname="*.anotherwildcard.io")]),
        gateway(all_name, [listener("listener-1", 80, from_ns="Same")]),
        prefixed("specific-host-matches-listener-specific-host",
                 ["non.matching.com", "*.nonmatchingwildcard.io", "very.specific.com"], "/s1", V1),
        prefixed("specific-host-matches-listener-wildcard-host",
                 ["non.matching.com", "wildcard.io", "foo.wildcard.io", "bar.wildcard.io",
                  "foo.bar.wildcard.io"], "/s2", V2),
        prefixed("wildcard-host-matches-listener-specific-host",
                 ["non.matching.com", "*.specific.com"], "/s3", V3),
        prefixed("wildcard-host-matches-listener-wildcard-host", ["*.anotherwildcard.io"], "/s4",
                 V1),
        prefixed("no-intersecting-hosts", ["specific.but.wrong.com", "wildcard.io"], "/s5", V2),
        http_route(all_name, [parent(all_name, INFRA_NS)], [rule([backend(V2)])],
                   hostnames=["first.com", "sub.first.com", "second.com", "sub.second.com"])])
    routes = [(INFRA_NS, n) for n in (
        "specific-host-matches-listener-specific-host",
        "specific-host-matches-listener-wildcard-host",
        "wildcard-host-matches-listener-specific-host",
        "wildcard-host-matches-listener-wildcard-host")]
    gw = accepted_and_resolved(run, gw_name, routes)
    run.expect_all(gw, [
        ok("/s1", host="very.specific.com"), ok("/s1", host="very.specific.com:1234"),
        missing("/s1", host="non.matching.com"), missing("/s1", host="foo.nonmatchingwildcard.io"),
        missing("/s1", host="foo.wildcard.io"),
        missing("/non-matching-prefix", host="very.specific.com"),
        ok("/s2", V2, host="foo.wildcard.io"), ok("/s2", V2, host="bar.wildcard.io"),
        ok("/s2", V2, host="foo.bar.wildcard.io"), missing("/s2", host="non.matching.com"),
        missing("/s2", host="wildcard.io"), missing("/s2", host="very.specific.com"),
        missing("/non-matching-prefix", host="foo.wildcard.io"),
        ok("/s3", V3, host="very.specific.com"), missing("/s3", host="non.matching.com"),
        missing("/s3", host="foo.specific.com"), missing("/s3", host="foo.wildcard.io"),
        missing("/non-matching-prefix", host="very.specific.com"),
        ok("/s4", host="foo.anotherwildcard.io"), ok("/s4", host="bar.anotherwildcard.io"),
        ok("/s4", host="foo.bar.anotherwildcard.io"), missing("/s4", host="anotherwildcard.io"),
        missing("/s4", host="foo.wildcard.io"), missing("/s4", host="very.specific.com"),
        missing("/non-matching-prefix", host="foo.anotherwildcard.io")])
    run.route_condition("HTTPRoute", INFRA_NS, "no-intersecting-hosts", INFRA_NS, gw_name,
                        "Accepted", "False", "NoMatchingListenerHostname")
    run.expect_all(gw, [missing("/s5", host="specific.but.wrong.com"),
                        missing("/s5", host="wildcard.io")])
    run.listener_status(INFRA_NS, gw_name, [
        {"name": "listener-1", "kinds": HTTPROUTE, "attached": 2, "conditions": OK},
        {"name": "listener-2", "kinds": HTTPROUTE, "attached": 1, "conditions": OK},
        {"name": "listener-3", "kinds": HTTPROUTE, "attached": 1, "conditions": OK}])
    gw_all = accepted_and_resolved(run, all_name, [(INFRA_NS, all_name)])
    run.expect_all(gw_all, [
        ok(backend_name=V2, host="first.com"), ok(backend_name=V2, host="sub.first.com"),
        ok(backend_name=V2, host="second.com"), ok(backend_name=V2, host="sub.second.com"),
        missing(host="third.com"), missing(host="sub.third.com")])


@conformance("GatewayWithAttachedRoutes", "Gateway", "HTTPRoute")
def gateway_with_attached_routes(run):
    only_infra = {"matchLabels": {"kubernetes.io/metadata.name": INFRA_NS}}
    kinds = [{"kind": "HTTPRoute"}]

    def gw_ref(name, section=None):
        return [parent(name, INFRA_NS, section=section, kind="Gateway")]
    run.apply("GatewayWithAttachedRoutes", [
        gateway("gateway-with-one-attached-route",
                [listener("http", 80, from_ns="Selector", selector=only_infra, kinds=kinds)]),
        simple("http-route-1", gw_ref("gateway-with-one-attached-route")),
        gateway("gateway-with-two-attached-routes",
                [listener("http", 80, hostname="foo.example.com", from_ns="Selector",
                          selector=only_infra, kinds=kinds)]),
        simple("http-route-2", gw_ref("gateway-with-two-attached-routes")),
        simple("http-route-3", gw_ref("gateway-with-two-attached-routes")),
        simple("http-route-not-accepted", gw_ref("gateway-with-two-attached-routes"),
               hostnames=["not-accepted.test.com"]),
        gateway("unresolved-gateway-with-one-attached-unresolved-route",
                [listener("tls", 443, "HTTPS", from_ns="Selector", selector=only_infra,
                          kinds=kinds, certs=[cert_ref("does-not-exist")],
                          tls_mode="Terminate")]),
        http_route("http-route-4",
                   gw_ref("unresolved-gateway-with-one-attached-unresolved-route", "tls"),
                   [rule([backend("does-not-exist")])])])
    run.listener_status(INFRA_NS, "gateway-with-one-attached-route", [
        {"name": "http", "kinds": HTTPROUTE, "attached": 1, "conditions": OK}])
    run.listener_status(INFRA_NS, "gateway-with-two-attached-routes", [
        {"name": "http", "kinds": HTTPROUTE, "attached": 2, "conditions": OK}])
    run.route_condition("HTTPRoute", INFRA_NS, "http-route-not-accepted", INFRA_NS,
                        "gateway-with-two-attached-routes", "Accepted", "False",
                        "NoMatchingListenerHostname")
    unresolved = "unresolved-gateway-with-one-attached-unresolved-route"
    run.listener_status(INFRA_NS, unresolved, [
        {"name": "tls", "kinds": HTTPROUTE, "attached": 1,
         "conditions": [("Programmed", "False", None), ("ResolvedRefs", "False", None)]}])
    run.route_condition("HTTPRoute", INFRA_NS, "http-route-4", INFRA_NS, unresolved,
                        "ResolvedRefs", "False")


def _invalid_ref_500(run, test, route, cond_reason, extra=(), path="/"):
    run.apply(test, [route, *extra])
    name = route["metadata"]["name"]
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, name)])
    run.route_condition("HTTPRoute", INFRA_NS, name, INFRA_NS, "same-namespace", "ResolvedRefs",
                        "False", cond_reason)
    run.expect(gw, missing(path, status=500))


@conformance("HTTPRouteInvalidBackendRefUnknownKind", "Gateway", "HTTPRoute")
def invalid_backendref_unknown_kind(run):
    _invalid_ref_500(run, "HTTPRouteInvalidBackendRefUnknownKind", http_route(
        "invalid-backend-ref-unknown-kind", [parent("same-namespace")],
        [rule([backend(V1, group="unknownkind.example.com", kind="NonExistent")])]),
        "InvalidKind", path="/v2")


@conformance("HTTPRouteInvalidCrossNamespaceBackendRef", "Gateway", "HTTPRoute", "ReferenceGrant")
def invalid_cross_namespace_backend_ref(run):
    _invalid_ref_500(run, "HTTPRouteInvalidCrossNamespaceBackendRef", http_route(
        "invalid-cross-namespace-backend-ref", [parent("same-namespace")],
        [rule([backend("web-backend", ns=WEB_NS)])]), "RefNotPermitted")


@conformance("HTTPRouteInvalidNonExistentBackendRef", "Gateway", "HTTPRoute")
def invalid_nonexistent_backendref(run):
    _invalid_ref_500(run, "HTTPRouteInvalidNonExistentBackendRef", http_route(
        "invalid-nonexistent-backend-ref", [parent("same-namespace")],
        [rule([backend("nonexistent", ns=INFRA_NS)])]), "BackendNotFound")


@conformance("HTTPRouteInvalidReferenceGrant", "Gateway", "HTTPRoute", "ReferenceGrant")
def invalid_reference_grant(run):
    wrong = "not-the-group-youre-looking-for"
    grants = [
        reference_grant("reference-grant-wrong-namespace", INFRA_NS, "HTTPRoute", INFRA_NS,
                        "Service", "web-backend"),
        reference_grant("reference-grant-wrong-from-group", WEB_NS, "HTTPRoute", INFRA_NS,
                        "Service", "web-backend", from_group=wrong),
        reference_grant("reference-grant-wrong-from-kind", WEB_NS, "Gateway", INFRA_NS,
                        "Service", "web-backend"),
        reference_grant("reference-grant-wrong-from-namespace", WEB_NS, "HTTPRoute",
                        "not-the-namespace-youre-looking-for", "Service", "web-backend"),
        reference_grant("reference-grant-wrong-to-group", WEB_NS, "HTTPRoute", INFRA_NS,
                        "Service", "web-backend", to_group=wrong),
        reference_grant("reference-grant-wrong-to-kind", WEB_NS, "HTTPRoute", INFRA_NS,
                        "Secret", "web-backend"),
        reference_grant("reference-grant-wrong-to-name", WEB_NS, "HTTPRoute", INFRA_NS,
                        "Secret", "not-the-service-youre-looking-for")]
    _invalid_ref_500(run, "HTTPRouteInvalidReferenceGrant", http_route(
        "reference-grant", [parent("same-namespace")],
        [rule([backend("web-backend", ns=WEB_NS)])]), "RefNotPermitted", extra=grants)


@conformance("HTTPRouteInvalidCrossNamespaceParentRef", "Gateway", "HTTPRoute")
def invalid_cross_namespace_parent_ref(run):
    name = "invalid-cross-namespace-parent-ref"
    run.apply("HTTPRouteInvalidCrossNamespaceParentRef", [
        http_route(name, [parent("same-namespace", INFRA_NS)], [rule([backend("web-backend")])],
                   ns=WEB_NS)])
    run.resolved(WEB_NS, name, INFRA_NS, "same-namespace")
    run.route_condition("HTTPRoute", WEB_NS, name, INFRA_NS, "same-namespace", "Accepted",
                        "False", "NotAllowedByListeners")
    run.route_no_parents("HTTPRoute", WEB_NS, name)
    run.gateway_zero_routes(INFRA_NS, "same-namespace")


@conformance("HTTPRouteInvalidParentRefNotMatchingSectionName", "Gateway", "HTTPRoute")
def invalid_parentref_not_matching_section_name(run):
    name = "httproute-listener-not-matching-section-name"
    run.apply("HTTPRouteInvalidParentRefNotMatchingSectionName", [
        http_route(name, [parent("same-namespace", INFRA_NS, section="http1", port=80)],
                   [rule([backend(V1, kind="Service")])])])
    run.route_condition("HTTPRoute", INFRA_NS, name, INFRA_NS, "same-namespace", "Accepted",
                        "False", "NoMatchingParent")
    run.route_no_parents("HTTPRoute", INFRA_NS, name)
    run.gateway_zero_routes(INFRA_NS, "same-namespace")


@conformance("HTTPRouteListenerHostnameMatching", "Gateway", "HTTPRoute")
def listener_hostname_matching(run):
    gw_name = "httproute-listener-hostname-matching"

    def to(*sections):
        return [parent(gw_name, INFRA_NS, section=s) for s in sections]
    run.apply("HTTPRouteListenerHostnameMatching", [
        gateway(gw_name, [
            listener("listener-1", 80, from_ns="Same", hostname="bar.com"),
            listener("listener-2", 80, from_ns="Same", hostname="foo.bar.com"),
            listener("listener-3", 80, from_ns="Same", hostname="*.bar.com"),
            listener("listener-4", 80, from_ns="Same", hostname="*.foo.com")]),
        http_route("backend-v1", to("listener-1"), [rule([backend(V1)])]),
        http_route("backend-v2", to("listener-2"), [rule([backend(V2)])]),
        http_route("backend-v3", to("listener-3", "listener-4"), [rule([backend(V3)])])])
    for route, section in (("backend-v1", "listener-1"), ("backend-v2", "listener-2"),
                           ("backend-v3", "listener-3")):
        gw = accepted_and_resolved(run, gw_name, [(INFRA_NS, route)], listener_name=section)
    run.expect_all(gw, [
        ok(host="bar.com"), ok(backend_name=V2, host="foo.bar.com"),
        ok(backend_name=V3, host="baz.bar.com"), ok(backend_name=V3, host="boo.bar.com"),
        ok(backend_name=V3, host="multiple.prefixes.bar.com"),
        ok(backend_name=V3, host="multiple.prefixes.foo.com"),
        missing(host="foo.com"), missing(host="no.matching.host")])


@conformance("HTTPRouteMatchingAcrossRoutes", "Gateway", "HTTPRoute")
def matching_across_routes(run):
    run.apply("HTTPRouteMatchingAcrossRoutes", [
        http_route("matching-part1", [parent("same-namespace")],
                   [rule([backend(V1)], [match("/"), match(headers=[("version", "one")])])],
                   hostnames=["example.com", "example.net"]),
        http_route("matching-part2", [parent("same-namespace")],
                   [rule([backend(V2)], [match("/v2"), match(headers=[("version", "two")])])],
                   hostnames=["example.com"])])
    gw = accepted_and_resolved(run, "same-namespace",
                               [(INFRA_NS, "matching-part1"), (INFRA_NS, "matching-part2")])
    run.expect_all(gw, [
        ok("/", host="example.com"), ok("/example", host="example.com"),
        ok("/example", host="example.net"),
        ok("/example", host="example.com", headers={"Version": "one"}),
        ok("/v2", V2, host="example.com"), ok("/v2", host="example.net"),
        ok("/v2/example", V2, host="example.com"),
        ok("/", V2, host="example.com", headers={"Version": "two"})])


@conformance("HTTPRouteMultipleGateways", "Gateway", "HTTPRoute")
def multiple_gateways(run):
    run.apply("HTTPRouteMultipleGateways", [
        http_route("multiple-gateways-shared-route",
                   [parent("same-namespace"), parent("all-namespaces")],
                   [rule([backend(V1)], [match("/shared")])]),
        http_route("same-namespace-dedicated-route", [parent("same-namespace")],
                   [rule([backend(V2)], [match("/")])]),
        http_route("all-namespaces-dedicated-route", [parent("all-namespaces")],
                   [rule([backend(V3)], [match("/")])])])
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, "multiple-gateways-shared-route"),
                                                   (INFRA_NS, "same-namespace-dedicated-route")])
    run.expect_all(gw, [ok("/shared"), ok("/", V2)])
    gw = run.accepted(INFRA_NS, "all-namespaces", [(INFRA_NS, "multiple-gateways-shared-route"),
                                                   (INFRA_NS, "all-namespaces-dedicated-route")])
    run.expect_all(gw, [ok("/shared"), ok("/", V3)])


@conformance("HTTPRouteObservedGenerationBump", "Gateway", "HTTPRoute")
def observed_generation_bump(run):
    name = "observed-generation-bump"

    def route(svc):
        return http_route(name, [parent("same-namespace")], [rule([backend(svc)])])

    def latest():
        r = run.get("HTTPRoute", INFRA_NS, name)
        parents = r.get("status", {}).get("parents") or []
        gen = r["metadata"].get("generation")
        return bool(parents) and all(c.get("observedGeneration") == gen
                                     for p in parents for c in p.get("conditions") or []), gen
    run.apply("HTTPRouteObservedGenerationBump", [route(V1)])
    run.wait("HTTPRoute conditions at the latest generation", latest, "latest_generation")
    gen = run.get("HTTPRoute", INFRA_NS, name)["metadata"]["generation"]
    run.apply("HTTPRouteObservedGenerationBump", [route(V2)])
    run.wait("HTTPRoute generation to change",
             lambda: (run.get("HTTPRoute", INFRA_NS, name)["metadata"]["generation"] != gen,
                      None), "get")
    run.route_condition("HTTPRoute", INFRA_NS, name, INFRA_NS, "same-namespace", "Accepted",
                        "True")
    run.resolved(INFRA_NS, name, INFRA_NS, "same-namespace")
    run.wait("HTTPRoute conditions at the new generation", latest, "latest_generation")


@conformance("HTTPRouteNoBackendRefs", "Gateway", "HTTPRoute")
def no_backend_refs(run):
    run.apply("HTTPRouteNoBackendRefs", [
        http_route("omitted-backendrefs", [parent("same-namespace")], [
            rule(None, [match("/omitted-no-forward", "Exact")]),
            rule([], [match("/empty-no-forward", "Exact")]),
            rule([backend(V1)], [match("/")])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "omitted-backendrefs")])
    run.expect_all(gw, [ok("/forward"), missing("/omitted-no-forward", 500),
                        missing("/empty-no-forward", 500)])


@conformance("HTTPRoutePartiallyInvalidViaInvalidReferenceGrant", "Gateway", "HTTPRoute",
             "ReferenceGrant")
def partially_invalid_via_invalid_reference_grant(run):
    name = "invalid-reference-grant"
    run.apply("HTTPRoutePartiallyInvalidViaInvalidReferenceGrant", [
        reference_grant(name, APP_NS, "HTTPRoute", INFRA_NS, "Service", "app-backend-v1"),
        http_route(name, [parent("same-namespace")], [
            rule([backend("app-backend-v2", ns=APP_NS)], [match("/v2")]),
            rule([backend("app-backend-v1", ns=APP_NS)])])])
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, name)])
    run.route_condition("HTTPRoute", INFRA_NS, name, INFRA_NS, "same-namespace", "ResolvedRefs",
                        "False", "RefNotPermitted")
    run.expect_all(gw, [missing("/v2", 500), ok("/", "app-backend-v1", APP_NS)])


@conformance("HTTPRoutePathMatchOrder", "Gateway", "HTTPRoute")
def path_match_order(run):
    run.apply("HTTPRoutePathMatchOrder", [
        http_route("path-matching-order", [parent("same-namespace")], [
            rule([backend(V1)], [match("/match", "Exact")]),
            rule([backend(V2)], [match("/match/exact", "Exact")]),
            rule([backend(V3)], [match("/match/exact/one", "Exact")]),
            rule([backend(V3)], [match("/match/")]),
            rule([backend(V1)], [match("/match/prefix/")]),
            rule([backend(V2)], [match("/match/prefix/one")])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "path-matching-order")])
    run.expect_all(gw, [ok("/match/exact/one", V3), ok("/match/exact", V2), ok("/match"),
                        ok("/match/prefix/one/any", V2), ok("/match/prefix/any"),
                        ok("/match/any", V3)])


@conformance("HTTPRouteRedirectHostAndStatus", "Gateway", "HTTPRoute")
def redirect_host_and_status(run):
    run.apply("HTTPRouteRedirectHostAndStatus", [
        http_route("redirect-host-and-status", [parent("same-namespace")], [
            rule(None, [match("/hostname-redirect")], [redirect(hostname="example.org")]),
            rule(None, [match("/host-and-status")],
                 [redirect(statusCode=301, hostname="example.org")])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "redirect-host-and-status")])
    run.expect_all(gw, [
        missing("/hostname-redirect", 302, redirect={"host": "example.org"}),
        missing("/host-and-status", 301, redirect={"host": "example.org"})])


@conformance("HTTPRouteReferenceGrant", "Gateway", "HTTPRoute", "ReferenceGrant")
def reference_grant_test(run):
    grant = reference_grant("reference-grant", WEB_NS, "HTTPRoute", INFRA_NS, "Service",
                            "web-backend")
    route = http_route("reference-grant", [parent("same-namespace")],
                       [rule([backend("web-backend", ns=WEB_NS)])])
    run.apply("HTTPRouteReferenceGrant", [grant, route])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "reference-grant")])
    run.expect(gw, ok("/", "web-backend", WEB_NS))
    run.apply("HTTPRouteReferenceGrant", [route])  # the grant goes away
    run.wait("the ReferenceGrant to be deleted",
             lambda: (run.api.get("ReferenceGrant", WEB_NS, "reference-grant") is None, None),
             "delete")
    run.expect(gw, missing("/", 500))


@conformance("HTTPRouteRequestHeaderModifier", "Gateway", "HTTPRoute")
def request_header_modifier(run, on_backend=False, test="HTTPRouteRequestHeaderModifier"):
    def modified(prefix, **kw):
        if on_backend:  # the same filters on the backendRef (HTTPRouteBackendRequestHeaderModifier)
            return rule([backend(V1, filters=[header_modifier(**kw)])], [match(prefix)])
        return rule([backend(V1)], [match(prefix)], [header_modifier(**kw)])
    run.apply(test, [
        http_route("request-header-modifier", [parent("same-namespace")], [
            modified("/set", set_=[("X-Header-Set", "set-overwrites-values")]),
            modified("/add", add=[("X-Header-Add", "add-appends-values")]),
            modified("/remove", remove=["X-Header-Remove"]),
            modified("/multiple",
                     set_=[("X-Header-Set-1", "header-set-1"), ("X-Header-Set-2", "header-set-2")],
                     add=[("X-Header-Add-1", "header-add-1"), ("X-Header-Add-2", "header-add-2"),
                          ("X-Header-Add-3", "header-add-3")],
                     remove=["X-Header-Remove-1", "X-Header-Remove-2"]),
            modified("/case-insensitivity", set_=[("X-Header-Set", "header-set")],
                     add=[("X-Header-Add", "header-add")], remove=["X-Header-Remove"])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "request-header-modifier")])
    run.expect_all(gw, [
        ok("/set", headers={"Some-Other-Header": "val"}, req_path="/set",
           req_headers={"Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"}),
        ok("/set", headers={"Some-Other-Header": "val", "X-Header-Set": "some-other-value"},
           req_path="/set",
           req_headers={"Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"}),
        ok("/add", headers={"Some-Other-Header": "val"}, req_path="/add",
           req_headers={"Some-Other-Header": "val", "X-Header-Add": "add-appends-values"}),
        ok("/add", headers={"Some-Other-Header": "val", "X-Header-Add": "some-other-value"},
           req_path="/add",
           req_headers={"Some-Other-Header": "val",
                        "X-Header-Add": "some-other-value,add-appends-values"}),
        ok("/remove", headers={"X-Header-Remove": "val"}, req_path="/remove",
           req_absent=["X-Header-Remove"]),
        ok("/multiple", headers={"X-Header-Set-2": "set-val-2", "X-Header-Add-2": "add-val-2",
                                 "X-Header-Remove-2": "remove-val-2",
                                 "Another-Header": "another-header-val"},
           req_path="/multiple",
           req_headers={"X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2",
                        "X-Header-Add-1": "header-add-1", "X-Header-Add-2": "add-val-2,header-add-2",
                        "X-Header-Add-3": "header-add-3", "Another-Header": "another-header-val"},
           req_absent=["X-Header-Remove-1", "X-Header-Remove-2"]),
        ok("/case-insensitivity",
           headers={"x-header-set": "original-val-set", "x-header-add": "original-val-add",
                    "x-header-remove": "original-val-remove",
                    "Another-Header": "another-header-val"},
           req_path="/case-insensitivity",
           req_headers={"X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add",
                        "Another-Header": "another-header-val"},
           req_absent=["x-header-remove", "X-Header-Remove"])])


@conformance("HTTPRouteServiceTypes", "Gateway", "HTTPRoute")
def service_types(run):
    address = next(a for ns, name, a in run.pods if name == V1)
    first = [{"name": "first-port", "protocol": "TCP", "port": 8080, "targetPort": 3000}]

    def svc(name, headless=False, selector=None):
        spec = {}
        if headless:
            spec["clusterIP"] = "None"
        if selector:
            spec["selector"] = selector
        spec["ports"] = first
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": INFRA_NS}, "spec": spec}

    def slice_(name, service, family, endpoints):
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": name, "namespace": INFRA_NS,
                             "labels": {"kubernetes.io/service-name": service}},
                "addressType": family,
                "endpoints": [{"addresses": [a], "conditions": {"ready": True, "serving": True,
                                                                "terminating": False}}
                              for a in endpoints],
                "ports": [{"name": "first-port", "port": run.pod_port, "protocol": "TCP"}]}
    # The manual slices get the infra-backend-v1 pod's address, as the upstream test patches
    # them with its Pod IPs; the slice of the selector-based "headless" Service stands in for
    # the one Kubernetes' EndpointSlice controller would make. No pod has an IPv6 address, so
    # the IPv6 slices stay empty.
    objs = [http_route("service-types", [parent("same-namespace")], [
        rule([backend(n)], [match("/" + n, "Exact")])
        for n in ("manual-endpointslices", "headless", "headless-manual-endpointslices")])]
    for name, headless in (("manual-endpointslices", False),
                           ("headless-manual-endpointslices", True)):
        objs += [svc(name, headless), slice_(name + "-ip4", name, "IPv4", [address]),
                 slice_(name + "-ip6", name, "IPv6", [])]
    objs += [svc("headless", True, {"app": V1}),
             slice_("headless-x", "headless", "IPv4", [address])]
    run.apply("HTTPRouteServiceTypes", objs)
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "service-types")])
    for n in ("manual-endpointslices", "headless-manual-endpointslices", "headless"):
        run.expect(gw, ok("/" + n))


@conformance("HTTPRouteWeight", "Gateway", "HTTPRoute")
def weight(run):
    run.apply("HTTPRouteWeight", [http_route("weighted-backends", [parent("same-namespace")], [
        rule([backend(V1, weight=70), backend(V2, weight=30), backend(V3, weight=0)])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "weighted-backends")])
    run.weighted(gw, expect("/", namespace=INFRA_NS), {V1: 0.7, V2: 0.3, V3: 0.0})


@conformance("HTTPRouteHTTPSListener", "Gateway", "HTTPRoute")
def https_listener(run):
    gw_name = "same-namespace-with-https-listener"
    run.apply("HTTPRouteHTTPSListener", [
        http_route("httproute-https-test", [parent(gw_name)], [rule([backend(V1)])],
                   hostnames=["example.org"]),
        http_route("httproute-https-test-no-hostname",
                   [parent(gw_name, section="https-with-hostname")], [rule([backend(V2)])])])
    gw = accepted_and_resolved(run, gw_name, [(INFRA_NS, "httproute-https-test"),
                                              (INFRA_NS, "httproute-https-test-no-hostname")])
    cert = run.validity_cert
    run.expect_all(gw, [ok(host="example.org", tls=cert),
                        missing(host="unknown-example.org", tls=cert),
                        ok(backend_name=V2, host="second-example.org", tls=cert)])


@conformance("GatewayWithAttachedRoutesWithPort8080", "Gateway", "GatewayPort8080", "HTTPRoute")
def gateway_with_attached_routes_port_8080(run):
    name = "gateway-with-two-listeners-and-one-attached-route"
    kinds = [{"kind": "HTTPRoute"}]
    run.apply("GatewayWithAttachedRoutesWithPort8080", [
        gateway(name, [listener("http-unattached", 8080, from_ns="All", kinds=kinds),
                       listener("http", 80, from_ns="All", kinds=kinds)]),
        http_route("http-route-4-port-8080",
                   [parent(name, INFRA_NS, section="http", kind="Gateway")],
                   [rule([backend(V1)])])])
    run.listener_status(INFRA_NS, name, [
        {"name": "http-unattached", "kinds": HTTPROUTE, "attached": 0, "conditions": OK},
        {"name": "http", "kinds": HTTPROUTE, "attached": 1, "conditions": OK}])
