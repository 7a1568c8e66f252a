#include "selectors.h"

#include <algorithm>
#include <cctype>

namespace kop::local {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits on commas that are not inside parentheses.
std::vector<std::string_view> split_top(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '(') depth++;
    if (s[i] == ')') depth--;
    if (s[i] == ',' && depth == 0) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

bool valid_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '/';
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view s) {
  LabelSelector sel;
  s = trim(s);
  if (s.empty()) return sel;
  for (auto part : split_top(s)) {
    part = trim(part);
    if (part.empty())
      return errors::bad_request("unable to parse requirement: found '', expected: identifier");
    Req r;
    if (part[0] == '!') {
      r.key = std::string(trim(part.substr(1)));
      r.op = Req::Op::NotExists;
    } else {
      size_t i = 0;
      while (i < part.size() && valid_key_char(part[i])) ++i;
      r.key = std::string(part.substr(0, i));
      std::string_view rest = trim(part.substr(i));
      auto set_values = [&](std::string_view list) -> bool {
        list = trim(list);
        if (list.size() < 2 || list.front() != '(' || list.back() != ')') return false;
        list = list.substr(1, list.size() - 2);
        for (auto v : split_top(list)) r.values.emplace_back(trim(v));
        return true;
      };
      if (rest.empty()) {
        r.op = Req::Op::Exists;
      } else if (rest.rfind("==", 0) == 0) {
        r.op = Req::Op::Eq;
        r.values.emplace_back(trim(rest.substr(2)));
      } else if (rest.rfind("!=", 0) == 0) {
        r.op = Req::Op::NotEq;
        r.values.emplace_back(trim(rest.substr(2)));
      } else if (rest[0] == '=') {
        r.op = Req::Op::Eq;
        r.values.emplace_back(trim(rest.substr(1)));
      } else if (rest[0] == '>' || rest[0] == '<') {
        r.op = rest[0] == '>' ? Req::Op::Gt : Req::Op::Lt;
        r.values.emplace_back(trim(rest.substr(1)));
      } else if (rest.rfind("notin", 0) == 0) {
        r.op = Req::Op::NotIn;
        if (!set_values(rest.substr(5)))
          return errors::bad_request("unable to parse requirement: found '" + std::string(rest) +
                                     "', expected: '('");
      } else if (rest.rfind("in", 0) == 0) {
        r.op = Req::Op::In;
        if (!set_values(rest.substr(2)))
          return errors::bad_request("unable to parse requirement: found '" + std::string(rest) +
                                     "', expected: '('");
      } else {
        std::string found(rest.substr(0, rest.find_first_of(" \t")));
        return errors::bad_request("unable to parse requirement: found '" + found +
                                   "', expected: '=', '!=', '==', 'in', notin'");
      }
    }
    if (r.key.empty())
      return errors::bad_request("unable to parse requirement: found '', expected: identifier");
    for (char c : r.key) {
      if (!valid_key_char(c)) {
        return errors::bad_request("unable to parse requirement: invalid label key \"" + r.key +
                                   "\"");
      }
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::matches(const JsonValue* labels) const {
  for (const auto& r : reqs_) {
    const JsonValue* v = labels ? json::get(*labels, r.key) : nullptr;
    bool has = v && v->IsString();
    std::string_view val = has ? json::view(*v) : std::string_view();
    switch (r.op) {
      case Req::Op::Exists:
        if (!has) return false;
        break;
      case Req::Op::NotExists:
        if (has) return false;
        break;
      case Req::Op::Eq:
      case Req::Op::In:
        if (!has || std::find(r.values.begin(), r.values.end(), val) == r.values.end())
          return false;
        break;
      case Req::Op::NotEq:
      case Req::Op::NotIn:
        if (has && std::find(r.values.begin(), r.values.end(), val) != r.values.end()) return false;
        break;
      case Req::Op::Gt:
      case Req::Op::Lt: {
        if (!has) return false;
        char* end = nullptr;
        std::string sv(val);
        long long a = std::strtoll(sv.c_str(), &end, 10);
        if (end == sv.c_str() || *end) return false;
        long long b = std::strtoll(r.values[0].c_str(), nullptr, 10);
        if (r.op == Req::Op::Gt ? !(a > b) : !(a < b)) return false;
        break;
      }
    }
  }
  return true;
}

namespace {
// Field labels each kind supports (the API server's GetAttrs / field label conversion funcs).
std::vector<std::string> supported_fields(const ResourceType& t) {
  std::vector<std::string> f = {"metadata.name", "metadata.namespace"};
  if (t.custom) return f;
  if (t.group.empty()) {
    if (t.resource == "pods") {
      for (auto s :
           {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "status.phase", "status.podIP", "status.nominatedNodeName"})
        f.emplace_back(s);
    } else if (t.resource == "secrets") {
      f.emplace_back("type");
    } else if (t.resource == "namespaces") {
      f.emplace_back("status.phase");
    } else if (t.resource == "events") {
      for (auto s :
           {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
            "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
            "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"})
        f.emplace_back(s);
    }
  }
  return f;
}
}  // namespace

Result<FieldSelector> FieldSelector::parse(std::string_view s, const ResourceType& type) {
  FieldSelector sel;
  s = trim(s);
  if (s.empty()) return sel;
  auto allowed = supported_fields(type);
  for (auto part : split_top(s)) {
    part = trim(part);
    Req r;
    size_t pos;
    std::string_view lhs, rhs;
    if ((pos = part.find("!=")) != std::string_view::npos) {
      r.negate = true;
      lhs = part.substr(0, pos);
      rhs = part.substr(pos + 2);
    } else if ((pos = part.find("==")) != std::string_view::npos) {
      r.negate = false;
      lhs = part.substr(0, pos);
      rhs = part.substr(pos + 2);
    } else if ((pos = part.find('=')) != std::string_view::npos) {
      r.negate = false;
      lhs = part.substr(0, pos);
      rhs = part.substr(pos + 1);
    } else {
      return errors::bad_request("invalid selector: '" + std::string(s) + "'; can't understand '" +
                                 std::string(part) + "'");
    }
    std::string field(trim(lhs));
    if (std::find(allowed.begin(), allowed.end(), field) == allowed.end()) {
      if (allowed.size() == 2) {
        // Kinds with only the default fields (DefaultClusterScopedAttr /
        // DefaultNamespaceScopedAttr).
        return errors::bad_request(
            "\"" + field +
            "\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
      }
      return errors::bad_request("field label not supported: " + field);
    }
    size_t start = 0;
    while (true) {
      size_t dot = field.find('.', start);
      r.path.push_back(
          field.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    r.value = std::string(trim(rhs));
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::matches(const JsonValue& obj) const {
  for (const auto& r : reqs_) {
    const JsonValue* cur = &obj;
    for (const auto& p : r.path) {
      cur = cur ? json::get(*cur, p) : nullptr;
    }
    std::string val;
    if (cur) {
      if (cur->IsString()) {
        val = std::string(json::view(*cur));
      } else if (!cur->IsNull()) {
        val = json::dump(*cur);
      }
    }
    // source is "source.component" for events in the API server's field set.
    if (r.path.size() == 1 && r.path[0] == "source" && cur && cur->IsObject()) {
      val = std::string(json::get_string(*cur, "component"));
    }
    bool eq = val == r.value;
    if (r.negate ? eq : !eq) return false;
  }
  return true;
}

}  // namespace kop::local
