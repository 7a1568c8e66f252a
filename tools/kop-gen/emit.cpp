#include "emit.h"

#include <fmt/format.h>
#include <kop/api/json.h>

#include <cstdint>
#include <map>
#include <set>

#include "names.h"

namespace kop::gen {
namespace {

namespace json = kop::api::json;
using T = Schema::Type;

constexpr std::string_view kTyped = "kop::api::typed::";
constexpr size_t kMaxTypeName = 48;  // longer path names restart from the kind's name

// One line of a description: printable ASCII only, at most ~300 characters, wrapped at 96
// columns. No line ends in a backslash (that would continue the comment into the code).
std::string comment(std::string_view indent, std::string_view text) {
  std::string flat;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    bool space = u < 0x20 || u == 0x7f || c == ' ';
    if (space) {
      if (!flat.empty() && flat.back() != ' ') flat += ' ';
    } else {
      flat += c;
    }
  }
  while (!flat.empty() && flat.back() == ' ') flat.pop_back();
  if (flat.empty()) return {};
  if (flat.size() > 300) {
    size_t cut = flat.rfind(' ', 300);
    flat = flat.substr(0, cut == std::string::npos || cut < 200 ? 300 : cut) + " ...";
  }
  std::string out;
  std::string line;
  auto flush = [&] {
    if (!line.empty() && (line.back() == '\\' || line.back() == '/')) line += '.';
    out += fmt::format("{}// {}\n", indent, line);
    line.clear();
  };
  size_t pos = 0;
  while (pos < flat.size()) {
    size_t sp = flat.find(' ', pos);
    std::string word = flat.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos);
    pos = sp == std::string::npos ? flat.size() : sp + 1;
    if (!line.empty() && line.size() + 1 + word.size() > 96) flush();
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) flush();
  return out;
}

std::string int_literal(int64_t v) {
  if (v == INT64_MIN) return "(-9223372036854775807 - 1)";
  return fmt::format("int64_t{{{}}}", v);
}

