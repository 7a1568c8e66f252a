#include "rest.h"

#include <absl/strings/str_cat.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "access_review.h"
#include "errors.h"
#include "field_validation.h"
#include "kop/api/yaml.h"
#include "openapi.h"
#include "patch.h"
#include "proto_codec.h"
#include "scale.h"
#include "validation.h"

namespace kop::local::rest {

namespace {

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) p = s.size();
    if (p > start) out.emplace_back(s.substr(start, p - start));
    start = p + 1;
  }
  return out;
}

Response json_response(int status, const JsonValue& v) {
  Response r;
  r.status = status;
  r.body = json::to_json(v);
  return r;
}

// The Status object as the body, its code as the HTTP status (200 for a Success Status, which the
// API server writes without a code).
Response status_response(const client::ApiStatus& s) {
  Response r;
  r.status = s.code == 0 ? 200 : s.code;
  r.body = client::to_json(s);
  int retry_after = s.details ? s.details->retry_after_seconds : 0;
  if (s.code == 429 || s.code == 503 || retry_after > 0) {
    r.headers.emplace_back("Retry-After", std::to_string(std::max(1, retry_after)));
  }
  return r;
}
Response status_response(const absl::Status& st) {
  return status_response(client::api_status_of(st));
}

bool truthy(const std::string& v) {
  return v == "1" || v == "true" || v == "True";
}

std::string human_duration(int64_t secs) {
  if (secs < 0) secs = 0;
  if (secs < 120) return std::to_string(secs) + "s";
  int64_t m = secs / 60;
  if (m < 10) return std::to_string(m) + "m" + (secs % 60 ? std::to_string(secs % 60) + "s" : "");
  if (m < 180) return std::to_string(m) + "m";
  int64_t h = secs / 3600;
  if (h < 8) return std::to_string(h) + "h" + ((m % 60) ? std::to_string(m % 60) + "m" : "");
  if (h < 48) return std::to_string(h) + "h";
  int64_t d = h / 24;
  if (d < 8) return std::to_string(d) + "d" + ((h % 24) ? std::to_string(h % 24) + "h" : "");
  if (d < 730) return std::to_string(d) + "d";
  return std::to_string(d / 365) + "y";
}

int64_t parse_time(std::string_view ts) {
  std::tm tm{};
  std::string s(ts);
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  return timegm(&tm);
}

// ---- Table output (kubectl get) ---------------------------------------------------------------

struct Column {
  std::string name, type, format, description;
  int priority = 0;
  std::function<JsonValue(const JsonValue&, JsonAlloc&)> cell;
};

std::string ports_string(const JsonValue* ports) {
  std::string s;
  if (!ports || !ports->IsArray()) return "<none>";
  for (auto& p : ports->GetArray()) {
    if (!s.empty()) s += ",";
    const JsonValue* port = json::find(p, "port");
    s += port ? json::to_json(*port) : "";
    if (const JsonValue* np = json::find(p, "nodePort")) s += ":" + json::to_json(*np);
    s += "/" + std::string(json::string_or_empty(&p, "protocol"));
  }
  return s.empty() ? "<none>" : s;
}

// The first element of array `cur` whose member `key` equals the string `want`.
const JsonValue* first_where(const JsonValue* cur, std::string_view key, std::string_view want) {
  if (cur == nullptr || !cur->IsArray()) return nullptr;
  for (auto& e : cur->GetArray())
    if (const JsonValue* m = json::find(e, key);
        m && m->IsString() && json::as_string_view(*m) == want)
      return &e;
  return nullptr;
}

// A tiny JSONPath subset for additionalPrinterColumns: ".a.b", ".a[0].b", and the filter
// ".a[?(@.k=="v")].b" (the first match) that Gateway API's condition columns use.
const JsonValue* json_path(const JsonValue& obj, std::string_view p) {
  const JsonValue* cur = &obj;
  size_t i = 0;
  if (!p.empty() && p[0] == '{') p = p.substr(1, p.size() - 2);
  while (cur && i < p.size()) {
    if (p[i] == '.') {
      ++i;
      size_t j = i;
      while (j < p.size() && p[j] != '.' && p[j] != '[') ++j;
      if (j > i) cur = json::find(*cur, p.substr(i, j - i));
      i = j;
    } else if (p[i] == '[') {
      size_t j = p.find(']', i);
      if (j == std::string_view::npos) return nullptr;
      std::string idx(p.substr(i + 1, j - i - 1));
      if (idx.rfind("?(@.", 0) == 0) {
        // ?(@.key=="value") or ?(@.key=='value'); a ']' inside the quotes is not supported.
        size_t eq = idx.find("==");
        if (eq == std::string::npos || idx.size() < eq + 5 || idx.back() != ')') return nullptr;
        std::string key = idx.substr(4, eq - 4);
        std::string want = idx.substr(eq + 3, idx.size() - eq - 5);
        cur = first_where(cur, key, want);
        i = j + 1;
        continue;
      }
      if (!cur->IsArray() || idx.empty() || !std::isdigit(static_cast<unsigned char>(idx[0])))
        return nullptr;
      size_t n = std::stoul(idx);
      cur = n < cur->Size() ? &(*cur)[static_cast<rapidjson::SizeType>(n)] : nullptr;
      i = j + 1;
    } else {
      return nullptr;
    }
  }
  return cur;
}

// Column descriptions as kube-apiserver's printers take them from the API documentation.
constexpr const char* kNameDescription =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow "
    "a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation "
    "idempotence and configuration definition. Cannot be updated. More info: "
    "http://kubernetes.io/docs/user-guide/identifiers#names";
