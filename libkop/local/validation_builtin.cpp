// Validation of the built-in kinds kop reads, with the API server's messages and field paths
// (k8s.io/kubernetes/pkg/apis/{networking,core,discovery}/validation).
#include <algorithm>
#include <set>

#include "validation.h"

namespace kop::local::validation {

namespace {

using V = JsonValue;

bool is(const ResourceType& t, std::string_view g, std::string_view r) {
  return t.group == g && t.resource == r;
}

Msgs port_num(int64_t p) {
  if (p < 1 || p > 65535) return {"must be between 1 and 65535, inclusive"};
  return {};
}

// Decoded length of base64 text.
size_t b64_len(std::string_view s) {
  size_t n = s.size();
  size_t pad = 0;
  while (n > 0 && s[n - 1] == '=') {
    --n;
    ++pad;
  }
  return (s.size() / 4) * 3 - pad;
}

// IsValidPathSegmentName: not "." or "..", no "/" or "%".
Msgs path_segment(std::string_view v) {
  if (v == "." || v == "..") return {"may not be '" + std::string(v) + "'"};
  Msgs m;
  for (auto bad : {"/", "%"}) {
    if (v.find(bad) != std::string_view::npos)
      m.push_back("may not contain '" + std::string(bad) + "'");
  }
  return m;
}

void typed_ref(const V* p, const std::string& path, FieldErrors& errs) {
  if (!p || !p->IsObject()) return;
  if (const V* g = json::find(*p, "apiGroup"); g && g->IsString()) {
    for (auto& m : is_dns1123_subdomain(json::as_string_view(*g)))
      errs.push_back(field::invalid(path + ".apiGroup", json::as_string_view(*g), m));
  }
  std::string_view kind = json::string_or_empty(&*p, "kind");
  if (kind.empty()) {
    errs.push_back(field::required(path + ".kind", "kind is required"));
  } else {
    for (auto& m : path_segment(kind)) errs.push_back(field::invalid(path + ".kind", kind, m));
  }
  std::string_view name = json::string_or_empty(&*p, "name");
  if (name.empty()) {
    errs.push_back(field::required(path + ".name", "name is required"));
  } else {
    for (auto& m : path_segment(name)) errs.push_back(field::invalid(path + ".name", name, m));
  }
}

void ingress_backend(const V& b, const std::string& path, FieldErrors& errs) {
  const V* res = json::find(b, "resource");
  const V* svc = json::find(b, "service");
  if (res && svc) {
    errs.push_back(field::invalid(path, "", "cannot set both resource and service backends"));
    return;
  }
  if (res) {
    typed_ref(res, path + ".resource", errs);
    return;
  }
  if (!svc) {
    errs.push_back(field::invalid(path, "", "resource or service backend is required"));
    return;
  }
  std::string_view name = json::string_or_empty(&*svc, "name");
  if (name.empty()) {
    errs.push_back(field::required(path + ".service.name"));
  } else {
    for (auto& m : is_dns1035_label(name))
      errs.push_back(field::invalid(path + ".service.name", name, m));
  }
  const V* port = json::find(*svc, "port");
  std::string_view pname = port ? json::string_or_empty(&*port, "name") : std::string_view();
  const V* pnum = port ? json::find(*port, "number") : nullptr;
  bool has_num = pnum && pnum->IsInt64() && pnum->GetInt64() != 0;
  if (!pname.empty() && has_num) {
    errs.push_back(field::invalid(path, "", "cannot set both port name & port number"));
  } else if (!pname.empty()) {
    for (auto& m : is_valid_port_name(pname))
      errs.push_back(field::invalid(path + ".service.port.name", pname, m));
  } else if (has_num) {
    for (auto& m : port_num(pnum->GetInt64())) {
      errs.push_back(field::invalid_int(path + ".service.port.number", pnum->GetInt64(), m));
    }
  } else {
    errs.push_back(field::required(path, "port name or number is required"));
  }
}

bool parses_as_ip(std::string_view h) {
  return is_valid_ip(h).empty();
}

void ingress(const V& obj, FieldErrors& errs) {
  const V* spec = json::find(obj, "spec");
  static const V kEmpty(rapidjson::kObjectType);
  if (!spec) spec = &kEmpty;
  const V* rules = json::find(*spec, "rules");
  const V* def = json::find(*spec, "defaultBackend");
  bool has_rules = rules && rules->IsArray() && !rules->Empty();
  if (!has_rules && !def) {
    errs.push_back(field::invalid_raw("spec", "[]networking.IngressRule(nil)",
                                      "either `defaultBackend` or `rules` must be specified"));
  }
  if (def) ingress_backend(*def, "spec.defaultBackend", errs);
  if (has_rules) {
    for (rapidjson::SizeType i = 0; i < rules->Size(); ++i) {
      const V& r = (*rules)[i];
      std::string rp = idx("spec.rules", i);
      std::string_view host = json::string_or_empty(&r, "host");
      if (!host.empty()) {
        if (parses_as_ip(host))
          errs.push_back(
              field::invalid(rp + ".host", host, "must be a DNS name, not an IP address"));
        if (host.find('*') != std::string_view::npos) {
          for (auto& m : is_wildcard_dns1123_subdomain(host))
            errs.push_back(field::invalid(rp + ".host", host, m));
        } else {
          for (auto& m : is_dns1123_subdomain(host))
            errs.push_back(field::invalid(rp + ".host", host, m));
        }
      }
      const V* http = json::find(r, "http");
      if (!http) continue;  // a host-only rule is allowed
      const V* paths = json::find(*http, "paths");
      if (!paths || !paths->IsArray() || paths->Empty()) {
        errs.push_back(field::required(rp + ".http.paths"));
        continue;
      }
      for (rapidjson::SizeType j = 0; j < paths->Size(); ++j) {
        const V& p = (*paths)[j];
        std::string pp = idx(rp + ".http.paths", j);
        const V* pt = json::find(p, "pathType");
        if (!pt || pt->IsNull()) {
          errs.push_back(field::required(pp + ".pathType", "pathType must be specified"));
          continue;
        }
        std::string_view ptype = json::as_string_view(*pt);
        std::string_view path = json::string_or_empty(&p, "path");
        if (ptype == "Exact" || ptype == "Prefix") {
          if (path.empty() || path[0] != '/')
            errs.push_back(field::invalid(pp + ".path", path, "must be an absolute path"));
          if (!path.empty()) {
            for (auto seq : {"//", "/./", "/../", "%2f", "%2F"}) {
              if (path.find(seq) != std::string_view::npos) {
                errs.push_back(field::invalid(pp + ".path", path,
                                              "must not contain '" + std::string(seq) + "'"));
              }
            }
            for (std::string_view suf : {"/..", "/."}) {
              if (path.size() >= suf.size() && path.substr(path.size() - suf.size()) == suf) {
                errs.push_back(field::invalid(pp + ".path", path,
                                              "cannot end with '" + std::string(suf) + "'"));
              }
            }
          }
        } else if (ptype == "ImplementationSpecific") {
          if (!path.empty() && path[0] != '/')
            errs.push_back(field::invalid(pp + ".path", path, "must be an absolute path"));
        } else {
          errs.push_back(field::not_supported(pp + ".pathType", ptype,
                                              {"Exact", "ImplementationSpecific", "Prefix"}));
        }
        if (const V* b = json::find(p, "backend")) {
          ingress_backend(*b, pp + ".backend", errs);
        } else {
          errs.push_back(
              field::invalid(pp + ".backend", "", "resource or service backend is required"));
        }
      }
    }
  }
  if (const V* tls = json::find(*spec, "tls"); tls && tls->IsArray()) {
    for (rapidjson::SizeType i = 0; i < tls->Size(); ++i) {
      const V& t = (*tls)[i];
      if (const V* hosts = json::find(t, "hosts"); hosts && hosts->IsArray()) {
        for (rapidjson::SizeType j = 0; j < hosts->Size(); ++j) {
          std::string_view h = json::as_string_view((*hosts)[j]);
          std::string hp = idx(idx("spec.tls", i) + ".hosts", j);
          auto msgs = h.find('*') != std::string_view::npos ? is_wildcard_dns1123_subdomain(h)
                                                            : is_dns1123_subdomain(h);
          for (auto& m : msgs) errs.push_back(field::invalid(hp, h, m));
        }
      }
      std::string_view sn = json::string_or_empty(&t, "secretName");
      if (!sn.empty()) {
        for (auto& m : is_dns1123_subdomain(sn))
          errs.push_back(field::invalid(idx("spec.tls", i) + ".secretName", sn, m));
      }
    }
  }
  if (const V* cls = json::find(*spec, "ingressClassName"); cls && cls->IsString()) {
    for (auto& m : is_dns1123_subdomain(json::as_string_view(*cls))) {
      errs.push_back(field::invalid("spec.ingressClassName", json::as_string_view(*cls), m));
    }
    if (json::path(obj, {"metadata", "annotations", "kubernetes.io/ingress.class"})) {
      errs.push_back(field::invalid(
          "annotations.kubernetes.io/ingress.class",
          json::path_string(obj, {"metadata", "annotations", "kubernetes.io/ingress.class"}),
          "can not be set when the class field is also set"));
    }
  }
}

void ingress_class(const V& obj, const V* old, FieldErrors& errs) {
  std::string_view ctrl = json::path_string(obj, {"spec", "controller"});
  if (ctrl.size() > 250) errs.push_back(field::too_long("spec.controller", 250));
  if (ctrl.empty()) {
    errs.push_back(field::required("spec.controller"));
  } else {
    auto slash = ctrl.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == ctrl.size()) {
      errs.push_back(field::invalid("spec.controller", ctrl,
                                    "must be a domain-prefixed path (such as \"acme.io/foo\")"));
    } else {
      std::string_view host = ctrl.substr(0, slash);
      for (auto& m : is_dns1123_subdomain(host))
        errs.push_back(field::invalid("spec.controller", host, m));
      std::string_view path = ctrl.substr(slash + 1);
      bool ok = true;
      for (char c : path)
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) ||
                    std::string_view("/-._~%!$&'()*+,;=:").find(c) != std::string_view::npos);
      if (!ok) {
        errs.push_back(field::invalid(
            "spec.controller", path,
            "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"));
      }
    }
  }
  typed_ref(json::path(obj, {"spec", "parameters"}), "spec.parameters", errs);
  if (old) {
    std::string_view oc = json::path_string(*old, {"spec", "controller"});
    if (oc != ctrl) errs.push_back(field::invalid("spec.controller", ctrl, "field is immutable"));
  }
}

