// Escaping shared by the text and JSON line encoders (internal to libkop/log).
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace kop::log::internal {

// Appends `s` as a JSON string, quotes included: ", \ and control characters escaped, invalid
// UTF-8 replaced by U+FFFD so the line stays valid JSON.
void append_json_string(fmt::memory_buffer& out, std::string_view s);

// True when a logfmt value must be quoted: empty, or holding space, '=', '"', '\', a control
// character or invalid UTF-8.
bool text_needs_quotes(std::string_view s);

// Appends `s` as a logfmt value: bare when it can be (and !always_quote), else quoted as Go's %q
// quotes ASCII: \" \\ \a \b \f \n \r \t \v and \xNN (other controls, DEL, invalid UTF-8 bytes).
void append_text_value(fmt::memory_buffer& out, std::string_view s, bool always_quote = false);

// Appends a logfmt key: characters other than letters, digits and _ . - / become '_'.
void append_text_key(fmt::memory_buffer& out, std::string_view key);

}  // namespace kop::log::internal
