#include "kop/api/fields.h"

#include <absl/status/status.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <tuple>

#include "kop/api/json.h"

namespace kop::api {

namespace {

struct Part {
  std::string_view text;
  size_t pos;
};

// Splits on commas not preceded by a backslash escape (apimachinery's splitTerms).
std::vector<Part> split_terms(std::string_view s) {
  std::vector<Part> parts;
  if (s.empty()) return parts;
  size_t start = 0;
  bool in_slash = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_slash) {
      in_slash = false;
    } else if (c == '\\') {
      in_slash = true;
    } else if (c == ',') {
      parts.push_back({s.substr(start, i - start), start});
      start = i + 1;
    }
  }
  parts.push_back({s.substr(start), start});
  return parts;
}

absl::Status field_error(std::string_view text, size_t pos, std::string_view what) {
  return absl::InvalidArgumentError(
      fmt::format("field selector \"{}\": position {}: {}", text, pos, what));
}

// `\\`, `\,` and `\=` are the only escapes; bare ',' or '=' are errors (apimachinery's
// UnescapeValue). Returns the error position relative to `v` via `bad`.
bool unescape(std::string_view v, std::string& out, size_t& bad, std::string& why) {
  out.clear();
  out.reserve(v.size());
  bool in_slash = false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (in_slash) {
      if (c != '\\' && c != ',' && c != '=') {
        bad = i - 1;
        why = fmt::format("invalid escape sequence '\\{}'", c);
        return false;
      }
      out.push_back(c);
      in_slash = false;
      continue;
    }
    if (c == '\\') {
      in_slash = true;
    } else if (c == ',' || c == '=') {
      bad = i;
      why = fmt::format("unescaped '{}' in value", c);
      return false;
    } else {
      out.push_back(c);
    }
  }
  if (in_slash) {
    bad = v.size() - 1;
    why = "invalid escape sequence '\\' at end of value";
    return false;
  }
  return true;
}

std::string scalar_text(const rapidjson::Value* v) {
  if (!v) return {};
  if (v->IsString()) return std::string(json::as_string_view(*v));
  if (v->IsBool()) return v->GetBool() ? "true" : "false";
  if (v->IsInt64()) return std::to_string(v->GetInt64());
  if (v->IsUint64()) return std::to_string(v->GetUint64());
  return {};
}

struct KindFields {
  std::string_view group;
  std::string_view kind;
  std::string_view field;
};

constexpr std::array<KindFields, 31> kKindFields{{
    {"", "Secret", "type"},
    {"", "Pod", "spec.nodeName"},
    {"", "Pod", "spec.restartPolicy"},
    {"", "Pod", "spec.schedulerName"},
    {"", "Pod", "spec.serviceAccountName"},
    {"", "Pod", "spec.hostNetwork"},
    {"", "Pod", "status.phase"},
    {"", "Pod", "status.podIP"},
    {"", "Pod", "status.nominatedNodeName"},
    {"", "Event", "involvedObject.kind"},
    {"", "Event", "involvedObject.namespace"},
    {"", "Event", "involvedObject.name"},
    {"", "Event", "involvedObject.uid"},
    {"", "Event", "involvedObject.apiVersion"},
    {"", "Event", "involvedObject.resourceVersion"},
    {"", "Event", "involvedObject.fieldPath"},
    {"", "Event", "reason"},
    {"", "Event", "reportingComponent"},
    {"", "Event", "source"},
    {"", "Event", "type"},
    {"events.k8s.io", "Event", "regarding.kind"},
    {"events.k8s.io", "Event", "regarding.namespace"},
    {"events.k8s.io", "Event", "regarding.name"},
    {"events.k8s.io", "Event", "reason"},
    {"events.k8s.io", "Event", "type"},
    {"", "Node", "spec.unschedulable"},
    {"", "Namespace", "status.phase"},
    {"", "ReplicationController", "status.replicas"},
    {"batch", "Job", "status.successful"},
    {"certificates.k8s.io", "CertificateSigningRequest", "spec.signerName"},
    {"", "Service", "spec.clusterIP"},
}};

}  // namespace

std::string escape_field_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == ',' || c == '=') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

bool supported_field(const GroupVersionKind& gvk, std::string_view field) {
  if (field == "metadata.name" || field == "metadata.namespace") return true;
  for (const auto& kf : kKindFields) {
    if (kf.group == gvk.group && kf.kind == gvk.kind && kf.field == field) return true;
  }
  // Services also answer to spec.type on current API servers.
  return gvk.group.empty() && gvk.kind == "Service" && field == "spec.type";
}

