// kop/log/quote.h: a string quoted for a message or a log line, as Go's %q (strconv.Quote) writes
// it for ASCII: libkop's one quoting function for names and values in error messages (the API
// server's messages use %q, and kop::local's copy them), and the form logfmt values take.
//
// Pure; any thread.
#pragma once

#include <string>
#include <string_view>

namespace kop::log {

// `s` between double quotes, with \" and \\ escaped, \a \b \f \n \r \t \v named, other control
// bytes and DEL as \xNN, bytes that are not UTF-8 as \xNN; valid UTF-8 kept as it is. The
// result is always one line. quote("a\"b\n") is "\"a\\\"b\\n\"".
std::string quote(std::string_view s);

}  // namespace kop::log
