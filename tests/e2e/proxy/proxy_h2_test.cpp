// kop-proxy's HTTP/2 server against RFC 9113 (and RFC 7541), frame by frame: every test writes
// the exact frames (h2_wire.h) over h2c prior knowledge and over TLS (ALPN h2), and checks the
// GOAWAY, RST_STREAM or response that the RFC requires, and what reached the backend.
#include <gtest/gtest.h>

#include <string>

#include "h2_wire.h"
#include "harness.h"

namespace kop::proxy::e2e {
namespace {

// RFC 9113 7 error codes.
constexpr int64_t kProtocolError = 0x1;
constexpr int64_t kFlowControlError = 0x3;
constexpr int64_t kFrameSizeError = 0x6;
constexpr int64_t kCompressionError = 0x9;

constexpr int kWaitMs = 5000;

using Fields = std::vector<std::pair<std::string, std::string>>;

class ProxyH2 : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    cert_ = make_cert(dir_, "a.example.com");
    proxy_ = std::make_unique<ProxyProcess>(dir_, config());
    ASSERT_TRUE(proxy_->started()) << proxy_->output();
  }
  // Restarts the proxy with `server_fields` added to its "server" settings.
  void restart(const std::string& server_fields) {
    proxy_.reset();
    proxy_ = std::make_unique<ProxyProcess>(dir_, config("," + server_fields));
    ASSERT_TRUE(proxy_->started()) << proxy_->output();
  }
  std::string config(const std::string& server_extra = "") {
    return "{\"version\":\"kop.proxy/"
           "v1\",\"listeners\":[{\"name\":\"http\",\"address\":\"127.0.0.1:"
           "0\"},{\"name\":\"https\",\"address\":\"127.0.0.1:0\",\"tls\":{\"certificates\":[{"
           "\"name\":\"a\",\"server_names\":[\"a.example.com\"],\"cert_file\":\"" +
           cert_.cert_file + "\",\"key_file\":\"" + cert_.key_file +
           "\"}]}}],\"virtual_hosts\":[{\"name\":\"vh\",\"domains\":[\"*\"],\"routes\":[{"
           "\"match\":{\"prefix\":\"/\"},\"forward\":{\"cluster\":\"be\"}}]}],\"clusters\":[{"
           "\"name\":\"be\",\"endpoints\":[{\"address\":\"" +
           be_.address() +
           "\"}]}],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":1" +
           server_extra + "}}";
  }
  bool tls() const { return GetParam(); }
  // A connection with the preface not yet sent.
  std::unique_ptr<h2::Wire> open() {
    auto w = tls() ? h2::Wire::tls(proxy_->port("https"), "a.example.com")
                   : h2::Wire::plain(proxy_->port("http"));
    EXPECT_TRUE(w) << "no HTTP/2 connection";
    return w;
  }
  // A connection past the preface and the SETTINGS exchange.
  std::unique_ptr<h2::Wire> open_started() {
    auto w = open();
    if (w) {
      EXPECT_TRUE(w->start());
    }
    return w;
  }
  std::string get_block(const std::string& path = "/", const Fields& extra = {}) {
    return h2::request_block("GET", "a.example.com", path, extra, tls() ? "https" : "http");
  }
  std::string post_block(const Fields& extra = {}) {
    return h2::request_block("POST", "a.example.com", "/up", extra, tls() ? "https" : "http");
  }
  // Sends `frames` on a fresh connection and expects a GOAWAY with `code`, then the close.
  void expect_goaway(const std::string& frames, int64_t code, bool preface = true) {
    auto w = preface ? open_started() : open();
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->send(frames));
    EXPECT_EQ(w->await_goaway(kWaitMs), code) << w->transcript();
    EXPECT_TRUE(w->await_close(kWaitMs))
        << "the connection stays open after the GOAWAY: " << w->transcript();
  }
  // Sends `frames` (stream 1) and expects RST_STREAM with `code` on stream 1; the connection
  // stays usable (a GET on stream 3 is answered) and the backend saw nothing of stream 1.
  void expect_stream_reset(const std::string& frames, int64_t code) {
    auto w = open_started();
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->send(frames));
    h2::StreamResult r = w->await_stream(1, kWaitMs);
    EXPECT_EQ(r.rst_code, code) << w->transcript();
    EXPECT_EQ(r.status(), 0) << w->transcript();
    ASSERT_TRUE(w->send(h2::headers(3, get_block("/after"), h2::kEndHeaders | h2::kEndStream)));
    EXPECT_EQ(w->await_stream(3, kWaitMs).status(), 200);
    auto reqs = be_.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].target, "/after");
  }

  TempDir dir_;
  Cert cert_;
  Backend be_;
  std::unique_ptr<ProxyProcess> proxy_;
};

