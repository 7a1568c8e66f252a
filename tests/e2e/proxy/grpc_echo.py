#!/usr/bin/python3
"""A gRPC echo service and a client that checks it through kop-proxy (Debian's python3-grpcio,
no generated code: methods with raw byte messages).

  grpc_echo.py server PORT [CERT KEY]  serves kop.test.Echo and kop.test.Probe on
                                       127.0.0.1:PORT (h2c; over TLS with CERT and KEY)
  grpc_echo.py client HOST:PORT        runs the checks against HOST:PORT, prints one line each,
                                       exits 1 when one fails
  grpc_echo.py mirror HOST:PORT N      N Unary calls, each with metadata x-tag: m<i> and the
                                       message payload-<i>; exits 1 when one fails
  grpc_echo.py seen HOST:PORT          prints what the server saw (kop.test.Probe/Seen, JSON)
  grpc_echo.py codes HOST:PORT PATH... one call of each method PATH (PATH*N: N calls, the last
                                       one counts) with a 100-byte message; prints
                                       "PATH CODE DETAILS" per PATH

Methods: Unary (the request back), Stream (the request back N times, N = its first byte),
Fail (status INVALID_ARGUMENT with a message: it travels in the trailers), Slow (the request
back after 5 s); kop.test.Probe/Seen: the calls seen so far per method, their x-tag metadata and
the message bytes received (a mirror's view of what reached it).
"""
import json
import socket
import sys
import threading
import time
from concurrent import futures

import grpc

SERVICE = "kop.test.Echo"
PROBE = "kop.test.Probe"


def serve(port, cert=None, key=None):
    lock = threading.Lock()
    seen = {"calls": {}, "tags": [], "bytes": 0}

    def record(method, request, context):
        with lock:
            seen["calls"][method] = seen["calls"].get(method, 0) + 1
            seen["bytes"] += len(request)
            seen["tags"] += [v for k, v in context.invocation_metadata() if k == "x-tag"]

    def unary(request, context):
        record("Unary", request, context)
        context.set_trailing_metadata((("x-echo-trailer", "unary"),))
        return request

    def stream(request, context):
        record("Stream", request, context)
        for i in range(request[0] if request else 0):
            yield bytes([i % 256]) + request

    def fail(request, context):
        record("Fail", request, context)
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad input: " + request.decode())

    def slow(request, context):
        record("Slow", request, context)
        time.sleep(5)
        return request

    def probe(request, context):
        with lock:
            return json.dumps(seen, sort_keys=True).encode()

    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 64 << 20),
                                  ("grpc.max_send_message_length", 64 << 20)])
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler(SERVICE, handlers),
        grpc.method_handlers_generic_handler(
            PROBE, {"Seen": grpc.unary_unary_rpc_method_handler(probe)})))
    if cert:
        with open(key, "rb") as k, open(cert, "rb") as c:
            creds = grpc.ssl_server_credentials(((k.read(), c.read()),))
        server.add_secure_port(f"127.0.0.1:{port}", creds)
    else:
        server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("serving", flush=True)
    server.wait_for_termination()


