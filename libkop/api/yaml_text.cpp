#include "yaml_text.h"

#include <fmt/format.h>

#include <cstdint>

#include "yaml_scalar.h"

namespace kop::api::yaml_text {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The code point of the strict UTF-8 sequence of length n at s[i].
char32_t decode_utf8(std::string_view s, size_t i, size_t n) {
  const auto byte = [&](size_t k) {
    return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]));
  };
  switch (n) {
    case 1:
      return byte(0);
    case 2:
      return ((byte(0) & 0x1F) << 6) | (byte(1) & 0x3F);
    case 3:
      return ((byte(0) & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
    default:
      return ((byte(0) & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) |
             (byte(3) & 0x3F);
  }
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// The escape YAML's double-quoted style has for any character (go-yaml and yaml-cpp read all
// three forms).
std::string escape(char32_t c) {
  if (c <= 0xFF) return fmt::format("\\x{:02X}", static_cast<uint32_t>(c));
  if (c <= 0xFFFF) return fmt::format("\\u{:04X}", static_cast<uint32_t>(c));
  return fmt::format("\\U{:08X}", static_cast<uint32_t>(c));
}

// Characters to_yaml writes as escapes: what kubectl refuses raw, what yaml-cpp's emitter
// replaces (noncharacters), and what the two readers disagree on (YAML 1.1's extra line breaks,
// a byte order mark inside the text).
bool escaped_on_write(char32_t c) {
  return !is_printable(c) || c == 0x85 || c == 0x2028 || c == 0x2029 || c == 0xFEFF ||
         (c & 0xFFFE) == 0xFFFE || (c >= 0xFDD0 && c <= 0xFDEF);
}

std::string not_allowed(char32_t c) {
  return fmt::format(
      "character U+{:04X} is not allowed in YAML text (only tab, line breaks and printable "
      "characters are; inside double quotes write it as the escape \"{}\")",
      static_cast<uint32_t>(c), escape(c));
}

enum class Encoding { kUtf8, kUtf16Le, kUtf16Be };

char32_t utf16_unit(std::string_view s, size_t i, Encoding enc) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  return enc == Encoding::kUtf16Le ? static_cast<char32_t>(b0 | (b1 << 8))
                                   : static_cast<char32_t>((b0 << 8) | b1);
}

}  // namespace

bool is_printable(char32_t c) {
  return c == 0x09 || c == 0x0A || c == 0x0D || (c >= 0x20 && c <= 0x7E) || c == 0x85 ||
         (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0x10FFFF);
}

Decoded decode(std::string_view text) {
  Decoded out;
  Encoding enc = Encoding::kUtf8;
  size_t i = 0;
  if (text.starts_with("\xEF\xBB\xBF")) {
    i = 3;
  } else if (text.starts_with("\xFF\xFE")) {
    enc = Encoding::kUtf16Le;
    i = 2;
  } else if (text.starts_with("\xFE\xFF")) {
    enc = Encoding::kUtf16Be;
    i = 2;
  }
  const size_t start = i;
  size_t line = 1;
  size_t column = 1;
  // UTF-8 text is checked in place and copied once at the end; UTF-16 is transcoded as it goes.
  auto finish = [&](size_t end) {
    if (enc == Encoding::kUtf8) out.utf8.assign(text.substr(start, end - start));
  };
  auto fail = [&](size_t at, std::string what) {
    finish(at);
    out.problem = Problem{at, line, column, std::move(what)};
    return std::move(out);
  };
  if (enc != Encoding::kUtf8) out.utf8.reserve(text.size());
  while (i < text.size()) {
    const size_t at = i;
    char32_t c = 0;
    if (enc == Encoding::kUtf8) {
      const auto b = static_cast<unsigned char>(text[i]);
      const size_t n = b < 0x80 ? 1 : yaml_scalar::utf8_sequence_length(text, i);
      if (n == 0) return fail(at, fmt::format("invalid UTF-8 (byte 0x{:02X})", b));
      c = decode_utf8(text, i, n);
      i += n;
    } else {
      if (text.size() - i < 2) return fail(at, "the text ends inside a UTF-16 character");
      c = utf16_unit(text, i, enc);
      i += 2;
      if (c >= 0xDC00 && c <= 0xDFFF) {
        return fail(at, fmt::format("invalid UTF-16: low surrogate 0x{:04X} without a high one",
                                    static_cast<uint32_t>(c)));
      }
      if (c >= 0xD800 && c <= 0xDBFF) {
        const char32_t low = text.size() - i >= 2 ? utf16_unit(text, i, enc) : 0;
        if (low < 0xDC00 || low > 0xDFFF) {
          return fail(at, fmt::format("invalid UTF-16: high surrogate 0x{:04X} without a low one",
                                      static_cast<uint32_t>(c)));
        }
        i += 2;
        c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
      }
    }
    if (!is_printable(c)) return fail(at, not_allowed(c));
    if (enc != Encoding::kUtf8) append_utf8(out.utf8, c);
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  finish(text.size());
  return out;
}

bool needs_escapes(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b < 0x7F) {
      ++i;
      continue;
    }
    const size_t n = yaml_scalar::utf8_sequence_length(s, i);
    if (n == 0) return true;
    const char32_t c = decode_utf8(s, i, n);
    if (c != '\t' && c != '\n' && c != '\r' && escaped_on_write(c)) return true;
    i += n;
  }
  return false;
}

std::string double_quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const size_t n = yaml_scalar::utf8_sequence_length(s, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    const char32_t c = decode_utf8(s, i, n);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (escaped_on_write(c)) {
          out += escape(c);
        } else {
          out.append(s.substr(i, n));
        }
    }
    i += n;
  }
  out += '"';
  return out;
}

}  // namespace kop::api::yaml_text