INSTANTIATE_TEST_SUITE_P(Transports, ProxyH2, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "tls" : "h2c"; });

// ---- the cases the conformance tool found

TEST_P(ProxyH2, HeadersOnAStreamIdBelowOneUsedIsAConnectionError) {
  // RFC 9113 5.1.1: stream 3 is implicitly closed once stream 5 opened; opening it is a
  // connection error PROTOCOL_ERROR (kop used to ignore it and answer stream 5).
  expect_goaway(h2::headers(5, get_block(), h2::kEndHeaders | h2::kEndStream) +
                    h2::headers(3, get_block(), h2::kEndHeaders | h2::kEndStream),
                kProtocolError);
}

TEST_P(ProxyH2, TrailersOnAnEarlierOpenStreamAreNoError) {
  // Not a new stream: trailers ending stream 1 after stream 3 opened are ordinary.
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->send(h2::headers(1, post_block(), h2::kEndHeaders) + h2::data(1, "abc", false) +
                      h2::headers(3, get_block(), h2::kEndHeaders | h2::kEndStream) +
                      h2::headers(1, h2::literal("x-sum", "3"), h2::kEndHeaders | h2::kEndStream)));
  EXPECT_EQ(w->await_stream(1, kWaitMs).status(), 200);
  EXPECT_EQ(w->await_stream(3, kWaitMs).status(), 200);
  for (const auto& f : w->frames()) EXPECT_NE(f.type, h2::kGoaway);
}

TEST_P(ProxyH2, ConnectionWindowAbove2To31Minus1IsAFlowControlError) {
  // RFC 9113 6.9.1: 65535 + (2^31 - 1) overflows the connection window.
  expect_goaway(h2::window_update(0, 0x7fffffff), kFlowControlError);
}

TEST_P(ProxyH2, ConnectionWindowOverflowInTwoStepsIsAFlowControlError) {
  expect_goaway(h2::window_update(0, 0x40000000) + h2::window_update(0, 0x40000000),
                kFlowControlError);
}

TEST_P(ProxyH2, StreamWindowAbove2To31Minus1ResetsTheStream) {
  // The stream-level overflow is a stream error (RFC 9113 6.9.1): RST_STREAM, the connection
  // goes on.
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(
      w->send(h2::headers(1, post_block(), h2::kEndHeaders) + h2::window_update(1, 0x7fffffff)));
  EXPECT_EQ(w->await_stream(1, kWaitMs).rst_code, kFlowControlError);
  ASSERT_TRUE(w->send(h2::headers(3, get_block(), h2::kEndHeaders | h2::kEndStream)));
  EXPECT_EQ(w->await_stream(3, kWaitMs).status(), 200);
}

TEST_P(ProxyH2, InvalidConnectionPrefaceGetsGoawayThenClose) {
  // RFC 9113 3.4: an invalid preface is a connection error PROTOCOL_ERROR. Over h2c the first
  // line says HTTP/2, so the answer is a GOAWAY, not an HTTP/1.1 400.
  expect_goaway("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + h2::settings(), kProtocolError,
                /*preface=*/false);
}

