#include "test_util.h"

#include <absl/strings/escaping.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace kop::ingress::testing {
namespace {

rapidjson::Value to_json(const YAML::Node& n, rapidjson::Document::AllocatorType& a) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      rapidjson::Value v(rapidjson::kObjectType);
      for (const auto& kv : n) {
        std::string key = kv.first.as<std::string>();
        v.AddMember(rapidjson::Value(key.c_str(), a), to_json(kv.second, a), a);
      }
      return v;
    }
    case YAML::NodeType::Sequence: {
      rapidjson::Value v(rapidjson::kArrayType);
      for (const auto& e : n) v.PushBack(to_json(e, a), a);
      return v;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "!") {
        if (s == "true") return rapidjson::Value(true);
        if (s == "false") return rapidjson::Value(false);
        if (s == "null" || s == "~") return rapidjson::Value();
        if (!s.empty() && s.find_first_not_of("-0123456789") == std::string::npos && s != "-") {
          try {
            return rapidjson::Value(static_cast<int64_t>(std::stoll(s)));
          } catch (...) {
          }
        }
      }
      return rapidjson::Value(s.c_str(), a);
    }
    default:
      return rapidjson::Value();
  }
}

}  // namespace

std::vector<api::ObjectPtr> parse_objects(std::string_view yaml) {
  std::vector<api::ObjectPtr> out;
  for (const YAML::Node& doc : YAML::LoadAll(std::string(yaml))) {
    if (!doc.IsMap()) continue;
    rapidjson::Document d;
    rapidjson::Value v = to_json(doc, d.GetAllocator());
    d.CopyFrom(v, d.GetAllocator());
    auto obj = api::Object::from_document(std::move(d));
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
                     std::vector<std::pair<std::string, std::string>> headers) {
  if (!c.table) return "no table";
  std::vector<proxy::HeaderField> fields;
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
      return std::to_string(r->config->direct_response.status);
    case proxy::ActionType::kRedirect: {
      std::string loc;
      r->redirect_location(req, "http", loc);
      return std::to_string(r->config->redirect.code) + " " + loc;
    }
    case proxy::ActionType::kForward: {
      std::string out;
      for (const auto& ref : r->clusters) {
        if (!out.empty()) out += ",";
        out += c.table->cluster(ref.cluster).name;
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