std::string double_literal(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

// How a node of the schema reads in C++.
struct TypeRef {
  std::string type;     // an element's type (std::string_view, int64_t, Website Spec, ...)
  std::string reader;   // the element reader: a function or &Class::from
  std::string builder;  // objects: their builder class
  std::string parse;    // string enums: the parse_* function
};

// Member names one field may use (its getter and the derived accessors).
std::vector<std::string> derived(const std::string& m) {
  return {m,
          "has_" + m,
          m + "_is_null",
          m + "_text",
          m + "_time",
          "set_" + m,
          "set_" + m + "_text",
          "set_" + m + "_null",
          "set_" + m + "_json",
          "clear_" + m,
          "mutable_" + m,
          "add_" + m,
          "add_" + m + "_json",
          "remove_" + m};
}

struct Field {
  std::string key;     // the JSON name
  std::string lit;     // the JSON name as a C++ literal
  std::string member;  // the C++ name
  const Schema* schema;
  TypeRef ref;
};

class Emitter {
 public:
  Emitter(const Crd& crd, std::string version, Scope& types, std::string& out)
      : crd_(crd), version_(std::move(version)), types_(types), out_(out) {}

  absl::Status emit_root(const Schema& root) {
    std::string name = new_type(pascal_name(crd_.kind));
    parts_[name] = {pascal_name(crd_.kind)};
    emit_object(root, name, /*root=*/true, "");
    return error_;
  }

 private:
  // Takes `base` (or base2, ...) with its builder, parse_ and read_ names in the namespace.
  std::string new_type(const std::string& base) {
    for (int n = 1;; ++n) {
      std::string name = n == 1 ? base : base + std::to_string(n);
      std::string snake = snake_name(name);
      if (types_.taken(name) || types_.taken(name + "Builder") || types_.taken("parse_" + snake) ||
          types_.taken("read_" + snake)) {
        continue;
      }
      for (const std::string& s : {name, name + "Builder", "parse_" + snake, "read_" + snake}) {
        types_.take(s);
      }
      return name;
    }
  }

  // A child's type name is its path in PascalCase (WebsiteStatusConditionsItem); past
  // kMaxTypeName characters, the kind's name and the last path parts that fit
  // (HTTPRouteFiltersItemType rather than the whole path through spec.rules[]).
  std::string child_type(const std::string& parent, std::string_view part) {
    std::vector<std::string> parts = parts_[parent];
    parts.push_back(pascal_name(part));
    std::string base;
    for (const std::string& p : parts) base += p;
    for (size_t keep = 3; base.size() > kMaxTypeName && keep > 0; --keep) {
      base = pascal_name(crd_.kind);
      for (size_t i = parts.size() > keep ? parts.size() - keep : 1; i < parts.size(); ++i) {
        base += parts[i];
      }
    }
    std::string name = new_type(base);
    parts_[name] = std::move(parts);
    return name;
  }

  void fail(const std::string& path, const std::string& what) {
    if (error_.ok()) {
      error_ = absl::InvalidArgumentError(
          fmt::format("CustomResourceDefinition \"{}\": {}: {}", crd_.name, path, what));
    }
  }

  // Emits what `s` needs (post-order: children first) and says how it reads.
  TypeRef emit(const Schema& s, const std::string& name, const std::string& path) {
    switch (s.type) {
      case T::kString:
        if (!s.enum_values.empty()) return emit_enum(s, name, path);
        return {"std::string_view", std::string(kTyped) + "read_string", "", ""};
      case T::kInteger:
        return {"int64_t", std::string(kTyped) + "read_int", "", ""};
      case T::kNumber:
        return {"double", std::string(kTyped) + "read_number", "", ""};
      case T::kBoolean:
        return {"bool", std::string(kTyped) + "read_bool", "", ""};
      case T::kIntOrString:
        return {"kop::api::IntOrString", std::string(kTyped) + "read_int_or_string", "", ""};
      case T::kRaw:
        return {"const rapidjson::Value*", std::string(kTyped) + "read_raw", "", ""};
      case T::kObject:
        emit_object(s, name, false, path);
        return {name, "&" + name + "::from", name + "Builder", ""};
      case T::kArray:
      case T::kMap: {
        bool list = s.type == T::kArray;
        TypeRef item =
            emit(*s.items, child_type(name, list ? "Item" : "Value"), path + (list ? "[]" : ".*"));
        items_[s.items.get()] = item;
        out_ += comment("", s.description);
        out_ += fmt::format("using {} = {}{}<{}, {}>;\n\n", name, kTyped,
                            list ? "ListView" : "MapView", item.type, item.reader);
        return {name, "&" + name + "::from", "", ""};
      }
    }
    return {};
  }

  TypeRef emit_enum(const Schema& s, const std::string& name, const std::string& path) {
    Scope values;
    std::vector<std::pair<std::string, std::string>> members;  // value, enumerator
    std::set<std::string> seen;
    for (const std::string& v : s.enum_values) {
      if (seen.insert(v).second) members.emplace_back(v, values.unique(enum_value_name(v)));
    }
    std::string other = values.unique("kUnrecognized");
    std::string snake = snake_name(name);
    out_ += fmt::format("// The values of {} {}; {} stands for any other text.\n", crd_.kind, path,
                        other);
    out_ += fmt::format("enum class {} {{", name);
    for (const auto& m : members) out_ += fmt::format(" {},", m.second);
    out_ += fmt::format(" {} }};\n\n", other);
    out_ += fmt::format("inline {} parse_{}(std::string_view text) {{\n", name, snake);
    for (const auto& m : members) {
      out_ +=
          fmt::format("  if (text == {}) return {}::{};\n", cpp_literal(m.first), name, m.second);
    }
    out_ += fmt::format("  return {}::{};\n}}\n\n", name, other);
    out_ += fmt::format("// The value's text; \"\" for {}.\n", other);
    out_ += fmt::format("inline std::string_view to_string({} v) {{\n  switch (v) {{\n", name);
    for (const auto& m : members) {
      out_ +=
          fmt::format("    case {}::{}:\n      return {};\n", name, m.second, cpp_literal(m.first));
    }
    out_ +=
        fmt::format("    case {}::{}:\n      break;\n  }}\n  return {{}};\n}}\n\n", name, other);
    out_ += fmt::format(
        "inline {0} read_{1}(const rapidjson::Value* v) {{\n"
        "  return parse_{1}({2}read_string(v));\n}}\n\n",
        name, snake, kTyped);
    return {name, "read_" + snake, "", "parse_" + snake};
  }

  // The C++ expression of a scalar default, or "" when there is none (errors when it does not
  // fit the type).
  std::string default_expr(const Field& f, const std::string& path) {
    const Schema& s = *f.schema;
    if (!s.default_json) return {};
    rapidjson::Document d;
    json::parse_into(d, *s.default_json);
    auto wrong = [&](std::string_view type) {
      fail(path, fmt::format("default {} is not {}", *s.default_json, type));
      return std::string();
    };
    switch (s.type) {
      case T::kString:
        if (!d.IsString()) return wrong("a string");
        if (!f.ref.parse.empty()) {
          return fmt::format("{}({})", f.ref.parse, cpp_literal(json::as_string_view(d)));
        }
        return fmt::format("std::string_view({})", cpp_literal(json::as_string_view(d)));
      case T::kInteger:
        if (!d.IsInt64()) return wrong("an integer");
        return int_literal(d.GetInt64());
      case T::kNumber:
        if (!d.IsNumber()) return wrong("a number");
        return double_literal(d.GetDouble());
      case T::kBoolean:
        if (!d.IsBool()) return wrong("a boolean");
        return d.GetBool() ? "true" : "false";
      case T::kIntOrString:
        if (d.IsInt64()) return fmt::format("kop::api::IntOrString::of_int({})", d.GetInt64());
        if (d.IsString()) {
          return fmt::format("kop::api::IntOrString::of_string({})",
                             cpp_literal(json::as_string_view(d)));
        }
        return wrong("an integer or a string");
      default:
        return {};  // object and array defaults are the API server's to apply
    }
  }

  void emit_object(const Schema& s, const std::string& name, bool root, const std::string& path) {
    // Member names: what every view and builder has, then each field's.
    Scope members;
    for (const char* r : {"present", "raw", "from", "object", "gvk", "make", "allocator"}) {
      members.take(r);
    }
    std::vector<Field> fields;
    for (const auto& [key, child] : s.properties) {
      if (root && (key == "apiVersion" || key == "kind" || key == "metadata")) continue;
      std::string m = snake_name(key);
      auto clashes = [&](const std::string& c) {
        for (const std::string& d : derived(c)) {
          if (members.taken(d)) return true;
        }
        return false;
      };
      while (clashes(m)) m += '_';
      for (const std::string& d : derived(m)) members.take(d);
      fields.push_back({key, cpp_literal(key), m, child.get(), {}});
    }
    for (Field& f : fields) {
      f.ref = emit(*f.schema, child_type(name, f.key), path + "." + f.key);
    }

    // ---- the view ----
    out_ += comment("", s.description);
    if (root) {
      out_ += fmt::format("// A {} ({}/{}) read without copying: keep the Object alive.\n",
                          crd_.kind, crd_.group, version_);
    }
    out_ += fmt::format("class {} {{\n public:\n", name);
    if (root) {
      out_ += fmt::format(
          "  static constexpr std::string_view kGroup = {0};\n"
          "  static constexpr std::string_view kVersion = {1};\n"
          "  static constexpr std::string_view kKind = {2};\n"
          "  static constexpr std::string_view kPlural = {3};\n"
          "  static constexpr bool kNamespaced = {4};\n"
          "  static kop::api::GroupVersionKind gvk() {{\n"
          "    return {{std::string(kGroup), std::string(kVersion), std::string(kKind)}};\n"
          "  }}\n\n"
          "  explicit {5}(const kop::Object& obj) : obj_(&obj), v_(&obj.doc()) {{}}\n"
          "  // A view of a temporary would dangle.\n"
          "  explicit {5}(kop::Object&&) = delete;\n"
          "  const kop::Object& object() const {{ return *obj_; }}\n",
          cpp_literal(crd_.group), cpp_literal(version_), cpp_literal(crd_.kind),
          cpp_literal(crd_.plural), crd_.namespaced ? "true" : "false", name);
    } else {
      out_ += fmt::format(
          "  explicit {0}(const rapidjson::Value* v) : v_(v && v->IsObject() ? v : nullptr) {{}}\n"
          "  static {0} from(const rapidjson::Value* v) {{ return {0}(v); }}\n"
          "  // False when the object is absent (every field then reads as absent or default).\n"
          "  bool present() const {{ return v_ != nullptr; }}\n",
          name);
    }
    out_ += s.preserve_unknown ? "  // The JSON itself: the schema keeps fields it does not name "
                                 "(x-kubernetes-preserve-unknown-fields).\n"
                               : "  // The JSON itself.\n";
    out_ += "  const rapidjson::Value* raw() const { return v_; }\n";
    for (const Field& f : fields) emit_getters(f, path + "." + f.key);
    if (root)
      out_ += "\n private:\n  const kop::Object* obj_;\n";
    else
      out_ += "\n private:\n";
    out_ += "  const rapidjson::Value* v_;\n};\n\n";

    // ---- the builder ----
    std::string b = name + "Builder";
    out_ += fmt::format("// Writes the fields of a {}{}.\n", name,
                        root ? " (an Object of this kind)" : "");
    out_ += fmt::format("class {} {{\n public:\n", b);
    if (root) {
      out_ += fmt::format(
          "  explicit {}(kop::Object& obj) : v_(&obj.doc()), a_(&obj.allocator()) {{}}\n", b);
      if (crd_.namespaced) {
        out_ += fmt::format(
            "  // A new {0} with apiVersion, kind, namespace and name set.\n"
            "  static kop::Object make(std::string_view ns, std::string_view name) {{\n"
            "    kop::Object obj({1}::gvk());\n    obj.set_namespace(ns);\n"
            "    obj.set_name(name);\n    return obj;\n  }}\n",
            crd_.kind, name);
      } else {
        out_ += fmt::format(
            "  // A new {0} with apiVersion, kind and name set.\n"
            "  static kop::Object make(std::string_view name) {{\n"
            "    kop::Object obj({1}::gvk());\n    obj.set_name(name);\n    return obj;\n  }}\n",
            crd_.kind, name);
      }
    } else {
      out_ += fmt::format(
          "  {}(rapidjson::Value& v, {}Allocator& alloc) : v_(&v), a_(&alloc) {{\n"
          "    if (!v.IsObject()) v.SetObject();\n  }}\n",
          b, kTyped);
    }
    out_ += fmt::format(
        "  rapidjson::Value& raw() {{ return *v_; }}\n"
        "  {}Allocator& allocator() {{ return *a_; }}\n",
        kTyped);
    for (const Field& f : fields) emit_setters(f, b);
    out_ +=
        fmt::format("\n private:\n  rapidjson::Value* v_;\n  {}Allocator* a_;\n}};\n\n", kTyped);
  }

  void emit_getters(const Field& f, const std::string& path) {
    const Schema& s = *f.schema;
    const std::string& m = f.member;
    const std::string& k = f.lit;
    out_ += "\n" + comment("  ", s.description);
    std::string dflt = default_expr(f, path);
    auto scalar = [&](const std::string& type, const std::string& getter) {
      if (dflt.empty()) {
        out_ +=
            fmt::format("  std::optional<{}> {}() const {{ return kop::api::json::{}(v_, {}); }}\n",
                        type, m, getter, k);
      } else {
        out_ +=
            fmt::format("  {} {}() const {{ return kop::api::json::{}(v_, {}).value_or({}); }}\n",
                        type, m, getter, k, dflt);
      }
    };
    switch (s.type) {
      case T::kString:
        if (!f.ref.parse.empty()) {
          if (dflt.empty()) {
            out_ += fmt::format(
                "  std::optional<{0}> {1}() const {{\n"
                "    auto text = kop::api::json::get_string(v_, {2});\n"
                "    if (!text) return std::nullopt;\n    return {3}(*text);\n  }}\n"
                "  std::optional<std::string_view> {1}_text() const {{\n"
                "    return kop::api::json::get_string(v_, {2});\n  }}\n",
                f.ref.type, m, k, f.ref.parse);
          } else {
            const std::string dtext = cpp_literal(json::as_string_view(parse_default(s)));
            out_ += fmt::format(
                "  {0} {1}() const {{ return {2}({1}_text()); }}\n"
                "  std::string_view {1}_text() const {{\n"
                "    return kop::api::json::get_string(v_, {3}).value_or({4});\n  }}\n",
                f.ref.type, m, f.ref.parse, k, dtext);
          }
        } else {
          scalar("std::string_view", "get_string");
          if (s.format == "date-time") {
            out_ += fmt::format(
                "  // The time; std::nullopt when absent or not RFC 3339.\n"
                "  std::optional<absl::Time> {}_time() const {{\n"
                "    auto text = kop::api::json::get_string(v_, {});\n"
                "    return text ? kop::api::parse_time(*text) : std::nullopt;\n  }}\n",
                m, k);
          }
        }
        break;
      case T::kInteger:
        scalar("int64_t", "get_int");
        break;
      case T::kNumber:
        scalar("double", "get_double");
        break;
      case T::kBoolean:
        scalar("bool", "get_bool");
        break;
      case T::kIntOrString:
        if (dflt.empty()) {
          out_ += fmt::format(
              "  // Empty (type kNone) when absent.\n"
              "  kop::api::IntOrString {}() const {{\n"
              "    return kop::api::int_or_string(kop::api::json::find(v_, {}));\n  }}\n",
              m, k);
        } else {
          out_ += fmt::format(
              "  kop::api::IntOrString {}() const {{ return {}int_or_string_or(v_, {}, {}); }}\n",
              m, kTyped, k, dflt);
        }
        break;
      case T::kRaw:
        out_ += fmt::format(
            "  // Any JSON (nullptr when absent).\n"
            "  const rapidjson::Value* {}() const {{ return kop::api::json::find(v_, {}); }}\n",
            m, k);
        break;
      case T::kObject:
        out_ += fmt::format("  {} {}() const {{ return {}({}object_member(v_, {})); }}\n",
                            f.ref.type, m, f.ref.type, kTyped, k);
        break;
      case T::kArray:
      case T::kMap:
        out_ += fmt::format("  {} {}() const {{ return {}(kop::api::json::find(v_, {})); }}\n",
                            f.ref.type, m, f.ref.type, k);
        break;
    }
    out_ += fmt::format("  bool has_{}() const {{ return {}has(v_, {}); }}\n", m, kTyped, k);
    if (s.nullable) {
      out_ +=
          fmt::format("  bool {}_is_null() const {{ return {}is_null(v_, {}); }}\n", m, kTyped, k);
    }
  }

  rapidjson::Document parse_default(const Schema& s) {
    rapidjson::Document d;
    json::parse_into(d, *s.default_json);
    return d;
  }

  void emit_setters(const Field& f, const std::string& b) {
    const Schema& s = *f.schema;
    const std::string& m = f.member;
    const std::string& k = f.lit;
    out_ += "\n";
    auto set = [&](const std::string& param, const std::string& body) {
      out_ += fmt::format("  {}& set_{}({} v) {{\n    {};\n    return *this;\n  }}\n", b, m, param,
                          body);
    };
    switch (s.type) {
      case T::kString:
        if (!f.ref.parse.empty()) {
          set(f.ref.type, fmt::format("{}set_string(*v_, {}, to_string(v), *a_)", kTyped, k));
          out_ += fmt::format(
              "  {}& set_{}_text(std::string_view v) {{\n"
              "    {}set_string(*v_, {}, v, *a_);\n    return *this;\n  }}\n",
              b, m, kTyped, k);
        } else {
          set("std::string_view", fmt::format("{}set_string(*v_, {}, v, *a_)", kTyped, k));
          if (s.format == "date-time") {
            set("absl::Time",
                fmt::format("{}set_string(*v_, {}, kop::api::format_time(v), *a_)", kTyped, k));
          }
        }
        break;
      case T::kInteger:
        set("int64_t", fmt::format("{}set_int(*v_, {}, v, *a_)", kTyped, k));
        break;
      case T::kNumber:
        set("double", fmt::format("{}set_number(*v_, {}, v, *a_)", kTyped, k));
        break;
      case T::kBoolean:
        set("bool", fmt::format("{}set_bool(*v_, {}, v, *a_)", kTyped, k));
        break;
      case T::kIntOrString:
        set("int64_t", fmt::format("{}set_int(*v_, {}, v, *a_)", kTyped, k));
        set("std::string_view", fmt::format("{}set_string(*v_, {}, v, *a_)", kTyped, k));
        break;
      case T::kObject:
        out_ += fmt::format(
            "  {0} mutable_{1}() {{ return {0}({2}ensure_object(*v_, {3}, *a_), *a_); }}\n",
            f.ref.builder, m, kTyped, k);
        break;
      case T::kArray:
        emit_list_setters(f, b);
        break;
      case T::kMap:
        emit_map_setters(f, b);
        break;
      case T::kRaw:
        break;
    }
    if (s.nullable) {
      out_ += fmt::format(
          "  {}& set_{}_null() {{\n    {}set_null(*v_, {}, *a_);\n    return *this;\n  }}\n", b, m,
          kTyped, k);
    }
    bool composite =
        s.type == T::kObject || s.type == T::kArray || s.type == T::kMap || s.type == T::kRaw;
    if (composite) {
      out_ += fmt::format(
          "  // Replaces the field with JSON text (InvalidArgument when it is not JSON).\n"
          "  absl::Status set_{}_json(std::string_view json_text) {{\n"
          "    return {}set_json(*v_, {}, json_text, *a_);\n  }}\n",
          m, kTyped, k);
    }
    out_ += fmt::format("  {}& clear_{}() {{\n    {}remove(*v_, {});\n    return *this;\n  }}\n", b,
                        m, kTyped, k);
  }

  // The JSON value a scalar item is written as, or "" for items written as JSON text.
  static std::string item_value(const Schema& item, const TypeRef& ref, std::string_view alloc) {
    switch (item.type) {
      case T::kString:
        return fmt::format("kop::api::json::make_string({}, {})",
                           ref.parse.empty() ? "v" : "to_string(v)", alloc);
      case T::kInteger:
      case T::kNumber:
      case T::kBoolean:
        return "rapidjson::Value(v)";
      default:
        return {};
    }
  }

  static std::string item_param(const Schema& item, const TypeRef& ref) {
    if (item.type == T::kString && ref.parse.empty()) return "std::string_view";
    return ref.type;
  }

  void emit_list_setters(const Field& f, const std::string& b) {
    const Schema& item = *f.schema->items;
    TypeRef iref = item_ref(item);
    if (item.type == T::kObject) {
      out_ += fmt::format(
          "  // A new element at the end (the builder is valid until the next one is added).\n"
          "  {0} add_{1}() {{ return {0}({2}append_object(*v_, {3}, *a_), *a_); }}\n",
          iref.builder, f.member, kTyped, f.lit);
      return;
    }
    std::string value = item_value(item, iref, "*a_");
    if (!value.empty()) {
      out_ += fmt::format(
          "  {}& add_{}({} v) {{\n    {}append(*v_, {}, {}, *a_);\n    return *this;\n  }}\n", b,
          f.member, item_param(item, iref), kTyped, f.lit, value);
      return;
    }
    out_ += fmt::format(
        "  absl::Status add_{}_json(std::string_view json_text) {{\n"
        "    return {}append_json(*v_, {}, json_text, *a_);\n  }}\n",
        f.member, kTyped, f.lit);
  }

  void emit_map_setters(const Field& f, const std::string& b) {
    const Schema& item = *f.schema->items;
    TypeRef iref = item_ref(item);
    std::string map = fmt::format("{}ensure_object(*v_, {}, *a_)", kTyped, f.lit);
    if (item.type == T::kObject) {
      out_ += fmt::format(
          "  {0} mutable_{1}(std::string_view key) {{\n"
          "    return {0}({2}ensure_object({3}, key, *a_), *a_);\n  }}\n",
          iref.builder, f.member, kTyped, map);
    } else if (std::string value = item_value(item, iref, "*a_"); !value.empty()) {
      out_ += fmt::format(
          "  {}& set_{}(std::string_view key, {} v) {{\n"
          "    kop::api::json::set_member({}, key, {}, *a_);\n    return *this;\n  }}\n",
          b, f.member, item_param(item, iref), map, value);
    }
    out_ += fmt::format(
        "  {}& remove_{}(std::string_view key) {{\n"
        "    if (auto* m = kop::api::json::find(*v_, {})) {}remove(*m, key);\n"
        "    return *this;\n  }}\n",
        b, f.member, f.lit, kTyped);
  }

  // The item's reference, recorded when the list or map was emitted.
  TypeRef item_ref(const Schema& item) const {
    auto it = items_.find(&item);
    return it == items_.end() ? TypeRef{} : it->second;
  }

  const Crd& crd_;
  std::string version_;
  Scope& types_;
  std::string& out_;
  absl::Status error_;
  std::map<const Schema*, TypeRef> items_;  // list and map items: the setters need their names
  std::map<std::string, std::vector<std::string>> parts_;  // each type's path, in PascalCase
};

}  // namespace

