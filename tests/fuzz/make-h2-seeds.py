#!/usr/bin/env python3
"""Writes the seed corpus of the h2_session fuzz target: frame sequences a client sends after
the h2c preface (RFC 9113 frames, HPACK blocks per RFC 7541 without Huffman coding).
Run from anywhere; it replaces corpus/h2_session/seed-*."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "h2_session")
DATA, HEADERS, PRIORITY, RST, SETTINGS, PING, GOAWAY, WINDOW, CONT = 0, 1, 2, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, PADDED, PRIO = 0x1, 0x4, 0x8, 0x20


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def lit(name, value, index=False):
    # Literal field, new name; 0x40 adds it to the dynamic table, 0x00 does not.
    n, v = name.encode(), value.encode()
    return bytes([0x40 if index else 0x00, len(n)]) + n + bytes([len(v)]) + v


def req(method="GET", path="/", authority="example.com", extra=()):
    block = lit(":method", method) + lit(":scheme", "http") + lit(":authority", authority) + \
        lit(":path", path)
    for k, v in extra:
        block += lit(k, v)
    return block


SET = frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100) + struct.pack(">HI", 4, 65535))
ACK = frame(SETTINGS, 1, 0)
seeds = {
    "get-direct": SET + frame(HEADERS, END_STREAM | END_HEADERS, 1, req(path="/direct")),
    "get-backend": SET + ACK + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                     req(path="/api?x=1", extra=[("user-agent", "fuzz"),
                                                                 ("accept", "*/*")])),
    "get-indexed": SET + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                               bytes([0x82, 0x86, 0x84]) + lit(":authority", "a.example", True)) +
    frame(HEADERS, END_STREAM | END_HEADERS, 3, bytes([0x82, 0x86, 0x84, 0xbe])),
    "post-body": SET + frame(HEADERS, END_HEADERS, 1,
                             req("POST", "/upload", extra=[("content-length", "5"),
                                                           ("content-type", "text/plain")])) +
    frame(DATA, 0, 1, b"hel") + frame(DATA, END_STREAM, 1, b"lo"),
    "post-trailers": SET + frame(HEADERS, END_HEADERS, 1, req("POST", "/grpc.Svc/Call",
                                                             extra=[("te", "trailers"),
                                                                    ("content-type",
                                                                     "application/grpc")])) +
    frame(DATA, 0, 1, b"\x00\x00\x00\x00\x02hi") +
    frame(HEADERS, END_STREAM | END_HEADERS, 1, lit("grpc-timeout", "1S")),
    "continuation": SET + frame(HEADERS, 0, 1, req(path="/direct")[:20]) +
    frame(CONT, END_HEADERS, 1, req(path="/direct")[20:]) + frame(DATA, END_STREAM, 1, b""),
    "padded-priority": SET + frame(HEADERS, END_STREAM | END_HEADERS | PADDED | PRIO, 1,
                                   bytes([3]) + struct.pack(">IB", 0, 15) +
                                   req(path="/redirect") + b"\x00\x00\x00") +
    frame(PRIORITY, 0, 3, struct.pack(">IB", 1, 200)),
    "control": SET + frame(PING, 0, 0, b"12345678") + frame(WINDOW, 0, 0, struct.pack(">I", 1000)) +
    frame(HEADERS, END_HEADERS, 1, req("PUT", "/x")) + frame(WINDOW, 0, 1, struct.pack(">I", 1)) +
    frame(RST, 0, 1, struct.pack(">I", 8)) + frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0)),
    "many-streams": SET + b"".join(frame(HEADERS, END_STREAM | END_HEADERS, i,
                                         req(path="/direct" if i % 4 == 1 else "/s%d" % i))
                                   for i in range(1, 40, 2)),
    "table-size": SET + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                              bytes([0x20]) + bytes([0x3f, 0xe1, 0x1f]) + req(path="/direct")),
    "bad-lower-id": SET + frame(HEADERS, END_STREAM | END_HEADERS, 5, req()) +
    frame(HEADERS, END_STREAM | END_HEADERS, 3, req()),
    "upgrade-headers": SET + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                   req(extra=[("connection", "keep-alive"), ("Upper", "x"),
                                              ("host", "other.example"), ("cookie", "a=1"),
                                              ("cookie", "b=2")])),
    "connect": SET + frame(HEADERS, END_HEADERS, 1, lit(":method", "CONNECT") +
                           lit(":authority", "example.com:443")) + frame(DATA, 0, 1, b"raw"),
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, "seed-" + name), "wb") as f:
        f.write(data)
