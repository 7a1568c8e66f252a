// kop::flags: the forms every kop program accepts, the errors it gives and its --help text.
#include "kop/flags/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Args {
  std::vector<std::string> words;
  std::vector<const char*> argv() const {
    std::vector<const char*> v{"prog"};
    for (const std::string& w : words) v.push_back(w.c_str());
    return v;
  }
};

struct Parsed {
  std::string config;
  uint32_t workers = 7;
  bool verbose = false;
  kop::flags::FlagSet set{"prog", "prog --config FILE [--workers N]", "Does things."};
  Parsed() {
    set.add_string("config", "FILE", "the config file", &config);
    set.alias("-c", "config");
    set.add_uint32("workers", "N", "worker threads (default 7)", &workers);
    set.add_bool("verbose", "say more", &verbose);
  }
  absl::StatusOr<std::vector<std::string>> parse(std::vector<std::string> words) {
    Args a{std::move(words)};
    std::vector<const char*> v = a.argv();
    return set.parse(static_cast<int>(v.size()), v.data());
  }
};

TEST(FlagSet, ValuesWithEqualsOrAsTheNextWord) {
  Parsed p;
  auto rest = p.parse({"--config=a.json", "--workers", "3"});
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(p.config, "a.json");
  EXPECT_EQ(p.workers, 3u);
  EXPECT_TRUE(rest->empty());
  Parsed q;
  ASSERT_TRUE(q.parse({"--config", "b.json", "--workers=0"}).ok());
  EXPECT_EQ(q.config, "b.json");
  EXPECT_EQ(q.workers, 0u);
}

TEST(FlagSet, AnEmptyValueIsAValue) {
  Parsed p;
  p.config = "default";
  ASSERT_TRUE(p.parse({"--config="}).ok());
  EXPECT_EQ(p.config, "");
}

TEST(FlagSet, SwitchesTakeNoWordButMayTakeEquals) {
  Parsed p;
  auto rest = p.parse({"--verbose", "file"});
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(p.verbose);
  EXPECT_THAT(*rest, ElementsAre("file"));
  ASSERT_TRUE(p.parse({"--verbose=false"}).ok());
  EXPECT_FALSE(p.verbose);
  ASSERT_TRUE(p.parse({"--verbose=yes"}).ok());
  EXPECT_TRUE(p.verbose);
  auto bad = p.parse({"--verbose=maybe"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--verbose: takes true or false: \"maybe\"");
}

TEST(FlagSet, AliasesSetTheSameFlag) {
  Parsed p;
  ASSERT_TRUE(p.parse({"-c", "x.json"}).ok());
  EXPECT_EQ(p.config, "x.json");
  ASSERT_TRUE(p.parse({"-c=y.json"}).ok());
  EXPECT_EQ(p.config, "y.json");
}

TEST(FlagSet, PositionalArgumentsInOrderAndAfterDoubleDash) {
  Parsed p;
  auto rest = p.parse({"run", "--workers=2", "x", "--", "--config", "-"});
  ASSERT_TRUE(rest.ok());
  EXPECT_THAT(*rest, ElementsAre("run", "x", "--config", "-"));
  EXPECT_EQ(p.config, "");
}

TEST(FlagSet, ErrorsNameTheFlag) {
  Parsed p;
  auto unknown = p.parse({"--bogus=1"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "unknown flag --bogus");
  auto missing = p.parse({"--config"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "--config needs a value");
  auto bad = p.parse({"--workers", "-1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--workers: not an integer from 0 to 4294967295: \"-1\"");
  EXPECT_FALSE(p.parse({"--workers=4294967296"}).ok());
  EXPECT_FALSE(p.parse({"--workers=3x"}).ok());
  EXPECT_FALSE(p.parse({"-x"}).ok());
  EXPECT_FALSE(p.parse({"--config-file=a"}).ok());  // no prefix matching
}

TEST(FlagSet, HelpStopsParsing) {
  Parsed p;
  auto rest = p.parse({"--workers=1", "-h", "--bogus"});
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(p.set.help_requested());
  ASSERT_TRUE(p.parse({"--help"}).ok());
  EXPECT_TRUE(p.set.help_requested());
  ASSERT_TRUE(p.parse({}).ok());
  EXPECT_FALSE(p.set.help_requested());
}

TEST(FlagSet, HelpListsEveryFlagAligned) {
  Parsed p;
  EXPECT_EQ(p.set.help(),
            "usage: prog --config FILE [--workers N]\n"
            "\n"
            "Does things.\n"
            "\n"
            "flags:\n"
            "  -c, --config FILE            the config file\n"
            "  --workers N                  worker threads (default 7)\n"
            "  --verbose[=true|false]       say more\n"
            "  -h, --help                   this text\n");
}

TEST(FlagSet, LongHelpWrapsUnderItsColumn) {
  kop::flags::FlagSet set("prog", "prog");
  std::string v;
  set.add_string("a-rather-long-flag-name", "HOST:PORT",
                 "first line\nsecond line, long enough that it must wrap once it passes the "
                 "hundredth column of the terminal",
                 &v);
  EXPECT_EQ(set.help(),
            "usage: prog\n"
            "\n"
            "flags:\n"
            "  --a-rather-long-flag-name HOST:PORT\n"
            "                               first line\n"
            "                               second line, long enough that it must wrap once it "
            "passes the\n"
            "                               hundredth column of the terminal\n"
            "  -h, --help                   this text\n");
}

TEST(FlagSet, RunReportsExitStatuses) {
  Parsed p;
  Args bad{{"--bogus"}};
  auto v = bad.argv();
  EXPECT_EQ(p.set.run(static_cast<int>(v.size()), v.data()), 2);
  Args extra{{"stray"}};
  v = extra.argv();
  EXPECT_EQ(p.set.run(static_cast<int>(v.size()), v.data()), 2);
  std::vector<std::string> positional;
  EXPECT_EQ(p.set.run(static_cast<int>(v.size()), v.data(), &positional), std::nullopt);
  EXPECT_THAT(positional, ElementsAre("stray"));
  Args help{{"--help"}};
  v = help.argv();
  testing::internal::CaptureStdout();
  EXPECT_EQ(p.set.run(static_cast<int>(v.size()), v.data()), 0);
  EXPECT_THAT(testing::internal::GetCapturedStdout(), HasSubstr("--workers N"));
}

}  // namespace
