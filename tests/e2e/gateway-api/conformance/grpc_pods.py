"""gRPC echo pods for the GATEWAY-GRPC tests, and the client side the tests call.

The upstream echo-basic image serves gateway_api_conformance.echo_basic.grpcecho.GrpcEcho when
GRPC_ECHO_SERVER is set: Echo and EchoTwo answer with what they saw (the fully qualified method,
the request headers, the :authority, the pod's namespace and name), EchoThree is left
unimplemented. This is the same service on Debian's python3-grpcio, without generated code: the
few protobuf messages are written and read by hand (proto3 wire format: varint keys,
length-delimited strings and messages).

  grpc_pods.py POD_SPEC...     POD_SPEC = namespace/pod@address:port; prints "ready" once every
                               pod listens, stops on SIGTERM.
"""
import functools
import signal
import sys
from concurrent import futures

import grpc

SERVICE = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"


# -- proto3 wire format, as much as echo-basic's messages need
def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, payload):
    """A length-delimited field (string, bytes or message)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _fields(data):
    """(number, bytes) of each length-delimited field of a message; others are skipped."""
    i = 0
    while i < len(data):
        key, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            key |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        number, wire = key >> 3, key & 7
        if wire == 0:
            while data[i] & 0x80:
                i += 1
            i += 1
        elif wire == 2:
            length, shift = 0, 0
            while True:
                b = data[i]
                i += 1
                length |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            yield number, data[i:i + length]
            i += length
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            raise ValueError(f"unsupported wire type {wire}")


def echo_response(method, headers, authority, namespace, pod):
    """EchoResponse{assertions: Assertions{fully_qualified_method, headers, authority,
    context: Context{namespace, pod}}, request: EchoRequest{}}."""
    assertions = _field(1, method)
    for k, v in headers:
        assertions += _field(2, _field(1, k) + _field(2, v))
    assertions += _field(3, authority)
    assertions += _field(4, _field(1, namespace) + _field(4, pod))
    return _field(1, assertions) + _field(2, b"")


def parse_echo_response(data):
    """{"method", "authority", "namespace", "pod", "headers": [(k, v)]} of an EchoResponse."""
    out = {"method": "", "authority": "", "namespace": "", "pod": "", "headers": []}
    for number, value in _fields(data):
        if number != 1:
            continue
        for n, v in _fields(value):
            if n == 1:
                out["method"] = v.decode()
            elif n == 2:
                kv = dict(_fields(v))
                out["headers"].append((kv.get(1, b"").decode(), kv.get(2, b"").decode()))
            elif n == 3:
                out["authority"] = v.decode()
            elif n == 4:
                ctx = dict(_fields(v))
                out["namespace"] = ctx.get(1, b"").decode()
                out["pod"] = ctx.get(4, b"").decode()
    return out


# -- the client side (upstream conformance/utils/grpc DefaultClient)
def call(address, method, authority=None, metadata=None, timeout=10.0):
    """One unary call of GrpcEcho/<method> over h2c to address ("host:port"). Returns
    (grpc.StatusCode, parsed EchoResponse or None)."""
    options = [("grpc.default_authority", authority)] if authority else []
    with grpc.insecure_channel(address, options=options) as channel:
        stub = channel.unary_unary(f"/{SERVICE}/{method}", request_serializer=None,
                                   response_deserializer=None)
        md = [(k.lower(), v) for k, v in (metadata or {}).items()]
        try:
            data = stub(b"", timeout=timeout, metadata=md)
        except grpc.RpcError as e:
            return e.code(), None
        return grpc.StatusCode.OK, parse_echo_response(data)


# -- the pods
def serve(specs):
    servers = []
    for spec in specs:
        ns_pod, addr = spec.split("@", 1)
        namespace, pod = ns_pod.split("/", 1)

        def answer(method, request, context, namespace=namespace, pod=pod):
            headers = [(k, v) for k, v in context.invocation_metadata() if isinstance(v, str)]
            authority = dict(headers).get(":authority", "")
            return echo_response(f"/{SERVICE}/{method}", headers, authority, namespace, pod)

        # EchoThree is left out: the server answers UNIMPLEMENTED, as echo-basic does.
        handlers = {m: grpc.unary_unary_rpc_method_handler(functools.partial(answer, m))
                    for m in ("Echo", "EchoTwo")}
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE,
                                                                              handlers),))
        if server.add_insecure_port(addr) == 0:
            raise SystemExit(f"cannot listen on {addr}")
        server.start()
        servers.append(server)
    print("ready", flush=True)

    def stop(*_):
        for s in servers:
            s.stop(0)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    for s in servers:
        s.wait_for_termination()


if __name__ == "__main__":
    serve(sys.argv[1:])
