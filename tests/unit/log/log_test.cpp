#include "kop/log/log.h"
#include "kop/log/quote.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<int> g_formatted{0};
struct Counted {};

}  // namespace

template <>
struct fmt::formatter<Counted> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const Counted&, Ctx& ctx) const {
    g_formatted.fetch_add(1);
    return fmt::formatter<std::string_view>::format("counted", ctx);
  }
};

namespace kop::log {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class LogTest : public ::testing::Test {
 protected:
  void use(Format format, Level level = Level::kInfo) {
    sink_ = std::make_shared<MemorySink>();
    configure(Options{.level = level, .format = format, .sink = sink_, .timestamps = false});
  }
  void TearDown() override { configure(Options{}); }
  std::shared_ptr<MemorySink> sink_;
};

TEST_F(LogTest, TextLineHasLevelLoggerMessageAndValues) {
  use(Format::kText);
  Logger log = named("controller").with_values("kind", "Ingress");
  log.info("reconciled", "name", "web", "attempt", 3, "ok", true, "ratio", 0.5);
  EXPECT_THAT(sink_->lines(),
              ElementsAre("level=info logger=controller msg=\"reconciled\" kind=Ingress name=web "
                          "attempt=3 ok=true ratio=0.5"));
}

TEST_F(LogTest, NamesNestWithDots) {
  use(Format::kText);
  named("controller").with_name("ingress").warn("slow");
  root().error("bad");
  EXPECT_THAT(sink_->lines(), ElementsAre("level=warn logger=controller.ingress msg=\"slow\"",
                                          "level=error msg=\"bad\""));
}

TEST_F(LogTest, JsonLine) {
  use(Format::kJson);
  named("mgr")
      .with_values("kind", "Ingress")
      .info("started", "workers", 2, "leader", false, "lag", std::chrono::milliseconds(1500));
  EXPECT_THAT(sink_->lines(),
              ElementsAre("{\"level\":\"info\",\"logger\":\"mgr\",\"msg\":\"started\","
                          "\"kind\":\"Ingress\",\"workers\":2,\"leader\":false,\"lag\":1.5}"));
}

TEST_F(LogTest, JsonEscapesQuotesControlsAndInvalidUtf8) {
  use(Format::kJson);
  root().info("a \"quoted\"\nline", "path", "C:\\x\t\x01", "bytes", std::string("ok\xff\xc3\xa9"),
              "nan", std::numeric_limits<double>::quiet_NaN());
  EXPECT_THAT(sink_->lines(),
              ElementsAre("{\"level\":\"info\",\"msg\":\"a \\\"quoted\\\"\\nline\","
                          "\"path\":\"C:\\\\x\\t\\u0001\",\"bytes\":\"ok\\ufffd\xc3\xa9\","
                          "\"nan\":\"NaN\"}"));
}

TEST_F(LogTest, TextQuotesOnlyWhenNeeded) {
  use(Format::kText);
  root().info("m", "plain", "abc/def:1", "space", "a b", "eq", "a=b", "empty", "", "nl", "x\ny",
              "bad", std::string("\xff"), "utf8", "h\xc3\xa9", "bad key", 1);
  EXPECT_THAT(sink_->lines(),
              ElementsAre("level=info msg=\"m\" plain=abc/def:1 space=\"a b\" eq=\"a=b\" "
                          "empty=\"\" nl=\"x\\ny\" bad=\"\\xff\" utf8=h\xc3\xa9 bad_key=1"));
}

TEST_F(LogTest, EveryRecordIsOneLine) {
  use(Format::kText);
  root().info("multi\nline\r\nmessage", "v", "a\nb");
  ASSERT_EQ(sink_->lines().size(), 1u);
  EXPECT_EQ(sink_->lines()[0].find('\n'), std::string::npos);
}

TEST_F(LogTest, StatusGoesUnderError) {
  use(Format::kText);
  root().error(absl::NotFoundError("no such secret"), "sync failed", "name", "x");
  EXPECT_THAT(sink_->lines(), ElementsAre("level=error msg=\"sync failed\" "
                                          "error=\"NOT_FOUND: no such secret\" name=x"));
}

// An API error reads "Reason: message" (issue 16): the Status payload kop::client attaches is
// not printed (it was, escaped, after the message).
TEST_F(LogTest, ApiErrorsReadReasonAndMessage) {
  use(Format::kText);
  absl::Status st = absl::NotFoundError("namespaces \"later\" not found");
  st.SetPayload("kop.dev/k8s.io.apimachinery.meta.v1.Status",
                absl::Cord(R"({"kind":"Status","apiVersion":"v1","metadata":{},)"
                           R"("status":"Failure","message":"namespaces \"later\" not found",)"
                           R"("reason":"NotFound","details":{"name":"later","kind":"namespaces"},)"
                           R"("code":404})"));
  EXPECT_EQ(status_text(st), "NotFound: namespaces \"later\" not found");
  root().error(st, "create failed");
  EXPECT_THAT(sink_->lines(),
              ElementsAre("level=error msg=\"create failed\" "
                          "error=\"NotFound: namespaces \\\"later\\\" not found\""));
  // Other payloads are not printed either; without a Status the code names the error.
  absl::Status other = absl::UnavailableError("connection refused");
  other.SetPayload("example.com/trace", absl::Cord("{\"kind\":\"Trace\"}"));
  EXPECT_EQ(status_text(other), "UNAVAILABLE: connection refused");
  EXPECT_EQ(status_text(absl::OkStatus()), "OK");
}

