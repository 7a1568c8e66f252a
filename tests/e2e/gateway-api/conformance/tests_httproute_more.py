"""HTTPRoute tests of the GATEWAY-HTTP profile's extended features (upstream
conformance/tests/httproute-*.go whose features include an extended one)."""
import math
import uuid

from harness import INFRA_NS, Failure, Skip, expect
from objects import (backend, gateway, header_modifier, http_route, listener, match, parent,
                     redirect, rule)
from registry import conformance
from tests_httproute import (V1, V2, V3, accepted_and_resolved, missing, ok,
                             request_header_modifier)


@conformance("HTTPRouteMethodMatching", "Gateway", "HTTPRoute", "HTTPRouteMethodMatching")
def method_matching(run):
    run.apply("HTTPRouteMethodMatching", [http_route("method-matching", [parent("same-namespace")], [
        rule([backend(V1)], [match(method="POST")]),
        rule([backend(V2)], [match(method="GET")]),
        rule([backend(V1)], [match("/path1", method="GET")]),
        rule([backend(V2)], [match(headers=[("version", "one")], method="PUT")]),
        rule([backend(V3)], [match("/path2", headers=[("version", "two")], method="POST")]),
        rule([backend(V1)], [match("/path3", method="PATCH"),
                             match("/path4", headers=[("version", "three")], method="DELETE")]),
        rule([backend(V1)], [match("/path5")]),
        rule([backend(V2)], [match(method="PATCH")]),
        rule([backend(V3)], [match(headers=[("version", "four")])])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "method-matching")])
    run.expect_all(gw, [
        ok(method="POST"), ok(backend_name=V2, method="GET"), missing(method="HEAD"),
        ok("/path1", method="GET"), ok(backend_name=V2, method="PUT", headers={"version": "one"}),
        ok("/path2", V3, method="POST", headers={"version": "two"}),
        ok("/path3", method="PATCH"), ok("/path4", method="DELETE", headers={"version": "three"}),
        missing(method="PUT"), missing("/path4", method="DELETE"),
        ok("/path5", method="PATCH"), ok(backend_name=V2, method="PATCH",
                                         headers={"version": "four"})])


@conformance("HTTPRouteQueryParamMatching", "Gateway", "HTTPRoute", "HTTPRouteQueryParamMatching")
def query_param_matching(run):
    run.apply("HTTPRouteQueryParamMatching", [
        http_route("query-param-matching", [parent("same-namespace")], [
            rule([backend(V1)], [match(query=[("animal", "whale")])]),
            rule([backend(V2)], [match(query=[("animal", "dolphin")])]),
            rule([backend(V3)], [match(query=[("animal", "dolphin"), ("color", "blue")]),
                                 match(query=[("ANIMAL", "Whale")])]),
            rule([backend(V1)], [match("/path1", query=[("animal", "whale")])]),
            rule([backend(V2)], [match(headers=[("version", "one")], query=[("animal", "whale")])]),
            rule([backend(V3)], [match("/path2", headers=[("version", "two")],
                                       query=[("animal", "whale")])]),
            rule([backend(V1)], [match("/path3", query=[("animal", "shark")]),
                                 match("/path4", headers=[("version", "three")],
                                       query=[("animal", "kraken")])]),
            rule([backend(V1)], [match("/path5")]),
            rule([backend(V2)], [match(query=[("animal", "hydra")])]),
            rule([backend(V3)], [match(headers=[("version", "four")])])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "query-param-matching")])
    run.expect_all(gw, [
        ok("/?animal=whale"), ok("/?animal=dolphin", V2), ok("/?animal=dolphin&color=blue", V3),
        ok("/?ANIMAL=Whale", V3), ok("/?animal=whale&otherparam=irrelevant"),
        ok("/?animal=dolphin&color=yellow", V2), missing("/?color=blue"), missing("/?animal=dog"),
        missing("/?animal=whaledolphin"), missing("/"),
        ok("/path1?animal=whale"), ok("/?animal=whale", V2, headers={"version": "one"}),
        ok("/path2?animal=whale", V3, headers={"version": "two"}),
        ok("/path3?animal=shark"), ok("/path4?animal=kraken", headers={"version": "three"}),
        missing("/?animal=shark"), missing("/path4?animal=kraken"),
        ok("/path5?animal=hydra"), ok("/?animal=hydra", V3, headers={"version": "four"})])


@conformance("HTTPRouteResponseHeaderModifier", "Gateway", "HTTPRoute",
             "HTTPRouteResponseHeaderModification")
def response_header_modifier(run):
    def modified(prefix, *filters):
        return rule([backend(V1)], [match(prefix)], list(filters))

    def resp(**kw):
        return header_modifier(kind="ResponseHeaderModifier", **kw)
    run.apply("HTTPRouteResponseHeaderModifier", [
        http_route("response-header-modifier", [parent("same-namespace")], [
            modified("/set", resp(set_=[("X-Header-Set", "set-overwrites-values")])),
            modified("/add", resp(add=[("X-Header-Add", "add-appends-values")])),
            modified("/remove", resp(remove=["X-Header-Remove"])),
            modified("/multiple", resp(
                set_=[("X-Header-Set-1", "header-set-1"), ("X-Header-Set-2", "header-set-2")],
                add=[("X-Header-Add-1", "header-add-1"), ("X-Header-Add-2", "header-add-2"),
                     ("X-Header-Add-3", "header-add-3")],
                remove=["X-Header-Remove-1", "X-Header-Remove-2"])),
            modified("/case-insensitivity", resp(
                set_=[("X-Header-Set", "header-set")],
                add=[("X-Header-Add", "header-add"), ("x-lowercase-add", "lowercase-add"),
                     ("x-Mixedcase-ADD-1", "mixedcase-add-1"),
                     ("X-mixeDcase-add-2", "mixedcase-add-2"),
                     ("X-UPPERCASE-ADD", "uppercase-add")],
                remove=["X-Header-Remove"])),
            modified("/response-and-request-header-modifiers", resp(
                set_=[("X-Header-Set-1", "header-set-1"), ("X-Header-Set-2", "header-set-2")],
                add=[("X-Header-Add-1", "header-add-1"), ("X-Header-Add-2", "header-add-2")],
                remove=["X-Header-Remove-1", "X-Header-Remove-2"]), header_modifier(
                set_=[("X-Header-Set", "set-overwrites-values")],
                add=[("X-Header-Add", "header-val-1"), ("X-Header-Add-Append", "header-val-2")],
                remove=["X-Header-Remove"]))])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "response-header-modifier")])
    run.expect_all(gw, [
        ok("/set", backend_set_headers={"Some-Other-Header": "val"},
           resp_headers={"Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"}),
        ok("/set", backend_set_headers={"Some-Other-Header": "val",
                                        "X-Header-Set": "some-other-value"},
           resp_headers={"Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"}),
        ok("/add", backend_set_headers={"Some-Other-Header": "val"},
           resp_headers={"Some-Other-Header": "val", "X-Header-Add": "add-appends-values"}),
        ok("/add", backend_set_headers={"Some-Other-Header": "val",
                                        "X-Header-Add": "some-other-value"},
           resp_headers={"Some-Other-Header": "val",
                         "X-Header-Add": "some-other-value,add-appends-values"}),
        ok("/remove", backend_set_headers={"X-Header-Remove": "val"},
           resp_absent=["X-Header-Remove"]),
        ok("/multiple", backend_set_headers={
            "X-Header-Set-2": "set-val-2", "X-Header-Add-2": "add-val-2",
            "X-Header-Remove-2": "remove-val-2", "Another-Header": "another-header-val",
            "X-Header-Remove-1": "val"},
           resp_headers={"X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2",
                         "X-Header-Add-1": "header-add-1",
                         "X-Header-Add-2": "add-val-2,header-add-2",
                         "X-Header-Add-3": "header-add-3", "Another-Header": "another-header-val"},
           resp_absent=["X-Header-Remove-1", "X-Header-Remove-2"]),
        ok("/case-insensitivity", backend_set_headers={
            "x-header-set": "original-val-set", "x-header-add": "original-val-add",
            "x-header-remove": "original-val-remove", "Another-Header": "another-header-val"},
           resp_headers={"X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add",
                         "X-Lowercase-Add": "lowercase-add", "X-Mixedcase-Add-1": "mixedcase-add-1",
                         "X-Mixedcase-Add-2": "mixedcase-add-2", "X-Uppercase-Add": "uppercase-add",
                         "Another-Header": "another-header-val"},
           resp_absent=["x-header-remove", "X-Header-Remove"]),
        ok("/response-and-request-header-modifiers",
           headers={"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1",
                    "X-Header-Echo": "echo"},
           backend_set_headers={
               "X-Header-Set-2": "set-val-2", "X-Header-Add-2": "add-val-2",
               "X-Header-Remove-2": "remove-val-2", "Another-Header": "another-header-val",
               "X-Header-Remove-1": "remove-val-1", "X-Header-Echo": "echo"},
           req_path="/response-and-request-header-modifiers",
           req_headers={"X-Header-Add": "header-val-1", "X-Header-Set": "set-overwrites-values",
                        "X-Header-Add-Append": "append-val-1,header-val-2",
                        "X-Header-Echo": "echo"},
           req_absent=["X-Header-Remove"],
           resp_headers={"X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2",
                         "X-Header-Add-1": "header-add-1",
                         "X-Header-Add-2": "add-val-2,header-add-2",
                         "Another-Header": "another-header-val", "X-Header-Echo": "echo"},
           resp_absent=["X-Header-Remove-1", "X-Header-Remove-2"])])


def _redirects(run, test, name, rules, cases):
    run.apply(test, [http_route(name, [parent("same-namespace")], [
        rule(None, [match(prefix)], [redirect(**fields)]) for prefix, fields in rules])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, name)])
    run.expect_all(gw, [missing(path, status, redirect=want, **kw)
                        for path, status, want, kw in cases])


