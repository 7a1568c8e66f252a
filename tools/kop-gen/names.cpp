#include "names.h"

#include <array>
#include <string>
#include <vector>

namespace kop::gen {
namespace {

bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_lower(c) || is_upper(c) || is_digit(c);
}
char lower(char c) {
  return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}
char upper(char c) {
  return is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c;
}

// Words of a name: runs of alphanumerics split at case changes ("podIPs" -> pod, IPs;
// "URLPath" -> URL, Path). A plural 's' after an acronym stays with it.
std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(std::move(cur));
    cur.clear();
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (!is_alnum(c)) {
      flush();
      continue;
    }
    if (!cur.empty() && is_upper(c)) {
      char prev = cur.back();
      bool next_lower = i + 1 < s.size() && is_lower(s[i + 1]);
      bool plural = next_lower && s[i + 1] == 's' && (i + 2 >= s.size() || !is_lower(s[i + 2]));
      if (is_lower(prev) || is_digit(prev) || (is_upper(prev) && next_lower && !plural)) flush();
    }
    cur += c;
  }
  flush();
  return out;
}

constexpr std::array kReserved = {
    // C++20 keywords and alternative tokens.
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break",
    "case", "catch", "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept",
    "const", "consteval", "constexpr", "constinit", "const_cast", "continue", "co_await",
    "co_return", "co_yield", "decltype", "default", "delete", "do", "double", "dynamic_cast",
    "else", "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if",
    "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr",
    "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast",
    "struct", "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef",
    "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t",
    "while", "xor", "xor_eq", "final", "override", "import", "module",
    // Macros of the C and C++ libraries that would swallow a member of the same name.
    "errno", "assert", "stdin", "stdout", "stderr", "offsetof", "setjmp", "va_arg", "va_copy",
    "va_end", "va_start", "major", "minor", "unix", "linux", "NULL", "EOF"};

}  // namespace

bool is_reserved(std::string_view ident) {
  for (std::string_view k : kReserved) {
    if (k == ident) return true;
  }
  return false;
}

std::string snake_name(std::string_view json_name) {
  std::string out;
  for (const std::string& w : words(json_name)) {
    if (!out.empty()) out += '_';
    for (char c : w) out += lower(c);
  }
  if (out.empty()) return "field";
  if (is_digit(out[0])) out = "f_" + out;
  if (is_reserved(out)) out += '_';
  return out;
}

std::string pascal_name(std::string_view json_name) {
  std::string out;
  for (const std::string& w : words(json_name)) {
    out += upper(w[0]);
    out += w.substr(1);
  }
  return out.empty() ? "Field" : out;
}

std::string enum_value_name(std::string_view value) {
  std::string out = "k";
  bool up = true;
  for (char c : value) {
    if (!is_alnum(c)) {
      up = true;
      continue;
    }
    out += up ? upper(c) : c;
    up = false;
  }
  return out == "k" ? "kEmpty" : out;
}

std::string Scope::unique(const std::string& base) {
  std::string name = base;
  for (int n = 2; taken(name); ++n) name = base + std::to_string(n);
  take(name);
  return name;
}

std::string cpp_literal(std::string_view bytes) {
  std::string out = "\"";
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c >= 0x20 && c < 0x7f && c != '?') {  // '?' escaped: no trigraph surprises
      out += ch;
    } else {
      static constexpr char kOct[] = "01234567";
      out += '\\';
      out += kOct[(c >> 6) & 7];
      out += kOct[(c >> 3) & 7];
      out += kOct[c & 7];
    }
  }
  return out + "\"";
}

}  // namespace kop::gen