std::string field_value(const Object& obj, std::string_view field) {
  if (field == "metadata.name") return std::string(obj.name());
  if (field == "metadata.namespace") return std::string(obj.namespace_());
  if (field == "source" && obj.kind() == "Event") {
    return std::string(obj.get_string("/source/component").value_or(""));
  }
  // A dotted path through objects.
  const rapidjson::Value* cur = &obj.doc();
  size_t start = 0;
  while (cur) {
    size_t dot = field.find('.', start);
    std::string_view part = field.substr(start, dot == std::string_view::npos ? dot : dot - start);
    cur = json::find(*cur, part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return scalar_text(cur);
}

absl::StatusOr<FieldSelector> FieldSelector::parse(std::string_view text) {
  std::vector<Part> parts = split_terms(text);
  std::sort(parts.begin(), parts.end(),
            [](const Part& a, const Part& b) { return a.text < b.text; });
  FieldSelector sel;
  for (const Part& p : parts) {
    if (p.text.empty()) continue;
    // The first operator from the left; at each position "!=" and "==" before "=".
    size_t i = 0;
    size_t op_len = 0;
    bool negated = false;
    for (; i < p.text.size(); ++i) {
      std::string_view rest = p.text.substr(i);
      if (rest.starts_with("!=")) {
        op_len = 2;
        negated = true;
        break;
      }
      if (rest.starts_with("==")) {
        op_len = 2;
        break;
      }
      if (rest.starts_with("=")) {
        op_len = 1;
        break;
      }
    }
    if (op_len == 0) {
      return field_error(text, p.pos,
                         fmt::format("can't understand '{}': want field=value, field==value or "
                                     "field!=value",
                                     p.text));
    }
    std::string_view rhs = p.text.substr(i + op_len);
    FieldRequirement r;
    r.field = std::string(p.text.substr(0, i));
    r.negated = negated;
    size_t bad = 0;
    std::string why;
    if (!unescape(rhs, r.value, bad, why)) {
      return field_error(text, p.pos + i + op_len + bad, why);
    }
    sel.terms_.push_back(std::move(r));
  }
  // apimachinery sorts the raw terms; "a==x" and "a=x" sort apart, so sorting again by the parsed
  // form makes to_string() canonical and == independent of how a term was spelled.
  std::stable_sort(sel.terms_.begin(), sel.terms_.end(), [](const auto& a, const auto& b) {
    return std::tie(a.field, a.negated, a.value) < std::tie(b.field, b.negated, b.value);
  });
  return sel;
}

FieldSelector FieldSelector::one_term(std::string_view field, std::string_view value) {
  FieldSelector s;
  s.terms_.push_back({std::string(field), std::string(value), false});
  return s;
}

bool FieldSelector::matches(const Object& obj) const {
  for (const auto& t : terms_) {
    bool equal = field_value(obj, t.field) == t.value;
    if (equal == t.negated) return false;
  }
  return true;
}

std::string FieldSelector::to_string() const {
  std::string out;
  for (size_t i = 0; i < terms_.size(); ++i) {
    if (i) out += ',';
    out += terms_[i].field;
    out += terms_[i].negated ? "!=" : "=";
    out += escape_field_value(terms_[i].value);
  }
  return out;
}

std::optional<std::string_view> FieldSelector::requires_exact_match(std::string_view field) const {
  for (const auto& t : terms_) {
    if (t.field == field && !t.negated) return std::string_view(t.value);
  }
  return std::nullopt;
}

absl::Status FieldSelector::check_supported(const GroupVersionKind& gvk) const {
  for (const auto& t : terms_) {
    if (supported_field(gvk, t.field)) continue;
    // The API server's two messages: kinds that register field labels of their own answer from
    // their conversion function, the others from the default one (metadata fields only).
    bool own_fields = std::any_of(kKindFields.begin(), kKindFields.end(), [&](const auto& kf) {
      return kf.group == gvk.group && kf.kind == gvk.kind;
    });
    if (own_fields) {
      return absl::InvalidArgumentError(fmt::format("field label not supported: {}", t.field));
    }
    return absl::InvalidArgumentError(fmt::format(
        R"("{}" is not a known field selector: only "metadata.name", "metadata.namespace")",
        t.field));
  }
  return absl::OkStatus();
}

}  // namespace kop::api
