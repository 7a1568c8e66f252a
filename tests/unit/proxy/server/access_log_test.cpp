// AccessLog: the one formatter of access-log lines (HTTP/1.x, HTTP/2, TCP relays), JSON and
// text, and its buffer between the worker and the logger thread.
#include "access_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace kop::proxy::server {
namespace {

HttpAccess request() {
  HttpAccess a;
  a.protocol = HttpProtocol::kHttp11;
  a.client = "10.0.0.7";
  a.method = "GET";
  a.path = "/a?b=1";
  a.host = "example.com";
  a.status = 200;
  a.duration_ms = 12;
  a.upstream = "10.1.0.2:8080";
  a.upstream_ms = 9;
  a.vhost = "web";
  a.route = "root";
  a.tls = true;
  return a;
}

// The line without its leading wall-clock field, which changes between runs.
std::string without_time(const std::string& line) {
  size_t at = line.find(",\"");
  return at == std::string::npos ? line : "{" + line.substr(at + 1);
}

TEST(AccessLogTest, HttpJsonLineHasEveryField) {
  std::string out;
  AccessLog::format(AccessLogFormat::kJson, request(), out);
  ASSERT_EQ(out.rfind("{\"time_ms\":", 0), 0u) << out;
  EXPECT_EQ(without_time(out),
            "{\"protocol\":\"http/1.1\",\"client\":\"10.0.0.7\",\"method\":\"GET\","
            "\"path\":\"/a?b=1\",\"host\":\"example.com\",\"status\":200,\"duration_ms\":12,"
            "\"upstream\":\"10.1.0.2:8080\",\"upstream_ms\":9,\"vhost\":\"web\","
            "\"route\":\"root\",\"tls\":true}\n");
}

TEST(AccessLogTest, Http2AndHttp10AreNamedAsAlpnInJsonAndAsARequestLineInText) {
  HttpAccess a = request();
  a.protocol = HttpProtocol::kHttp2;
  std::string json, text;
  AccessLog::format(AccessLogFormat::kJson, a, json);
  AccessLog::format(AccessLogFormat::kText, a, text);
  EXPECT_NE(json.find("\"protocol\":\"h2\""), std::string::npos) << json;
  EXPECT_NE(text.find("\"GET /a?b=1 HTTP/2\""), std::string::npos) << text;
  a.protocol = HttpProtocol::kHttp10;
  json.clear();
  text.clear();
  AccessLog::format(AccessLogFormat::kJson, a, json);
  AccessLog::format(AccessLogFormat::kText, a, text);
  EXPECT_NE(json.find("\"protocol\":\"http/1.0\""), std::string::npos) << json;
  EXPECT_NE(text.find("\"GET /a?b=1 HTTP/1.0\""), std::string::npos) << text;
}

TEST(AccessLogTest, JsonEscapesQuotesAndBackslashesAndDropsControlCharacters) {
  HttpAccess a = request();
  a.path = "/q\"x\\y\x01z";
  a.host = "h\n";
  std::string out;
  AccessLog::format(AccessLogFormat::kJson, a, out);
  EXPECT_NE(out.find("\"path\":\"/q\\\"x\\\\yz\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"host\":\"h\""), std::string::npos) << out;
}

TEST(AccessLogTest, TextLineMarksWhatIsMissingWithADash) {
  HttpAccess a = request();
  a.upstream = {};
  a.vhost = {};
  a.route = {};
  a.status = 404;
  std::string out;
  AccessLog::format(AccessLogFormat::kText, a, out);
  EXPECT_EQ(out,
            "10.0.0.7 \"GET /a?b=1 HTTP/1.1\" host=example.com status=404 duration_ms=12 "
            "upstream=- upstream_ms=9 vhost=- route=-\n");
}

TEST(AccessLogTest, RelayLines) {
  RelayAccess a;
  a.client = "10.0.0.7";
  a.sni = "db.example.com";
  a.passthrough = true;
  a.cluster = "db";
  a.upstream = "10.1.0.3:5432";
  a.bytes_up = 100;
  a.bytes_down = 2000;
  a.duration_ms = 40;
  a.end = "done";
  std::string json, text;
  AccessLog::format(AccessLogFormat::kJson, a, json);
  AccessLog::format(AccessLogFormat::kText, a, text);
  EXPECT_EQ(without_time(json),
            "{\"client\":\"10.0.0.7\",\"sni\":\"db.example.com\",\"passthrough\":true,"
            "\"cluster\":\"db\",\"upstream\":\"10.1.0.3:5432\",\"bytes_up\":100,"
            "\"bytes_down\":2000,\"duration_ms\":40,\"end\":\"done\",\"tls\":true}\n");
  EXPECT_EQ(text,
            "10.0.0.7 \"TCP passthrough\" sni=db.example.com cluster=db upstream=10.1.0.3:5432 "
            "bytes_up=100 bytes_down=2000 duration_ms=40 end=\"done\"\n");
  a.passthrough = false;
  a.upstream = {};
  text.clear();
  AccessLog::format(AccessLogFormat::kText, a, text);
  EXPECT_EQ(text.rfind("10.0.0.7 \"TCP proxy\" sni=db.example.com cluster=db upstream=- ", 0), 0u)
      << text;
}

TEST(AccessLogTest, WritesOnlyWhenOnAndTakeEmptiesTheBuffer) {
  AccessLog log;
  EXPECT_FALSE(log.on());
  log.write(request());
  EXPECT_EQ(log.take(), "");
  log.set_format(AccessLogFormat::kText);
  log.write(request());
  log.write(request());
  std::string lines = log.take();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 2) << lines;
  EXPECT_EQ(log.take(), "");
}

}  // namespace
}  // namespace kop::proxy::server