@conformance("HTTPRouteRedirectPort", "Gateway", "HTTPRoute", "HTTPRoutePortRedirect")
def redirect_port(run):
    _redirects(run, "HTTPRouteRedirectPort", "redirect-port", [
        ("/port", {"port": 8083}),
        ("/port-and-host", {"hostname": "example.org", "port": 8083}),
        ("/port-and-status", {"port": 8083, "statusCode": 301}),
        ("/port-and-host-and-status", {"port": 8083, "hostname": "example.org",
                                       "statusCode": 302})], [
        ("/port", 302, {"port": "8083"}, {}),
        ("/port-and-host", 302, {"host": "example.org", "port": "8083"}, {}),
        ("/port-and-status", 301, {"port": "8083"}, {}),
        ("/port-and-host-and-status", 302, {"port": "8083", "host": "example.org"}, {})])


@conformance("HTTPRouteRedirectScheme", "Gateway", "HTTPRoute", "HTTPRouteSchemeRedirect")
def redirect_scheme(run):
    _redirects(run, "HTTPRouteRedirectScheme", "redirect-scheme", [
        ("/scheme", {"scheme": "https"}),
        ("/scheme-and-host", {"hostname": "example.org", "scheme": "https"}),
        ("/scheme-and-status", {"scheme": "https", "statusCode": 301}),
        ("/scheme-and-host-and-status", {"scheme": "https", "statusCode": 302,
                                         "hostname": "example.org"})], [
        ("/scheme", 302, {"scheme": "https"}, {}),
        ("/scheme-and-host", 302, {"host": "example.org", "scheme": "https"}, {}),
        ("/scheme-and-status", 301, {"scheme": "https"}, {}),
        ("/scheme-and-host-and-status", 302, {"scheme": "https", "host": "example.org"}, {})])


