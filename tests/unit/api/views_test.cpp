#include "kop/api/views.h"

#include <absl/strings/escaping.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kop::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Object parse(std::string_view json) {
  auto o = Object::parse(json);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *std::move(o) : Object();
}

TEST(ServiceViewTest, Fields) {
  Object o = parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
    "spec":{"type":"NodePort","clusterIP":"10.0.0.10","clusterIPs":["10.0.0.10","fd00::a"],
      "selector":{"app":"web"},
      "ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP","nodePort":30080},
               {"name":"https","port":443,"targetPort":"https","appProtocol":"h2"},
               {"port":9000}]}})");
  ServiceView v(o);
  EXPECT_EQ(v.type(), "NodePort");
  EXPECT_EQ(v.cluster_ip(), "10.0.0.10");
  EXPECT_THAT(v.cluster_ips(), ElementsAre("10.0.0.10", "fd00::a"));
  EXPECT_FALSE(v.is_headless());
  EXPECT_EQ(v.selector(), (StringMap{{"app", "web"}}));
  auto ports = v.ports();
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0].name, "http");
  EXPECT_EQ(ports[0].port, 80);
  EXPECT_TRUE(ports[0].target_port.is_int());
  EXPECT_EQ(ports[0].target_port.int_value, 8080);
  EXPECT_EQ(ports[0].node_port, 30080);
  EXPECT_TRUE(ports[1].target_port.is_string());
  EXPECT_EQ(ports[1].target_port.str_value, "https");
  EXPECT_EQ(ports[1].target_port.to_string(), "https");
  EXPECT_EQ(ports[1].protocol, "TCP");  // defaulted
  EXPECT_EQ(ports[1].app_protocol, "h2");
  EXPECT_TRUE(ports[2].target_port.empty());
  EXPECT_EQ(ports[2].effective_target_port().int_value, 9000);
  EXPECT_EQ(ports[0].effective_target_port().int_value, 8080);
  EXPECT_EQ(v.find_port("https")->port, 443);
  EXPECT_EQ(v.find_port(int64_t{9000})->name, "");
  EXPECT_FALSE(v.find_port("nope").has_value());
}

TEST(ServiceViewTest, DefaultsAndExternalName) {
  Object bare = parse(R"({"kind":"Service"})");
  ServiceView b(bare);
  EXPECT_EQ(b.type(), "ClusterIP");
  EXPECT_EQ(b.cluster_ip(), "");
  EXPECT_THAT(b.ports(), IsEmpty());
  EXPECT_TRUE(b.selector().empty());
  Object ext = parse(R"({"spec":{"type":"ExternalName","externalName":"db.example.com",
                        "clusterIP":"None","ports":"wrong","selector":[1]}})");
  ServiceView e(ext);
  EXPECT_EQ(e.type(), "ExternalName");
  EXPECT_EQ(e.external_name(), "db.example.com");
  EXPECT_TRUE(e.is_headless());
  EXPECT_THAT(e.ports(), IsEmpty());
  EXPECT_TRUE(e.selector().empty());
}

