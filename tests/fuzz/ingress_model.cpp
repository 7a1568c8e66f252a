// Fuzz target: the ingress model. A YAML stream of arbitrary Kubernetes objects (Ingresses,
// IngressRoutes, IngressClasses, Services, EndpointSlices, Secrets, TLSCertificateDelegations,
// and the Gateway API's GatewayClasses, Gateways, HTTPRoutes, GRPCRoutes, TLSRoutes,
// ReferenceGrants, Namespaces) goes through build_model, the Gateway API translator and render, as
// the controller does on every change. Whatever the objects say, the rendered proxy Config must
// pass the proxy's validation and compile (bad objects get statuses and Events, never a config the
// proxy refuses), and an incremental build through a BuildCache must describe the same model as a
// fresh one.
//
// A new watched kind (e.g. a Gateway API route) is one line in kKinds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "kop/api/yaml.h"
#include "kop/ingress/gateway_api.h"
#include "kop/ingress/model.h"
#include "kop/ingress/render.h"
#include "kop/proxy/config.h"
#include "kop/proxy/route_table.h"

namespace {

using kop::ingress::Snapshot;

struct Kind {
  std::string_view kind;
  std::vector<kop::api::ObjectPtr> Snapshot::*list;
};

struct GatewayKind {
  std::string_view kind;
  std::vector<kop::api::ObjectPtr> kop::ingress::gateway::Snapshot::*list;
};

const Kind kKinds[] = {
    {"Ingress", &Snapshot::ingresses},
    {"IngressClass", &Snapshot::ingress_classes},
    {"Service", &Snapshot::services},
    {"EndpointSlice", &Snapshot::endpoint_slices},
    {"Secret", &Snapshot::secrets},
    {"IngressRoute", &Snapshot::ingress_routes},
    {"TLSCertificateDelegation", &Snapshot::tls_delegations},
};

using GatewaySnapshot = kop::ingress::gateway::Snapshot;
const GatewayKind kGatewayKinds[] = {
    {"GatewayClass", &GatewaySnapshot::gateway_classes},
    {"Gateway", &GatewaySnapshot::gateways},
    {"HTTPRoute", &GatewaySnapshot::http_routes},
    {"GRPCRoute", &GatewaySnapshot::grpc_routes},
    {"TLSRoute", &GatewaySnapshot::tls_routes},
    {"ReferenceGrant", &GatewaySnapshot::reference_grants},
    {"Namespace", &GatewaySnapshot::namespaces},
};

// Keeps one object per namespace/name in `list`: the later one.
void put(std::vector<kop::api::ObjectPtr>& list, kop::api::Object&& obj) {
  std::erase_if(list, [&](const kop::api::ObjectPtr& o) { return o->key() == obj.key(); });
  list.push_back(kop::api::share(std::move(obj)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  auto objects = kop::api::parse_yaml_objects(text, "fuzz.yaml");
  if (!objects.ok()) return 0;
  // A snapshot comes from caches keyed by namespace/name: a later document with the same kind and
  // key replaces the earlier one, as a second apply of the same object would.
  Snapshot snapshot;
  GatewaySnapshot gateways;
  gateways.base = &snapshot;
  for (auto& obj : *objects) {
    const std::string kind(obj.kind());
    for (const Kind& k : kKinds) {
      if (kind == k.kind) put(snapshot.*k.list, std::move(obj));
    }
    for (const GatewayKind& k : kGatewayKinds) {
      if (kind == k.kind) put(gateways.*k.list, std::move(obj));
    }
  }
  kop::ingress::Options options;
  options.ingress_class = "contour";  // as the golden inputs (the seeds) say
  kop::ingress::Model model = kop::ingress::build_model(snapshot, options);
  kop::ingress::BuildCache cache;
  (void)kop::ingress::build_model(snapshot, options, &cache);
  kop::ingress::Model incremental = kop::ingress::build_model(snapshot, options, &cache);
  const std::string described = kop::ingress::describe(model);
  if (kop::ingress::describe(incremental) != described) {
    kop::fuzz::fail("incremental build differs", described, kop::ingress::describe(incremental));
  }
  // Each Gateway on its own loopback address, as with --manifests.
  kop::ingress::gateway::Options gateway_options;
  for (size_t i = 0; i < gateways.gateways.size() && i < 250; ++i) {
    gateway_options.addresses[gateways.gateways[i]->key()] = {"127.0.1." + std::to_string(i + 1)};
  }
  kop::ingress::gateway::Result gateway =
      kop::ingress::gateway::translate(gateways, gateway_options);
  for (auto& [name, c] : gateway.clusters) model.clusters.emplace(name, std::move(c));
  std::vector<kop::ingress::BoundFrontDoor> doors;
  for (const kop::ingress::gateway::FrontDoor& d : gateway.front_doors) {
    auto address = gateway_options.addresses.find(d.gateway.key());
    if (address == gateway_options.addresses.end()) continue;
    doors.push_back({&d, kop::proxy::SocketAddress{address->second.front(), d.port}});
  }
  kop::proxy::Config config = kop::ingress::render(model, kop::ingress::RenderOptions{}, doors);
  if (absl::Status st = kop::proxy::validate(config); !st.ok()) {
    kop::fuzz::fail("rendered config is invalid", st.ToString(), kop::proxy::to_json(config));
  }
  auto table = kop::proxy::RouteTable::compile(config);
  if (!table.ok()) {
    kop::fuzz::fail("rendered config does not compile", table.status().ToString(),
                    kop::proxy::to_json(config));
  }
  return 0;
}