@conformance("HTTPRouteRedirectPortAndScheme", "Gateway", "HTTPRoute", "HTTPRoutePortRedirect",
             "GatewayPort8080")
def redirect_port_and_scheme(run):
    """A redirect without a port keeps the listener's port only while the scheme stays; a
    scheme's well-known port may be written or left out (80, 443)."""
    on_8080 = "same-namespace-with-http-listener-on-8080"
    https = "same-namespace-with-https-listener"

    def redirects(name, gw_name, rules):
        return http_route(name, [parent(gw_name)], [
            rule(None, [match(prefix)], [redirect(hostname="example.org", **fields)])
            for prefix, fields in rules])
    run.apply("HTTPRouteRedirectPortAndScheme", [
        gateway(on_8080, [listener("http", 8080, from_ns="Same")]),
        redirects("http-route-for-listener-on-port-80", "same-namespace", [
            ("/scheme-nil-and-port-nil", {}), ("/scheme-nil-and-port-80", {"port": 80}),
            ("/scheme-nil-and-port-8080", {"port": 8080}),
            ("/scheme-https-and-port-nil", {"scheme": "https"}),
            ("/scheme-https-and-port-443", {"scheme": "https", "port": 443}),
            ("/scheme-https-and-port-8443", {"scheme": "https", "port": 8443})]),
        redirects("http-route-for-listener-on-port-8080", on_8080, [
            ("/scheme-nil-and-port-nil", {}), ("/scheme-nil-and-port-80", {"port": 80}),
            ("/scheme-https-and-port-nil", {"scheme": "https"})]),
        redirects("http-route-for-listener-on-port-443", https, [
            ("/scheme-nil-and-port-nil", {}), ("/scheme-nil-and-port-443", {"port": 443}),
            ("/scheme-nil-and-port-8443", {"port": 8443}),
            ("/scheme-http-and-port-nil", {"scheme": "http"}),
            ("/scheme-http-and-port-80", {"scheme": "http", "port": 80}),
            ("/scheme-http-and-port-8080", {"scheme": "http", "port": 8080})])])
    doors = {}
    for gw_name, route in [("same-namespace", "http-route-for-listener-on-port-80"),
                           (on_8080, "http-route-for-listener-on-port-8080"),
                           (https, "http-route-for-listener-on-port-443")]:
        doors[gw_name] = accepted_and_resolved(run, gw_name, [(INFRA_NS, route)])

    def to(scheme, port=None):
        want = {"scheme": scheme, "host": "example.org"}
        if port:
            want["port"] = port
        return want
    run.expect_all(doors["same-namespace"], [
        missing("/scheme-nil-and-port-nil", 302, redirect=to("http")),
        missing("/scheme-nil-and-port-80", 302, redirect=to("http")),
        missing("/scheme-nil-and-port-8080", 302, redirect=to("http", "8080")),
        missing("/scheme-https-and-port-nil", 302, redirect=to("https")),
        missing("/scheme-https-and-port-443", 302, redirect=to("https")),
        missing("/scheme-https-and-port-8443", 302, redirect=to("https", "8443"))])
    run.expect_all(doors[on_8080], [
        missing("/scheme-nil-and-port-nil", 302, redirect=to("http", "8080")),
        missing("/scheme-nil-and-port-80", 302, redirect=to("http")),
        missing("/scheme-https-and-port-nil", 302, redirect=to("https"))])
    cert = run.validity_cert
    run.expect_all(doors[https], [
        missing(path, 302, redirect=want, host="example.org", tls=cert) for path, want in [
            ("/scheme-nil-and-port-nil", to("https")),
            ("/scheme-nil-and-port-443", to("https")),
            ("/scheme-nil-and-port-8443", to("https", "8443")),
            ("/scheme-http-and-port-nil", to("http")),
            ("/scheme-http-and-port-80", to("http")),
            ("/scheme-http-and-port-8080", to("http", "8080"))]])


