// yaml_text.h (internal to kop::api): YAML text at the level of characters, both ways.
//
// Reading: kubectl's reader (go-yaml v2) takes UTF-8, or UTF-16 opening with its byte order
// mark, and refuses the whole text at the first character outside YAML's printable set (tab,
// LF, CR, 0x20-0x7E, U+0085, U+00A0-U+D7FF, U+E000-U+FFFD, U+10000 and up), wherever it stands:
// in a scalar, a quoted string or a comment. Escapes such as "\uFFFF" in a double-quoted string
// are text, not characters, and stay legal. yaml-cpp checks none of this (it passes raw bytes
// through and guesses UTF-16/32 from NUL bytes), so kop decodes and checks the text first and
// hands yaml-cpp plain UTF-8.
//
// Writing: yaml-cpp's emitter writes U+FFFE/U+FFFF (of every plane) as U+FFFD and leaves other
// characters kubectl refuses raw, so to_yaml writes strings holding such characters itself, as
// double-quoted scalars with escapes.
//
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kop::api::yaml_text {

// In YAML's printable set (YAML 1.1 and 1.2 c-printable), as go-yaml v2's reader checks it.
bool is_printable(char32_t c);

// The first place where the text stops being YAML kubectl reads.
struct Problem {
  size_t offset = 0;  // bytes into the input as given (a byte order mark counts)
  size_t line = 1;    // 1-based
  size_t column = 1;  // 1-based, in characters
  std::string what;   // e.g. "character U+0001 is not allowed in YAML text ..."
};

struct Decoded {
  // The text as UTF-8 without its byte order mark; with a problem, the text before it.
  std::string utf8;
  std::optional<Problem> problem;
};

// Decodes UTF-8 (an optional byte order mark dropped) or UTF-16LE/BE (the byte order mark
// required, as in go-yaml: without one the text is UTF-8, and a NUL byte is refused) and checks
// every character. Input opening with a UTF-32 byte order mark reads as UTF-16 holding U+0000,
// refused as go-yaml refuses it.
Decoded decode(std::string_view text);

// Whether `s` must be written as escaped double-quoted text: it is not UTF-8, or it holds a
// character that is not printable, a noncharacter (yaml-cpp's emitter replaces those), a byte
// order mark, or U+0085/U+2028/U+2029 (line breaks to YAML 1.1 readers, content to yaml-cpp).
bool needs_escapes(std::string_view s);

// `s` as a one-line double-quoted YAML scalar: printable characters as they are, `"` and `\` and
// every character named above as escapes (\t, \n, \r, \xXX, \uXXXX, \UXXXXXXXX). Bytes that are
// not UTF-8 are written as U+FFFD, as Go does. Reads back (go-yaml, yaml-cpp) as `s`.
std::string double_quoted(std::string_view s);

}  // namespace kop::api::yaml_text
