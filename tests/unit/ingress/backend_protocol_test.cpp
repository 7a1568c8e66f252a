// Backend protocols (GEP-1911): a Service port's appProtocol kubernetes.io/h2c makes the proxy
// speak h2c to it (Gateway API and Ingress alike), and WebSocket upgrades pass on every
// HTTPRoute rule, with kubernetes.io/ws or without any appProtocol.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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
  for (const proxy::ClusterConfig& cl : c.clusters)
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
  const auto& hosts = r.front_doors[0].virtual_hosts;
  m.virtual_hosts.assign(hosts.begin(), hosts.end());
  m.clusters = decltype(m.clusters)(r.clusters.begin(), r.clusters.end());
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
  for (const proxy::VirtualHostConfig& vh : c.virtual_hosts)
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

// An Ingress of `ns` to Service `svc` port 80 with these nginx annotations ("key: value" lines).
std::string nginx_ingress(std::string_view name, std::string_view svc, std::string_view host,
                          const std::vector<std::string>& annotations) {
  std::string y = "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: " +
                  std::string(name) + "\n  namespace: default\n  annotations:\n";
  for (const auto& a : annotations) y += "    nginx.ingress.kubernetes.io/" + a + "\n";
  y += "spec:\n  rules:\n  - host: " + std::string(host) +
       "\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: "
       "{name: " +
       std::string(svc) + ", port: {number: 80}}}}\n";
  return y;
}

kop::ingress::Options nginx_options() {
  kop::ingress::Options o;
  o.nginx_annotations = true;
  return o;
}

// ingress-nginx backend-protocol: GRPC and H2C are h2c, HTTPS is HTTP/1.1 over TLS without
// verification (proxy_ssl_verify off), GRPCS HTTP/2 over TLS; proxy-ssl-* fill the TLS settings
// and proxy-ssl-secret's ca.crt / tls.crt / tls.key the trust and the client certificate.
TEST(BackendProtocol, IngressNginxBackendProtocolAndProxySsl) {
  std::string secret = testing::tls_secret_yaml("default", "backend-tls", "example");
  // The same certificate as the trusted CA (ca.crt) too.
  size_t crt = secret.find("tls.crt: ");
  std::string crt_b64 = secret.substr(crt + 9, secret.find('\n', crt) - crt - 9);
  secret += "  ca.crt: " + crt_b64 + "\n";
  testing::Compiled c = testing::compile(
      testing::snapshot_of(
          testing::service_yaml("default", "grpc", 1, 1) +
          testing::service_yaml("default", "h2c", 1, 2) +
          testing::service_yaml("default", "https", 1, 3) +
          testing::service_yaml("default", "grpcs", 1, 4) +
          testing::service_yaml("default", "plain", 1, 5) + secret +
          nginx_ingress("a", "grpc", "a.example.com", {"backend-protocol: GRPC"}) +
          nginx_ingress("b", "h2c", "b.example.com", {"backend-protocol: h2c"}) +
          nginx_ingress("c", "https", "c.example.com", {"backend-protocol: HTTPS"}) +
          nginx_ingress("d", "grpcs", "d.example.com",
                        {"backend-protocol: GRPCS", "proxy-ssl-verify: \"on\"",
                         "proxy-ssl-name: backend.test", "proxy-ssl-server-name: \"on\"",
                         "proxy-ssl-verify-depth: \"2\"", "proxy-ssl-protocols: TLSv1.3",
                         "proxy-ssl-secret: default/backend-tls"}) +
          nginx_ingress("e", "plain", "e.example.com",
                        {"proxy-ssl-verify: \"on\"", "proxy-ssl-name: x.test"})),
      nginx_options());
  const proxy::ClusterConfig* grpc = cluster(c.config, "default/grpc/");
  const proxy::ClusterConfig* h2c = cluster(c.config, "default/h2c/");
  const proxy::ClusterConfig* https = cluster(c.config, "default/https/");
  const proxy::ClusterConfig* grpcs = cluster(c.config, "default/grpcs/");
  const proxy::ClusterConfig* plain = cluster(c.config, "default/plain/");
  ASSERT_TRUE(grpc && h2c && https && grpcs && plain) << proxy::to_json(c.config);
  EXPECT_EQ(grpc->protocol, proxy::UpstreamProtocol::kH2c);
  EXPECT_FALSE(grpc->tls);
  EXPECT_EQ(h2c->protocol, proxy::UpstreamProtocol::kH2c);
  EXPECT_EQ(https->protocol, proxy::UpstreamProtocol::kHttp1);
  ASSERT_TRUE(https->tls);
  EXPECT_FALSE(https->tls->verify);
  EXPECT_EQ(https->tls->server_name, "");
  EXPECT_EQ(grpcs->protocol, proxy::UpstreamProtocol::kH2);
  ASSERT_TRUE(grpcs->tls);
  EXPECT_TRUE(grpcs->tls->verify);
  EXPECT_EQ(grpcs->tls->server_name, "backend.test");
  EXPECT_EQ(grpcs->tls->verify_depth, 2u);
  EXPECT_EQ(grpcs->tls->min_version, proxy::TlsVersion::kTls13);
  EXPECT_EQ(grpcs->tls->max_version, proxy::TlsVersion::kTls13);
  EXPECT_NE(grpcs->tls->ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  ASSERT_TRUE(grpcs->tls->client_certificate);
  EXPECT_NE(grpcs->tls->client_certificate->key_pem.find("PRIVATE KEY"), std::string::npos);
  // proxy-ssl-* without an HTTPS backend protocol change nothing.
  EXPECT_EQ(plain->protocol, proxy::UpstreamProtocol::kHttp1);
  EXPECT_FALSE(plain->tls);
}

// A proxy-ssl-secret that does not exist: an Event, the TLS settings without it.
TEST(BackendProtocol, IngressNginxMissingProxySslSecret) {
  testing::Compiled c = testing::compile(
      testing::snapshot_of(
          testing::service_yaml("default", "web", 1, 1) +
          nginx_ingress("a", "web", "a.example.com",
                        {"backend-protocol: HTTPS", "proxy-ssl-secret: default/nope"})),
      nginx_options());
  const proxy::ClusterConfig* web = cluster(c.config, "default/web/");
  ASSERT_TRUE(web && web->tls) << proxy::to_json(c.config);
  EXPECT_TRUE(web->tls->ca_pem.empty());
  bool event = false;
  for (const auto& e : c.model.events)
    event = event ||
            (e.reason == "SecretNotFound" && e.message.find("default/nope") != std::string::npos);
  EXPECT_TRUE(event);
}

}  // namespace
}  // namespace kop::ingress::gateway
