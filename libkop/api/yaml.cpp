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
#include <optional>
#include <sstream>

#include "kop/api/json.h"
#include "yaml_scalar.h"
#include "yaml_text.h"

namespace kop::api {

namespace {

using Value = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// Guards against alias bombs ("billion laughs") and runaway nesting.
constexpr size_t kMaxValues = size_t{1} << 22;
constexpr size_t kMaxDepth = 512;

// ---- event handler building RapidJSON ----

struct Frame {
  Value value;  // object or array under construction
  bool is_map = false;
  bool has_key = false;
  bool key_is_merge = false;
  std::string key;
  YAML::Mark key_mark;
  YAML::anchor_t anchor = 0;
  absl::flat_hash_set<std::string> keys;  // explicit keys of large maps (duplicate detection)
  // Keys a "<<" put there: a later explicit key overwrites them instead of being a duplicate.
  absl::flat_hash_set<std::string> merged;
  bool has_merged = false;
};

bool is_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = yaml_scalar::utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// A scalar as UTF-8. The text was checked before parsing (yaml_text::decode), so bytes that are
// not UTF-8 come from escapes: yaml-cpp 0.7 writes "\N" and "\_" as the single bytes 0x85 and
// 0xA0 instead of U+0085 and U+00A0 (go-yaml reads them as those characters). Anything else
// that is not UTF-8 is an error (nullopt).
std::optional<std::string> scalar_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size() + 4);
  for (size_t i = 0; i < text.size();) {
    const size_t n = yaml_scalar::utf8_sequence_length(text, i);
    const auto c = static_cast<unsigned char>(text[i]);
    if (n == 0 && (c == 0x85 || c == 0xA0)) {
      out += static_cast<char>(0xC2);
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (n == 0) return std::nullopt;
    out.append(text, i, n);
    i += n;
  }
  return out;
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
    if (key_expected()) return fail(mark, "a null mapping key has no JSON form");
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
                const std::string& raw) override {
    if (failed()) return;
    std::optional<std::string> repaired;
    std::string_view text = raw;
    if (!is_utf8(raw)) {
      repaired = scalar_utf8(raw);
      if (!repaired) return fail(mark, "invalid UTF-8");
      text = *repaired;
    }
    auto resolved = yaml_scalar::resolve(tag, text);
    if (!resolved.ok()) return fail(mark, std::string(resolved.status().message()));
    if (key_expected()) {
      bool merge = resolved->kind == yaml_scalar::Resolved::Kind::kMerge;
      auto key = yaml_scalar::to_key(*std::move(resolved));
      if (!key.ok()) return fail(mark, std::string(key.status().message()));
      return set_key(*key, mark, merge);
    }
    Value v;
    if (auto s = yaml_scalar::to_json(*std::move(resolved), v, alloc_); !s.ok()) {
      return fail(mark, std::string(s.message()));
    }
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
  void OnMapEnd() override { close(); }

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
    if (!f.merged.empty() && f.merged.erase(absl::string_view(key.data(), key.size()))) {
      if (!f.keys.empty()) f.keys.insert(std::string(key));
      return false;
    }
    constexpr rapidjson::SizeType kScanLimit = 16;
    if (f.value.MemberCount() < kScanLimit) return json::find(f.value, key) != nullptr;
    if (f.keys.empty()) {
      for (auto it = f.value.MemberBegin(); it != f.value.MemberEnd(); ++it) {
        f.keys.insert(std::string(json::as_string_view(it->name)));
      }
    }
    return !f.keys.insert(std::string(key)).second;
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

  // "<<" as go-yaml v2 reads it: the source's keys are set where the "<<" stands, over what
  // the map holds so far; of a list of sources, the first wins. Explicit keys after it win.
  void apply_merge(Frame& f, Value& src) {
    f.has_merged = true;
    auto merge_one = [&](Value& m) {
      for (auto it = m.MemberBegin(); it != m.MemberEnd(); ++it) {
        std::string_view k = json::as_string_view(it->name);
        if (Value* have = json::find(f.value, k)) {
          *have = Value(it->value, alloc_);
        } else {
          f.value.AddMember(json::make_string(k, alloc_), Value(it->value, alloc_), alloc_);
        }
        f.merged.insert(std::string(k));
      }
    };
    if (src.IsObject()) return merge_one(src);
    for (rapidjson::SizeType i = src.Size(); i-- > 0;) merge_one(src[i]);
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
      apply_merge(f, v);
    } else if (Value* merged = f.has_merged ? json::find(f.value, f.key) : nullptr) {
      *merged = std::move(v);
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
    if (source.empty()) {
      return absl::InvalidArgumentError(fmt::format("document index {}: {}", doc, what));
    }
    return absl::InvalidArgumentError(fmt::format("{}: document index {}: {}", source, doc, what));
  }
  if (source.empty()) {
    // The caller names the input itself (the manifest loader's problems carry the file).
    return absl::InvalidArgumentError(fmt::format("line {} column {}: document index {}: {}",
                                                  mark.line + 1, mark.column + 1, doc, what));
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

// Counts what the parser sees without building anything: the index of the document a prefix
// of the text ends in.
class DocumentCounter : public YAML::EventHandler {
 public:
  const YAML::Mark& doc_mark() const { return doc_mark_; }
  void OnDocumentStart(const YAML::Mark& mark) override { doc_mark_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  YAML::Mark doc_mark_;
};

// The 0-based index (empty documents count) of the document that `prefix`, the text before a
// problem, ends in. A syntax error in the cut text ends the count at the document it is in.
size_t document_index_at_end(std::string prefix) {
  std::istringstream in{std::move(prefix)};
  size_t seen = 0;
  try {
    YAML::Parser parser(in);
    DocumentCounter counter;
    int last_start = -1;
    while (parser.HandleNextDocument(counter)) {
      if (counter.doc_mark().pos == last_start) return seen;  // the stray-',' loop, see below
      last_start = counter.doc_mark().pos;
      ++seen;
    }
  } catch (const std::exception&) {
    return seen;
  }
  return seen == 0 ? 0 : seen - 1;
}

// Reads document after document from yaml-cpp's event stream, each straight into its own
// RapidJSON document.
absl::Status read_documents(std::string_view raw, std::string_view source,
                            absl::FunctionRef<void(ParsedDoc&&)> fn) {
  // The encoding and the character set, as kubectl's reader checks them, before yaml-cpp (which
  // checks neither) reads anything: no document is handed over from text kubectl refuses.
  yaml_text::Decoded text = yaml_text::decode(raw);
  if (text.problem) {
    const yaml_text::Problem& p = *text.problem;
    YAML::Mark mark;
    mark.line = static_cast<int>(p.line - 1);
    mark.column = static_cast<int>(p.column - 1);
    return yaml_error(source, mark, document_index_at_end(std::move(text.utf8)),
                      fmt::format("{} (byte offset {})", p.what, p.offset));
  }
  std::istringstream in{std::move(text.utf8)};
  size_t index = 0;
  try {
    YAML::Parser parser(in);
    int last_start = -1;  // where the previous document began
    while (true) {
      ParsedDoc doc{rapidjson::Document(), index, YAML::Mark()};
      JsonBuilder builder(doc.doc.GetAllocator(), doc.doc);
      bool more = false;
      try {
        more = parser.HandleNextDocument(builder);
      } catch (const YAML::Exception& e) {
        return yaml_error(source, e.mark, index, e.msg);
      }
      if (!more) break;
      // yaml-cpp 0.7 does not consume a token that cannot start a node (a ',' outside [] or {}):
      // it reports the same empty document at the same place forever, allocating as it goes.
      if (builder.doc_mark().pos == last_start) {
        return yaml_error(source, builder.doc_mark(), index, "unexpected token (a stray ',')");
      }
      last_start = builder.doc_mark().pos;
      if (builder.failed()) return yaml_error(source, builder.error_mark(), index, builder.error());
      if (builder.has_root() && !doc.doc.IsNull()) {
        doc.mark = builder.doc_mark();
        fn(std::move(doc));
      }
      ++index;
    }
  } catch (const std::exception& e) {
    return yaml_error(source, YAML::Mark::null_mark(), index, e.what());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ParsedDoc>> parse_documents(std::string_view text,
                                                       std::string_view source) {
  std::vector<ParsedDoc> out;
  auto s = read_documents(text, source, [&](ParsedDoc&& d) { out.push_back(std::move(d)); });
  if (!s.ok()) return s;
  return out;
}

// ---- emitter ----

bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  // yaml-cpp writes some strings with a carriage return plain ("\r" alone), which read back as
  // a line break; quoted, control characters are escaped.
  if (s.find('\r') != std::string_view::npos) return true;
  // "---" or "..." and then a blank or the end open or close a document where they start a line
  // (a root scalar, a root key); yaml-cpp writes them plain.
  if ((s.starts_with("---") || s.starts_with("...")) &&
      (s.size() == 3 || s[3] == ' ' || s[3] == '\t' || s[3] == '\n')) {
    return true;
  }
  // Anything kubectl would read as another type, or as a merge key.
  auto plain = yaml_scalar::resolve("?", s);
  if (!plain.ok() || plain->kind != yaml_scalar::Resolved::Kind::kString) return true;
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

// Strings yaml-cpp's emitter cannot write faithfully (yaml_text::needs_escapes) are written by
// kop: yaml-cpp writes an empty double-quoted scalar in their place, so that its layout stays
// right, and to_yaml replaces those two bytes with the escaped text afterwards.
struct Splice {
  size_t at;  // offset of the placeholder `""` in yaml-cpp's output
  std::string text;
};

// A key written "key: value" must end within 1024 characters of its start (YAML's limit on
// implicit keys; go-yaml and yaml-cpp refuse longer ones), so a key whose written form may be
// longer is written as an explicit key ("? key" and ": value" on the next line).
bool long_key(std::string_view k) {
  constexpr size_t kLimit = 1000;
  if (yaml_text::needs_escapes(k)) return yaml_text::double_quoted(k).size() > kLimit;
  return 2 * k.size() + 2 > kLimit;  // yaml-cpp's escapes write one byte as two at most
}

// Writes `s` as a scalar (a value or a key).
void emit_string(YAML::Emitter& out, std::vector<Splice>& splices, std::string_view s,
                 bool allow_literal) {
  if (yaml_text::needs_escapes(s)) {
    out << YAML::DoubleQuoted << "";
    splices.push_back(Splice{out.size() - 2, yaml_text::double_quoted(s)});
  } else if (allow_literal && s.find('\n') != std::string_view::npos && literal_ok(s)) {
    out << YAML::Literal << std::string(s.substr(0, s.size() - 1));
  } else if (needs_quotes(s)) {
    out << YAML::DoubleQuoted << std::string(s);
  } else {
    out << std::string(s);
  }
}

void emit_value(YAML::Emitter& out, std::vector<Splice>& splices, const Value& v) {
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
    case rapidjson::kStringType:
      emit_string(out, splices, json::as_string_view(v), true);
      break;
    case rapidjson::kObjectType:
      if (v.MemberCount() == 0) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        break;
      }
      out << YAML::BeginMap;
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        std::string_view k = json::as_string_view(it->name);
        out << YAML::Key;
        if (long_key(k)) out << YAML::LongKey;
        emit_string(out, splices, k, false);
        out << YAML::Value;
        emit_value(out, splices, it->value);
      }
      out << YAML::EndMap;
      break;
    case rapidjson::kArrayType:
      if (v.Empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const Value& e : v.GetArray()) emit_value(out, splices, e);
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

absl::StatusOr<rapidjson::Document> yaml_first_document(std::string_view text,
                                                        std::string_view source) {
  rapidjson::Document first;
  bool found = false;
  auto s = read_documents(text, source, [&](ParsedDoc&& d) {
    if (!found) first.Swap(d.doc);
    found = true;
  });
  if (!s.ok()) return s;
  return first;
}

absl::Status for_each_yaml_document(
    std::string_view text, std::string_view source,
    absl::FunctionRef<void(rapidjson::Document&& doc, size_t index)> fn) {
  return read_documents(text, source, [&](ParsedDoc&& d) { fn(std::move(d.doc), d.index); });
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
  std::vector<Splice> splices;
  emit_value(out, splices, value);
  std::string_view emitted(out.c_str(), out.size());
  std::string s;
  size_t from = 0;
  for (const Splice& sp : splices) {
    s.append(emitted.substr(from, sp.at - from));
    s += sp.text;
    from = sp.at + 2;
  }
  s.append(emitted.substr(from));
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
