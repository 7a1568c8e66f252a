#include "kop/api/labels.h"

#include <absl/status/status.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "kop/api/json.h"
#include "kop/api/validation.h"

namespace kop::api {

namespace {

// Debian's abseil has its own string_view; messages cross over as std::string.
std::string msg(const absl::Status& s) {
  return std::string(s.message());
}

std::optional<int64_t> parse_int64(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

void sort_unique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// ---- lexer (apimachinery's labels.Lexer, plus byte positions) ----

enum class Tok {
  kError,
  kEnd,
  kClosePar,
  kComma,
  kNot,
  kDoubleEquals,
  kEquals,
  kGreater,
  kIdentifier,
  kIn,
  kLess,
  kNotEquals,
  kNotIn,
  kOpenPar,
};

struct Item {
  Tok tok;
  std::string_view text;
  size_t pos;
};

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_special(char c) {
  switch (c) {
    case '=':
    case '!':
    case '(':
    case ')':
    case ',':
    case '>':
    case '<':
      return true;
    default:
      return false;
  }
}

std::vector<Item> lex(std::string_view s) {
  std::vector<Item> items;
  size_t i = 0;
  while (true) {
    while (i < s.size() && is_blank(s[i])) ++i;
    if (i >= s.size()) {
      items.push_back({Tok::kEnd, {}, s.size()});
      return items;
    }
    size_t start = i;
    char c = s[i];
    if (is_special(c)) {
      // Longest operator: "==" and "!=" are the only two-character ones.
      char next = i + 1 < s.size() ? s[i + 1] : '\0';
      Tok t;
      size_t len = 1;
      switch (c) {
        case '=':
          if (next == '=') {
            t = Tok::kDoubleEquals;
            len = 2;
          } else {
            t = Tok::kEquals;
          }
          break;
        case '!':
          if (next == '=') {
            t = Tok::kNotEquals;
            len = 2;
          } else {
            t = Tok::kNot;
          }
          break;
        case '(':
          t = Tok::kOpenPar;
          break;
        case ')':
          t = Tok::kClosePar;
          break;
        case ',':
          t = Tok::kComma;
          break;
        case '>':
          t = Tok::kGreater;
          break;
        default:
          t = Tok::kLess;
          break;
      }
      i += len;
      items.push_back({t, s.substr(start, len), start});
      continue;
    }
    while (i < s.size() && !is_special(s[i]) && !is_blank(s[i])) ++i;
    std::string_view word = s.substr(start, i - start);
    Tok t = word == "in" ? Tok::kIn : word == "notin" ? Tok::kNotIn : Tok::kIdentifier;
    items.push_back({t, word, start});
  }
}

// ---- parser (apimachinery's labels.Parser) ----

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), items_(lex(text)) {}

  absl::StatusOr<std::vector<LabelRequirement>> parse() {
    std::vector<LabelRequirement> out;
    while (true) {
      const Item& it = peek(true);
      switch (it.tok) {
        case Tok::kIdentifier:
        case Tok::kNot: {
          auto r = parse_requirement();
          if (!r.ok()) return r.status();
          out.push_back(*std::move(r));
          const Item& sep = next(true);
          if (sep.tok == Tok::kEnd) return out;
          if (sep.tok != Tok::kComma) return error(sep, "',' or end of string");
          const Item& after = peek(true);
          if (after.tok != Tok::kIdentifier && after.tok != Tok::kNot) {
            return error(after, "identifier after ','");
          }
          break;
        }
        case Tok::kEnd:
          return out;
        default:
          return error(it, "!, identifier, or end of string");
      }
    }
  }

 private:
  // In value context the keywords "in"/"notin" are plain identifiers ("x in (in)").
  Item view(const Item& it, bool values) const {
    Item out = it;
    if (values && (it.tok == Tok::kIn || it.tok == Tok::kNotIn)) out.tok = Tok::kIdentifier;
    return out;
  }
  const Item& peek(bool values) {
    scratch_ = view(items_[pos_], values);
    return scratch_;
  }
  const Item& next(bool values) {
    scratch_ = view(items_[pos_], values);
    if (pos_ + 1 < items_.size()) ++pos_;
    return scratch_;
  }

  absl::Status error(const Item& found, std::string_view expected) const {
    std::string what =
        found.tok == Tok::kEnd ? std::string("end of string") : fmt::format("'{}'", found.text);
    return absl::InvalidArgumentError(
        fmt::format("label selector \"{}\": position {}: found {}, "
                    "expected: {}",
                    text_, found.pos, what, expected));
  }
  absl::Status invalid(size_t pos, const absl::Status& why) const {
    return absl::InvalidArgumentError(
        fmt::format("label selector \"{}\": position {}: {}", text_, pos, msg(why)));
  }

