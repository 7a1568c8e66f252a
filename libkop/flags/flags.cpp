// kop::flags: see kop/flags/flags.h.
#include "kop/flags/flags.h"

#include <charconv>
#include <cstdio>
#include <utility>

namespace kop::flags {
namespace {

constexpr size_t kNameColumn = 31;  // help text starts here when the name fits
constexpr size_t kWidth = 100;

std::optional<bool> parse_switch(std::string_view v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return std::nullopt;
}

// `text` wrapped at kWidth, every line indented by `indent`; the first line's indent is
// already written by the caller. Its own line breaks are kept.
void append_wrapped(std::string* out, std::string_view text, size_t indent) {
  size_t column = indent;
  bool line_start = true;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\n') {
      *out += '\n';
      out->append(indent, ' ');
      column = indent;
      line_start = true;
      ++i;
      continue;
    }
    size_t end = text.find_first_of(" \n", i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(i, end - i);
    if (!line_start && column + 1 + word.size() > kWidth) {
      *out += '\n';
      out->append(indent, ' ');
      column = indent;
      line_start = true;
    }
    if (!line_start) {
      *out += ' ';
      ++column;
    }
    *out += word;
    column += word.size();
    line_start = false;
    i = end < text.size() && text[end] == ' ' ? end + 1 : end;
  }
}

}  // namespace

FlagSet::FlagSet(std::string program, std::string usage, std::string about)
    : program_(std::move(program)), usage_(std::move(usage)), about_(std::move(about)) {}

void FlagSet::add(std::string name, std::string value_name, std::string help, Setter set) {
  flags_.push_back({std::move(name), {}, std::move(value_name), std::move(help), std::move(set)});
}

void FlagSet::add_bool(std::string name, std::string help, std::function<void(bool)> set) {
  flags_.push_back(
      {std::move(name), {}, {}, std::move(help), [set = std::move(set)](std::string_view v) {
         std::optional<bool> b = parse_switch(v);
         if (!b) return absl::InvalidArgumentError("takes true or false");
         set(*b);
         return absl::OkStatus();
       }});
}

void FlagSet::add_string(std::string name, std::string value_name, std::string help,
                         std::string* out) {
  add(std::move(name), std::move(value_name), std::move(help), [out](std::string_view v) {
    out->assign(v);
    return absl::OkStatus();
  });
}

void FlagSet::add_bool(std::string name, std::string help, bool* out) {
  add_bool(std::move(name), std::move(help), [out](bool v) { *out = v; });
}

void FlagSet::add_uint32(std::string name, std::string value_name, std::string help,
                         uint32_t* out) {
  add(std::move(name), std::move(value_name), std::move(help), [out](std::string_view v) {
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size())
      return absl::InvalidArgumentError("not an integer from 0 to 4294967295");
    *out = n;
    return absl::OkStatus();
  });
}

void FlagSet::alias(std::string spelling, std::string_view name) {
  for (Flag& f : flags_) {
    if (f.name == name) {
      f.aliases.push_back(std::move(spelling));
      return;
    }
  }
}

FlagSet::Flag* FlagSet::find(std::string_view spelling) {
  for (Flag& f : flags_) {
    if (spelling.substr(0, 2) == "--" && spelling.substr(2) == f.name) return &f;
    for (const std::string& a : f.aliases) {
      if (spelling == a) return &f;
    }
  }
  return nullptr;
}

absl::StatusOr<std::vector<std::string>> FlagSet::parse(int argc, const char* const* argv) {
  std::vector<std::string> positional;
  help_requested_ = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional.emplace_back(argv[i]);
      break;
    }
    if (arg == "-h" || arg == "--help") {
      help_requested_ = true;
      return positional;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.emplace_back(arg);
      continue;
    }
    size_t eq = arg.find('=');
    std::string_view spelling = arg.substr(0, eq);
    Flag* f = find(spelling);
    if (f == nullptr) {
      return absl::InvalidArgumentError("unknown flag " + std::string(spelling));
    }
    std::string shown = "--" + f->name;
    std::string_view value;
    if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (f->value_name.empty()) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(shown + " needs a value");
    }
    if (absl::Status s = f->set(value); !s.ok()) {
      return absl::InvalidArgumentError(shown + ": " + std::string(s.message()) + ": \"" +
                                        std::string(value) + "\"");
    }
  }
  return positional;
}

std::string FlagSet::help() const {
  std::string out = "usage: " + usage_ + "\n";
  if (!about_.empty()) {
    out += "\n";
    append_wrapped(&out, about_, 0);
    out += "\n";
  }
  out += "\nflags:\n";
  auto entry = [&out](const std::string& names, std::string_view help) {
    out += "  " + names;
    if (2 + names.size() + 1 > kNameColumn) {
      out += "\n";
      out.append(kNameColumn, ' ');
    } else {
      out.append(kNameColumn - 2 - names.size(), ' ');
    }
    append_wrapped(&out, help, kNameColumn);
    out += "\n";
  };
  for (const Flag& f : flags_) {
    std::string names;
    for (const std::string& a : f.aliases) names += a + ", ";
    names += "--" + f.name;
    names += f.value_name.empty() ? "[=true|false]" : " " + f.value_name;
    entry(names, f.help);
  }
  entry("-h, --help", "this text");
  return out;
}

int FlagSet::usage_error(std::string_view message) const {
  std::fprintf(stderr, "%s: %.*s\nusage: %s\nRun '%s --help' for every flag.\n", program_.c_str(),
               static_cast<int>(message.size()), message.data(), usage_.c_str(), program_.c_str());
  return 2;
}

std::optional<int> FlagSet::run(int argc, const char* const* argv,
                                std::vector<std::string>* positional) {
  absl::StatusOr<std::vector<std::string>> rest = parse(argc, argv);
  if (!rest.ok()) return usage_error(std::string(rest.status().message()));
  if (help_requested_) {
    std::fputs(help().c_str(), stdout);
    return 0;
  }
  if (positional != nullptr) {
    *positional = *std::move(rest);
  } else if (!rest->empty()) {
    return usage_error("unexpected argument \"" + rest->front() + "\"");
  }
  return std::nullopt;
}

}  // namespace kop::flags