constexpr const char* kAgeDescription =
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set "
    "this value. It is "
    "represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
    "lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
constexpr const char* kConfigMapDataDescription =
    "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', "
    "'_' or '.'. Values "
    "with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not "
    "overlap with the "
    "keys in the BinaryData field, this is enforced during validation process.";
constexpr const char* kSecretDataDescription =
    "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or "
    "'.'. The serialized "
    "form of the secret data is a base64 encoded string, representing the arbitrary (possibly "
    "non-string) data value "
    "here. Described in https://tools.ietf.org/html/rfc4648#section-4";

std::vector<Column> columns_for(const ResourceType& t) {
  std::vector<Column> cols;
  auto str = [](const std::string& s, JsonAlloc& a) { return json::make_string(s, a); };
  cols.push_back(
      {"Name", "string", "name", kNameDescription, 0, [](const JsonValue& o, JsonAlloc& a) {
         return json::make_string(json::path_string(o, {"metadata", "name"}), a);
       }});
  if (t.group.empty() && t.resource == "namespaces") {
    cols.push_back({"Status", "string", "", "The status of the namespace", 0,
                    [](const JsonValue& o, JsonAlloc& a) {
                      return json::make_string(json::path_string(o, {"status", "phase"}), a);
                    }});
  } else if (t.group.empty() && (t.resource == "configmaps" || t.resource == "secrets")) {
    if (t.resource == "secrets") {
      cols.push_back(
          {"Type", "string", "", "The type of the secret", 0, [](const JsonValue& o, JsonAlloc& a) {
             return json::make_string(json::string_or_empty(&o, "type"), a);
           }});
    }
    cols.push_back({"Data", "string", "",
                    t.resource == "secrets" ? kSecretDataDescription : kConfigMapDataDescription, 0,
                    [](const JsonValue& o, JsonAlloc&) {
                      int64_t n = 0;
                      for (auto k : {"data", "binaryData"}) {
                        if (const JsonValue* d = json::find(o, k); d && d->IsObject())
                          n += d->MemberCount();
                      }
                      return JsonValue(n);
                    }});
  } else if (t.group.empty() && t.resource == "services") {
    cols.push_back(
        {"Type", "string", "", "The type of the service.", 0, [](const JsonValue& o, JsonAlloc& a) {
           return json::make_string(json::path_string(o, {"spec", "type"}), a);
         }});
    cols.push_back({"Cluster-IP", "string", "", "The IP address of the service.", 0,
                    [](const JsonValue& o, JsonAlloc& a) {
                      return json::make_string(json::path_string(o, {"spec", "clusterIP"}), a);
                    }});
    cols.push_back({"External-IP", "string", "", "The external IP address of the service.", 0,
                    [str](const JsonValue&, JsonAlloc& a) { return str("<none>", a); }});
    cols.push_back({"Port(s)", "string", "", "The ports of the service.", 0,
                    [str](const JsonValue& o, JsonAlloc& a) {
                      return str(ports_string(json::path(o, {"spec", "ports"})), a);
                    }});
  } else if (t.group == "networking.k8s.io" && t.resource == "ingresses") {
    cols.push_back({"Class", "string", "", "The class of the ingress.", 0,
                    [](const JsonValue& o, JsonAlloc& a) {
                      std::string_view c = json::path_string(o, {"spec", "ingressClassName"});
                      return json::make_string(c.empty() ? "<none>" : c, a);
                    }});
    cols.push_back({"Hosts", "string", "", "The hosts of the ingress.", 0,
                    [str](const JsonValue& o, JsonAlloc& a) {
                      std::string hosts;
                      if (const JsonValue* rules = json::path(o, {"spec", "rules"});
                          rules && rules->IsArray()) {
                        for (auto& r : rules->GetArray()) {
                          std::string_view h = json::string_or_empty(&r, "host");
                          if (!h.empty()) hosts += (hosts.empty() ? "" : ",") + std::string(h);
                        }
                      }
                      return str(hosts.empty() ? "*" : hosts, a);
                    }});
    cols.push_back({"Address", "string", "", "The address of the ingress.", 0,
                    [str](const JsonValue& o, JsonAlloc& a) {
                      std::string addr;
                      if (const JsonValue* lb =
                              json::path(o, {"status", "loadBalancer", "ingress"});
                          lb && lb->IsArray()) {
                        for (auto& i : lb->GetArray()) {
                          std::string_view v = json::string_or_empty(&i, "ip");
                          if (v.empty()) v = json::string_or_empty(&i, "hostname");
                          addr += (addr.empty() ? "" : ",") + std::string(v);
                        }
                      }
                      return str(addr, a);
                    }});
    cols.push_back({"Ports", "string", "", "The ports of the ingress.", 0,
                    [str](const JsonValue& o, JsonAlloc& a) {
                      const JsonValue* tls = json::path(o, {"spec", "tls"});
                      return str(tls && tls->IsArray() && !tls->Empty() ? "80, 443" : "80", a);
                    }});
  } else if (t.group == "networking.k8s.io" && t.resource == "ingressclasses") {
    cols.push_back({"Controller", "string", "",
                    "Controller that is responsible for handling this class", 0,
                    [](const JsonValue& o, JsonAlloc& a) {
                      return json::make_string(json::path_string(o, {"spec", "controller"}), a);
                    }});
  } else if (t.custom && !t.columns.empty()) {
    for (auto& pc : t.columns) {
      std::string path = pc.json_path;
      std::string desc = pc.description.empty()
                             ? "Custom resource definition column (in JSONPath format): " + path
                             : pc.description;
      bool date = pc.type == "date";
      cols.push_back({pc.name, pc.type, pc.format, desc, pc.priority,
                      [path, date](const JsonValue& o, JsonAlloc& a) {
                        const JsonValue* v = json_path(o, path);
                        if (!v) return JsonValue();
                        // A date column shows the time since, as the API server's table
                        // convertor does ("5m"), not the timestamp.
                        if (date && v->IsString()) {
                          int64_t t = parse_time(json::as_string_view(*v));
                          return json::make_string(human_duration(std::time(nullptr) - t), a);
                        }
                        return json::copy(*v, a);
                      }});
    }
    return cols;  // a CRD's printer columns replace the default Age column
  }
  cols.push_back(
      {"Age", "string", "", kAgeDescription, 0, [](const JsonValue& o, JsonAlloc& a) {
         int64_t created = parse_time(json::path_string(o, {"metadata", "creationTimestamp"}));
         return json::make_string(human_duration(std::time(nullptr) - created), a);
       }});
  return cols;
}