void service(const V& obj, const V* old, FieldErrors& errs) {
  const V* spec = json::find(obj, "spec");
  static const V kEmpty(rapidjson::kObjectType);
  if (!spec) spec = &kEmpty;
  std::string_view type = json::string_or_empty(&*spec, "type");
  std::string_view cip = json::string_or_empty(&*spec, "clusterIP");
  bool headless = cip == "None";
  const V* ports = json::find(*spec, "ports");
  bool has_ports = ports && ports->IsArray() && !ports->Empty();
  if (type == "ExternalName") {
    std::string_view en = json::string_or_empty(&*spec, "externalName");
    if (en.empty()) {
      errs.push_back(field::required("spec.externalName"));
    } else {
      for (auto& m : is_dns1123_subdomain(en))
        errs.push_back(field::invalid("spec.externalName", en, m));
    }
  } else if (!has_ports && !headless) {
    errs.push_back(field::required("spec.ports"));
  }
  if (has_ports) {
    std::set<std::string> names, keys;
    for (rapidjson::SizeType i = 0; i < ports->Size(); ++i) {
      const V& p = (*ports)[i];
      std::string pp = idx("spec.ports", i);
      std::string_view name = json::string_or_empty(&p, "name");
      if (ports->Size() > 1 && name.empty()) {
        errs.push_back(field::required(pp + ".name"));
      } else if (!name.empty()) {
        for (auto& m : is_dns1123_label(name))
          errs.push_back(field::invalid(pp + ".name", name, m));
        if (!names.insert(std::string(name)).second)
          errs.push_back(field::duplicate(pp + ".name", field::quote(name)));
      }
      const V* port = json::find(p, "port");
      int64_t pn = port && port->IsInt64() ? port->GetInt64() : 0;
      for (auto& m : port_num(pn)) errs.push_back(field::invalid_int(pp + ".port", pn, m));
      std::string_view proto = json::string_or_empty(&p, "protocol");
      if (proto != "TCP" && proto != "UDP" && proto != "SCTP") {
        errs.push_back(field::not_supported(pp + ".protocol", proto, {"SCTP", "TCP", "UDP"}));
      }
      if (const V* tp = json::find(p, "targetPort")) {
        if (tp->IsInt64()) {
          for (auto& m : port_num(tp->GetInt64()))
            errs.push_back(field::invalid_int(pp + ".targetPort", tp->GetInt64(), m));
        } else if (tp->IsString()) {
          for (auto& m : is_valid_port_name(json::as_string_view(*tp))) {
            errs.push_back(field::invalid(pp + ".targetPort", json::as_string_view(*tp), m));
          }
        }
      }
      std::string key = std::to_string(pn) + "/" + std::string(proto);
      if (!keys.insert(key).second) {
        errs.push_back(field::duplicate(pp, "core.ServicePort{Name:" + field::quote(name) +
                                                ", Protocol:" + field::quote(proto) +
                                                ", Port:" + std::to_string(pn) + "}"));
      }
    }
  }
  // The order of ValidateService: ports, selector, sessionAffinity, type, then cluster IPs.
  labels(json::find(*spec, "selector"), "spec.selector", errs);
  std::string_view aff = json::string_or_empty(&*spec, "sessionAffinity");
  if (aff.empty()) {
    errs.push_back(field::required("spec.sessionAffinity"));
  } else if (aff != "ClientIP" && aff != "None") {
    errs.push_back(field::not_supported("spec.sessionAffinity", aff, {"ClientIP", "None"}));
  }
  if (type.empty()) {
    errs.push_back(field::required("spec.type"));
  } else if (type != "ClusterIP" && type != "NodePort" && type != "LoadBalancer" &&
             type != "ExternalName") {
    errs.push_back(field::not_supported("spec.type", type,
                                        {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}));
  }
  if (!cip.empty() && !headless) {
    for (auto& m : is_valid_ip(cip)) errs.push_back(field::invalid("spec.clusterIP", cip, m));
  }
  if (old) {
    std::string_view ocip = json::path_string(*old, {"spec", "clusterIP"});
    std::string_view otype = json::path_string(*old, {"spec", "type"});
    if (!ocip.empty() && otype != "ExternalName" && type != "ExternalName" && ocip != cip) {
      errs.push_back(field::invalid("spec.clusterIP", cip, "field is immutable"));
    }
  }
}

