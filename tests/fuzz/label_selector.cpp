// Fuzz target: label selectors in their string form (?labelSelector=, kubectl -l) and as
// metav1.LabelSelector JSON. A parsed selector's canonical text must parse back to an equal
// selector, and matching must not fail on any label set.
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "check.h"
#include "kop/api/labels.h"

namespace {
void check(const kop::LabelSelector& s) {
  if (s.is_nothing()) return;  // nothing() has no text form of its own
  const std::string canonical = s.to_string();
  auto again = kop::LabelSelector::parse(canonical);
  if (!again.ok() || !(*again == s)) {
    kop::fuzz::fail("label selector round trip", canonical,
                    again.ok() ? again->to_string() : again.status().ToString());
  }
  kop::api::StringMap labels{{"app", "web"}, {"tier", "front"}, {"env", ""}};
  (void)s.matches(labels);
  (void)s.requires_exact_match("app");
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  if (auto s = kop::LabelSelector::parse(text); s.ok()) check(*s);
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (!doc.HasParseError()) {
    if (auto s = kop::LabelSelector::from_json(doc); s.ok()) check(*s);
  }
  return 0;
}
