// Shared helpers of the kop-ingress unit tests: YAML manifests -> Snapshot, and asking a
// compiled proxy RouteTable where a request would go.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kop/ingress/model.h"
#include "kop/ingress/render.h"
#include "kop/proxy/route_table.h"

namespace kop::ingress::testing {

// Parses a multi-document YAML stream (sigs.k8s.io/yaml-like typing: quoted scalars are
// strings; true/false, integers and null are typed) into objects. Fails the test on error.
std::vector<api::ObjectPtr> parse_objects(std::string_view yaml);

// Sorts objects into a Snapshot by kind.
Snapshot snapshot_of(std::string_view yaml);

std::string read_file(const std::string& path);

// A Service "name" in namespace "ns" with one port (name "http", port 80), plus an
// EndpointSlice with `ready` endpoints 10.0.<n>.1.. on port 8080.
std::string service_yaml(std::string_view ns, std::string_view name, int ready_endpoints = 1,
                         int n = 0);

// Builds, renders and compiles; fails the test if the proxy refuses the Config.
struct Compiled {
  Model model;
  proxy::Config config;
  std::shared_ptr<const proxy::RouteTable> table;
};
Compiled compile(const Snapshot& snapshot, const Options& options = {});

// Where a request goes: the cluster name ("ns/svc/port"), "404", "503", or "301 <location>".
std::string route_of(const Compiled& c, std::string_view listener, std::string_view host,
                     std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace kop::ingress::testing

namespace kop::ingress::testing {
// A kubernetes.io/tls Secret from tests/testdata/ingress/certs/<cert>.{crt,key}.
std::string tls_secret_yaml(std::string_view ns, std::string_view name, std::string_view cert);
}  // namespace kop::ingress::testing
