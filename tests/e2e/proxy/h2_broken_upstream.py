#!/usr/bin/env python3
"""An h2c upstream whose every response breaks before its body: the e2e checks what the
proxy's clients see then.

usage: h2_broken_upstream.py PORT MODE
  length-mismatch   HEADERS :status 200, content-length 10; DATA "abc" with END_STREAM
  reset-after-head  HEADERS :status 200, content-length 10; RST_STREAM INTERNAL_ERROR
Frames are written by hand (RFC 9113); the two header fields use HPACK's static table, so no
HPACK encoder is needed.
"""
import socket
import struct
import sys
import threading

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY = 0, 1, 3, 4, 7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
# :status 200 (static index 8); content-length (static name 28) literal "10", not indexed.
RESPONSE_HEAD = bytes([0x88, 0x0F, 0x0D, 0x02]) + b"10"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def serve(conn, mode):
    try:
        if read_exact(conn, len(PREFACE)) != PREFACE:
            return
        conn.sendall(frame(SETTINGS, 0, 0))
        while True:
            head = read_exact(conn, 9)
            length = int.from_bytes(head[:3], "big")
            kind, flags = head[3], head[4]
            stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
            read_exact(conn, length)
            if kind == SETTINGS and not flags & ACK:
                conn.sendall(frame(SETTINGS, ACK, 0))
            elif kind == HEADERS:
                reply = frame(HEADERS, END_HEADERS, stream, RESPONSE_HEAD)
                if mode == "length-mismatch":
                    reply += frame(DATA, END_STREAM, stream, b"abc")
                else:
                    reply += frame(RST_STREAM, 0, stream, struct.pack(">I", 2))
                conn.sendall(reply)
            elif kind == GOAWAY:
                return
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    if mode not in ("length-mismatch", "reset-after-head"):
        sys.exit("unknown mode " + mode)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