JsonDoc make_table(const ResourceType& t, const std::vector<ObjectPtr>& items, std::string_view rv,
                   std::string_view cont = {}) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", "Table", a);
  d.AddMember("apiVersion", "meta.k8s.io/v1", a);
  JsonValue meta(rapidjson::kObjectType);
  if (!rv.empty()) meta.AddMember("resourceVersion", json::make_string(rv, a), a);
  if (!cont.empty()) meta.AddMember("continue", json::make_string(cont, a), a);
  d.AddMember("metadata", meta, a);
  auto cols = columns_for(t);
  JsonValue defs(rapidjson::kArrayType);
  for (auto& c : cols) {
    JsonValue cd(rapidjson::kObjectType);
    cd.AddMember("name", json::make_string(c.name, a), a);
    cd.AddMember("type", json::make_string(c.type, a), a);
    cd.AddMember("format", json::make_string(c.format, a), a);
    cd.AddMember("description", json::make_string(c.description, a), a);
    cd.AddMember("priority", c.priority, a);
    defs.PushBack(cd, a);
  }
  d.AddMember("columnDefinitions", defs, a);
  JsonValue rows(rapidjson::kArrayType);
  for (auto& it : items) {
    const JsonValue& o = it->doc();
    JsonValue row(rapidjson::kObjectType);
    JsonValue cells(rapidjson::kArrayType);
    for (auto& c : cols) cells.PushBack(c.cell(o, a), a);
    row.AddMember("cells", cells, a);
    JsonValue pom(rapidjson::kObjectType);
    pom.AddMember("kind", "PartialObjectMetadata", a);
    pom.AddMember("apiVersion", "meta.k8s.io/v1", a);
    if (const JsonValue* m = json::find(o, "metadata"))
      pom.AddMember("metadata", json::copy(*m, a), a);
    row.AddMember("object", pom, a);
    rows.PushBack(row, a);
  }
  d.AddMember("rows", rows, a);
  return d;
}

bool wants_table(const Request& req) {
  auto it = req.headers.find("accept");
  return it != req.headers.end() && it->second.find("as=Table") != std::string::npos;
}

// ---- discovery ----------------------------------------------------------------------------------

std::vector<std::string> verbs_all() {
  return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
}

JsonDoc resource_list(Store& store, std::string_view group, std::string_view version) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", "APIResourceList", a);
  d.AddMember("apiVersion", "v1", a);
  std::string gv =
      group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
  d.AddMember("groupVersion", json::make_string(gv, a), a);
  JsonValue res(rapidjson::kArrayType);
  auto types = store.registry().all();
  std::sort(types.begin(), types.end(), [](auto& x, auto& y) { return x->resource < y->resource; });
  for (auto& t : types) {
    if (t->group != group || t->version != version) continue;
    JsonValue r(rapidjson::kObjectType);
    r.AddMember("name", json::make_string(t->resource, a), a);
    r.AddMember("singularName", json::make_string(t->singular, a), a);
    r.AddMember("namespaced", t->namespaced, a);
    r.AddMember("kind", json::make_string(t->kind, a), a);
    JsonValue verbs(rapidjson::kArrayType);
    for (auto& v : verbs_all()) verbs.PushBack(json::make_string(v, a), a);
    r.AddMember("verbs", verbs, a);
    if (!t->short_names.empty()) {
      JsonValue sn(rapidjson::kArrayType);
      for (auto& s : t->short_names) sn.PushBack(json::make_string(s, a), a);
      r.AddMember("shortNames", sn, a);
    }
    if (!t->categories.empty()) {
      JsonValue cat(rapidjson::kArrayType);
      for (auto& s : t->categories) cat.PushBack(json::make_string(s, a), a);
      r.AddMember("categories", cat, a);
    }
    res.PushBack(r, a);
    if (t->scale) {
      JsonValue s(rapidjson::kObjectType);
      s.AddMember("name", json::make_string(t->resource + "/scale", a), a);
      s.AddMember("singularName", "", a);
      s.AddMember("namespaced", t->namespaced, a);
      s.AddMember("group", "autoscaling", a);
      s.AddMember("version", "v1", a);
      s.AddMember("kind", "Scale", a);
      JsonValue verbs(rapidjson::kArrayType);
      for (auto v : {"get", "patch", "update"}) verbs.PushBack(json::ref(v), a);
      s.AddMember("verbs", verbs, a);
      res.PushBack(s, a);
    }
    if (t->has_status) {
      JsonValue s(rapidjson::kObjectType);
      s.AddMember("name", json::make_string(t->resource + "/status", a), a);
      s.AddMember("singularName", "", a);
      s.AddMember("namespaced", t->namespaced, a);
      s.AddMember("kind", json::make_string(t->kind, a), a);
      JsonValue verbs(rapidjson::kArrayType);
      for (auto v : {"get", "patch", "update"}) verbs.PushBack(json::ref(v), a);
      s.AddMember("verbs", verbs, a);
      res.PushBack(s, a);
    }
  }
  if (group == access_review::kGroup && version == access_review::kVersion)
    access_review::add_discovery(res, a);
  if (group == access_review::kAuthnGroup && version == access_review::kVersion)
    access_review::add_authn_discovery(res, a);
  d.AddMember("resources", res, a);
  return d;
}