TEST_P(ProxyH2, PrefaceNotFollowedBySettingsGetsGoawayThenClose) {
  // RFC 9113 3.4: the preface's SETTINGS frame must come first.
  expect_goaway(std::string(h2::kPreface) + h2::ping(), kProtocolError, /*preface=*/false);
}

// Trailers end the request: forwarded upstream as the chunked body's trailer section.
TEST_P(ProxyH2, TrailersAfterDataEndTheRequestAndAreForwarded) {
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(
      w->send(h2::headers(1, post_block({{"content-type", "application/grpc"}}), h2::kEndHeaders) +
              h2::data(1, "hello ", false) + h2::data(1, "world", false) +
              h2::headers(1, h2::literal("x-checksum", "abc") + h2::literal("x-count", "2"),
                          h2::kEndHeaders | h2::kEndStream)));
  h2::StreamResult r = w->await_stream(1, kWaitMs);
  EXPECT_EQ(r.status(), 200) << "the request never ended upstream";
  auto reqs = be_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("transfer-encoding"), "chunked");
  EXPECT_EQ(reqs[0].body, "hello world");
  EXPECT_EQ(reqs[0].trailers, (Fields{{"x-checksum", "abc"}, {"x-count", "2"}}));
}

TEST_P(ProxyH2, TrailersWithoutDataEndTheRequest) {
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(
      w->send(h2::headers(1, post_block(), h2::kEndHeaders) +
              h2::headers(1, h2::literal("grpc-timeout", "1S"), h2::kEndHeaders | h2::kEndStream)));
  EXPECT_EQ(w->await_stream(1, kWaitMs).status(), 200) << "the request never ended upstream";
  auto reqs = be_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "");
  EXPECT_EQ(reqs[0].trailers, (Fields{{"grpc-timeout", "1S"}}));
}

TEST_P(ProxyH2, TrailersAfterAContentLengthBodyAreDropped) {
  // With a content-length the upstream request is not chunked: no trailer section to carry
  // them; the request still ends.
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(
      w->send(h2::headers(1, post_block({{"content-length", "5"}}), h2::kEndHeaders) +
              h2::data(1, "hello", false) +
              h2::headers(1, h2::literal("x-checksum", "abc"), h2::kEndHeaders | h2::kEndStream)));
  EXPECT_EQ(w->await_stream(1, kWaitMs).status(), 200);
  auto reqs = be_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("content-length"), "5");
  EXPECT_EQ(reqs[0].body, "hello");
}

TEST_P(ProxyH2, FramingAndHopByHopTrailersAreNotForwarded) {
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(
      w->send(h2::headers(1, post_block(), h2::kEndHeaders) + h2::data(1, "x", false) +
              h2::headers(1,
                          h2::literal("host", "evil.example.com") +
                              h2::literal("x-forwarded-for", "10.9.9.9") + h2::literal("x-ok", "1"),
                          h2::kEndHeaders | h2::kEndStream)));
  EXPECT_EQ(w->await_stream(1, kWaitMs).status(), 200);
  auto reqs = be_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].trailers, (Fields{{"x-ok", "1"}}));
}

// ---- field rules (RFC 9113 8.2, 8.3): malformed requests are reset, never forwarded

TEST_P(ProxyH2, FieldValueWithLineBreakResetsTheStream) {
  // RFC 9113 8.2.1: a field value with CR, LF or NUL makes the request malformed.
  expect_stream_reset(h2::headers(1, get_block("/", {{"x-bad", "a\r\nx-injected: 1"}}),
                                  h2::kEndHeaders | h2::kEndStream),
                      kProtocolError);
}

TEST_P(ProxyH2, FieldValueWithEdgeWhitespaceResetsTheStream) {
  expect_stream_reset(
      h2::headers(1, get_block("/", {{"x-pad", " v"}}), h2::kEndHeaders | h2::kEndStream),
      kProtocolError);
}

TEST_P(ProxyH2, FieldNameWithSpaceResetsTheStream) {
  expect_stream_reset(
      h2::headers(1, get_block("/", {{"x bad", "v"}}), h2::kEndHeaders | h2::kEndStream),
      kProtocolError);
}

