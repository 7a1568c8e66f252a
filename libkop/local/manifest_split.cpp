#include "manifest_split.h"

namespace kop::local {

namespace {

// A line starting with `marker` followed by a blank or the line's end.
bool is_marker(std::string_view line, std::string_view marker) {
  if (line.substr(0, marker.size()) != marker) return false;
  if (line.size() == marker.size()) return true;
  char c = line[marker.size()];
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Only blank lines and comments.
bool is_blank(std::string_view text) {
  bool line_start = true, in_comment = false;
  for (char c : text) {
    if (c == '\n') {
      line_start = true;
      in_comment = false;
      continue;
    }
    if (in_comment || c == ' ' || c == '\t' || c == '\r') continue;
    if (c == '#' && line_start) {
      in_comment = true;
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

std::optional<std::vector<DocumentText>> split_documents(std::string_view text) {
  // A byte order mark or UTF-16/32 (NUL bytes): the YAML reader decodes those; cut nothing.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") return std::nullopt;
  if (text.substr(0, 4).find('\0') != std::string_view::npos) return std::nullopt;
  std::vector<size_t> starts;  // where each "---" line begins
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    end = end == std::string_view::npos ? text.size() : end + 1;
    char c = text[pos];  // most lines start otherwise: one look
    if (c == '%' || c == '.' || c == '-') {
      std::string_view line = text.substr(pos, end - pos);
      if (c == '%' || is_marker(line, "...")) return std::nullopt;
      if (is_marker(line, "---")) starts.push_back(pos);
    }
    pos = end;
  }
  std::vector<DocumentText> out;
  out.reserve(starts.size() + 1);
  size_t first = starts.empty() ? text.size() : starts.front();
  if (!is_blank(text.substr(0, first))) out.push_back({text.substr(0, first), 0});
  for (size_t i = 0; i < starts.size(); ++i) {
    size_t end = i + 1 < starts.size() ? starts[i + 1] : text.size();
    out.push_back({text.substr(starts[i], end - starts[i]), out.size()});
  }
  return out;
}

}  // namespace kop::local
