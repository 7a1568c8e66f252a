// Internal to the gateway migration (gateway_migration.h): what a converted annotation became,
// decided per annotation once the Ingress' rules are made.
// Threading: pure functions.
#pragma once

#include <string>

#include "kop/ingress/gateway_migration.h"
#include "kop/ingress/nginx_annotations.h"

namespace kop::ingress::internal {

// How rewrite-target went over the Ingress' paths.
enum class RewriteOutcome {
  kNone,         // no rewrite asked (or the target is the path itself)
  kFullPath,     // a target without $n: URLRewrite ReplaceFullPath
  kPrefix,       // "<prefix>(/|$)(.*)" -> "<target>/$2": PathPrefix + ReplacePrefixMatch
  kUnexpressed,  // capture groups used otherwise: forwarded without the rewrite
};

// What the Ingress' conversion did beyond what the annotations say.
struct MigrationFacts {
  bool fail_closed = false;  // an access restriction: the rules answer 500 (no backendRefs)
  bool canary_merged = false;
  RewriteOutcome rewrite = RewriteOutcome::kNone;
};

// The verdict for one annotation, from kop-ingress' own reading of it (`read`) and the facts.
AnnotationConversion convert_annotation(const NginxVerdict& read, const MigrationFacts& facts);

}  // namespace kop::ingress::internal