@conformance("HTTPRouteRedirectPath", "Gateway", "HTTPRoute", "HTTPRoutePathRedirect")
def redirect_path(run):
    def prefix(value):
        return {"type": "ReplacePrefixMatch", "replacePrefixMatch": value}

    def full(value):
        return {"type": "ReplaceFullPath", "replaceFullPath": value}
    _redirects(run, "HTTPRouteRedirectPath", "redirect-path", [
        ("/original-prefix", {"path": prefix("/replacement-prefix")}),
        ("/full", {"path": full("/full-path-replacement")}),
        ("/path-and-host", {"hostname": "example.org", "path": prefix("/replacement-prefix")}),
        ("/path-and-status", {"path": prefix("/replacement-prefix"), "statusCode": 301}),
        ("/full-path-and-host", {"hostname": "example.org", "path": full("/replacement-full")}),
        ("/full-path-and-status", {"path": full("/replacement-full"), "statusCode": 301})], [
        ("/original-prefix/lemon", 302, {"path": "/replacement-prefix/lemon"}, {}),
        ("/full/path/original", 302, {"path": "/full-path-replacement"}, {}),
        ("/path-and-host", 302, {"host": "example.org", "path": "/replacement-prefix"}, {}),
        ("/path-and-status", 301, {"path": "/replacement-prefix"}, {}),
        ("/full-path-and-host", 302, {"host": "example.org", "path": "/replacement-full"}, {}),
        ("/full-path-and-status", 301, {"path": "/replacement-full"}, {})])


@conformance("HTTPRoute303Redirect", "Gateway", "HTTPRoute", "HTTPRoute303RedirectStatusCode")
def redirect_303(run):
    _redirects(run, "HTTPRoute303Redirect", "303-redirect",
               [("/see-other", {"statusCode": 303})],
               [("/see-other", 303, {"path": "/see-other"}, {"method": "POST"})])


@conformance("HTTPRoute307Redirect", "Gateway", "HTTPRoute", "HTTPRoute307RedirectStatusCode")
def redirect_307(run):
    _redirects(run, "HTTPRoute307Redirect", "307-redirect",
               [("/temporary", {"statusCode": 307})],
               [("/temporary", 307, {"path": "/temporary"}, {})])


@conformance("HTTPRoute308Redirect", "Gateway", "HTTPRoute", "HTTPRoute308RedirectStatusCode")
def redirect_308(run):
    _redirects(run, "HTTPRoute308Redirect", "308-redirect",
               [("/permanent", {"statusCode": 308})],
               [("/permanent", 308, {"path": "/permanent"}, {})])


MODIFY = header_modifier(set_=[("X-Header-Set", "set-overwrites-values")],
                         add=[("X-Header-Add", "header-val-1"),
                              ("X-Header-Add-Append", "header-val-2")],
                         remove=["X-Header-Remove"])
MODIFIED = {"X-Header-Add": "header-val-1", "X-Header-Add-Append": "append-val-1,header-val-2",
            "X-Header-Set": "set-overwrites-values"}


def rewrite(hostname=None, path=None):
    body = {}
    if hostname:
        body["hostname"] = hostname
    if path:
        body["path"] = path
    return {"type": "URLRewrite", "urlRewrite": body}


@conformance("HTTPRouteRewriteHost", "Gateway", "HTTPRoute", "HTTPRouteHostRewrite")
def rewrite_host(run):
    run.apply("HTTPRouteRewriteHost", [http_route("rewrite-host", [parent("same-namespace")], [
        rule([backend(V1)], [match("/one")], [rewrite("one.example.org")]),
        rule([backend(V2)], None, [rewrite("example.org")]),
        rule([backend(V2)], [match("/rewrite-host-and-modify-headers")],
             [rewrite("test.example.org"), MODIFY])], hostnames=["rewrite.example"])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "rewrite-host")])
    run.expect_all(gw, [
        ok("/one", host="rewrite.example", req_path="/one", req_host="one.example.org"),
        ok("/two", V2, host="rewrite.example", req_path="/two", req_host="example.org"),
        ok("/rewrite-host-and-modify-headers", V2, host="rewrite.example",
           headers={"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1"},
           req_path="/rewrite-host-and-modify-headers", req_host="test.example.org",
           req_headers=MODIFIED, req_absent=["X-Header-Remove"])])


