// Which Ingresses are ours (docs/ingress.md, "Class selection").
#include "builder.h"

namespace kop::ingress {

bool is_ours(const api::Object& ingress, const std::vector<api::ObjectPtr>& ingress_classes,
             const Options& options) {
  // The legacy annotation, when present, decides alone (it predates ingressClassName and the
  // API server documents it as taking precedence).
  if (auto annotation = ingress.annotation(kClassAnnotation))
    return *annotation == options.ingress_class;
  auto class_name = ingress.get_string("/spec/ingressClassName");
  if (class_name && !class_name->empty()) {
    for (const auto& c : ingress_classes)
      if (c->name() == *class_name)
        return c->get_string("/spec/controller") == options.controller_name;
    return false;  // an unknown class is never ours
  }
  if (options.watch_ingress_without_class) return true;
  for (const auto& c : ingress_classes)
    if (c->annotation(kDefaultClassAnnotation) == "true" &&
        c->get_string("/spec/controller") == options.controller_name)
      return true;
  return false;
}

}  // namespace kop::ingress