  absl::StatusOr<LabelRequirement> parse_requirement() {
    // [!] KEY
    bool negated = false;
    Item key = next(true);
    if (key.tok == Tok::kNot) {
      negated = true;
      key = next(true);
    }
    if (key.tok != Tok::kIdentifier) return error(key, "identifier");
    if (auto s = validate_label_key(key.text); !s.ok()) return invalid(key.pos, s);
    Tok after = peek(true).tok;
    if (negated || after == Tok::kEnd || after == Tok::kComma) {
      return make(key, negated ? SelectorOperator::kDoesNotExist : SelectorOperator::kExists, {});
    }
    // operator
    Item op_item = next(false);
    SelectorOperator op;
    switch (op_item.tok) {
      case Tok::kIn:
        op = SelectorOperator::kIn;
        break;
      case Tok::kNotIn:
        op = SelectorOperator::kNotIn;
        break;
      case Tok::kEquals:
        op = SelectorOperator::kEquals;
        break;
      case Tok::kDoubleEquals:
        op = SelectorOperator::kDoubleEquals;
        break;
      case Tok::kNotEquals:
        op = SelectorOperator::kNotEquals;
        break;
      case Tok::kGreater:
        op = SelectorOperator::kGreaterThan;
        break;
      case Tok::kLess:
        op = SelectorOperator::kLessThan;
        break;
      default:
        return error(op_item, "in, notin, =, ==, !=, >, <");
    }
    std::vector<std::string> values;
    if (op == SelectorOperator::kIn || op == SelectorOperator::kNotIn) {
      if (auto s = parse_values(values); !s.ok()) return s;
    } else {
      if (auto s = parse_exact_value(op, values); !s.ok()) return s;
    }
    return make(key, op, std::move(values));
  }

  absl::StatusOr<LabelRequirement> make(const Item& key, SelectorOperator op,
                                        std::vector<std::string> values) {
    auto r = LabelRequirement::create(key.text, op, std::move(values));
    if (!r.ok()) return invalid(key.pos, r.status());
    return r;
  }

  absl::Status check_value(const Item& it) const {
    if (auto s = validate_label_value(it.text); !s.ok()) return invalid(it.pos, s);
    return absl::OkStatus();
  }

  // "(" [VALUE] {"," [VALUE]} ")": empty entries are the empty value, as in apimachinery.
  absl::Status parse_values(std::vector<std::string>& values) {
    const Item& open = next(true);
    if (open.tok != Tok::kOpenPar) return error(open, "'('");
    bool expect_value = true;  // at the start or right after a comma
    while (true) {
      Item it = next(true);
      switch (it.tok) {
        case Tok::kIdentifier:
          if (!expect_value) return error(it, "',' or ')'");
          if (auto s = check_value(it); !s.ok()) return s;
          values.emplace_back(it.text);
          expect_value = false;
          break;
        case Tok::kComma:
          if (expect_value) values.emplace_back();  // "(,", ",," : an empty value
          expect_value = true;
          break;
        case Tok::kClosePar:
          if (expect_value) values.emplace_back();  // "()", ",)": an empty value
          sort_unique(values);
          return absl::OkStatus();
        default:
          return error(it, expect_value ? "',', ')' or identifier" : "',' or ')'");
      }
    }
  }

  absl::Status parse_exact_value(SelectorOperator op, std::vector<std::string>& values) {
    const Item& la = peek(true);
    if (la.tok == Tok::kEnd || la.tok == Tok::kComma) {
      values.emplace_back();  // "key=" selects the empty value
      return absl::OkStatus();
    }
    Item it = next(true);
    if (it.tok != Tok::kIdentifier) return error(it, "identifier");
    if (auto s = check_value(it); !s.ok()) return s;
    if ((op == SelectorOperator::kGreaterThan || op == SelectorOperator::kLessThan) &&
        !parse_int64(it.text)) {
      return invalid(it.pos, absl::InvalidArgumentError(fmt::format(
                                 "for '>', '<' operators, the value must be an integer, got \"{}\"",
                                 it.text)));
    }
    values.emplace_back(it.text);
    return absl::OkStatus();
  }

  std::string_view text_;
  std::vector<Item> items_;
  size_t pos_ = 0;
  Item scratch_{};
};

absl::Status selector_error(std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("label selector: {}", what));
}

}  // namespace

std::string_view to_string(SelectorOperator op) {
  switch (op) {
    case SelectorOperator::kEquals:
      return "=";
    case SelectorOperator::kDoubleEquals:
      return "==";
    case SelectorOperator::kNotEquals:
      return "!=";
    case SelectorOperator::kIn:
      return "in";
    case SelectorOperator::kNotIn:
      return "notin";
    case SelectorOperator::kExists:
      return "exists";
    case SelectorOperator::kDoesNotExist:
      return "!";
    case SelectorOperator::kGreaterThan:
      return ">";
    case SelectorOperator::kLessThan:
      return "<";
  }
  return "?";
}