@conformance("HTTPRouteRewritePath", "Gateway", "HTTPRoute", "HTTPRoutePathRewrite")
def rewrite_path(run):
    def prefix(value):
        return rewrite(path={"type": "ReplacePrefixMatch", "replacePrefixMatch": value})

    def full(value):
        return rewrite(path={"type": "ReplaceFullPath", "replaceFullPath": value})
    run.apply("HTTPRouteRewritePath", [http_route("rewrite-path", [parent("same-namespace")], [
        rule([backend(V1)], [match("/prefix/one")], [prefix("/one")]),
        rule([backend(V1)], [match("/strip-prefix")], [prefix("/")]),
        rule([backend(V1)], [match("/full/one")], [full("/one")]),
        rule([backend(V1)], [match("/full/rewrite-path-and-modify-headers")],
             [full("/test"), MODIFY]),
        rule([backend(V1)], [match("/prefix/rewrite-path-and-modify-headers")],
             [prefix("/prefix"), MODIFY])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "rewrite-path")])
    sent = {"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1",
            "X-Header-Set": "set-val"}
    run.expect_all(gw, [
        ok("/prefix/one/two", req_path="/one/two"), ok("/strip-prefix/three", req_path="/three"),
        ok("/strip-prefix", req_path="/"), ok("/full/one/two", req_path="/one"),
        ok("/full/rewrite-path-and-modify-headers/test", headers=sent, req_path="/test",
           req_headers=MODIFIED, req_absent=["X-Header-Remove"]),
        ok("/prefix/rewrite-path-and-modify-headers/one", headers=sent, req_path="/prefix/one",
           req_headers=MODIFIED, req_absent=["X-Header-Remove"])])


@conformance("HTTPRouteBackendRequestHeaderModifier", "Gateway", "HTTPRoute",
             "HTTPRouteBackendRequestHeaderModification")
def backend_request_header_modifier(run):
    request_header_modifier(run, on_backend=True, test="HTTPRouteBackendRequestHeaderModifier")


@conformance("HTTPRouteRequestHeaderModifierBackendWeights", "Gateway",
             "HTTPRouteBackendRequestHeaderModification", "HTTPRoute")
def request_header_modifier_backend_weights(run):
    name = "request-header-modifier-backend-weights"

    def weighted(svc):
        return backend(svc, weight=10, filters=[header_modifier(set_=[("Backend", svc)])])
    run.apply("HTTPRouteRequestHeaderModifierBackendWeights", [
        http_route(name, [parent("same-namespace")], [rule([weighted(V1), weighted(V2)])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, name)])
    e = expect("/", namespace=INFRA_NS)
    run.expect(gw, e)
    for _ in range(100):
        status, _, echo = run.send(gw, e)
        got = (echo or {}).get("headers", {})
        values = [v for k, vs in got.items() if k.lower() == "backend" for v in vs]
        if status != 200 or len(values) != 1:
            raise Failure(f"want one Backend header at the backend, got {values} ({status})")
        if not echo["pod"].startswith(values[0]):
            raise Failure(f"pod {echo['pod']} got the header of {values[0]}")


@conformance("HTTPRouteTimeoutRequest", "Gateway", "HTTPRoute", "HTTPRouteRequestTimeout")
def timeout_request(run):
    run.apply("HTTPRouteTimeoutRequest", [http_route("request-timeout", [parent("same-namespace")], [
        rule([backend(V1)], [match("/request-timeout")], timeouts={"request": "500ms"}),
        rule([backend(V1)], [match("/disable-request-timeout")], timeouts={"request": "0s"})])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "request-timeout")])
    run.expect_all(gw, [ok("/request-timeout", ""), missing("/request-timeout?delay=1s", 504),
                        ok("/disable-request-timeout?delay=1s", "")])


@conformance("HTTPRouteTimeoutBackendRequest", "Gateway", "HTTPRoute", "HTTPRouteBackendTimeout")
def timeout_backend_request(run):
    run.apply("HTTPRouteTimeoutBackendRequest", [
        http_route("backend-request-timeout", [parent("same-namespace")], [
            rule([backend(V1)], [match("/backend-timeout")], timeouts={"backendRequest": "500ms"}),
            rule([backend(V1)], [match("/disable-backend-timeout")],
                 timeouts={"backendRequest": "0s"})])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "backend-request-timeout")])
    run.expect_all(gw, [ok("/backend-timeout", ""), missing("/backend-timeout?delay=1s", 504),
                        ok("/disable-backend-timeout?delay=1s", "")])


