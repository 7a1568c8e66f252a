// kop::flags: the command line of every kop program (kop-ingress, kop-local, kop-proxy,
// website-operator), so each accepts the same forms and says the same things.
//
// A FlagSet names each flag once, with the variable it sets and a line of help. parse() takes
// `--name=value` and `--name value` for flags with a value, `--name`, `--name=true` and
// `--name=false` for switches (also 1/0, yes/no), `-h`/`--help`, and `--` to end the flags;
// anything else that starts with `-` is an error, and the rest are positional arguments,
// returned in order. help() lists every flag with its help text, aligned and wrapped.
// run() is what a main calls: on --help it prints help() to stdout and the program exits 0;
// on an error it prints "PROGRAM: ERROR" and the usage line to stderr and the program exits 2.
//
// Depends on nothing of kop (the first module), so a binary that links no other part of
// libkop (kop-proxy) uses it too. Not thread-safe: a main builds and parses one on its thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace kop::flags {

// A value's text to the flag's variable; an error says what was expected ("not an integer").
using Setter = std::function<absl::Status(std::string_view value)>;

class FlagSet {
 public:
  // `program` starts every message; `usage` is the synopsis ("kop-proxy --config FILE
  // [--workers N]", further lines allowed); `about` (optional) a paragraph printed after it.
  FlagSet(std::string program, std::string usage, std::string about = {});

  // A flag with a value, shown as `--name VALUE_NAME`; `help` may hold several lines.
  void add(std::string name, std::string value_name, std::string help, Setter set);
  // A switch: `--name` sets true, `--name=false` false.
  void add_bool(std::string name, std::string help, std::function<void(bool)> set);

  // The common kinds, setting `*out` (which holds the default until then).
  void add_string(std::string name, std::string value_name, std::string help, std::string* out);
  void add_bool(std::string name, std::string help, bool* out);
  void add_uint32(std::string name, std::string value_name, std::string help, uint32_t* out);

  // Another spelling of an existing flag (e.g. "-c" for "--config"), listed beside it.
  void alias(std::string spelling, std::string_view name);

  // Parses argv[1..argc). The positional arguments, or InvalidArgument naming the flag.
  // `help_requested()` says whether -h/--help came (parsing stops there).
  absl::StatusOr<std::vector<std::string>> parse(int argc, const char* const* argv);
  bool help_requested() const { return help_requested_; }

  // The text --help prints: usage, about, every flag.
  std::string help() const;

  // The error a main reports after parsing (a flag's value that fails a later check):
  // prints "PROGRAM: message", the usage line and a pointer to --help on stderr; returns 2,
  // the exit status for a usage error.
  int usage_error(std::string_view message) const;

  // parse(), and on --help or an error the exit status the program must return now (0 or 2),
  // having printed help() or the error; nullopt: carry on with `*positional` (may be null
  // when none are allowed: any positional argument is then an error).
  std::optional<int> run(int argc, const char* const* argv,
                         std::vector<std::string>* positional = nullptr);

 private:
  struct Flag {
    std::string name;  // without the dashes
    std::vector<std::string> aliases;
    std::string value_name;  // empty: a switch
    std::string help;
    Setter set;
  };
  Flag* find(std::string_view spelling);

  std::string program_, usage_, about_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

}  // namespace kop::flags