TEST_F(LogTest, DisabledLevelsWriteAndFormatNothing) {
  use(Format::kText, Level::kInfo);
  g_formatted = 0;
  Logger log = named("x");
  log.debug("hidden", "v", Counted{});
  log.trace("hidden", "v", Counted{});
  EXPECT_EQ(g_formatted.load(), 0);
  EXPECT_TRUE(sink_->lines().empty());
  log.info("shown", "v", Counted{});
  EXPECT_EQ(g_formatted.load(), 1);
  EXPECT_THAT(sink_->lines(), ElementsAre("level=info logger=x msg=\"shown\" v=counted"));

  set_level(Level::kError);
  log.warn("hidden");
  log.error("shown");
  EXPECT_EQ(sink_->lines().size(), 2u);
  set_level(Level::kTrace);
  log.trace("shown");
  EXPECT_EQ(sink_->lines().size(), 3u);
}

TEST_F(LogTest, MacroDoesNotEvaluateArgumentsWhenDisabled) {
  use(Format::kText, Level::kInfo);
  int evaluated = 0;
  auto expensive = [&] {
    ++evaluated;
    return 42;
  };
  Logger log = root();
  KOP_LOG(log, kDebug, "hidden", "v", expensive());
  EXPECT_EQ(evaluated, 0);
  KOP_LOG(log, kInfo, "shown", "v", expensive());
  EXPECT_EQ(evaluated, 1);
  EXPECT_THAT(sink_->lines(), ElementsAre("level=info msg=\"shown\" v=42"));
}

TEST_F(LogTest, CredentialsAreRedacted) {
  use(Format::kText);
  root()
      .with_values("Authorization", "Bearer abc")
      .info("call", "token", "s3cr3t", "db_password", "pw", "tls.key", "PEM", "data",
            redacted(std::string("x")), "secret", "default/web-tls");
  std::string line = sink_->lines().at(0);
  EXPECT_EQ(line.find("abc"), std::string::npos);
  EXPECT_EQ(line.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(line.find("=pw"), std::string::npos);
  EXPECT_EQ(line.find("PEM"), std::string::npos);
  EXPECT_THAT(line, HasSubstr("token=[redacted]"));
  EXPECT_THAT(line, HasSubstr("data=[redacted]"));
  // A Secret's name is not a credential.
  EXPECT_THAT(line, HasSubstr("secret=default/web-tls"));
  EXPECT_TRUE(is_sensitive_key("ACCESS_TOKEN"));
  EXPECT_FALSE(is_sensitive_key("kind"));
}

TEST_F(LogTest, ParseLevel) {
  Level l;
  ASSERT_TRUE(parse_level("DEBUG", &l));
  EXPECT_EQ(l, Level::kDebug);
  ASSERT_TRUE(parse_level("warning", &l));
  EXPECT_EQ(l, Level::kWarn);
  ASSERT_TRUE(parse_level("0", &l));
  EXPECT_EQ(l, Level::kInfo);
  ASSERT_TRUE(parse_level("5", &l));
  EXPECT_EQ(l, Level::kTrace);
  EXPECT_FALSE(parse_level("loud", &l));
}

TEST_F(LogTest, TimestampIsRfc3339Utc) {
  sink_ = std::make_shared<MemorySink>();
  configure(Options{.sink = sink_});
  root().info("t");
  EXPECT_THAT(sink_->lines().at(0),
              ::testing::MatchesRegex("ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                      "\\.[0-9]{6}Z level=info msg=\"t\""));
}

// Many threads through the real fd sink: every line in the file is a whole record.
TEST_F(LogTest, ConcurrentRecordsStayWholeLines) {
  char path[] = "/tmp/kop-log-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  configure(Options{.format = Format::kJson, .sink = std::make_shared<FdSink>(fd)});
  constexpr int kThreads = 8, kRecords = 2000;
  std::string padding(300, 'p');
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Logger log = named("worker").with_values("thread", t);
      for (int i = 0; i < kRecords; ++i) log.info("record", "i", i, "pad", padding);
    });
  }
  for (auto& th : threads) th.join();
  configure(Options{});
  std::ifstream in(path);
  std::string line;
  int count = 0;
  std::string tail = ",\"pad\":\"" + padding + "\"}";
  while (std::getline(in, line)) {
    ++count;
    ASSERT_EQ(line.rfind("{\"ts\":\"", 0), 0u) << line;
    ASSERT_TRUE(line.size() > tail.size() &&
                line.compare(line.size() - tail.size(), tail.size(), tail) == 0)
        << line;
  }
  EXPECT_EQ(count, kThreads * kRecords);
  close(fd);
  unlink(path);
}

// libkop's one quoting function for messages: Go's %q for ASCII (the API server's messages),
// always one line, UTF-8 kept, bad bytes visible.
TEST(QuoteTest, QuotesAsGoDoes) {
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote("web"), "\"web\"");
  EXPECT_EQ(quote("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
  EXPECT_EQ(quote("a\nb\r\tc"), "\"a\\nb\\r\\tc\"");
  EXPECT_EQ(quote("\a\b\f\v"), "\"\\a\\b\\f\\v\"");
  EXPECT_EQ(quote(std::string("\x01\x1b\x7f\0", 4)), "\"\\x01\\x1b\\x7f\\x00\"");
  EXPECT_EQ(quote("h\xc3\xa9llo \xf0\x9f\x98\x80"), "\"h\xc3\xa9llo \xf0\x9f\x98\x80\"");
  EXPECT_EQ(quote("ok\xff\xc3"), "\"ok\\xff\\xc3\"");
}

TEST_F(LogTest, TextNamesGoEscapes) {
  use(Format::kText);
  root().info("m", "bell", "a\ab\vc");
  EXPECT_THAT(sink_->lines(), ElementsAre("level=info msg=\"m\" bell=\"a\\ab\\vc\""));
}

}  // namespace
}  // namespace kop::log