JsonDoc group_list(Store& store) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", "APIGroupList", a);
  d.AddMember("apiVersion", "v1", a);
  std::map<std::string, std::vector<ResourceTypePtr>> groups;
  for (auto& t : store.registry().all()) {
    if (!t->group.empty()) groups[t->group].push_back(t);
  }
  // The access reviews' groups serve no stored kind: a version entry of their own.
  for (std::string_view g : {access_review::kGroup, access_review::kAuthnGroup}) {
    auto review = std::make_shared<ResourceType>();
    review->group = std::string(g);
    review->version = std::string(access_review::kVersion);
    review->storage_version = review->version;
    std::vector<ResourceTypePtr>& entry = groups[review->group];
    entry.push_back(std::move(review));
  }
  JsonValue arr(rapidjson::kArrayType);
  for (auto& [g, types] : groups) {
    JsonValue go(rapidjson::kObjectType);
    go.AddMember("name", json::make_string(g, a), a);
    std::vector<std::string> versions;
    std::string preferred;
    for (auto& t : types) {
      if (std::find(versions.begin(), versions.end(), t->version) == versions.end())
        versions.push_back(t->version);
      if (t->version == t->storage_version) preferred = t->version;
    }
    if (preferred.empty()) preferred = versions.front();
    std::stable_sort(versions.begin(), versions.end(),
                     [&](auto& x, auto& y) { return x == preferred && y != preferred; });
    JsonValue vs(rapidjson::kArrayType);
    for (auto& v : versions) {
      JsonValue vo(rapidjson::kObjectType);
      vo.AddMember("groupVersion", json::make_string(absl::StrCat(g, "/", v), a), a);
      vo.AddMember("version", json::make_string(v, a), a);
      vs.PushBack(vo, a);
    }
    go.AddMember("versions", vs, a);
    JsonValue pv(rapidjson::kObjectType);
    pv.AddMember("groupVersion", json::make_string(absl::StrCat(g, "/", preferred), a), a);
    pv.AddMember("version", json::make_string(preferred, a), a);
    go.AddMember("preferredVersion", pv, a);
    arr.PushBack(go, a);
  }
  d.AddMember("groups", arr, a);
  return d;
}

// ---- request parsing ---------------------------------------------------------------------------

bool unsupported_body(const Request& req) {
  auto ct = req.headers.find("content-type");
  if (ct == req.headers.end() || req.body.empty()) return false;
  const std::string& t = ct->second;
  return t.find("json") == std::string::npos && t.find("yaml") == std::string::npos &&
         !proto::is_protobuf(t);
}

std::optional<JsonDoc> parse_body(const Request& req, std::string& err) {
  auto ct = req.headers.find("content-type");
  std::string type = ct == req.headers.end() ? "application/json" : ct->second;
  if (proto::is_protobuf(type)) {
    auto d = proto::decode(req.body);
    if (!d.ok()) {
      err = std::string(d.status().message());
      return std::nullopt;
    }
    return *std::move(d);
  }
  if (type.find("yaml") != std::string::npos) {
    auto d = api::yaml_first_document(req.body, "the request body");
    if (!d.ok()) {
      err = "error converting YAML to JSON: " + std::string(d.status().message());
      return std::nullopt;
    }
    return *std::move(d);
  }
  return json::parse(req.body, &err);
}

// The API server's default field manager: the User-Agent up to the first '/'.
std::string manager_of(const Request& req, const std::string& param) {
  if (!param.empty()) return param;
  auto it = req.headers.find("user-agent");
  if (it == req.headers.end()) return "unknown";
  std::string ua = it->second.substr(0, it->second.find('/'));
  return ua.empty() ? "unknown" : ua;
}

// The query parameter resourceVersionMatch of a list. A value the API server does not know is 422,
// listed with the other ListOptions errors as ValidateListOptions lists them.
absl::StatusOr<client::ResourceVersionMatch> resource_version_match(const std::string& v,
                                                                    const ListOptions& o) {
  if (v.empty()) return client::ResourceVersionMatch::kUnset;
  if (v == "Exact") return client::ResourceVersionMatch::kExact;
  if (v == "NotOlderThan") return client::ResourceVersionMatch::kNotOlderThan;
  FieldErrors errs;
  validation::list_options(o, v, errs);
  return errors::invalid("meta.k8s.io", "ListOptions", "", errs);
}

