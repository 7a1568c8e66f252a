// kop::ingress gateway migration: Ingresses written for ingress-nginx -> the Gateway API objects
// that serve the same requests (`kop-ingress migrate --to-gateway`).
//
// migrate_to_gateway() is pure (no I/O): it reads the Ingresses with their
// nginx.ingress.kubernetes.io/* annotations as kop-ingress does (nginx_annotations.h) and returns
//  - one Gateway: an HTTP listener on port 80 for every route, and an HTTPS listener on 443 per
//    TLS host with that host's Secret as certificateRef (the oldest Ingress wins a host, as in
//    the model);
//  - a ReferenceGrant per namespace whose Secrets the Gateway uses from another namespace;
//  - per Ingress, its HTTPRoutes (one per group of hosts with the same rules and listeners; an
//    extra one for the HTTP -> HTTPS redirect of TLS hosts, one for from-to-www-redirect and
//    one for spec.defaultBackend), canary Ingresses merged into their main Ingress' rules;
//  - per Ingress, one verdict per annotation: converted, converted with a named difference, or
//    without a Gateway API equivalent (named, with the reason), printed as YAML comments.
// An access restriction that cannot be converted (basic auth, source ranges, external or
// client-certificate auth) is never dropped silently: the rules it guards get no backendRefs,
// so the Gateway answers 500 rather than serve without it. The mapping and its differences:
// docs/migrating-from-ingress-nginx.md ("From Ingress to Gateway API").
// Guarantees: the same Ingresses in any order give the same result (sorted by namespace/name;
// every list inside sorted or in the Ingress' order).
// Threading: pure functions over immutable values; any thread.
#pragma once

#include <string>
#include <vector>

#include "kop/api/object.h"

namespace kop::ingress {

struct GatewayMigrationOptions {
  std::string gateway_class = "kop";           // Gateway spec.gatewayClassName. Default "kop"
  std::string gateway_name = "ingress-nginx";  // Default "ingress-nginx"
  std::string gateway_namespace = "default";   // Default "default"
};

enum class Conversion {
  kConverted,     // the Gateway API objects do what ingress-nginx did
  kDifferent,     // converted, with the difference in `note`
  kNoEquivalent,  // not converted; `note` says why (and what happens instead)
};

struct AnnotationConversion {
  std::string annotation;  // without the prefix, e.g. "rewrite-target"
  Conversion conversion = Conversion::kConverted;
  std::string note;
  bool operator==(const AnnotationConversion&) const = default;
};

struct MigratedIngress {
  std::string key;                                // "namespace/name"
  std::vector<AnnotationConversion> annotations;  // sorted by annotation
  std::vector<std::string> notes;                 // what else did not convert, or how it did
  std::vector<api::Object> routes;                // HTTPRoutes, in the order printed
};

struct GatewayMigration {
  api::Object gateway;
  std::vector<api::Object> reference_grants;  // sorted by namespace
  std::vector<std::string> gateway_notes;     // e.g. a TLS host claimed by two Ingresses
  std::vector<MigratedIngress> ingresses;     // sorted by namespace/name
};

// `objects` may hold any kinds: Ingresses are migrated, Services name the port numbers of
// backends that give a port by name; everything else is ignored.
GatewayMigration migrate_to_gateway(const std::vector<api::Object>& objects,
                                    const GatewayMigrationOptions& options);

// The YAML stream `kop-ingress migrate --to-gateway` prints: the Gateway, the ReferenceGrants,
// then per Ingress its verdicts as comments and its HTTPRoutes, and the totals as a comment.
// `kubectl apply -f` takes it as is.
std::string migration_yaml(const GatewayMigration& migration);

}  // namespace kop::ingress
