#include "kop/api/yaml.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/status/status.h>
#include <fmt/format.h>
#include <yaml-cpp/emitter.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "kop/api/json.h"

namespace kop::api {

namespace {

using Value = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";
constexpr std::string_view kTagMerge = "tag:yaml.org,2002:merge";

// Guards against alias bombs ("billion laughs") and runaway nesting.
constexpr size_t kMaxValues = size_t{1} << 22;
constexpr size_t kMaxDepth = 512;

// ---- scalar resolution (YAML 1.2 core schema + octal with a leading zero) ----

bool all_of(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}
bool is_dec(char c) {
  return c >= '0' && c <= '9';
}
bool is_oct(char c) {
  return c >= '0' && c <= '7';
}
bool is_hex(char c) {
  return is_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_null_text(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> bool_text(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

// An integer in YAML syntax -> the value, if it fits int64 (or uint64 for large positives).
bool int_text(std::string_view s, Value& out) {
  bool neg = false;
  std::string_view body = s;
  if (!body.empty() && (body.front() == '-' || body.front() == '+')) {
    neg = body.front() == '-';
    body.remove_prefix(1);
  }
  int base = 10;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    body.remove_prefix(2);
    if (!all_of(body, is_hex)) return false;
    base = 16;
  } else if (body.size() > 2 && body[0] == '0' && body[1] == 'o') {
    body.remove_prefix(2);
    if (!all_of(body, is_oct)) return false;
    base = 8;
  } else if (body.size() > 1 && body[0] == '0' && all_of(body, is_oct)) {
    body.remove_prefix(1);  // YAML 1.1 octal: 0644
    base = 8;
  } else if (!all_of(body, is_dec)) {
    return false;
  }
  uint64_t mag = 0;
  auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), mag, base);
  if (ec != std::errc() || p != body.data() + body.size()) return false;
  if (neg) {
    if (mag > uint64_t{1} << 63) return false;
    out.SetInt64(mag == uint64_t{1} << 63 ? INT64_MIN : -static_cast<int64_t>(mag));
  } else if (mag <= static_cast<uint64_t>(INT64_MAX)) {
    out.SetInt64(static_cast<int64_t>(mag));
  } else {
    out.SetUint64(mag);
  }
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
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

bool float_text(std::string_view s, Value& out) {
  if (!float_syntax(s)) return false;
  std::string_view body = s;
  if (!body.empty() && body.front() == '+') body.remove_prefix(1);
  double d = 0;
  auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), d);
  if (ec != std::errc() || p != body.data() + body.size() || !std::isfinite(d)) return false;
  out.SetDouble(d);
  return true;
}

// ---- event handler building RapidJSON ----

struct Frame {
  Value value;  // object or array under construction
  bool is_map = false;
  bool has_key = false;
  bool key_is_merge = false;
  std::string key;
  YAML::Mark key_mark;
  YAML::anchor_t anchor = 0;
  std::vector<Value> merges;              // values of "<<" keys, applied at the end of the map
  absl::flat_hash_set<std::string> keys;  // explicit keys of large maps (duplicate detection)
};

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). yaml-cpp passes
// the bytes of a UTF-8 stream through unchecked; go-yaml, and so kubectl, rejects such input.
bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80                 ? 1
               : c >= 0xc2 && c <= 0xdf ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    if (n > 1) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) ||
          (c == 0xf4 && c1 > 0x8f)) {
        return false;
      }
    }
    i += n;
  }
  return true;
}

class JsonBuilder : public YAML::EventHandler {
 public:
  JsonBuilder(Allocator& alloc, Value& root) : alloc_(alloc), root_(root) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  const YAML::Mark& error_mark() const { return error_mark_; }
  const YAML::Mark& doc_mark() const { return doc_mark_; }
  bool has_root() const { return has_root_; }