// DeleteOptions.propagationPolicy; an unknown policy is 422 as ValidateDeleteOptions answers.
absl::StatusOr<client::PropagationPolicy> propagation_policy(const std::string& v) {
  if (v.empty()) return client::PropagationPolicy::kUnset;
  if (v == "Orphan") return client::PropagationPolicy::kOrphan;
  if (v == "Background") return client::PropagationPolicy::kBackground;
  if (v == "Foreground") return client::PropagationPolicy::kForeground;
  return errors::invalid("meta.k8s.io", "DeleteOptions", "",
                         {field::not_supported("propagationPolicy", v,
                                               {"Foreground", "Background", "Orphan", "nil"})});
}

bool dry_run(const std::map<std::string, std::string>& q) {
  auto it = q.find("dryRun");
  return it != q.end() && it->second == "All";
}

// /openapi/v3 and its group-version documents (openapi.h).
Response openapi_v3(Store& store, const std::vector<std::string>& segs) {
  if (segs.size() == 2) return json_response(200, openapi::v3_index(store.registry()));
  std::string want;
  for (size_t i = 2; i < segs.size(); ++i) want += (i > 2 ? "/" : "") + segs[i];
  auto d = openapi::v3_group_version(store.registry(), want);
  if (!d) return status_response(errors::resource_not_served());
  return json_response(200, *d);
}

// /openapi/v2 in JSON. client-go asks for the protobuf form only (gnostic's OpenAPIv2), which is
// not spoken: 406, on which it gives up on v2 (kubectl explain and apply then use v3).
Response openapi_v2(Store& store, const Request& req) {
  auto accept = req.headers.find("accept");
  if (accept != req.headers.end() && !accept->second.empty() &&
      accept->second.find("json") == std::string::npos &&
      accept->second.find("*/*") == std::string::npos) {
    return status_response(
        errors::not_acceptable("only the following media types are accepted: application/json"));
  }
  return json_response(200, openapi::v2(store.registry()));
}

// The fieldValidation query parameter (field_validation.h) on a built-in kind's body: unknown
// fields are removed; Strict refuses them (400), Warn adds a Warning header each (collected in
// `warnings`). Without the parameter the body is left as sent. Returns the 400 to answer, or
// nothing.
std::optional<Response> validate_fields(const ResourceType& t, JsonValue& body,
                                        const std::string& mode, Response& warnings) {
  if (t.custom || (mode != "Strict" && mode != "Warn" && mode != "Ignore")) return std::nullopt;
  std::vector<std::string> unknown = field_validation::prune_unknown(body, t.api_version(), t.kind);
  if (unknown.empty()) return std::nullopt;
  std::string list;
  for (const std::string& u : unknown)
    list += (list.empty() ? "" : ", ") + std::string("unknown field \"") + u + "\"";
  if (mode == "Strict")
    return status_response(client::bad_request("strict decoding error: " + list));
  if (mode == "Warn") {
    for (const std::string& u : unknown)
      warnings.headers.emplace_back("Warning", "299 - \"unknown field \\\"" + u + "\\\"\"");
  }
  return std::nullopt;
}

Response with_warnings(Response&& r, const Response& warnings) {
  for (const auto& h : warnings.headers) r.headers.push_back(h);
  return r;
}

// GET, PUT and PATCH of /scale: the Scale is read from the object and written back as its
// replicas (scale.h); a patch applies to the Scale, as the API server's scale storage does.
Response scale_request(Store& store, const ResourceType& t, const std::string& ns,
                       const std::string& name, const Request& req,
                       std::map<std::string, std::string>& q) {
  const std::string& m = req.method;
  if (name.empty() || (m != "GET" && m != "PUT" && m != "PATCH"))
    return status_response(client::method_not_supported(t.group, t.resource + "/scale", m));
  auto cur = store.get(t, ns, name);
  if (!cur.ok()) return status_response(cur.status());
  auto cur_scale = scale::of(t, (*cur)->doc());
  if (!cur_scale.ok()) return status_response(cur_scale.status());
  if (m == "GET") return json_response(200, *cur_scale);
  std::optional<JsonDoc> want;
  if (m == "PUT") {
    std::string err;
    want = parse_body(req, err);
    if (!want) return status_response(client::bad_request(err));
  } else {
    auto ct = req.headers.find("content-type");
    auto pt = patch_type_from_content_type(ct == req.headers.end() ? "" : ct->second);
    if (!pt || *pt == PatchType::kApply) {
      return status_response(errors::unsupported_media_type(
          "application/json-patch+json, application/merge-patch+json, "
          "application/strategic-merge-patch+json"));
    }
    // A Scale has no lists with merge keys: a strategic merge patch merges as RFC 7386 does.
    auto p = *pt == PatchType::kJsonPatch ? patch::json_patch(*cur_scale, req.body)
                                          : patch::merge(*cur_scale, req.body);
    if (!p.ok()) return status_response(p.status());
    want = *std::move(p);
  }
  auto next = scale::applied(t, (*cur)->doc(), *want);
  if (!next.ok()) return status_response(next.status());
  UpdateOptions wo;
  wo.field_manager = manager_of(req, q["fieldManager"]);
  wo.dry_run = dry_run(q);
  auto r = store.update(t, ns, name, *std::move(next), wo);
  if (!r.ok()) return status_response(r.status());
  auto out = scale::of(t, (*r)->doc());
  if (!out.ok()) return status_response(out.status());
  return json_response(200, *out);
}

}  // namespace