TEST(EndpointSliceViewTest, Fields) {
  Object o = parse(R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
    "metadata":{"name":"web-abc","labels":{"kubernetes.io/service-name":"web"}},
    "addressType":"IPv4",
    "endpoints":[
      {"addresses":["10.1.0.5"],"conditions":{"ready":true,"serving":true,"terminating":false},
       "nodeName":"n1","zone":"a","targetRef":{"kind":"Pod","name":"web-0","namespace":"default"}},
      {"addresses":["10.1.0.6","10.1.0.7"],"conditions":{"ready":false,"serving":true,
       "terminating":true}},
      {"addresses":["10.1.0.8"]},
      "garbage"],
    "ports":[{"name":"http","port":8080,"protocol":"TCP"},{"name":"grpc","appProtocol":"h2c"}]})");
  EndpointSliceView v(o);
  EXPECT_EQ(v.address_type(), "IPv4");
  EXPECT_EQ(v.service_name(), "web");
  auto eps = v.endpoints();
  ASSERT_EQ(eps.size(), 3u);
  EXPECT_THAT(eps[0].addresses, ElementsAre("10.1.0.5"));
  EXPECT_TRUE(eps[0].is_ready());
  EXPECT_EQ(eps[0].node_name, "n1");
  EXPECT_EQ(eps[0].zone, "a");
  ASSERT_TRUE(eps[0].target_ref.has_value());
  EXPECT_EQ(eps[0].target_ref->name, "web-0");
  EXPECT_THAT(eps[1].addresses, ElementsAre("10.1.0.6", "10.1.0.7"));
  EXPECT_FALSE(eps[1].is_ready());
  EXPECT_TRUE(eps[1].is_serving());
  EXPECT_TRUE(eps[1].is_terminating());
  // Unset conditions: ready and serving by default, not terminating.
  EXPECT_FALSE(eps[2].conditions.ready.has_value());
  EXPECT_TRUE(eps[2].is_ready());
  EXPECT_TRUE(eps[2].is_serving());
  EXPECT_FALSE(eps[2].is_terminating());
  EXPECT_FALSE(eps[2].target_ref.has_value());
  auto ports = v.ports();
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0].port, 8080);
  EXPECT_FALSE(ports[1].port.has_value());
  EXPECT_EQ(ports[1].protocol, "TCP");
  EXPECT_EQ(ports[1].app_protocol, "h2c");

  Object bare;
  EndpointSliceView b(bare);
  EXPECT_EQ(b.service_name(), "");
  EXPECT_THAT(b.endpoints(), IsEmpty());
  EXPECT_THAT(b.ports(), IsEmpty());
}

constexpr std::string_view kCert =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
constexpr std::string_view kKey =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n";

std::string b64(std::string_view s) {
  return absl::Base64Escape(absl::string_view(s.data(), s.size()));
}

TEST(SecretViewTest, TlsSecret) {
  Object o("v1", "Secret");
  o.set_namespace("default");
  o.set_name("cert");
  ASSERT_TRUE(o.set_string("/type", "kubernetes.io/tls").ok());
  ASSERT_TRUE(o.set_string("/data/tls.crt", b64(kCert)).ok());
  ASSERT_TRUE(o.set_string("/data/tls.key", b64(kKey)).ok());
  ASSERT_TRUE(o.set_string("/data/bad", "!!!not base64").ok());
  SecretView v(o);
  EXPECT_TRUE(v.is_tls());
  EXPECT_EQ(v.tls_cert(), std::string(kCert));
  EXPECT_EQ(v.tls_key(), std::string(kKey));
  EXPECT_FALSE(v.ca_cert().has_value());
  EXPECT_FALSE(v.value("bad").has_value());
  EXPECT_THAT(v.keys(), ElementsAre("bad", "tls.crt", "tls.key"));
  EXPECT_TRUE(v.validate_tls().ok()) << v.validate_tls();
}

TEST(SecretViewTest, ValidationAndStringData) {
  Object o = parse(R"({"kind":"Secret","metadata":{"name":"s","namespace":"ns"},
                      "data":{"tls.crt":"","user":"YWRtaW4="},
                      "stringData":{"tls.key":"plain","user":"override"}})");
  SecretView v(o);
  EXPECT_EQ(v.type(), "Opaque");
  EXPECT_FALSE(v.is_tls());
  EXPECT_EQ(v.value("user"), "override");  // stringData wins, as on the API server
  EXPECT_THAT(v.keys(), ElementsAre("tls.crt", "tls.key", "user"));
  auto not_tls = v.validate_tls();
  EXPECT_EQ(not_tls.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(not_tls.message(), HasSubstr("secret ns/s: type is \"Opaque\""));

  ASSERT_TRUE(o.set_string("/type", "kubernetes.io/tls").ok());
  EXPECT_THAT(SecretView(o).validate_tls().message(), HasSubstr("tls.crt is empty"));
  ASSERT_TRUE(o.set_string("/data/tls.crt", b64(kCert)).ok());
  EXPECT_THAT(SecretView(o).validate_tls().message(), HasSubstr("tls.key is not PEM"));
  o.remove("/stringData/tls.key");
  EXPECT_THAT(SecretView(o).validate_tls().message(), HasSubstr("tls.key is missing"));

  Object plain = parse(R"({"data":{"a":"aGVsbG8="}})");
  EXPECT_EQ(SecretView(plain).value("a"), "hello");
}

