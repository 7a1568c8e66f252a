// apimachinery's name, label and ObjectMeta validation.
#include <cctype>

#include "kop/api/validation.h"
#include "validation.h"

namespace kop::local::validation {

namespace {

std::string regex_error(std::string msg, std::string_view fmt,
                        std::initializer_list<std::string_view> ex) {
  if (ex.size() != 0) {
    msg.append(" (e.g. ");
    bool first = true;
    for (auto e : ex) {
      if (!first) msg.append(" or ");
      first = false;
      msg.append("'").append(e).append("', ");
    }
    msg.append("regex used for validation is '");
  } else {
    msg.append(" (regex used for validation is '");
  }
  msg.append(fmt).append("')");
  return msg;
}

std::string max_len_error(int n) {
  return "must be no more than " + std::to_string(n) + " characters";
}

constexpr std::string_view kLabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kSubdomainFmt =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kQualifiedFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kQualifiedMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";

}  // namespace

Msgs is_dns1123_label(std::string_view v) {
  Msgs m;
  if (v.size() > 63) m.push_back(max_len_error(63));
  if (!api::is_dns_label_chars(v)) {
    m.push_back(regex_error(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character",
        kLabelFmt, {"my-name", "123-abc"}));
  }
  return m;
}

Msgs is_dns1123_subdomain(std::string_view v) {
  Msgs m;
  if (v.size() > 253) m.push_back(max_len_error(253));
  bool ok = !v.empty();
  size_t start = 0;
  while (ok) {
    size_t dot = v.find('.', start);
    std::string_view part =
        v.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    ok = api::is_dns_label_chars(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (!ok) {
    m.push_back(regex_error(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character",
        kSubdomainFmt, {"example.com"}));
  }
  return m;
}

Msgs is_dns1035_label(std::string_view v) {
  Msgs m;
  if (v.size() > 63) m.push_back(max_len_error(63));
  bool ok = api::is_dns_label_chars(v) && v.front() >= 'a' && v.front() <= 'z';
  if (!ok) {
    m.push_back(regex_error(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
        "an alphabetic character, and end with an alphanumeric character",
        "[a-z]([-a-z0-9]*[a-z0-9])?", {"my-name", "abc-123"}));
  }
  return m;
}

Msgs is_qualified_name(std::string_view v) {
  Msgs m;
  std::string_view name;
  size_t slashes = std::count(v.begin(), v.end(), '/');
  if (slashes == 0) {
    name = v;
  } else if (slashes == 1) {
    auto pos = v.find('/');
    std::string_view prefix = v.substr(0, pos);
    name = v.substr(pos + 1);
    if (prefix.empty()) {
      m.emplace_back("prefix part must be non-empty");
    } else {
      for (auto& e : is_dns1123_subdomain(prefix)) m.push_back("prefix part " + e);
    }
  } else {
    m.push_back(
        "a qualified name " +
        regex_error(std::string(kQualifiedMsg), kQualifiedFmt, {"MyName", "my.name", "123-abc"}) +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return m;
  }
  if (name.empty()) {
    m.emplace_back("name part must be non-empty");
  } else if (name.size() > 63) {
    m.push_back("name part " + max_len_error(63));
  }
  if (!api::is_qualified_name_chars(name)) {
    m.push_back("name part " + regex_error(std::string(kQualifiedMsg), kQualifiedFmt,
                                           {"MyName", "my.name", "123-abc"}));
  }
  return m;
}

Msgs is_valid_label_value(std::string_view v) {
  Msgs m;
  if (v.size() > 63) m.push_back(max_len_error(63));
  if (!v.empty() && !api::is_qualified_name_chars(v)) {
    m.push_back(regex_error(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character",
        "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", {"MyValue", "my_value", "12345"}));
  }
  return m;
}

Msgs is_config_map_key(std::string_view v) {
  Msgs m;
  if (v.size() > 253) m.push_back(max_len_error(253));
  bool ok = !v.empty();
  for (char c : v)
    ok = ok &&
         (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.');
  if (!ok) {
    m.push_back(
        regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    "[-._a-zA-Z0-9]+", {"key.name", "KEY_NAME", "key-name"}));
  }
  if (v == ".")
    m.emplace_back("must not be '.'");
  else if (v == "..")
    m.emplace_back("must not be '..'");
  else if (v.rfind("..", 0) == 0)
    m.emplace_back("must not start with '..'");
  return m;
}

Msgs is_valid_port_name(std::string_view v) {
  Msgs m;
  if (v.empty() || v.size() > 15) m.emplace_back("must be no more than 15 characters");
  bool chars = true, letter = false;
  for (char c : v) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) chars = false;
    if (c >= 'a' && c <= 'z') letter = true;
  }
  if (!chars)
    m.emplace_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (v.find("--") != std::string_view::npos)
    m.emplace_back("must not contain consecutive hyphens");
  if (!letter) m.emplace_back("must contain at least one letter (a-z)");
  if (!v.empty() && (v.front() == '-' || v.back() == '-'))
    m.emplace_back("must not begin or end with a hyphen");
  return m;
}

Msgs is_wildcard_dns1123_subdomain(std::string_view v) {
  Msgs m;
  if (v.size() > 253) m.push_back(max_len_error(253));
  bool ok = v.size() > 2 && v.substr(0, 2) == "*." && is_dns1123_subdomain(v.substr(2)).empty();
  if (!ok) {
    m.push_back(regex_error(
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
        "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
        "alphanumeric character",
        "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
        {"*.example.com"}));
  }
  return m;
}

Msgs is_valid_ip(std::string_view v) {
  // IPv4 dotted quad or an IPv6 literal (loosely: hex digits, ':' and at most one '::').
  Msgs m;
  bool ok = false;
  if (v.find(':') == std::string_view::npos) {
    int parts = 0;
    size_t start = 0;
    ok = true;
    while (ok) {
      size_t dot = v.find('.', start);
      std::string_view p =
          v.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      ok = !p.empty() && p.size() <= 3;
      if (!ok) break;  // a longer part would overflow n below
      int n = 0;
      for (char c : p) {
        ok = ok && c >= '0' && c <= '9';
        n = n * 10 + (c - '0');
      }
      ok = ok && n <= 255;
      parts++;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    ok = ok && parts == 4;
  } else {
    ok = v.size() >= 2;
    for (char c : v)
      ok = ok && (std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.');
  }
  if (!ok) m.emplace_back("must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
  return m;
}

std::string idx(std::string_view base, size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}
std::string key(std::string_view base, std::string_view k) {
  return std::string(base) + "[" + std::string(k) + "]";
}

void labels(const JsonValue* labels, const std::string& path, FieldErrors& errs) {
  if (!labels || !labels->IsObject()) return;
  for (auto& m : labels->GetObject()) {
    std::string_view k = json::as_string_view(m.name);
    for (auto& e : is_qualified_name(k)) errs.push_back(field::invalid(path, k, e));
    std::string_view v = json::as_string_view(m.value);
    for (auto& e : is_valid_label_value(v)) errs.push_back(field::invalid(path, v, e));
  }
}

namespace {

enum class NameRule { Subdomain, Label, Dns1035, None };

NameRule name_rule(const ResourceType& t) {
  if (t.group.empty() && t.resource == "namespaces") return NameRule::Label;
  if (t.group.empty() && t.resource == "services") return NameRule::Dns1035;
  return NameRule::Subdomain;
}

Msgs check_name(NameRule r, std::string name, bool prefix) {
  // generateName may end in '-': apimachinery masks it before validating.
  if (prefix && !name.empty() && name.back() == '-') name.back() = 'a';
  switch (r) {
    case NameRule::Label:
      return is_dns1123_label(name);
    case NameRule::Dns1035:
      return is_dns1035_label(name);
    case NameRule::Subdomain:
      return is_dns1123_subdomain(name);
    case NameRule::None:
      return {};
  }
  return {};
}

}  // namespace

void object_meta(const ResourceType& t, const JsonValue& obj, FieldErrors& errs) {
  const JsonValue* meta = json::find(obj, "metadata");
  static const JsonValue kEmpty(rapidjson::kObjectType);
  if (!meta || !meta->IsObject()) meta = &kEmpty;
  NameRule rule = name_rule(t);
  std::string_view gen = json::string_or_empty(&*meta, "generateName");
  std::string_view name = json::string_or_empty(&*meta, "name");
  if (!gen.empty()) {
    for (auto& e : check_name(rule, std::string(gen), true))
      errs.push_back(field::invalid("metadata.generateName", gen, e));
  }
  if (name.empty()) {
    errs.push_back(field::required("metadata.name", "name or generateName is required"));
  } else {
    for (auto& e : check_name(rule, std::string(name), false))
      errs.push_back(field::invalid("metadata.name", name, e));
  }
  std::string_view ns = json::string_or_empty(&*meta, "namespace");
  if (t.namespaced) {
    if (ns.empty()) {
      errs.push_back(field::required("metadata.namespace"));
    } else {
      for (auto& e : is_dns1123_label(ns))
        errs.push_back(field::invalid("metadata.namespace", ns, e));
    }
  } else if (!ns.empty()) {
    errs.push_back(field::forbidden("metadata.namespace", "not allowed on this type"));
  }
  if (auto* g = json::find(*meta, "generation"); g && g->IsInt64() && g->GetInt64() < 0) {
    errs.push_back(field::invalid_int("metadata.generation", g->GetInt64(),
                                      "must be greater than or equal to 0"));
  }
  labels(json::find(*meta, "labels"), "metadata.labels", errs);
  if (auto* ann = json::find(*meta, "annotations"); ann && ann->IsObject()) {
    size_t total = 0;
    for (auto& m : ann->GetObject()) {
      std::string k(json::as_string_view(m.name));
      std::string lower = k;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      for (auto& e : is_qualified_name(lower))
        errs.push_back(field::invalid("metadata.annotations", k, e));
      total += k.size() + json::as_string_view(m.value).size();
    }
    if (total > size_t{256} * 1024)
      errs.push_back(field::too_long("metadata.annotations", 256 * 1024));
  }
  if (auto* fins = json::find(*meta, "finalizers"); fins && fins->IsArray()) {
    bool orphan = false, foreground = false;
    for (rapidjson::SizeType i = 0; i < fins->Size(); ++i) {
      std::string_view f = json::as_string_view((*fins)[i]);
      std::string p = idx("metadata.finalizers", i);
      auto msgs = is_qualified_name(f);
      for (auto& e : msgs) errs.push_back(field::invalid(p, f, e));
      if (msgs.empty() && f.find('/') == std::string_view::npos && f != "kubernetes" &&
          f != "orphan" && f != "foregroundDeletion") {
        errs.push_back(field::invalid(
            p, f, "name is neither a standard finalizer name nor is it fully qualified"));
      }
      orphan = orphan || f == "orphan";
      foreground = foreground || f == "foregroundDeletion";
    }
    if (orphan && foreground) {
      errs.push_back(
          field::invalid_raw("metadata.finalizers", json::to_json(*fins),
                             "finalizer orphan and foregroundDeletion cannot be both set"));
    }
  }
  if (auto* owners = json::find(*meta, "ownerReferences"); owners && owners->IsArray()) {
    int controllers = 0;
    for (rapidjson::SizeType i = 0; i < owners->Size(); ++i) {
      const JsonValue& o = (*owners)[i];
      std::string p = idx("metadata.ownerReferences", i);
      if (json::string_or_empty(&o, "apiVersion").empty())
        errs.push_back(field::invalid(p + ".apiVersion", "", "version must not be empty"));
      if (json::string_or_empty(&o, "kind").empty())
        errs.push_back(field::invalid(p + ".kind", "", "kind must not be empty"));
      if (json::string_or_empty(&o, "name").empty())
        errs.push_back(field::invalid(p + ".name", "", "name must not be empty"));
      if (json::string_or_empty(&o, "uid").empty())
        errs.push_back(field::invalid(p + ".uid", "", "uid must not be empty"));
      if (auto* c = json::find(o, "controller"); c && c->IsTrue()) controllers++;
    }
    if (controllers > 1) {
      errs.push_back(field::invalid_raw("metadata.ownerReferences", json::to_json(*owners),
                                        "Only one reference can have Controller set to true"));
    }
  }
}

void list_options(const ListOptions& o, std::string_view match, FieldErrors& errs) {
  if (match.empty()) return;
  if (o.resource_version.empty()) {
    errs.push_back(
        field::forbidden("resourceVersionMatch",
                         "resourceVersionMatch is forbidden unless resourceVersion is provided"));
  }
  if (!o.continue_token.empty()) {
    errs.push_back(field::forbidden("resourceVersionMatch",
                                    "resourceVersionMatch is forbidden when continue is provided"));
  }
  if (match != "Exact" && match != "NotOlderThan") {
    errs.push_back(
        field::not_supported("resourceVersionMatch", match, {"Exact", "NotOlderThan", ""}));
  }
  if (match == "Exact" && o.resource_version == "0") {
    errs.push_back(
        field::forbidden("resourceVersionMatch",
                         "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
  }
}

}  // namespace kop::local::validation