@conformance("HTTPRouteNamedRule", "Gateway", "HTTPRoute", "HTTPRouteNamedRouteRule")
def named_rule(run):
    run.apply("HTTPRouteNamedRule", [http_route("http-named-rules", [parent("same-namespace")], [
        rule([backend(V1)], [match("/named")], name="named-rule"),
        rule([backend(V2)], [match("/unnamed")])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "http-named-rules")])
    run.expect_all(gw, [ok("/named", ""), ok("/unnamed", "")])


@conformance("HTTPRouteListenerPortMatching", "Gateway", "HTTPRoute", "HTTPRouteParentRefPort")
def listener_port_matching(run):
    gw_name = "httproute-listener-port-matching"
    run.apply("HTTPRouteListenerPortMatching", [
        gateway(gw_name, [
            listener("listener-1", 80, from_ns="Same", hostname="foo.com"),
            listener("listener-2", 8080, from_ns="Same", hostname="foo.com"),
            listener("listener-3", 8080, from_ns="Same", hostname="bar.com"),
            listener("listener-4", 8090, from_ns="Same", hostname="foo.com"),
            listener("listener-5", 8090, from_ns="Same", hostname="bar.com")]),
        http_route("backend-v1", [parent(gw_name, port=80)], [rule([backend(V1)])]),
        http_route("backend-v2", [parent(gw_name, port=8080)], [rule([backend(V2)])]),
        http_route("backend-v3", [parent(gw_name, port=8090, section="listener-4")],
                   [rule([backend(V3)])])])
    gw80 = accepted_and_resolved(run, gw_name, [(INFRA_NS, "backend-v1")], listener_name="listener-1")
    gw8080 = accepted_and_resolved(run, gw_name, [(INFRA_NS, "backend-v2")],
                                   listener_name="listener-2")
    gw8090 = accepted_and_resolved(run, gw_name, [(INFRA_NS, "backend-v3")],
                                   listener_name="listener-4")
    run.expect(gw80, ok(host="foo.com"))
    run.expect_all(gw8080, [ok(backend_name=V2, host="foo.com:8080"),
                            ok(backend_name=V2, host="bar.com:8080")])
    run.expect_all(gw8090, [ok(backend_name=V3, host="foo.com:8090"),
                            missing(host="bar.com:8090")])


def _no_matching_parent(run, test, objs, route, gw_name):
    run.apply(test, objs)
    run.route_condition("HTTPRoute", INFRA_NS, route, INFRA_NS, gw_name, "Accepted", "False",
                        "NoMatchingParent")
    run.route_no_parents("HTTPRoute", INFRA_NS, route)
    run.gateway_zero_routes(INFRA_NS, gw_name)


@conformance("HTTPRouteInvalidParentRefSectionNameNotMatchingPort", "Gateway", "HTTPRoute",
             "HTTPRouteParentRefPort")
def invalid_parentref_section_name_not_matching_port(run):
    gw_name = "gateway-with-one-not-matching-port-and-section-name-route"
    route = "httproute-listener-section-name-not-matching-port"
    _no_matching_parent(run, "HTTPRouteInvalidParentRefSectionNameNotMatchingPort", [
        gateway(gw_name, [listener("http", 80, from_ns="All", kinds=[{"kind": "HTTPRoute"}])]),
        http_route(route, [parent(gw_name, section="http", port=81)],
                   [rule([backend(V1, kind="Service")])])], route, gw_name)


@conformance("HTTPRouteInvalidParentRefNotMatchingListenerPort", "Gateway", "HTTPRoute",
             "HTTPRouteDestinationPortMatching")
def invalid_parentref_not_matching_listener_port(run):
    route = "httproute-listener-not-matching-route-port"
    objs = [http_route(route, [parent("same-namespace", port=81)],
                       [rule([backend(V1, kind="Service")])])]
    run.apply("HTTPRouteInvalidParentRefNotMatchingListenerPort", objs)
    run.resolved(INFRA_NS, route, INFRA_NS, "same-namespace")
    _no_matching_parent(run, "HTTPRouteInvalidParentRefNotMatchingListenerPort", objs, route,
                        "same-namespace")


@conformance("HTTPRouteRetry", "Gateway", "HTTPRoute", "HTTPRouteRetry")
def retry(run):
    run.apply("HTTPRouteRetry", [http_route("retries", [parent("same-namespace")], [
        rule([backend(V3)], [match("/retry/code-500-attempts-3")],
             retry={"codes": [500], "attempts": 3}),
        rule([backend(V3)], [match("/retry/code-all-attempts-2")],
             retry={"codes": [500, 502, 503, 504], "attempts": 2})])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "retries")])
    for path, code, succeed_after, want in [
            ("/retry/code-500-attempts-3", 500, 2, 200), ("/retry/code-500-attempts-3", 500, 4, 500),
            ("/retry/code-500-attempts-3", 503, 2, 503), ("/retry/code-all-attempts-2", 500, 1, 200),
            ("/retry/code-all-attempts-2", 500, 3, 500), ("/retry/code-all-attempts-2", 502, 1, 200),
            ("/retry/code-all-attempts-2", 502, 3, 502), ("/retry/code-all-attempts-2", 503, 1, 200),
            ("/retry/code-all-attempts-2", 503, 3, 503), ("/retry/code-all-attempts-2", 504, 1, 200),
            ("/retry/code-all-attempts-2", 504, 3, 504)]:
        # A fresh uuid for every request: the echo pod counts attempts per uuid.
        run.expect_fresh(gw, lambda: ok(f"{path}?responseCode={code}&succeedAfter={succeed_after}"
                                        f"&uuid={uuid.uuid4()}", V3, status=want))


MIRROR_ID = "gateway-api-conformance-request-id"


def _mirror_route(name, rules):
    def mirror(svc, percent=None, fraction=None):
        body = {"backendRef": {"name": svc, "port": 8080}}
        if percent is not None:
            body["percent"] = percent
        if fraction is not None:
            body["fraction"] = fraction
        return {"type": "RequestMirror", "requestMirror": body}
    return http_route(name, [parent("same-namespace")], [
        rule([backend(V1)], [match(prefix)], ([MODIFY] if modify else []) +
             [mirror(*m) if isinstance(m, tuple) else mirror(m) for m in mirrors])
        for prefix, modify, mirrors in rules])


SENT = {"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1"}


def _mirror_cases(run, gw, cases):
    for path, modify, mirrors in cases:
        uri = f"{path}?{MIRROR_ID}={uuid.uuid4()}"
        extra = dict(headers=SENT, req_headers=MODIFIED, req_absent=["X-Header-Remove"]) \
            if modify else {}
        run.expect(gw, ok(uri, req_path=uri, **extra))
        for m in mirrors:
            run.wait(f"{uri} mirrored to {m}", lambda: (run.mirrored(m, uri) > 0, None),
                     "consistency")


@conformance("HTTPRouteRequestMirror", "Gateway", "HTTPRoute", "HTTPRouteRequestMirror")
def request_mirror(run):
    run.apply("HTTPRouteRequestMirror", [_mirror_route("request-mirror", [
        ("/mirror", False, [V2]), ("/mirror-and-modify-headers", True, [V2])])])
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, "request-mirror")])
    _mirror_cases(run, gw, [("/mirror", False, [V2]), ("/mirror-and-modify-headers", True, [V2])])


@conformance("HTTPRouteRequestMultipleMirrors", "Gateway", "HTTPRoute", "HTTPRouteRequestMirror",
             "HTTPRouteRequestMultipleMirrors")
