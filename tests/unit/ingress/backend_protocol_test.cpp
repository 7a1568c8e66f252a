// Backend protocols (GEP-1911): a Service port's appProtocol kubernetes.io/h2c makes the proxy
// speak h2c to it (Gateway API and Ingress alike), and WebSocket upgrades pass on every
// HTTPRoute rule, with kubernetes.io/ws or without any appProtocol.
#include <gtest/gtest.h>

#include <string>

#include "gateway_test_util.h"
#include "kop/ingress/gateway_api.h"
#include "test_util.h"

namespace kop::ingress::gateway {
namespace {

using gwtest::gateway;
using gwtest::kClass;
using gwtest::route;
using gwtest::run;

// service_yaml's Service with `app_protocol` on its port.
std::string service_with(std::string_view ns, std::string_view name, std::string_view app_protocol,
                         int n) {
  std::string y = testing::service_yaml(ns, name, 1, n);
  const std::string port = "{name: http, port: 80, targetPort: 8080}";
  y.replace(
      y.find(port), port.size(),
      "{name: http, port: 80, targetPort: 8080, appProtocol: " + std::string(app_protocol) + "}");
  return y;
}

const proxy::ClusterConfig* cluster(const proxy::Config& c, std::string_view prefix) {
  for (const auto& cl : c.clusters)
    if (cl.name.starts_with(prefix)) return &cl;
  return nullptr;
}

TEST(BackendProtocol, H2cAppProtocolAndWebSocketThroughGatewayRoutes) {
  Result r = run(std::string(kClass) +
                 gateway("infra", "gw", "  - {name: http, port: 80, protocol: HTTP}\n") +
                 service_with("infra", "grpc", "kubernetes.io/h2c", 1) +
                 service_with("infra", "ws", "kubernetes.io/ws", 2) +
                 testing::service_yaml("infra", "plain", 1, 3) +
                 route("infra", "r",
                       "  parentRefs: [{name: gw}]\n"
                       "  rules:\n"
                       "  - matches: [{path: {value: /grpc}}]\n"
                       "    backendRefs: [{name: grpc, port: 80}]\n"
                       "  - matches: [{path: {value: /ws}}]\n"
                       "    backendRefs: [{name: ws, port: 80}]\n"
                       "  - backendRefs: [{name: plain, port: 80}]\n"));
  ASSERT_EQ(r.front_doors.size(), 1u);
  ingress::Model m;
  m.virtual_hosts = r.front_doors[0].virtual_hosts;
  m.clusters = r.clusters;
  RenderOptions ro;
  ro.http_address = {"127.0.0.1", 0};
  ro.https_address.reset();
  ro.admin.enabled = false;
  proxy::Config c = render(m, ro);
  ASSERT_TRUE(proxy::RouteTable::compile(c).ok());
  const proxy::ClusterConfig* grpc = cluster(c, "infra/grpc/");
  const proxy::ClusterConfig* ws = cluster(c, "infra/ws/");
  const proxy::ClusterConfig* plain = cluster(c, "infra/plain/");
  ASSERT_TRUE(grpc && ws && plain) << proxy::to_json(c);
  EXPECT_EQ(grpc->protocol, proxy::UpstreamProtocol::kH2c);
  EXPECT_EQ(ws->protocol, proxy::UpstreamProtocol::kHttp1);
  EXPECT_EQ(plain->protocol, proxy::UpstreamProtocol::kHttp1);
  // Every rule lets upgrades through (they answered the backend's 200 before).
  size_t routes = 0;
  for (const auto& vh : c.virtual_hosts)
    for (const auto& rt : vh.routes)
      if (rt.action == proxy::ActionType::kForward) {
        ++routes;
        EXPECT_TRUE(rt.forward.websocket) << vh.name;
      }
  EXPECT_EQ(routes, 3u);
}

TEST(BackendProtocol, H2cAppProtocolThroughAnIngress) {
  testing::Compiled c = testing::compile(testing::snapshot_of(
      service_with("default", "grpc", "kubernetes.io/h2c", 1) +
      "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: "
      "default}\nspec:\n  rules:\n  - host: g.example.com\n    http:\n"
      "      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: grpc, port: "
      "{number: 80}}}}\n"));
  const proxy::ClusterConfig* grpc = cluster(c.config, "default/grpc/");
  ASSERT_NE(grpc, nullptr) << proxy::to_json(c.config);
  EXPECT_EQ(grpc->protocol, proxy::UpstreamProtocol::kH2c);
}

}  // namespace
}  // namespace kop::ingress::gateway