TEST_P(ProxyH2, UppercaseFieldNameResetsTheStream) {
  expect_stream_reset(
      h2::headers(1, get_block("/", {{"X-Upper", "v"}}), h2::kEndHeaders | h2::kEndStream),
      kProtocolError);
}

TEST_P(ProxyH2, ConnectionSpecificFieldsResetTheStream) {
  for (const auto& [n, v] : Fields{{"connection", "keep-alive"},
                                   {"keep-alive", "5"},
                                   {"proxy-connection", "x"},
                                   {"transfer-encoding", "chunked"},
                                   {"upgrade", "websocket"},
                                   {"te", "gzip"}}) {
    SCOPED_TRACE(n);
    auto w = open_started();
    ASSERT_TRUE(w);
    ASSERT_TRUE(
        w->send(h2::headers(1, get_block("/", {{n, v}}), h2::kEndHeaders | h2::kEndStream)));
    EXPECT_EQ(w->await_stream(1, kWaitMs).rst_code, kProtocolError);
  }
  EXPECT_EQ(be_.request_count(), 0u);
}

TEST_P(ProxyH2, TeTrailersIsAllowed) {
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->send(
      h2::headers(1, get_block("/", {{"te", "trailers"}}), h2::kEndHeaders | h2::kEndStream)));
  EXPECT_EQ(w->await_stream(1, kWaitMs).status(), 200);
}

TEST_P(ProxyH2, PseudoHeaderRulesResetTheStream) {
  std::string scheme = tls() ? "https" : "http";
  struct Case {
    const char* what;
    std::string block;
  };
  const Case cases[] = {
      {"no :path", h2::literal(":method", "GET") + h2::literal(":scheme", scheme) +
                       h2::literal(":authority", "a.example.com")},
      {"no :method", h2::literal(":scheme", scheme) + h2::literal(":authority", "a.example.com") +
                         h2::literal(":path", "/")},
      {"empty :path", h2::request_block("GET", "a.example.com", "", {}, scheme)},
      {"pseudo after regular",
       h2::request_block("GET", "", "/", {{"x-a", "1"}, {":authority", "a.example.com"}}, scheme)},
      {"unknown pseudo", get_block("/", {{":foo", "1"}})},
      {"duplicate :path", get_block("/", {{":path", "/again"}})},
      {"response pseudo in a request", get_block("/", {{":status", "200"}})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto w = open_started();
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->send(h2::headers(1, c.block, h2::kEndHeaders | h2::kEndStream)));
    EXPECT_EQ(w->await_stream(1, kWaitMs).rst_code, kProtocolError);
  }
  EXPECT_EQ(be_.request_count(), 0u);
}

TEST_P(ProxyH2, PseudoHeaderInTrailersResetsTheStream) {
  expect_stream_reset(
      h2::headers(1, post_block(), h2::kEndHeaders) + h2::data(1, "x", false) +
          h2::headers(1, h2::literal(":path", "/other"), h2::kEndHeaders | h2::kEndStream),
      kProtocolError);
}

TEST_P(ProxyH2, HostDifferentFromAuthorityResetsTheStream) {
  // RFC 9113 8.3.1: :authority names the target; a Host naming another one is malformed.
  expect_stream_reset(
      h2::headers(1, get_block("/", {{"host", "b.example.com"}}), h2::kEndHeaders | h2::kEndStream),
      kProtocolError);
}

TEST_P(ProxyH2, HostEqualToAuthorityAndHostAloneAreAccepted) {
  auto w = open_started();
  ASSERT_TRUE(w);
  std::string scheme = tls() ? "https" : "http";
  ASSERT_TRUE(w->send(
      h2::headers(1, get_block("/", {{"host", "A.example.com"}}),
                  h2::kEndHeaders | h2::kEndStream) +
      h2::headers(3, h2::request_block("GET", "", "/h", {{"host", "a.example.com"}}, scheme),
                  h2::kEndHeaders | h2::kEndStream)));
  EXPECT_EQ(w->await_stream(1, kWaitMs).status(), 200);
  EXPECT_EQ(w->await_stream(3, kWaitMs).status(), 200);
  auto reqs = be_.requests();
  ASSERT_EQ(reqs.size(), 2u);
  for (const auto& r : reqs) EXPECT_EQ(r.count("host"), 1);
}

