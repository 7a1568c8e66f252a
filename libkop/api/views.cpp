#include "kop/api/views.h"

#include <absl/strings/escaping.h>
#include <fmt/format.h>

#include <algorithm>

#include "kop/api/json.h"
#include "kop/api/time.h"

namespace kop::api {

namespace {

using Value = rapidjson::Value;
using json::find;
using json::find_array;
using json::find_object;
using json::get_bool;
using json::get_int;
using json::string_or_empty;

std::string_view or_default(std::string_view v, std::string_view def) {
  return v.empty() ? def : v;
}

std::vector<std::string_view> string_list(const Value* arr) {
  std::vector<std::string_view> out;
  if (!arr || !arr->IsArray()) return out;
  out.reserve(arr->Size());
  for (const Value& v : arr->GetArray()) {
    if (v.IsString()) out.push_back(json::as_string_view(v));
  }
  return out;
}

ObjectReference object_reference(const Value* v) {
  ObjectReference r;
  if (!v || !v->IsObject()) return r;
  r.api_version = string_or_empty(v, "apiVersion");
  r.api_group = string_or_empty(v, "apiGroup");
  r.kind = string_or_empty(v, "kind");
  r.namespace_ = string_or_empty(v, "namespace");
  r.name = string_or_empty(v, "name");
  r.uid = string_or_empty(v, "uid");
  r.resource_version = string_or_empty(v, "resourceVersion");
  r.field_path = string_or_empty(v, "fieldPath");
  return r;
}

IngressBackend ingress_backend(const Value* v) {
  IngressBackend b;
  if (const Value* svc = find_object(v, "service")) {
    IngressServiceBackend s;
    s.name = string_or_empty(svc, "name");
    const Value* port = find_object(svc, "port");
    s.port_number = get_int(port, "number");
    s.port_name = string_or_empty(port, "name");
    b.service = s;
  }
  if (const Value* res = find_object(v, "resource")) b.resource = object_reference(res);
  return b;
}

std::optional<std::string> decode_base64(std::string_view s) {
  std::string out;
  if (!absl::Base64Unescape(absl::string_view(s.data(), s.size()), &out)) return std::nullopt;
  return out;
}

bool looks_like_ip(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return true;  // IPv6
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

}  // namespace

// ---- Service ----

IntOrString ServicePort::effective_target_port() const {
  if (!target_port.empty()) return target_port;
  IntOrString r;
  r.type = IntOrString::Type::kInt;
  r.int_value = port;
  return r;
}

std::string_view ServiceView::type() const {
  return or_default(string_or_empty(obj_->spec(), "type"), "ClusterIP");
}

std::string_view ServiceView::cluster_ip() const {
  return string_or_empty(obj_->spec(), "clusterIP");
}

std::vector<std::string_view> ServiceView::cluster_ips() const {
  return string_list(find(obj_->spec(), "clusterIPs"));
}

std::string_view ServiceView::external_name() const {
  return string_or_empty(obj_->spec(), "externalName");
}

StringMap ServiceView::selector() const {
  StringMap out;
  const Value* sel = find_object(obj_->spec(), "selector");
  if (!sel) return out;
  for (auto it = sel->MemberBegin(); it != sel->MemberEnd(); ++it) {
    if (it->value.IsString()) {
      out.emplace(json::as_string_view(it->name), json::as_string_view(it->value));
    }
  }
  return out;
}

std::vector<ServicePort> ServiceView::ports() const {
  std::vector<ServicePort> out;
  const Value* ports = find_array(obj_->spec(), "ports");
  if (!ports) return out;
  out.reserve(ports->Size());
  for (const Value& p : ports->GetArray()) {
    if (!p.IsObject()) continue;
    ServicePort sp;
    sp.name = string_or_empty(&p, "name");
    sp.protocol = or_default(string_or_empty(&p, "protocol"), "TCP");
    sp.app_protocol = string_or_empty(&p, "appProtocol");
    sp.port = get_int(&p, "port").value_or(0);
    sp.target_port = int_or_string(find(&p, "targetPort"));
    sp.node_port = get_int(&p, "nodePort").value_or(0);
    out.push_back(sp);
  }
  return out;
}

std::optional<ServicePort> ServiceView::find_port(std::string_view name) const {
  for (const auto& p : ports()) {
    if (p.name == name) return p;
  }
  return std::nullopt;
}

std::optional<ServicePort> ServiceView::find_port(int64_t port) const {
  for (const auto& p : ports()) {
    if (p.port == port) return p;
  }
  return std::nullopt;
}

// ---- EndpointSlice ----

std::string_view EndpointSliceView::address_type() const {
  return string_or_empty(&obj_->doc(), "addressType");
}

std::string_view EndpointSliceView::service_name() const {
  return obj_->label(kServiceNameLabel).value_or(std::string_view());
}

std::vector<Endpoint> EndpointSliceView::endpoints() const {
  std::vector<Endpoint> out;
  const Value* eps = find_array(&obj_->doc(), "endpoints");
  if (!eps) return out;
  out.reserve(eps->Size());
  for (const Value& e : eps->GetArray()) {
    if (!e.IsObject()) continue;
    Endpoint ep;
    ep.addresses = string_list(find(&e, "addresses"));
    const Value* cond = find_object(&e, "conditions");
    ep.conditions.ready = get_bool(cond, "ready");
    ep.conditions.serving = get_bool(cond, "serving");
    ep.conditions.terminating = get_bool(cond, "terminating");
    ep.hostname = string_or_empty(&e, "hostname");
    ep.node_name = string_or_empty(&e, "nodeName");
    ep.zone = string_or_empty(&e, "zone");
    if (const Value* ref = find_object(&e, "targetRef")) ep.target_ref = object_reference(ref);
    out.push_back(std::move(ep));
  }
  return out;
}

std::vector<EndpointPort> EndpointSliceView::ports() const {
  std::vector<EndpointPort> out;
  const Value* ports = find_array(&obj_->doc(), "ports");
  if (!ports) return out;
  out.reserve(ports->Size());
  for (const Value& p : ports->GetArray()) {
    if (!p.IsObject()) continue;
    EndpointPort ep;
    ep.name = string_or_empty(&p, "name");
    ep.protocol = or_default(string_or_empty(&p, "protocol"), "TCP");
    ep.app_protocol = string_or_empty(&p, "appProtocol");
    ep.port = get_int(&p, "port");
    out.push_back(ep);
  }
  return out;
}

// ---- Secret ----

std::string_view SecretView::type() const {
  return or_default(string_or_empty(&obj_->doc(), "type"), kTypeOpaque);
}

std::optional<std::string> SecretView::value(std::string_view key) const {
  if (auto s = json::get_string(find_object(&obj_->doc(), "stringData"), key)) {
    return std::string(*s);
  }
  if (auto d = json::get_string(find_object(&obj_->doc(), "data"), key)) return decode_base64(*d);
  return std::nullopt;
}

std::vector<std::string> SecretView::keys() const {
  std::vector<std::string> out;
  for (std::string_view section : {"data", "stringData"}) {
    const Value* m = find_object(&obj_->doc(), section);
    if (!m) continue;
    for (auto it = m->MemberBegin(); it != m->MemberEnd(); ++it) {
      out.emplace_back(json::as_string_view(it->name));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status SecretView::validate_tls() const {
  std::string where = fmt::format("secret {}", obj_->key());
  if (!is_tls()) {
    return absl::FailedPreconditionError(
        fmt::format("{}: type is \"{}\", want \"{}\"", where, type(), kTypeTLS));
  }
  for (std::string_view k : {kTLSCert, kTLSKey}) {
    auto v = value(k);
    if (!v) {
      return absl::FailedPreconditionError(
          fmt::format("{}: {} is missing or not valid base64", where, k));
    }
    if (v->empty()) return absl::FailedPreconditionError(fmt::format("{}: {} is empty", where, k));
    if (v->find("-----BEGIN ") == std::string::npos) {
      return absl::FailedPreconditionError(fmt::format("{}: {} is not PEM", where, k));
    }
  }
  return absl::OkStatus();
}

// ---- Ingress ----

std::optional<std::string_view> IngressView::ingress_class_name() const {
  return json::get_string(obj_->spec(), "ingressClassName");
}

std::optional<std::string_view> IngressView::class_annotation() const {
  return obj_->annotation(kClassAnnotation);
}

std::optional<IngressBackend> IngressView::default_backend() const {
  const Value* b = find_object(obj_->spec(), "defaultBackend");
  if (!b) return std::nullopt;
  return ingress_backend(b);
}

std::vector<IngressRule> IngressView::rules() const {
  std::vector<IngressRule> out;
  const Value* rules = find_array(obj_->spec(), "rules");
  if (!rules) return out;
  out.reserve(rules->Size());
  for (const Value& r : rules->GetArray()) {
    if (!r.IsObject()) continue;
    IngressRule rule;
    rule.host = string_or_empty(&r, "host");
    const Value* http = find_object(&r, "http");
    rule.has_http = http != nullptr;
    if (const Value* paths = find_array(http, "paths")) {
      rule.paths.reserve(paths->Size());
      for (const Value& p : paths->GetArray()) {
        if (!p.IsObject()) continue;
        HTTPIngressPath hp;
        hp.path = string_or_empty(&p, "path");
        hp.path_type = string_or_empty(&p, "pathType");
        hp.backend = ingress_backend(find_object(&p, "backend"));
        rule.paths.push_back(hp);
      }
    }
    out.push_back(std::move(rule));
  }
  return out;
}

std::vector<IngressTLS> IngressView::tls() const {
  std::vector<IngressTLS> out;
  const Value* tls = find_array(obj_->spec(), "tls");
  if (!tls) return out;
  out.reserve(tls->Size());
  for (const Value& t : tls->GetArray()) {
    if (!t.IsObject()) continue;
    out.push_back({string_list(find(&t, "hosts")), string_or_empty(&t, "secretName")});
  }
  return out;
}

std::vector<LoadBalancerIngress> IngressView::load_balancer() const {
  std::vector<LoadBalancerIngress> out;
  const Value* lb = find_object(obj_->status(), "loadBalancer");
  const Value* ing = find_array(lb, "ingress");
  if (!ing) return out;
  for (const Value& i : ing->GetArray()) {
    if (!i.IsObject()) continue;
    out.push_back({string_or_empty(&i, "ip"), string_or_empty(&i, "hostname")});
  }
  return out;
}

std::vector<std::string> IngressView::validate() const {
  std::vector<std::string> problems;
  auto check_backend = [&](const IngressBackend& b, const std::string& where) {
    if (b.service.has_value() == b.resource.has_value()) {
      problems.push_back(fmt::format("{}: exactly one of service and resource is required", where));
    }
    if (b.service) {
      if (b.service->name.empty())
        problems.push_back(fmt::format("{}.service.name: required", where));
      bool has_number = b.service->port_number.has_value();
      bool has_name = !b.service->port_name.empty();
      if (has_number == has_name) {
        problems.push_back(
            fmt::format("{}.service.port: exactly one of number and name is required", where));
      }
      if (has_number && (*b.service->port_number < 1 || *b.service->port_number > 65535)) {
        problems.push_back(
            fmt::format("{}.service.port.number: must be between 1 and 65535", where));
      }
    }
    if (b.resource && (b.resource->kind.empty() || b.resource->name.empty())) {
      problems.push_back(fmt::format("{}.resource: kind and name are required", where));
    }
  };
  auto db = default_backend();
  if (db) check_backend(*db, "spec.defaultBackend");
  auto rs = rules();
  if (!db && rs.empty()) {
    problems.emplace_back("spec: either defaultBackend or rules must be specified");
  }
  for (size_t i = 0; i < rs.size(); ++i) {
    const IngressRule& r = rs[i];
    std::string rule_at = fmt::format("spec.rules[{}]", i);
    if (!r.host.empty() && looks_like_ip(r.host)) {
      problems.push_back(fmt::format("{}.host: must be a DNS name, not an IP address", rule_at));
    }
    if (r.host.find('*') != std::string_view::npos &&
        (r.host.size() < 3 || r.host.substr(0, 2) != "*." ||
         r.host.find('*', 1) != std::string_view::npos)) {
      problems.push_back(fmt::format(
          "{}.host: a wildcard must be the whole first label (\"*.example.com\")", rule_at));
    }
    if (r.has_http && r.paths.empty()) {
      problems.push_back(fmt::format("{}.http.paths: at least one path is required", rule_at));
    }
    for (size_t j = 0; j < r.paths.size(); ++j) {
      const HTTPIngressPath& p = r.paths[j];
      std::string path_at = fmt::format("{}.http.paths[{}]", rule_at, j);
      if (p.path_type.empty()) {
        problems.push_back(fmt::format("{}.pathType: required", path_at));
      } else if (p.path_type != "Exact" && p.path_type != "Prefix" &&
                 p.path_type != "ImplementationSpecific") {
        problems.push_back(
            fmt::format("{}.pathType: \"{}\" is not one of Exact, Prefix, ImplementationSpecific",
                        path_at, p.path_type));
      }
      if ((p.path_type == "Exact" || p.path_type == "Prefix") &&
          (p.path.empty() || p.path.front() != '/')) {
        problems.push_back(fmt::format("{}.path: must be an absolute path", path_at));
      }
      check_backend(p.backend, path_at + ".backend");
    }
  }
  return problems;
}

// ---- IngressClass ----

std::string_view IngressClassView::controller() const {
  return string_or_empty(obj_->spec(), "controller");
}

std::optional<IngressClassParameters> IngressClassView::parameters() const {
  const Value* p = find_object(obj_->spec(), "parameters");
  if (!p) return std::nullopt;
  IngressClassParameters r;
  r.api_group = string_or_empty(p, "apiGroup");
  r.kind = string_or_empty(p, "kind");
  r.name = string_or_empty(p, "name");
  r.namespace_ = string_or_empty(p, "namespace");
  r.scope = string_or_empty(p, "scope");
  return r;
}

bool IngressClassView::is_default() const {
  return obj_->annotation(kDefaultClassAnnotation) == "true";
}

// ---- Lease ----

std::optional<std::string_view> LeaseView::holder_identity() const {
  return json::get_string(obj_->spec(), "holderIdentity");
}
std::optional<int64_t> LeaseView::lease_duration_seconds() const {
  return get_int(obj_->spec(), "leaseDurationSeconds");
}
std::optional<int64_t> LeaseView::lease_transitions() const {
  return get_int(obj_->spec(), "leaseTransitions");
}
std::string_view LeaseView::acquire_time_text() const {
  return string_or_empty(obj_->spec(), "acquireTime");
}
std::string_view LeaseView::renew_time_text() const {
  return string_or_empty(obj_->spec(), "renewTime");
}
std::optional<absl::Time> LeaseView::acquire_time() const {
  return parse_time(acquire_time_text());
}
std::optional<absl::Time> LeaseView::renew_time() const {
  return parse_time(renew_time_text());
}

bool LeaseView::expired(absl::Time now) const {
  auto holder = holder_identity();
  auto renew = renew_time();
  auto duration = lease_duration_seconds();
  if (!holder || holder->empty() || !renew || !duration) return true;
  return *renew + absl::Seconds(*duration) <= now;
}

}  // namespace kop::api