void endpoint_slice(const V& obj, const V* old, FieldErrors& errs) {
  std::string_view at = json::string_or_empty(&obj, "addressType");
  if (at.empty()) {
    errs.push_back(field::required("addressType"));
  } else if (at != "IPv4" && at != "IPv6" && at != "FQDN") {
    errs.push_back(field::not_supported("addressType", at, {"FQDN", "IPv4", "IPv6"}));
  }
  if (const V* eps = json::find(obj, "endpoints"); eps && eps->IsArray()) {
    if (eps->Size() > 1000) errs.push_back(field::too_many("endpoints", eps->Size(), 1000));
    for (rapidjson::SizeType i = 0; i < eps->Size(); ++i) {
      const V& e = (*eps)[i];
      std::string ep = idx("endpoints", i);
      const V* addrs = json::find(e, "addresses");
      if (!addrs || !addrs->IsArray() || addrs->Empty()) {
        errs.push_back(field::required(ep + ".addresses", "must contain at least 1 address"));
      } else {
        if (addrs->Size() > 100)
          errs.push_back(field::too_many(ep + ".addresses", addrs->Size(), 100));
        for (rapidjson::SizeType j = 0; j < addrs->Size(); ++j) {
          std::string_view a = json::as_string_view((*addrs)[j]);
          std::string ap = idx(ep + ".addresses", j);
          if (at == "IPv4") {
            if (!is_valid_ip(a).empty() || a.find(':') != std::string_view::npos) {
              errs.push_back(field::invalid(ap, a, "must be a valid IPv4 address"));
            }
          } else if (at == "IPv6") {
            if (!is_valid_ip(a).empty() || a.find(':') == std::string_view::npos) {
              errs.push_back(field::invalid(ap, a, "must be a valid IPv6 address"));
            }
          } else if (at == "FQDN") {
            for (auto& m : is_dns1123_subdomain(a)) errs.push_back(field::invalid(ap, a, m));
          }
        }
      }
      if (const V* h = json::find(e, "hostname"); h && h->IsString()) {
        for (auto& m : is_dns1123_label(json::as_string_view(*h)))
          errs.push_back(field::invalid(ep + ".hostname", json::as_string_view(*h), m));
      }
    }
  }
  if (const V* ports = json::find(obj, "ports"); ports && ports->IsArray()) {
    if (ports->Size() > 20000) errs.push_back(field::too_many("ports", ports->Size(), 20000));
    std::set<std::string> names;
    for (rapidjson::SizeType i = 0; i < ports->Size(); ++i) {
      const V& p = (*ports)[i];
      std::string pp = idx("ports", i);
      std::string_view name = json::string_or_empty(&p, "name");
      if (!name.empty()) {
        for (auto& m : is_dns1123_label(name))
          errs.push_back(field::invalid(pp + ".name", name, m));
      }
      if (!names.insert(std::string(name)).second)
        errs.push_back(field::duplicate(pp + ".name", field::quote(name)));
      std::string_view proto = json::string_or_empty(&p, "protocol");
      if (proto != "TCP" && proto != "UDP" && proto != "SCTP") {
        errs.push_back(field::not_supported(pp + ".protocol", proto, {"SCTP", "TCP", "UDP"}));
      }
      if (const V* port = json::find(p, "port"); port && port->IsInt64()) {
        for (auto& m : port_num(port->GetInt64()))
          errs.push_back(field::invalid_int(pp + ".port", port->GetInt64(), m));
      }
    }
  }
  if (old) {
    std::string_view oat = json::string_or_empty(&*old, "addressType");
    if (oat != at) errs.push_back(field::invalid("addressType", at, "field is immutable"));
  }
}

