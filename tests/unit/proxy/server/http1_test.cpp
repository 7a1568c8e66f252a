// Strictness and framing tests of the HTTP/1.1 parser used by the proxy data plane.
#include "http1.h"

#include <gtest/gtest.h>

#include <string>

namespace h1 = kop::proxy::server::h1;

namespace {

struct Parsed {
  std::string buf;  // the views in `head` point here
  bool ok = false;
  int status = 0;
  h1::RequestHead head;
};

// Parses a complete request head (must contain the blank line).
Parsed parse(const std::string& in, h1::Limits lim = {}) {
  Parsed p;
  p.buf = in;
  const std::string& s = p.buf;
  size_t scan = 0;
  size_t len = h1::find_head_end(s.data(), s.size(), &scan);
  if (!len) {
    p.status = -1;
    return p;
  }
  h1::Error err;
  p.ok = h1::parse_request(s.data(), len, lim, &p.head, &err);
  p.status = p.ok ? 0 : err.status;
  return p;
}

TEST(Http1Request, ParsesOriginForm) {
  const auto& p =
      parse("GET /a/b?x=1 HTTP/1.1\r\nHost: Example.com\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.head.method, "GET");
  EXPECT_EQ(p.head.path, "/a/b");
  EXPECT_EQ(p.head.query, "x=1");
  EXPECT_EQ(p.head.host, "Example.com");
  EXPECT_EQ(p.head.xff_index, 1);
  EXPECT_TRUE(p.head.keep_alive());
  EXPECT_TRUE(p.head.is_get_like);
  EXPECT_EQ(p.head.content_length, -1);
}

TEST(Http1Request, TrimsValueWhitespaceAndClassifiesConnection) {
  auto p = parse(
      "POST / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
      "Upgrade: websocket\r\nContent-Length:  12 \r\n\r\n");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.head.content_length, 12);
  EXPECT_TRUE(p.head.conn_upgrade);
  EXPECT_EQ(p.head.upgrade, "websocket");
}

TEST(Http1Request, Http10DefaultsToClose) {
  auto p = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(p.ok);
  EXPECT_FALSE(p.head.keep_alive());
  auto q = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(q.ok);
  EXPECT_TRUE(q.head.keep_alive());
}

TEST(Http1Request, RejectsContentLengthWithTransferEncoding) {
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n")
                .status,
            400);
}

TEST(Http1Request, RejectsDuplicateOrInvalidContentLength) {
  EXPECT_EQ(
      parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").status,
      400);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n").status, 400);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n").status, 400);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n").status, 400);
  EXPECT_EQ(
      parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n").status,
      400);
}

TEST(Http1Request, RejectsUnsupportedTransferEncodings) {
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").status,
            501);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n")
                .status,
            400);
  EXPECT_EQ(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").status, 400);
}

TEST(Http1Request, RejectsObsFoldAndBadFieldSyntax) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse(std::string("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01\r\n\r\n")).status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\nX-B: c\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\nHost: a\r\n\r\n").status, 400);
}

