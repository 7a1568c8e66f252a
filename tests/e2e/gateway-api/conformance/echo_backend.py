#!/usr/bin/env python3
"""Echo backends for the Gateway API conformance run: the Pods behind the conformance Services.

One process serves several "pods", each on its own loopback address and port, and answers
every request as the upstream echo server does (the conformance checks read these fields):
a JSON body with path (the request URI, query included), host, method, proto, headers
(name -> list of values), namespace, pod, httpPort. Besides:
- /status/NNN answers status NNN with no body;
- ?delay=DURATION (Go duration such as 1s or 500ms) waits before answering;
- /retry/?uuid=U&succeedAfter=N[&responseCode=C] fails the first N attempts of U (a reset
  connection, or status C), then echoes;
- X-Echo-Set-Header: "Name:value,Name2:value2" sets those response headers;
- /ws with Upgrade: websocket: a WebSocket that echoes every message.
Each request is logged on stderr: "request pod=POD method=METHOD uri=URI".

  echo_backend.py POD_SPEC...      POD_SPEC = namespace/pod@address:port[+MODE=CRT,KEY|+h2c|+tcp]
MODE tls: the same echo over HTTPS with that certificate (the upstream tls-backend pods; the
answer adds tls.serverName). MODE tcp-tls: the upstream TCP test server over TLS (tcp-backend):
it greets with "Gateway API Test TCP Server", answers PING with PONG, IS_TLS with true and TEST
with a JSON line naming its namespace, pod and the SNI it was reached with. +tcp: the same TCP
test server in plain text (the upstream echo-tcp-plain port; IS_TLS answers false). +h2c: the echo over
HTTP/2 with prior knowledge (the upstream h2c port; needs python3-h2), HTTP/1 gets 400.
Prints "ready" once every pod listens. Stops on SIGTERM.
"""
import base64
import hashlib
import json
import re
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m)")


def parse_duration(text):
    """Seconds of a Go-style duration ("1s", "500ms", "1m30s"); None when it does not parse."""
    total, pos = 0.0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(2)]
        pos = m.end()
    return total if pos == len(text) and text else None


class Pod:
    def __init__(self, namespace, name, port):
        self.namespace = namespace
        self.name = name
        self.port = port
        self.attempts = {}  # retry simulation: uuid -> failed attempts so far
        self.lock = threading.Lock()


def make_handler(pod):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "kop-conformance-echo"

        def log_message(self, *args):
            pass

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n > 0 else b""

        def _send(self, code, body=b"", headers=()):
            self.send_response(code)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _echo(self, query):
            delay = query.get("delay", [None])[0]
            if delay is not None:
                seconds = parse_duration(delay)
                if seconds is None:
                    return self._send(500, b"bad delay")
                time.sleep(seconds)
            headers = {}
            for name, value in self.headers.items():
                headers.setdefault(name, []).append(value)
            host = self.headers.get("Host", "")
            answer = {"path": self.path, "host": host, "method": self.command,
                      "proto": self.request_version, "headers": headers,
                      "namespace": pod.namespace, "ingress": "", "service": "",
                      "pod": pod.name, "httpPort": str(pod.port)}
            if hasattr(self.connection, "server_hostname"):
                answer["tls"] = {"serverName": getattr(self.connection, "sni", "") or ""}
            body = json.dumps(answer, indent=1).encode()
            out = [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")]
            set_headers = {}
            for spec in self.headers.get_all("X-Echo-Set-Header") or []:
                for item in spec.split(","):
                    name, _, value = item.strip().partition(":")
                    if name:
                        set_headers[name] = (set_headers[name] + "," + value.strip()
                                             if name in set_headers else value)
            out.extend(set_headers.items())
            self._send(200, body, out)

        def _retry(self, query):
            uuid = query.get("uuid", [""])[0]
            try:
                succeed_after = int(query.get("succeedAfter", [""])[0])
            except ValueError:
                return self._send(400, b"succeedAfter is required")
            if not uuid:
                return self._send(400, b"uuid is required")
            with pod.lock:
                fail = pod.attempts.get(uuid, 0) < succeed_after
                if fail:
                    pod.attempts[uuid] = pod.attempts.get(uuid, 0) + 1
            if not fail:
                return self._echo(query)
            delay = parse_duration(query.get("delayRetry", [""])[0] or "0s")
            if delay:
                time.sleep(delay)
            code = query.get("responseCode", [None])[0]
            if code is not None and code.isdigit():
                return self._send(int(code))
            # A reset, not an HTTP answer: SO_LINGER 0 then close sends RST.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def _websocket(self):
            """RFC 6455 handshake, then every text or binary message echoed back."""
            key = self.headers.get("Sec-WebSocket-Key", "")
            accept = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            while True:
                head = self.rfile.read(2)
                if len(head) < 2:
                    return
                opcode, size = head[0] & 0x0F, head[1] & 0x7F
                if size == 126:
                    size = struct.unpack("!H", self.rfile.read(2))[0]
                elif size == 127:
                    size = struct.unpack("!Q", self.rfile.read(8))[0]
                mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(size)))
                if opcode == 8:  # close: answer it and stop
                    self.wfile.write(ws_frame(8, data[:2]))
                    return
                reply = ws_frame(10, data) if opcode == 9 else ws_frame(opcode, data)
                self.wfile.write(reply)
                self.wfile.flush()

        def _any(self):
            self._body()
            # One line per request in the log (stderr): the conformance checks of request
            # mirroring count these, as upstream reads the echo pods' logs.
            sys.stderr.write(f"request pod={pod.name} method={self.command} uri={self.path}\n")
            sys.stderr.flush()
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path == "/ws" and (self.headers.get("Upgrade") or "").lower() == "websocket":
                return self._websocket()
            m = re.fullmatch(r"/status/(\d\d\d)", url.path)
            if m:
                return self._send(int(m.group(1)))
            if url.path.startswith("/retry/"):
                return self._retry(query)
            return self._echo(query)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _any
        do_CONNECT = do_TRACE = _any

    return Handler