void secret(const V& obj, const V* old, FieldErrors& errs) {
  size_t total = 0;
  const V* data = json::find(obj, "data");
  std::string_view type = json::string_or_empty(&obj, "type");
  if (old) {
    std::string_view ot = json::string_or_empty(&*old, "type");
    if (ot != type) errs.push_back(field::invalid("type", type, "field is immutable"));
    if (const V* im = json::find(*old, "immutable"); im && im->IsTrue()) {
      const V* od = json::find(*old, "data");
      bool same = (od == nullptr) == (data == nullptr) && (!od || json::equal(*od, *data));
      if (!same)
        errs.push_back(field::forbidden("data", "field is immutable when `immutable` is set"));
      const V* ni = json::find(obj, "immutable");
      if (!ni || !ni->IsTrue())
        errs.push_back(field::forbidden("immutable", "field is immutable when `immutable` is set"));
    }
  }
  if (data && data->IsObject()) {
    for (auto& m : data->GetObject()) {
      std::string_view k = json::as_string_view(m.name);
      for (auto& e : is_config_map_key(k)) errs.push_back(field::invalid(key("data", k), k, e));
      total += b64_len(json::as_string_view(m.value));
    }
  }
  if (total > size_t{1024} * 1024) errs.push_back(field::too_long("data", 1024 * 1024));
  auto has = [&](std::string_view k) { return data && json::find(*data, k); };
  if (type == "kubernetes.io/tls") {
    if (!has("tls.crt")) errs.push_back(field::required("data[tls.crt]"));
    if (!has("tls.key")) errs.push_back(field::required("data[tls.key]"));
  } else if (type == "kubernetes.io/dockercfg") {
    if (!has(".dockercfg")) errs.push_back(field::required("data[.dockercfg]"));
  } else if (type == "kubernetes.io/dockerconfigjson") {
    if (!has(".dockerconfigjson")) errs.push_back(field::required("data[.dockerconfigjson]"));
  } else if (type == "kubernetes.io/ssh-auth") {
    if (!has("ssh-privatekey")) errs.push_back(field::required("data[ssh-privatekey]"));
  } else if (type == "kubernetes.io/basic-auth") {
    if (!has("username") && !has("password")) {
      errs.push_back(field::required("data[username]"));
      errs.push_back(field::required("data[password]"));
    }
  } else if (type == "kubernetes.io/service-account-token") {
    if (json::path_string(obj, {"metadata", "annotations", "kubernetes.io/service-account.name"})
            .empty()) {
      errs.push_back(field::required("metadata.annotations[kubernetes.io/service-account.name]"));
    }
  }
}

