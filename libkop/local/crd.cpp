#include "crd.h"

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/clock.h>
#include <re2/re2.h>

#include <cmath>
#include <map>
#include <memory>

#include "kop/api/time.h"
#include "validation.h"

namespace kop::local::crd {

namespace {

constexpr std::string_view kCrdGroup = "apiextensions.k8s.io";

JsonValue condition(std::string_view type, std::string_view reason, std::string_view message,
                    JsonAlloc& a, const std::string& now) {
  JsonValue c(rapidjson::kObjectType);
  c.AddMember("type", json::make_string(type, a), a);
  c.AddMember("status", "True", a);
  c.AddMember("lastTransitionTime", json::make_string(now, a), a);
  c.AddMember("reason", json::make_string(reason, a), a);
  c.AddMember("message", json::make_string(message, a), a);
  return c;
}

// metav1.Time text for now (kop/api/time.h's one formatter).
std::string now_rfc3339() {
  return api::format_time(absl::Now());
}

std::string storage_version_of(const JsonValue& crd) {
  if (const JsonValue* vs = json::path(crd, {"spec", "versions"}); vs && vs->IsArray()) {
    for (auto& v : vs->GetArray()) {
      if (auto* s = json::find(v, "storage"); s && s->IsTrue())
        return std::string(json::string_or_empty(&v, "name"));
    }
    if (vs->Size() > 0) return std::string(json::string_or_empty(&((*vs)[0]), "name"));
  }
  return "";
}

}  // namespace

void register_crd(Registry& reg, const JsonValue& crd) {
  std::string group(json::path_string(crd, {"spec", "group"}));
  const JsonValue* names = json::path(crd, {"spec", "names"});
  if (!names) return;
  std::string plural(json::string_or_empty(&*names, "plural"));
  reg.remove(group, plural);
  std::string storage = storage_version_of(crd);
  const JsonValue* vs = json::path(crd, {"spec", "versions"});
  if (!vs || !vs->IsArray()) return;
  for (auto& v : vs->GetArray()) {
    auto* served = json::find(v, "served");
    if (served && served->IsFalse()) continue;
    ResourceType t;
    t.group = group;
    t.version = std::string(json::string_or_empty(&v, "name"));
    t.resource = plural;
    t.kind = std::string(json::string_or_empty(&*names, "kind"));
    t.singular = std::string(json::string_or_empty(&*names, "singular"));
    if (t.singular.empty()) {
      for (char c : t.kind)
        t.singular += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    t.namespaced = json::path_string(crd, {"spec", "scope"}) != "Cluster";
    t.has_status = json::path(v, {"subresources", "status"}) != nullptr;
    if (const JsonValue* sc = json::path(v, {"subresources", "scale"}); sc && sc->IsObject()) {
      t.scale = ScalePaths{std::string(json::string_or_empty(sc, "specReplicasPath")),
                           std::string(json::string_or_empty(sc, "statusReplicasPath")),
                           std::string(json::string_or_empty(sc, "labelSelectorPath"))};
    }
    t.tracks_generation = true;
    t.custom = true;
    t.storage_version = storage;
    t.webhook_conversion = json::path_string(crd, {"spec", "conversion", "strategy"}) == "Webhook";
    if (const JsonValue* sn = json::find(*names, "shortNames"); sn && sn->IsArray()) {
      for (auto& s : sn->GetArray()) t.short_names.emplace_back(json::as_string_view(s));
    }
    if (const JsonValue* cat = json::find(*names, "categories"); cat && cat->IsArray()) {
      for (auto& s : cat->GetArray()) t.categories.emplace_back(json::as_string_view(s));
    }
    if (const JsonValue* sch = json::path(v, {"schema", "openAPIV3Schema"});
        sch && sch->IsObject()) {
      t.schema = api::share(json::clone(*sch));
    }
    if (const JsonValue* cols = json::find(v, "additionalPrinterColumns");
        cols && cols->IsArray()) {
      for (auto& c : cols->GetArray()) {
        PrinterColumn pc;
        pc.name = std::string(json::string_or_empty(&c, "name"));
        pc.type = std::string(json::string_or_empty(&c, "type"));
        pc.json_path = std::string(json::string_or_empty(&c, "jsonPath"));
        pc.description = std::string(json::string_or_empty(&c, "description"));
        pc.format = std::string(json::string_or_empty(&c, "format"));
        if (auto* p = json::find(c, "priority"); p && p->IsInt()) pc.priority = p->GetInt();
        t.columns.push_back(std::move(pc));
      }
    }
    reg.add(std::move(t));
  }
}

bool status_is_current(const JsonValue& crd) {
  const JsonValue* accepted = json::path(crd, {"status", "acceptedNames"});
  const JsonValue* names = json::path(crd, {"spec", "names"});
  if (!accepted || !names || !json::equal(*accepted, *names)) return false;
  const JsonValue* conds = json::path(crd, {"status", "conditions"});
  return conds && conds->IsArray() && conds->Size() >= 2;
}

void set_status(JsonDoc& crd) {
  auto& a = crd.GetAllocator();
  JsonValue st(rapidjson::kObjectType);
  std::string now = now_rfc3339();
  JsonValue conds(rapidjson::kArrayType);
  conds.PushBack(condition("NamesAccepted", "NoConflicts", "no conflicts found", a, now), a);
  conds.PushBack(condition("Established", "InitialNamesAccepted",
                           "the initial names have been accepted", a, now),
                 a);
  st.AddMember("conditions", conds, a);
  if (const JsonValue* names = json::path(crd, {"spec", "names"}))
    st.AddMember("acceptedNames", json::copy(*names, a), a);
  JsonValue stored(rapidjson::kArrayType);
  std::string sv = storage_version_of(crd);
  if (const JsonValue* old = json::path(crd, {"status", "storedVersions"}); old && old->IsArray()) {
    for (auto& v : old->GetArray()) {
      if (json::as_string_view(v) != sv) stored.PushBack(json::copy(v, a), a);
    }
  }
  stored.PushBack(json::make_string(sv, a), a);
  st.AddMember("storedVersions", stored, a);
  json::set_member(crd, "status", std::move(st), a);
}

namespace {
// Structural-schema rule checked here: every x-kubernetes-list-map-keys property must be required
// or have a default ("this property is in x-kubernetes-list-map-keys, so it must have a default or
// be a required property").
void check_list_map_keys(const JsonValue& s, const std::string& path, FieldErrors& errs) {
  if (!s.IsObject()) return;
  if (json::string_or_empty(&s, "x-kubernetes-list-type") == "map") {
    const JsonValue* items = json::find(s, "items");
    const JsonValue* keys = json::find(s, "x-kubernetes-list-map-keys");
    if (items && keys && keys->IsArray()) {
      const JsonValue* req = json::find(*items, "required");
      for (auto& k : keys->GetArray()) {
        std::string_view key = json::as_string_view(k);
        bool required = false;
        if (req && req->IsArray()) {
          for (auto& r : req->GetArray()) required = required || json::as_string_view(r) == key;
        }
        const JsonValue* prop = json::path(*items, {"properties", key});
        if (!required && !(prop && json::find(*prop, "default"))) {
          errs.push_back(field::required(
              path + ".items.properties[" + std::string(key) + "].default",
              "this property is in x-kubernetes-list-map-keys, so it must have a default or "
              "be a required property"));
        }
      }
    }
  }
  if (const JsonValue* props = json::find(s, "properties"); props && props->IsObject()) {
    for (auto& m : props->GetObject()) {
      check_list_map_keys(
          m.value, path + ".properties[" + std::string(json::as_string_view(m.name)) + "]", errs);
    }
  }
  if (const JsonValue* items = json::find(s, "items"))
    check_list_map_keys(*items, path + ".items", errs);
  if (const JsonValue* ap = json::find(s, "additionalProperties"); ap && ap->IsObject()) {
    check_list_map_keys(*ap, path + ".additionalProperties", errs);
  }
}
}  // namespace

absl::Status validate_crd(const JsonValue& crd, const JsonValue* old) {
  FieldErrors errs;
  std::string_view name = json::path_string(crd, {"metadata", "name"});
  std::string_view group = json::path_string(crd, {"spec", "group"});
  std::string_view plural = json::path_string(crd, {"spec", "names", "plural"});
  std::string_view kind = json::path_string(crd, {"spec", "names", "kind"});
  if (name != std::string(plural) + "." + std::string(group)) {
    errs.push_back(
        field::invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"));
  }
  if (group.empty()) {
    errs.push_back(field::required("spec.group"));
  } else if (group.find('.') == std::string_view::npos) {
    errs.push_back(field::invalid("spec.group", group, "should be a domain with at least one dot"));
  }
  if (plural.empty()) errs.push_back(field::required("spec.names.plural"));
  if (kind.empty()) errs.push_back(field::required("spec.names.kind"));
  std::string_view scope = json::path_string(crd, {"spec", "scope"});
  if (scope != "Cluster" && scope != "Namespaced") {
    if (scope.empty()) {
      errs.push_back(field::required("spec.scope"));
    } else {
      errs.push_back(field::not_supported("spec.scope", scope, {"Cluster", "Namespaced"}));
    }
  }
  const JsonValue* vs = json::path(crd, {"spec", "versions"});
  if (!vs || !vs->IsArray() || vs->Empty()) {
    errs.push_back(field::invalid_raw("spec.versions",
                                      "[]apiextensions.CustomResourceDefinitionVersion(nil)",
                                      "must have exactly one version marked as storage version"));
  } else {
    int storage = 0;
    for (rapidjson::SizeType i = 0; i < vs->Size(); ++i) {
      const JsonValue& v = (*vs)[i];
      if (auto* s = json::find(v, "storage"); s && s->IsTrue()) storage++;
      std::string p = validation::idx("spec.versions", i);
      if (const JsonValue* sch = json::path(v, {"schema", "openAPIV3Schema"})) {
        check_list_map_keys(*sch, p + ".schema.openAPIV3Schema", errs);
      } else {
        errs.push_back(field::required(p + ".schema.openAPIV3Schema", "schemas are required"));
      }
      std::string_view vn = json::string_or_empty(&v, "name");
      for (auto& m : validation::is_dns1035_label(vn))
        errs.push_back(field::invalid(p + ".name", vn, m));
    }
    if (storage != 1) {
      errs.push_back(field::invalid_raw("spec.versions",
                                        "[]apiextensions.CustomResourceDefinitionVersion{...}",
                                        "must have exactly one version marked as storage version"));
    }
  }
  validation::crd_conversion(json::path(crd, {"spec", "conversion"}),
                             old != nullptr ? json::path(*old, {"spec", "conversion"}) : nullptr,
                             errs);
  if (errs.empty()) return absl::OkStatus();
  return errors::invalid(std::string(kCrdGroup), "CustomResourceDefinition", name, errs);
}

// ------------------------------------------------------------------------------------------------
// Structural schema: pruning, defaulting, validation.

namespace {

bool flag(const JsonValue& s, std::string_view k) {
  const JsonValue* v = json::find(s, k);
  return v && v->IsTrue();
}

// The schema for a member `k` of an object with schema `s`, or nullptr (unknown field).
const JsonValue* member_schema(const JsonValue& s, std::string_view k) {
  if (const JsonValue* props = json::find(s, "properties"); props && props->IsObject()) {
    if (const JsonValue* p = json::find(*props, k)) return p;
  }
  if (const JsonValue* ap = json::find(s, "additionalProperties"); ap && ap->IsObject()) return ap;
  return nullptr;
}

bool keeps_unknown(const JsonValue& s) {
  if (flag(s, "x-kubernetes-preserve-unknown-fields")) return true;
  const JsonValue* ap = json::find(s, "additionalProperties");
  return ap && (ap->IsTrue() || ap->IsObject());
}

void prune(JsonValue& v, const JsonValue& s, JsonAlloc& a, bool root) {
  if (v.IsObject()) {
    bool embedded = flag(s, "x-kubernetes-embedded-resource");
    for (auto it = v.MemberBegin(); it != v.MemberEnd();) {
      std::string_view k = json::as_string_view(it->name);
      if ((root || embedded) && (k == "apiVersion" || k == "kind" || k == "metadata")) {
        ++it;
        continue;
      }
      const JsonValue* ms = member_schema(s, k);
      if (!ms) {
        if (keeps_unknown(s)) {
          ++it;
          continue;
        }
        it = v.EraseMember(it);
        continue;
      }
      // null for a non-nullable field without a default is dropped (structural defaulting).
      if (it->value.IsNull() && !flag(*ms, "nullable")) {
        if (!json::find(*ms, "default")) {
          it = v.EraseMember(it);
          continue;
        }
      }
      prune(it->value, *ms, a, false);
      ++it;
    }
  } else if (v.IsArray()) {
    if (const JsonValue* items = json::find(s, "items"); items && items->IsObject()) {
      for (auto& e : v.GetArray()) prune(e, *items, a, false);
    }
  }
}

void apply_defaults(JsonValue& v, const JsonValue& s, JsonAlloc& a) {
  if (v.IsObject()) {
    if (const JsonValue* props = json::find(s, "properties"); props && props->IsObject()) {
      for (auto& p : props->GetObject()) {
        std::string_view k = json::as_string_view(p.name);
        JsonValue* cur = json::find(v, k);
        const JsonValue* def = json::find(p.value, "default");
        if (def && (!cur || (cur->IsNull() && !flag(p.value, "nullable")))) {
          json::set_member(v, k, json::copy(*def, a), a);
        }
      }
    }
    for (auto& m : v.GetObject()) {
      const JsonValue* ms = member_schema(s, json::as_string_view(m.name));
      if (ms) apply_defaults(m.value, *ms, a);
    }
  } else if (v.IsArray()) {
    if (const JsonValue* items = json::find(s, "items"); items && items->IsObject()) {
      for (auto& e : v.GetArray()) apply_defaults(e, *items, a);
    }
  }
}

std::string num_repr(const JsonValue& v) {
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsDouble()) {
    double d = v.GetDouble();
    if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(int64_t(d));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", d);
    return buf;
  }
  return json::to_json(v);
}

// Go's %v of a decoded JSON value (err.Value in kube-openapi errors).
std::string go_value(const JsonValue& v) {
  if (v.IsString()) return field::quote(json::as_string_view(v));
  if (v.IsNumber()) return num_repr(v);
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsNull()) return "null";
  return field::repr(v);
}

struct RegexCache {
  absl::Mutex mu;
  std::map<std::string, std::unique_ptr<RE2>> m ABSL_GUARDED_BY(mu);
  const RE2* get(const std::string& p) {
    absl::MutexLock l(&mu);
    auto it = m.find(p);
    if (it == m.end()) {
      RE2::Options o;
      o.set_log_errors(false);
      it = m.emplace(p, std::make_unique<RE2>(p, o)).first;
    }
    return it->second->ok() ? it->second.get() : nullptr;
  }
};
RegexCache& regexes() {
  static RegexCache c;
  return c;
}

bool format_ok(std::string_view fmt, const JsonValue& v) {
  if (!v.IsString()) return true;
  std::string s(json::as_string_view(v));
  if (fmt == "date-time" || fmt == "datetime") {
    static const RE2 re(
        R"(^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$)");
    return RE2::FullMatch(s, re);
  }
  if (fmt == "date") {
    static const RE2 re(R"(^\d{4}-\d{2}-\d{2}$)");
    return RE2::FullMatch(s, re);
  }
  if (fmt == "ipv4") return validation::is_valid_ip(s).empty() && s.find(':') == std::string::npos;
  if (fmt == "ipv6") return s.find(':') != std::string::npos && validation::is_valid_ip(s).empty();
  if (fmt == "uuid") {
    static const RE2 re(
        R"(^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)");
    return RE2::FullMatch(s, re);
  }
  if (fmt == "byte") {
    static const RE2 re(R"(^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$)");
    return RE2::FullMatch(s, re);
  }
  if (fmt == "hostname")
    return !s.empty() && s.size() <= 255 && validation::is_dns1123_subdomain(s).empty();
  if (fmt == "email") return s.find('@') != std::string::npos && s.find('@') > 0 && s.back() != '@';
  return true;  // other formats are accepted as the API server's list allows them
}

std::string type_of_value(const JsonValue& v) {
  std::string_view t = json::type_name(v);
  return std::string(t);
}

bool type_ok(std::string_view type, const JsonValue& v) {
  if (type.empty()) return true;
  std::string_view actual = json::type_name(v);
  if (type == "number") return v.IsNumber();
  if (type == "integer") return actual == "integer";
  return type == actual;
}

void validate_value(const JsonValue& v, const JsonValue& s, const std::string& path,
                    FieldErrors& errs, bool root);

// allOf / anyOf / oneOf / not (value validations in a structural schema), with the messages of
// kube-apiserver 1.20's validator: a composite error on field <nil>, then the errors of the
// alternative that came closest (the most properties of the value it validates; the first on a
// tie), as its validator scores the failures.
void validate_junctors(const JsonValue& v, const JsonValue& s, const std::string& path,
                       FieldErrors& errs) {
  struct Failure {
    FieldErrors errs;
    int score = 0;
  };
  auto composite = [&](const std::string& what) {
    errs.push_back(field::invalid_raw("<nil>", "\"\"", "\"" + path + "\" " + what));
  };
  auto run = [&](const JsonValue& sub) {
    Failure f;
    validate_value(v, sub, path, f.errs, false);
    const JsonValue* props = json::find(sub, "properties");
    if (v.IsObject() && props && props->IsObject()) {
      for (auto& p : props->GetObject()) {
        const JsonValue* m = json::find(v, json::as_string_view(p.name));
        if (m == nullptr) continue;
        FieldErrors e;
        validate_value(*m, p.value, path, e, false);
        f.score += e.empty();
      }
    }
    return f;
  };
  // The failure to report: the highest score, the first on a tie.
  auto report = [&](std::vector<Failure>& failures) {
    size_t best = 0;
    for (size_t i = 1; i < failures.size(); ++i)
      if (failures[i].score > failures[best].score) best = i;
    for (auto& e : failures[best].errs) errs.push_back(std::move(e));
  };
  if (const JsonValue* all = json::find(s, "allOf"); all && all->IsArray()) {
    FieldErrors sub_errs;
    for (auto& sub : all->GetArray())
      for (auto& e : run(sub).errs) sub_errs.push_back(std::move(e));
    if (!sub_errs.empty()) {
      composite("must validate all the schemas (allOf)");
      for (auto& e : sub_errs) errs.push_back(std::move(e));
    }
  }
  if (const JsonValue* any = json::find(s, "anyOf"); any && any->IsArray() && !any->Empty()) {
    std::vector<Failure> failures;
    bool valid = false;
    for (auto& sub : any->GetArray()) {
      Failure f = run(sub);
      if (f.errs.empty()) {
        valid = true;
        break;
      }
      failures.push_back(std::move(f));
    }
    if (!valid) {
      composite("must validate at least one schema (anyOf)");
      report(failures);
    }
  }
  if (const JsonValue* one = json::find(s, "oneOf"); one && one->IsArray() && !one->Empty()) {
    std::vector<Failure> failures;
    size_t valid = 0;
    for (auto& sub : one->GetArray()) {
      Failure f = run(sub);
      if (f.errs.empty())
        ++valid;
      else
        failures.push_back(std::move(f));
    }
    if (valid == 0) {
      composite("must validate one and only one schema (oneOf). Found none valid");
      report(failures);
    } else if (valid > 1) {
      composite("must validate one and only one schema (oneOf). Found " + std::to_string(valid) +
                " valid alternatives");
    }
  }
  if (const JsonValue* no = json::find(s, "not"); no && no->IsObject() && run(*no).errs.empty()) {
    composite("must not validate the schema (not)");
  }
}

void validate_value(const JsonValue& v, const JsonValue& s, const std::string& path,
                    FieldErrors& errs, bool root) {
  auto add_invalid = [&](const std::string& msg) {
    errs.push_back(field::invalid_raw(path, go_value(v), msg));
  };
  const std::string& name = path;
  if (v.IsNull()) {
    if (flag(s, "nullable")) return;
  }
  bool int_or_string = flag(s, "x-kubernetes-int-or-string");
  std::string_view type = json::string_or_empty(&s, "type");
  if (int_or_string) {
    if (!(json::type_name(v) == "integer" || v.IsString())) {
      errs.push_back(field::invalid_raw(
          path, field::quote(type_of_value(v)),
          name + " in body must be of type integer,string: " + field::quote(type_of_value(v))));
      return;
    }
  } else if (!type.empty() && !type_ok(type, v)) {
    errs.push_back(field::invalid_raw(path, field::quote(type_of_value(v)),
                                      name + " in body must be of type " + std::string(type) +
                                          ": " + field::quote(type_of_value(v))));
    return;
  }
  if (const JsonValue* en = json::find(s, "enum"); en && en->IsArray()) {
    bool found = false;
    for (auto& e : en->GetArray()) found = found || json::equal(e, v);
    if (!found) {
      std::vector<std::string> vals;
      for (auto& e : en->GetArray())
        vals.push_back(e.IsString() ? std::string(json::as_string_view(e)) : json::to_json(e));
      FieldError fe = field::not_supported(path, "", vals);
      fe.bad_value = go_value(v);
      errs.push_back(std::move(fe));
    }
  }
  if (v.IsString()) {
    std::string_view sv = json::as_string_view(v);
    // Lengths count runes, as Go's utf8.RuneCountInString.
    size_t runes = 0;
    for (unsigned char c : sv) runes += (c & 0xC0) != 0x80;
    if (auto* m = json::find(s, "maxLength"); m && m->IsInt64() && int64_t(runes) > m->GetInt64()) {
      add_invalid(name + " in body should be at most " + std::to_string(m->GetInt64()) +
                  " chars long");
    }
    if (auto* m = json::find(s, "minLength"); m && m->IsInt64() && int64_t(runes) < m->GetInt64()) {
      add_invalid(name + " in body should be at least " + std::to_string(m->GetInt64()) +
                  " chars long");
    }
    if (std::string_view pat = json::string_or_empty(&s, "pattern"); !pat.empty()) {
      const RE2* re = regexes().get(std::string(pat));
      if (re && !RE2::PartialMatch(std::string(sv), *re)) {
        add_invalid(name + " in body should match '" + std::string(pat) + "'");
      }
    }
    if (std::string_view fmt = json::string_or_empty(&s, "format");
        !fmt.empty() && !format_ok(fmt, v)) {
      add_invalid(name + " in body must be of type " + std::string(fmt) + ": " + field::quote(sv));
    }
  }
  if (v.IsNumber()) {
    double d = v.GetDouble();
    if (auto* m = json::find(s, "maximum"); m && m->IsNumber()) {
      bool excl = flag(s, "exclusiveMaximum");
      if (excl ? d >= m->GetDouble() : d > m->GetDouble()) {
        add_invalid(name + " in body should be less than " + (excl ? "" : "or equal to ") +
                    num_repr(*m));
      }
    }
    if (auto* m = json::find(s, "minimum"); m && m->IsNumber()) {
      bool excl = flag(s, "exclusiveMinimum");
      if (excl ? d <= m->GetDouble() : d < m->GetDouble()) {
        add_invalid(name + " in body should be greater than " + (excl ? "" : "or equal to ") +
                    num_repr(*m));
      }
    }
    if (auto* m = json::find(s, "multipleOf"); m && m->IsNumber() && m->GetDouble() != 0) {
      double q = d / m->GetDouble();
      if (std::fabs(q - std::round(q)) > 1e-9)
        add_invalid(name + " in body should be a multiple of " + num_repr(*m));
    }
    std::string_view fmt = json::string_or_empty(&s, "format");
    if (fmt == "int32" && (d > 2147483647.0 || d < -2147483648.0)) {
      add_invalid(name + " in body must be of type int32: " + field::quote(num_repr(v)));
    }
  }
  if (v.IsArray()) {
    int64_t n = v.Size();
    if (auto* m = json::find(s, "maxItems"); m && m->IsInt64() && n > m->GetInt64()) {
      errs.push_back(field::invalid_raw(
          path, std::to_string(n),
          name + " in body should have at most " + std::to_string(m->GetInt64()) + " items"));
    }
    if (auto* m = json::find(s, "minItems"); m && m->IsInt64() && n < m->GetInt64()) {
      errs.push_back(field::invalid_raw(
          path, std::to_string(n),
          name + " in body should have at least " + std::to_string(m->GetInt64()) + " items"));
    }
    if (flag(s, "uniqueItems")) {
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        for (rapidjson::SizeType j = i + 1; j < v.Size(); ++j) {
          if (json::equal(v[i], v[j])) {
            add_invalid(name + " in body shouldn't contain duplicates");
            i = v.Size();
            break;
          }
        }
      }
    }
    if (const JsonValue* items = json::find(s, "items"); items && items->IsObject()) {
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
        validate_value(v[i], *items, validation::idx(path, i), errs, false);
    }
  }
  if (v.IsObject()) {
    if (const JsonValue* req = json::find(s, "required"); req && req->IsArray()) {
      for (auto& r : req->GetArray()) {
        std::string_view k = json::as_string_view(r);
        const JsonValue* m = json::find(v, k);
        if (!m)
          errs.push_back(
              field::required(path.empty() ? std::string(k) : path + "." + std::string(k)));
      }
    }
    int64_t n = v.MemberCount();
    if (auto* m = json::find(s, "maxProperties"); m && m->IsInt64() && n > m->GetInt64()) {
      add_invalid(name + " in body should have at most " + std::to_string(m->GetInt64()) +
                  " properties");
    }
    if (auto* m = json::find(s, "minProperties"); m && m->IsInt64() && n < m->GetInt64()) {
      add_invalid(name + " in body should have at least " + std::to_string(m->GetInt64()) +
                  " properties");
    }
    for (auto& m : v.GetObject()) {
      std::string_view k = json::as_string_view(m.name);
      if (root && (k == "apiVersion" || k == "kind" || k == "metadata")) continue;
      const JsonValue* ms = member_schema(s, k);
      if (!ms) continue;
      std::string child = path.empty() ? std::string(k) : path + "." + std::string(k);
      validate_value(m.value, *ms, child, errs, false);
    }
  }
  validate_junctors(v, s, path, errs);
}

}  // namespace

void default_custom(const ResourceType& t, JsonDoc& obj) {
  if (!t.schema) return;
  const JsonValue& s = t.schema->doc();
  auto& a = obj.GetAllocator();
  prune(obj, s, a, true);
  apply_defaults(obj, s, a);
}

void validate_custom(const ResourceType& t, const JsonValue& obj, const JsonValue* old,
                     FieldErrors& errs) {
  (void)old;
  if (!t.schema) return;
  validate_value(obj, t.schema->doc(), "", errs, true);
}

}  // namespace kop::local::crd