TEST_P(ProxyH2, UserinfoInAuthorityResetsTheStream) {
  // RFC 9113 8.3.1: no userinfo in :authority for http and https URIs.
  expect_stream_reset(
      h2::headers(1,
                  h2::request_block("GET", "user@a.example.com", "/", {}, tls() ? "https" : "http"),
                  h2::kEndHeaders | h2::kEndStream),
      kProtocolError);
}

TEST_P(ProxyH2, CookieCrumbsReachHttp1AsOneField) {
  // RFC 9113 8.2.3: several cookie fields are joined with "; " before going to HTTP/1.1.
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->send(h2::headers(
      1, get_block("/", {{"cookie", "a=1"}, {"x-mid", "m"}, {"cookie", "b=2"}, {"cookie", "c=3"}}),
      h2::kEndHeaders | h2::kEndStream)));
  EXPECT_EQ(w->await_stream(1, kWaitMs).status(), 200);
  auto reqs = be_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].count("cookie"), 1);
  EXPECT_EQ(reqs[0].header("cookie"), "a=1; b=2; c=3");
  EXPECT_EQ(reqs[0].header("x-mid"), "m");
}

TEST_P(ProxyH2, HeadOverTheLimitsIsAnswered431Or414) {
  // As over HTTP/1.1: more fields or bytes than the limits allow are refused, never forwarded
  // with fields silently missing.
  Fields many;
  for (int i = 0; i < 120; ++i) many.emplace_back("x-f" + std::to_string(i), "v");
  Fields big;
  for (int i = 0; i < 40; ++i) big.emplace_back("x-b" + std::to_string(i), std::string(2000, 'b'));
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->send(h2::header_frames(1, get_block("/", many), true) +
                      h2::header_frames(3, get_block("/", big), true) +
                      h2::header_frames(5, get_block("/" + std::string(9000, 'p')), true)));
  h2::StreamResult r1 = w->await_stream(1, kWaitMs);
  EXPECT_EQ(r1.status(), 431);
  EXPECT_EQ(r1.header("server"), "kop");
  EXPECT_EQ(w->await_stream(3, kWaitMs).status(), 431);
  EXPECT_EQ(w->await_stream(5, kWaitMs).status(), 414);
  ASSERT_TRUE(w->send(h2::headers(7, get_block("/ok"), h2::kEndHeaders | h2::kEndStream)));
  EXPECT_EQ(w->await_stream(7, kWaitMs).status(), 200);
  auto reqs = be_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/ok");
}

TEST_P(ProxyH2, HeaderListLimitIsAdvertised) {
  auto w = open_started();
  ASSERT_TRUE(w);
  bool seen = false;
  while (auto f = w->read_frame(kWaitMs)) {
    if (f->type != h2::kSettings || (f->flags & h2::kAck)) continue;
    for (size_t i = 0; i + 6 <= f->payload.size(); i += 6) {
      auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(f->payload[k])); };
      if ((b(i) << 8 | b(i + 1)) == 0x6)  // SETTINGS_MAX_HEADER_LIST_SIZE
        seen = (b(i + 2) << 24 | b(i + 3) << 16 | b(i + 4) << 8 | b(i + 5)) == 65536;
    }
    break;
  }
  EXPECT_TRUE(seen);
}

