// networking.k8s.io/v1 Ingress -> candidate routes, default backends and TLS bindings.
#include <algorithm>
#include <set>

#include "builder.h"
#include "kop/api/views.h"
#include "kop/proxy/certificate.h"
#include "nginx_ingress.h"
#include "paths.h"
#include "text_cat.h"

namespace kop::ingress::internal {
namespace {

// The backend of an Ingress path or defaultBackend: a cluster, or nullopt after an Event.
std::optional<std::string> ingress_backend(Builder& b, const api::Object& ing, const ObjectRef& src,
                                           const rapidjson::Value* backend,
                                           const std::string& field, const BackendSpec& base) {
  const rapidjson::Value* service = member(backend, "service");
  if (service == nullptr) {
    b.event(src, member(backend, "resource") ? "BackendUnsupported" : "BackendInvalid", field,
            member(backend, "resource") ? "resource backends are not supported"
                                        : "backend names no service");
    return std::nullopt;
  }
  BackendSpec spec = base;
  spec.ns = std::string(ing.ns());
  spec.service = std::string(str_of(service, "name"));
  const rapidjson::Value* port = member(service, "port");
  if (auto n = int_of(port, "number"))
    spec.port_number = n;
  else
    spec.port_name = std::string(str_of(port, "name"));
  if (spec.service.empty() || (!spec.port_number && spec.port_name.empty())) {
    b.event(src, "BackendInvalid", field + ".service", "service name and port are required");
    return std::nullopt;
  }
  return b.resolve_backend(src, field + ".service", spec);
}

// proxy-ssl-secret "namespace/name" (or "name"), of the Ingress' namespace only (ingress-nginx
// reads any): ca.crt becomes the trusted CAs, tls.crt with tls.key the client certificate. A
// Secret that is missing or does not load gets an Event and is left out: with proxy-ssl-verify
// on the handshake then fails (502), as nginx refuses what it cannot verify.
void load_proxy_ssl_secret(Builder& b, const api::Object& ing, const ObjectRef& src,
                           const std::string& ref, proxy::UpstreamTlsConfig& tls) {
  std::string field = cat("metadata.annotations[", kNginxAnnotationPrefix, "proxy-ssl-secret]");
  size_t slash = ref.find('/');
  std::string ns = slash == std::string::npos ? std::string(ing.ns()) : ref.substr(0, slash);
  std::string name = slash == std::string::npos ? ref : ref.substr(slash + 1);
  std::string key = cat(ns, "/", name);
  if (ns != ing.ns()) {
    // Another namespace's client certificate would let this Ingress act as its owner.
    b.event(src, "SecretNotPermitted", field,
            cat("Secret \"", key, "\" is in another namespace: only the Ingress' own are read"));
    return;
  }
  const api::Object* secret = b.read_secret(ns, name);
  if (secret == nullptr) {
    b.event(src, "SecretNotFound", field, cat("Secret \"", key, "\" not found"));
    return;
  }
  const api::SecretView view(*secret);
  proxy::UpstreamTlsConfig with = tls;
  std::string ca = view.ca_cert().value_or("");
  std::string crt = view.tls_cert().value_or("");
  std::string pkey = view.tls_key().value_or("");
  if (!ca.empty()) with.ca_pem = ca;
  if (!crt.empty() && !pkey.empty()) {
    proxy::CertificateConfig client;
    client.cert_pem = std::move(crt);
    client.key_pem = std::move(pkey);
    with.client_certificate = std::move(client);
  }
  if (ca.empty() && !with.client_certificate) {
    b.event(src, "SecretInvalid", field,
            cat("Secret \"", key, "\" has neither ca.crt nor tls.crt and tls.key"));
    return;
  }
  if (auto loaded = proxy::load_upstream_tls(with); !loaded.ok()) {
    b.event(src, "SecretInvalid", field,
            cat("Secret \"", key, "\": ",
                std::string(loaded.status().message().data(), loaded.status().message().size())));
    return;
  }
  tls = std::move(with);
}

// ingress-nginx default-backend: a Service of the Ingress' namespace on its first port (as
// ingress-nginx's custom default backend upstream); nullopt after an Event.
std::optional<std::string> nginx_default_backend(Builder& b, const api::Object& ing,
                                                 const ObjectRef& src, const std::string& name) {
  BackendSpec spec;
  spec.ns = std::string(ing.ns());
  spec.service = name;
  const api::ObjectPtr* svc = b.service(spec.ns, spec.service);
  auto ports = svc == nullptr ? std::vector<api::ServicePort>{} : api::ServiceView(**svc).ports();
  if (!ports.empty() && ports[0].port != 0)
    spec.port_number = ports[0].port;
  else if (!ports.empty())
    spec.port_name = std::string(ports[0].name);
  else
    spec.port_number = 80;  // no Service or no port: resolve_backend's Event says which
  return b.resolve_backend(
      src, cat("metadata.annotations[", kNginxAnnotationPrefix, "default-backend]"), spec);
}

// A path's backend with ingress-nginx's default-backend: the default backend serves when the
// Service cannot be resolved or has no ready endpoint, and with custom-http-errors it answers
// the error requests (x-namespace, x-ingress-name, x-service-name, x-service-port as
// ingress-nginx sends them).
void apply_nginx_default_backend(const Builder& b, const NginxAnnotations& a,
                                 const api::Object& ing, const rapidjson::Value* backend,
                                 const std::optional<std::string>& default_cluster,
                                 std::optional<std::string>& cluster, Route& r) {
  if (!default_cluster) return;
  auto it = cluster ? b.clusters.find(*cluster) : b.clusters.end();
  if (!cluster || (it != b.clusters.end() && it->second.endpoints.empty())) {
    cluster = default_cluster;
    r.action = RouteAction::kForward;
    r.clusters = {WeightedCluster{*default_cluster, 1}};
  }
  if (a.custom_http_errors.empty() || r.action != RouteAction::kForward) return;
  const rapidjson::Value* service = member(backend, "service");
  const rapidjson::Value* port = member(service, "port");
  std::string port_label = int_of(port, "number") ? std::to_string(*int_of(port, "number"))
                                                  : std::string(str_of(port, "name"));
  ErrorPages e{a.custom_http_errors, *default_cluster, {}};
  e.headers.push_back(Header{"x-namespace", std::string(ing.ns())});
  e.headers.push_back(Header{"x-ingress-name", std::string(ing.name())});
  e.headers.push_back(Header{"x-service-name", std::string(str_of(service, "name"))});
  e.headers.push_back(Header{"x-service-port", port_label});
  r.error_pages = std::move(e);
}

Route make_route(const ObjectRef& src, const std::string& field, PathRule path,
                 std::optional<std::string> cluster, bool https_redirect) {
  Route r;
  r.path = std::move(path);
  r.source = src;
  r.field = field;
  r.https_redirect = https_redirect;
  if (cluster)
    r.clusters.push_back(WeightedCluster{*cluster, 1});
  else
    r.action = RouteAction::kUnavailable;
  return r;
}

}  // namespace

void translate_ingresses(Builder& b) {
  for (const auto& ptr : b.snapshot().ingresses) translate_ingress(b, *ptr);
}

void translate_ingress(Builder& b, const api::Object& ing) {
  {
    if (ing.is_being_deleted()) return;
    if (!is_ours(ing, b.snapshot().ingress_classes, b.options())) return;
    Age age = age_of(ing, "Ingress");
    const ObjectRef& src = age.ref;
    b.owned_ingresses.push_back(src);
    std::optional<NginxAnnotations> nginx;
    if (b.options().nginx_annotations) {
      nginx = read_nginx(b, ing, src);
    }
    bool canary = nginx && nginx->canary;
    BackendSpec base;  // what the annotations set for every backend of the Ingress
    if (nginx) {
      base.strategy = nginx->strategy;
      base.cookie = nginx->cookie;
      base.hash_by = nginx->hash_by;
      base.hash_subset_size = nginx->hash_subset_size;
      base.service_upstream = nginx->service_upstream;
      base.h2c = nginx->backend_h2;
      base.tls = nginx->backend_tls;
      if (base.tls && !nginx->proxy_ssl_secret.empty())
        load_proxy_ssl_secret(b, ing, src, nginx->proxy_ssl_secret, *base.tls);
    }
    std::optional<std::string> default_cluster;
    if (nginx && !nginx->default_backend.empty() && !canary)
      default_cluster = nginx_default_backend(b, ing, src, nginx->default_backend);
    const rapidjson::Value* spec = ing.spec();
    bool force_ssl = ing.annotation(kForceSslRedirectAnnotation) == "true";
    int order = 0;
    size_t first_default = b.default_backends.size();

    if (const rapidjson::Value* def = member(spec, "defaultBackend"); def && !canary) {
      auto cluster = ingress_backend(b, ing, src, def, "spec.defaultBackend", base);
      Route route = make_route(src, "spec.defaultBackend", PathRule{}, cluster, false);
      if (nginx) apply_nginx_default_backend(b, *nginx, ing, def, default_cluster, cluster, route);
      b.default_backends.push_back(RouteCandidate{"*", std::move(route), age, order++});
      if (nginx) {
        apply_nginx_route(*nginx, "/", b.default_backends.back());
        b.default_backends.back().nginx_path.reset();
      }
    }
    size_t first_route = b.routes.size();
    std::vector<std::string> hosts;

    auto rules = items_of(spec, "rules");
    for (size_t i = 0; i < rules.size(); ++i) {
      std::string rfield = cat("spec.rules[", i, "]");
      std::string host = "*";
      if (std::string_view h = str_of(rules[i], "host"); !h.empty()) {
        auto n = normalize_host(h);
        if (!n.ok()) {
          b.event(src, "HostInvalid", rfield + ".host", std::string(n.status().message()));
          continue;
        }
        host = *n;
      }
      if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) hosts.push_back(host);
      auto paths = items_of(member(rules[i], "http"), "paths");
      for (size_t j = 0; j < paths.size(); ++j) {
        std::string pfield = cat(rfield, ".http.paths[", j, "]");
        std::string_view type = str_of(paths[j], "pathType");
        if (type.empty()) type = "ImplementationSpecific";
        auto rule = nginx ? nginx_path_rule(type, str_of(paths[j], "path"))
                          : ingress_path_rule(type, str_of(paths[j], "path"));
        if (!rule.ok()) {
          b.event(src, "PathInvalid", pfield, std::string(rule.status().message()));
          continue;
        }
        const rapidjson::Value* backend = member(paths[j], "backend");
        auto cluster = ingress_backend(b, ing, src, backend, pfield + ".backend", base);
        Route route = make_route(src, pfield, *rule, cluster, force_ssl);
        if (nginx)
          apply_nginx_default_backend(b, *nginx, ing, backend, default_cluster, cluster, route);
        b.routes.push_back(RouteCandidate{host, std::move(route), age, order++});
        if (nginx) apply_nginx_route(*nginx, str_of(paths[j], "path"), b.routes.back());
        if (canary) b.routes.back().canary = nginx->canary;
      }
    }
    if (nginx && !canary) add_nginx_host_routes(b, *nginx, age, first_route, hosts, order);

    const NginxClientAuth* client_auth =
        nginx && nginx->client_auth ? &*nginx->client_auth : nullptr;
    std::set<std::string> tls_hosts;  // with client_auth: the hosts whose certificate asks
    auto tls = items_of(spec, "tls");
    for (size_t i = 0; i < tls.size(); ++i) {
      std::string tfield = cat("spec.tls[", i, "]");
      std::string_view secret = str_of(tls[i], "secretName");
      auto hosts = items_of(tls[i], "hosts");
      if (secret.empty()) {
        b.event(src, "SecretInvalid", tfield + ".secretName", "secretName is required");
        continue;
      }
      if (hosts.empty()) {
        b.event(src, "TLSHostsMissing", tfield + ".hosts",
                "a TLS entry without hosts is not bound to any host; list the hosts it serves");
        continue;
      }
      auto loaded = b.load_tls(src, tfield + ".secretName", ing.ns(), secret);
      if (!loaded) continue;
      if (client_auth != nullptr) loaded->client_auth = client_auth->config;
      for (size_t k = 0; k < hosts.size(); ++k) {
        if (!hosts[k]->IsString()) continue;
        auto n = normalize_host(hosts[k]->GetString());
        if (!n.ok()) {
          b.event(src, "HostInvalid", cat(tfield, ".hosts[", k, "]"),
                  std::string(n.status().message()));
          continue;
        }
        if (client_auth != nullptr) tls_hosts.insert(*n);
        b.tls.push_back(TlsCandidate{*n, *loaded, age, tfield});
      }
    }
    if (client_auth != nullptr)
      close_hosts_without_tls(b, src, first_route, first_default, tls_hosts);
  }
}

}  // namespace kop::ingress::internal
