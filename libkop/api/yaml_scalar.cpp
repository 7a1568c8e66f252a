#include "yaml_scalar.h"

#include <absl/status/status.h>
#include <absl/strings/escaping.h>
#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "kop/api/json.h"

namespace kop::api::yaml_scalar {

namespace {

using Kind = Resolved::Kind;

constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagBinary = "tag:yaml.org,2002:binary";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";
constexpr std::string_view kTagTimestamp = "tag:yaml.org,2002:timestamp";
constexpr std::string_view kTagMerge = "tag:yaml.org,2002:merge";

bool is_dec(char c) {
  return c >= '0' && c <= '9';
}

Resolved make(Kind k) {
  Resolved r;
  r.kind = k;
  return r;
}
Resolved make_bool(bool b) {
  Resolved r = make(Kind::kBool);
  r.b = b;
  return r;
}
Resolved make_float(double d) {
  Resolved r = make(Kind::kFloat);
  r.d = d;
  return r;
}
Resolved make_string(std::string_view s) {
  Resolved r;
  r.s.assign(s);
  return r;
}

// The YAML 1.1 words go-yaml knows, in exactly these spellings ("oN" is a string).
std::optional<Resolved> lookup_word(std::string_view s) {
  static constexpr std::string_view kTrue[] = {"y",  "Y",  "yes",  "Yes",  "YES", "on",
                                               "On", "ON", "true", "True", "TRUE"};
  static constexpr std::string_view kFalse[] = {"n",   "N",   "no",    "No",    "NO",   "off",
                                                "Off", "OFF", "false", "False", "FALSE"};
  static constexpr std::string_view kNull[] = {"", "~", "null", "Null", "NULL"};
  for (auto w : kTrue) {
    if (s == w) return make_bool(true);
  }
  for (auto w : kFalse) {
    if (s == w) return make_bool(false);
  }
  for (auto w : kNull) {
    if (s == w) return make(Kind::kNull);
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    return make_float(std::numeric_limits<double>::quiet_NaN());
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF") {
    return make_float(std::numeric_limits<double>::infinity());
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") {
    return make_float(-std::numeric_limits<double>::infinity());
  }
  if (s == "<<") return make(Kind::kMerge);
  return std::nullopt;
}

// Go's strconv.ParseUint(s, 0, 64) without underscores: 0x/0o/0b prefixes (any case), a
// leading 0 alone means octal, no sign.
std::optional<uint64_t> parse_uint_base0(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int base = 10;
  if (s[0] == '0') {
    char p = s.size() >= 3 ? static_cast<char>(s[1] | 0x20) : 0;
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
      if (s.empty()) return 0;
    }
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Go's strconv.ParseInt(s, 0, 64): an optional sign, then as above, within int64.
std::optional<int64_t> parse_int_base0(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  auto mag = parse_uint_base0(s);
  if (!mag) return std::nullopt;
  constexpr uint64_t kMinMag = uint64_t{1} << 63;
  if (neg) {
    if (*mag > kMinMag) return std::nullopt;
    return *mag == kMinMag ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(*mag);
  }
  if (*mag >= kMinMag) return std::nullopt;
  return static_cast<int64_t>(*mag);
}

// go-yaml's float pattern: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool float_syntax(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0;
  while (i < s.size() && is_dec(s[i])) ++i, ++int_digits;
  size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_dec(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && is_dec(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// Go's ParseFloat for text that passed float_syntax: an overflow ("1e400") is a failure, an
// underflow reads as zero.
std::optional<double> parse_float(std::string_view s) {
  std::string text(s);
  errno = 0;
  char* end = nullptr;
  double d = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  if (errno == ERANGE && std::isinf(d)) return std::nullopt;
  return d;
}

// go-yaml v2's resolve() for an untagged plain scalar: the words above, then by first
// character: '.' may start a float; a digit or sign starts an integer (Go syntax, underscores
// dropped), an unsigned integer, or a float; anything else is a string (timestamps included:
// kubectl passes their text through).
Resolved resolve_plain(std::string_view s) {
  if (auto w = lookup_word(s)) return *w;
  char first = s[0];  // not empty: "" is null above
  if (first == '.') {
    if (float_syntax(s)) {
      if (auto d = parse_float(s)) return make_float(*d);
    }
    return make_string(s);
  }
  if (!is_dec(first) && first != '+' && first != '-') return make_string(s);
  std::string plain(s);
  std::erase(plain, '_');
  if (auto i = parse_int_base0(plain)) {
    Resolved r = make(Kind::kInt);
    r.i = *i;
    return r;
  }
  if (auto u = parse_uint_base0(plain)) {
    Resolved r = make(Kind::kUint);
    r.u = *u;
    return r;
  }
  if (float_syntax(plain)) {
    if (auto d = parse_float(plain)) return make_float(*d);
  }
  return make_string(s);
}

std::string_view short_tag(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "!!null";
    case Kind::kBool:
      return "!!bool";
    case Kind::kInt:
    case Kind::kUint:
      return "!!int";
    case Kind::kFloat:
      return "!!float";
    case Kind::kMerge:
      return "!!merge";
    case Kind::kString:
      break;
  }
  return "!!str";
}

absl::Status mismatch(Kind got, std::string_view text, std::string_view want) {
  return absl::InvalidArgumentError(
      fmt::format("cannot decode {} `{}` as a {}", short_tag(got), text, want));
}

// go-yaml accepts a timestamp as "YYYY-M-D", optionally followed by a time part; only the date
// is checked here, the text is passed through as it is.
bool timestamp_syntax(std::string_view s) {
  size_t i = 0;
  auto digits = [&](size_t min, size_t max) {
    size_t n = 0;
    while (i < s.size() && is_dec(s[i]) && n < max) ++i, ++n;
    return n >= min;
  };
  if (!digits(4, 4) || i >= s.size() || s[i++] != '-') return false;
  if (!digits(1, 2) || i >= s.size() || s[i++] != '-') return false;
  if (!digits(1, 2)) return false;
  return i == s.size() || s[i] == 'T' || s[i] == 't' || s[i] == ' ' || s[i] == '\t';
}

// Go's encoding/json writes each byte that is not part of valid UTF-8 as U+FFFD.
std::string valid_utf8_or_replaced(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

// Go's strconv.FormatFloat(d, 'g', -1, 64): shortest digits, exponent form when the exponent
// is below -4 or at least 6 ("1e+06", "1e-05"), plain otherwise ("123456.5").
std::string go_format_g(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view e(buf, sci.ptr - buf);
  int exp = 0;
  std::string_view exp_text = e.substr(e.find('e') + 1);
  if (!exp_text.empty() && exp_text[0] == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp);
  if (exp < -4 || exp >= 6) return std::string(e);
  auto fixed = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  return std::string(buf, fixed.ptr - buf);
}

}  // namespace

size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80                 ? 1
             : c >= 0xc2 && c <= 0xdf ? 2
             : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4
                                      : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  if (n > 2) {
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) ||
        (c == 0xf4 && c1 > 0x8f)) {
      return 0;
    }
  }
  return n;
}

absl::StatusOr<Resolved> resolve(std::string_view tag, std::string_view text) {
  if (tag == "?") return resolve_plain(text);
  if (tag == kTagBinary) {
    std::string bytes;
    if (!absl::Base64Unescape(absl::string_view(text.data(), text.size()), &bytes)) {
      return absl::InvalidArgumentError(fmt::format("!!binary value is not base64: `{}`", text));
    }
    return make_string(valid_utf8_or_replaced(bytes));
  }
  bool standard = tag == kTagInt || tag == kTagFloat || tag == kTagBool || tag == kTagNull ||
                  tag == kTagTimestamp || tag == kTagMerge;
  // Quoted text, !!str, and tags kubectl does not know (`!thing 5`) all read as the text.
  if (!standard || tag == kTagStr) return make_string(text);
  Resolved r = text.empty() ? make(Kind::kNull) : resolve_plain(text);
  if (tag == kTagInt) {
    if (r.kind == Kind::kInt || r.kind == Kind::kUint) return r;
    return mismatch(r.kind, text, "!!int");
  }
  if (tag == kTagFloat) {
    if (r.kind == Kind::kFloat) return r;
    if (r.kind == Kind::kInt) return make_float(static_cast<double>(r.i));
    if (r.kind == Kind::kUint) return make_float(static_cast<double>(r.u));
    return mismatch(r.kind, text, "!!float");
  }
  if (tag == kTagBool) {
    if (r.kind == Kind::kBool) return r;
    return mismatch(r.kind, text, "!!bool");
  }
  if (tag == kTagNull) {
    if (r.kind == Kind::kNull) return r;
    return mismatch(r.kind, text, "!!null");
  }
  if (tag == kTagMerge) {
    if (r.kind == Kind::kMerge) return r;
    return mismatch(r.kind, text, "!!merge");
  }
  // !!timestamp: kubectl checks the form and sends the text.
  if (timestamp_syntax(text)) return make_string(text);
  return mismatch(Kind::kString, text, "!!timestamp");
}

absl::Status to_json(Resolved r, rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc) {
  switch (r.kind) {
    case Kind::kNull:
      out.SetNull();
      return absl::OkStatus();
    case Kind::kBool:
      out.SetBool(r.b);
      return absl::OkStatus();
    case Kind::kInt:
      out.SetInt64(r.i);
      return absl::OkStatus();
    case Kind::kUint:
      out.SetDouble(static_cast<double>(r.u));
      return absl::OkStatus();
    case Kind::kFloat: {
      if (!std::isfinite(r.d)) {
        return absl::InvalidArgumentError(
            fmt::format("{} has no JSON form (kubectl fails the same way)", go_format_g(r.d)));
      }
      // 2^63: kubectl re-encodes -2^63 and 2^63 as floats ("-9223372036854776000").
      constexpr double kInt64End = 9223372036854775808.0;
      if (std::trunc(r.d) == r.d && r.d > -kInt64End && r.d < kInt64End) {
        out.SetInt64(static_cast<int64_t>(r.d));
      } else {
        out.SetDouble(r.d);
      }
      return absl::OkStatus();
    }
    case Kind::kMerge:
      out = json::make_string("<<", alloc);
      return absl::OkStatus();
    case Kind::kString:
      break;
  }
  out = json::make_string(r.s, alloc);
  return absl::OkStatus();
}

absl::StatusOr<std::string> to_key(Resolved r) {
  switch (r.kind) {
    case Kind::kNull:
      return absl::InvalidArgumentError("a null mapping key has no JSON form");
    case Kind::kBool:
      return std::string(r.b ? "true" : "false");
    case Kind::kInt:
      return std::to_string(r.i);
    case Kind::kUint:
      return std::to_string(r.u);
    case Kind::kFloat:
      return go_format_g(r.d);
    case Kind::kMerge:
      return std::string("<<");
    case Kind::kString:
      break;
  }
  return std::move(r.s);
}

}  // namespace kop::api::yaml_scalar