TEST_P(ProxyH2, ContentLengthDifferentFromDataResetsTheStream) {
  // RFC 9113 8.1.1: content-length must equal the DATA payload sum.
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->send(h2::headers(1, post_block({{"content-length", "10"}}), h2::kEndHeaders) +
                      h2::data(1, "hello", true)));
  EXPECT_EQ(w->await_stream(1, kWaitMs).rst_code, kProtocolError);
  auto w2 = open_started();
  ASSERT_TRUE(w2);
  ASSERT_TRUE(w2->send(h2::headers(1, post_block({{"content-length", "2"}}), h2::kEndHeaders) +
                       h2::data(1, "hello", true)));
  EXPECT_EQ(w2->await_stream(1, kWaitMs).rst_code, kProtocolError);
}

// ---- frames and settings (RFC 9113 4-6): each a connection error with a GOAWAY

TEST_P(ProxyH2, FrameLargerThanMaxFrameSizeIsAFrameSizeError) {
  expect_goaway(
      h2::headers(1, post_block(), h2::kEndHeaders) + h2::data(1, std::string(16385, 'x'), true),
      kFrameSizeError);
}

TEST_P(ProxyH2, BadSettingsValuesAreConnectionErrors) {
  expect_goaway(h2::settings({{0x2, 2}}), kProtocolError);               // ENABLE_PUSH 2
  expect_goaway(h2::settings({{0x4, 0x80000000u}}), kFlowControlError);  // INITIAL_WINDOW_SIZE
  expect_goaway(h2::settings({{0x5, 16383}}), kProtocolError);           // MAX_FRAME_SIZE low
  expect_goaway(h2::settings({{0x5, 1u << 24}}), kProtocolError);        // MAX_FRAME_SIZE high
}

TEST_P(ProxyH2, SettingsWithBadLengthIsAFrameSizeError) {
  expect_goaway(h2::frame(h2::kSettings, 0, 0, "12345"), kFrameSizeError);
  expect_goaway(h2::frame(h2::kSettings, h2::kAck, 0, "123456"), kFrameSizeError);
}

TEST_P(ProxyH2, StreamZeroAndEvenStreamIdsAreProtocolErrors) {
  expect_goaway(h2::data(0, "x", false), kProtocolError);
  expect_goaway(h2::headers(0, get_block(), h2::kEndHeaders | h2::kEndStream), kProtocolError);
  expect_goaway(h2::headers(2, get_block(), h2::kEndHeaders | h2::kEndStream), kProtocolError);
  expect_goaway(h2::frame(h2::kSettings, 0, 1, ""), kProtocolError);
}

TEST_P(ProxyH2, DataOrWindowUpdateOnAnIdleStreamIsAProtocolError) {
  expect_goaway(h2::data(1, "x", true), kProtocolError);
  expect_goaway(h2::window_update(1, 100), kProtocolError);
}

TEST_P(ProxyH2, ConnectAndAsteriskFormAreRefused) {
  // RFC 9113 8.5: CONNECT carries only :method and :authority. kop does not tunnel over
  // HTTP/2, nor serve OPTIONS *: REFUSED_STREAM, nothing forwarded.
  std::string scheme = tls() ? "https" : "http";
  for (const std::string& block :
       {h2::literal(":method", "CONNECT") + h2::literal(":authority", "a.example.com:443"),
        h2::request_block("OPTIONS", "a.example.com", "*", {}, scheme)}) {
    auto w = open_started();
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->send(h2::headers(1, block, h2::kEndHeaders)));
    EXPECT_EQ(w->await_stream(1, kWaitMs).rst_code, 0x7);  // REFUSED_STREAM
  }
  EXPECT_EQ(be_.request_count(), 0u);
}

TEST_P(ProxyH2, InterruptedHeaderBlockIsAProtocolError) {
  // RFC 9113 6.10: after HEADERS without END_HEADERS only CONTINUATION of that stream may come.
  expect_goaway(h2::headers(1, get_block(), h2::kEndStream) + h2::ping(), kProtocolError);
}

