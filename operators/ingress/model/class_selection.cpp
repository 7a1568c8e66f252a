// Which Ingresses are ours (docs/ingress.md, "Class selection"), read through kop/api/views.h.
#include "builder.h"
#include "kop/api/views.h"

namespace kop::ingress {
namespace {

bool controlled_by_us(const api::IngressClassView& c, const Options& options) {
  return !c.controller().empty() && c.controller() == options.controller_name;
}

}  // namespace

bool is_ours(const api::Object& ingress, const std::vector<api::ObjectPtr>& ingress_classes,
             const Options& options) {
  api::IngressView ing(ingress);
  // The legacy annotation, when present, decides alone (it predates ingressClassName and the
  // API server documents it as taking precedence).
  if (auto annotation = ing.class_annotation()) return *annotation == options.ingress_class;
  auto class_name = ing.ingress_class_name();
  if (class_name && !class_name->empty()) {
    for (const auto& c : ingress_classes)
      if (c->name() == *class_name) return controlled_by_us(api::IngressClassView(*c), options);
    return false;  // an unknown class is never ours
  }
  if (options.watch_ingress_without_class) return true;
  for (const auto& c : ingress_classes) {
    api::IngressClassView view(*c);
    if (view.is_default() && controlled_by_us(view, options)) return true;
  }
  return false;
}

}  // namespace kop::ingress