absl::StatusOr<std::string> generate(const std::vector<Crd>& crds, const Options& options) {
  // The namespace: identifiers separated by "::".
  std::string ns = options.ns;
  for (size_t pos = 0; pos <= ns.size();) {
    size_t end = ns.find("::", pos);
    std::string part = ns.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    bool ok = !part.empty() && !(part[0] >= '0' && part[0] <= '9') && !is_reserved(part);
    for (char c : part) {
      ok = ok &&
           ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
    }
    if (!ok) return absl::InvalidArgumentError(fmt::format("namespace \"{}\": not a C++ name", ns));
    if (end == std::string::npos) break;
    pos = end + 2;
  }
  std::string kinds;
  for (const Crd& crd : crds) kinds += (kinds.empty() ? "" : ", ") + crd.kind;
  std::string out = fmt::format(
      "// Typed views and builders for {} (kop-gen, from {}). Do not edit: regenerate.\n"
      "//\n"
      "// A view (e.g. `{}(obj).spec()`) reads an Object without copying: keep the Object alive\n"
      "// and unmodified while using it and what it returns. A builder writes fields into an\n"
      "// Object. kop/api/typed.h and docs/typed-crds.md say more.\n"
      "#pragma once\n\n"
      "#include <kop/api/typed.h>\n\n"
      "#include <cstdint>\n#include <optional>\n#include <string>\n#include <string_view>\n\n",
      kinds, options.source, crds.empty() ? "Kind" : pascal_name(crds[0].kind));
  // One namespace per version; CRDs sharing a version share its namespace (and its names).
  std::map<std::string, Scope> scopes;
  for (const Crd& crd : crds) {
    for (const CrdVersion& v : crd.versions) {
      std::string vns = snake_name(v.name);
      Scope& scope = scopes[vns];
      std::string body;
      Emitter e(crd, v.name, scope, body);
      if (auto s = e.emit_root(*v.schema); !s.ok()) return s;
      out += fmt::format("namespace {}::{} {{\n\n{}}}  // namespace {}::{}\n\n", ns, vns, body, ns,
                         vns);
    }
  }
  out.pop_back();
  return out;
}

}  // namespace kop::gen