std::string encode_event(const WatchEvent& ev, const ResourceType& t, bool table) {
  std::string obj;
  if (table && (ev.type == WatchEvent::Type::kAdded || ev.type == WatchEvent::Type::kModified ||
                ev.type == WatchEvent::Type::kDeleted)) {
    obj = json::to_json(make_table(
        t, {ev.object}, json::path_string(ev.object->doc(), {"metadata", "resourceVersion"})));
  } else {
    obj = json::to_json(ev.object->doc());
  }
  std::string out = "{\"type\":\"";
  out += to_string(ev.type);
  out += "\",\"object\":";
  out += obj;
  out += "}\n";
  return out;
}

namespace {

Response handle_json(Store& store, const Options& opts, const Request& req) {
  if (!opts.token.empty()) {
    auto it = req.headers.find("authorization");
    if (it == req.headers.end() || it->second != "Bearer " + opts.token) {
      return status_response(client::unauthorized("Unauthorized"));
    }
  }
  std::string_view target = req.target;
  std::string_view path = target.substr(0, target.find('?'));
  std::map<std::string, std::string> q;
  if (auto qp = target.find('?'); qp != std::string_view::npos) {
    for (auto& kv : split(target.substr(qp + 1), '&')) {
      auto eq = kv.find('=');
      q[url_decode(kv.substr(0, eq))] =
          eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1));
    }
  }
  auto segs = split(path, '/');
  for (auto& s : segs) s = url_decode(s);

  // ---- discovery and server info
  if (req.method == "GET") {
    if (segs.size() == 1 && segs[0] == "version") {
      return json_response(
          200,
          *json::parse(
              R"({"major":"1","minor":"20","gitVersion":"v1.20.2-kop-local","gitCommit":"","gitTreeState":"clean","buildDate":"1970-01-01T00:00:00Z","goVersion":"c++20","compiler":"g++","platform":"linux/amd64"})"));
    }
    if (segs.size() == 1 && segs[0] == "api") {
      JsonDoc d(rapidjson::kObjectType);
      auto& a = d.GetAllocator();
      d.AddMember("kind", "APIVersions", a);
      JsonValue vs(rapidjson::kArrayType);
      vs.PushBack("v1", a);
      d.AddMember("versions", vs, a);
      JsonValue sa(rapidjson::kArrayType);
      JsonValue e(rapidjson::kObjectType);
      e.AddMember("clientCIDR", "0.0.0.0/0", a);
      e.AddMember("serverAddress", json::make_string(opts.server_address, a), a);
      sa.PushBack(e, a);
      d.AddMember("serverAddressByClientCIDRs", sa, a);
      return json_response(200, d);
    }
    if (segs.size() == 1 && segs[0] == "apis") return json_response(200, group_list(store));
    if (segs.size() == 2 && segs[0] == "api") {
      if (segs[1] != "v1") return status_response(errors::resource_not_served());
      return json_response(200, resource_list(store, "", "v1"));
    }
    if (segs.size() == 2 && segs[0] == "apis") {
      JsonDoc gl = group_list(store);
      for (auto& g : gl["groups"].GetArray()) {
        if (json::string_or_empty(&g, "name") == segs[1]) {
          JsonDoc d(rapidjson::kObjectType);
          auto& a = d.GetAllocator();
          d.AddMember("kind", "APIGroup", a);
          d.AddMember("apiVersion", "v1", a);
          for (auto& m : g.GetObject()) d.AddMember(JsonValue(m.name, a), JsonValue(m.value, a), a);
          return json_response(200, d);
        }
      }
      return status_response(errors::resource_not_served());
    }
    if (segs.size() == 3 && segs[0] == "apis") {
      JsonDoc d = resource_list(store, segs[1], segs[2]);
      if (d["resources"].Empty() && !store.registry().by_resource(segs[1], segs[2], "")) {
        bool known = false;
        for (auto& t : store.registry().all())
          known = known || (t->group == segs[1] && t->version == segs[2]);
        if (!known) return status_response(errors::resource_not_served());
      }
      return json_response(200, d);
    }
    if (!segs.empty() && segs[0] == "openapi" && segs.size() >= 2 && segs[1] == "v3") {
      return openapi_v3(store, segs);
    }
    if (segs.size() == 2 && segs[0] == "openapi" && segs[1] == "v2") return openapi_v2(store, req);
    if (!segs.empty() && (segs[0] == "healthz" || segs[0] == "readyz" || segs[0] == "livez")) {
      Response r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = "ok";
      return r;
    }
  }

  // ---- resources: /api/v1/... or /apis/G/V/...
  std::string group, version;
  size_t i = 0;
  if (segs.size() >= 2 && segs[0] == "api") {
    version = segs[1];
    i = 2;
  } else if (segs.size() >= 3 && segs[0] == "apis") {
    group = segs[1];
    version = segs[2];
    i = 3;
  } else {
    return status_response(errors::resource_not_served());
  }
  std::vector<std::string> rest(segs.begin() + static_cast<long>(i), segs.end());
  std::string ns, resource, name, sub;
  if (rest.size() >= 3 && rest[0] == "namespaces" && rest[2] != "status" && rest[2] != "finalize") {
    ns = rest[1];
    resource = rest[2];
    if (rest.size() >= 4) name = rest[3];
    if (rest.size() >= 5) sub = rest[4];
    if (rest.size() > 5) return status_response(errors::resource_not_served());
  } else if (!rest.empty()) {
    resource = rest[0];
    if (rest.size() >= 2) name = rest[1];
    if (rest.size() >= 3) sub = rest[2];
    if (rest.size() > 3) return status_response(errors::resource_not_served());
  } else {
    return status_response(errors::resource_not_served());
  }
  if (group == access_review::kGroup && version == access_review::kVersion && ns.empty() &&
      name.empty() && access_review::is_review(resource)) {
    if (req.method != "POST")
      return status_response(client::method_not_supported(group, resource, req.method));
    if (unsupported_body(req)) {
      return status_response(errors::unsupported_media_type(
          "application/json, application/yaml, application/vnd.kubernetes.protobuf"));
    }
    std::string err;
    auto body = parse_body(req, err);
    if (!body) return status_response(client::bad_request(err));
    auto review = access_review::answer(resource, *body);
    if (!review.ok()) return status_response(review.status());
    return json_response(201, *review);
  }
  if (group == access_review::kAuthnGroup && version == access_review::kVersion && ns.empty() &&
      name.empty() && resource == access_review::kWhoami) {
    if (req.method != "POST")
      return status_response(client::method_not_supported(group, resource, req.method));
    return json_response(201, access_review::whoami(!opts.token.empty()));
  }
  ResourceTypePtr t = store.registry().by_resource(group, version, resource);
  if (!t) return status_response(errors::resource_not_served());
  if (!t->namespaced && !ns.empty()) return status_response(errors::resource_not_served());
  if (!sub.empty() && !(sub == "status" && t->has_status) && !(sub == "scale" && t->scale))
    return status_response(errors::resource_not_served());
  bool table = wants_table(req);

  auto object_response = [&](int code, const ObjectPtr& p) {
    if (table)
      return json_response(
          code, make_table(*t, {p}, json::path_string(p->doc(), {"metadata", "resourceVersion"})));
    Response r;
    r.status = code;
    r.body = json::to_json(p->doc());
    return r;
  };

  const std::string& m = req.method;
  if ((m == "POST" || m == "PUT") && unsupported_body(req)) {
    // CBOR is not spoken; clients fall back to JSON on 415.
    return status_response(errors::unsupported_media_type(
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"));
  }
  if (sub == "scale") return scale_request(store, *t, ns, name, req, q);
  if (m == "GET") {
    bool watch = truthy(q["watch"]);
    if (name.empty() || watch) {
      if (watch) {
        WatchOptions wo;
        wo.label_selector = q["labelSelector"];
        wo.field_selector = q["fieldSelector"];
        if (!name.empty()) {
          wo.field_selector =
              "metadata.name=" + name + (wo.field_selector.empty() ? "" : "," + wo.field_selector);
        }
        wo.resource_version = q["resourceVersion"];
        wo.allow_watch_bookmarks = truthy(q["allowWatchBookmarks"]);
        if (!q["timeoutSeconds"].empty()) wo.timeout_seconds = std::stoll(q["timeoutSeconds"]);
        if (!q["resourceVersionMatch"].empty()) {
          return status_response(
              errors::invalid("meta.k8s.io", "ListOptions", "",
                              {field::forbidden("resourceVersionMatch",
                                                "resourceVersionMatch is forbidden for watch")}));
        }
        auto w = store.watch(*t, ns, wo);
        if (!w.ok()) return status_response(w.status());
        Response r;
        r.watch = *std::move(w);
        r.watch_type = t;
        r.watch_table = table;
        return r;
      }
      ListOptions lo;
      lo.label_selector = q["labelSelector"];
      lo.field_selector = q["fieldSelector"];
      lo.resource_version = q["resourceVersion"];
      lo.continue_token = q["continue"];
      auto rvm = resource_version_match(q["resourceVersionMatch"], lo);
      if (!rvm.ok()) return status_response(rvm.status());
      lo.resource_version_match = *rvm;
      if (!q["limit"].empty()) lo.limit = std::stoll(q["limit"]);
      auto l = store.list(*t, ns, lo);
      if (!l.ok()) return status_response(l.status());
      if (table)
        return json_response(200, make_table(*t, l->items, l->resource_version, l->continue_token));
      return json_response(200, make_list(*t, *l));
    }
    auto g = store.get(*t, ns, name, {q["resourceVersion"]});
    if (!g.ok()) return status_response(g.status());
    return object_response(200, *g);
  }
  if (m == "POST") {
    if (!name.empty())
      return status_response(client::method_not_supported(t->group, t->resource, "create"));
    std::string err;
    auto body = parse_body(req, err);
    if (!body) return status_response(client::bad_request(err));
    Response warnings;
    if (auto bad = validate_fields(*t, *body, q["fieldValidation"], warnings))
      return std::move(*bad);
    CreateOptions co;
    co.field_manager = manager_of(req, q["fieldManager"]);
    co.dry_run = dry_run(q);
    auto r = store.create(*t, ns, std::move(*body), co);
    if (!r.ok()) return status_response(r.status());
    return with_warnings(object_response(201, *r), warnings);
  }
  if (m == "PUT") {
    if (name.empty())
      return status_response(client::method_not_supported(t->group, t->resource, "update"));
    std::string err;
    auto body = parse_body(req, err);
    if (!body) return status_response(client::bad_request(err));
    Response warnings;
    if (auto bad = validate_fields(*t, *body, q["fieldValidation"], warnings))
      return std::move(*bad);
    UpdateOptions wo;
    wo.field_manager = manager_of(req, q["fieldManager"]);
    wo.dry_run = dry_run(q);
    auto r = sub == "status" ? store.update_status(*t, ns, name, std::move(*body), wo)
                             : store.update(*t, ns, name, std::move(*body), wo);
    if (!r.ok()) return status_response(r.status());
    return with_warnings(object_response(200, *r), warnings);
  }
  if (m == "PATCH") {
    if (name.empty())
      return status_response(client::method_not_supported(t->group, t->resource, "patch"));
    auto ct = req.headers.find("content-type");
    auto pt = patch_type_from_content_type(ct == req.headers.end() ? "" : ct->second);
    if (!pt) {
      return status_response(errors::unsupported_media_type(
          "application/json-patch+json, application/merge-patch+json, "
          "application/apply-patch+yaml, "
          "application/strategic-merge-patch+json"));
    }
    PatchOptions po;
    po.field_manager =
        *pt == PatchType::kApply ? q["fieldManager"] : manager_of(req, q["fieldManager"]);
    if (truthy(q["force"])) po.force = true;
    po.dry_run = dry_run(q);
    bool existed = store.get(*t, ns, name).ok();
    // A merge or strategic merge patch is a partial object: its unknown fields are checked too.
    std::string patch_body = req.body;
    Response warnings;
    if (*pt == PatchType::kJsonMerge || *pt == PatchType::kStrategicMerge) {
      if (auto doc = json::parse(req.body); doc && doc->IsObject()) {
        if (auto bad = validate_fields(*t, *doc, q["fieldValidation"], warnings))
          return std::move(*bad);
        if (!warnings.headers.empty() || q["fieldValidation"] == "Ignore")
          patch_body = json::to_json(*doc);
      }
    }
    auto r = sub == "status" ? store.patch_status(*t, ns, name, *pt, patch_body, po)
                             : store.patch(*t, ns, name, *pt, patch_body, po);
    if (!r.ok()) return status_response(r.status());
    return with_warnings(object_response(*pt == PatchType::kApply && !existed ? 201 : 200, *r),
                         warnings);
  }
  if (m == "DELETE") {
    DeleteOptions d;
    std::string policy = q["propagationPolicy"];
    d.dry_run = dry_run(q);
    if (!q["gracePeriodSeconds"].empty())
      d.grace_period_seconds = std::stoll(q["gracePeriodSeconds"]);
    if (!req.body.empty()) {
      auto b = json::parse(req.body);
      if (b && b->IsObject()) {
        if (std::string_view p = json::string_or_empty(&*b, "propagationPolicy"); !p.empty())
          policy = std::string(p);
        if (auto uid = json::path_string(*b, {"preconditions", "uid"}); !uid.empty())
          d.precondition_uid = std::string(uid);
        if (auto rv = json::path_string(*b, {"preconditions", "resourceVersion"}); !rv.empty())
          d.precondition_resource_version = std::string(rv);
        if (const JsonValue* dr = json::find(*b, "dryRun"); dr && dr->IsArray() && !dr->Empty())
          d.dry_run = true;
        if (const JsonValue* oc = json::find(*b, "orphanDependents");
            oc && oc->IsBool() && policy.empty()) {
          policy = oc->GetBool() ? "Orphan" : "Background";
        }
      }
    }
    auto p = propagation_policy(policy);
    if (!p.ok()) return status_response(p.status());
    d.propagation_policy = *p;
    if (name.empty()) {
      ListOptions sel;
      sel.label_selector = q["labelSelector"];
      sel.field_selector = q["fieldSelector"];
      auto r = store.remove_collection(*t, ns, sel, d);
      if (!r.ok()) return status_response(r.status());
      return json_response(200, make_list(*t, *r));
    }
    auto r = store.remove(*t, ns, name, d);
    if (!r.ok()) return status_response(r.status());
    if (r->removed && !t->returns_deleted_object) {
      client::ApiStatus s;
      s.status = "Success";
      s.details.emplace();
      s.details->name = name;
      s.details->group = t->group;
      s.details->kind = t->resource;
      s.details->uid = std::string(json::path_string(r->object->doc(), {"metadata", "uid"}));
      return status_response(s);
    }
    return object_response(200, r->object);
  }
  return status_response(client::method_not_supported(t->group, t->resource, m));
}

}  // namespace