// ---- LabelRequirement ----

absl::StatusOr<LabelRequirement> LabelRequirement::create(std::string_view key, SelectorOperator op,
                                                          std::vector<std::string> values) {
  if (auto s = validate_label_key(key); !s.ok()) return s;
  switch (op) {
    case SelectorOperator::kIn:
    case SelectorOperator::kNotIn:
      if (values.empty()) {
        return absl::InvalidArgumentError(
            fmt::format("key \"{}\": for 'in', 'notin' operators, values set can't be empty", key));
      }
      sort_unique(values);
      break;
    case SelectorOperator::kEquals:
    case SelectorOperator::kDoubleEquals:
    case SelectorOperator::kNotEquals:
      if (values.size() != 1) {
        return absl::InvalidArgumentError(
            fmt::format("key \"{}\": exact-match compatibility requires one single value", key));
      }
      break;
    case SelectorOperator::kExists:
    case SelectorOperator::kDoesNotExist:
      if (!values.empty()) {
        return absl::InvalidArgumentError(
            fmt::format("key \"{}\": values set must be empty for exists and does not exist", key));
      }
      break;
    case SelectorOperator::kGreaterThan:
    case SelectorOperator::kLessThan:
      if (values.size() != 1 || !parse_int64(values[0])) {
        return absl::InvalidArgumentError(fmt::format(
            "key \"{}\": for '>', '<' operators, exactly one integer value is required", key));
      }
      break;
  }
  for (const auto& v : values) {
    if (auto s = validate_label_value(v); !s.ok()) {
      return absl::InvalidArgumentError(fmt::format("key \"{}\": {}", key, msg(s)));
    }
  }
  return LabelRequirement(std::string(key), op, std::move(values));
}

bool LabelRequirement::matches(std::optional<std::string_view> value) const {
  auto has = [&](std::string_view v) {
    return std::find(values_.begin(), values_.end(), v) != values_.end();
  };
  switch (op_) {
    case SelectorOperator::kIn:
    case SelectorOperator::kEquals:
    case SelectorOperator::kDoubleEquals:
      return value && has(*value);
    case SelectorOperator::kNotIn:
    case SelectorOperator::kNotEquals:
      return !value || !has(*value);
    case SelectorOperator::kExists:
      return value.has_value();
    case SelectorOperator::kDoesNotExist:
      return !value.has_value();
    case SelectorOperator::kGreaterThan:
    case SelectorOperator::kLessThan: {
      if (!value || values_.size() != 1) return false;
      auto lhs = parse_int64(*value);
      auto rhs = parse_int64(values_[0]);
      if (!lhs || !rhs) return false;
      return op_ == SelectorOperator::kGreaterThan ? *lhs > *rhs : *lhs < *rhs;
    }
  }
  return false;
}

std::string LabelRequirement::to_string() const {
  std::string out;
  switch (op_) {
    case SelectorOperator::kExists:
      return key_;
    case SelectorOperator::kDoesNotExist:
      return "!" + key_;
    case SelectorOperator::kIn:
    case SelectorOperator::kNotIn: {
      out = key_;
      out += op_ == SelectorOperator::kIn ? " in (" : " notin (";
      for (size_t i = 0; i < values_.size(); ++i) {
        if (i) out += ',';
        out += values_[i];
      }
      out += ')';
      return out;
    }
    default:
      out = key_;
      out += api::to_string(op_);
      out += values_.empty() ? std::string() : values_[0];
      return out;
  }
}

// ---- LabelSelector ----

LabelSelector LabelSelector::nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}

absl::StatusOr<LabelSelector> LabelSelector::parse(std::string_view text) {
  Parser p(text);
  auto reqs = p.parse();
  if (!reqs.ok()) return reqs.status();
  LabelSelector s;
  s.requirements_ = *std::move(reqs);
  std::stable_sort(s.requirements_.begin(), s.requirements_.end(),
                   [](const auto& a, const auto& b) { return a.key() < b.key(); });
  return s;
}

