// The ClientHello reader: real hellos made by OpenSSL (with and without SNI, TLS 1.2 and 1.3),
// every split point answers kNeedMore then kDone, multi-record hellos, and strict rejection of
// malformed input (lengths, types, duplicates, bad names, sizes).
#include "client_hello.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <string>

#include "../../../common/tls_hello.h"

namespace kop::proxy::server::hello {
namespace {

using kop::testing::openssl_client_hello;
using kop::testing::reframe_records;

// A hand-built hello: `extensions` is the raw extensions block content (without its length).
std::string build_hello(const std::string& extensions, bool with_extensions = true) {
  std::string body;
  body += std::string("\x03\x03", 2);
  body += std::string(32, 'r');
  body += std::string("\x00", 1);              // session id
  body += std::string("\x00\x02\x13\x01", 4);  // one cipher suite
  body += std::string("\x01\x00", 2);          // null compression
  if (with_extensions) {
    body.push_back(static_cast<char>(extensions.size() >> 8));
    body.push_back(static_cast<char>(extensions.size() & 0xff));
    body += extensions;
  }
  std::string hs;
  hs.push_back(1);
  hs.push_back(static_cast<char>(body.size() >> 16));
  hs.push_back(static_cast<char>((body.size() >> 8) & 0xff));
  hs.push_back(static_cast<char>(body.size() & 0xff));
  hs += body;
  std::string rec = std::string("\x16\x03\x01", 3);
  rec.push_back(static_cast<char>(hs.size() >> 8));
  rec.push_back(static_cast<char>(hs.size() & 0xff));
  return rec + hs;
}

std::string ext(uint16_t type, const std::string& data) {
  std::string e;
  e.push_back(static_cast<char>(type >> 8));
  e.push_back(static_cast<char>(type & 0xff));
  e.push_back(static_cast<char>(data.size() >> 8));
  e.push_back(static_cast<char>(data.size() & 0xff));
  return e + data;
}

std::string sni_ext(const std::string& name, int list_delta = 0, int name_delta = 0) {
  std::string entry;
  entry.push_back(0);
  entry.push_back(static_cast<char>((name.size() + name_delta) >> 8));
  entry.push_back(static_cast<char>((name.size() + name_delta) & 0xff));
  entry += name;
  std::string list;
  list.push_back(static_cast<char>((entry.size() + list_delta) >> 8));
  list.push_back(static_cast<char>((entry.size() + list_delta) & 0xff));
  return ext(0, list + entry);
}

TEST(ClientHello, RealHellosYieldTheSni) {
  for (int v : {0, TLS1_2_VERSION}) {
    std::string h = openssl_client_hello("Db.Example.COM", v);
    Result r = parse(h);
    EXPECT_EQ(r.status, Status::kDone) << r.error;
    EXPECT_EQ(r.sni, "db.example.com");
  }
  Result none = parse(openssl_client_hello(""));
  EXPECT_EQ(none.status, Status::kDone);
  EXPECT_EQ(none.sni, "");
  // Bytes after the hello (the client's next flight) do not matter.
  EXPECT_EQ(parse(openssl_client_hello("a.b") + "\x14\x03\x03\x00\x01\x01").status, Status::kDone);
}

TEST(ClientHello, EveryPrefixNeedsMoreAndSplitRecordsWork) {
  std::string h = openssl_client_hello("split.example.com");
  for (size_t n = 0; n < h.size(); ++n) {
    Result r = parse(std::string_view(h).substr(0, n));
    ASSERT_EQ(r.status, Status::kNeedMore) << "prefix " << n << ": " << r.error;
  }
  for (size_t size : {1u, 7u, 100u, 512u}) {
    std::string m = reframe_records(h, size);
    if (size < 8) {
      // More than 64 records: refused (bounded work), which real clients never send.
      if ((h.size() - 5 + size - 1) / size > 64) {
        EXPECT_EQ(parse(m).status, Status::kInvalid) << size;
        continue;
      }
    }
    Result r = parse(m);
    EXPECT_EQ(r.status, Status::kDone) << size << " " << r.error;
    EXPECT_EQ(r.sni, "split.example.com");
    for (size_t n = 0; n < m.size(); n += 3)
      ASSERT_EQ(parse(std::string_view(m).substr(0, n)).status, Status::kNeedMore) << n;
  }
}

TEST(ClientHello, HandBuiltHellos) {
  Result ok = parse(build_hello(ext(10, "\x00\x02\x00\x17") + sni_ext("x.example.com.")));
  EXPECT_EQ(ok.status, Status::kDone) << ok.error;
  EXPECT_EQ(ok.sni, "x.example.com");
  Result no_ext = parse(build_hello("", false));
  EXPECT_EQ(no_ext.status, Status::kDone);
  EXPECT_EQ(no_ext.sni, "");
}

TEST(ClientHello, MalformedInputIsRefused) {
  auto invalid = [](const std::string& bytes) {
    Result r = parse(bytes);
    return r.status == Status::kInvalid;
  };
  EXPECT_TRUE(invalid("GET / HTTP/1.1\r\n"));
  EXPECT_TRUE(invalid("\x16\x02"));                                  // record version
  EXPECT_TRUE(invalid(std::string("\x16\x03\x01\x00\x00", 5)));      // empty record
  EXPECT_TRUE(invalid(std::string("\x16\x03\x01\x40\x01", 5)));      // record > 2^14
  EXPECT_TRUE(invalid(std::string("\x16\x03\x01\x00\x04\x02", 6)));  // not a ClientHello
  EXPECT_TRUE(invalid(std::string("\x16\x03\x01\x00\x04\x01\x01\x00\x00", 9)));  // > 16 KiB
  std::string h = build_hello(sni_ext("a.example.com"));
  // Handshake length shorter than the body: the extensions block overruns.
  std::string shorter = h;
  shorter[8] = static_cast<char>(shorter[8] - 1);
  shorter[4] = static_cast<char>(shorter[4] - 1);
  shorter.pop_back();
  EXPECT_TRUE(invalid(shorter));
  EXPECT_TRUE(invalid(build_hello(sni_ext("a.example.com", 1))));      // list length
  EXPECT_TRUE(invalid(build_hello(sni_ext("a.example.com", 0, 5))));   // name length
  EXPECT_TRUE(invalid(build_hello(sni_ext("a..example.com"))));        // empty label
  EXPECT_TRUE(invalid(build_hello(sni_ext("a.exa/mple.com"))));        // bad byte
  EXPECT_TRUE(invalid(build_hello(sni_ext(std::string("a\0b", 3)))));  // NUL
  EXPECT_TRUE(invalid(build_hello(sni_ext(""))));
  EXPECT_TRUE(invalid(build_hello(sni_ext(std::string(64, 'a') + ".com"))));  // label > 63
  EXPECT_TRUE(invalid(build_hello(sni_ext("a.b") + sni_ext("c.d"))));         // duplicate extension
  EXPECT_TRUE(invalid(build_hello(ext(5, "") + ext(5, ""))));                 // duplicate extension
  std::string trailing = build_hello(ext(10, "ab"));
  trailing[trailing.size() - 3] = 9;  // extension length beyond the block
  EXPECT_TRUE(invalid(trailing));
  // A session id longer than 32.
  std::string sid = build_hello("", false);
  sid[5 + 4 + 34] = 33;
  EXPECT_TRUE(invalid(sid));
}

TEST(ClientHello, ServerNameExtensionAlone) {
  std::string sni;
  std::string e = sni_ext("Host.Example").substr(4);
  EXPECT_TRUE(parse_server_name(e, &sni));
  EXPECT_EQ(sni, "host.example");
  EXPECT_FALSE(parse_server_name("", &sni));
  EXPECT_FALSE(parse_server_name(std::string("\x00\x01", 2), &sni));
}

}  // namespace
}  // namespace kop::proxy::server::hello