def http1_call(target, payload):
    """A unary call over HTTP/1.1 (chunked both ways): the proxy ends the response with the
    upstream's trailers in the last chunk."""
    host, port = target.rsplit(":", 1)
    frame = b"\x00" + len(payload).to_bytes(4, "big") + payload
    body = f"{len(frame):x}\r\n".encode() + frame + b"\r\n0\r\n\r\n"
    head = (f"POST /{SERVICE}/Unary HTTP/1.1\r\nHost: {target}\r\ncontent-type: application/grpc"
            "\r\nte: trailers\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(head.encode() + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def client(target):
    ok = True

    def check(name, cond, detail=""):
        nonlocal ok
        print(f"{'PASS' if cond else 'FAIL'} {name} {detail}", flush=True)
        ok = ok and cond

    opts = [("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20)]
    with grpc.insecure_channel(target, options=opts) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        unary = ch.unary_unary(f"/{SERVICE}/Unary")
        stream = ch.unary_stream(f"/{SERVICE}/Stream")
        fail = ch.unary_unary(f"/{SERVICE}/Fail")

        reply, call = unary.with_call(b"hello", timeout=10)
        trailers = dict(call.trailing_metadata() or ())
        check("unary", reply == b"hello", repr(reply[:20]))
        check("unary-trailing-metadata", trailers.get("x-echo-trailer") == "unary",
              repr(trailers))

        big = bytes(range(256)) * (16 << 10)  # 4 MiB: flow control both ways
        check("unary-4MiB", unary(big, timeout=30) == big)

        got = list(stream(bytes([200]) + b"s", timeout=30))
        check("server-stream", len(got) == 200 and got[5] == bytes([5, 200]) + b"s",
              f"{len(got)} messages")

        try:
            fail(b"x", timeout=10)
            check("status-from-trailers", False, "no error")
        except grpc.RpcError as e:
            check("status-from-trailers",
                  e.code() == grpc.StatusCode.INVALID_ARGUMENT and e.details() == "bad input: x",
                  f"{e.code()} {e.details()!r}")

        # Many calls at once share the proxy's upstream connection(s).
        futs = [unary.future(b"c%d" % i, timeout=30) for i in range(200)]
        check("concurrent-200", all(f.result() == b"c%d" % i for i, f in enumerate(futs)))

    raw = http1_call(target, b"over http/1.1")
    tail = raw[raw.find(b"\r\n0\r\n"):] if b"\r\n0\r\n" in raw else b""
    check("http1-client-gets-trailers",
          raw.startswith(b"HTTP/1.1 200") and b"over http/1.1" in raw and
          b"grpc-status: 0\r\n" in tail, repr(raw[-120:]))
    return 0 if ok else 1


def mirror(target, n):
    ok = True
    with grpc.insecure_channel(target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        unary = ch.unary_unary(f"/{SERVICE}/Unary")
        for i in range(n):
            want = b"payload-%d" % i
            got = unary(want, metadata=(("x-tag", f"m{i}"),), timeout=10)
            if got != want:
                print(f"FAIL call {i}: {got!r}", flush=True)
                ok = False
    print(f"{'PASS' if ok else 'FAIL'} {n} calls", flush=True)
    return 0 if ok else 1


def seen(target):
    with grpc.insecure_channel(target) as ch:
        print(ch.unary_unary(f"/{PROBE}/Seen")(b"", timeout=10).decode(), flush=True)
    return 0


def codes(target, paths):
    with grpc.insecure_channel(target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        for spec in paths:
            path, _, times = spec.partition("*")
            code, details = "OK", ""
            for _ in range(int(times or 1)):
                try:
                    ch.unary_unary(path)(b"x" * 100, timeout=10)
                    code, details = "OK", ""
                except grpc.RpcError as e:
                    code, details = e.code().name, e.details()
            print(f"{spec} {code} {details}", flush=True)
    return 0


if __name__ == "__main__":
    modes = {"server": (3, 5), "client": (3, 3), "mirror": (4, 4), "seen": (3, 3),
             "codes": (4, 1000)}
    if len(sys.argv) < 2 or sys.argv[1] not in modes or \
            not modes[sys.argv[1]][0] <= len(sys.argv) <= modes[sys.argv[1]][1] or \
            (sys.argv[1] == "server" and len(sys.argv) == 4):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mode = sys.argv[1]
    if mode == "server":
        serve(int(sys.argv[2]), *sys.argv[3:5])
    elif mode == "client":
        sys.exit(client(sys.argv[2]))
    elif mode == "mirror":
        sys.exit(mirror(sys.argv[2], int(sys.argv[3])))
    elif mode == "seen":
        sys.exit(seen(sys.argv[2]))
    else:
        sys.exit(codes(sys.argv[2], sys.argv[3:]))