absl::StatusOr<LabelSelector> LabelSelector::from_json(const rapidjson::Value* sel) {
  if (!sel || sel->IsNull()) return nothing();
  if (!sel->IsObject()) return selector_error("a metav1.LabelSelector must be a JSON object");
  LabelSelector s;
  if (const json::Value* ml = json::find(*sel, "matchLabels"); ml && !ml->IsNull()) {
    if (!ml->IsObject()) return selector_error("matchLabels must be an object");
    for (auto it = ml->MemberBegin(); it != ml->MemberEnd(); ++it) {
      if (!it->value.IsString()) {
        return selector_error(
            fmt::format("matchLabels[\"{}\"] must be a string", json::as_string_view(it->name)));
      }
      auto r = LabelRequirement::create(json::as_string_view(it->name), SelectorOperator::kEquals,
                                        {std::string(json::as_string_view(it->value))});
      if (!r.ok()) return selector_error(msg(r.status()));
      s.add(*std::move(r));
    }
  }
  if (const json::Value* me = json::find(*sel, "matchExpressions"); me && !me->IsNull()) {
    if (!me->IsArray()) return selector_error("matchExpressions must be an array");
    for (rapidjson::SizeType i = 0; i < me->Size(); ++i) {
      const json::Value& e = (*me)[i];
      if (!e.IsObject()) {
        return selector_error(fmt::format("matchExpressions[{}] must be an object", i));
      }
      std::string_view key = json::string_or_empty(&e, "key");
      std::string_view op_name = json::string_or_empty(&e, "operator");
      SelectorOperator op;
      if (op_name == "In") {
        op = SelectorOperator::kIn;
      } else if (op_name == "NotIn") {
        op = SelectorOperator::kNotIn;
      } else if (op_name == "Exists") {
        op = SelectorOperator::kExists;
      } else if (op_name == "DoesNotExist") {
        op = SelectorOperator::kDoesNotExist;
      } else {
        return selector_error(fmt::format(
            "matchExpressions[{}]: \"{}\" is not a valid label selector operator", i, op_name));
      }
      std::vector<std::string> values;
      if (const json::Value* vs = json::find(e, "values"); vs && !vs->IsNull()) {
        if (!vs->IsArray()) {
          return selector_error(fmt::format("matchExpressions[{}].values must be an array", i));
        }
        for (const json::Value& v : vs->GetArray()) {
          if (!v.IsString()) {
            return selector_error(fmt::format("matchExpressions[{}].values must hold strings", i));
          }
          values.emplace_back(json::as_string_view(v));
        }
      }
      auto r = LabelRequirement::create(key, op, std::move(values));
      if (!r.ok()) {
        return selector_error(fmt::format("matchExpressions[{}]: {}", i, msg(r.status())));
      }
      s.add(*std::move(r));
    }
  }
  return s;
}

LabelSelector LabelSelector::from_map(const StringMap& labels) {
  LabelSelector s;
  s.requirements_.reserve(labels.size());
  for (const auto& [k, v] : labels) {  // already sorted by key
    s.requirements_.push_back(LabelRequirement(k, SelectorOperator::kEquals, {v}));
  }
  return s;
}

LabelSelector& LabelSelector::add(LabelRequirement r) {
  if (nothing_) return *this;
  auto pos = std::upper_bound(requirements_.begin(), requirements_.end(), r.key(),
                              [](const std::string& k, const auto& e) { return k < e.key(); });
  requirements_.insert(pos, std::move(r));
  return *this;
}

template <typename Lookup>
bool LabelSelector::matches_impl(const Lookup& lookup) const {
  if (nothing_) return false;
  for (const auto& r : requirements_) {
    if (!r.matches(lookup(r.key()))) return false;
  }
  return true;
}

bool LabelSelector::matches(const StringMap& labels) const {
  return matches_impl([&](const std::string& key) -> std::optional<std::string_view> {
    auto it = labels.find(key);
    if (it == labels.end()) return std::nullopt;
    return std::string_view(it->second);
  });
}

bool LabelSelector::matches(const absl::flat_hash_map<std::string, std::string>& labels) const {
  return matches_impl([&](const std::string& key) -> std::optional<std::string_view> {
    auto it = labels.find(key);
    if (it == labels.end()) return std::nullopt;
    return std::string_view(it->second);
  });
}

bool LabelSelector::matches(const Object& obj) const {
  return matches_json(json::find_object(obj.metadata(), "labels"));
}

bool LabelSelector::matches_json(const rapidjson::Value* labels) const {
  return matches_impl([&](const std::string& key) { return json::get_string(labels, key); });
}

std::string LabelSelector::to_string() const {
  std::string out;
  for (size_t i = 0; i < requirements_.size(); ++i) {
    if (i) out += ',';
    out += requirements_[i].to_string();
  }
  return out;
}

std::optional<std::string_view> LabelSelector::requires_exact_match(std::string_view key) const {
  for (const auto& r : requirements_) {
    if (r.key() != key) continue;
    switch (r.op()) {
      case SelectorOperator::kEquals:
      case SelectorOperator::kDoubleEquals:
      case SelectorOperator::kIn:
        if (r.values().size() == 1) return std::string_view(r.values()[0]);
        return std::nullopt;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace kop::api