def serve_h2c(pod, sock):
    """One h2c connection (HTTP/2 with prior knowledge, as the upstream h2c port): each
    request answered with the echo JSON (proto HTTP/2.0). Anything else gets HTTP/1.1 400."""
    import h2.config
    import h2.connection
    import h2.events
    first = sock.recv(24, socket.MSG_PEEK)
    if not first.startswith(b"PRI * HTTP/2.0"):
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 20\r\nConnection: close"
                     b"\r\n\r\nExpected h2c request")
        return
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    requests = {}
    while True:
        data = sock.recv(65535)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                requests[ev.stream_id] = ev.headers
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id in requests:
                fields = requests.pop(ev.stream_id)
                pseudo = {k: v for k, v in fields if k.startswith(":")}
                headers = {}
                for k, v in fields:
                    if not k.startswith(":"):
                        headers.setdefault(k, []).append(v)
                sys.stderr.write(f"request pod={pod.name} method={pseudo.get(':method')} "
                                 f"uri={pseudo.get(':path')}\n")
                sys.stderr.flush()
                body = json.dumps({"path": pseudo.get(":path", ""),
                                   "host": pseudo.get(":authority", ""),
                                   "method": pseudo.get(":method", ""), "proto": "HTTP/2.0",
                                   "headers": headers, "namespace": pod.namespace,
                                   "ingress": "", "service": "", "pod": pod.name,
                                   "httpPort": str(pod.port)}).encode()
                conn.send_headers(ev.stream_id, [(":status", "200"),
                                                 ("content-type", "application/json"),
                                                 ("content-length", str(len(body)))])
                conn.send_data(ev.stream_id, body, end_stream=True)
        sock.sendall(conn.data_to_send())


def make_h2c_handler(pod):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                serve_h2c(pod, self.request)
            except Exception as ex:  # a broken client must not stop the pod
                sys.stderr.write(f"h2c pod={pod.name} error={ex!r}\n")
    return Handler


def ws_frame(opcode, data):
    """One unmasked, final WebSocket frame (a server's frames are not masked)."""
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + data


class TcpTestServer(socketserver.ThreadingTCPServer):
    """The upstream TCP test server's line protocol, over TLS or in plain text."""
    daemon_threads = True
    allow_reuse_address = True


def make_tcp_handler(pod, ctx):
    """ctx None: plain text."""
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                conn = ctx.wrap_socket(self.request, server_side=True) if ctx else self.request
            except (ssl.SSLError, OSError):
                return
            sni_name = getattr(conn, "sni", "") or ""
            sys.stderr.write(f"tcp pod={pod.name} sni={sni_name}\n")
            sys.stderr.flush()
            payload = json.dumps({"namespace": pod.namespace, "ingress": "", "service": "",
                                  "pod": pod.name,
                                  "tcpport": "" if ctx else str(pod.port),
                                  "tlsport": str(pod.port) if ctx else "",
                                  "isTLS": ctx is not None,
                                  "tls": {"serverName": sni_name} if ctx else {}})
            try:
                conn.sendall(b"Gateway API Test TCP Server\n")
                for line in conn.makefile("rb"):
                    word = line.strip()
                    if word == b"TEST":
                        conn.sendall(payload.encode() + b"\n")
                    elif word == b"IS_TLS":
                        conn.sendall(b"true\n" if ctx else b"false\n")
                    elif word == b"PING":
                        conn.sendall(b"PONG\n")
            except (ssl.SSLError, OSError):
                pass
            finally:
                conn.close()
    return Handler


def server_context(crt, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)

    def remember_sni(sock, name, _ctx):
        sock.sni = name  # the echo answer reports the SNI the client sent
    ctx.sni_callback = remember_sni
    return ctx


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    servers = []
    for spec in argv:
        m = re.fullmatch(r"([^/]+)/([^@]+)@([0-9.]+):(\d+)(?:\+(tls|tcp-tls)=([^,]+),(.+)|"
                         r"\+(h2c|tcp))?", spec)
        if not m:
            print(f"bad pod spec {spec!r} (namespace/pod@address:port[+MODE=CRT,KEY|+h2c|+tcp])",
                  file=sys.stderr)
            return 2
        ns, name, address, port = m.group(1), m.group(2), m.group(3), int(m.group(4))
        pod = Pod(ns, name, port)
        if m.group(8) == "h2c":
            server = TcpTestServer((address, port), make_h2c_handler(pod))
        elif m.group(8) == "tcp":
            server = TcpTestServer((address, port), make_tcp_handler(pod, None))
        elif m.group(5) == "tcp-tls":
            server = TcpTestServer((address, port),
                                   make_tcp_handler(pod, server_context(m.group(6), m.group(7))))
        else:
            server = ThreadingHTTPServer((address, port), make_handler(pod))
            server.daemon_threads = True
            if m.group(5) == "tls":
                ctx = server_context(m.group(6), m.group(7))
                # Handshake in the connection's thread, not in accept().
                server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                                do_handshake_on_connect=False)
        servers.append(server)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