  void OnDocumentStart(const YAML::Mark& mark) override { doc_mark_ = mark; }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (failed()) return;
    if (key_expected()) return set_key("null", mark, false);
    emit(Value(), anchor, mark);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (failed()) return;
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) return fail(mark, "alias to an unknown or unfinished anchor");
    if (key_expected()) {
      if (it->second.IsString()) return set_key(json::as_string_view(it->second), mark, false);
      return fail(mark, "complex mapping keys are not supported");
    }
    count_ += count_values(it->second);
    if (count_ > kMaxValues) return fail(mark, "document too large (alias expansion)");
    Value copy(it->second, alloc_);
    emit(std::move(copy), 0, mark);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& text) override {
    if (failed()) return;
    if (!valid_utf8(text)) return fail(mark, "invalid UTF-8");
    if (key_expected()) {
      bool merge = (tag == "?" && text == "<<") || tag == kTagMerge;
      return set_key(text, mark, merge);
    }
    Value v;
    if (!resolve(tag, text, v, mark)) return;
    emit(std::move(v), anchor, mark);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor, false);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor, true);
  }
  void OnMapEnd() override {
    if (failed() || stack_.empty()) return;
    apply_merges(stack_.back());
    close();
  }

 private:
  bool key_expected() const {
    return !stack_.empty() && stack_.back().is_map && !stack_.back().has_key;
  }

  void fail(const YAML::Mark& mark, std::string what) {
    if (failed()) return;
    error_ = std::move(what);
    error_mark_ = mark;
  }

  void set_key(std::string_view key, const YAML::Mark& mark, bool merge) {
    Frame& f = stack_.back();
    if (!merge && is_duplicate(f, key)) {
      return fail(mark, fmt::format("mapping key \"{}\" already defined", key));
    }
    f.key.assign(key);
    f.key_mark = mark;
    f.key_is_merge = merge;
    f.has_key = true;
  }

  // Keys already added are the members of the map so far; small maps are scanned, larger ones
  // get a hash set (built once they grow) so that huge ConfigMaps stay linear.
  static bool is_duplicate(Frame& f, std::string_view key) {
    constexpr rapidjson::SizeType kScanLimit = 16;
    if (f.value.MemberCount() < kScanLimit) return json::find(f.value, key) != nullptr;
    if (f.keys.empty()) {
      for (auto it = f.value.MemberBegin(); it != f.value.MemberEnd(); ++it) {
        f.keys.insert(std::string(json::as_string_view(it->name)));
      }
    }
    return !f.keys.insert(std::string(key)).second;
  }

  bool resolve(const std::string& tag, const std::string& text, Value& v, const YAML::Mark& mark) {
    std::string_view t = text;
    if (tag == "?") {
      if (is_null_text(t)) return true;  // v is null
      if (auto b = bool_text(t)) {
        v.SetBool(*b);
        return true;
      }
      if (int_text(t, v) || float_text(t, v)) return true;
      v = json::make_string(t, alloc_);
      return true;
    }
    if (tag == kTagInt) {
      if (int_text(t, v)) return true;
      fail(mark, fmt::format("\"{}\" is not an integer (!!int)", t));
      return false;
    }
    if (tag == kTagFloat) {
      if (float_text(t, v)) return true;
      if (int_text(t, v)) {
        v.SetDouble(v.GetDouble());
        return true;
      }
      fail(mark, fmt::format("\"{}\" is not a float (!!float)", t));
      return false;
    }
    if (tag == kTagBool) {
      if (auto b = bool_text(t)) {
        v.SetBool(*b);
        return true;
      }
      fail(mark, fmt::format("\"{}\" is not a boolean (!!bool)", t));
      return false;
    }
    if (tag == kTagNull) return true;
    // "!" (quoted), !!str, !!binary, !!timestamp and unknown tags: the text.
    (void)kTagStr;
    v = json::make_string(t, alloc_);
    return true;
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    if (failed()) return;
    if (key_expected()) return fail(mark, "complex mapping keys are not supported");
    if (stack_.size() >= kMaxDepth) return fail(mark, "document nested too deeply");
    Frame f;
    f.value = is_map ? Value(rapidjson::kObjectType) : Value(rapidjson::kArrayType);
    f.is_map = is_map;
    f.anchor = anchor;
    stack_.push_back(std::move(f));
  }

  void close() {
    if (failed() || stack_.empty()) return;
    Value v = std::move(stack_.back().value);
    YAML::anchor_t anchor = stack_.back().anchor;
    stack_.pop_back();
    emit(std::move(v), anchor, YAML::Mark());
  }

  void apply_merges(Frame& f) {
    // Explicit keys win over merged ones; among merge sources, the first wins.
    for (Value& src : f.merges) {
      auto merge_one = [&](Value& m) {
        for (auto it = m.MemberBegin(); it != m.MemberEnd(); ++it) {
          std::string_view k = json::as_string_view(it->name);
          if (json::find(f.value, k)) continue;
          f.value.AddMember(json::make_string(k, alloc_), Value(it->value, alloc_), alloc_);
        }
      };
      if (src.IsObject()) {
        merge_one(src);
      } else {
        for (Value& m : src.GetArray()) merge_one(m);
      }
    }
  }

  static size_t count_values(const Value& v) {
    size_t n = 1;
    if (v.IsObject()) {
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) n += count_values(it->value);
    } else if (v.IsArray()) {
      for (const Value& e : v.GetArray()) n += count_values(e);
    }
    return n;
  }

  void emit(Value&& v, YAML::anchor_t anchor, const YAML::Mark& mark) {
    if (failed()) return;
    if (++count_ > kMaxValues) return fail(mark, "document too large");
    if (anchor != 0) anchors_[anchor] = Value(v, alloc_);
    if (stack_.empty()) {
      root_ = std::move(v);
      has_root_ = true;
      return;
    }
    Frame& f = stack_.back();
    if (!f.is_map) {
      f.value.PushBack(v, alloc_);
      return;
    }
    if (f.key_is_merge) {
      bool ok = v.IsObject();
      if (v.IsArray()) {
        ok = true;
        for (const Value& e : v.GetArray()) ok = ok && e.IsObject();
      }
      if (!ok) return fail(f.key_mark, "merge key \"<<\" needs a mapping or a list of mappings");
      f.merges.push_back(std::move(v));
    } else {
      f.value.AddMember(json::make_string(f.key, alloc_), v, alloc_);
    }
    f.has_key = false;
    f.key_is_merge = false;
  }

  Allocator& alloc_;
  Value& root_;
  bool has_root_ = false;
  std::vector<Frame> stack_;
  absl::flat_hash_map<YAML::anchor_t, Value> anchors_;
  size_t count_ = 0;
  std::string error_;
  YAML::Mark error_mark_;
  YAML::Mark doc_mark_;
};

