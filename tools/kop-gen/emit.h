// kop-gen: writes the C++ header of typed views and builders for CRDs (docs/typed-crds.md).
//
// Per CRD version, in `<ns>::<version>`: a read-only view class per object of the schema (the
// root one named after the kind, e.g. Website, over a const kop::Object&), a builder class per
// object (WebsiteBuilder over a kop::Object&), an enum class per string enum with parse_*() and
// to_string(), and list/map aliases over kop/api/typed.h's ListView and MapView. The output
// depends only on the CRDs and the options (no time stamps, no paths): it can be checked in.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "schema.h"

namespace kop::gen {

struct Options {
  // The C++ namespace the versions' namespaces go in ("website::api"). Required.
  std::string ns;
  // Names the input in the header's first lines (a file name without its directory).
  std::string source;
};

// The header's text. Errors name the CRD and field (a default of the wrong type, a namespace
// that is not a C++ name).
absl::StatusOr<std::string> generate(const std::vector<Crd>& crds, const Options& options);

}  // namespace kop::gen
