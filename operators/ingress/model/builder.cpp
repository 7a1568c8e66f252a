// The Builder's shared services: indexes, Events, Service/EndpointSlice resolution, Secrets
// (read through kop/api/views.h: the API's defaults, such as an unset ready being ready).
#include "builder.h"

#include <absl/strings/ascii.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kop/api/views.h"
#include "kop/proxy/certificate.h"
#include "kop/proxy/config.h"
#include "text_cat.h"

namespace kop::ingress {

std::string_view to_string(RouteStatus status) {
  switch (status) {
    case RouteStatus::kValid:
      return "valid";
    case RouteStatus::kInvalid:
      return "invalid";
    case RouteStatus::kOrphaned:
      return "orphaned";
  }
  return "invalid";
}

namespace internal {

const rapidjson::Value* member(const rapidjson::Value* v, const char* key) {
  if (v == nullptr || !v->IsObject()) return nullptr;
  auto it = v->FindMember(key);
  return it == v->MemberEnd() ? nullptr : &it->value;
}

std::string_view str_of(const rapidjson::Value* v, const char* key) {
  const rapidjson::Value* m = member(v, key);
  if (m == nullptr || !m->IsString()) return {};
  return {m->GetString(), m->GetStringLength()};
}

std::optional<int64_t> int_of(const rapidjson::Value* v, const char* key) {
  const rapidjson::Value* m = member(v, key);
  if (m == nullptr || !m->IsInt64()) return std::nullopt;
  return m->GetInt64();
}

std::optional<bool> bool_of(const rapidjson::Value* v, const char* key) {
  const rapidjson::Value* m = member(v, key);
  if (m == nullptr || !m->IsBool()) return std::nullopt;
  return m->GetBool();
}

std::vector<const rapidjson::Value*> items_of(const rapidjson::Value* v, const char* key) {
  std::vector<const rapidjson::Value*> out;
  const rapidjson::Value* m = member(v, key);
  if (m == nullptr || !m->IsArray()) return out;
  for (const auto& e : m->GetArray()) out.push_back(&e);
  return out;
}

Age age_of(const api::Object& object, std::string_view kind) {
  Age a;
  a.created = object.creation_time().value_or(absl::InfiniteFuture());
  a.ref = ObjectRef{std::string(kind), std::string(object.ns()), std::string(object.name())};
  return a;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text == "infinity") return std::chrono::milliseconds(0);
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    double value = 0;
    try {
      value = std::stod(std::string(text.substr(start, i - start)));
    } catch (...) {
      return std::nullopt;
    }
    size_t ustart = i;
    while (i < text.size() && !((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    double scale = 0;
    if (unit == "h")
      scale = 3600e3;
    else if (unit == "m")
      scale = 60e3;
    else if (unit == "s")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1;
    else if (unit == "us" || unit == "µs")
      scale = 1e-3;
    else if (unit == "ns")
      scale = 1e-6;
    else
      return std::nullopt;
    total_ms += value * scale;
  }
  return std::chrono::milliseconds(std::llround(total_ms));
}

Builder::Builder(const Snapshot& snapshot, const Options& options)
    : snapshot_(snapshot),
      options_(options),
      own_index_(std::make_unique<const SnapshotIndex>(snapshot)),
      index_(*own_index_) {}

Builder::Builder(const Snapshot& snapshot, const Options& options, const SnapshotIndex& index)
    : snapshot_(snapshot), options_(options), index_(index) {}

const api::ObjectPtr* Builder::service(std::string_view ns, std::string_view name) const {
  return index_.service(ns, name);
}

const api::ObjectPtr* Builder::secret(std::string_view ns, std::string_view name) const {
  return index_.secret(ns, name);
}

const api::Object* Builder::read_secret(std::string_view ns, std::string_view name) {
  note_read(Recording::Kind::kSecret, ns, name);
  const api::ObjectPtr* s = secret(ns, name);
  return s == nullptr ? nullptr : s->get();
}

void Builder::note_service_read(std::string_view ns, std::string_view name) {
  note_read(Recording::Kind::kService, ns, name);
}

const api::ObjectPtr* Builder::config_map(std::string_view ns, std::string_view name) const {
  return index_.config_map(ns, name);
}

const api::Object* Builder::read_config_map(std::string_view ns, std::string_view name) {
  note_read(Recording::Kind::kConfigMap, ns, name);
  const api::ObjectPtr* m = config_map(ns, name);
  return m == nullptr ? nullptr : m->get();
}

const std::vector<api::ObjectPtr>& Builder::slices(std::string_view ns,
                                                   std::string_view name) const {
  return index_.slices(ns, name);
}

void Builder::note_read(Recording::Kind kind, std::string_view ns, std::string_view name) {
  if (recording == nullptr) return;
  for (const auto& r : recording->reads)
    if (r.kind == kind && r.ns == ns && r.name == name) return;
  Recording::Read r;
  r.kind = kind;
  r.ns = std::string(ns);
  r.name = std::string(name);
  const api::ObjectPtr* o = kind == Recording::Kind::kSecret      ? secret(ns, name)
                            : kind == Recording::Kind::kConfigMap ? config_map(ns, name)
                                                                  : service(ns, name);
  if (o != nullptr) r.object = *o;
  if (kind == Recording::Kind::kService) r.slices = slices(ns, name);
  recording->reads.push_back(std::move(r));
}

Event make_event(const ObjectRef& object, std::string reason, std::string field,
                 const std::string& message) {
  std::string text = cat(object.kind, " ", object.key(), ": ", field, ": ", message);
  return Event{object, "Warning", std::move(reason), std::move(field), std::move(text)};
}

void Builder::event(const ObjectRef& object, std::string reason, std::string field,
                    const std::string& message) {
  events.push_back(make_event(object, std::move(reason), std::move(field), message));
}

const api::Object* Builder::find(const std::vector<api::ObjectPtr>& list, std::string_view ns,
                                 std::string_view name) const {
  for (const auto& o : list)
    if (o->ns() == ns && o->name() == name) return o.get();
  return nullptr;
}

namespace {
std::string_view strategy_suffix(Strategy s) {
  switch (s) {
    case Strategy::kRoundRobin:
      return "";
    case Strategy::kWeightedLeastRequest:
      return "/weightedleastrequest";
    case Strategy::kRandom:
      return "/random";
    case Strategy::kCookie:
      return "/cookie";
    case Strategy::kHash:
      return "/hash";
  }
  return "";
}

// "80" for TCP port 80, "53-udp" for UDP port 53: unique within a Service (the API server
// refuses two ports with the same number and protocol).
std::string service_port_label(const api::ServicePort& port) {
  std::string label = std::to_string(port.port);
  if (!port.protocol.empty() && port.protocol != "TCP") {
    label += "-";
    for (char ch : port.protocol) label += absl::ascii_tolower(static_cast<unsigned char>(ch));
  }
  return label;
}
}  // namespace

// A short name for a cluster's TLS settings: clusters of one Service port with different
// settings stay apart; the same settings give the same name in every build.
std::string tls_digest(const proxy::UpstreamTlsConfig& t) {
  proxy::Config c;
  proxy::ClusterConfig cluster;
  cluster.tls = t;
  c.clusters.emplace_back(std::move(cluster));
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the rendered settings
  for (unsigned char ch : proxy::to_json(c, false)) h = (h ^ ch) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

std::optional<std::string> Builder::resolve_backend(const ObjectRef& source,
                                                    const std::string& field,
                                                    const BackendSpec& spec) {
  note_read(Recording::Kind::kService, spec.ns, spec.service);
  const api::ObjectPtr* svc_ptr = service(spec.ns, spec.service);
  const api::Object* svc = svc_ptr == nullptr ? nullptr : svc_ptr->get();
  if (svc == nullptr) {
    event(source, "ServiceNotFound", field,
          cat("Service \"", spec.ns, "/", spec.service, "\" not found"));
    return std::nullopt;
  }
  const api::ServiceView view(*svc);
  const std::optional<api::ServicePort> port =
      spec.port_number ? view.find_port(*spec.port_number) : view.find_port(spec.port_name);
  std::string port_label =
      spec.port_number ? std::to_string(*spec.port_number) : std::string(spec.port_name);
  bool external = view.type() == "ExternalName";
  if (!port && !(external && spec.port_number)) {
    event(source, "ServicePortNotFound", field,
          cat("Service \"", spec.ns, "/", spec.service, "\" has no port \"", port_label, "\""));
    return std::nullopt;
  }
  Cluster c;
  c.service = ObjectRef{"Service", spec.ns, spec.service};
  // One cluster per Service port, however the backend names it: by number or by name, the same
  // ServicePort has the same endpoints, so it is one cluster (as Contour does), not one per
  // spelling. A port is (number, protocol) in its Service; the protocol shows when not TCP.
  if (port) port_label = service_port_label(*port);
  c.port = port_label;
  c.h2c = port && port->app_protocol == "kubernetes.io/h2c";
  c.strategy = spec.strategy;
  c.health_check = spec.health_check;
  c.name = cat(spec.ns, "/", spec.service, "/", port_label, strategy_suffix(spec.strategy));
  if (spec.http1 && c.h2c) {
    c.h2c = false;
    c.name += "/http1";  // apart from the h2c cluster of the same port
  }
  if (spec.h2c && !c.h2c) {
    c.h2c = true;
    c.name += "/h2c";  // apart from the HTTP/1.1 cluster of the same port
  }
  if (spec.tls) {
    // The source's protocol wins over the port's appProtocol (ingress-nginx backend-protocol).
    c.h2c = spec.h2c;
    c.tls = spec.tls;
    c.name = cat(c.name, spec.h2c ? "/h2" : "", "/tls-", tls_digest(*spec.tls));
  }
  if (spec.strategy == Strategy::kCookie && spec.cookie) {
    c.cookie = spec.cookie;
    c.name += cat(":", spec.cookie->name, ":", spec.cookie->max_age.count(), ":", spec.cookie->path,
                  spec.cookie->samesite.empty() ? "" : ":", spec.cookie->samesite,
                  spec.cookie->secure ? ":secure" : "", spec.cookie->balanced ? ":balanced" : "",
                  spec.cookie->change_on_failure ? "" : ":keep",
                  spec.cookie->samesite_none_conditional ? ":conditional" : "");
  }
  if (spec.strategy == Strategy::kHash) {
    c.hash_by = spec.hash_by;
    c.hash_subset_size = spec.hash_subset_size;
    c.name += cat(":", spec.hash_by);  // one cluster per expression (and subset size)
    if (spec.hash_subset_size > 0) c.name += cat(":subset", spec.hash_subset_size);
  }
  if (external) {
    c.external_name = true;
    std::string_view host = view.external_name();
    int64_t number = port ? port->port : *spec.port_number;
    if (host.empty() || number <= 0 || number > 65535) {
      event(source, "ServiceInvalid", field,
            cat("ExternalName Service \"", spec.ns, "/", spec.service,
                "\" has no externalName or port"));
      return std::nullopt;
    }
    c.endpoints.push_back(Endpoint{std::string(host), static_cast<uint16_t>(number)});
  } else if (spec.service_upstream) {
    std::string_view ip = view.cluster_ip();
    int64_t number = port->port;
    if (ip.empty() || view.is_headless() || number <= 0 || number > 65535) {
      event(source, "ServiceInvalid", field,
            cat("Service \"", spec.ns, "/", spec.service,
                "\" has no cluster IP (headless?): service-upstream needs one"));
      return std::nullopt;
    }
    c.endpoints.push_back(Endpoint{std::string(ip), static_cast<uint16_t>(number)});
    c.name += "/service-upstream";
  } else {
    // The target port comes from the EndpointSlices: their port whose name is the Service
    // port's name (the EndpointSlice controller copies it), never from the Service.
    for (const api::ObjectPtr& slice_ptr : slices(spec.ns, spec.service)) {
      const api::EndpointSliceView slice(*slice_ptr);
      std::optional<int64_t> target;
      for (const api::EndpointPort& sp : slice.ports())
        if (sp.name == port->name) target = sp.port;
      if (!target || *target <= 0 || *target > 65535) continue;
      for (const api::Endpoint& ep : slice.endpoints()) {
        if (!ep.is_ready()) continue;  // ready unset means ready (discovery.k8s.io/v1)
        for (std::string_view a : ep.addresses)
          c.endpoints.push_back(Endpoint{std::string(a), static_cast<uint16_t>(*target)});
      }
    }
    std::sort(c.endpoints.begin(), c.endpoints.end());
    c.endpoints.erase(std::unique(c.endpoints.begin(), c.endpoints.end()), c.endpoints.end());
  }
  if (c.health_check) {
    // Distinct health checks on one Service port need distinct clusters.
    const HealthCheck& h = *c.health_check;
    c.name =
        cat(c.name, "/hc:", h.path, ":", h.interval.count(), ":", h.timeout.count(), ":",
            h.healthy_threshold, ":", h.unhealthy_threshold, h.host.empty() ? "" : ":", h.host);
  }
  if (recording != nullptr &&
      std::none_of(recording->clusters.begin(), recording->clusters.end(),
                   [&](const proxy::Shared<Cluster>& r) { return r->name == c.name; }))
    recording->clusters.emplace_back(c);
  std::string name = c.name;
  clusters[name] = std::move(c);
  return name;
}

std::optional<Tls> Builder::load_tls(const ObjectRef& source, const std::string& field,
                                     std::string_view ns, std::string_view name) {
  note_read(Recording::Kind::kSecret, ns, name);
  const api::ObjectPtr* secret_ptr = secret(ns, name);
  const api::Object* secret = secret_ptr == nullptr ? nullptr : secret_ptr->get();
  std::string key = cat(ns, "/", name);
  if (secret == nullptr) {
    event(source, "SecretNotFound", field, cat("TLS Secret \"", key, "\" not found"));
    return std::nullopt;
  }
  const api::SecretView view(*secret);
  if (!view.is_tls()) {
    event(source, "SecretInvalid", field,
          cat("Secret \"", key, "\" is not of type kubernetes.io/tls"));
    return std::nullopt;
  }
  std::optional<std::string> crt = view.tls_cert();
  std::optional<std::string> pkey = view.tls_key();
  if (!crt || !pkey || crt->empty() || pkey->empty()) {
    event(source, "SecretInvalid", field,
          cat("Secret \"", key, "\" has no valid base64 tls.crt and tls.key"));
    return std::nullopt;
  }
  proxy::CertificateConfig cc;
  cc.cert_pem = *crt;
  cc.key_pem = *pkey;
  auto loaded = proxy::load_certificate(cc);
  if (!loaded.ok()) {
    event(source, "SecretInvalid", field,
          cat("Secret \"", key, "\": ", std::string(loaded.status().message())));
    return std::nullopt;
  }
  Tls tls;
  tls.secret = ObjectRef{"Secret", std::string(ns), std::string(name)};
  tls.cert_pem = std::move(*crt);
  tls.key_pem = std::move(*pkey);
  return tls;
}

}  // namespace internal
}  // namespace kop::ingress