def request_multiple_mirrors(run):
    rules = [("/multi-mirror", False, [V2, V3]),
             ("/multi-mirror-and-modify-request-headers", True, [V2, V3])]
    run.apply("HTTPRouteRequestMultipleMirrors", [_mirror_route("request-multiple-mirrors", rules)])
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, "request-multiple-mirrors")])
    _mirror_cases(run, gw, rules)


@conformance("HTTPRouteRequestPercentageMirror", "Gateway", "HTTPRoute",
             "HTTPRouteRequestPercentageMirror")
def request_percentage_mirror(run):
    run.apply("HTTPRouteRequestPercentageMirror", [_mirror_route("request-percentage-mirror", [
        ("/percent-mirror", False, [(V2, 20)]),
        ("/percent-mirror-fraction", False, [(V2, None, {"numerator": 25, "denominator": 50})]),
        ("/percent-mirror-and-modify-headers", True, [(V2, 35)])])])
    gw = accepted_and_resolved(run, "same-namespace", [(INFRA_NS, "request-percentage-mirror")])
    from concurrent.futures import ThreadPoolExecutor
    total = 500
    for path, modify, percent in [("/percent-mirror", False, 20),
                                  ("/percent-mirror-fraction", False, 50),
                                  ("/percent-mirror-and-modify-headers", True, 35)]:
        extra = dict(headers=SENT, req_headers=MODIFIED, req_absent=["X-Header-Remove"]) \
            if modify else {}
        run.expect(gw, ok(path, req_path=path, **extra))
        p = percent / 100.0
        margin = 3.0 * math.sqrt(total * p * (1 - p))
        why = None
        for _ in range(5):  # upstream: five distribution checks, one must pass
            uri = f"{path}?{MIRROR_ID}={uuid.uuid4()}"
            e = ok(uri, req_path=uri, **extra)
            with ThreadPoolExecutor(10) as pool:
                list(pool.map(lambda _: run.expect_once(gw, e), range(total)))
            try:
                got = run.wait(f"mirrored copies of {uri} to settle",
                               lambda: _settled(run, V2, uri), "consistency")
            except Failure as ex:
                why = str(ex)
                continue
            if abs(got - total * p) <= margin:
                why = None
                break
            why = f"{path}: {got} of {total} mirrored, want {total * p:.0f} +/- {margin:.0f}"
        if why:
            raise Failure(why)


def _settled(run, pod, uri, state={}):
    """The mirrored count once it stopped growing for one poll (mirrors are sent after the
    answer, so the last ones may arrive a moment later)."""
    n = run.mirrored(pod, uri)
    last = state.get(uri)
    state[uri] = n
    return last == n, n


def _cors(allow_origins, allow_methods, allow_headers=None, expose_headers=None,
          allow_credentials=None, max_age=None):
    body = {"allowOrigins": allow_origins, "allowMethods": allow_methods}
    if allow_headers is not None:
        body["allowHeaders"] = allow_headers
    if expose_headers is not None:
        body["exposeHeaders"] = expose_headers
    if allow_credentials is not None:
        body["allowCredentials"] = allow_credentials
    if max_age is not None:
        body["maxAge"] = max_age
    return {"type": "CORS", "cors": body}


def preflight(path, origin, method, req_headers=None, **kw):
    """An OPTIONS preflight the gateway must answer itself (200 or 204)."""
    headers = {"Origin": origin, "access-control-request-method": method}
    if req_headers:
        headers["access-control-request-headers"] = req_headers
    kw.setdefault("status", [200, 204])
    return expect(path, method="OPTIONS", headers=headers, gateway_answer=True, **kw)


def cors_request(path, method, headers, **kw):
    return expect(path, method=method, headers=headers, namespace=INFRA_NS, **kw)


