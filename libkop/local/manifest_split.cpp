#include "manifest_split.h"

#include "kop/api/yaml.h"

namespace kop::local {

namespace {

// A line starting with `marker` followed by a blank or the line's end ("\n" or "\r\n": a lone
// "\r" does not end the line for the YAML reader, which then reads the marker as content).
bool is_marker(std::string_view line, std::string_view marker) {
  if (line.substr(0, marker.size()) != marker) return false;
  if (line.size() == marker.size()) return true;
  char c = line[marker.size()];
  if (c == '\r') return line.substr(marker.size() + 1, 1) == "\n";
  return c == ' ' || c == '\t' || c == '\n';
}

// Only blank lines and comments ("\r" only before "\n": the YAML reader takes a lone one as
// content).
bool is_blank(std::string_view text) {
  bool line_start = true, in_comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      line_start = true;
      in_comment = false;
      continue;
    }
    if (c == '\r' && text.substr(i + 1, 1) != "\n") return false;
    if (in_comment || c == ' ' || c == '\t' || c == '\r') continue;
    if (c == '#' && line_start) {
      in_comment = true;
      continue;
    }
    return false;
  }
  return true;
}

// Printable ASCII, tabs and line ends only: what the YAML reader accepts without looking closer.
bool plain_ascii(std::string_view text) {
  for (char c : text) {
    auto b = static_cast<unsigned char>(c);
    if ((b < 0x20 && b != '\t' && b != '\r' && b != '\n') || b >= 0x7F) return false;
  }
  return true;
}

}  // namespace

std::optional<std::vector<DocumentText>> split_documents(std::string_view text) {
  // A byte order mark or UTF-16/32 (NUL bytes): the YAML reader decodes those; cut nothing.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") return std::nullopt;
  if (text.substr(0, 2) == "\xFE\xFF" || text.substr(0, 2) == "\xFF\xFE") return std::nullopt;
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
  std::string_view head = text.substr(0, first);
  if (!is_blank(head)) {
    out.push_back({head, 0});
  } else if (!plain_ascii(head)) {
    // A head left out is not read, so its characters would go unchecked: the YAML reader
    // refuses a stream with invalid UTF-8 or control characters anywhere, even in a comment.
    return std::nullopt;
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    size_t end = i + 1 < starts.size() ? starts[i + 1] : text.size();
    std::string_view piece = text.substr(starts[i], end - starts[i]);
    out.push_back({piece, out.size(), is_blank(piece.substr(3))});
  }
  if (!out.empty()) out.back().last = true;
  return out;
}

bool read_piece(const DocumentText& piece, absl::FunctionRef<void(rapidjson::Document&&)> fn) {
  std::string followed;
  if (!piece.last) followed.append(piece.text).append("--- 0\n");
  std::vector<size_t> indexes;  // of the documents read
  auto read = api::for_each_yaml_document(piece.last ? piece.text : std::string_view(followed), "",
                                          [&](rapidjson::Document&& doc, size_t index) {
                                            indexes.push_back(index);
                                            if (index == 0 && indexes.size() == 1 && !piece.blank)
                                              fn(std::move(doc));
                                          });
  std::vector<size_t> want;
  if (!piece.blank) want.push_back(0);
  if (!piece.last) want.push_back(1);
  return read.ok() && indexes == want;
}

}  // namespace kop::local