constexpr std::string_view kIngress = R"({
  "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
  "metadata": {"name": "web", "namespace": "default",
               "annotations": {"kubernetes.io/ingress.class": "legacy"}},
  "spec": {
    "ingressClassName": "kop",
    "defaultBackend": {"service": {"name": "fallback", "port": {"number": 8080}}},
    "tls": [{"hosts": ["a.example.com", "b.example.com"], "secretName": "ab-cert"},
            {"secretName": "catch-all"}],
    "rules": [
      {"host": "a.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix",
         "backend": {"service": {"name": "web", "port": {"name": "http"}}}},
        {"path": "/exact", "pathType": "Exact",
         "backend": {"service": {"name": "web", "port": {"number": 80}}}},
        {"path": "/static", "pathType": "ImplementationSpecific",
         "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket",
                                  "name": "assets"}}}]}},
      {"host": "*.wild.example.com"}
    ]},
  "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb.example.com"}]}}
})";

TEST(IngressViewTest, Fields) {
  Object o = parse(kIngress);
  IngressView v(o);
  EXPECT_EQ(v.ingress_class_name(), "kop");
  EXPECT_EQ(v.class_annotation(), "legacy");
  auto db = v.default_backend();
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE(db->service.has_value());
  EXPECT_EQ(db->service->name, "fallback");
  EXPECT_EQ(db->service->port_number, 8080);
  EXPECT_FALSE(db->resource.has_value());

  auto rules = v.rules();
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].host, "a.example.com");
  EXPECT_TRUE(rules[0].has_http);
  ASSERT_EQ(rules[0].paths.size(), 3u);
  const auto& p0 = rules[0].paths[0];
  EXPECT_EQ(p0.path, "/");
  EXPECT_EQ(p0.path_type, "Prefix");
  EXPECT_EQ(p0.backend.service->port_name, "http");
  EXPECT_FALSE(p0.backend.service->port_number.has_value());
  EXPECT_EQ(rules[0].paths[1].backend.service->port_number, 80);
  const auto& res = rules[0].paths[2].backend.resource;
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->api_group, "k8s.example.com");
  EXPECT_EQ(res->kind, "StorageBucket");
  EXPECT_EQ(res->name, "assets");
  EXPECT_EQ(rules[1].host, "*.wild.example.com");
  EXPECT_FALSE(rules[1].has_http);
  EXPECT_THAT(rules[1].paths, IsEmpty());

  auto tls = v.tls();
  ASSERT_EQ(tls.size(), 2u);
  EXPECT_THAT(tls[0].hosts, ElementsAre("a.example.com", "b.example.com"));
  EXPECT_EQ(tls[0].secret_name, "ab-cert");
  EXPECT_THAT(tls[1].hosts, IsEmpty());
  auto lb = v.load_balancer();
  ASSERT_EQ(lb.size(), 2u);
  EXPECT_EQ(lb[0].ip, "192.0.2.1");
  EXPECT_EQ(lb[1].hostname, "lb.example.com");
  EXPECT_THAT(v.validate(), IsEmpty());
}