absl::Status yaml_error(std::string_view source, const YAML::Mark& mark, size_t doc,
                        std::string_view what) {
  if (mark.is_null() || mark.line < 0) {
    return absl::InvalidArgumentError(fmt::format("{}: document index {}: {}", source, doc, what));
  }
  return absl::InvalidArgumentError(fmt::format("{}:{}:{}: document index {}: {}", source,
                                                mark.line + 1, mark.column + 1, doc, what));
}

bool is_list(const Value& v) {
  return json::string_or_empty(&v, "kind") == "List" && json::find_array(&v, "items");
}

absl::Status check_object(const Value& v, std::string_view source, const YAML::Mark& mark,
                          size_t doc, std::string_view where) {
  if (!v.IsObject()) {
    return yaml_error(source, mark, doc,
                      fmt::format("{}is not a mapping (a Kubernetes object)", where));
  }
  if (json::string_or_empty(&v, "apiVersion").empty()) {
    return yaml_error(source, mark, doc, fmt::format("{}has no apiVersion", where));
  }
  if (json::string_or_empty(&v, "kind").empty()) {
    return yaml_error(source, mark, doc, fmt::format("{}has no kind", where));
  }
  return absl::OkStatus();
}

struct ParsedDoc {
  rapidjson::Document doc;
  size_t index;
  YAML::Mark mark;
};

