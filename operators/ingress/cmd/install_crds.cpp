// install_builtin_crds(): the embedded CRDs applied to a store (kop-ingress --manifests).
#include "builtin_crds.h"

#include "kop/api/yaml.h"

namespace kop::ingress {

absl::StatusOr<std::vector<std::string>> install_builtin_crds(client::Client& client,
                                                              std::span<const EmbeddedFile> files) {
  std::vector<std::string> applied;
  for (const EmbeddedFile& file : files) {
    absl::StatusOr<std::vector<api::Object>> objects =
        api::parse_yaml_objects(file.text, file.name);
    if (!objects.ok()) return objects.status();
    for (const api::Object& obj : *objects) {
      client::PatchOptions po;
      po.field_manager = "kop-ingress";
      po.force = true;
      auto done =
          client.patch(client::ResourceRef::of(obj), client::PatchType::kApply, obj.to_json(), po);
      if (!done.ok()) {
        std::string message = "built-in " + std::string(file.name) + ": " +
                              std::string(obj.kind()) + " " + std::string(obj.name()) + ": " +
                              std::string(done.status().message());
        return absl::Status(done.status().code(), message);
      }
      applied.emplace_back(obj.name());
    }
  }
  return applied;
}

}  // namespace kop::ingress