TEST(IngressViewTest, EmptyAndInvalid) {
  Object bare;
  IngressView b(bare);
  EXPECT_FALSE(b.ingress_class_name().has_value());
  EXPECT_FALSE(b.default_backend().has_value());
  EXPECT_THAT(b.rules(), IsEmpty());
  EXPECT_THAT(b.tls(), IsEmpty());
  EXPECT_THAT(b.load_balancer(), IsEmpty());
  EXPECT_THAT(b.validate(), ElementsAre(HasSubstr("either defaultBackend or rules")));

  Object bad = parse(R"({"spec":{"rules":[
    {"host":"10.0.0.1","http":{"paths":[
      {"path":"relative","pathType":"Prefix","backend":{"service":{"name":"a","port":{}}}},
      {"path":"/x","backend":{"service":{"name":"a","port":{"number":80,"name":"http"}}}},
      {"path":"/y","pathType":"Regex","backend":{}},
      {"path":"/z","pathType":"Exact","backend":{"service":{"name":"a","port":{"number":70000}}}}
    ]}},
    {"host":"a.*.example.com","http":{"paths":[]}}]}})");
  auto problems = IngressView(bad).validate();
  EXPECT_THAT(problems,
              ElementsAre(HasSubstr("spec.rules[0].host: must be a DNS name"),
                          HasSubstr("paths[0].path: must be an absolute path"),
                          HasSubstr("paths[0].backend.service.port: exactly one of number"),
                          HasSubstr("paths[1].pathType: required"),
                          HasSubstr("paths[1].backend.service.port: exactly one of number"),
                          HasSubstr("paths[2].pathType: \"Regex\" is not one of"),
                          HasSubstr("paths[2].backend: exactly one of service and resource"),
                          HasSubstr("paths[3].backend.service.port.number: must be between"),
                          HasSubstr("spec.rules[1].host: a wildcard"),
                          HasSubstr("spec.rules[1].http.paths: at least one path")));
}

TEST(IngressClassViewTest, Fields) {
  Object o = parse(R"({"apiVersion":"networking.k8s.io/v1","kind":"IngressClass",
    "metadata":{"name":"kop","annotations":{"ingressclass.kubernetes.io/is-default-class":"true"}},
    "spec":{"controller":"kop.dev/ingress","parameters":{"apiGroup":"kop.dev","kind":"Params",
      "name":"p","namespace":"kop-system","scope":"Namespace"}}})");
  IngressClassView v(o);
  EXPECT_EQ(v.controller(), "kop.dev/ingress");
  EXPECT_TRUE(v.is_default());
  auto p = v.parameters();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->api_group, "kop.dev");
  EXPECT_EQ(p->kind, "Params");
  EXPECT_EQ(p->name, "p");
  EXPECT_EQ(p->namespace_, "kop-system");
  EXPECT_EQ(p->scope, "Namespace");

  Object other = parse(R"({"metadata":{"annotations":
    {"ingressclass.kubernetes.io/is-default-class":"True"}},"spec":{"controller":"x"}})");
  EXPECT_FALSE(IngressClassView(other).is_default());  // exactly "true", as the API server
  EXPECT_FALSE(IngressClassView(other).parameters().has_value());
}

TEST(LeaseViewTest, Fields) {
  Object o = parse(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "spec":{"holderIdentity":"pod-a","leaseDurationSeconds":15,
            "acquireTime":"2024-05-01T12:00:00.000000Z","renewTime":"2024-05-01T12:00:10.500000Z",
            "leaseTransitions":3}})");
  LeaseView v(o);
  EXPECT_EQ(v.holder_identity(), "pod-a");
  EXPECT_EQ(v.lease_duration_seconds(), 15);
  EXPECT_EQ(v.lease_transitions(), 3);
  absl::Time t0 = absl::FromUnixSeconds(1714564800);
  EXPECT_EQ(v.acquire_time(), t0);
  EXPECT_EQ(v.renew_time(), t0 + absl::Milliseconds(10500));
  EXPECT_EQ(v.renew_time_text(), "2024-05-01T12:00:10.500000Z");
  EXPECT_FALSE(v.expired(t0 + absl::Seconds(25)));
  EXPECT_TRUE(v.expired(t0 + absl::Milliseconds(25500)));

  Object empty;
  LeaseView e(empty);
  EXPECT_FALSE(e.holder_identity().has_value());
  EXPECT_FALSE(e.renew_time().has_value());
  EXPECT_TRUE(e.expired(t0));
}

TEST(IntOrStringTest, Reads) {
  rapidjson::Document d;
  d.Parse(R"({"i":8080,"s":"http","b":true})");
  EXPECT_TRUE(int_or_string(&d["i"]).is_int());
  EXPECT_EQ(int_or_string(&d["i"]).to_string(), "8080");
  EXPECT_TRUE(int_or_string(&d["s"]).is_string());
  EXPECT_TRUE(int_or_string(&d["b"]).empty());
  EXPECT_TRUE(int_or_string(nullptr).empty());
  EXPECT_EQ(int_or_string(nullptr).to_string(), "");
}

}  // namespace
}  // namespace kop::api
