"""GATEWAY-GRPC profile tests (upstream conformance/tests/grpcroute-*.go): gRPC calls through a
Gateway's front door (HTTP/2 with prior knowledge) to the gRPC echo pods (grpc_pods.py)."""
from harness import INFRA_NS
from objects import backend, gateway, http_route, listener, parent, rule
from registry import conformance

SERVICE = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"


def grpc_route(name, parents, rules, hostnames=None):
    return http_route(name, parents, rules, hostnames=hostnames, kind="GRPCRoute")


def method(name):
    return {"method": {"service": SERVICE, "method": name}}


def headers(**values):
    return {"headers": [{"name": k, "value": v} for k, v in values.items()]}


def to(backend_name, **c):
    """A call expected to reach backend_name (in the infra namespace)."""
    return dict(c, backend=backend_name, namespace=INFRA_NS)


def fails(code, **c):
    return dict(c, code=code)


@conformance("GRPCExactMethodMatching", "Gateway", "GRPCRoute")
def exact_method_matching(run):
    run.apply("GRPCExactMethodMatching", [grpc_route("exact-matching", [parent("same-namespace")], [
        rule([backend("grpc-infra-backend-v1")], [method("Echo")]),
        rule([backend("grpc-infra-backend-v2")], [method("EchoTwo")])])])
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, "exact-matching")],
                      kind="GRPCRoute")
    for c in [to("grpc-infra-backend-v1", method="Echo"),
              to("grpc-infra-backend-v2", method="EchoTwo"),
              fails("UNIMPLEMENTED", method="EchoThree")]:
        run.grpc_expect(gw, c)


@conformance("GRPCRouteHeaderMatching", "Gateway", "GRPCRoute")
def header_matching(run):
    run.apply("GRPCRouteHeaderMatching", [grpc_route(
        "grpc-header-matching", [parent("same-namespace")], [
            rule([backend("grpc-infra-backend-v1")], [headers(version="one")]),
            rule([backend("grpc-infra-backend-v2")], [headers(version="two")]),
            rule([backend("grpc-infra-backend-v1")], [headers(version="two", color="orange")]),
            rule([backend("grpc-infra-backend-v1")],
                 [headers(color="blue"), headers(color="green")]),
            rule([backend("grpc-infra-backend-v2")],
                 [headers(color="red"), headers(color="yellow")])])])
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, "grpc-header-matching")],
                      kind="GRPCRoute")
    for c in [to("grpc-infra-backend-v1", metadata={"Version": "one"}),
              to("grpc-infra-backend-v2", metadata={"Version": "two"}),
              to("grpc-infra-backend-v1", metadata={"Version": "two", "Color": "orange"}),
              to("grpc-infra-backend-v2", metadata={"Version": "two", "Color": "blue"}),
              fails("UNIMPLEMENTED", metadata={"Color": "orange"}),
              fails("UNIMPLEMENTED", metadata={"Some-Other-Header": "one"}),
              to("grpc-infra-backend-v1", metadata={"Color": "blue"}),
              to("grpc-infra-backend-v1", metadata={"Color": "green"}),
              to("grpc-infra-backend-v2", metadata={"Color": "red"}),
              to("grpc-infra-backend-v2", metadata={"Color": "yellow"}),
              fails("UNIMPLEMENTED", metadata={"Color": "purple"})]:
        run.grpc_expect(gw, c)


@conformance("GRPCRouteListenerHostnameMatching", "Gateway", "GRPCRoute")
def listener_hostname_matching(run):
    name = "grpcroute-listener-hostname-matching"
    gw_obj = gateway(name, [
        listener("listener-1", 80, hostname="bar.com", from_ns="Same"),
        listener("listener-2", 80, hostname="foo.bar.com", from_ns="Same"),
        listener("listener-3", 80, hostname="*.bar.com", from_ns="Same"),
        listener("listener-4", 80, hostname="*.foo.com", from_ns="Same")])
    run.apply("GRPCRouteListenerHostnameMatching", [
        gw_obj,
        grpc_route("backend-v1", [parent(name, INFRA_NS, "listener-1")],
                   [rule([backend("grpc-infra-backend-v1")])]),
        grpc_route("backend-v2", [parent(name, INFRA_NS, "listener-2")],
                   [rule([backend("grpc-infra-backend-v2")])]),
        grpc_route("backend-v3", [parent(name, INFRA_NS, "listener-3"),
                                  parent(name, INFRA_NS, "listener-4")],
                   [rule([backend("grpc-infra-backend-v3")])])])
    run.accepted(INFRA_NS, name, [(INFRA_NS, "backend-v1")], kind="GRPCRoute")
    run.accepted(INFRA_NS, name, [(INFRA_NS, "backend-v2")], kind="GRPCRoute")
    gw = run.accepted(INFRA_NS, name, [(INFRA_NS, "backend-v3")], kind="GRPCRoute")
    for c in [to("grpc-infra-backend-v1", authority="bar.com"),
              to("grpc-infra-backend-v2", authority="foo.bar.com"),
              to("grpc-infra-backend-v3", authority="baz.bar.com"),
              to("grpc-infra-backend-v3", authority="boo.bar.com"),
              to("grpc-infra-backend-v3", authority="multiple.prefixes.bar.com"),
              to("grpc-infra-backend-v3", authority="multiple.prefixes.foo.com"),
              fails("UNIMPLEMENTED", authority="foo.com"),
              fails("UNIMPLEMENTED", authority="no.matching.host")]:
        run.grpc_expect(gw, c)


@conformance("GRPCRouteNamedRule", "Gateway", "GRPCRoute", "GRPCRouteNamedRouteRule")
def named_rule(run):
    run.apply("GRPCRouteNamedRule", [grpc_route("grpc-named-rules", [parent("same-namespace")], [
        rule([backend("grpc-infra-backend-v1")], [method("Echo")], name="named-rule"),
        rule([backend("grpc-infra-backend-v2")], [method("EchoTwo")])])])
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, "grpc-named-rules")],
                      kind="GRPCRoute")
    for c in [to("grpc-infra-backend-v1", method="Echo"),
              to("grpc-infra-backend-v2", method="EchoTwo")]:
        run.grpc_expect(gw, c)


@conformance("GRPCRouteWeight", "Gateway", "GRPCRoute")
def weight(run):
    run.apply("GRPCRouteWeight", [grpc_route("weighted-backends", [parent("same-namespace")], [
        rule([backend("grpc-infra-backend-v1", weight=70),
              backend("grpc-infra-backend-v2", weight=30),
              backend("grpc-infra-backend-v3", weight=0)])])])
    gw = run.accepted(INFRA_NS, "same-namespace", [(INFRA_NS, "weighted-backends")],
                      kind="GRPCRoute")
    call = {"method": "Echo", "namespace": INFRA_NS}
    run.grpc_expect(gw, call)
    run.grpc_weighted(gw, call, {"grpc-infra-backend-v1": 0.7, "grpc-infra-backend-v2": 0.3,
                                 "grpc-infra-backend-v3": 0.0})
