// Fuzz target: field selectors (?fieldSelector=). A parsed selector's canonical text must parse
// back to an equal selector; matching an object and the supported-field check must not fail.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "check.h"
#include "kop/api/fields.h"
#include "kop/api/object.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  auto s = kop::api::FieldSelector::parse(text);
  if (!s.ok()) return 0;
  const std::string canonical = s->to_string();
  auto again = kop::api::FieldSelector::parse(canonical);
  if (!again.ok() || !(*again == *s)) {
    kop::fuzz::fail("field selector round trip", canonical,
                    again.ok() ? again->to_string() : again.status().ToString());
  }
  static const kop::api::Object pod = *kop::api::Object::parse(
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","namespace":"prod"},)"
      R"("spec":{"nodeName":"node-a"},"status":{"phase":"Running"}})");
  (void)s->matches(pod);
  (void)s->check_supported(pod.gvk());
  (void)s->requires_exact_match("metadata.name");
  return 0;
}
