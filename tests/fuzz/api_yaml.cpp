// Fuzz target: the Kubernetes YAML decoder (manifests, kubectl-style input). Every document that
// decodes must read back equal from the YAML kop writes for it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "check.h"
#include "kop/api/json.h"
#include "kop/api/object.h"
#include "kop/api/yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  (void)kop::api::parse_yaml_objects(text, "fuzz.yaml");
  auto docs = kop::api::yaml_to_json(text, "fuzz.yaml");
  if (!docs.ok()) return 0;
  for (const auto& doc : *docs) {
    const std::string yaml = kop::api::to_yaml(doc);
    auto back = kop::api::yaml_to_json(yaml);
    if (!back.ok() || back->size() != 1 || (*back)[0] != doc) {
      kop::fuzz::fail("YAML round trip", yaml,
                      back.ok()
                          ? (back->empty() ? "(no document)" : kop::api::json::to_json((*back)[0]))
                          : back.status().ToString());
    }
  }
  return 0;
}
