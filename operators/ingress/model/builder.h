// Internal to the model: the state one build_model() call accumulates. The Ingress and
// IngressRoute translators (ingress.cpp, ingress_route.cpp) add candidate routes and TLS
// bindings; assemble.cpp resolves conflicts and produces the Model.
// Threading: one Builder per build_model() call, used by that call only.
#pragma once

#include <absl/time/time.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kop/ingress/model.h"
#include "kop/ingress/nginx_annotations.h"
#include "snapshot_index.h"

namespace kop::ingress::internal {

// Orders sources for conflicts: oldest creationTimestamp, then namespace/name.
struct Age {
  absl::Time created = absl::InfiniteFuture();
  ObjectRef ref;
  bool operator<(const Age& o) const {
    if (created != o.created) return created < o.created;
    return ref < o.ref;
  }
};
Age age_of(const api::Object& object, std::string_view kind);

struct RouteCandidate {
  std::string host;  // "" becomes "*"
  // Shared with the model's virtual hosts that serve it (an Ingress entry keeps its candidates
  // across builds): change a copy and assign it back.
  proxy::Shared<Route> route;
  Age age;
  int order = 0;  // position in its source, to keep duplicates inside one object stable
  // Ingresses read with their ingress-nginx annotations (nginx_ingress.h): the path as
  // written, which becomes a regex when a route of the host asks for one (`nginx_regex`), and
  // redirects that exist only while no other route claims their host (from-to-www-redirect).
  // Boxed: unset but for those Ingresses (40 bytes inline in each of 200k candidates at 100k).
  proxy::Boxed<std::string> nginx_path;
  bool nginx_regex = false;
  bool host_fallback = false;
  // A path of a canary Ingress: merged into the main's. Boxed: rare, 144 bytes inline.
  proxy::Boxed<NginxCanary> canary;
};

struct TlsCandidate {
  std::string host;
  Tls tls;
  Age age;
  std::string field;
};

struct TcpProxyCandidate {
  TcpProxy tcp_proxy;
  Age age;
};

struct BackendSpec {
  std::string ns;
  std::string service;
  std::optional<int64_t> port_number;
  std::string port_name;
  Strategy strategy = Strategy::kRoundRobin;
  std::optional<HealthCheck> health_check;
  std::optional<AffinityCookie> cookie;  // with Strategy::kCookie
  std::string hash_by;                   // with Strategy::kHash
  uint32_t hash_subset_size = 0;         // with Strategy::kHash: Cluster::hash_subset_size
  // The Service's ClusterIP and port as the only endpoint (ingress-nginx service-upstream).
  bool service_upstream = false;
  // HTTP/2 with prior knowledge to the endpoints whatever the port's appProtocol (GRPCRoute);
  // such a cluster's name ends in "/h2c" unless the port says kubernetes.io/h2c itself.
  bool h2c = false;
  // HTTP/1.1 whatever the port's appProtocol (ingress-nginx's auth-url, which nginx calls over
  // HTTP/1.1); such a cluster's name ends in "/http1" when the port says kubernetes.io/h2c.
  bool http1 = false;
  // TLS to the endpoints whatever the port's appProtocol (with h2c: HTTP/2 over TLS); such a
  // cluster's name ends in "/tls-<digest of the settings>". Unset: plain TCP.
  std::optional<proxy::UpstreamTlsConfig> tls;
};

// The objects one translation read besides its own source, and the clusters it registered:
// what build_cache.cpp needs to replay the translation or to tell that it is stale.
struct Recording {
  enum class Kind { kService, kSecret, kConfigMap };  // a Service with its EndpointSlices
  struct Read {
    Kind kind = Kind::kService;
    std::string ns;
    std::string name;
    api::ObjectPtr object;  // null when it did not exist
    std::vector<api::ObjectPtr> slices;
  };
  std::vector<Read> reads;
  // One per name. Shared: the Model holds the same objects (model.h's BuildCache).
  std::vector<proxy::Shared<Cluster>> clusters;
};

class Builder {
 public:
  // Indexes the snapshot's Services, Secrets, ConfigMaps and EndpointSlices.
  Builder(const Snapshot& snapshot, const Options& options);
  // Looks them up in `index`, which must index `snapshot` and outlive the Builder (a BuildCache
  // keeps it patched across builds).
  Builder(const Snapshot& snapshot, const Options& options, const SnapshotIndex& index);

