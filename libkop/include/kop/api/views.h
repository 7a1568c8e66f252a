// kop/api/views.h: typed read-only views over the Objects the ingress operator reads.
//
// An Object stays JSON; a view reads the fields of one kind with their Kubernetes types and
// defaults, so controllers do not repeat pointer strings and type checks. Views never throw and
// never fail: an absent or wrong-typed field reads as empty / std::nullopt / the API default.
// Where a later stage must reject bad input (a TLS Secret without a key, an Ingress path without
// a pathType) a validate() helper says what is wrong.
//
//   ServiceView        v1 Service: type, clusterIP(s), externalName, selector, ports
//   EndpointSliceView  discovery.k8s.io/v1: addressType, endpoints (+conditions), ports
//   SecretView         v1 Secret: type, data (base64-decoded), tls.crt / tls.key
//   IngressView        networking.k8s.io/v1 Ingress: class, defaultBackend, rules, tls, status
//   IngressClassView   networking.k8s.io/v1 IngressClass: controller, parameters, default
//   LeaseView          coordination.k8s.io/v1 Lease: holder, duration, times, transitions
//
// These are the built-in kinds: a custom resource gets its views generated from its CRD by
// kop-gen (docs/typed-crds.md). Built-in kinds have no CRD, and these carry API semantics a
// schema cannot (defaults of EndpointSlice conditions, Secret stringData over data, Ingress
// validation). Each has a user: LeaseView leader election, the others kop-ingress' model
// (class selection, backends resolved through Services and EndpointSlices, TLS Secrets);
// docs/typed-crds.md, "views.h: what stays and why".
//
// Lifetime: a view holds a reference to its Object, and the std::string_view members of what it
// returns point into the Object's document. Keep the Object (e.g. its ObjectPtr) alive and
// unmodified while using them; views of shared cached objects are safe from any thread.
#pragma once

#include <absl/status/status.h>
#include <absl/time/time.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/object.h"
#include "kop/api/typed.h"  // IntOrString

namespace kop::api {

// v1.ObjectReference / TypedLocalObjectReference and friends (unused fields stay empty).
struct ObjectReference {
  std::string_view api_version;
  std::string_view api_group;
  std::string_view kind;
  std::string_view namespace_;
  std::string_view name;
  std::string_view uid;
  std::string_view resource_version;
  std::string_view field_path;
};

// ---------------------------------------------------------------------------------------------
// Service

struct ServicePort {
  std::string_view name;
  std::string_view protocol;  // "TCP" when unset
  std::string_view app_protocol;
  int64_t port = 0;
  IntOrString target_port;  // as written; see effective_target_port()
  int64_t node_port = 0;

  // targetPort, or the port number when targetPort is unset (the API server's default).
  IntOrString effective_target_port() const;
};

class ServiceView {
 public:
  explicit ServiceView(const Object& obj) : obj_(&obj) {}
  const Object& object() const { return *obj_; }

  // spec.type; "ClusterIP" when unset.
  std::string_view type() const;
  std::string_view cluster_ip() const;  // "" when unset, "None" for headless
  std::vector<std::string_view> cluster_ips() const;
  bool is_headless() const { return cluster_ip() == "None"; }
  std::string_view external_name() const;  // for type ExternalName
  StringMap selector() const;
  std::vector<ServicePort> ports() const;
  std::optional<ServicePort> find_port(std::string_view name) const;
  std::optional<ServicePort> find_port(int64_t port) const;

 private:
  const Object* obj_;
};

// ---------------------------------------------------------------------------------------------
// EndpointSlice

struct EndpointConditions {
  std::optional<bool> ready{};
  std::optional<bool> serving{};
  std::optional<bool> terminating{};
};

struct Endpoint {
  std::vector<std::string_view> addresses;
  EndpointConditions conditions;
  std::string_view hostname;
  std::string_view node_name;
  std::string_view zone;
  std::optional<ObjectReference> target_ref;

  // Kubernetes semantics: an unset ready means ready; unset serving means "as ready"; unset
  // terminating means not terminating.
  bool is_ready() const { return conditions.ready.value_or(true); }
  bool is_serving() const { return conditions.serving.value_or(is_ready()); }
  bool is_terminating() const { return conditions.terminating.value_or(false); }
};

struct EndpointPort {
  std::string_view name;      // "" for a single unnamed port
  std::string_view protocol;  // "TCP" when unset
  std::string_view app_protocol;
  std::optional<int64_t> port;  // unset means "all ports"
};

class EndpointSliceView {
 public:
  static constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";

  explicit EndpointSliceView(const Object& obj) : obj_(&obj) {}
  const Object& object() const { return *obj_; }

  std::string_view address_type() const;  // "IPv4", "IPv6" or "FQDN"
  // The owning Service (label kubernetes.io/service-name); "" when absent.
  std::string_view service_name() const;
  std::vector<Endpoint> endpoints() const;
  std::vector<EndpointPort> ports() const;