absl::StatusOr<std::vector<ParsedDoc>> parse_documents(std::string_view text,
                                                       std::string_view source) {
  std::vector<ParsedDoc> out;
  std::istringstream in{std::string(text)};
  size_t index = 0;
  try {
    YAML::Parser parser(in);
    while (true) {
      auto doc = std::make_unique<rapidjson::Document>();
      JsonBuilder builder(doc->GetAllocator(), *doc);
      bool more = false;
      try {
        more = parser.HandleNextDocument(builder);
      } catch (const YAML::Exception& e) {
        return yaml_error(source, e.mark, index, e.msg);
      }
      if (!more) break;
      if (builder.failed()) return yaml_error(source, builder.error_mark(), index, builder.error());
      if (builder.has_root() && !doc->IsNull()) {
        out.push_back({std::move(*doc), index, builder.doc_mark()});
      }
      ++index;
    }
  } catch (const std::exception& e) {
    return yaml_error(source, YAML::Mark::null_mark(), index, e.what());
  }
  return out;
}

// ---- emitter ----

bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  // yaml-cpp writes some strings with a carriage return plain ("\r" alone), which read back as
  // a line break; quoted, control characters are escaped.
  if (s.find('\r') != std::string_view::npos) return true;
  Value probe;
  if (is_null_text(s) || bool_text(s) || int_text(s, probe) || float_text(s, probe)) return true;
  // YAML 1.1 readers (kubectl, PyYAML) would take these as booleans or floats.
  static constexpr std::string_view k11[] = {
      "y",  "Y",   "yes", "Yes", "YES",  "n",    "N",    "no",    "No",   "NO",   "on",   "On",
      "ON", "off", "Off", "OFF", ".inf", ".Inf", ".INF", "-.inf", ".nan", ".NaN", ".NAN", "<<"};
  for (std::string_view w : k11) {
    if (s == w) return true;
  }
  return false;
}

bool literal_ok(std::string_view s) {
  // One trailing newline ("clip" chomping), no leading blank, no control characters.
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
  if (s.front() == ' ' || s.front() == '\n') return false;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f) return false;
  }
  // Trailing blanks on a line would be kept by YAML but are easy to lose in editors.
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i + 1] == '\n' && (s[i] == ' ' || s[i] == '\t')) return false;
  }
  return true;
}

void emit_value(YAML::Emitter& out, const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      out << YAML::Null;
      break;
    case rapidjson::kFalseType:
      out << false;
      break;
    case rapidjson::kTrueType:
      out << true;
      break;
    case rapidjson::kNumberType:
      if (v.IsInt64()) {
        out << v.GetInt64();
      } else if (v.IsUint64()) {
        out << v.GetUint64();
      } else {
        std::string d = fmt::format("{}", v.GetDouble());
        // Keep it a float on the way back: "1" would read as an integer.
        if (d.find_first_of(".eEn") == std::string::npos) d += ".0";
        out << d;
      }
      break;
    case rapidjson::kStringType: {
      std::string_view s = json::as_string_view(v);
      if (s.find('\n') != std::string_view::npos && literal_ok(s)) {
        out << YAML::Literal << std::string(s.substr(0, s.size() - 1));
      } else if (needs_quotes(s)) {
        out << YAML::DoubleQuoted << std::string(s);
      } else {
        out << std::string(s);
      }
      break;
    }
    case rapidjson::kObjectType:
      if (v.MemberCount() == 0) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        break;
      }
      out << YAML::BeginMap;
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        std::string_view k = json::as_string_view(it->name);
        out << YAML::Key;
        if (needs_quotes(k)) {
          out << YAML::DoubleQuoted << std::string(k);
        } else {
          out << std::string(k);
        }
        out << YAML::Value;
        emit_value(out, it->value);
      }
      out << YAML::EndMap;
      break;
    case rapidjson::kArrayType:
      if (v.Empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const Value& e : v.GetArray()) emit_value(out, e);
      out << YAML::EndSeq;
      break;
  }
}

}  // namespace

