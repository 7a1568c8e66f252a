#!/usr/bin/env python3
"""Writes the seed corpus of the h2_upstream fuzz target: a first byte choosing the requests
(0 GET, 1 POST with a body, 2 chunked gRPC POST with trailers, 3 two GETs on streams 1 and 3,
4 a POST larger than the initial window), then the frames an h2c upstream sends back (RFC 9113
frames, HPACK blocks per RFC 7541 without Huffman coding). Run from anywhere; it replaces
corpus/h2_upstream/seed-*."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "h2_upstream")
DATA, HEADERS, RST, SETTINGS, PUSH, PING, GOAWAY, WINDOW, CONT = 0, 1, 3, 4, 5, 6, 7, 8, 9
END_STREAM, END_HEADERS, PADDED = 0x1, 0x4, 0x8
GET, POST, GRPC, TWO, BIG = (bytes([i]) for i in range(5))


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def lit(name, value, index=False):
    # Literal field, new name; 0x40 adds it to the dynamic table, 0x00 does not.
    n, v = name.encode(), value.encode()
    return bytes([0x40 if index else 0x00, len(n)]) + n + bytes([len(v)]) + v


def head(status="200", extra=(), flags=END_HEADERS, stream=1):
    block = lit(":status", status)
    for k, v in extra:
        block += lit(k, v)
    return frame(HEADERS, flags, stream, block)


def settings(*pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def u32(v):
    return struct.pack(">I", v)


SET = settings((3, 100), (4, 65535))
ACK = frame(SETTINGS, 1, 0)
OK = head(extra=[("content-type", "text/plain")])
seeds = {
    "get-200": GET + SET + ACK + OK + frame(DATA, END_STREAM, 1, b"hello"),
    "get-content-length": GET + SET + head(extra=[("content-length", "5")]) +
    frame(DATA, 0, 1, b"hel") + frame(DATA, END_STREAM, 1, b"lo"),
    "get-length-mismatch": GET + SET + head(extra=[("content-length", "10")]) +
    frame(DATA, END_STREAM, 1, b"abc"),
    "get-204-head-ends": GET + SET + head("204", flags=END_HEADERS | END_STREAM),
    "get-100-then-200": GET + SET + head("100") + OK + frame(DATA, END_STREAM, 1, b"x"),
    "get-indexed": GET + SET + frame(HEADERS, END_HEADERS, 1, bytes([0x88]) +
                                     lit("x-kept", "1", True) + bytes([0xbe])) +
    frame(DATA, END_STREAM, 1, b""),
    "get-table-size": GET + SET + frame(HEADERS, END_HEADERS | END_STREAM, 1,
                                        bytes([0x20, 0x3f, 0xe1, 0x1f, 0x88])),
    "get-continuation": GET + SET + frame(HEADERS, 0, 1, lit(":status", "200")) +
    frame(CONT, END_HEADERS, 1, lit("server", "up")) + frame(DATA, END_STREAM, 1, b"c"),
    "get-padded": GET + SET + frame(HEADERS, END_HEADERS | PADDED, 1,
                                    bytes([2]) + lit(":status", "200") + b"\0\0") +
    frame(DATA, END_STREAM | PADDED, 1, bytes([3]) + b"pad" + b"\0\0\0"),
    "get-bad-fields": GET + SET + head(extra=[("connection", "close"), ("Upper", "x"),
                                              ("te", "gzip"), ("set-cookie", "a=1"),
                                              ("set-cookie", "b=2")]) +
    frame(DATA, END_STREAM, 1, b"x"),
    "get-bad-status": GET + SET + head("2x0") + frame(DATA, END_STREAM, 1, b"x"),
    "get-no-status": GET + SET + frame(HEADERS, END_HEADERS | END_STREAM, 1,
                                       lit("server", "nostatus")),
    "get-trailers": GET + SET + OK + frame(DATA, 0, 1, b"body") +
    frame(HEADERS, END_HEADERS | END_STREAM, 1, lit("x-checksum", "abc")),
    "get-big-body": GET + SET + OK + b"".join(frame(DATA, 0, 1, b"d" * 16384)
                                              for _ in range(5)) + frame(DATA, END_STREAM, 1),
    "refused": GET + SET + frame(RST, 0, 1, u32(7)),
    "reset-mid-body": GET + SET + OK + frame(DATA, 0, 1, b"part") + frame(RST, 0, 1, u32(2)),
    "goaway-then-answer": TWO + SET + frame(GOAWAY, 0, 0, u32(1) + u32(0)) + OK +
    frame(DATA, END_STREAM, 1, b"one"),
    "goaway-error": GET + SET + frame(GOAWAY, 0, 0, u32(0) + u32(2) + b"debug"),
    "push-promise": GET + SET + frame(PUSH, END_HEADERS, 1, u32(2) + lit(":method", "GET") +
                                      lit(":path", "/pushed")) + OK +
    frame(DATA, END_STREAM, 1, b"x"),
    "ping-window": GET + SET + frame(PING, 0, 0, b"12345678") +
    frame(WINDOW, 0, 0, u32(1000)) + frame(WINDOW, 0, 1, u32(1)) + OK +
    frame(DATA, END_STREAM, 1, b"x"),
    "window-overflow": GET + SET + frame(WINDOW, 0, 0, u32(0x7fffffff)) + OK,
    "two-interleaved": TWO + SET + head(stream=3) + OK + frame(DATA, 0, 3, b"three") +
    frame(DATA, END_STREAM, 1, b"one") + frame(DATA, END_STREAM, 3, b""),
    "two-one-stream-max": TWO + settings((3, 1)) + OK + frame(DATA, END_STREAM, 1, b"a") +
    head(stream=3, flags=END_HEADERS | END_STREAM),
    "post-echo": POST + SET + OK + frame(DATA, 0, 1, b"hello") +
    frame(DATA, END_STREAM, 1, b""),
    "post-early-answer": POST + SET + head("413", flags=END_HEADERS | END_STREAM) +
    frame(RST, 0, 1, u32(0)),
    "grpc-trailers": GRPC + SET + head(extra=[("content-type", "application/grpc")]) +
    frame(DATA, 0, 1, b"\x00\x00\x00\x00\x02ok") +
    frame(HEADERS, END_HEADERS | END_STREAM, 1, lit("grpc-status", "0") +
          lit("grpc-message", "fine")),
    "grpc-trailers-only": GRPC + SET + head(extra=[("content-type", "application/grpc"),
                                                   ("grpc-status", "14")],
                                            flags=END_HEADERS | END_STREAM),
    "big-small-window": BIG + settings((4, 16384)) + ACK + frame(WINDOW, 0, 1, u32(50000)) +
    frame(WINDOW, 0, 0, u32(100000)) + frame(WINDOW, 0, 1, u32(50000)) + OK +
    frame(DATA, END_STREAM, 1, b"stored"),
    "big-zero-window": BIG + settings((4, 0)) + frame(WINDOW, 0, 1, u32(100000)) +
    frame(WINDOW, 0, 0, u32(100000)) + OK + frame(DATA, END_STREAM, 1, b"ok"),
    "big-window-shrinks": BIG + SET + settings((4, 100)) + OK +
    frame(DATA, END_STREAM, 1, b"late"),
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, "seed-" + name), "wb") as f:
        f.write(data)