 private:
  const Object* obj_;
};

// ---------------------------------------------------------------------------------------------
// Secret

class SecretView {
 public:
  static constexpr std::string_view kTypeTLS = "kubernetes.io/tls";
  static constexpr std::string_view kTypeOpaque = "Opaque";
  static constexpr std::string_view kTLSCert = "tls.crt";
  static constexpr std::string_view kTLSKey = "tls.key";
  static constexpr std::string_view kCACert = "ca.crt";

  explicit SecretView(const Object& obj) : obj_(&obj) {}
  const Object& object() const { return *obj_; }

  std::string_view type() const;  // "Opaque" when unset
  bool is_tls() const { return type() == kTypeTLS; }

  // The decoded value of `key`: stringData (write-only plain text, as in manifests) wins over
  // data (base64); std::nullopt when absent or not valid base64.
  std::optional<std::string> value(std::string_view key) const;
  // All keys of data and stringData, sorted, without duplicates.
  std::vector<std::string> keys() const;

  std::optional<std::string> tls_cert() const { return value(kTLSCert); }
  std::optional<std::string> tls_key() const { return value(kTLSKey); }
  std::optional<std::string> ca_cert() const { return value(kCACert); }

  // For serving TLS: type kubernetes.io/tls with non-empty PEM tls.crt and tls.key.
  // FailedPrecondition naming what is missing otherwise. (Checks shape, not the crypto.)
  absl::Status validate_tls() const;

 private:
  const Object* obj_;
};

// ---------------------------------------------------------------------------------------------
// Ingress (networking.k8s.io/v1)

struct IngressServiceBackend {
  std::string_view name;
  std::optional<int64_t> port_number;
  std::string_view port_name;  // "" when the port is given by number
};

struct IngressBackend {
  std::optional<IngressServiceBackend> service;
  std::optional<ObjectReference> resource;  // api_group, kind, name
};

struct HTTPIngressPath {
  std::string_view path;       // "" when unset (matches everything)
  std::string_view path_type;  // "Exact", "Prefix", "ImplementationSpecific"; "" when unset
  IngressBackend backend;
};

struct IngressRule {
  std::string_view host;  // "" matches every host; may be a wildcard "*.example.com"
  bool has_http = false;
  std::vector<HTTPIngressPath> paths;
};

struct IngressTLS {
  std::vector<std::string_view> hosts;
  std::string_view secret_name;
};

struct LoadBalancerIngress {
  std::string_view ip;
  std::string_view hostname;
};

class IngressView {
 public:
  static constexpr std::string_view kClassAnnotation = "kubernetes.io/ingress.class";

  explicit IngressView(const Object& obj) : obj_(&obj) {}
  const Object& object() const { return *obj_; }

  // spec.ingressClassName.
  std::optional<std::string_view> ingress_class_name() const;
  // The deprecated kubernetes.io/ingress.class annotation.
  std::optional<std::string_view> class_annotation() const;
  std::optional<IngressBackend> default_backend() const;
  std::vector<IngressRule> rules() const;
  std::vector<IngressTLS> tls() const;
  // status.loadBalancer.ingress.
  std::vector<LoadBalancerIngress> load_balancer() const;

  // What networking.k8s.io/v1 validation would reject, one message per problem (empty when
  // valid): pathType required and known, paths absolute for Exact/Prefix, each backend exactly
  // one of service/resource, each service port exactly one of number/name, hosts not IPs.
  std::vector<std::string> validate() const;

 private:
  const Object* obj_;
};

// ---------------------------------------------------------------------------------------------
// IngressClass (networking.k8s.io/v1)

struct IngressClassParameters {
  std::string_view api_group;
  std::string_view kind;
  std::string_view name;
  std::string_view namespace_;
  std::string_view scope;  // "Cluster" or "Namespace"; "" when unset
};

class IngressClassView {
 public:
  static constexpr std::string_view kDefaultClassAnnotation =
      "ingressclass.kubernetes.io/is-default-class";

  explicit IngressClassView(const Object& obj) : obj_(&obj) {}
  const Object& object() const { return *obj_; }

  std::string_view controller() const;  // e.g. "kop.dev/ingress"
  std::optional<IngressClassParameters> parameters() const;
  // The is-default-class annotation is "true".
  bool is_default() const;

 private:
  const Object* obj_;
};

// ---------------------------------------------------------------------------------------------
// Lease (coordination.k8s.io/v1)

class LeaseView {
 public:
  explicit LeaseView(const Object& obj) : obj_(&obj) {}
  const Object& object() const { return *obj_; }

  std::optional<std::string_view> holder_identity() const;
  std::optional<int64_t> lease_duration_seconds() const;
  std::optional<int64_t> lease_transitions() const;
  std::string_view acquire_time_text() const;  // MicroTime text
  std::string_view renew_time_text() const;
  std::optional<absl::Time> acquire_time() const;
  std::optional<absl::Time> renew_time() const;
  // renewTime + leaseDurationSeconds <= now; a lease without a holder, renewTime or duration
  // counts as expired (free to take).
  bool expired(absl::Time now) const;

 private:
  const Object* obj_;
};

}  // namespace kop::api