TEST_P(ProxyH2, HeaderBlockSplitOverContinuationIsAccepted) {
  auto w = open_started();
  ASSERT_TRUE(w);
  std::string block = get_block("/split");
  ASSERT_TRUE(w->send(h2::headers(1, block.substr(0, 7), h2::kEndStream) +
                      h2::frame(h2::kContinuation, 0, 1, block.substr(7, 9)) +
                      h2::frame(h2::kContinuation, h2::kEndHeaders, 1, block.substr(16))));
  EXPECT_EQ(w->await_stream(1, kWaitMs).status(), 200);
}

TEST_P(ProxyH2, HpackErrorsAreCompressionErrors) {
  // RFC 7541 2.3.3 / 4.2 / 6.3: index 0, an index past the tables, a table size update above
  // the 4096 the settings allow: each a connection error COMPRESSION_ERROR.
  expect_goaway(h2::headers(1, std::string("\x80", 1), h2::kEndHeaders | h2::kEndStream),
                kCompressionError);
  expect_goaway(h2::headers(1, std::string("\xff\x80\x01", 3), h2::kEndHeaders | h2::kEndStream),
                kCompressionError);
  expect_goaway(h2::headers(1, std::string("\x3f\xe2\x1f", 3) + get_block(),
                            h2::kEndHeaders | h2::kEndStream),
                kCompressionError);
  // A table size update must open the block (RFC 7541 4.2).
  expect_goaway(
      h2::headers(1, get_block() + std::string("\x20", 1), h2::kEndHeaders | h2::kEndStream),
      kCompressionError);
}

TEST_P(ProxyH2, PingIsAcknowledgedWithItsPayload) {
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->send(h2::ping("abcdefgh")));
  bool acked = false;
  while (auto f = w->read_frame(kWaitMs)) {
    if (f->type == h2::kPing) {
      acked = (f->flags & h2::kAck) && f->payload == "abcdefgh";
      break;
    }
  }
  EXPECT_TRUE(acked);
}

TEST_P(ProxyH2, StreamsBeyondTheConcurrencyLimitAreRefused) {
  // RFC 9113 5.1.2: past SETTINGS_MAX_CONCURRENT_STREAMS, RST_STREAM REFUSED_STREAM; the open
  // stream is not disturbed. (Sent before the client acknowledged the server's SETTINGS: once
  // it has, nghttp2 makes the same excess a connection error PROTOCOL_ERROR.)
  restart("\"http2_max_concurrent_streams\":1");
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->send(h2::headers(1, post_block(), h2::kEndHeaders) +
                      h2::headers(3, get_block(), h2::kEndHeaders | h2::kEndStream)));
  EXPECT_EQ(w->await_stream(3, kWaitMs).rst_code, 0x7);  // REFUSED_STREAM
  ASSERT_TRUE(w->send(h2::data(1, "done", true)));
  EXPECT_EQ(w->await_stream(1, kWaitMs).status(), 200);
}

TEST_P(ProxyH2, ResponseCarriesNoConnectionSpecificFields) {
  // RFC 9113 8.2.2: the upstream's connection-specific fields, and those its Connection header
  // names (RFC 9110 7.6.1), never reach the HTTP/2 client.
  be_.set_handler([](const BackendRequest&) {
    BackendResponse r;
    r.headers = {{"Connection", "keep-alive, X-Hop"},
                 {"Keep-Alive", "timeout=5"},
                 {"X-Hop", "secret"},
                 {"X-App", "1"}};
    r.body = "chunked body";
    r.chunked = true;
    return r;
  });
  auto w = open_started();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->send(h2::headers(1, get_block(), h2::kEndHeaders | h2::kEndStream)));
  h2::StreamResult r = w->await_stream(1, kWaitMs);
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.body, "chunked body");
  EXPECT_EQ(r.header("x-app"), "1");
  for (const char* n : {"connection", "keep-alive", "transfer-encoding", "upgrade", "x-hop"})
    EXPECT_EQ(r.count(n), 0) << n;
  for (const auto& [n, v] : r.headers)
    for (char c : n) EXPECT_FALSE(c >= 'A' && c <= 'Z') << n;
}

}  // namespace
}  // namespace kop::proxy::e2e
