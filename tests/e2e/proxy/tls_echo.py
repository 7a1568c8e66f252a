#!/usr/bin/env python3
"""An HTTP/1.1 backend over TLS for the upstream TLS tests: answers every request with what the
connection looked like from the server's side, one "key=value" per line (the SNI it received,
the ALPN protocol agreed, whether the session was resumed, the client certificate's subject
CN, the request path). POSTs are answered the same and remembered: GET /seen lists them
("posts=N", then "post PATH BODY" each). Keep-alive; a path starting with /close answers with
Connection: close so that the next request needs a new connection (and can resume the session).

usage: tls_echo.py PORT CERT KEY [CLIENT_CA]   (CLIENT_CA: a client certificate is required)
"""
import http.server
import socketserver
import ssl
import sys
import threading


POSTS = []  # (path, body) of every POST, for GET /seen (a mirror's view)
POSTS_LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with POSTS_LOCK:
            POSTS.append((self.path, body))
        self.do_GET()

    def do_GET(self):
        if self.path == "/seen":
            with POSTS_LOCK:
                text = "".join(f"post {p} {b.decode(errors='replace')}\n" for p, b in POSTS)
            body = f"posts={len(POSTS)}\n{text}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        conn = self.connection
        peer = conn.getpeercert() or {}
        cn = ""
        for rdn in peer.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    cn = value
        body = (
            f"sni={getattr(conn, 'kop_sni', '') or ''}\n"
            f"alpn={conn.selected_alpn_protocol() or ''}\n"
            f"resumed={conn.session_reused}\n"
            f"client={cn}\n"
            f"path={self.path}\n"
        ).encode()
        closing = self.path.startswith("/close")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if closing:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    if len(sys.argv) > 4:
        ctx.load_verify_locations(sys.argv[4])
        ctx.verify_mode = ssl.CERT_REQUIRED

    def on_sni(sock, name, _ctx):
        sock.kop_sni = name

    ctx.sni_callback = on_sni
    httpd = Server(("127.0.0.1", port), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
