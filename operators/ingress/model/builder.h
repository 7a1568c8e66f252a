// Internal to the model: the state one build_model() call accumulates. The Ingress and
// IngressRoute translators (ingress.cpp, ingress_route.cpp) add candidate routes and TLS
// bindings; assemble.cpp resolves conflicts and produces the Model.
// Threading: one Builder per build_model() call, used by that call only.
#pragma once

#include <absl/time/time.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kop/ingress/model.h"

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
  Route route;
  Age age;
  int order = 0;  // position in its source, to keep duplicates inside one object stable
};

struct TlsCandidate {
  std::string host;
  Tls tls;
  Age age;
  std::string field;
};

struct BackendSpec {
  std::string ns;
  std::string service;
  std::optional<int64_t> port_number;
  std::string port_name;
  Strategy strategy = Strategy::kRoundRobin;
  std::optional<HealthCheck> health_check;
};

class Builder {
 public:
  Builder(const Snapshot& snapshot, const Options& options);

  const Snapshot& snapshot() const { return snapshot_; }
  const Options& options() const { return options_; }

  void event(const ObjectRef& object, std::string reason, std::string field, std::string message);

  // The cluster name for `spec`, registering the cluster; nullopt (with an Event naming
  // `source` and `field`) when the Service or its port does not exist.
  std::optional<std::string> resolve_backend(const ObjectRef& source, const std::string& field,
                                             const BackendSpec& spec);

  // The certificate of Secret ns/name, checked to load; nullopt (with an Event) otherwise.
  std::optional<Tls> load_tls(const ObjectRef& source, const std::string& field,
                              std::string_view ns, std::string_view name);

  const api::Object* find(const std::vector<api::ObjectPtr>& list, std::string_view ns,
                          std::string_view name) const;

  std::vector<RouteCandidate> routes;
  std::vector<RouteCandidate> default_backends;  // host "*", path Prefix "/"
  std::vector<TlsCandidate> tls;
  std::map<std::string, Cluster> clusters;
  std::vector<ObjectRef> owned_ingresses;
  std::vector<IngressRouteStatus> route_statuses;
  std::vector<Event> events;

 private:
  const Snapshot& snapshot_;
  const Options& options_;
  // (namespace, service name) -> EndpointSlices of that Service.
  std::map<std::pair<std::string, std::string>, std::vector<const api::Object*>> slices_;
  // (namespace, name) -> Service / Secret, so resolving a backend is O(log n), not a scan.
  std::map<std::pair<std::string, std::string>, const api::Object*> services_;
  std::map<std::pair<std::string, std::string>, const api::Object*> secrets_;
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
void translate_ingress_routes(Builder& b);

// Parses a Go duration ("1s", "250ms", "1m30s"; "infinity" = 0).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace kop::ingress::internal
