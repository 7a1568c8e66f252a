#include "encode.h"

#include <cstdint>

namespace kop::log::internal {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the byte there starts none.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    unsigned char cc = byte(i + k);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

void append(fmt::memory_buffer& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

constexpr char kHex[] = "0123456789abcdef";

// How a quoted value is escaped: JSON and text agree on quotes, backslash and \n \r \t, and
// differ on the rest (JSON: \b \f and \u00XX, a bad UTF-8 byte as U+FFFD; text, as Go's %q:
// \a \b \f \v, and \xXX for bad bytes, other control bytes and DEL).
enum class Escaping { kJson, kText };

void append_hex_escape(fmt::memory_buffer& out, std::string_view prefix, unsigned char c) {
  append(out, prefix);
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 0xF]);
}

void append_quoted(fmt::memory_buffer& out, std::string_view s, Escaping how) {
  const bool json = how == Escaping::kJson;
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        if (json) {
          append(out, "\\ufffd");
        } else {
          append_hex_escape(out, "\\x", c);
        }
        ++i;
      } else {
        append(out, s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        append(out, "\\\"");
        break;
      case '\\':
        append(out, "\\\\");
        break;
      case '\n':
        append(out, "\\n");
        break;
      case '\r':
        append(out, "\\r");
        break;
      case '\t':
        append(out, "\\t");
        break;
      default:
        if (c == '\b') {
          append(out, "\\b");
        } else if (c == '\f') {
          append(out, "\\f");
        } else if (!json && c == '\a') {
          append(out, "\\a");
        } else if (!json && c == '\v') {
          append(out, "\\v");
        } else if (json && c < 0x20) {
          append_hex_escape(out, "\\u00", c);
        } else if (!json && (c < 0x20 || c == 0x7F)) {
          append_hex_escape(out, "\\x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

}  // namespace

void append_json_string(fmt::memory_buffer& out, std::string_view s) {
  append_quoted(out, s, Escaping::kJson);
}

bool text_needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence_length(s, i);
      if (n == 0) return true;
      i += n;
      continue;
    }
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7F) return true;
    ++i;
  }
  return false;
}

void append_text_value(fmt::memory_buffer& out, std::string_view s, bool always_quote) {
  if (!always_quote && !text_needs_quotes(s)) {
    append(out, s);
    return;
  }
  append_quoted(out, s, Escaping::kText);
}

void append_text_key(fmt::memory_buffer& out, std::string_view key) {
  if (key.empty()) {
    out.push_back('_');
    return;
  }
  for (char ch : key) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-' || ch == '/';
    out.push_back(ok ? ch : '_');
  }
}

}  // namespace kop::log::internal