  const Snapshot& snapshot() const { return snapshot_; }
  const Options& options() const { return options_; }

  void event(const ObjectRef& object, std::string reason, std::string field,
             const std::string& message);

  // The cluster name for `spec`, registering the cluster; nullopt (with an Event naming
  // `source` and `field`) when the Service or its port does not exist.
  std::optional<std::string> resolve_backend(const ObjectRef& source, const std::string& field,
                                             const BackendSpec& spec);

  // The certificate of Secret ns/name, checked to load; nullopt (with an Event) otherwise.
  std::optional<Tls> load_tls(const ObjectRef& source, const std::string& field,
                              std::string_view ns, std::string_view name);

  const api::Object* find(const std::vector<api::ObjectPtr>& list, std::string_view ns,
                          std::string_view name) const;

  // Index lookups (null / empty when absent).
  const api::ObjectPtr* service(std::string_view ns, std::string_view name) const;
  const api::ObjectPtr* secret(std::string_view ns, std::string_view name) const;
  // secret(), noting the read for the incremental build (as load_tls() does).
  const api::Object* read_secret(std::string_view ns, std::string_view name);
  // Notes a read of Service ns/name (and its EndpointSlices) as resolve_backend() does, for a
  // caller that reads it through service().
  void note_service_read(std::string_view ns, std::string_view name);
  const api::ObjectPtr* config_map(std::string_view ns, std::string_view name) const;
  // config_map(), noting the read.
  const api::Object* read_config_map(std::string_view ns, std::string_view name);
  const std::vector<api::ObjectPtr>& slices(std::string_view ns, std::string_view name) const;

  // While set, resolve_backend() and load_tls() note what they read and register into it.
  Recording* recording = nullptr;

  std::vector<RouteCandidate> routes;
  std::vector<RouteCandidate> default_backends;  // host "*", path Prefix "/"
  std::vector<TlsCandidate> tls;
  std::vector<TcpProxyCandidate> tcp_proxies;
  std::map<std::string, Cluster> clusters;
  std::vector<ObjectRef> owned_ingresses;
  std::vector<IngressRouteStatus> route_statuses;
  std::vector<Event> events;

 private:
  const Snapshot& snapshot_;
  const Options& options_;
  void note_read(Recording::Kind kind, std::string_view ns, std::string_view name);

  std::unique_ptr<const SnapshotIndex> own_index_;  // when built for this Builder
  const SnapshotIndex& index_;
};

// Tolerant JSON reads: absent or wrong-typed members read as absent.
const rapidjson::Value* member(const rapidjson::Value* v, const char* key);
std::string_view str_of(const rapidjson::Value* v, const char* key);
std::optional<int64_t> int_of(const rapidjson::Value* v, const char* key);
std::optional<bool> bool_of(const rapidjson::Value* v, const char* key);
// The elements of an array member (empty when absent).
std::vector<const rapidjson::Value*> items_of(const rapidjson::Value* v, const char* key);

// Translators.
void translate_ingresses(Builder& b);
// One Ingress (skipped when being deleted or not ours).
void translate_ingress(Builder& b, const api::Object& ing);
void translate_ingress_routes(Builder& b);

// The Model from every candidate the translators left in `b` (assemble.cpp): the reference
// that the incremental build of a BuildCache (incremental.cpp) must equal.
Model assemble(Builder& b);

// The Event Builder::event() records: its message names the object and the field.
Event make_event(const ObjectRef& object, std::string reason, std::string field,
                 const std::string& message);

// Parses a Go duration ("1s", "250ms", "1m30s"; "infinity" = 0).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace kop::ingress::internal