void config_map(const V& obj, const V* old, FieldErrors& errs) {
  size_t total = 0;
  std::set<std::string> seen;
  for (auto section : {"data", "binaryData"}) {
    const V* d = json::find(obj, section);
    if (!d || !d->IsObject()) continue;
    for (auto& m : d->GetObject()) {
      std::string_view k = json::as_string_view(m.name);
      for (auto& e : is_config_map_key(k)) errs.push_back(field::invalid(key(section, k), k, e));
      if (!seen.insert(std::string(k)).second) {
        errs.push_back(field::invalid(key(section, k), k, "duplicate of key present in data"));
      }
      total += std::string_view(section) == "data" ? json::as_string_view(m.value).size()
                                                   : b64_len(json::as_string_view(m.value));
    }
  }
  if (total > size_t{1024} * 1024) errs.push_back(field::too_long("", 1024 * 1024));
  if (old) {
    if (const V* im = json::find(*old, "immutable"); im && im->IsTrue()) {
      for (auto section : {"data", "binaryData"}) {
        const V* od = json::find(*old, section);
        const V* nd = json::find(obj, section);
        bool same = (od == nullptr) == (nd == nullptr) && (!od || json::equal(*od, *nd));
        if (!same)
          errs.push_back(field::forbidden(section, "field is immutable when `immutable` is set"));
      }
    }
  }
}

}  // namespace

void builtin(const ResourceType& t, const JsonValue& obj, const JsonValue* old, FieldErrors& errs) {
  if (is(t, "networking.k8s.io", "ingresses")) {
    ingress(obj, errs);
  } else if (is(t, "networking.k8s.io", "ingressclasses")) {
    ingress_class(obj, old, errs);
  } else if (is(t, "", "services")) {
    service(obj, old, errs);
  } else if (is(t, "discovery.k8s.io", "endpointslices")) {
    endpoint_slice(obj, old, errs);
  } else if (is(t, "", "secrets")) {
    secret(obj, old, errs);
  } else if (is(t, "", "configmaps")) {
    config_map(obj, old, errs);
  } else if (is(t, "admissionregistration.k8s.io", "validatingwebhookconfigurations") ||
             is(t, "admissionregistration.k8s.io", "mutatingwebhookconfigurations")) {
    webhook_configuration(obj, t.resource == "mutatingwebhookconfigurations", errs);
  }
}

}  // namespace kop::local::validation
