#include "yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace kop::local::yaml {

namespace {

bool is_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  std::string t = s;
  std::erase(t, '_');
  int base = 10;
  size_t i = 0;
  bool neg = false;
  if (t[0] == '+' || t[0] == '-') {
    neg = t[0] == '-';
    i = 1;
  }
  std::string body = t.substr(i);
  if (body.empty()) return false;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    base = 16;
    body = body.substr(2);
  } else if (body.size() > 2 && body[0] == '0' && (body[1] == 'o')) {
    base = 8;
    body = body.substr(2);
  } else if (body.size() > 2 && body[0] == '0' && body[1] == 'b') {
    base = 2;
    body = body.substr(2);
  } else if (body.size() > 1 && body[0] == '0') {
    base = 8;  // YAML 1.1 octal
  }
  if (body.empty()) return false;
  for (char c : body) {
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
            : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                        : 99;
    if (d >= base) return false;
  }
  errno = 0;
  long long v = std::strtoll(body.c_str(), nullptr, base);
  if (errno) return false;
  out = neg ? -v : v;
  return true;
}

bool is_float(const std::string& s, double& out) {
  static const char* kInf[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"};
  for (auto k : kInf) {
    if (s == k) {
      out = INFINITY;
      return true;
    }
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") {
    out = -INFINITY;
    return true;
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    out = NAN;
    return true;
  }
  bool digit = false, dot_or_exp = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digit = true;
    } else if (c == '.' || c == 'e' || c == 'E') {
      dot_or_exp = true;
    } else if ((c == '+' || c == '-') && (i == 0 || s[i - 1] == 'e' || s[i - 1] == 'E')) {
    } else if (c == '_') {
    } else {
      return false;
    }
  }
  if (!digit || !dot_or_exp) return false;
  std::string t = s;
  std::erase(t, '_');
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return end && *end == 0;
}

JsonValue convert(const YAML::Node& n, JsonAlloc& a) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return JsonValue();
    case YAML::NodeType::Sequence: {
      JsonValue arr(rapidjson::kArrayType);
      for (const auto& e : n) arr.PushBack(convert(e, a), a);
      return arr;
    }
    case YAML::NodeType::Map: {
      JsonValue obj(rapidjson::kObjectType);
      for (const auto& kv : n) {
        std::string k = kv.first.Scalar();
        JsonValue v = convert(kv.second, a);
        json::set(obj, k, std::move(v), a);
      }
      return obj;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      const std::string& tag = n.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "!!str") return json::str(s, a);
      if (tag == "?" || tag.empty()) {
        if (s == "~" || s == "null" || s == "Null" || s == "NULL" || s.empty()) return JsonValue();
        if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "Yes" || s == "YES" ||
            s == "on" || s == "On" || s == "ON" || s == "y" || s == "Y")
          return JsonValue(true);
        if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "No" || s == "NO" ||
            s == "off" || s == "Off" || s == "OFF" || s == "n" || s == "N")
          return JsonValue(false);
        int64_t i;
        if (is_int(s, i)) return JsonValue(i);
        double d;
        if (is_float(s, d) && std::isfinite(d)) return JsonValue(d);
      }
      if (tag == "tag:yaml.org,2002:int" || tag == "!!int") {
        int64_t i;
        if (is_int(s, i)) return JsonValue(i);
      }
      return json::str(s, a);
    }
  }
  return JsonValue();
}

}  // namespace

namespace {

// yaml-cpp builds a large node tree for everything LoadAll reads (hundreds of bytes per node):
// a big stream is read in batches of whole documents of about this many bytes.
constexpr size_t kBatchBytes = 256 * 1024;

// Where the batch starting at `from` ends: the first document start marker ("---" at column 0,
// then a space or the end of the line) at least kBatchBytes further. YAML forbids such a line
// inside any scalar, so a batch never splits a document; a marker right after a directive
// (%YAML, %TAG) is passed over, as the directive belongs to the document it starts.
size_t batch_end(std::string_view text, size_t from) {
  if (text.size() - from <= kBatchBytes) return text.size();
  size_t prev = text.rfind('\n', from + kBatchBytes);
  for (size_t nl = text.find('\n', from + kBatchBytes); nl != std::string_view::npos;
       prev = nl, nl = text.find('\n', nl + 1)) {
    size_t line = nl + 1;
    if (text.compare(line, 3, "---") != 0) continue;
    char after = line + 3 < text.size() ? text[line + 3] : '\n';
    if (after != '\n' && after != '\r' && after != ' ' && after != '\t') continue;
    bool after_directive = prev != std::string_view::npos && prev + 1 < nl && text[prev + 1] == '%';
    if (!after_directive) return line;
  }
  return text.size();
}

}  // namespace

bool parse_each(std::string_view text, const std::function<void(Document&&)>& fn,
                std::string& error) {
  int index = 0;
  int first_line = 0;  // of the batch, 0-based
  for (size_t from = 0; from < text.size();) {
    size_t end = batch_end(text, from);
    std::string_view batch = text.substr(from, end - from);
    try {
      auto docs = YAML::LoadAll(std::string(batch));
      for (auto& d : docs) {
        Document doc;
        doc.index = index++;
        doc.line = d.Mark().line >= 0 ? first_line + d.Mark().line + 1 : 0;
        JsonValue v = convert(d, doc.doc.GetAllocator());
        static_cast<JsonValue&>(doc.doc) = std::move(v);
        d = YAML::Node();  // its nodes are freed before the next document is converted
        fn(std::move(doc));
      }
    } catch (const YAML::Exception& e) {
      error = "error converting YAML to JSON: yaml: line " +
              std::to_string(first_line + e.mark.line + 1) + ": " + e.msg;
      return false;
    }
    first_line += static_cast<int>(std::count(batch.begin(), batch.end(), '\n'));
    from = end;
  }
  return true;
}

bool parse_all(std::string_view text, std::vector<Document>& out, std::string& error) {
  std::vector<Document> docs;
  if (!parse_each(
          text, [&](Document&& d) { docs.push_back(std::move(d)); }, error))
    return false;
  for (auto& d : docs) out.push_back(std::move(d));
  return true;
}

bool parse_one(std::string_view text, JsonDoc& out, std::string& error) {
  std::vector<Document> docs;
  if (!parse_all(text, docs, error)) return false;
  if (docs.empty()) {
    out.SetNull();
    return true;
  }
  out.Swap(docs[0].doc);
  return true;
}

}  // namespace kop::local::yaml