absl::StatusOr<std::vector<rapidjson::Document>> yaml_to_json(std::string_view text,
                                                              std::string_view source) {
  auto docs = parse_documents(text, source);
  if (!docs.ok()) return docs.status();
  std::vector<rapidjson::Document> out;
  out.reserve(docs->size());
  for (auto& d : *docs) out.push_back(std::move(d.doc));
  return out;
}

absl::StatusOr<std::vector<Object>> parse_yaml_objects(std::string_view text,
                                                       std::string_view source) {
  auto docs = parse_documents(text, source);
  if (!docs.ok()) return docs.status();
  std::vector<Object> out;
  out.reserve(docs->size());
  for (auto& d : *docs) {
    if (d.doc.IsObject() && is_list(d.doc)) {
      const Value& items = *json::find_array(&d.doc, "items");
      for (rapidjson::SizeType i = 0; i < items.Size(); ++i) {
        auto s = check_object(items[i], source, d.mark, d.index, fmt::format("items[{}] ", i));
        if (!s.ok()) return s;
        auto obj = Object::from_value(items[i]);
        if (!obj.ok()) return obj.status();
        out.push_back(*std::move(obj));
      }
      continue;
    }
    if (auto s = check_object(d.doc, source, d.mark, d.index, "the document "); !s.ok()) return s;
    // A copy rather than from_document(): the builder's pool has 64 KiB chunks, the copy's is
    // sized to the object.
    auto obj = Object::from_value(d.doc);
    if (!obj.ok()) return obj.status();
    out.push_back(*std::move(obj));
  }
  return out;
}

absl::StatusOr<Object> parse_yaml_object(std::string_view text, std::string_view source) {
  auto objs = parse_yaml_objects(text, source);
  if (!objs.ok()) return objs.status();
  if (objs->size() != 1) {
    return absl::InvalidArgumentError(
        fmt::format("{}: want exactly one object, found {}", source, objs->size()));
  }
  return std::move(objs->front());
}

absl::StatusOr<std::vector<Object>> load_manifest_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open", path));
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    auto obj = Object::parse(text);
    if (!obj.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}", path, std::string(obj.status().message())));
    }
    const Value& root = obj->doc();
    if (is_list(root)) {
      std::vector<Object> out;
      const Value& items = *json::find_array(&root, "items");
      for (rapidjson::SizeType i = 0; i < items.Size(); ++i) {
        auto s =
            check_object(items[i], path, YAML::Mark::null_mark(), 0, fmt::format("items[{}] ", i));
        if (!s.ok()) return s;
        auto item = Object::from_value(items[i]);
        if (!item.ok()) return item.status();
        out.push_back(*std::move(item));
      }
      return out;
    }
    if (auto s = check_object(root, path, YAML::Mark::null_mark(), 0, "the document "); !s.ok()) {
      return s;
    }
    std::vector<Object> out;
    out.push_back(*std::move(obj));
    return out;
  }
  return parse_yaml_objects(text, path);
}

std::string to_yaml(const rapidjson::Value& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetNullFormat(YAML::LowerNull);
  emit_value(out, value);
  std::string s = out.c_str();
  if (s.empty() || s.back() != '\n') s.push_back('\n');
  return s;
}

std::string to_yaml(const Object& obj) {
  return to_yaml(static_cast<const Value&>(obj.doc()));
}

std::string to_yaml(std::span<const Object> objects) {
  std::string out;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (i) out += "---\n";
    out += to_yaml(objects[i]);
  }
  return out;
}

}  // namespace kop::api
