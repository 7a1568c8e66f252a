// Fuzz target: the ingress model. A YAML stream of arbitrary Kubernetes objects (Ingresses,
// IngressRoutes, IngressClasses, Services, EndpointSlices, Secrets, TLSCertificateDelegations)
// goes through build_model and render, as the controller does on every change. Whatever the
// objects say, the rendered proxy Config must pass the proxy's validation and compile (bad
// objects get statuses and Events, never a config the proxy refuses), and an incremental build
// through a BuildCache must describe the same model as a fresh one.
//
// A new watched kind (e.g. a Gateway API route) is one line in kKinds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "kop/api/yaml.h"
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

const Kind kKinds[] = {
    {"Ingress", &Snapshot::ingresses},
    {"IngressClass", &Snapshot::ingress_classes},
    {"Service", &Snapshot::services},
    {"EndpointSlice", &Snapshot::endpoint_slices},
    {"Secret", &Snapshot::secrets},
    {"IngressRoute", &Snapshot::ingress_routes},
    {"TLSCertificateDelegation", &Snapshot::tls_delegations},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  auto objects = kop::api::parse_yaml_objects(text, "fuzz.yaml");
  if (!objects.ok()) return 0;
  // A snapshot comes from caches keyed by namespace/name: a later document with the same kind and
  // key replaces the earlier one, as a second apply of the same object would.
  Snapshot snapshot;
  for (auto& obj : *objects) {
    for (const Kind& k : kKinds) {
      if (obj.kind() != k.kind) continue;
      auto& list = snapshot.*k.list;
      std::erase_if(list, [&](const kop::api::ObjectPtr& o) { return o->key() == obj.key(); });
      list.push_back(kop::api::share(std::move(obj)));
      break;
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
  kop::proxy::Config config = kop::ingress::render(model, kop::ingress::RenderOptions{});
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