@conformance("HTTPRouteCORS", "Gateway", "HTTPRoute", "HTTPRouteCORS")
def cors(run):
    def route(name, rules):
        return http_route(name, [parent("same-namespace")], [
            rule([backend(V1)], [match(prefix)], [flt]) for prefix, flt in rules])
    run.apply("HTTPRouteCORS", [
        route("cors-multiple-origins-methods-headers", [("/cors-1", _cors(
            ["https://www.foo.com", "https://*.bar.com"], ["GET", "OPTIONS"],
            ["x-header-1", "x-header-2"], ["x-header-3", "x-header-4"], True, 3600))]),
        route("cors-wildcard-methods", [("/cors-2", _cors(["https://www.foo.com"], ["*"]))]),
        route("cors-wildcard-origin", [("/cors-wildcard-origin",
                                        _cors(["*"], ["PUT"], allow_credentials=False))]),
        route("cors-wildcard-methods-headers", [
            ("/cors-wildcard-methods-headers", _cors(["*"], ["*"], ["*"], None, True)),
            ("/cors-wildcard-methods-headers-unauth", _cors(["*"], ["*"], ["*"], None, False))])])
    gw = run.accepted(INFRA_NS, "same-namespace", [
        (INFRA_NS, n) for n in ("cors-multiple-origins-methods-headers", "cors-wildcard-methods",
                                "cors-wildcard-origin", "cors-wildcard-methods-headers")])
    allowed_1 = {"access-control-allow-methods": ["GET, OPTIONS", "OPTIONS, GET"],
                 "access-control-allow-headers": ["x-header-1, x-header-2",
                                                  "x-header-2, x-header-1"],
                 "access-control-expose-headers": ["x-header-3, x-header-4",
                                                   "x-header-4, x-header-3"],
                 "access-control-max-age": ["3600"],
                 "access-control-allow-credentials": ["true"]}
    asked = {"access-control-request-method": "GET",
             "access-control-request-headers": "x-header-1, x-header-2"}
    no_creds = ["Access-Control-Allow-Credentials"]
    run.expect_all(gw, [
        preflight("/cors-1", origin, "GET", "x-header-1, x-header-2", ignore_ws=True,
                  valid_resp_headers={"access-control-allow-origin": [origin], **allowed_1})
        for origin in ("https://www.foo.com", "https://www.bar.com", "https://xpto.www.bar.com")])
    run.expect_all(gw, [
        preflight("/cors-1", "https://foobar.com", "GET", status=[200, 204, 403],
                  resp_absent=["access-control-allow-origin"]),
        cors_request("/cors-1", "GET", {"Origin": "https://www.foo.com", **asked},
                     resp_headers={"access-control-allow-origin": "https://www.foo.com"}),
        cors_request("/cors-1", "GET", {"Origin": "https://www.bar.com", **asked},
                     resp_headers={"access-control-allow-origin": "https://www.bar.com"}),
        cors_request("/cors-1", "GET", {"Origin": "https://foobar.com",
                                        "access-control-request-method": "GET"},
                     resp_absent=["access-control-allow-origin"]),
        preflight("/cors-2", "https://www.foo.com", "POST",
                  valid_resp_headers={"access-control-allow-methods": ["POST", "*"]},
                  resp_headers={"access-control-allow-origin": "https://www.foo.com"},
                  resp_absent=["access-control-allow-credentials"]),
        preflight("/cors-2", "https://www.foo.com", "POST", resp_absent=no_creds),
        preflight("/cors-wildcard-origin", "https://foobar.com", "PUT",
                  valid_resp_headers={"access-control-allow-origin": ["https://foobar.com", "*"],
                                      "access-control-allow-methods": ["PUT"]},
                  resp_absent=no_creds),
        preflight("/cors-wildcard-origin", "https://foobar.com:12345", "PUT",
                  valid_resp_headers={"access-control-allow-origin": ["https://foobar.com:12345",
                                                                      "*"],
                                      "access-control-allow-methods": ["PUT"]},
                  resp_absent=no_creds),
        cors_request("/cors-wildcard-origin", "PUT", {"Origin": "https://foobar.com:12345"},
                     valid_resp_headers={"access-control-allow-origin": [
                         "https://foobar.com:12345", "*"]}),
        cors_request("/cors-wildcard-origin", "PUT", {"Origin": "https://foobar.com"},
                     valid_resp_headers={"access-control-allow-origin": ["https://foobar.com",
                                                                         "*"]},
                     resp_absent=no_creds),
        preflight("/cors-wildcard-methods-headers", "https://other.foo.com", "PUT",
                  "x-header-1, x-header-2", ignore_ws=True, valid_resp_headers={
                      "access-control-allow-origin": ["https://other.foo.com"],
                      "access-control-allow-methods": ["PUT"],
                      "access-control-allow-headers": ["x-header-1, x-header-2",
                                                       "x-header-2, x-header-1"],
                      "access-control-allow-credentials": ["true"]}),
        preflight("/cors-wildcard-methods-headers-unauth", "https://other.foo.com", "PUT",
                  "x-header-1, x-header-2", ignore_ws=True, valid_resp_headers={
                      "access-control-allow-origin": ["https://other.foo.com", "*"],
                      "access-control-allow-methods": ["PUT", "*"],
                      "access-control-allow-headers": ["x-header-1, x-header-2",
                                                       "x-header-2, x-header-1", "*"]},
                  resp_absent=["access-control-allow-credentials"]),
        cors_request("/cors-wildcard-methods-headers", "GET", {"Origin": "https://other.foo.com"},
                     valid_resp_headers={
                         "access-control-allow-origin": ["https://other.foo.com"],
                         "access-control-allow-credentials": ["true"]}),
        cors_request("/cors-wildcard-methods-headers-unauth", "GET",
                     {"Origin": "https://other.foo.com"},
                     valid_resp_headers={"access-control-allow-origin": ["https://other.foo.com",
                                                                         "*"]},
                     resp_absent=["access-control-allow-credentials"])])


@conformance("HTTPRouteBackendProtocolWebSocket", "Gateway", "HTTPRoute",
             "HTTPRouteBackendProtocolWebSocket")
def backend_protocol_websocket(run):
    run.apply("HTTPRouteBackendProtocolWebSocket", [
        http_route("backend-protocol-ws", [parent("same-namespace")],
                   [rule([backend(V1, port=8082)])])])
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, "backend-protocol-ws")])
    run.websocket_echo(gw)


@conformance("HTTPRouteBackendProtocolH2C", "Gateway", "HTTPRoute", "HTTPRouteBackendProtocolH2C")
def backend_protocol_h2c(run):
    if run.h2c_port is None:
        raise Skip("python3-h2 is not installed: no h2c echo pod (scripts/install-deps)")
    run.apply("HTTPRouteBackendProtocolH2C", [
        http_route("backend-protocol-h2c", [parent("same-namespace")],
                   [rule([backend(V1, port=8081)])])])
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, "backend-protocol-h2c")])
    run.expect(gw, ok("/", protocol="h2c"))
