// The Prometheus text exposition format 0.0.4.
#include <charconv>
#include <cmath>

#include "kop/metrics/registry.h"

namespace kop::metrics {
namespace {

void append(fmt::memory_buffer& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

// Label values escape backslash, double quote and newline.
void append_label_value(fmt::memory_buffer& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\':
        append(out, "\\\\");
        break;
      case '"':
        append(out, "\\\"");
        break;
      case '\n':
        append(out, "\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

// HELP text escapes backslash and newline only.
void append_help(fmt::memory_buffer& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\':
        append(out, "\\\\");
        break;
      case '\n':
        append(out, "\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

// name{l1="v1",l2="v2",extra_name="extra_value"} — braces omitted when there is no label.
void append_series(fmt::memory_buffer& out, std::string_view name, std::string_view suffix,
                   const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  append(out, name);
  append(out, suffix);
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    append(out, names[i]);
    append(out, "=\"");
    append_label_value(out, values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out.push_back(',');
    append(out, extra_name);
    append(out, "=\"");
    append_label_value(out, extra_value);
    out.push_back('"');
  }
  out.push_back('}');
}

void append_value_line(fmt::memory_buffer& out, double v) {
  out.push_back(' ');
  append_float(out, v);
  out.push_back('\n');
}

}  // namespace

void append_float(fmt::memory_buffer& out, double v) {
  if (std::isnan(v)) return append(out, "NaN");
  if (std::isinf(v)) return append(out, v > 0 ? "+Inf" : "-Inf");
  if (v == 0) return append(out, std::signbit(v) ? "-0" : "0");
  char buf[64];
  // Shortest round-trip digits in scientific form give the decimal exponent Go decides on.
  auto sci = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view s(buf, sci.ptr - buf);
  size_t e = s.find('e');
  int exp = 0;
  std::from_chars(s.data() + e + (s[e + 1] == '+' ? 2 : 1), s.data() + s.size(), exp);
  if (exp < -4 || exp >= 6) return append(out, s);  // already d.ddde±XX, as Go writes it
  auto fixed = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  append(out, std::string_view(buf, fixed.ptr - buf));
}

std::string format_float(double v) {
  fmt::memory_buffer out;
  append_float(out, v);
  return std::string(out.data(), out.size());
}

namespace detail {

void write_header(fmt::memory_buffer& out, const FamilyInfo& info) {
  append(out, "# HELP ");
  append(out, info.name);
  out.push_back(' ');
  append_help(out, info.help);
  append(out, "\n# TYPE ");
  append(out, info.name);
  switch (info.type) {
    case Type::kCounter:
      append(out, " counter\n");
      break;
    case Type::kGauge:
      append(out, " gauge\n");
      break;
    case Type::kHistogram:
      append(out, " histogram\n");
      break;
  }
}

void write_sample(fmt::memory_buffer& out, const FamilyInfo& info,
                  const std::vector<std::string>& values, const Counter& m) {
  append_series(out, info.name, "", info.label_names, values);
  append_value_line(out, m.value());
}

void write_sample(fmt::memory_buffer& out, const FamilyInfo& info,
                  const std::vector<std::string>& values, const Gauge& m) {
  append_series(out, info.name, "", info.label_names, values);
  append_value_line(out, m.value());
}

void write_sample(fmt::memory_buffer& out, const FamilyInfo& info,
                  const std::vector<std::string>& values, const Histogram& m) {
  Histogram::Snapshot s = m.snapshot();
  const std::vector<double>& bounds = m.bounds();
  for (size_t i = 0; i <= bounds.size(); ++i) {
    std::string le = i < bounds.size() ? format_float(bounds[i]) : "+Inf";
    append_series(out, info.name, "_bucket", info.label_names, values, "le", le);
    append_value_line(out, static_cast<double>(s.cumulative[i]));
  }
  append_series(out, info.name, "_sum", info.label_names, values);
  append_value_line(out, s.sum);
  append_series(out, info.name, "_count", info.label_names, values);
  append_value_line(out, static_cast<double>(s.count));
}

}  // namespace detail
}  // namespace kop::metrics