// The JSON answer, re-encoded as protobuf when the client takes protobuf and not JSON. A body of
// a kind without a protobuf table is 406, as kube-apiserver answers for custom resources.
Response handle(Store& store, const Options& opts, const Request& req) {
  Response r = handle_json(store, opts, req);
  auto accept = req.headers.find("accept");
  if (accept == req.headers.end() || !proto::wants_protobuf(accept->second)) return r;
  if (r.watch) {
    std::string api_version = r.watch_type->group.empty()
                                  ? r.watch_type->version
                                  : r.watch_type->group + "/" + r.watch_type->version;
    if (r.watch_table || proto::has_kind(api_version, r.watch_type->kind)) {
      r.watch_protobuf = !r.watch_table;
      return r;
    }
    r.watch->stop();
    r = status_response(errors::not_acceptable(
        "only the following media types are accepted: application/json, application/yaml"));
  }
  if (r.content_type != "application/json") return r;
  auto doc = json::parse(r.body);
  absl::StatusOr<std::string> pb =
      doc ? proto::encode(*doc) : absl::InvalidArgumentError("not a JSON object");
  if (!pb.ok()) {
    r = status_response(errors::not_acceptable(
        "only the following media types are accepted: application/json, application/yaml"));
    pb = proto::encode(*json::parse(r.body));
  }
  if (pb.ok()) {
    r.body = *std::move(pb);
    r.content_type = std::string(proto::kMediaType);
  }
  return r;
}

std::string encode_event_protobuf(const WatchEvent& ev) {
  return proto::encode_watch_event(to_string(ev.type), ev.object->doc());
}

}  // namespace kop::local::rest
