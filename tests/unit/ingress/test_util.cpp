#include "test_util.h"

#include <absl/strings/escaping.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

#include "kop/api/json.h"
#include "kop/api/yaml.h"

namespace kop::ingress::testing {

std::vector<api::ObjectPtr> parse_objects(std::string_view yaml) {
  std::vector<api::ObjectPtr> out;
  auto docs = api::yaml_to_json(yaml, "test.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status();
  if (!docs.ok()) return out;
  for (rapidjson::Document& doc : *docs) {
    if (!doc.IsObject()) continue;
    // The API server refuses labels and annotations that are not strings (an unquoted `on`,
    // `true` or `5` in YAML): a test written so would test what no cluster can hold.
    for (const char* map : {"labels", "annotations"}) {
      const api::json::Value* m = api::json::path(doc, {"metadata", map});
      if (m == nullptr || !m->IsObject()) continue;
      for (const auto& e : m->GetObject()) {
        EXPECT_TRUE(e.value.IsString() || e.value.IsNull())
            << api::json::path_string(doc, {"metadata", "name"}) << ": metadata." << map << "."
            << api::json::as_string_view(e.name) << " is not a string: quote it";
      }
    }
    auto obj = api::Object::from_document(std::move(doc));
    EXPECT_TRUE(obj.ok()) << obj.status();
    if (obj.ok()) out.push_back(api::share(std::move(*obj)));
  }
  return out;
}

Snapshot snapshot_of(std::string_view yaml) {
  Snapshot s;
  for (auto& o : parse_objects(yaml)) {
    std::string_view k = o->kind();
    if (k == "Ingress")
      s.ingresses.push_back(o);
    else if (k == "IngressClass")
      s.ingress_classes.push_back(o);
    else if (k == "Service")
      s.services.push_back(o);
    else if (k == "EndpointSlice")
      s.endpoint_slices.push_back(o);
    else if (k == "Secret")
      s.secrets.push_back(o);
    else if (k == "IngressRoute")
      s.ingress_routes.push_back(o);
    else if (k == "TLSCertificateDelegation")
      s.tls_delegations.push_back(o);
    else if (k == "ConfigMap")
      s.config_maps.push_back(o);
  }
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string service_yaml(std::string_view ns, std::string_view name, int ready, int n) {
  std::ostringstream y;
  y << "---\napiVersion: v1\nkind: Service\nmetadata: {name: " << name << ", namespace: " << ns
    << "}\nspec:\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n"
    << "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " << name
    << "-abc\n  namespace: " << ns << "\n  labels: {kubernetes.io/service-name: " << name
    << "}\naddressType: IPv4\nports:\n- {name: http, port: 8080}\nendpoints:\n";
  for (int i = 1; i <= ready; ++i)
    y << "- addresses: [\"10.0." << n << "." << i << "\"]\n  conditions: {ready: true}\n";
  y << "- addresses: [\"10.0." << n << ".99\"]\n  conditions: {ready: false}\n";
  return y.str();
}

Compiled compile(const Snapshot& snapshot, const Options& options) {
  Compiled c;
  c.model = build_model(snapshot, options);
  RenderOptions ro;
  ro.http_address = {"127.0.0.1", 0};
  ro.https_address = proxy::SocketAddress{"127.0.0.1", 0};
  ro.redirect_https_port = 443;
  ro.admin.enabled = false;
  c.config = render(c.model, ro);
  auto table = proxy::RouteTable::compile(c.config);
  EXPECT_TRUE(table.ok()) << table.status() << "\n" << proxy::to_json(c.config);
  if (table.ok()) c.table = *table;
  return c;
}

std::string route_of(const Compiled& c, std::string_view listener, std::string_view host,
                     std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
  if (!c.table) return "no table";
  std::vector<proxy::HeaderField> fields;
  fields.reserve(headers.size());
  for (const auto& [k, v] : headers) fields.push_back({k, v});
  proxy::RequestView req;
  req.method = "GET";
  req.path = path;
  req.host = host;
  req.headers = fields;
  const proxy::VirtualHost* vh = c.table->find_virtual_host(listener, host);
  if (vh == nullptr) return "404";
  const proxy::Route* r = c.table->match(*vh, req);
  if (r == nullptr) return "404";
  switch (r->action) {
    case proxy::ActionType::kDirectResponse:
      return std::to_string(r->config->direct_response->status);
    case proxy::ActionType::kRedirect: {
      std::string loc;
      r->redirect_location(req, "http", loc);
      return std::to_string(r->config->redirect->code) + " " + loc;
    }
    case proxy::ActionType::kForward: {
      std::string out;
      for (const auto& ref : r->clusters) {
        if (!out.empty()) out += ",";
        // A weighted share the proxy answers itself (invalid backendRefs) has no cluster.
        out += ref.direct_status != 0 ? std::to_string(ref.direct_status)
                                      : c.table->cluster(ref.cluster).name;
      }
      return out;
    }
  }
  return "?";
}

}  // namespace kop::ingress::testing

namespace kop::ingress::testing {
std::string tls_secret_yaml(std::string_view ns, std::string_view name, std::string_view cert) {
  std::string dir = std::string(KOP_INGRESS_TESTDATA) + "/certs/" + std::string(cert);
  std::string crt = absl::Base64Escape(read_file(dir + ".crt"));
  std::string key = absl::Base64Escape(read_file(dir + ".key"));
  std::ostringstream y;
  y << "---\napiVersion: v1\nkind: Secret\nmetadata: {name: " << name << ", namespace: " << ns
    << "}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: " << crt << "\n  tls.key: " << key << "\n";
  return y.str();
}
}  // namespace kop::ingress::testing