// Values are scanned eight bytes at a time: a bad byte at every offset of a long value (and in
// the short tail) must still be found, and tabs and obs-text inside long values still pass.
TEST(Http1Request, LongValuesRejectBadBytesAtAnyOffset) {
  for (char bad : {'\x01', '\x7f', '\n', '\0'}) {
    for (size_t at = 0; at < 37; ++at) {
      std::string v(37, 'v');
      v[at] = bad;
      auto p = parse("GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + v + "\r\n\r\n");
      EXPECT_EQ(p.status, 400) << "byte " << int(bad) << " at " << at;
    }
  }
  std::string ok = "a\tb c\x80\xff" + std::string(40, 'x') + "\t" + std::string(9, 'y');
  auto p = parse("GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + ok + "\r\n\r\n");
  ASSERT_TRUE(p.ok) << p.status;
  EXPECT_EQ(p.head.headers[1].value, ok);
}

TEST(Http1Request, RequiresExactlyOneHostOnHttp11) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").status, 400);
}

TEST(Http1Request, AbsoluteFormMustAgreeWithHost) {
  auto p = parse("GET http://Example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.head.path, "/x");
  EXPECT_EQ(p.head.query, "y");
  EXPECT_EQ(parse("GET http://evil.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET ftp://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET http://u@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n").status, 400);
}

TEST(Http1Request, RequestLineErrors) {
  EXPECT_EQ(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n").status, 505);
  EXPECT_EQ(parse("GET / HTTP/1.x\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n").status, 501);
  EXPECT_EQ(parse("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n").status, 417);
}

TEST(Http1Request, LimitsGive414And431) {
  h1::Limits lim;
  lim.max_uri_bytes = 16;
  EXPECT_EQ(parse("GET /" + std::string(40, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", lim).status,
            414);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 150; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(parse(many + "\r\n").status, 431);
  std::string longline = "GET /" + std::string(100, 'a');
  EXPECT_EQ(h1::oversize_status(longline.data(), longline.size(), lim), 414);
  std::string hdrs = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a');
  EXPECT_EQ(h1::oversize_status(hdrs.data(), hdrs.size(), lim), 431);
}

TEST(Http1Request, FindHeadEndIsIncremental) {
  std::string s = "GET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
  size_t scan = 0;
  for (size_t n = 1; n < 27; ++n) EXPECT_EQ(h1::find_head_end(s.data(), n, &scan), 0u) << n;
  EXPECT_EQ(h1::find_head_end(s.data(), s.size(), &scan), 27u);
}

TEST(Http1Response, ParsesStatusAndFraming) {
  std::string s = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n";
  h1::ResponseHead r;
  const char* why = nullptr;
  ASSERT_TRUE(h1::parse_response(s.data(), s.size(), &r, &why)) << why;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_length, 3);
  EXPECT_FALSE(r.keep_alive());
  std::string bad = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
  h1::ResponseHead r2;
  EXPECT_FALSE(h1::parse_response(bad.data(), bad.size(), &r2, &why));
  std::string noreason = "HTTP/1.1 204\r\n\r\n";
  h1::ResponseHead r3;
  ASSERT_TRUE(h1::parse_response(noreason.data(), noreason.size(), &r3, &why));
  EXPECT_EQ(r3.status, 204);
}

std::string decode_all(const std::string& in, h1::ChunkedDecoder::Status* st, size_t step) {
  h1::ChunkedDecoder d;
  std::string out;
  size_t pos = 0;
  *st = h1::ChunkedDecoder::Status::kOk;
  while (pos < in.size() && *st == h1::ChunkedDecoder::Status::kOk) {
    size_t n = std::min(step, in.size() - pos);
    size_t off = 0;
    while (off < n) {
      h1::ChunkedDecoder::Segment segs[4];
      size_t consumed = 0, nseg = 0;
      *st = d.decode(in.data() + pos + off, n - off, segs, 4, &consumed, &nseg);
      for (size_t i = 0; i < nseg; ++i) out.append(segs[i].data, segs[i].size);
      off += consumed;
      if (*st != h1::ChunkedDecoder::Status::kOk) break;
      if (consumed == 0 && nseg == 0) break;
    }
    pos += n;
  }
  return out;
}

TEST(Http1Chunked, DecodesInAnySplit) {
  std::string body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  for (size_t step : {1u, 2u, 3u, 7u, 100u}) {
    h1::ChunkedDecoder::Status st;
    EXPECT_EQ(decode_all(body, &st, step), "hello world") << step;
    EXPECT_EQ(st, h1::ChunkedDecoder::Status::kDone) << step;
  }
}

TEST(Http1Headers, ClassifiesTheFieldsTheProxyActsOn) {
  // Case-insensitive; names of the same length as a known one stay kOther.
  EXPECT_EQ(h1::classify_header("Server"), h1::HeaderKind::kServer);
  EXPECT_EQ(h1::classify_header("server"), h1::HeaderKind::kServer);
  EXPECT_EQ(h1::classify_header("EXPECT"), h1::HeaderKind::kExpect);
  EXPECT_EQ(h1::classify_header("accept"), h1::HeaderKind::kOther);
  EXPECT_EQ(h1::classify_header("cookie"), h1::HeaderKind::kOther);
  EXPECT_EQ(h1::classify_header("servers"), h1::HeaderKind::kOther);
  EXPECT_FALSE(h1::is_hop_by_hop(h1::HeaderKind::kServer));  // end to end: kept or replaced
  // Every length class of the word-wise comparison (2 to 17 bytes, 8 and 16 included).
  const std::pair<const char*, h1::HeaderKind> known[] = {
      {"TE", h1::HeaderKind::kTe},
      {"Host", h1::HeaderKind::kHost},
      {"Trailer", h1::HeaderKind::kTrailer},
      {"Keep-Alive", h1::HeaderKind::kKeepAlive},
      {"X-Request-ID", h1::HeaderKind::kXRequestId},
      {"HTTP2-Settings", h1::HeaderKind::kHttp2Settings},
      {"X-Forwarded-For", h1::HeaderKind::kXForwardedFor},
      {"Proxy-Connection", h1::HeaderKind::kProxyConnection},
      {"x-forwarded-host", h1::HeaderKind::kXForwardedHost},
      {"Transfer-Encoding", h1::HeaderKind::kTransferEncoding},
  };
  for (const auto& [name, kind] : known) {
    EXPECT_EQ(h1::classify_header(name), kind) << name;
    std::string off(name);
    for (size_t i = 0; i < off.size(); ++i) {
      std::string changed = off;
      changed[i] = changed[i] == '-' ? '_' : char(changed[i] ^ 0x01);  // one byte differs
      EXPECT_EQ(h1::classify_header(changed), h1::HeaderKind::kOther) << changed;
    }
  }
  EXPECT_EQ(h1::classify_header("proxy-connectioN"), h1::HeaderKind::kProxyConnection);
  EXPECT_EQ(h1::classify_header("x_forwarded_for"), h1::HeaderKind::kOther);
}

TEST(Http1Headers, ConnectionOptionsNameHopByHopFields) {
  const auto& p = parse(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop ,close\r\n"
      "Connection: Other\r\nX-Hop: 1\r\n\r\n");
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.head.conn_other);
  EXPECT_TRUE(p.head.conn_close);
  EXPECT_TRUE(h1::named_by_connection(p.head, "x-hop"));
  EXPECT_TRUE(h1::named_by_connection(p.head, "X-HOP"));
  EXPECT_TRUE(h1::named_by_connection(p.head, "other"));
  EXPECT_FALSE(h1::named_by_connection(p.head, "x-ho"));
  EXPECT_FALSE(h1::named_by_connection(p.head, "host"));
  const auto& plain = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(plain.ok);
  EXPECT_FALSE(plain.head.conn_other);
}

TEST(Http1Chunked, RejectsBadSizesAndFraming) {
  h1::ChunkedDecoder::Status st;
  for (const char* bad :
       {"x\r\nhello\r\n0\r\n\r\n", " 5\r\nhello\r\n0\r\n\r\n", "5 \r\nhello\r\n0\r\n\r\n",
        "5\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n", "ffffffffffffffffff\r\n",
        "-5\r\nhello\r\n", "0x5\r\nhello\r\n0\r\n\r\n"}) {
    decode_all(bad, &st, 100);
    EXPECT_EQ(st, h1::ChunkedDecoder::Status::kError) << bad;
  }
}

}  // namespace
