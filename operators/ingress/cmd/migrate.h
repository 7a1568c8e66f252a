// `kop-ingress migrate`: a report on how Ingresses written for ingress-nginx fare with
// kop-ingress (nginx_annotations.h): per Ingress, each nginx.ingress.kubernetes.io/*
// annotation supported, supported with a difference (named), or not supported; then totals.
// The Ingresses come from files (-f FILE|DIR, repeatable) or from the cluster (--kubeconfig,
// all namespaces or -n NS). Reads only: nothing is changed anywhere. With --to-gateway it prints
// the Gateway API objects serving the same requests instead (gateway_migration.h).
// Threading: called once from main().
#pragma once

namespace kop::ingress {

// argv[0] is "migrate". Prints the report on stdout; returns the process exit code (0 done,
// 1 the Ingresses could not be read, 2 a usage error).
int run_migrate(int argc, char** argv);

}  // namespace kop::ingress
